//! Source `defender-alerts`: Microsoft Defender XDR alerts as served by Graph
//! `GET /{v1.0|beta}/security/alerts_v2`, filtered on `lastUpdateDateTime`.
//!
//! Records follow the v1.0 `microsoft.graph.security.alert` entity (every property present,
//! nulls included), with evidence of the derived types `userEvidence`, `ipEvidence` and
//! `mailboxEvidence`, each named by its `@odata.type`. Alerts are rare (a twentieth of the base
//! volume): a suspicious inbox rule or malicious mail (Defender for Office 365), impossible
//! travel (Defender for Cloud Apps), a suspicious PowerShell command (Defender for Endpoint),
//! an anonymous IP sign-in (Entra ID Protection), each about one of the tenant's users.
//!
//! **Alerts change.** Each alert's event is its creation (`createdDateTime`); from the event seed
//! it also gets zero, one or two updates ([`SimSource::updates`]): an analyst takes it
//! (`inProgress`, assigned, a comment, more evidence) between 15 minutes and 3 hours later,
//! then resolves it (classification and determination, `resolvedDateTime`, a second comment)
//! between 15 minutes and 12 hours after that. Every version moves `lastUpdateDateTime`, and
//! Graph serves only the current one: a request sees the version whose update is visible at its
//! virtual time (the event's ingestion delay applies to each update too), and `$filter` on
//! `lastUpdateDateTime` selects on that version's time ([`crate::graph::list`]).

use serde::Serialize;
use serde_json::value::RawValue;

use super::{EventStub, GraphResource, SimSource, SourceApi};
use crate::clock::{NS_PER_SEC, graph_datetime};
use crate::rng::Rng;
use crate::tenant::{Tenant, random_ip};

/// The Defender alerts source.
#[derive(Debug, Clone, Copy)]
pub struct DefenderAlerts;

/// Longest time from an alert's creation to its last update: 3 h + 12 h.
pub const LONGEST_CHANGE_SECS: i64 = 15 * 3600;

/// (title, category, serviceSource, detectionSource, severity, MITRE technique, weight).
const KINDS: &[(&str, &str, &str, &str, &str, &str, u32)] = &[
    (
        "Suspicious inbox forwarding rule",
        "Exfiltration",
        "microsoftDefenderForOffice365",
        "microsoftDefenderForOffice365",
        "medium",
        "T1114.003",
        30,
    ),
    (
        "Email messages containing malicious URL removed after delivery",
        "InitialAccess",
        "microsoftDefenderForOffice365",
        "microsoftDefenderForOffice365",
        "informational",
        "T1566.002",
        25,
    ),
    (
        "Impossible travel activity",
        "InitialAccess",
        "microsoftDefenderForCloudApps",
        "cloudAppSecurity",
        "medium",
        "T1078",
        20,
    ),
    (
        "Suspicious PowerShell command line",
        "Execution",
        "microsoftDefenderForEndpoint",
        "microsoftDefenderForEndpoint",
        "high",
        "T1059.001",
        15,
    ),
    (
        "Anonymous IP address",
        "InitialAccess",
        "azureAdIdentityProtection",
        "azureAdIdentityProtection",
        "low",
        "T1090.003",
        10,
    ),
];
/// How an alert ends: (classification, determination, weight).
const VERDICTS: &[(&str, &str, u32)] = &[
    ("truePositive", "compromisedAccount", 25),
    ("truePositive", "phishing", 15),
    ("falsePositive", "notMalicious", 35),
    ("informationalExpectedActivity", "securityTesting", 15),
    ("falsePositive", "notEnoughDataToValidate", 10),
];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Alert<'a> {
    id: &'a str,
    provider_alert_id: &'a str,
    incident_id: String,
    status: &'static str,
    severity: &'static str,
    classification: Option<&'static str>,
    determination: Option<&'static str>,
    service_source: &'static str,
    detection_source: &'static str,
    detector_id: String,
    tenant_id: &'a str,
    title: &'static str,
    description: String,
    recommended_actions: Option<String>,
    category: &'static str,
    assigned_to: Option<String>,
    alert_web_url: String,
    incident_web_url: String,
    actor_display_name: Option<String>,
    threat_display_name: Option<String>,
    threat_family_name: Option<String>,
    mitre_techniques: Vec<&'static str>,
    created_date_time: String,
    last_update_date_time: String,
    resolved_date_time: Option<String>,
    first_activity_date_time: String,
    last_activity_date_time: String,
    comments: Vec<Comment>,
    evidence: Vec<serde_json::Value>,
    system_tags: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Comment {
    comment: &'static str,
    created_by_display_name: String,
    created_date_time: String,
}

/// The alert id: `da` + 18 digits + `_` + a signed 10-digit number, as Defender's are.
fn alert_id(rng: &mut Rng) -> String {
    let head = rng.string_from(b"0123456789", 18);
    let tail = rng.string_from(b"0123456789", 9);
    let sign = if rng.chance(0.5) { "-" } else { "" };
    format!("da{head}_{sign}{}{tail}", rng.range(1, 9))
}

