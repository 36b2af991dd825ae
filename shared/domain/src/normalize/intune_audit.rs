//! Intune audit events (Graph `auditEvent` under `deviceManagement/auditEvents`) to
//! [`AuditEvent`]: the Intune component (`componentName`) is the service, `category` the category,
//! and the activity the operation.
//!
//! Mapping decisions:
//! - `operation` is `activity`, else `displayName`, else `activityType`: live records carry
//!   `"activity": null` and put the readable name in `displayName` ("Create device configuration
//!   assignment"); a record with none of the three is refused.
//! - `result` reads `activityResult` without regard to case: `success` is success, `failure`,
//!   `failed` or `fail` is failure, anything else (or nothing) unknown. Intune gives no reason.
//! - The actor is the user when `actor.userPrincipalName` or `actor.userId` is set (the app the
//!   user acted through, e.g. "Microsoft Intune portal extension", goes to `details`), else the
//!   application (`applicationId`, `applicationDisplayName` or `servicePrincipalName`), else
//!   `system`. Intune's actor has no service principal object id, so an app actor has no `id`.
//! - Each entry of `resources` is a target: `kind` from `type` (documented, absent from the v1.0
//!   metadata) or `auditResourceType`, `id` from `resourceId`, `name` from `displayName`.
//! - `details`: `activity_type`, `activity_operation_type`, `correlation_id`, `actor_type`,
//!   `user_permissions`, the acting application for user actors, and every modified property as
//!   `{target, property, old_value, new_value}`.
//!
//! Intune writes "nothing" as the literal string `<null>` (resource names, property values); that
//! and the other sentinels read by [`text`] are absent everywhere.

use serde_json::{Map, Value, json};

use super::{Context, NormalizeError, dedupe_key, field, is_sentinel, result_of, text, text_any};
use crate::model::{Actor, ActorKind, AuditEvent, EventResult, Source, Target, parse_time};
use crate::store::keys;

/// `activityResult` in any of Microsoft's spellings ([`super::result_word`]); an unknown word
/// is kept as the reason.
fn result(v: &Value) -> (EventResult, Option<String>) {
    result_of(text(v, "activityResult").as_deref())
}

