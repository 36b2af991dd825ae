//! Microsoft Defender XDR alerts (Graph `microsoft.graph.security.alert` under
//! `security/alerts_v2`) to [`AuditEvent`]: the alert's title is the operation, the first user
//! in its evidence the actor, its devices and mailboxes the targets, and its classification the
//! result.
//!
//! Mapping decisions:
//! - `time` is `createdDateTime`, which never changes, so every version of one alert has one id
//!   and one item; the collection is windowed on `lastUpdateDateTime`, kept as
//!   `details.last_update_date_time`, which is the event's version
//!   ([`crate::store::keys::event_version`]): the store keeps the latest version of each alert.
//! - `operation` is `title` (an alert without one is refused); `service` is `serviceSource`
//!   (`microsoftDefenderForEndpoint`, ...), `category` the kill-chain `category`.
//! - `result` is what the analysts concluded, since the contract's result is closed:
//!   `truePositive` is failure (the attack was real), `falsePositive` and
//!   `informationalExpectedActivity` success, anything else (not yet classified) unknown.
//!   `result_reason` is `<status>, severity <severity>`; both are also `details.status` and
//!   `details.severity`, with `classification`, `determination` and `assigned_to`.
//! - The actor is the user of the first `userEvidence` (`azureAdUserId`, `userPrincipalName`,
//!   `displayName`), else `system` (Defender raised it). Targets are the devices
//!   (`deviceEvidence`: `mdeDeviceId`, `deviceDnsName`) and mailboxes (`mailboxEvidence`:
//!   `primaryAddress`) in the evidence; `client_ip` is the first `ipEvidence` address.
//! - Every text in an alert (title, description, comments, evidence) is attacker-influenced:
//!   it is kept as data, never interpreted.

use serde_json::{Map, Value};

use super::{Context, NormalizeError, dedupe_key, field, text};
use crate::model::{Actor, ActorKind, AuditEvent, EventResult, Source, Target, parse_time};
use crate::store::keys;

/// The analysts' verdict, from `classification`.
fn result_of_classification(classification: Option<&str>) -> EventResult {
    match classification.map(str::to_ascii_lowercase).as_deref() {
        Some("truepositive") => EventResult::Failure,
        Some("falsepositive" | "informationalexpectedactivity") => EventResult::Success,
        _ => EventResult::Unknown,
    }
}

/// The evidence entries of one derived type (`#microsoft.graph.security.userEvidence`).
fn evidence<'v>(v: &'v Value, kind: &'v str) -> impl Iterator<Item = &'v Value> + 'v {
    field(v, "evidence")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(move |e| {
            e.get("@odata.type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.rsplit('.').next() == Some(kind))
        })
}

fn actor_of(v: &Value) -> Actor {
    for e in evidence(v, "userEvidence") {
        let Some(account) = e.get("userAccount") else {
            continue;
        };
        let (id, upn, name) = (
            text(account, "azureAdUserId"),
            text(account, "userPrincipalName"),
            text(account, "displayName"),
        );
        if id.is_some() || upn.is_some() || name.is_some() {
            return Actor {
                kind: ActorKind::User,
                id,
                upn,
                name,
                app_id: None,
            };
        }
    }
    Actor::system()
}

fn targets_of(v: &Value) -> Vec<Target> {
    let mut out = Vec::new();
    for e in evidence(v, "deviceEvidence") {
        let (id, name) = (text(e, "mdeDeviceId"), text(e, "deviceDnsName"));
        if id.is_some() || name.is_some() {
            out.push(Target {
                kind: Some("Device".into()),
                id,
                name,
            });
        }
    }
    for e in evidence(v, "mailboxEvidence") {
        if let Some(address) = text(e, "primaryAddress") {
            out.push(Target {
                kind: Some("Mailbox".into()),
                id: None,
                name: Some(address),
            });
        }
    }
    out
}

