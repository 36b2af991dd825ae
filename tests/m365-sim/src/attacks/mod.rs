//! Planted attack scenarios: what the built-in detection pack must raise, hidden among the
//! ordinary traffic, and the ground truth that says where they are.
//!
//! The benign baseline of every source raises no alert of the pack (its administrators assign
//! only unprivileged roles, never consent to applications, touch application secrets, weaken a
//! Conditional Access policy, wipe a device, forward mail outside, share anonymously, ...). What
//! the pack alerts on happens only here: [`SCENARIOS`] lists one or more scenarios per alerting
//! rule, and **every simulated UTC day plants each scenario once**, at a time drawn from `(seed,
//! day, scenario)` between midnight and 20:00 (so one day of history covers the whole pack, and any day can be generated on
//! its own, like the hour buckets of [`crate::sources`]). A scenario is a few records of one
//! source and stream: one record for most rules; a burst for the three thresholds (24
//! wrong-password failures of one user in about four minutes; 18 users failing from one address
//! in about twenty minutes; 115 file downloads by one user in about six minutes), crossing the
//! threshold at a record that is known when the burst is counted alone.
//!
//! **How they are served.** A planted record is an ordinary record of its source: Graph records
//! are [`EventStub`]s in their hour bucket (with [`EventStub::plant`] set, an ingestion delay
//! drawn like every other event's, late ones included), rendered by the source's own renderer
//! with the choices of a per-source plan ([`plans`]) forced, so they pass the same schema checks
//! and are paged, filtered, throttled and faulted like the rest. Management Activity records go
//! into the blob of their content type created at least an hour after them ([`activity`]), so
//! listing delays, repeats, relistings and expiry apply to them too.
//!
//! **Existence.** A scenario exists when the simulator plants attacks
//! ([`crate::SimConfig::attacks`], on by default), the tenant has traffic (`events_per_hour >
//! 0`) and its first record is at or after the start of history (a burst is never cut in two).
//!
//! **Truth** ([`truth`]): `GET /_sim/truth/attacks?until=RFC3339` lists every scenario whose
//! records are all visible by `until` (see the module doc of [`crate::server`] for the shape).

pub mod activity;
pub mod plans;
pub mod truth;

use serde_json::{Value, json};

use crate::clock::{NS_PER_HOUR, NS_PER_SEC, from_ns, rfc3339};
use crate::rng::{Rng, hash_str, seed_of};
use crate::sources::{EventStub, LATE_CAP_SECS, LATE_SHARE, ScheduleParams, SimSource};
use crate::tenant::Tenant;

/// Where a scenario's records are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// Graph `auditLogs/directoryAudits`.
    DirectoryAudits,
    /// Graph `auditLogs/signIns`, interactive sign-ins.
    InteractiveSignIns,
    /// Graph `deviceManagement/auditEvents`.
    Intune,
    /// The Management Activity API, content type by index into [`crate::mgmt::CONTENT_TYPES`].
    Activity(usize),
}

impl Feed {
    /// The source name (as in `/_sim/sources`).
    pub fn source(self) -> &'static str {
        match self {
            Feed::DirectoryAudits => "entra-directory-audits",
            Feed::InteractiveSignIns => "entra-sign-ins",
            Feed::Intune => "intune-audit",
            Feed::Activity(_) => crate::mgmt::SOURCE_NAME,
        }
    }

    /// The stream name: the sign-in kind or the content type; `None` for a source without.
    pub fn stream(self) -> Option<&'static str> {
        match self {
            Feed::InteractiveSignIns => Some("interactiveUser"),
            Feed::Activity(ct) => crate::mgmt::CONTENT_TYPES.get(ct).map(|c| c.name),
            _ => None,
        }
    }

    /// The stream index of a Graph source's [`EventStub::stream`].
    fn stream_index(self) -> u8 {
        0
    }
}

/// A scenario starts this many seconds after midnight UTC at the latest.
pub const LATEST_START_SECS: u64 = 20 * 3_600;

/// Index of a content type in [`crate::mgmt::CONTENT_TYPES`].
const EXCHANGE: usize = 1;
const SHAREPOINT: usize = 2;
const GENERAL: usize = 3;
const DLP: usize = 4;

