//! Entra provisioning logs (Graph `provisioningObjectSummary` under `auditLogs/provisioning`) to
//! [`AuditEvent`]: what the provisioning service did to one identity in a target system.
//!
//! Mapping decisions:
//! - `time` is `activityDateTime`; `operation` the `provisioningAction` (`create`, `update`,
//!   `delete`, `disable`, `stagedDelete`, `other`), else the deprecated beta `action`; a record
//!   with neither is refused. `service` is `Account Provisioning` (what directory audits name
//!   the same service), `category` the provisioning app (`servicePrincipal.displayName`).
//! - `result` reads `provisioningStatusInfo.status` (else the deprecated `statusInfo.status`):
//!   `success` and `failure` as such, `warning` partial, `skipped` and anything else unknown
//!   with the word as the reason; a failure's reason is its `errorInformation.reason`, else its
//!   `errorCode`.
//! - The actor is `initiatedBy`: `system` (the provisioning service's own cycles), a `user`
//!   (on-demand provisioning) or an `application`, by its `initiatorType`.
//! - The target is `targetIdentity` (`kind` its `identityType`); the source identity, both
//!   systems, the job, cycle and change ids, the duration, the error and every modified property
//!   go to `details`. Provisioning records carry no client IP.

use serde_json::{Map, Value, json};

use super::{Context, NormalizeError, dedupe_key, field, result_of, text, text_any};
use crate::model::{Actor, ActorKind, AuditEvent, EventResult, Source, Target, parse_time};
use crate::store::keys;

fn actor(by: Option<&Value>) -> Actor {
    let Some(by) = by.filter(|b| b.is_object()) else {
        return Actor::system();
    };
    let (id, name) = (text(by, "id"), text(by, "displayName"));
    match text(by, "initiatorType")
        .map(|t| t.to_ascii_lowercase())
        .as_deref()
    {
        Some("user") => Actor {
            kind: ActorKind::User,
            id,
            upn: None,
            name,
            app_id: None,
        },
        Some("application") => Actor {
            kind: ActorKind::App,
            id,
            upn: None,
            name,
            app_id: None,
        },
        _ => Actor {
            name,
            ..Actor::system()
        },
    }
}

fn identity(v: Option<&Value>) -> Option<Value> {
    let v = v.filter(|v| v.is_object())?;
    let (id, name) = (text(v, "id"), text(v, "displayName"));
    (id.is_some() || name.is_some()).then(|| json!({"id": id, "name": name}))
}