pub fn normalize(v: &Value, ctx: Context<'_>) -> Result<AuditEvent, NormalizeError> {
    if !v.is_object() {
        return Err(NormalizeError::NotAnObject);
    }
    let raw_time = text(v, "createdDateTime").ok_or(NormalizeError::Missing("createdDateTime"))?;
    let time = parse_time(&raw_time).ok_or(NormalizeError::BadTime {
        field: "createdDateTime",
        value: raw_time,
    })?;
    // The version must parse, or the store could not order two versions of the alert.
    let updated =
        text(v, "lastUpdateDateTime").ok_or(NormalizeError::Missing("lastUpdateDateTime"))?;
    if parse_time(&updated).is_none() {
        return Err(NormalizeError::BadTime {
            field: "lastUpdateDateTime",
            value: updated,
        });
    }
    let operation = text(v, "title").ok_or(NormalizeError::Missing("title"))?;
    let record_id = text(v, "id");
    let dedupe_key = dedupe_key(record_id.as_deref(), v);

    let (status, severity, classification) = (
        text(v, "status"),
        text(v, "severity"),
        text(v, "classification"),
    );
    let result = result_of_classification(classification.as_deref());
    let result_reason = match (&status, &severity) {
        (Some(s), Some(l)) => Some(format!("{s}, severity {l}")),
        (Some(s), None) => Some(s.clone()),
        (None, Some(l)) => Some(format!("severity {l}")),
        (None, None) => None,
    };
    let client_ip = evidence(v, "ipEvidence").find_map(|e| text(e, "ipAddress"));

    let mut details = Map::new();
    let mut put = |k: &str, val: Option<String>| {
        if let Some(val) = val {
            details.insert(k.to_string(), Value::String(val));
        }
    };
    put("last_update_date_time", Some(updated));
    put("status", status);
    put("severity", severity);
    put("classification", classification);
    put("determination", text(v, "determination"));
    put("assigned_to", text(v, "assignedTo"));
    put("incident_id", text(v, "incidentId"));
    put("detection_source", text(v, "detectionSource"));
    put("detector_id", text(v, "detectorId"));
    put("provider_alert_id", text(v, "providerAlertId"));
    put("product_name", text(v, "productName"));
    put("threat_display_name", text(v, "threatDisplayName"));
    put("first_activity_date_time", text(v, "firstActivityDateTime"));
    put("last_activity_date_time", text(v, "lastActivityDateTime"));
    put("resolved_date_time", text(v, "resolvedDateTime"));
    put("alert_web_url", text(v, "alertWebUrl"));
    put("description", text(v, "description"));
    if let Some(techniques) = field(v, "mitreTechniques").filter(|t| t.is_array()) {
        details.insert("mitre_techniques".into(), techniques.clone());
    }
    let count = |k: &str| field(v, k).and_then(Value::as_array).map_or(0, Vec::len);
    details.insert("evidence_count".into(), count("evidence").into());
    details.insert("comment_count".into(), count("comments").into());

    Ok(AuditEvent {
        id: keys::event_id(Source::DefenderAlerts, time, &dedupe_key),
        record_id,
        source: Source::DefenderAlerts,
        stream: ctx.stream.map(str::to_string),
        tenant_id: ctx.tenant_id.to_string(),
        time,
        service: text(v, "serviceSource"),
        category: text(v, "category"),
        operation,
        result,
        result_reason,
        actor: actor_of(v),
        targets: targets_of(v),
        client_ip,
        user_agent: None,
        location: None,
        details,
        dedupe_key,
        ingested_at: ctx.ingested_at,
        raw: None,
        raw_ref: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn ctx() -> Context<'static> {
        Context {
            tenant_id: "t",
            stream: None,
            ingested_at: Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
        }
    }

    // Written for this project in the shape of Graph's v1.0 security alert: every property
    // present, evidence of derived types named by `@odata.type`.
    fn alert() -> Value {
        serde_json::from_str(ALERT).unwrap()
    }

    const ALERT: &str = r##"{
            "id": "da637551227677560813_-961444813",
            "providerAlertId": "da637551227677560813_-961444813",
            "incidentId": "28282",
            "status": "inProgress",
            "severity": "high",
            "classification": "truePositive",
            "determination": "compromisedAccount",
            "serviceSource": "microsoftDefenderForOffice365",
            "detectionSource": "microsoftDefenderForOffice365",
            "productName": "Microsoft Defender for Office 365",
            "detectorId": "e0da400f-affd-43ef-b1d5-afc2eb6f2756",
            "tenantId": "b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c",
            "title": "Suspicious inbox forwarding rule",
            "description": "A forwarding rule to an external <b>address</b> was created.",
            "recommendedActions": null,
            "category": "Exfiltration",
            "assignedTo": "soc@northwind.example",
            "alertWebUrl": "https://security.microsoft.com/alerts/da637551227677560813_-961444813",
            "incidentWebUrl": "https://security.microsoft.com/incidents/28282",
            "actorDisplayName": null,
            "threatDisplayName": null,
            "threatFamilyName": null,
            "mitreTechniques": ["T1114.003"],
            "createdDateTime": "2024-05-21T13:05:44.5551234Z",
            "lastUpdateDateTime": "2024-05-21T15:00:02.1000000Z",
            "resolvedDateTime": null,
            "firstActivityDateTime": "2024-05-21T12:58:00Z",
            "lastActivityDateTime": "2024-05-21T13:01:00Z",
            "systemTags": [],
            "alertPolicyId": null,
            "additionalData": null,
            "comments": [{"comment": "looking", "createdByDisplayName": "soc", "createdDateTime": "2024-05-21T14:00:00Z"}],
            "evidence": [
                {"@odata.type": "#microsoft.graph.security.userEvidence", "roles": [], "verdict": "suspicious",
                 "userAccount": {"accountName": "ines", "azureAdUserId": "4d5e6f70-8192-43a4-b5c6-d7e8f90a1b23",
                                 "displayName": "Ines Moreau", "domainName": "northwind.example",
                                 "userPrincipalName": "ines@northwind.example", "userSid": null}},
                {"@odata.type": "#microsoft.graph.security.mailboxEvidence", "primaryAddress": "ines@northwind.example"},
                {"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": "203.0.113.9"},
                {"@odata.type": "#microsoft.graph.security.deviceEvidence", "mdeDeviceId": "f1d3", "deviceDnsName": "laptop-7.northwind.example"}
            ]
        }"##;

    #[test]
    fn an_alert_with_its_user_targets_verdict_and_version() {
        let e = normalize(&alert(), ctx()).unwrap();
        assert_eq!(e.operation, "Suspicious inbox forwarding rule");
        assert_eq!(
            e.time,
            Utc.with_ymd_and_hms(2024, 5, 21, 13, 5, 44).unwrap()
                + chrono::TimeDelta::nanoseconds(555_123_400)
        );
        assert!(
            e.id.starts_with("defender-alerts:20240521T130544Z-"),
            "{}",
            e.id
        );
        assert_eq!(
            e.record_id.as_deref(),
            Some("da637551227677560813_-961444813")
        );
        assert_eq!(e.result, EventResult::Failure);
        assert_eq!(
            e.result_reason.as_deref(),
            Some("inProgress, severity high")
        );
        assert_eq!(e.service.as_deref(), Some("microsoftDefenderForOffice365"));
        assert_eq!(e.category.as_deref(), Some("Exfiltration"));
        assert_eq!(e.actor.kind, ActorKind::User);
        assert_eq!(e.actor.upn.as_deref(), Some("ines@northwind.example"));
        assert_eq!(e.client_ip.as_deref(), Some("203.0.113.9"));
        let targets: Vec<(Option<&str>, Option<&str>)> = e
            .targets
            .iter()
            .map(|t| (t.kind.as_deref(), t.name.as_deref()))
            .collect();
        assert_eq!(
            targets,
            [
                (Some("Device"), Some("laptop-7.northwind.example")),
                (Some("Mailbox"), Some("ines@northwind.example"))
            ]
        );
        assert_eq!(e.details["determination"], "compromisedAccount");
        assert_eq!(e.details["evidence_count"], 4);
        assert_eq!(e.details["comment_count"], 1);
        assert_eq!(e.details["mitre_techniques"], json!(["T1114.003"]));
        assert_eq!(
            keys::event_version(&e),
            Some(
                Utc.with_ymd_and_hms(2024, 5, 21, 15, 0, 2)
                    .unwrap()
                    .timestamp_micros()
                    + 100_000
            )
        );
    }

    #[test]
    fn every_version_of_an_alert_has_one_id_and_later_versions_sort_higher() {
        let first = normalize(&alert(), ctx()).unwrap();
        let mut v = alert();
        v["status"] = json!("resolved");
        v["classification"] = json!("falsePositive");
        v["lastUpdateDateTime"] = json!("2024-05-22T09:00:00Z");
        let later = normalize(&v, ctx()).unwrap();
        assert_eq!(first.id, later.id);
        assert_eq!(later.result, EventResult::Success);
        assert!(keys::event_version(&later) > keys::event_version(&first));
    }

    #[test]
    fn an_unclassified_alert_without_evidence_is_systems_and_unknown() {
        let mut v = alert();
        v["classification"] = Value::Null;
        v["evidence"] = json!([]);
        let e = normalize(&v, ctx()).unwrap();
        assert_eq!(e.result, EventResult::Unknown);
        assert_eq!(e.actor.kind, ActorKind::System);
        assert!(e.targets.is_empty() && e.client_ip.is_none());
    }

    #[test]
    fn an_alert_without_title_creation_or_version_is_refused() {
        for (k, missing) in [
            ("title", "title"),
            ("createdDateTime", "createdDateTime"),
            ("lastUpdateDateTime", "lastUpdateDateTime"),
        ] {
            let mut v = alert();
            v[k] = Value::Null;
            assert!(
                matches!(normalize(&v, ctx()), Err(NormalizeError::Missing(m)) if m == missing),
                "{k}"
            );
        }
        let mut v = alert();
        v["lastUpdateDateTime"] = json!("yesterday");
        assert!(matches!(
            normalize(&v, ctx()),
            Err(NormalizeError::BadTime {
                field: "lastUpdateDateTime",
                ..
            })
        ));
        assert!(matches!(
            normalize(&json!([1]), ctx()),
            Err(NormalizeError::NotAnObject)
        ));
    }

    #[test]
    fn other_sources_have_no_version() {
        let mut e = normalize(&alert(), ctx()).unwrap();
        e.source = Source::EntraSignIns;
        assert_eq!(keys::event_version(&e), None);
    }
}
