//! Directory audits (Graph `directoryAudit`) to [`AuditEvent`]: the activity is the operation,
//! `loggedByService` the service, the initiating user or app the actor (with the user's IP), the
//! target resources the targets; correlation id, operation type, additional details and every
//! modified property (old and new value) go to `details`, where analysts hunt for them.

use serde_json::{Map, Value, json};

use super::{Context, NormalizeError, dedupe_key, field, result_of, text, text_any};
use crate::model::{Actor, ActorKind, AuditEvent, EventResult, Source, Target, parse_time};
use crate::store::keys;

/// `result` in any of Microsoft's spellings ([`super::result_word`]); an unknown word is kept as
/// the reason when `resultReason` is empty.
fn result(v: &Value) -> (EventResult, Option<String>) {
    let (result, word) = result_of(text(v, "result").as_deref());
    (result, text(v, "resultReason").or(word))
}

fn actor(initiated_by: Option<&Value>) -> (Actor, Option<String>) {
    let user = initiated_by
        .and_then(|i| field(i, "user"))
        .filter(|u| u.is_object());
    if let Some(u) = user
        && (text(u, "id").is_some() || text(u, "userPrincipalName").is_some())
    {
        return (
            Actor {
                kind: ActorKind::User,
                id: text(u, "id"),
                upn: text(u, "userPrincipalName"),
                name: text(u, "displayName"),
                app_id: None,
            },
            text(u, "ipAddress"),
        );
    }
    let app = initiated_by
        .and_then(|i| field(i, "app"))
        .filter(|a| a.is_object());
    if let Some(a) = app
        && (text(a, "servicePrincipalId").is_some()
            || text(a, "appId").is_some()
            || text(a, "displayName").is_some())
    {
        return (
            Actor {
                kind: ActorKind::App,
                id: text(a, "servicePrincipalId"),
                upn: None,
                name: text(a, "displayName").or_else(|| text(a, "servicePrincipalName")),
                app_id: text(a, "appId"),
            },
            None,
        );
    }
    (Actor::system(), None)
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
    let operation =
        text(v, "activityDisplayName").ok_or(NormalizeError::Missing("activityDisplayName"))?;
    let record_id = text(v, "id");
    let dedupe_key = dedupe_key(record_id.as_deref(), v);
    let (actor, client_ip) = actor(field(v, "initiatedBy"));

    let mut targets = Vec::new();
    let mut modified = Vec::new();
    for t in field(v, "targetResources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = text(t, "displayName").or_else(|| text(t, "userPrincipalName"));
        for p in field(t, "modifiedProperties")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            modified.push(json!({
                "target": name.clone().or_else(|| text(t, "id")),
                "property": text(p, "displayName"),
                "old_value": text(p, "oldValue"),
                "new_value": text(p, "newValue"),
            }));
        }
        targets.push(Target {
            kind: text_any(t, &["type", "Type"]),
            id: text(t, "id"),
            name,
        });
    }

    let mut additional = Map::new();
    let mut user_agent = None;
    for kv in field(v, "additionalDetails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(k) = text(kv, "key") {
            let val = text(kv, "value");
            if k.eq_ignore_ascii_case("User-Agent") {
                user_agent = val.clone();
            }
            additional.insert(k, val.map_or(Value::Null, Value::String));
        }
    }

    let mut details = Map::new();
    let mut put = |k: &str, val: Option<String>| {
        if let Some(val) = val {
            details.insert(k.to_string(), Value::String(val));
        }
    };
    put("correlation_id", text(v, "correlationId"));
    put("operation_type", text(v, "operationType"));
    if let Some(u) = field(v, "initiatedBy")
        .and_then(|i| field(i, "user"))
        .filter(|u| u.is_object())
    {
        put("user_type", text(u, "userType"));
        put("home_tenant_id", text(u, "homeTenantId"));
    }
    if !additional.is_empty() {
        details.insert("additional_details".into(), Value::Object(additional));
    }
    if !modified.is_empty() {
        details.insert("modified_properties".into(), Value::Array(modified));
    }

    let (result, result_reason) = result(v);
    Ok(AuditEvent {
        id: keys::event_id(Source::EntraDirectoryAudits, time, &dedupe_key),
        record_id,
        source: Source::EntraDirectoryAudits,
        stream: ctx.stream.map(str::to_string),
        tenant_id: ctx.tenant_id.to_string(),
        time,
        service: text(v, "loggedByService"),
        category: text(v, "category"),
        operation,
        result,
        result_reason,
        actor,
        targets,
        client_ip,
        user_agent,
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
            ingested_at: Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap(),
        }
    }

    // Written for this project in the shape of a Graph v1.0 directoryAudit.
    const USER_RECORD: &str = r#"{
        "id": "Directory_5c1e2f0a-1111-4222-8333-944455556666_AB12C_12345678",
        "category": "RoleManagement",
        "correlationId": "5c1e2f0a-1111-4222-8333-944455556666",
        "result": "success",
        "resultReason": "",
        "activityDisplayName": "Add member to role",
        "activityDateTime": "2024-04-30T22:15:01.1234567Z",
        "loggedByService": "Core Directory",
        "operationType": "Assign",
        "initiatedBy": {
            "user": {"id": "0b8f6d3c-aaaa-4bbb-8ccc-0d1e2f3a4b5c", "displayName": "Ada Admin",
                     "userPrincipalName": "ada@contoso.example", "ipAddress": "203.0.113.7",
                     "userType": null, "homeTenantId": null, "homeTenantName": null},
            "app": null
        },
        "targetResources": [
            {"id": "7a6b5c4d-0000-4111-8222-933344445555", "displayName": "Global Administrator", "type": "Role",
             "userPrincipalName": null, "groupType": null,
             "modifiedProperties": [{"displayName": "Role.DisplayName", "oldValue": null, "newValue": "\"Global Administrator\""}]},
            {"id": "1c2d3e4f-0000-4111-8222-933344445555", "displayName": null, "Type": "User",
             "userPrincipalName": "eve@contoso.example", "modifiedProperties": []}
        ],
        "additionalDetails": [{"key": "User-Agent", "value": "Mozilla/5.0 (X11)"}, {"key": "RoleDefinitionOriginType", "value": "BuiltInRole"}]
    }"#;

    #[test]
    fn user_initiated_role_assignment() {
        let v: Value = serde_json::from_str(USER_RECORD).unwrap();
        let e = normalize(&v, ctx()).unwrap();
        assert_eq!(
            e.id,
            "entra-directory-audits:20240430T221501Z-Directory_5c1e2f0a-1111-4222-8333-944455556666_AB12C_12345678"
        );
        assert_eq!(
            e.record_id.as_deref(),
            Some("Directory_5c1e2f0a-1111-4222-8333-944455556666_AB12C_12345678")
        );
        assert_eq!(fmt_time(e.time), "2024-04-30T22:15:01.123Z");
        assert_eq!(e.operation, "Add member to role");
        assert_eq!(e.category.as_deref(), Some("RoleManagement"));
        assert_eq!(e.service.as_deref(), Some("Core Directory"));
        assert_eq!(e.result, EventResult::Success);
        assert_eq!(e.result_reason, None);
        assert_eq!(e.actor.kind, ActorKind::User);
        assert_eq!(e.actor.upn.as_deref(), Some("ada@contoso.example"));
        assert_eq!(e.actor.name.as_deref(), Some("Ada Admin"));
        assert_eq!(e.client_ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(e.user_agent.as_deref(), Some("Mozilla/5.0 (X11)"));
        assert_eq!(e.targets.len(), 2);
        assert_eq!(e.targets[0].kind.as_deref(), Some("Role"));
        assert_eq!(e.targets[0].name.as_deref(), Some("Global Administrator"));
        assert_eq!(
            e.targets[1].kind.as_deref(),
            Some("User"),
            "capitalised `Type` is read too"
        );
        assert_eq!(e.targets[1].name.as_deref(), Some("eve@contoso.example"));
        assert_eq!(e.details["operation_type"], "Assign");
        assert_eq!(
            e.details["modified_properties"][0]["new_value"],
            "\"Global Administrator\""
        );
        assert_eq!(
            e.details["additional_details"]["RoleDefinitionOriginType"],
            "BuiltInRole"
        );
    }

    #[test]
    fn app_initiated_failure_and_unknown_result() {
        let v = json!({
            "id": "0f0e0d0c-0b0a-4909-8807-060504030201",
            "activityDateTime": "2024-04-30T22:15:01Z",
            "activityDisplayName": "Update application",
            "result": "timeout",
            "resultReason": "Microsoft.Online.Workflows.Timeout",
            "initiatedBy": {"user": null, "app": {"appId": "a1", "displayName": "Deployer", "servicePrincipalId": "sp1", "servicePrincipalName": null}},
            "targetResources": []
        });
        let e = normalize(&v, ctx()).unwrap();
        assert_eq!(e.actor.kind, ActorKind::App);
        assert_eq!(e.actor.id.as_deref(), Some("sp1"));
        assert_eq!(e.actor.app_id.as_deref(), Some("a1"));
        assert_eq!(e.actor.name.as_deref(), Some("Deployer"));
        assert_eq!(e.result, EventResult::Failure);
        assert_eq!(
            e.result_reason.as_deref(),
            Some("Microsoft.Online.Workflows.Timeout")
        );
        assert_eq!(e.client_ip, None);

        let mut odd = v.clone();
        odd["result"] = json!("unknownFutureValue");
        odd["initiatedBy"] = json!({"user": null, "app": null});
        let e = normalize(&odd, ctx()).unwrap();
        assert_eq!(e.result, EventResult::Unknown);
        assert_eq!(e.actor.kind, ActorKind::System);
    }

    #[test]
    fn records_without_a_time_or_activity_are_refused() {
        let no_time = json!({"id": "x", "activityDisplayName": "Add user"});
        assert_eq!(
            normalize(&no_time, ctx()).unwrap_err(),
            NormalizeError::Missing("activityDateTime")
        );
        let bad_time = json!({"id": "x", "activityDisplayName": "Add user", "activityDateTime": "last tuesday"});
        assert!(matches!(
            normalize(&bad_time, ctx()).unwrap_err(),
            NormalizeError::BadTime { .. }
        ));
        let no_op = json!({"id": "x", "activityDateTime": "2024-01-01T00:00:00Z"});
        assert_eq!(
            normalize(&no_op, ctx()).unwrap_err(),
            NormalizeError::Missing("activityDisplayName")
        );
        assert_eq!(
            normalize(&json!([1]), ctx()).unwrap_err(),
            NormalizeError::NotAnObject
        );
    }

    #[test]
    fn records_without_an_id_get_a_content_hash() {
        let v =
            json!({"activityDateTime": "2024-01-01T00:00:00Z", "activityDisplayName": "Add user"});
        let e = normalize(&v, ctx()).unwrap();
        assert_eq!(e.record_id, None);
        assert!(e.dedupe_key.starts_with("h-"));
        assert_eq!(
            e.id,
            format!("entra-directory-audits:20240101T000000Z-{}", e.dedupe_key)
        );
    }
}