/// One kind of planted attack.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Its name in the truth (`brute-force`).
    pub name: &'static str,
    /// The pack rule it must raise, once.
    pub rule_id: &'static str,
    /// Where its records are served.
    pub feed: Feed,
    /// How many records it has.
    pub records: u16,
    /// Seconds between consecutive records, drawn uniformly in this range.
    pub gap_secs: (u64, u64),
    /// For a threshold rule: the record (1-based, in time order) whose count reaches the
    /// threshold when the burst is counted alone.
    pub crosses_at: Option<u16>,
    /// What happens, for a reader of the truth.
    pub summary: &'static str,
}

const fn one(
    name: &'static str,
    rule_id: &'static str,
    feed: Feed,
    summary: &'static str,
) -> Scenario {
    Scenario {
        name,
        rule_id,
        feed,
        records: 1,
        gap_secs: (0, 0),
        crosses_at: None,
        summary,
    }
}

/// Every scenario, each planted once per simulated day. The index is the scenario's number in
/// [`PlantRef::scenario`]; the per-source plans in [`plans`] and [`activity`] match on `name`.
pub const SCENARIOS: &[Scenario] = &[
    one(
        "global-admin-assigned",
        "audit-privileged-role-assigned",
        Feed::DirectoryAudits,
        "An administrator's account adds a user to Global Administrator.",
    ),
    one(
        "privileged-role-admin-assigned",
        "audit-privileged-role-assigned",
        Feed::DirectoryAudits,
        "A service principal is made Privileged Role Administrator.",
    ),
    one(
        "admin-consent",
        "audit-oauth-consent",
        Feed::DirectoryAudits,
        "An administrator grants tenant-wide consent to an application reading mail.",
    ),
    one(
        "app-secret-added",
        "audit-app-credential-added",
        Feed::DirectoryAudits,
        "A new client secret is added to one of the tenant's applications.",
    ),
    one(
        "service-principal-credentials",
        "audit-app-credential-added",
        Feed::DirectoryAudits,
        "Credentials are added to a service principal.",
    ),
    one(
        "ca-policy-disabled",
        "audit-conditional-access-weakened",
        Feed::DirectoryAudits,
        "A Conditional Access policy is switched from enabled to disabled.",
    ),
    one(
        "ca-policy-deleted",
        "audit-conditional-access-weakened",
        Feed::DirectoryAudits,
        "A Conditional Access policy is deleted.",
    ),
    one(
        "mfa-method-deleted",
        "audit-mfa-removed",
        Feed::DirectoryAudits,
        "An administrator deletes a user's registered authentication method.",
    ),
    one(
        "domain-federated",
        "audit-federation-changed",
        Feed::DirectoryAudits,
        "A verified domain is switched to federated authentication.",
    ),
    one(
        "legacy-auth-success",
        "signin-legacy-auth",
        Feed::InteractiveSignIns,
        "A password works over IMAP4 from abroad.",
    ),
    one(
        "ropc-single-factor",
        "signin-ropc-no-mfa",
        Feed::InteractiveSignIns,
        "A script signs a user in with the password (ROPC), single factor.",
    ),
    one(
        "device-code-phish",
        "signin-device-code",
        Feed::InteractiveSignIns,
        "A user completes a device code sign-in started by someone else.",
    ),
    one(
        "high-risk-success",
        "signin-high-risk",
        Feed::InteractiveSignIns,
        "A sign-in rated high risk (anonymized address) succeeds.",
    ),
    Scenario {
        name: "brute-force",
        rule_id: "signin-brute-force",
        feed: Feed::InteractiveSignIns,
        records: 24,
        gap_secs: (5, 15),
        crosses_at: Some(20),
        summary: "24 wrong passwords for one user from one address (the last four after the lockout).",
    },
    Scenario {
        name: "password-spray",
        rule_id: "signin-password-spray",
        feed: Feed::InteractiveSignIns,
        records: 18,
        gap_secs: (30, 90),
        crosses_at: Some(15),
        summary: "One address tries one password against 18 users.",
    },
    one(
        "device-wiped",
        "intune-device-wipe",
        Feed::Intune,
        "A managed device is wiped through Intune.",
    ),
    one(
        "device-retired",
        "intune-device-wipe",
        Feed::Intune,
        "A managed device is retired through Intune.",
    ),
    one(
        "inbox-rule-forward",
        "m365-inbox-rule-forwarding",
        Feed::Activity(EXCHANGE),
        "A new inbox rule forwards invoices outside and stops processing.",
    ),
    one(
        "mailbox-forwarding",
        "m365-mailbox-forwarding",
        Feed::Activity(EXCHANGE),
        "A mailbox is set to forward all mail to an outside address.",
    ),
    one(
        "unified-audit-disabled",
        "m365-audit-disabled",
        Feed::Activity(EXCHANGE),
        "Unified audit log ingestion is turned off.",
    ),
    one(
        "mailbox-audit-bypass",
        "m365-audit-disabled",
        Feed::Activity(EXCHANGE),
        "An account is set to bypass mailbox auditing.",
    ),
    Scenario {
        name: "mass-download",
        rule_id: "m365-mass-download",
        feed: Feed::Activity(SHAREPOINT),
        records: 115,
        gap_secs: (2, 4),
        crosses_at: Some(100),
        summary: "One user downloads 115 files from a SharePoint site in a few minutes.",
    },
    one(
        "anonymous-link",
        "m365-external-sharing",
        Feed::Activity(SHAREPOINT),
        "An anyone-with-the-link sharing link is created for a file.",
    ),
    one(
        "guest-invitation",
        "m365-external-sharing",
        Feed::Activity(SHAREPOINT),
        "A file is shared with a guest outside the organisation.",
    ),
    one(
        "compliance-alert",
        "m365-compliance-alert",
        Feed::Activity(GENERAL),
        "Microsoft Purview raises an alert.",
    ),
    one(
        "ediscovery-search",
        "m365-ediscovery",
        Feed::Activity(GENERAL),
        "A content search over every mailbox is created.",
    ),
    one(
        "dlp-high",
        "m365-dlp-high",
        Feed::Activity(DLP),
        "A high-severity DLP rule matches a file shared outside.",
    ),
];

