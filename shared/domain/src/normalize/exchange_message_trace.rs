//! Exchange Online message trace rows (Graph `exchangeMessageTrace`, one row per message and
//! recipient) to [`AuditEvent`]: the sender is the actor, the recipient the one target, the
//! sending host (`fromIP`) the client IP, and the delivery status the result.
//!
//! Mapping decisions:
//! - `service` "Exchange Online", `category` "MessageTrace", `operation` "Message trace" for every
//!   row; what happened to the message is in `result` and `details.status`.
//! - `result` answers "did the message reach the recipient's mailbox?": `delivered` and
//!   `expanded` (a distribution list was expanded into its members, who get rows of their own)
//!   are `success`; `failed`, `quarantined` and `filteredAsSpam` (rejected or blocked as spam)
//!   are `failure`, so a search for failures finds everything that did not arrive; `pending`,
//!   `gettingStatus`, `unknownFutureValue` and anything new are `unknown`. Matching ignores case.
//!   Whenever the result is not `success`, `result_reason` is the status as given, which tells
//!   a bounce from a spam filter.
//!   `partial` is not used: a row is one recipient, so delivery is never partly done.
//! - The actor is a user whose `upn` is `senderAddress` as given (the actor index lowercases
//!   it); the sender may be outside the tenant, so no id or name. No sender (a bounce's null
//!   reverse path) is `system`.
//! - `details`: `message_id`, `subject`, `size` (bytes), `to_ip`, `status` (as given),
//!   `sender_address`, `recipient_address`.
//!
//! Only Graph's camelCase rows are read. The legacy Reporting Web Service and PowerShell
//! `Get-MessageTraceV2` rows (`Received`, `SenderAddress`, ...) have no `receivedDateTime` and
//! are quarantined as such.

use serde_json::{Map, Value};

use super::{Context, NormalizeError, dedupe_key, text};
use crate::model::{Actor, ActorKind, AuditEvent, EventResult, Source, Target, parse_time};
use crate::store::keys;

fn result(status: Option<&str>) -> EventResult {
    match status.map(str::to_ascii_lowercase).as_deref() {
        Some("delivered" | "expanded") => EventResult::Success,
        Some("failed" | "quarantined" | "filteredasspam") => EventResult::Failure,
        _ => EventResult::Unknown,
    }
}