fn weighted<'a, T>(rng: &mut Rng, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let weights: Vec<u32> = items.iter().map(weight).collect();
    &items[rng.weighted(&weights).unwrap_or(0)]
}

/// The update instants of the alert with this seed created at `created_ns`.
fn updates_of(seed: u64, created_ns: i64) -> Vec<i64> {
    // Its own stream of draws, so the record's draws do not depend on it.
    let mut rng = Rng::new(seed ^ 0x5eed_a1e7_0000_0001);
    let n = match rng.below(10) {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    };
    let mut out = Vec::with_capacity(n);
    let mut at = created_ns;
    for step in 0..n {
        let max_secs = if step == 0 { 3 * 3600 } else { 12 * 3600 };
        // Whole 100 ns ticks, as every simulated time.
        at += rng.range(15 * 60, max_secs) as i64 * NS_PER_SEC + rng.below(10_000_000) as i64 * 100;
        out.push(at);
    }
    out
}

fn render_event(
    tenant: &Tenant,
    event: &EventStub,
    revision: usize,
) -> Result<Box<RawValue>, serde_json::Error> {
    let mut rng = Rng::new(event.seed);
    let id = alert_id(&mut rng);
    let user = tenant
        .users
        .get(rng.below(tenant.users.len().max(1) as u64) as usize);
    let analyst = tenant.users.first();
    let &(title, category, service, detection, severity, technique, _) =
        weighted(&mut rng, KINDS, |k| k.6);
    let &(classification, determination, _) = weighted(&mut rng, VERDICTS, |v| v.2);
    let incident_id = rng.range(1000, 99_999).to_string();
    let detector_id = rng.guid();
    let ip = random_ip(&mut rng);
    let created_ns = event.time_ns;
    let first_ns = created_ns - rng.range(30, 3600) as i64 * NS_PER_SEC;
    let last_ns = first_ns + rng.range(0, 1200) as i64 * NS_PER_SEC;
    let updates = updates_of(event.seed, created_ns);
    let revision = revision.min(updates.len());
    let updated_ns = match revision {
        0 => created_ns,
        r => updates[r - 1],
    };
    let upn = user.map_or_else(String::new, |u| u.upn.clone());
    let account = serde_json::json!({
        "accountName": upn.split('@').next().unwrap_or_default(),
        "azureAdUserId": user.map(|u| u.id.clone()),
        "displayName": user.map(|u| u.display_name.clone()),
        "domainName": upn.split('@').nth(1),
        "userPrincipalName": user.map(|u| u.upn.clone()),
        "userSid": null,
    });
    let mut evidence = vec![serde_json::json!({
        "@odata.type": "#microsoft.graph.security.userEvidence",
        "createdDateTime": graph_datetime(created_ns),
        "detailedRoles": [],
        "remediationStatus": "none",
        "remediationStatusDetails": null,
        "roles": ["compromised"],
        "tags": [],
        "verdict": "suspicious",
        "userAccount": account,
    })];
    evidence.push(serde_json::json!({
        "@odata.type": "#microsoft.graph.security.ipEvidence",
        "createdDateTime": graph_datetime(created_ns),
        "detailedRoles": [],
        "remediationStatus": "none",
        "remediationStatusDetails": null,
        "roles": [],
        "tags": [],
        "verdict": "unknown",
        "countryLetterCode": "NL",
        "ipAddress": ip,
    }));
    let by =
        |u: Option<&crate::tenant::User>| u.map_or_else(String::new, |u| u.display_name.clone());
    let mut comments = Vec::new();
    if revision >= 1 {
        // The analyst looked: the mailbox joins the evidence.
        evidence.push(serde_json::json!({
            "@odata.type": "#microsoft.graph.security.mailboxEvidence",
            "createdDateTime": graph_datetime(updates[0]),
            "detailedRoles": [],
            "remediationStatus": "none",
            "remediationStatusDetails": null,
            "roles": ["contextual"],
            "tags": [],
            "verdict": "unknown",
            "displayName": user.map(|u| u.display_name.clone()),
            "primaryAddress": user.map(|u| u.upn.clone()),
            "userAccount": account,
        }));
        comments.push(Comment {
            comment: "Investigating.",
            created_by_display_name: by(analyst),
            created_date_time: graph_datetime(updates[0]),
        });
    }
    if revision >= 2 {
        comments.push(Comment {
            comment: "Closing after review.",
            created_by_display_name: by(analyst),
            created_date_time: graph_datetime(updates[1]),
        });
    }
    let (status, assigned) = match revision {
        0 => ("new", None),
        1 => ("inProgress", analyst.map(|u| u.upn.clone())),
        _ => ("resolved", analyst.map(|u| u.upn.clone())),
    };
    let resolved = revision >= 2;
    let record = Alert {
        id: &id,
        provider_alert_id: &id,
        incident_web_url: format!(
            "https://security.microsoft.com/incidents/{incident_id}?tid={}",
            tenant.tenant_id
        ),
        incident_id,
        status,
        severity,
        classification: resolved.then_some(classification),
        determination: resolved.then_some(determination),
        service_source: service,
        detection_source: detection,
        detector_id,
        tenant_id: &tenant.tenant_id,
        title,
        description: format!("{title} involving {upn}."),
        recommended_actions: None,
        category,
        assigned_to: assigned,
        alert_web_url: format!(
            "https://security.microsoft.com/alerts/{id}?tid={}",
            tenant.tenant_id
        ),
        actor_display_name: None,
        threat_display_name: None,
        threat_family_name: None,
        mitre_techniques: vec![technique],
        created_date_time: graph_datetime(created_ns),
        last_update_date_time: graph_datetime(updated_ns),
        resolved_date_time: resolved.then(|| graph_datetime(updated_ns)),
        first_activity_date_time: graph_datetime(first_ns),
        last_activity_date_time: graph_datetime(last_ns),
        comments,
        evidence,
        system_tags: Vec::new(),
    };
    serde_json::value::to_raw_value(&record)
}