/// What a planted [`EventStub`] is: which scenario, which of its records, and the scenario's
/// seed (which decides its victim, actor and address, shared by all its records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlantRef {
    /// Index into [`SCENARIOS`].
    pub scenario: u8,
    /// The record's 0-based position in the scenario, in time order.
    pub step: u16,
    /// The scenario's seed.
    pub seed: u64,
}

impl PlantRef {
    /// The scenario.
    pub fn scenario(&self) -> &'static Scenario {
        &SCENARIOS[usize::from(self.scenario) % SCENARIOS.len()]
    }
}

/// One planted record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlantedRecord {
    /// What it is.
    pub plant: PlantRef,
    /// Event time, ns (whole seconds for Management Activity records, whose `CreationTime` has
    /// no fraction; 100 ns ticks otherwise).
    pub time_ns: i64,
    /// Ingestion delay, ns (Graph records; a Management Activity record waits for its blob).
    pub delay_ns: i64,
    /// The record's own seed.
    pub seed: u64,
}

/// One scenario planted on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planted {
    /// Index into [`SCENARIOS`].
    pub scenario: usize,
    /// Days since the epoch.
    pub day: i64,
    /// Its records, in time order.
    pub records: Vec<PlantedRecord>,
}

impl Planted {
    /// The scenario.
    pub fn kind(&self) -> &'static Scenario {
        &SCENARIOS[self.scenario]
    }

    /// When it starts (its first record).
    pub fn start_ns(&self) -> i64 {
        self.records.first().map_or(0, |r| r.time_ns)
    }
}

/// Where planting starts and the delays Graph records get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The simulator seed.
    pub seed: u64,
    /// Scenarios whose first record is before this instant do not exist.
    pub from_ns: i64,
    /// The normal ingestion delay's upper bound, seconds.
    pub ingest_delay_secs: u64,
}

impl Schedule {
    /// The schedule of `params`, when they plant attacks (a tenant without traffic has none).
    pub fn of(params: &ScheduleParams) -> Option<Schedule> {
        let from_ns = params.attacks_from_ns?;
        (params.events_per_hour > 0).then_some(Schedule {
            seed: params.seed,
            from_ns,
            ingest_delay_secs: params.ingest_delay_secs,
        })
    }

    /// Every scenario planted on `day` (days since the epoch) that exists, oldest first.
    pub fn day(&self, day: i64) -> Vec<Planted> {
        let mut out: Vec<Planted> = (0..SCENARIOS.len())
            .map(|k| self.plant(day, k))
            .filter(|p| p.start_ns() >= self.from_ns)
            .collect();
        out.sort_by_key(|p| (p.start_ns(), p.scenario));
        out
    }

