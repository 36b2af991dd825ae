//! The typed reading of a Graph `directoryAudit` record: the same [`AuditEvent`] as
//! `super::super::entra_directory_audits::normalize` makes from a `Value`, rule for rule (actor,
//! targets, modified properties, additional details, result), from structs that borrow the line.
//! A record that rule would refuse (no time, a bad time, no activity) or that has no id (its
//! dedupe key is a hash of the whole record, sorted) is left to the `Value` path.

use serde_json::{Map, Value};

use super::{Arr, Obj, Scalar, fields};
use crate::model::{Actor, ActorKind, AuditEvent, Source, Target, parse_time};
use crate::normalize::{Context, dedupe_key_of_id, result_of};
use crate::store::keys;

fields! {
    /// The record: every key `entra_directory_audits::normalize` reads. `value`, `records` and
    /// `properties` would make the input reader see a list response or an envelope instead.
    Record {
        id: Scalar<'de> = "id",
        activity_date_time: Scalar<'de> = "activityDateTime",
        activity_display_name: Scalar<'de> = "activityDisplayName",
        category: Scalar<'de> = "category",
        correlation_id: Scalar<'de> = "correlationId",
        result: Scalar<'de> = "result",
        result_reason: Scalar<'de> = "resultReason",
        logged_by_service: Scalar<'de> = "loggedByService",
        operation_type: Scalar<'de> = "operationType",
        initiated_by: Obj<InitiatedBy<'de>> = "initiatedBy",
        target_resources: Arr<Obj<TargetResource<'de>>> = "targetResources",
        additional_details: Arr<Obj<KeyValue<'de>>> = "additionalDetails",
    }
    guards &["value", "records", "properties"]
}

fields! {
    InitiatedBy {
        user: Obj<User<'de>> = "user",
        app: Obj<App<'de>> = "app",
    }
}

fields! {
    User {
        id: Scalar<'de> = "id",
        display_name: Scalar<'de> = "displayName",
        user_principal_name: Scalar<'de> = "userPrincipalName",
        ip_address: Scalar<'de> = "ipAddress",
        user_type: Scalar<'de> = "userType",
        home_tenant_id: Scalar<'de> = "homeTenantId",
    }
}

fields! {
    App {
        app_id: Scalar<'de> = "appId",
        display_name: Scalar<'de> = "displayName",
        service_principal_id: Scalar<'de> = "servicePrincipalId",
        service_principal_name: Scalar<'de> = "servicePrincipalName",
    }
}

fields! {
    /// `type` and `Type` are both read (the `Value` rule tries one, then the other).
    TargetResource {
        id: Scalar<'de> = "id",
        display_name: Scalar<'de> = "displayName",
        kind: Scalar<'de> = "type",
        kind_capitalised: Scalar<'de> = "Type",
        user_principal_name: Scalar<'de> = "userPrincipalName",
        modified_properties: Arr<Obj<ModifiedProperty<'de>>> = "modifiedProperties",
    }
}

fields! {
    ModifiedProperty {
        display_name: Scalar<'de> = "displayName",
        old_value: Scalar<'de> = "oldValue",
        new_value: Scalar<'de> = "newValue",
    }
}

fields! {
    KeyValue {
        key: Scalar<'de> = "key",
        value: Scalar<'de> = "value",
    }
}

fn actor(initiated_by: Option<&InitiatedBy<'_>>) -> (Actor, Option<String>) {
    let user = initiated_by.and_then(|i| i.user.0.as_ref());
    if let Some(u) = user
        && (u.id.text_ref().is_some() || u.user_principal_name.text_ref().is_some())
    {
        return (
            Actor {
                kind: ActorKind::User,
                id: u.id.text(),
                upn: u.user_principal_name.text(),
                name: u.display_name.text(),
                app_id: None,
            },
            u.ip_address.text(),
        );
    }
    let app = initiated_by.and_then(|i| i.app.0.as_ref());
    if let Some(a) = app
        && (a.service_principal_id.text_ref().is_some()
            || a.app_id.text_ref().is_some()
            || a.display_name.text_ref().is_some())
    {
        return (
            Actor {
                kind: ActorKind::App,
                id: a.service_principal_id.text(),
                upn: None,
                name: a
                    .display_name
                    .text()
                    .or_else(|| a.service_principal_name.text()),
                app_id: a.app_id.text(),
            },
            None,
        );
    }
    (Actor::system(), None)
}