pub fn normalize(v: &Value, ctx: Context<'_>) -> Result<AuditEvent, NormalizeError> {
    if !v.is_object() {
        return Err(NormalizeError::NotAnObject);
    }
    let raw_time =
        text(v, "activityDateTime").ok_or(NormalizeError::Missing("activityDateTime"))?;
    let time = parse_time(&raw_time).ok_or(NormalizeError::BadTime {
        field: "activityDateTime",
        value: raw_time,
    })?;
    let operation = text_any(v, &["provisioningAction", "action"])
        .ok_or(NormalizeError::Missing("provisioningAction"))?;
    let record_id = text(v, "id");
    let dedupe_key = dedupe_key(record_id.as_deref(), v);

    let status = field(v, "provisioningStatusInfo")
        .filter(|s| s.is_object())
        .or_else(|| field(v, "statusInfo").filter(|s| s.is_object()));
    let word = status.and_then(|s| text(s, "status"));
    let error = status
        .and_then(|s| field(s, "errorInformation"))
        .filter(|e| e.is_object());
    let (result, mut result_reason) = match word.as_deref().map(str::to_ascii_lowercase) {
        Some(w) if w == "warning" => (EventResult::Partial, Some("warning".to_string())),
        _ => result_of(word.as_deref()),
    };
    if result == EventResult::Failure {
        result_reason = error.and_then(|e| text_any(e, &["reason", "errorCode"]));
    }

    let targets: Vec<Target> = field(v, "targetIdentity")
        .filter(|t| t.is_object())
        .map(|t| Target {
            kind: text(t, "identityType"),
            id: text(t, "id"),
            name: text(t, "displayName"),
        })
        .filter(|t| t.id.is_some() || t.name.is_some())
        .into_iter()
        .collect();

    let mut details = Map::new();
    let mut put = |k: &str, val: Option<String>| {
        if let Some(val) = val {
            details.insert(k.to_string(), Value::String(val));
        }
    };
    put("job_id", text(v, "jobId"));
    put("cycle_id", text(v, "cycleId"));
    put("change_id", text(v, "changeId"));
    put("duration_ms", text(v, "durationInMilliseconds"));
    if let Some(e) = error {
        put("error_code", text(e, "errorCode"));
        put("error_category", text(e, "errorCategory"));
        put("recommended_action", text(e, "recommendedAction"));
    }
    for (key, prop) in [
        ("source_identity", "sourceIdentity"),
        ("source_system", "sourceSystem"),
        ("target_system", "targetSystem"),
        ("service_principal", "servicePrincipal"),
    ] {
        if let Some(x) = identity(field(v, prop)) {
            details.insert(key.into(), x);
        }
    }
    let modified: Vec<Value> = field(v, "modifiedProperties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            json!({"property": text(p, "displayName"), "old_value": text(p, "oldValue"),
                   "new_value": text(p, "newValue")})
        })
        .collect();
    if !modified.is_empty() {
        details.insert("modified_properties".into(), Value::Array(modified));
    }

    Ok(AuditEvent {
        id: keys::event_id(Source::EntraProvisioning, time, &dedupe_key),
        record_id,
        source: Source::EntraProvisioning,
        stream: ctx.stream.map(str::to_string),
        tenant_id: ctx.tenant_id.to_string(),
        time,
        service: Some("Account Provisioning".into()),
        category: field(v, "servicePrincipal").and_then(|s| text(s, "displayName")),
        operation,
        result,
        result_reason,
        actor: actor(field(v, "initiatedBy")),
        targets,
        client_ip: None,
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
    use crate::model::fmt_time;
    use chrono::{TimeZone, Utc};

    fn ctx() -> Context<'static> {
        Context {
            tenant_id: "t",
            stream: None,
            ingested_at: Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
        }
    }

    // Written for this project in the shape of Graph's v1.0 provisioningObjectSummary.
    fn record() -> Value {
        json!({
            "id": "8e1c2b3a-4d5e-4f60-8172-93a4b5c6d7e8",
            "activityDateTime": "2024-05-21T13:05:44.5551234Z",
            "tenantId": "t", "jobId": "ServiceNowOutDelta.5e6f7081a2b34c5d.t",
            "cycleId": "c1", "changeId": "ch1", "durationInMilliseconds": 1873,
            "initiatedBy": {"id": "", "displayName": "Azure AD Provisioning Service", "initiatorType": "system"},
            "servicePrincipal": {"id": "sp1", "displayName": "ServiceNow"},
            "sourceSystem": {"id": "s1", "displayName": "Azure Active Directory", "details": {}},
            "targetSystem": {"id": "s2", "displayName": "ServiceNow", "details": {}},
            "sourceIdentity": {"id": "u1", "displayName": "Ines Moreau", "identityType": "User", "details": {}},
            "targetIdentity": {"id": "sn-42", "displayName": "ines@northwind.example", "identityType": "sys_user", "details": {}},
            "provisioningAction": "update",
            "provisioningStatusInfo": {"status": "failure", "errorInformation": {
                "errorCode": "SystemForCrossDomainIdentityManagementServiceIncompatible",
                "errorCategory": "nonServiceFailure", "reason": "The target rejected the request.",
                "additionalDetails": null, "recommendedAction": "Check the attribute mappings."}},
            "provisioningSteps": [],
            "modifiedProperties": [{"displayName": "department", "oldValue": "Sales", "newValue": "Finance"}]
        })
    }

    #[test]
    fn a_failed_update_with_its_target_error_and_changes() {
        let e = normalize(&record(), ctx()).unwrap();
        assert_eq!(
            e.id,
            "entra-provisioning:20240521T130544Z-8e1c2b3a-4d5e-4f60-8172-93a4b5c6d7e8"
        );
        assert_eq!(fmt_time(e.time), "2024-05-21T13:05:44.555Z");
        assert_eq!(e.operation, "update");
        assert_eq!(e.service.as_deref(), Some("Account Provisioning"));
        assert_eq!(e.category.as_deref(), Some("ServiceNow"));
        assert_eq!(e.result, EventResult::Failure);
        assert_eq!(
            e.result_reason.as_deref(),
            Some("The target rejected the request.")
        );
        assert_eq!(e.actor.kind, ActorKind::System);
        assert_eq!(
            e.actor.name.as_deref(),
            Some("Azure AD Provisioning Service")
        );
        assert_eq!(e.client_ip, None);
        assert_eq!(
            e.targets,
            vec![Target {
                kind: Some("sys_user".into()),
                id: Some("sn-42".into()),
                name: Some("ines@northwind.example".into())
            }]
        );
        let d = &e.details;
        assert_eq!(d["job_id"], "ServiceNowOutDelta.5e6f7081a2b34c5d.t");
        assert_eq!(d["duration_ms"], "1873");
        assert_eq!(d["error_category"], "nonServiceFailure");
        assert_eq!(
            d["source_identity"],
            json!({"id": "u1", "name": "Ines Moreau"})
        );
        assert_eq!(d["target_system"]["name"], "ServiceNow");
        assert_eq!(
            d["modified_properties"],
            json!([{"property": "department", "old_value": "Sales", "new_value": "Finance"}])
        );
    }

    #[test]
    fn statuses_and_initiators() {
        for (status, want, reason) in [
            ("success", EventResult::Success, None),
            ("warning", EventResult::Partial, Some("warning")),
            ("skipped", EventResult::Unknown, Some("skipped")),
        ] {
            let mut r = record();
            r["provisioningStatusInfo"] = json!({"status": status, "errorInformation": null});
            let e = normalize(&r, ctx()).unwrap();
            assert_eq!(e.result, want, "{status}");
            assert_eq!(e.result_reason.as_deref(), reason, "{status}");
        }
        let mut r = record();
        r["initiatedBy"] = json!({"id": "u9", "displayName": "Admin", "initiatorType": "user"});
        let e = normalize(&r, ctx()).unwrap();
        assert_eq!(e.actor.kind, ActorKind::User);
        assert_eq!(e.actor.id.as_deref(), Some("u9"));
        r["initiatedBy"] =
            json!({"id": "a9", "displayName": "Sync app", "initiatorType": "application"});
        assert_eq!(normalize(&r, ctx()).unwrap().actor.kind, ActorKind::App);
        // The deprecated beta spellings are read too.
        let mut beta = record();
        let obj = beta.as_object_mut().unwrap();
        obj.remove("provisioningAction");
        obj.remove("provisioningStatusInfo");
        obj.insert("action".into(), json!("Create"));
        obj.insert("statusInfo".into(), json!({"status": "success"}));
        let e = normalize(&beta, ctx()).unwrap();
        assert_eq!(e.operation, "Create");
        assert_eq!(e.result, EventResult::Success);
    }

    #[test]
    fn records_without_a_time_or_action_are_refused() {
        let mut r = record();
        r["activityDateTime"] = json!("<null>");
        assert_eq!(
            normalize(&r, ctx()).unwrap_err(),
            NormalizeError::Missing("activityDateTime")
        );
        let mut r = record();
        r["provisioningAction"] = Value::Null;
        assert_eq!(
            normalize(&r, ctx()).unwrap_err(),
            NormalizeError::Missing("provisioningAction")
        );
        assert_eq!(
            normalize(&json!("x"), ctx()).unwrap_err(),
            NormalizeError::NotAnObject
        );
    }
}
