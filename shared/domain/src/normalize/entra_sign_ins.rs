//! Entra ID sign-ins (Graph `signIn`, v1.0 and beta) to [`AuditEvent`], one stream per sign-in
//! kind (`interactiveUser`, `nonInteractiveUser`, `servicePrincipal`, `managedIdentity`).
//!
//! The kind is the context's stream when it names one; otherwise (an operator's file) it is read
//! from the record: beta's `signInEventTypes`, then `isInteractive`, then who signed in (a user,
//! else a service principal, which is a managed identity when beta's `managedServiceIdentity`
//! says so). The event's `stream` is that kind.
//!
//! Mapping decisions:
//! - `service` is the resource signed in to (`resourceDisplayName`, e.g. "Microsoft Graph",
//!   "Office 365 Exchange Online"): that is the workload the sign-in opens, the analogue of
//!   `loggedByService` and of the Management API's `Workload`. Without one it is "Entra ID". The
//!   client application (`appDisplayName`, `appId`) goes to `details` and, for user sign-ins, to
//!   the targets.
//! - `category` is `SignIn/<kind>` (`SignIn/interactiveUser`, ...), one distinct value per kind.
//! - `operation` is "Sign-in" for user kinds (interactive or not; `details.is_interactive` and the
//!   category tell them apart), "Service principal sign-in" and "Managed identity sign-in".
//! - `result` is `success` when `status.errorCode` is 0 and `failure` for any other code. That
//!   includes the interrupts (50074/50076 "strong authentication required", 50140 "keep me signed
//!   in", 50125 password reset): Entra records the interrupted attempt as its own failed sign-in
//!   and the completed one, with the same correlation id, as a success; `details.status_code`
//!   tells interrupts from real failures. No status or no code is `unknown`.
//! - `result_reason`, on a failure only, is `failureReason (error N)`; successes often carry a
//!   meaningless `failureReason` such as "Other.", so it is not repeated there.
//! - The actor is the user (`userId`, `userPrincipalName`, `userDisplayName`) for user kinds and
//!   the application (`servicePrincipalId`, `servicePrincipalName` or `appDisplayName`, `appId`)
//!   for service principal and managed identity kinds; a record missing the expected identity
//!   falls back to the other one, then to `system`.
//! - The targets are the resource (`kind` "resource": `resourceId`, `resourceDisplayName`) and,
//!   for user kinds, the client application (`kind` "application": `appId`, `appDisplayName`).
//! - `location` is kept when any of city, state, country or coordinates is known; coordinates of
//!   exactly (0, 0) are how Entra writes "unknown" and are dropped.
//! - Risk values are kept as given, `hidden` included (it means the tenant lacks P2, not "none").
//!
//! Unknown fields are ignored; sentinel strings ("", "<null>", ...) are absent everywhere.

use serde_json::{Map, Value, json};

use super::{Context, NormalizeError, dedupe_key, field, text};
use crate::model::{
    Actor, ActorKind, AuditEvent, EventResult, Location, Source, Target, parse_time,
};
use crate::store::keys;
use crate::stream::SignInKind as Kind;

/// Kinds are the source's streams; the record-shaped helpers live here.
fn is_user(kind: Kind) -> bool {
    matches!(kind, Kind::InteractiveUser | Kind::NonInteractiveUser)
}

fn operation(kind: Kind) -> &'static str {
    match kind {
        Kind::InteractiveUser | Kind::NonInteractiveUser => "Sign-in",
        Kind::ServicePrincipal => "Service principal sign-in",
        Kind::ManagedIdentity => "Managed identity sign-in",
    }
}

fn has_user(v: &Value) -> bool {
    text(v, "userId").is_some() || text(v, "userPrincipalName").is_some()
}

fn has_app(v: &Value) -> bool {
    text(v, "servicePrincipalId").is_some()
        || text(v, "servicePrincipalName").is_some()
        || text(v, "appId").is_some()
}