    fn plant(&self, day: i64, k: usize) -> Planted {
        let s = &SCENARIOS[k];
        let scenario_seed = seed_of(&[self.seed, hash_str("attack"), hash_str(s.name), day as u64]);
        let mut rng = Rng::new(scenario_seed);
        // Between midnight and 20:00 UTC: every burst ends the same day, and even a Management
        // Activity record's blob (an hour or more later) is listed before the day is over, so
        // a day's attacks are all served by its end.
        let whole = matches!(s.feed, Feed::Activity(_));
        let mut t = day * 86_400 * NS_PER_SEC + rng.range(0, LATEST_START_SECS) as i64 * NS_PER_SEC;
        let normal_max_ms = self.ingest_delay_secs.saturating_mul(1000);
        let late_max_ms = self
            .ingest_delay_secs
            .saturating_mul(3)
            .min(LATE_CAP_SECS)
            .saturating_mul(1000)
            .max(normal_max_ms);
        let mut records = Vec::with_capacity(usize::from(s.records));
        for step in 0..s.records {
            if step > 0 {
                t += rng.range(s.gap_secs.0, s.gap_secs.1) as i64 * NS_PER_SEC;
            }
            let ticks = if whole {
                0
            } else {
                rng.below(NS_PER_SEC as u64 / 100) as i64 * 100
            };
            let delay_ms = if rng.chance(LATE_SHARE) {
                rng.range(normal_max_ms, late_max_ms)
            } else {
                rng.range(0, normal_max_ms)
            };
            records.push(PlantedRecord {
                plant: PlantRef {
                    scenario: k as u8,
                    step,
                    seed: scenario_seed,
                },
                time_ns: t + ticks,
                delay_ns: i64::try_from(delay_ms)
                    .unwrap_or(0)
                    .saturating_mul(1_000_000),
                seed: seed_of(&[scenario_seed, u64::from(step)]),
            });
        }
        Planted {
            scenario: k,
            day,
            records,
        }
    }

    /// Every planted record of `feed` whose time lies in `[lo_ns, hi_ns]`, oldest first.
    pub fn records_between(&self, feed: Feed, lo_ns: i64, hi_ns: i64) -> Vec<PlantedRecord> {
        let day_ns = 86_400 * NS_PER_SEC;
        let mut out = Vec::new();
        for day in lo_ns.div_euclid(day_ns)..=hi_ns.div_euclid(day_ns) {
            for p in self.day(day) {
                if p.kind().feed != feed {
                    continue;
                }
                out.extend(
                    p.records
                        .into_iter()
                        .filter(|r| (lo_ns..=hi_ns).contains(&r.time_ns)),
                );
            }
        }
        out.sort_by_key(|r| (r.time_ns, r.seed));
        out
    }
}

/// The planted stubs of a Graph `source` in one hour bucket.
pub fn graph_stubs(
    source: &dyn SimSource,
    tenant: &Tenant,
    params: &ScheduleParams,
    hour: i64,
) -> Vec<EventStub> {
    let Some(schedule) = Schedule::of(params) else {
        return Vec::new();
    };
    let Some(feed) = graph_feed(source.name()) else {
        return Vec::new();
    };
    let lo = hour.saturating_mul(NS_PER_HOUR);
    schedule
        .records_between(feed, lo, lo + NS_PER_HOUR - 1)
        .into_iter()
        .map(|r| EventStub {
            time_ns: r.time_ns,
            visible_ns: r.time_ns.saturating_add(r.delay_ns),
            seed: r.seed,
            stream: feed.stream_index(),
            id: source
                .planted_record_id(tenant, r.seed, &r.plant)
                .into_boxed_str(),
            plant: Some(r.plant),
        })
        .collect()
}

/// The feed of a Graph source that has planted records.
fn graph_feed(source: &str) -> Option<Feed> {
    [
        Feed::DirectoryAudits,
        Feed::InteractiveSignIns,
        Feed::Intune,
    ]
    .into_iter()
    .find(|f| f.source() == source)
}

/// A planted record as the truth reports it: its id and when the API first serves it.
#[derive(Debug, Clone)]
pub struct Served {
    /// The record id (`id` of Graph records, `Id` of Management Activity records).
    pub id: String,
    /// Event time, ns.
    pub time_ns: i64,
    /// When it is first served, ns.
    pub visible_ns: i64,
}