pub fn normalize(v: &Value, ctx: Context<'_>) -> Result<AuditEvent, NormalizeError> {
    if !v.is_object() {
        return Err(NormalizeError::NotAnObject);
    }
    let raw_time =
        text(v, "receivedDateTime").ok_or(NormalizeError::Missing("receivedDateTime"))?;
    let time = parse_time(&raw_time).ok_or(NormalizeError::BadTime {
        field: "receivedDateTime",
        value: raw_time,
    })?;
    let record_id = text(v, "id");
    let dedupe_key = dedupe_key(record_id.as_deref(), v);
    let sender = text(v, "senderAddress");
    let recipient = text(v, "recipientAddress");
    let status = text(v, "status");
    let result = result(status.as_deref());

    let actor = match &sender {
        Some(upn) => Actor {
            kind: ActorKind::User,
            id: None,
            upn: Some(upn.clone()),
            name: None,
            app_id: None,
        },
        None => Actor::system(),
    };
    let targets = recipient
        .iter()
        .map(|r| Target {
            kind: Some("recipient".into()),
            id: None,
            name: Some(r.clone()),
        })
        .collect();

    let mut details = Map::new();
    let mut put = |k: &str, val: Option<Value>| {
        if let Some(val) = val {
            details.insert(k.to_string(), val);
        }
    };
    put("message_id", text(v, "messageId").map(Value::String));
    put("subject", text(v, "subject").map(Value::String));
    put(
        "size",
        match v.get("size") {
            Some(n @ Value::Number(_)) => Some(n.clone()),
            Some(Value::String(s)) => s.trim().parse::<u64>().ok().map(Value::from),
            _ => None,
        },
    );
    put("to_ip", text(v, "toIP").map(Value::String));
    put("status", status.clone().map(Value::String));
    put("sender_address", sender.map(Value::String));
    put("recipient_address", recipient.map(Value::String));

    Ok(AuditEvent {
        id: keys::event_id(Source::ExchangeMessageTrace, &dedupe_key),
        record_id,
        source: Source::ExchangeMessageTrace,
        stream: ctx.stream.map(str::to_string),
        tenant_id: ctx.tenant_id.to_string(),
        time,
        service: Some("Exchange Online".into()),
        category: Some("MessageTrace".into()),
        operation: "Message trace".into(),
        result,
        result_reason: status.filter(|_| result != EventResult::Success),
        actor,
        targets,
        client_ip: text(v, "fromIP"),
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
    use serde_json::json;

    fn ctx() -> Context<'static> {
        Context {
            tenant_id: "t",
            stream: None,
            ingested_at: Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
        }
    }

    // Written for this project in the shape of a Graph exchangeMessageTrace.
    fn delivered() -> Value {
        json!({
            "id": "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d",
            "messageId": "<PH0PR11MB0001.ab12@PH0PR11MB0001.namprd11.prod.outlook.example>",
            "receivedDateTime": "2024-05-22T16:20:31.1234567Z",
            "senderAddress": "Payroll@Northwind.example",
            "recipientAddress": "kai@northwind.example",
            "subject": "Your May payslip",
            "size": 48213,
            "fromIP": "203.0.113.25",
            "toIP": "",
            "status": "delivered"
        })
    }

    #[test]
    fn a_delivered_message() {
        let e = normalize(&delivered(), ctx()).unwrap();
        assert_eq!(
            e.id,
            "exchange-message-trace:6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"
        );
        assert_eq!(fmt_time(e.time), "2024-05-22T16:20:31.123Z");
        assert_eq!(e.service.as_deref(), Some("Exchange Online"));
        assert_eq!(e.category.as_deref(), Some("MessageTrace"));
        assert_eq!(e.operation, "Message trace");
        assert_eq!(e.result, EventResult::Success);
        assert_eq!(e.result_reason, None);
        assert_eq!(e.actor.kind, ActorKind::User);
        assert_eq!(
            e.actor.upn.as_deref(),
            Some("Payroll@Northwind.example"),
            "kept as given"
        );
        assert_eq!(
            (e.actor.id.as_deref(), e.actor.name.as_deref()),
            (None, None)
        );
        assert_eq!(e.targets.len(), 1);
        assert_eq!(e.targets[0].kind.as_deref(), Some("recipient"));
        assert_eq!(e.targets[0].name.as_deref(), Some("kai@northwind.example"));
        assert_eq!(e.targets[0].id, None);
        assert_eq!(e.client_ip.as_deref(), Some("203.0.113.25"));
        let d = &e.details;
        assert_eq!(
            d["message_id"],
            "<PH0PR11MB0001.ab12@PH0PR11MB0001.namprd11.prod.outlook.example>"
        );
        assert_eq!(d["subject"], "Your May payslip");
        assert_eq!(d["size"], 48213);
        assert!(!d.contains_key("to_ip"), "an empty toIP is absent");
        assert_eq!(d["status"], "delivered");
        assert_eq!(d["sender_address"], "Payroll@Northwind.example");
        assert_eq!(d["recipient_address"], "kai@northwind.example");
    }

    #[test]
    fn statuses_map_to_results() {
        for (status, want, reason) in [
            ("delivered", EventResult::Success, None),
            ("Expanded", EventResult::Success, None),
            ("failed", EventResult::Failure, Some("failed")),
            ("quarantined", EventResult::Failure, Some("quarantined")),
            (
                "filteredAsSpam",
                EventResult::Failure,
                Some("filteredAsSpam"),
            ),
            ("pending", EventResult::Unknown, Some("pending")),
            ("gettingStatus", EventResult::Unknown, Some("gettingStatus")),
            (
                "unknownFutureValue",
                EventResult::Unknown,
                Some("unknownFutureValue"),
            ),
        ] {
            let mut v = delivered();
            v["status"] = json!(status);
            let e = normalize(&v, ctx()).unwrap();
            assert_eq!(e.result, want, "{status}");
            assert_eq!(e.result_reason.as_deref(), reason, "{status}");
            assert_eq!(e.details["status"], status);
        }
        let mut v = delivered();
        v["status"] = Value::Null;
        let e = normalize(&v, ctx()).unwrap();
        assert_eq!(e.result, EventResult::Unknown);
        assert!(!e.details.contains_key("status"));
    }

    #[test]
    fn a_bounce_without_sender_or_recipient() {
        let mut v = delivered();
        v["senderAddress"] = json!("");
        v["recipientAddress"] = json!("<null>");
        v["fromIP"] = Value::Null;
        v["toIP"] = json!("2001:db8::25");
        v["size"] = json!("1024");
        let e = normalize(&v, ctx()).unwrap();
        assert_eq!(e.actor.kind, ActorKind::System);
        assert_eq!(e.targets, vec![]);
        assert_eq!(e.client_ip, None);
        assert_eq!(e.details["to_ip"], "2001:db8::25");
        assert_eq!(
            e.details["size"], 1024,
            "a numeric string is read as a number"
        );
        assert!(!e.details.contains_key("sender_address"));
    }

    #[test]
    fn rows_without_a_graph_time_are_refused() {
        let legacy = json!({"MessageTraceId": "m1", "Received": "2024-05-22T16:20:31.1234567",
                            "SenderAddress": "a@b.example", "Status": "Delivered"});
        assert_eq!(
            normalize(&legacy, ctx()).unwrap_err(),
            NormalizeError::Missing("receivedDateTime")
        );
        let mut bad = delivered();
        bad["receivedDateTime"] = json!("22/05/2024");
        assert!(matches!(
            normalize(&bad, ctx()).unwrap_err(),
            NormalizeError::BadTime {
                field: "receivedDateTime",
                ..
            }
        ));
        assert_eq!(
            normalize(&json!(null), ctx()).unwrap_err(),
            NormalizeError::NotAnObject
        );
        let mut no_id = delivered();
        no_id.as_object_mut().unwrap().remove("id");
        let e = normalize(&no_id, ctx()).unwrap();
        assert_eq!(e.record_id, None);
        assert!(e.dedupe_key.starts_with("h-"));
    }
}