/// The sign-in kind: the stream when it names one, else what the record says about itself.
fn kind(v: &Value, stream: Option<&str>) -> Kind {
    if let Some(k) = stream.and_then(|s| s.parse::<Kind>().ok()) {
        return k;
    }
    if let Some(k) = field(v, "signInEventTypes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find_map(|s| s.parse::<Kind>().ok())
    {
        return k;
    }
    let interactive = field(v, "isInteractive").and_then(Value::as_bool);
    if interactive == Some(true) {
        return Kind::InteractiveUser;
    }
    if !has_user(v)
        && (text(v, "servicePrincipalId").is_some() || text(v, "servicePrincipalName").is_some())
    {
        let msi = field(v, "managedServiceIdentity")
            .and_then(|m| text(m, "msiType"))
            .is_some_and(|t| !t.eq_ignore_ascii_case("none"));
        return if msi {
            Kind::ManagedIdentity
        } else {
            Kind::ServicePrincipal
        };
    }
    // v1.0 returns interactive sign-ins only, so a user record that does not say otherwise is one.
    if interactive == Some(false) {
        Kind::NonInteractiveUser
    } else {
        Kind::InteractiveUser
    }
}

/// `status.errorCode` as a number (Graph sends an integer; some exports a numeric string).
fn error_code(v: &Value) -> Option<i64> {
    match field(field(v, "status")?, "errorCode")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn result(code: Option<i64>) -> EventResult {
    match code {
        Some(0) => EventResult::Success,
        Some(_) => EventResult::Failure,
        None => EventResult::Unknown,
    }
}

fn user_actor(v: &Value) -> Actor {
    Actor {
        kind: ActorKind::User,
        id: text(v, "userId"),
        upn: text(v, "userPrincipalName"),
        name: text(v, "userDisplayName"),
        app_id: None,
    }
}

fn app_actor(v: &Value) -> Actor {
    Actor {
        kind: ActorKind::App,
        id: text(v, "servicePrincipalId"),
        upn: None,
        name: text(v, "servicePrincipalName").or_else(|| text(v, "appDisplayName")),
        app_id: text(v, "appId"),
    }
}

fn actor(v: &Value, kind: Kind) -> Actor {
    let (user, app) = (has_user(v), has_app(v));
    match (is_user(kind), user, app) {
        (true, true, _) | (false, true, false) => user_actor(v),
        (_, _, true) => app_actor(v),
        _ => Actor::system(),
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

pub(crate) fn location(v: &Value) -> Option<Location> {
    let l = field(v, "location").filter(|l| l.is_object())?;
    let geo = field(l, "geoCoordinates").filter(|g| g.is_object());
    let (mut lat, mut lon) = (
        number(geo.and_then(|g| field(g, "latitude"))),
        number(geo.and_then(|g| field(g, "longitude"))),
    );
    if lat == Some(0.0) && lon == Some(0.0) {
        (lat, lon) = (None, None);
    }
    let loc = Location {
        city: text(l, "city"),
        state: text(l, "state"),
        country: text(l, "countryOrRegion"),
        lat,
        lon,
    };
    (loc != Location::default()).then_some(loc)
}

fn targets(v: &Value, kind: Kind) -> Vec<Target> {
    let mut out = Vec::new();
    let (id, name) = (text(v, "resourceId"), text(v, "resourceDisplayName"));
    if id.is_some() || name.is_some() {
        out.push(Target {
            kind: Some("resource".into()),
            id,
            name,
        });
    }
    let (id, name) = (text(v, "appId"), text(v, "appDisplayName"));
    if is_user(kind) && (id.is_some() || name.is_some()) {
        out.push(Target {
            kind: Some("application".into()),
            id,
            name,
        });
    }
    out
}

/// An object of the present entries only; `None` when none is.
fn compact(entries: Vec<(&str, Option<Value>)>) -> Option<Value> {
    let map: Map<String, Value> = entries
        .into_iter()
        .filter_map(|(k, val)| val.map(|val| (k.to_string(), val)))
        .collect();
    (!map.is_empty()).then_some(Value::Object(map))
}

fn string(v: &Value, key: &str) -> Option<Value> {
    text(v, key).map(Value::String)
}

fn boolean(v: &Value, key: &str) -> Option<Value> {
    field(v, key).and_then(Value::as_bool).map(Value::Bool)
}

/// The non-sentinel strings of an array field; `None` when there are none.
fn strings(v: &Value, key: &str) -> Option<Value> {
    let items: Vec<Value> = field(v, key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| match x {
            Value::String(s) if !super::is_sentinel(s) => Some(Value::String(s.trim().into())),
            _ => None,
        })
        .collect();
    (!items.is_empty()).then_some(Value::Array(items))
}

fn device(v: &Value) -> Option<Value> {
    let d = field(v, "deviceDetail").filter(|d| d.is_object())?;
    compact(vec![
        ("id", string(d, "deviceId")),
        ("name", string(d, "displayName")),
        ("os", string(d, "operatingSystem")),
        ("browser", string(d, "browser")),
        ("is_compliant", boolean(d, "isCompliant")),
        ("is_managed", boolean(d, "isManaged")),
        ("trust_type", string(d, "trustType")),
    ])
}

/// Conditional Access policies that took part: those whose result is not a kind of "not
/// applied" (`notApplied`, `notEnabled`, `reportOnlyNotApplied`), as `{name, result}`.
fn applied_policies(v: &Value) -> Option<Value> {
    let skip = ["notapplied", "notenabled", "reportonlynotapplied"];
    let items: Vec<Value> = field(v, "appliedConditionalAccessPolicies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let result = text(p, "result");
            if result
                .as_deref()
                .is_some_and(|r| skip.contains(&r.to_ascii_lowercase().as_str()))
            {
                return None;
            }
            let name = text(p, "displayName").or_else(|| text(p, "id"));
            Some(json!({"name": name, "result": result}))
        })
        .collect();
    (!items.is_empty()).then_some(Value::Array(items))
}

/// The steps of beta's `authenticationDetails`, compacted.
fn auth_steps(v: &Value) -> Vec<Value> {
    field(v, "authenticationDetails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| {
            compact(vec![
                ("method", string(s, "authenticationMethod")),
                ("detail", string(s, "authenticationMethodDetail")),
                ("succeeded", boolean(s, "succeeded")),
                ("result_detail", string(s, "authenticationStepResultDetail")),
            ])
        })
        .collect()
}

/// The second factor: `mfaDetail` when the record has one; else, for a sign-in that required
/// MFA, the last successful step of `authenticationDetails` that is not the password.
fn mfa(v: &Value, steps: &[Value]) -> Option<Value> {
    if let Some(m) = field(v, "mfaDetail").filter(|m| m.is_object())
        && let Some(m) = compact(vec![
            ("auth_method", string(m, "authMethod")),
            ("auth_detail", string(m, "authDetail")),
        ])
    {
        return Some(m);
    }
    let required = text(v, "authenticationRequirement")
        .is_some_and(|r| r.eq_ignore_ascii_case("multiFactorAuthentication"));
    if !required {
        return None;
    }
    let step = steps.iter().rev().find(|s| {
        s["succeeded"] == Value::Bool(true)
            && field(s, "method")
                .and_then(Value::as_str)
                .is_some_and(|m| !m.eq_ignore_ascii_case("Password"))
    })?;
    compact(vec![
        ("auth_method", field(step, "method").cloned()),
        ("auth_detail", field(step, "detail").cloned()),
    ])
}

fn risk(v: &Value) -> Option<Value> {
    compact(vec![
        ("level_aggregated", string(v, "riskLevelAggregated")),
        ("level_during_sign_in", string(v, "riskLevelDuringSignIn")),
        ("state", string(v, "riskState")),
        ("detail", string(v, "riskDetail")),
        (
            "event_types",
            strings(v, "riskEventTypes_v2").or_else(|| strings(v, "riskEventTypes")),
        ),
    ])
}

fn details(v: &Value, kind: Kind, code: Option<i64>) -> Map<String, Value> {
    let status = field(v, "status").filter(|s| s.is_object());
    let steps = auth_steps(v);
    let failed = code.is_some_and(|c| c != 0);
    let entries = vec![
        ("sign_in_kind", Some(Value::String(kind.name().into()))),
        ("app_display_name", string(v, "appDisplayName")),
        ("app_id", string(v, "appId")),
        ("client_app_used", string(v, "clientAppUsed")),
        ("device", device(v)),
        ("status_code", code.map(Value::from)),
        (
            "failure_reason",
            status
                .filter(|_| failed)
                .and_then(|s| string(s, "failureReason")),
        ),
        (
            "status_additional_details",
            status.and_then(|s| string(s, "additionalDetails")),
        ),
        (
            "conditional_access_status",
            string(v, "conditionalAccessStatus"),
        ),
        ("applied_ca_policies", applied_policies(v)),
        ("mfa", mfa(v, &steps)),
        (
            "auth_steps",
            (!steps.is_empty()).then(|| Value::Array(steps.clone())),
        ),
        ("risk", risk(v)),
        ("is_interactive", boolean(v, "isInteractive")),
        (
            "authentication_requirement",
            string(v, "authenticationRequirement"),
        ),
        (
            "authentication_protocol",
            string(v, "authenticationProtocol"),
        ),
        ("incoming_token_type", string(v, "incomingTokenType")),
        (
            "unique_token_identifier",
            string(v, "uniqueTokenIdentifier"),
        ),
        ("correlation_id", string(v, "correlationId")),
        ("sign_in_event_types", strings(v, "signInEventTypes")),
        ("token_issuer_type", string(v, "tokenIssuerType")),
        (
            "cross_tenant_access_type",
            string(v, "crossTenantAccessType"),
        ),
        ("resource_tenant_id", string(v, "resourceTenantId")),
        ("home_tenant_id", string(v, "homeTenantId")),
        ("user_type", string(v, "userType")),
        (
            "managed_identity_type",
            field(v, "managedServiceIdentity").and_then(|m| string(m, "msiType")),
        ),
        (
            "autonomous_system_number",
            field(v, "autonomousSystemNumber")
                .filter(|n| n.is_number())
                .cloned(),
        ),
    ];
    match compact(entries) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
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
    let record_id = text(v, "id");
    let dedupe_key = dedupe_key(record_id.as_deref(), v);
    let kind = kind(v, ctx.stream);
    let code = error_code(v);
    let result = result(code);
    let result_reason = match code {
        Some(c) if c != 0 => Some(
            match field(v, "status").and_then(|s| text(s, "failureReason")) {
                Some(reason) => format!("{reason} (error {c})"),
                None => format!("error {c}"),
            },
        ),
        _ => None,
    };

    Ok(AuditEvent {
        id: keys::event_id(Source::EntraSignIns, time, &dedupe_key),
        record_id,
        source: Source::EntraSignIns,
        stream: Some(
            ctx.stream
                .map_or_else(|| kind.name().to_string(), str::to_string),
        ),
        tenant_id: ctx.tenant_id.to_string(),
        time,
        service: Some(text(v, "resourceDisplayName").unwrap_or_else(|| "Entra ID".into())),
        category: Some(format!("SignIn/{}", kind.name())),
        operation: operation(kind).to_string(),
        result,
        result_reason,
        actor: actor(v, kind),
        targets: targets(v, kind),
        client_ip: text(v, "ipAddress"),
        user_agent: text(v, "userAgent"),
        location: location(v),
        details: details(v, kind, code),
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

    fn ctx(stream: Option<&'static str>) -> Context<'static> {
        Context {
            tenant_id: "t",
            stream,
            ingested_at: Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
        }
    }

    // Written for this project in the shape of a Graph v1.0 signIn (interactive, MFA interrupt).
    const INTERACTIVE: &str = r#"{
        "id": "4e1f0c2a-7a61-4d0e-9b1c-2f3a4b5c6d01",
        "createdDateTime": "2024-05-20T07:41:12.8812345Z",
        "userDisplayName": "Mira Moreau",
        "userPrincipalName": "mira@northwind.example",
        "userId": "6f2e1d0c-1111-4a2b-8c3d-4e5f6a7b8c01",
        "appId": "89bee1f7-5e6e-4d8a-9f3d-ecd601259da7",
        "appDisplayName": "Office365 Shell WCSS-Client",
        "ipAddress": "198.51.100.44",
        "clientAppUsed": "Browser",
        "correlationId": "0c9d8e7f-2222-4b3c-8d4e-5f6a7b8c9d02",
        "conditionalAccessStatus": "failure",
        "isInteractive": true,
        "riskDetail": "hidden",
        "riskLevelAggregated": "hidden",
        "riskLevelDuringSignIn": "hidden",
        "riskState": "none",
        "riskEventTypes": [],
        "riskEventTypes_v2": [],
        "resourceDisplayName": "Office 365 SharePoint Online",
        "resourceId": "00000003-0000-0ff1-ce00-000000000000",
        "resourceTenantId": "b7a6c5d4-3333-4c4d-8e5f-6a7b8c9d0e03",
        "homeTenantId": "b7a6c5d4-3333-4c4d-8e5f-6a7b8c9d0e03",
        "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4)",
        "status": {"errorCode": 50074, "failureReason": "Strong Authentication is required.", "additionalDetails": "The user is required to complete MFA."},
        "deviceDetail": {"deviceId": "", "displayName": null, "operatingSystem": "MacOs", "browser": "Safari 17.4", "isCompliant": false, "isManaged": false, "trustType": null},
        "location": {"city": "Lyon", "state": "Auvergne-Rhone-Alpes", "countryOrRegion": "FR",
                     "geoCoordinates": {"altitude": null, "latitude": 45.764, "longitude": 4.8357}},
        "appliedConditionalAccessPolicies": [
            {"id": "a1", "displayName": "Require MFA for all users", "enforcedGrantControls": ["Mfa"], "enforcedSessionControls": [], "result": "failure"},
            {"id": "a2", "displayName": "Block legacy authentication", "enforcedGrantControls": ["Block"], "enforcedSessionControls": [], "result": "notApplied"},
            {"id": "a3", "displayName": "Pilot: compliant devices", "enforcedGrantControls": [], "enforcedSessionControls": [], "result": "notEnabled"},
            {"id": "a4", "displayName": null, "enforcedGrantControls": [], "enforcedSessionControls": [], "result": "reportOnlyFailure"}
        ],
        "someFutureField": {"nested": true}
    }"#;

    #[test]
    fn interactive_mfa_interrupt_is_a_failure_with_everything_analysts_hunt_on() {
        let v: Value = serde_json::from_str(INTERACTIVE).unwrap();
        let e = normalize(&v, ctx(None)).unwrap();
        assert_eq!(
            e.id,
            "entra-sign-ins:20240520T074112Z-4e1f0c2a-7a61-4d0e-9b1c-2f3a4b5c6d01"
        );
        assert_eq!(fmt_time(e.time), "2024-05-20T07:41:12.881Z");
        assert_eq!(
            e.stream.as_deref(),
            Some("interactiveUser"),
            "kind read from the record"
        );
        assert_eq!(e.category.as_deref(), Some("SignIn/interactiveUser"));
        assert_eq!(e.operation, "Sign-in");
        assert_eq!(e.service.as_deref(), Some("Office 365 SharePoint Online"));
        assert_eq!(
            e.result,
            EventResult::Failure,
            "an MFA interrupt is a failed attempt"
        );
        assert_eq!(
            e.result_reason.as_deref(),
            Some("Strong Authentication is required. (error 50074)")
        );
        assert_eq!(e.actor.kind, ActorKind::User);
        assert_eq!(
            e.actor.id.as_deref(),
            Some("6f2e1d0c-1111-4a2b-8c3d-4e5f6a7b8c01")
        );
        assert_eq!(e.actor.upn.as_deref(), Some("mira@northwind.example"));
        assert_eq!(e.actor.name.as_deref(), Some("Mira Moreau"));
        assert_eq!(e.actor.app_id, None);
        assert_eq!(e.client_ip.as_deref(), Some("198.51.100.44"));
        assert_eq!(
            e.user_agent.as_deref(),
            Some("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4)")
        );
        let loc = e.location.unwrap();
        assert_eq!(loc.city.as_deref(), Some("Lyon"));
        assert_eq!(loc.state.as_deref(), Some("Auvergne-Rhone-Alpes"));
        assert_eq!(loc.country.as_deref(), Some("FR"));
        assert_eq!((loc.lat, loc.lon), (Some(45.764), Some(4.8357)));
        assert_eq!(e.targets.len(), 2);
        assert_eq!(e.targets[0].kind.as_deref(), Some("resource"));
        assert_eq!(
            e.targets[0].id.as_deref(),
            Some("00000003-0000-0ff1-ce00-000000000000")
        );
        assert_eq!(
            e.targets[0].name.as_deref(),
            Some("Office 365 SharePoint Online")
        );
        assert_eq!(e.targets[1].kind.as_deref(), Some("application"));
        assert_eq!(
            e.targets[1].name.as_deref(),
            Some("Office365 Shell WCSS-Client")
        );

        let d = &e.details;
        assert_eq!(d["app_display_name"], "Office365 Shell WCSS-Client");
        assert_eq!(d["app_id"], "89bee1f7-5e6e-4d8a-9f3d-ecd601259da7");
        assert_eq!(d["client_app_used"], "Browser");
        assert_eq!(
            d["device"],
            json!({"os": "MacOs", "browser": "Safari 17.4", "is_compliant": false, "is_managed": false}),
            "empty and null device fields are left out"
        );
        assert_eq!(d["status_code"], 50074);
        assert_eq!(d["failure_reason"], "Strong Authentication is required.");
        assert_eq!(
            d["status_additional_details"],
            "The user is required to complete MFA."
        );
        assert_eq!(d["conditional_access_status"], "failure");
        assert_eq!(
            d["applied_ca_policies"],
            json!([
                {"name": "Require MFA for all users", "result": "failure"},
                {"name": "a4", "result": "reportOnlyFailure"}
            ]),
            "policies that did not apply are left out; a nameless one is named by its id"
        );
        assert_eq!(
            d["risk"],
            json!({"level_aggregated": "hidden", "level_during_sign_in": "hidden", "state": "none", "detail": "hidden"}),
            "`hidden` is kept as given; empty event types are absent"
        );
        assert_eq!(d["is_interactive"], true);
        assert_eq!(d["correlation_id"], "0c9d8e7f-2222-4b3c-8d4e-5f6a7b8c9d02");
        assert_eq!(
            d["resource_tenant_id"],
            "b7a6c5d4-3333-4c4d-8e5f-6a7b8c9d0e03"
        );
        assert_eq!(d["home_tenant_id"], "b7a6c5d4-3333-4c4d-8e5f-6a7b8c9d0e03");
        assert!(!d.contains_key("mfa"));
        assert!(
            !d.contains_key("someFutureField"),
            "unknown fields are ignored"
        );
    }

    #[test]
    fn success_keeps_no_failure_reason_and_the_stream_wins() {
        let mut v: Value = serde_json::from_str(INTERACTIVE).unwrap();
        v["status"] = json!({"errorCode": 0, "failureReason": "Other.", "additionalDetails": "MFA requirement satisfied by claim in the token"});
        v["isInteractive"] = json!(false);
        v["riskEventTypes_v2"] = json!(["unfamiliarFeatures", "<null>"]);
        v["riskEventTypes"] = json!(["unlikelyTravel"]);
        let e = normalize(&v, ctx(Some("nonInteractiveUser"))).unwrap();
        assert_eq!(e.result, EventResult::Success);
        assert_eq!(e.result_reason, None, "`Other.` on a success is noise");
        assert!(!e.details.contains_key("failure_reason"));
        assert_eq!(e.details["status_code"], 0);
        assert_eq!(
            e.details["status_additional_details"],
            "MFA requirement satisfied by claim in the token"
        );
        assert_eq!(e.stream.as_deref(), Some("nonInteractiveUser"));
        assert_eq!(e.category.as_deref(), Some("SignIn/nonInteractiveUser"));
        assert_eq!(e.operation, "Sign-in");
        assert_eq!(
            e.details["risk"]["event_types"],
            json!(["unfamiliarFeatures"]),
            "v2 names are preferred; sentinels dropped"
        );

        v["status"] = json!({"errorCode": "0"});
        assert_eq!(
            normalize(&v, ctx(None)).unwrap().result,
            EventResult::Success
        );
        v["status"] = json!({"failureReason": null});
        let e = normalize(&v, ctx(None)).unwrap();
        assert_eq!(e.result, EventResult::Unknown, "no code, no verdict");
        assert_eq!(e.result_reason, None);
        v.as_object_mut().unwrap().remove("status");
        assert_eq!(
            normalize(&v, ctx(None)).unwrap().result,
            EventResult::Unknown
        );
    }

    #[test]
    fn a_failure_without_a_reason_names_the_code() {
        let v = json!({"id": "x", "createdDateTime": "2024-05-20T07:41:12Z", "userId": "u1",
                       "status": {"errorCode": 50126, "failureReason": "<null>"}});
        let e = normalize(&v, ctx(None)).unwrap();
        assert_eq!(e.result, EventResult::Failure);
        assert_eq!(e.result_reason.as_deref(), Some("error 50126"));
        assert_eq!(
            e.service.as_deref(),
            Some("Entra ID"),
            "no resource: the generic service"
        );
        assert_eq!(e.targets, vec![]);
        assert_eq!(e.location, None);
        assert_eq!(e.stream.as_deref(), Some("interactiveUser"), "v1.0 default");
    }

    // Written for this project in the shape of a Graph beta servicePrincipal signIn.
    fn service_principal() -> Value {
        json!({
            "id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c03",
            "createdDateTime": "2024-05-20T09:00:00.5Z",
            "userDisplayName": "", "userPrincipalName": "", "userId": "",
            "appId": "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b04",
            "appDisplayName": "Nightly Export Job",
            "servicePrincipalId": "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2905",
            "servicePrincipalName": "nightly-export",
            "ipAddress": "203.0.113.90",
            "signInEventTypes": ["servicePrincipal"],
            "isInteractive": false,
            "resourceDisplayName": "Microsoft Graph",
            "resourceId": "00000003-0000-0000-c000-000000000000",
            "status": {"errorCode": 7000215, "failureReason": "Invalid client secret provided."},
            "location": {"city": "", "state": "", "countryOrRegion": "",
                         "geoCoordinates": {"latitude": 0.0, "longitude": 0.0}},
            "tokenIssuerType": "AzureAD",
            "crossTenantAccessType": "none",
            "authenticationProtocol": "none",
            "autonomousSystemNumber": 64500,
            "managedServiceIdentity": {"msiType": "none"}
        })
    }

    #[test]
    fn service_principal_sign_ins_have_an_app_actor_and_no_app_target() {
        let e = normalize(&service_principal(), ctx(None)).unwrap();
        assert_eq!(e.stream.as_deref(), Some("servicePrincipal"));
        assert_eq!(e.category.as_deref(), Some("SignIn/servicePrincipal"));
        assert_eq!(e.operation, "Service principal sign-in");
        assert_eq!(e.service.as_deref(), Some("Microsoft Graph"));
        assert_eq!(e.actor.kind, ActorKind::App);
        assert_eq!(
            e.actor.id.as_deref(),
            Some("7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2905")
        );
        assert_eq!(
            e.actor.app_id.as_deref(),
            Some("3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b04")
        );
        assert_eq!(e.actor.name.as_deref(), Some("nightly-export"));
        assert_eq!(e.actor.upn, None);
        assert_eq!(e.result, EventResult::Failure);
        assert_eq!(
            e.result_reason.as_deref(),
            Some("Invalid client secret provided. (error 7000215)")
        );
        assert_eq!(e.targets.len(), 1);
        assert_eq!(e.targets[0].kind.as_deref(), Some("resource"));
        assert_eq!(
            e.location, None,
            "empty names and (0, 0) are not a location"
        );
        assert_eq!(
            e.details["sign_in_event_types"],
            json!(["servicePrincipal"])
        );
        assert_eq!(e.details["token_issuer_type"], "AzureAD");
        assert_eq!(e.details["cross_tenant_access_type"], "none");
        assert_eq!(e.details["autonomous_system_number"], 64500);
        assert_eq!(e.details["is_interactive"], false);
    }

    #[test]
    fn the_kind_is_inferred_when_there_is_no_stream() {
        // Managed identity: no event types, but beta's managedServiceIdentity says so.
        let mut v = service_principal();
        v.as_object_mut().unwrap().remove("signInEventTypes");
        v["managedServiceIdentity"] = json!({"msiType": "systemAssigned"});
        v["servicePrincipalName"] = Value::Null;
        let e = normalize(&v, ctx(None)).unwrap();
        assert_eq!(e.stream.as_deref(), Some("managedIdentity"));
        assert_eq!(e.operation, "Managed identity sign-in");
        assert_eq!(e.actor.kind, ActorKind::App);
        assert_eq!(
            e.actor.name.as_deref(),
            Some("Nightly Export Job"),
            "falls back to appDisplayName"
        );

        v["managedServiceIdentity"] = json!({"msiType": "none"});
        assert_eq!(
            normalize(&v, ctx(None)).unwrap().stream.as_deref(),
            Some("servicePrincipal")
        );

        // The pipeline's stream decides, in any spelling.
        let e = normalize(&v, ctx(Some("managed-identity"))).unwrap();
        assert_eq!(e.category.as_deref(), Some("SignIn/managedIdentity"));
        assert_eq!(
            e.stream.as_deref(),
            Some("managed-identity"),
            "the stream is kept as given"
        );

        // A non-interactive user sign-in from beta without event types.
        let u = json!({"id": "n1", "createdDateTime": "2024-05-20T09:00:00Z", "userId": "u1",
                       "userPrincipalName": "u1@northwind.example", "isInteractive": false,
                       "appId": "a1", "status": {"errorCode": 0}});
        let e = normalize(&u, ctx(None)).unwrap();
        assert_eq!(e.stream.as_deref(), Some("nonInteractiveUser"));
        assert_eq!(e.actor.kind, ActorKind::User);
        assert_eq!(e.targets.len(), 1, "the app, no resource");
        assert_eq!(e.targets[0].kind.as_deref(), Some("application"));
    }

    #[test]
    fn actors_fall_back_when_the_expected_identity_is_missing() {
        // A user stream whose record has only the app.
        let v = json!({"id": "x", "createdDateTime": "2024-05-20T09:00:00Z", "appId": "a1",
                       "servicePrincipalId": "sp1"});
        let e = normalize(&v, ctx(Some("interactiveUser"))).unwrap();
        assert_eq!(e.actor.kind, ActorKind::App);
        assert_eq!(e.actor.id.as_deref(), Some("sp1"));
        // Nobody at all.
        let v = json!({"id": "x", "createdDateTime": "2024-05-20T09:00:00Z", "userId": "<null>"});
        assert_eq!(
            normalize(&v, ctx(None)).unwrap().actor.kind,
            ActorKind::System
        );
        let v = json!({"id": "x", "createdDateTime": "2024-05-20T09:00:00Z", "userId": "u9"});
        let e = normalize(&v, ctx(Some("servicePrincipal"))).unwrap();
        assert_eq!(
            e.actor.kind,
            ActorKind::User,
            "a user is better than nobody"
        );
    }

    #[test]
    fn beta_authentication_details_give_the_second_factor() {
        let mut v: Value = serde_json::from_str(INTERACTIVE).unwrap();
        v["status"] = json!({"errorCode": 0});
        v["authenticationRequirement"] = json!("multiFactorAuthentication");
        v["authenticationDetails"] = json!([
            {"authenticationStepDateTime": "2024-05-20T07:41:10Z", "authenticationMethod": "Password",
             "authenticationMethodDetail": "Password in the cloud", "succeeded": true,
             "authenticationStepResultDetail": "Correct password"},
            {"authenticationStepDateTime": "2024-05-20T07:41:12Z", "authenticationMethod": "Mobile app notification",
             "authenticationMethodDetail": null, "succeeded": true,
             "authenticationStepResultDetail": "MFA successfully completed"}
        ]);
        let e = normalize(&v, ctx(None)).unwrap();
        assert_eq!(
            e.details["mfa"],
            json!({"auth_method": "Mobile app notification"})
        );
        assert_eq!(
            e.details["authentication_requirement"],
            "multiFactorAuthentication"
        );
        assert_eq!(e.details["auth_steps"][0]["method"], "Password");
        assert_eq!(
            e.details["auth_steps"][1]["result_detail"],
            "MFA successfully completed"
        );

        // mfaDetail, when present, is the answer.
        v["mfaDetail"] = json!({"authMethod": "PhoneAppOTP", "authDetail": "+X XXXXXXXX12"});
        let e = normalize(&v, ctx(None)).unwrap();
        assert_eq!(
            e.details["mfa"],
            json!({"auth_method": "PhoneAppOTP", "auth_detail": "+X XXXXXXXX12"})
        );

        // Single factor: no mfa.
        v.as_object_mut().unwrap().remove("mfaDetail");
        v["authenticationRequirement"] = json!("singleFactorAuthentication");
        assert!(
            !normalize(&v, ctx(None))
                .unwrap()
                .details
                .contains_key("mfa")
        );
    }

    #[test]
    fn records_without_a_time_are_refused_and_ids_are_optional() {
        let no_time = json!({"id": "x", "userId": "u"});
        assert_eq!(
            normalize(&no_time, ctx(None)).unwrap_err(),
            NormalizeError::Missing("createdDateTime")
        );
        let null_time = json!({"id": "x", "createdDateTime": null});
        assert_eq!(
            normalize(&null_time, ctx(None)).unwrap_err(),
            NormalizeError::Missing("createdDateTime")
        );
        let bad = json!({"id": "x", "createdDateTime": "soon"});
        assert_eq!(
            normalize(&bad, ctx(None)).unwrap_err(),
            NormalizeError::BadTime {
                field: "createdDateTime",
                value: "soon".into()
            }
        );
        assert_eq!(
            normalize(&json!("x"), ctx(None)).unwrap_err(),
            NormalizeError::NotAnObject
        );

        let no_id = json!({"createdDateTime": "2024-05-20T09:00:00+02:00", "userId": "u"});
        let e = normalize(&no_id, ctx(None)).unwrap();
        assert_eq!(e.record_id, None);
        assert!(e.dedupe_key.starts_with("h-"));
        assert_eq!(fmt_time(e.time), "2024-05-20T07:00:00.000Z");
    }
}