/// The truth entry of one scenario, given its records as served.
pub fn truth_entry(p: &Planted, served: &[Served]) -> Value {
    let s = p.kind();
    let ids: Vec<&str> = served.iter().map(|r| r.id.as_str()).collect();
    let trigger = match s.crosses_at {
        Some(n) => served.get(usize::from(n).saturating_sub(1)),
        None => served.first(),
    };
    let mut v = json!({
        "id": format!("{}/{}", from_ns(p.day * 86_400 * NS_PER_SEC).format("%Y-%m-%d"), s.name),
        "scenario": s.name,
        "rule_id": s.rule_id,
        "source": s.feed.source(),
        "stream": s.feed.stream(),
        "summary": s.summary,
        "time": rfc3339(from_ns(p.start_ns())),
        "trigger_time": trigger.map(|r| rfc3339(from_ns(r.time_ns))),
        "visible_at": served.iter().map(|r| r.visible_ns).max().map(|t| rfc3339(from_ns(t))),
        "record_ids": ids,
        "trigger_record_id": trigger.map(|r| r.id.as_str()),
    });
    if let Some(n) = s.crosses_at {
        v["threshold"] = json!(n);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Schedule {
        Schedule {
            seed: 7,
            from_ns: 0,
            ingest_delay_secs: 120,
        }
    }

    #[test]
    fn every_day_plants_every_scenario_once_within_the_day() {
        let s = schedule();
        for day in 20_000..20_010 {
            let planted = s.day(day);
            assert_eq!(planted.len(), SCENARIOS.len());
            assert_eq!(planted, s.day(day), "deterministic");
            for p in &planted {
                let k = p.kind();
                assert_eq!(p.records.len(), usize::from(k.records), "{}", k.name);
                let (first, last) = (p.start_ns(), p.records.last().map_or(0, |r| r.time_ns));
                assert_eq!(first.div_euclid(86_400 * NS_PER_SEC), day);
                assert_eq!(last.div_euclid(86_400 * NS_PER_SEC), day, "{}", k.name);
                assert!(p.records.windows(2).all(|w| w[0].time_ns < w[1].time_ns));
                if let Some(n) = k.crosses_at {
                    assert!(n <= k.records);
                }
                if matches!(k.feed, Feed::Activity(_)) {
                    assert!(p.records.iter().all(|r| r.time_ns % NS_PER_SEC == 0));
                }
            }
        }
        // Different days, different times.
        assert_ne!(
            s.day(20_000)[0].start_ns() % 86_400,
            s.day(20_001)[0].start_ns() % 86_400
        );
    }

    #[test]
    fn bursts_fit_their_threshold_windows() {
        let s = schedule();
        let window = |rule: &str| match rule {
            "signin-brute-force" => 600,
            "signin-password-spray" => 3_600,
            "m365-mass-download" => 900,
            other => panic!("no window for {other}"),
        };
        for day in 19_000..19_050 {
            for p in s.day(day) {
                let Some(n) = p.kind().crosses_at else {
                    continue;
                };
                let span = p.records[usize::from(n) - 1].time_ns - p.start_ns();
                assert!(
                    span < window(p.kind().rule_id) * NS_PER_SEC,
                    "{}",
                    p.kind().name
                );
            }
        }
    }

    #[test]
    fn a_scenario_before_the_start_does_not_exist() {
        let all = schedule().day(20_000);
        let cut = all[all.len() / 2].start_ns();
        let later = Schedule {
            from_ns: cut,
            ..schedule()
        }
        .day(20_000);
        assert_eq!(later.len(), all.len() - all.len() / 2);
        assert!(later.iter().all(|p| p.start_ns() >= cut));
    }

    #[test]
    fn every_alerting_rule_of_the_pack_has_a_scenario() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/detections/rules");
        let mut alerting = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let text = std::fs::read_to_string(entry.map(|e| e.path()).unwrap_or_default())
                .unwrap_or_default();
            for doc in text.split("\n---\n") {
                let id = doc
                    .lines()
                    .find_map(|l| l.strip_prefix("id: "))
                    .map(str::trim);
                let low = doc.lines().any(|l| l.trim() == "level: low");
                if let Some(id) = id
                    && !low
                {
                    alerting.insert(id.to_string());
                }
            }
        }
        let planted: std::collections::BTreeSet<String> =
            SCENARIOS.iter().map(|s| s.rule_id.to_string()).collect();
        assert_eq!(alerting.len(), 21, "{alerting:?}");
        assert_eq!(planted, alerting);
    }
}
