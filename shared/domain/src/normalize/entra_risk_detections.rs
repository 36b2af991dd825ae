//! Entra ID Protection risk detections (Graph `riskDetection` under
//! `identityProtection/riskDetections`) to [`AuditEvent`]: the detection's type is the
//! operation, the user at risk the actor, and whether the risk still stands the result.
//!
//! Mapping decisions:
//! - `time` is `detectedDateTime`, the property the collection is windowed on (the risky
//!   activity's own `activityDateTime`, often minutes or days earlier for offline detections, is
//!   kept in `details`): a pull, an import and a backfill of one detection then agree on its key.
//! - `operation` is `riskEventType` (`unfamiliarFeatures`, `passwordSpray`, ...); a detection
//!   without one is refused. `service` is `Identity Protection`, `category` the `activity` the
//!   risk is linked to (`signin` or `user`).
//! - `result` says whether the risk stands, since the contract's result is closed: `atRisk` and
//!   `confirmedCompromised` are failure, `remediated`, `dismissed` and `confirmedSafe` success,
//!   anything else (`none`, `hidden` without a P2 licence) unknown. `result_reason` is
//!   `<riskState>, risk <riskLevel>` so the level is visible where results are listed; both are
//!   also `details.risk_state` and `details.risk_level`, with `risk_detail`.
//! - The actor is the user (`userId`, `userPrincipalName`, `userDisplayName`), else `system`;
//!   the detection has no target. `client_ip` is `ipAddress`, `location` as for sign-ins, and
//!   `user_agent` the `userAgent` entry of `additionalInfo` (a JSON string of `{Key, Value}`
//!   pairs), whose entries are all kept in `details.additional_info`.
//!
//! A detection's `riskState` and `lastUpdatedDateTime` change after it is detected (a user
//! remediates, an admin dismisses); windows on `detectedDateTime` collect each detection once, in
//! the state it had when its window was pulled (ARCHITECTURE.md, "Sources").

use serde_json::{Map, Value};

use super::{Context, NormalizeError, dedupe_key, field, text, text_any};
use crate::model::{Actor, ActorKind, AuditEvent, EventResult, Source, parse_time};
use crate::store::keys;

/// Whether the risk stands, from `riskState`.
fn result_of_state(state: Option<&str>) -> EventResult {
    match state.map(str::to_ascii_lowercase).as_deref() {
        Some("atrisk" | "confirmedcompromised") => EventResult::Failure,
        Some("remediated" | "dismissed" | "confirmedsafe") => EventResult::Success,
        _ => EventResult::Unknown,
    }
}

/// `additionalInfo`: a JSON string holding `[{"Key": k, "Value": v}, ...]` (or, in exports, the
/// array itself), as a map; values that are not strings are kept as JSON.
fn additional_info(v: &Value) -> Map<String, Value> {
    let parsed;
    let items = match field(v, "additionalInfo") {
        Some(Value::String(s)) => {
            parsed = serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
            &parsed
        }
        Some(other) => other,
        None => return Map::new(),
    };
    let mut out = Map::new();
    for item in items.as_array().into_iter().flatten() {
        if let Some(key) = text_any(item, &["Key", "key"]) {
            let value = field(item, "Value").cloned().unwrap_or(Value::Null);
            out.insert(key, value);
        }
    }
    out
}