impl SimSource for DefenderAlerts {
    fn name(&self) -> &'static str {
        "defender-alerts"
    }

    fn api(&self) -> SourceApi {
        SourceApi::Graph(GraphResource {
            changes_within_secs: Some(LONGEST_CHANGE_SECS),
            history_days: Some(180),
            ..GraphResource::basic("security/alerts_v2", "lastUpdateDateTime", 1000, 2000)
        })
    }

    fn volume(&self) -> f64 {
        0.05
    }

    fn record_id(&self, _tenant: &Tenant, seed: u64) -> String {
        alert_id(&mut Rng::new(seed))
    }

    fn updates(&self, _tenant: &Tenant, event: &EventStub) -> Vec<i64> {
        updates_of(event.seed, event.time_ns)
    }

    fn render(
        &self,
        tenant: &Tenant,
        event: &EventStub,
    ) -> Result<Box<RawValue>, serde_json::Error> {
        render_event(tenant, event, 0)
    }

    fn render_revision(
        &self,
        tenant: &Tenant,
        event: &EventStub,
        revision: usize,
    ) -> Result<Box<RawValue>, serde_json::Error> {
        render_event(tenant, event, revision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn stub(seed: u64, tenant: &Tenant) -> EventStub {
        EventStub {
            time_ns: 1_780_000_000_000_000_000,
            visible_ns: 1_780_000_000_000_000_000,
            seed,
            stream: 0,
            id: DefenderAlerts.record_id(tenant, seed).into_boxed_str(),
            plant: None,
        }
    }

    fn parse(raw: Result<Box<RawValue>, serde_json::Error>) -> Value {
        raw.ok()
            .and_then(|r| serde_json::from_str(r.get()).ok())
            .unwrap_or_default()
    }

    #[test]
    fn alerts_change_in_order_and_keep_their_id_and_creation() {
        let tenant = Tenant::generate(4, "t");
        let mut by_count = [0u32; 3];
        for seed in 0..600 {
            let ev = stub(seed, &tenant);
            let updates = DefenderAlerts.updates(&tenant, &ev);
            by_count[updates.len()] += 1;
            assert!(updates.windows(2).all(|w| w[0] < w[1]));
            assert!(updates.iter().all(|u| *u > ev.time_ns
                && *u <= ev.time_ns + LONGEST_CHANGE_SECS * NS_PER_SEC
                && u % 100 == 0));
            let versions: Vec<Value> = (0..=updates.len())
                .map(|r| parse(DefenderAlerts.render_revision(&tenant, &ev, r)))
                .collect();
            assert_eq!(versions[0], parse(DefenderAlerts.render(&tenant, &ev)));
            for (r, v) in versions.iter().enumerate() {
                assert_eq!(v["id"].as_str(), Some(&*ev.id));
                assert_eq!(v["createdDateTime"], versions[0]["createdDateTime"]);
                let want = if r == 0 { ev.time_ns } else { updates[r - 1] };
                assert_eq!(v["lastUpdateDateTime"], graph_datetime(want));
                assert_eq!(v["comments"].as_array().map(Vec::len), Some(r));
            }
            assert_eq!(versions[0]["status"], "new");
            assert!(versions[0]["classification"].is_null());
            if let Some(last) = versions.get(2) {
                assert_eq!(last["status"], "resolved");
                assert!(last["classification"].is_string());
                assert_eq!(last["resolvedDateTime"], last["lastUpdateDateTime"]);
            }
        }
        // About 30% never change, 30% once, 40% twice.
        assert!(by_count.iter().all(|n| *n > 120), "{by_count:?}");
    }
}
