//! `GET /_sim/truth/attacks`: every planted scenario whose records are all served by an
//! instant, with the rule it must raise and the records it consists of (see the module doc of
//! [`crate::server`] for the shape).

use serde_json::{Value, json};

use super::{Feed, Planted, Schedule, Served, activity, truth_entry};
use crate::clock::{NS_PER_SEC, from_ns, rfc3339};
use crate::mgmt::MgmtState;
use crate::sources;
use crate::tenant::Tenant;

/// The records of `p` as the API serves them: ids and first-served instants.
pub fn served(p: &Planted, tenant: &Tenant, mgmt: &MgmtState) -> Vec<Served> {
    let feed = p.kind().feed;
    p.records
        .iter()
        .map(|r| match feed {
            Feed::Activity(ct) => {
                let slot = activity::slot_of(r.time_ns, mgmt.settings.interval_ns);
                Served {
                    id: activity::record_id(tenant, &mgmt.tenant_id, r),
                    time_ns: r.time_ns,
                    visible_ns: mgmt.meta(ct, slot).listed_ns,
                }
            }
            _ => {
                let id = sources::find(feed.source())
                    .map(|(_, s)| s.planted_record_id(tenant, r.seed, &r.plant))
                    .unwrap_or_default();
                Served {
                    id,
                    time_ns: r.time_ns,
                    visible_ns: r.time_ns.saturating_add(r.delay_ns),
                }
            }
        })
        .collect()
}

/// The truth as of `until_ns`: scenarios from the start of history whose every record is
/// served by then, oldest first; only those of `source` when given.
pub fn truth(
    schedule: Option<&Schedule>,
    tenant: &Tenant,
    mgmt: &MgmtState,
    until_ns: i64,
    source: Option<&str>,
) -> Value {
    let mut attacks = Vec::new();
    if let Some(schedule) = schedule {
        let day_ns = 86_400 * NS_PER_SEC;
        for day in schedule.from_ns.div_euclid(day_ns)..=until_ns.div_euclid(day_ns) {
            for p in schedule.day(day) {
                if source.is_some_and(|s| s != p.kind().feed.source()) {
                    continue;
                }
                let served = served(&p, tenant, mgmt);
                if served.iter().all(|r| r.visible_ns <= until_ns) {
                    attacks.push(truth_entry(&p, &served));
                }
            }
        }
    }
    let mut body = json!({
        "source": "attacks",
        "as_of": rfc3339(from_ns(until_ns)),
        "count": attacks.len(),
        "attacks": attacks,
    });
    if let Some(s) = source {
        body["of_source"] = json!(s);
    }
    body
}