fn string(s: Option<String>) -> Value {
    s.map_or(Value::Null, Value::String)
}

/// One modified property, as the `Value` rule's `json!` object (keys sorted by the map).
fn modified(target: Option<String>, p: Option<&ModifiedProperty<'_>>) -> Value {
    let mut m = Map::new();
    m.insert("target".into(), string(target));
    m.insert(
        "property".into(),
        string(p.and_then(|p| p.display_name.text())),
    );
    m.insert(
        "old_value".into(),
        string(p.and_then(|p| p.old_value.text())),
    );
    m.insert(
        "new_value".into(),
        string(p.and_then(|p| p.new_value.text())),
    );
    Value::Object(m)
}

/// The event of one directory-audit line, or `None` for the `Value` path to read it.
pub fn normalize(line: &str, ctx: Context<'_>) -> Option<AuditEvent> {
    let Obj(Some(v)) = serde_json::from_str::<Obj<Record<'_>>>(line).ok()? else {
        return None;
    };
    let time = parse_time(&v.activity_date_time.text_ref()?)?;
    let operation = v.activity_display_name.text()?;
    let record_id = v.id.text()?;
    let dedupe_key = dedupe_key_of_id(&record_id);
    let initiated_by = v.initiated_by.0.as_ref();
    let (actor, client_ip) = actor(initiated_by);

    let mut targets = Vec::with_capacity(v.target_resources.0.len());
    let mut modified_properties = Vec::new();
    for Obj(t) in &v.target_resources.0 {
        let t = t.as_ref();
        let name = t.and_then(|t| {
            t.display_name
                .text()
                .or_else(|| t.user_principal_name.text())
        });
        if let Some(t) = t {
            for Obj(p) in &t.modified_properties.0 {
                let target = name.clone().or_else(|| t.id.text());
                modified_properties.push(modified(target, p.as_ref()));
            }
        }
        targets.push(Target {
            kind: t.and_then(|t| t.kind.text().or_else(|| t.kind_capitalised.text())),
            id: t.and_then(|t| t.id.text()),
            name,
        });
    }

    let mut additional = Map::new();
    let mut user_agent = None;
    for Obj(kv) in &v.additional_details.0 {
        if let Some(kv) = kv
            && let Some(k) = kv.key.text()
        {
            let val = kv.value.text();
            if k.eq_ignore_ascii_case("User-Agent") {
                user_agent = val.clone();
            }
            additional.insert(k, string(val));
        }
    }

    let mut details = Map::new();
    let mut put = |k: &str, val: Option<String>| {
        if let Some(val) = val {
            details.insert(k.to_string(), Value::String(val));
        }
    };
    put("correlation_id", v.correlation_id.text());
    put("operation_type", v.operation_type.text());
    if let Some(u) = initiated_by.and_then(|i| i.user.0.as_ref()) {
        put("user_type", u.user_type.text());
        put("home_tenant_id", u.home_tenant_id.text());
    }
    if !additional.is_empty() {
        details.insert("additional_details".into(), Value::Object(additional));
    }
    if !modified_properties.is_empty() {
        details.insert(
            "modified_properties".into(),
            Value::Array(modified_properties),
        );
    }

    let (result, word) = result_of(v.result.text_ref().as_deref());
    let result_reason = v.result_reason.text().or(word);
    let record_id = Some(record_id);
    Some(AuditEvent {
        id: keys::event_id(Source::EntraDirectoryAudits, &dedupe_key),
        record_id,
        source: Source::EntraDirectoryAudits,
        stream: ctx.stream.map(str::to_string),
        tenant_id: ctx.tenant_id.to_string(),
        time,
        service: v.logged_by_service.text(),
        category: v.category.text(),
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