pub fn normalize(v: &Value, ctx: Context<'_>) -> Result<AuditEvent, NormalizeError> {
    if !v.is_object() {
        return Err(NormalizeError::NotAnObject);
    }
    let raw_time =
        text(v, "detectedDateTime").ok_or(NormalizeError::Missing("detectedDateTime"))?;
    let time = parse_time(&raw_time).ok_or(NormalizeError::BadTime {
        field: "detectedDateTime",
        value: raw_time,
    })?;
    let operation = text(v, "riskEventType").ok_or(NormalizeError::Missing("riskEventType"))?;
    let record_id = text(v, "id");
    let dedupe_key = dedupe_key(record_id.as_deref(), v);

    let (id, upn, name) = (
        text(v, "userId"),
        text(v, "userPrincipalName"),
        text(v, "userDisplayName"),
    );
    let actor = if id.is_some() || upn.is_some() || name.is_some() {
        Actor {
            kind: ActorKind::User,
            id,
            upn,
            name,
            app_id: None,
        }
    } else {
        Actor::system()
    };

    let (state, level) = (text(v, "riskState"), text(v, "riskLevel"));
    let result = result_of_state(state.as_deref());
    let result_reason = match (&state, &level) {
        (Some(s), Some(l)) => Some(format!("{s}, risk {l}")),
        (Some(s), None) => Some(s.clone()),
        (None, Some(l)) => Some(format!("risk {l}")),
        (None, None) => None,
    };

    let info = additional_info(v);
    let user_agent = info
        .get("userAgent")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !super::is_sentinel(s))
        .map(str::to_string);
    let mut details = Map::new();
    let mut put = |k: &str, val: Option<String>| {
        if let Some(val) = val {
            details.insert(k.to_string(), Value::String(val));
        }
    };
    put("risk_state", state);
    put("risk_level", level);
    put("risk_detail", text(v, "riskDetail"));
    put("detection_timing_type", text(v, "detectionTimingType"));
    put("detection_source", text(v, "source"));
    put("token_issuer_type", text(v, "tokenIssuerType"));
    put("request_id", text(v, "requestId"));
    put("correlation_id", text(v, "correlationId"));
    put("activity_date_time", text(v, "activityDateTime"));
    put("last_updated_date_time", text(v, "lastUpdatedDateTime"));
    if !info.is_empty() {
        details.insert("additional_info".into(), Value::Object(info));
    }

    Ok(AuditEvent {
        id: keys::event_id(Source::EntraRiskDetections, time, &dedupe_key),
        record_id,
        source: Source::EntraRiskDetections,
        stream: ctx.stream.map(str::to_string),
        tenant_id: ctx.tenant_id.to_string(),
        time,
        service: Some("Identity Protection".into()),
        category: text(v, "activity"),
        operation,
        result,
        result_reason,
        actor,
        targets: Vec::new(),
        client_ip: text(v, "ipAddress"),
        user_agent,
        location: super::entra_sign_ins::location(v),
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
    use serde_json::json;

    fn ctx() -> Context<'static> {
        Context {
            tenant_id: "t",
            stream: None,
            ingested_at: Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
        }
    }

    // Written for this project in the shape of Graph's v1.0 riskDetection: every property
    // present, `additionalInfo` a JSON string of key/value pairs.
    const SIGN_IN_RISK: &str = r#"{
        "id": "5d2c9a0e4f1b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d",
        "requestId": "0f5e6d7c-8b9a-4a1b-9c2d-3e4f5a6b7c8d",
        "correlationId": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        "riskEventType": "unfamiliarFeatures",
        "riskState": "atRisk",
        "riskLevel": "medium",
        "riskDetail": "none",
        "source": "IdentityProtection",
        "detectionTimingType": "realtime",
        "activity": "signin",
        "tokenIssuerType": "AzureAD",
        "ipAddress": "203.0.113.77",
        "location": {"city": "Lagos", "state": "Lagos", "countryOrRegion": "NG",
                     "geoCoordinates": {"altitude": null, "latitude": 6.45, "longitude": 3.39}},
        "activityDateTime": "2024-05-21T13:04:10.1234567Z",
        "detectedDateTime": "2024-05-21T13:05:44.5551234Z",
        "lastUpdatedDateTime": "2024-05-21T13:07:02.0000000Z",
        "userId": "4d5e6f70-8192-43a4-b5c6-d7e8f90a1b23",
        "userDisplayName": "Ines Moreau",
        "userPrincipalName": "ines@northwind.example",
        "additionalInfo": "[{\"Key\":\"userAgent\",\"Value\":\"Mozilla/5.0 (X11; Linux x86_64)\"},{\"Key\":\"riskReasons\",\"Value\":[\"UnfamiliarASN\",\"UnfamiliarLocation\"]}]"
    }"#;

    #[test]
    fn a_sign_in_risk_with_its_user_ip_location_and_state() {
        let v: Value = serde_json::from_str(SIGN_IN_RISK).unwrap();
        let e = normalize(&v, ctx()).unwrap();
        assert_eq!(
            e.id,
            "entra-risk-detections:20240521T130544Z-5d2c9a0e4f1b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d"
        );
        assert_eq!(
            fmt_time(e.time),
            "2024-05-21T13:05:44.555Z",
            "detectedDateTime is the time"
        );
        assert_eq!(e.operation, "unfamiliarFeatures");
        assert_eq!(e.service.as_deref(), Some("Identity Protection"));
        assert_eq!(e.category.as_deref(), Some("signin"));
        assert_eq!(e.result, EventResult::Failure, "the risk stands");
        assert_eq!(e.result_reason.as_deref(), Some("atRisk, risk medium"));
        assert_eq!(e.actor.kind, ActorKind::User);
        assert_eq!(e.actor.upn.as_deref(), Some("ines@northwind.example"));
        assert_eq!(
            e.actor.id.as_deref(),
            Some("4d5e6f70-8192-43a4-b5c6-d7e8f90a1b23")
        );
        assert_eq!(e.actor.name.as_deref(), Some("Ines Moreau"));
        assert_eq!(e.targets, vec![]);
        assert_eq!(e.client_ip.as_deref(), Some("203.0.113.77"));
        assert_eq!(
            e.user_agent.as_deref(),
            Some("Mozilla/5.0 (X11; Linux x86_64)")
        );
        let loc = e.location.clone().unwrap();
        assert_eq!(loc.country.as_deref(), Some("NG"));
        assert_eq!(loc.lat, Some(6.45));
        let d = &e.details;
        assert_eq!(d["risk_level"], "medium");
        assert_eq!(d["risk_state"], "atRisk");
        assert_eq!(d["risk_detail"], "none");
        assert_eq!(d["detection_timing_type"], "realtime");
        assert_eq!(d["detection_source"], "IdentityProtection");
        assert_eq!(d["request_id"], "0f5e6d7c-8b9a-4a1b-9c2d-3e4f5a6b7c8d");
        assert_eq!(d["activity_date_time"], "2024-05-21T13:04:10.1234567Z");
        assert_eq!(
            d["additional_info"]["riskReasons"],
            json!(["UnfamiliarASN", "UnfamiliarLocation"])
        );
    }

    #[test]
    fn risk_states_read_as_whether_the_risk_stands() {
        let v: Value = serde_json::from_str(SIGN_IN_RISK).unwrap();
        for (state, want) in [
            ("confirmedCompromised", EventResult::Failure),
            ("remediated", EventResult::Success),
            ("dismissed", EventResult::Success),
            ("confirmedSafe", EventResult::Success),
            ("none", EventResult::Unknown),
            ("hidden", EventResult::Unknown),
        ] {
            let mut r = v.clone();
            r["riskState"] = json!(state);
            let e = normalize(&r, ctx()).unwrap();
            assert_eq!(e.result, want, "{state}");
            assert_eq!(
                e.result_reason.as_deref(),
                Some(format!("{state}, risk medium").as_str())
            );
        }
        let mut r = v.clone();
        r["riskState"] = Value::Null;
        r["riskLevel"] = json!("high");
        let e = normalize(&r, ctx()).unwrap();
        assert_eq!(e.result, EventResult::Unknown);
        assert_eq!(e.result_reason.as_deref(), Some("risk high"));
    }

    #[test]
    fn an_offline_user_risk_without_ip_location_or_user_agent() {
        let v = json!({
            "id": "a1", "riskEventType": "leakedCredentials", "riskState": "remediated",
            "riskLevel": "high", "riskDetail": "userPerformedSecuredPasswordChange",
            "source": "IdentityProtection", "detectionTimingType": "offline", "activity": "user",
            "tokenIssuerType": "AzureAD", "ipAddress": null, "location": null,
            "requestId": null, "correlationId": null,
            "activityDateTime": "2024-05-19T02:00:00Z", "detectedDateTime": "2024-05-21T13:05:44Z",
            "lastUpdatedDateTime": "2024-05-22T08:00:00Z",
            "userId": "u1", "userDisplayName": "Bob", "userPrincipalName": "bob@contoso.com",
            "additionalInfo": "[]"
        });
        let e = normalize(&v, ctx()).unwrap();
        assert_eq!(e.operation, "leakedCredentials");
        assert_eq!(e.category.as_deref(), Some("user"));
        assert_eq!(e.result, EventResult::Success);
        assert_eq!(e.client_ip, None);
        assert_eq!(e.location, None);
        assert_eq!(e.user_agent, None);
        assert!(!e.details.contains_key("additional_info"));
        assert!(!e.details.contains_key("request_id"));
        assert_eq!(
            e.details["risk_detail"],
            "userPerformedSecuredPasswordChange"
        );

        let mut anonymous = v.clone();
        for k in ["userId", "userDisplayName", "userPrincipalName"] {
            anonymous[k] = Value::Null;
        }
        assert_eq!(
            normalize(&anonymous, ctx()).unwrap().actor.kind,
            ActorKind::System
        );
    }

    #[test]
    fn detections_without_a_detected_time_or_type_are_refused() {
        let v: Value = serde_json::from_str(SIGN_IN_RISK).unwrap();
        let mut r = v.clone();
        r["detectedDateTime"] = Value::Null;
        assert_eq!(
            normalize(&r, ctx()).unwrap_err(),
            NormalizeError::Missing("detectedDateTime")
        );
        r["detectedDateTime"] = json!("yesterday");
        assert!(matches!(
            normalize(&r, ctx()).unwrap_err(),
            NormalizeError::BadTime {
                field: "detectedDateTime",
                ..
            }
        ));
        let mut r = v.clone();
        r["riskEventType"] = json!("");
        assert_eq!(
            normalize(&r, ctx()).unwrap_err(),
            NormalizeError::Missing("riskEventType")
        );
        assert_eq!(
            normalize(&json!([]), ctx()).unwrap_err(),
            NormalizeError::NotAnObject
        );
    }
}