fn actor(a: Option<&Value>) -> Actor {
    let Some(a) = a.filter(|a| a.is_object()) else {
        return Actor::system();
    };
    let (id, upn) = (text(a, "userId"), text(a, "userPrincipalName"));
    if id.is_some() || upn.is_some() {
        return Actor {
            kind: ActorKind::User,
            id,
            upn,
            name: None,
            app_id: None,
        };
    }
    let app_id = text(a, "applicationId");
    let name = text(a, "applicationDisplayName").or_else(|| text(a, "servicePrincipalName"));
    if app_id.is_some() || name.is_some() {
        return Actor {
            kind: ActorKind::App,
            id: None,
            upn: None,
            name,
            app_id,
        };
    }
    Actor::system()
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
    let operation = text_any(v, &["activity", "displayName", "activityType"]).ok_or(
        NormalizeError::Missing("activity (or displayName, activityType)"),
    )?;
    let record_id = text(v, "id");
    let dedupe_key = dedupe_key(record_id.as_deref(), v);
    let by = field(v, "actor").filter(|a| a.is_object());
    let actor = actor(by);

    let mut targets = Vec::new();
    let mut modified = Vec::new();
    for r in field(v, "resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (id, name) = (text(r, "resourceId"), text(r, "displayName"));
        for p in field(r, "modifiedProperties")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            modified.push(json!({
                "target": name.clone().or_else(|| id.clone()),
                "property": text(p, "displayName"),
                "old_value": text(p, "oldValue"),
                "new_value": text(p, "newValue"),
            }));
        }
        targets.push(Target {
            kind: text_any(r, &["type", "auditResourceType"]),
            id,
            name,
        });
    }

    let mut details = Map::new();
    let mut put = |k: &str, val: Option<String>| {
        if let Some(val) = val {
            details.insert(k.to_string(), Value::String(val));
        }
    };
    put("activity_type", text(v, "activityType"));
    put("activity_operation_type", text(v, "activityOperationType"));
    put("correlation_id", text(v, "correlationId"));
    if let Some(a) = by {
        put("actor_type", text_any(a, &["auditActorType", "type"]));
        if actor.kind == ActorKind::User {
            put("application_id", text(a, "applicationId"));
            put(
                "application_display_name",
                text(a, "applicationDisplayName"),
            );
        }
        put("service_principal_name", text(a, "servicePrincipalName"));
        let permissions: Vec<Value> = field(a, "userPermissions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| match p {
                Value::String(s) if !is_sentinel(s) => Some(Value::String(s.trim().into())),
                _ => None,
            })
            .collect();
        if !permissions.is_empty() {
            details.insert("user_permissions".into(), Value::Array(permissions));
        }
    }
    if !modified.is_empty() {
        details.insert("modified_properties".into(), Value::Array(modified));
    }

    let (result, result_reason) = result(v);
    Ok(AuditEvent {
        id: keys::event_id(Source::IntuneAudit, time, &dedupe_key),
        record_id,
        source: Source::IntuneAudit,
        stream: ctx.stream.map(str::to_string),
        tenant_id: ctx.tenant_id.to_string(),
        time,
        service: text(v, "componentName"),
        category: text(v, "category"),
        operation,
        result,
        result_reason,
        actor,
        targets,
        client_ip: by.and_then(|a| text(a, "ipAddress")),
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

    // Written for this project in the shape of a live Graph auditEvent: `activity` null, the
    // readable name in `displayName`, `<null>` sentinels in names and values.
    const USER_RECORD: &str = r#"{
        "id": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901",
        "displayName": "Patch DeviceCompliancePolicy",
        "componentName": "DeviceCompliance",
        "activity": null,
        "activityDateTime": "2024-05-21T13:05:44.5551234Z",
        "activityType": "Patch DeviceCompliancePolicy",
        "activityOperationType": "Patch",
        "activityResult": "Success",
        "correlationId": "3c4d5e6f-7081-4293-a4b5-c6d7e8f90a12",
        "category": "Compliance",
        "actor": {
            "auditActorType": "ItPro",
            "userPermissions": ["*", "<null>"],
            "applicationId": "5926fc8e-304e-4f59-8bed-58ca97cc39a4",
            "applicationDisplayName": "Microsoft Intune portal extension",
            "userPrincipalName": "ines@northwind.example",
            "servicePrincipalName": null,
            "ipAddress": "198.51.100.61",
            "userId": "4d5e6f70-8192-43a4-b5c6-d7e8f90a1b23"
        },
        "resources": [
            {"displayName": "Windows 11 baseline compliance", "auditResourceType": "DeviceCompliancePolicy",
             "resourceId": "5e6f7081-92a3-44b5-86c7-e8f90a1b2c34",
             "modifiedProperties": [
                {"displayName": "PasswordMinimumLength", "oldValue": "8", "newValue": "12"},
                {"displayName": "Description", "oldValue": "<null>", "newValue": "Baseline v2"}
             ]},
            {"displayName": "<null>", "type": "DeviceCompliancePolicyAssignment", "auditResourceType": "Ignored",
             "resourceId": "5e6f7081-92a3-44b5-86c7-e8f90a1b2c34_all",
             "modifiedProperties": [{"displayName": "Target.Type", "oldValue": null, "newValue": "AllDevicesAssignmentTarget"}]}
        ]
    }"#;

    #[test]
    fn a_user_change_with_modified_properties() {
        let v: Value = serde_json::from_str(USER_RECORD).unwrap();
        let e = normalize(&v, ctx()).unwrap();
        assert_eq!(
            e.id,
            "intune-audit:20240521T130544Z-2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901"
        );
        assert_eq!(fmt_time(e.time), "2024-05-21T13:05:44.555Z");
        assert_eq!(e.service.as_deref(), Some("DeviceCompliance"));
        assert_eq!(e.category.as_deref(), Some("Compliance"));
        assert_eq!(
            e.operation, "Patch DeviceCompliancePolicy",
            "activity is null: displayName"
        );
        assert_eq!(e.result, EventResult::Success);
        assert_eq!(e.actor.kind, ActorKind::User);
        assert_eq!(e.actor.upn.as_deref(), Some("ines@northwind.example"));
        assert_eq!(
            e.actor.id.as_deref(),
            Some("4d5e6f70-8192-43a4-b5c6-d7e8f90a1b23")
        );
        assert_eq!(e.actor.app_id, None);
        assert_eq!(e.client_ip.as_deref(), Some("198.51.100.61"));
        assert_eq!(e.targets.len(), 2);
        assert_eq!(e.targets[0].kind.as_deref(), Some("DeviceCompliancePolicy"));
        assert_eq!(
            e.targets[0].name.as_deref(),
            Some("Windows 11 baseline compliance")
        );
        assert_eq!(
            e.targets[1].kind.as_deref(),
            Some("DeviceCompliancePolicyAssignment"),
            "`type` before `auditResourceType`"
        );
        assert_eq!(e.targets[1].name, None, "`<null>` is absent");
        let d = &e.details;
        assert_eq!(d["activity_type"], "Patch DeviceCompliancePolicy");
        assert_eq!(d["activity_operation_type"], "Patch");
        assert_eq!(d["correlation_id"], "3c4d5e6f-7081-4293-a4b5-c6d7e8f90a12");
        assert_eq!(d["actor_type"], "ItPro");
        assert_eq!(d["user_permissions"], json!(["*"]));
        assert_eq!(
            d["application_display_name"],
            "Microsoft Intune portal extension"
        );
        assert!(!d.contains_key("service_principal_name"));
        assert_eq!(
            d["modified_properties"],
            json!([
                {"target": "Windows 11 baseline compliance", "property": "PasswordMinimumLength", "old_value": "8", "new_value": "12"},
                {"target": "Windows 11 baseline compliance", "property": "Description", "old_value": null, "new_value": "Baseline v2"},
                {"target": "5e6f7081-92a3-44b5-86c7-e8f90a1b2c34_all", "property": "Target.Type", "old_value": null, "new_value": "AllDevicesAssignmentTarget"}
            ])
        );
    }

    #[test]
    fn app_and_system_actors_and_result_words() {
        let v = json!({
            "id": "a1", "activityDateTime": "2024-05-21T13:05:44Z", "activity": "Wipe ManagedDevice",
            "displayName": "ignored", "activityResult": "FAILURE", "componentName": "Devices",
            "actor": {"userId": "<null>", "userPrincipalName": "", "applicationId": "0f1e2d3c-0000-4000-8000-000000000011",
                      "applicationDisplayName": null, "servicePrincipalName": "Graph automation", "ipAddress": "<null>",
                      "auditActorType": "Application", "userPermissions": []},
            "resources": []
        });
        let e = normalize(&v, ctx()).unwrap();
        assert_eq!(e.operation, "Wipe ManagedDevice", "activity wins when set");
        assert_eq!(e.result, EventResult::Failure);
        assert_eq!(e.actor.kind, ActorKind::App);
        assert_eq!(e.actor.id, None);
        assert_eq!(
            e.actor.app_id.as_deref(),
            Some("0f1e2d3c-0000-4000-8000-000000000011")
        );
        assert_eq!(e.actor.name.as_deref(), Some("Graph automation"));
        assert_eq!(e.client_ip, None);
        assert_eq!(e.details["service_principal_name"], "Graph automation");
        assert!(
            !e.details.contains_key("application_id"),
            "the app is the actor"
        );
        assert!(!e.details.contains_key("user_permissions"));
        assert_eq!(e.targets, vec![]);

        for (word, want) in [
            ("success", EventResult::Success),
            ("Failed", EventResult::Failure),
            ("Activity Result value", EventResult::Unknown),
            ("<null>", EventResult::Unknown),
        ] {
            let mut r = v.clone();
            r["activityResult"] = json!(word);
            assert_eq!(normalize(&r, ctx()).unwrap().result, want, "{word}");
        }
        let mut r = v.clone();
        r.as_object_mut().unwrap().remove("activityResult");
        r["actor"] = json!({"userId": null, "applicationId": "<null>", "ipAddress": null});
        let e = normalize(&r, ctx()).unwrap();
        assert_eq!(e.result, EventResult::Unknown);
        assert_eq!(e.actor.kind, ActorKind::System);
        r["actor"] = Value::Null;
        assert_eq!(normalize(&r, ctx()).unwrap().actor.kind, ActorKind::System);
    }

    #[test]
    fn the_operation_falls_back_to_the_activity_type() {
        let v = json!({"id": "a2", "activityDateTime": "2024-05-21T13:05:44-07:00",
                       "activity": "<null>", "displayName": "", "activityType": "Delete MobileApp"});
        let e = normalize(&v, ctx()).unwrap();
        assert_eq!(e.operation, "Delete MobileApp");
        assert_eq!(fmt_time(e.time), "2024-05-21T20:05:44.000Z");
        assert_eq!(e.service, None);
        assert_eq!(e.category, None);
    }

    #[test]
    fn records_without_a_time_or_operation_are_refused() {
        let no_time =
            json!({"id": "x", "displayName": "Create policy", "activityDateTime": "<null>"});
        assert_eq!(
            normalize(&no_time, ctx()).unwrap_err(),
            NormalizeError::Missing("activityDateTime")
        );
        let bad = json!({"id": "x", "displayName": "Create policy", "activityDateTime": "0/0/0"});
        assert!(matches!(
            normalize(&bad, ctx()).unwrap_err(),
            NormalizeError::BadTime {
                field: "activityDateTime",
                ..
            }
        ));
        let no_op =
            json!({"id": "x", "activityDateTime": "2024-05-21T13:05:44Z", "activity": null});
        assert!(matches!(
            normalize(&no_op, ctx()).unwrap_err(),
            NormalizeError::Missing(_)
        ));
        assert_eq!(
            normalize(&json!(7), ctx()).unwrap_err(),
            NormalizeError::NotAnObject
        );
        let no_id = json!({"activityDateTime": "2024-05-21T13:05:44Z", "activityType": "Create X"});
        let e = normalize(&no_id, ctx()).unwrap();
        assert_eq!(e.record_id, None);
        assert_eq!(
            e.id,
            format!("intune-audit:20240521T130544Z-{}", e.dedupe_key)
        );
    }
}
