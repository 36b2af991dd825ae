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
//! Graph's camelCase rows, and the rows users hold from PowerShell's `Get-MessageTraceV2`
//! (`ConvertTo-Json`) and the retired Reporting Web Service (`Received`, `SenderAddress`,
//! `MessageTraceId`, ...): keys are matched ignoring case, the time is `receivedDateTime` or
//! `Received`, and a row without Graph's `id` is named by `MessageTraceId` and the recipient.

use serde_json::{Map, Value};

use super::{Context, NormalizeError, dedupe_key, field, text};
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
    // Graph's `receivedDateTime`, or `Received` of Get-MessageTraceV2 and the Reporting Web
    // Service (keys are matched ignoring case, so `SenderAddress` reads as `senderAddress`).
    let (time_field, raw_time) = ["receivedDateTime", "Received"]
        .iter()
        .find_map(|f| text(v, f).map(|t| (*f, t)))
        .ok_or(NormalizeError::Missing("receivedDateTime (or Received)"))?;
    // PowerShell's Export-Csv writes a DateTime in the session's culture; en-US
    // (`3/4/2026 9:15:27 AM`) is read too, as UTC, which Get-MessageTraceV2's times are.
    let time = parse_time(&raw_time)
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(raw_time.trim(), "%m/%d/%Y %I:%M:%S %p")
                .ok()
                .map(|t| t.and_utc())
        })
        .ok_or(NormalizeError::BadTime {
            field: time_field,
            value: raw_time,
        })?;
    // PowerShell and Reporting Web Service rows have no row id: a row is one message to one
    // recipient, so the message trace id and the recipient together name it.
    let record_id = text(v, "id").or_else(|| {
        Some(format!(
            "{}:{}",
            text(v, "MessageTraceId")?,
            text(v, "RecipientAddress")?.to_ascii_lowercase()
        ))
    });
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
        match field(v, "size") {
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
        id: keys::event_id(Source::ExchangeMessageTrace, time, &dedupe_key),
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
            "exchange-message-trace:20240522T162031Z-6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"
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
    fn powershell_and_reporting_web_service_rows_normalize_like_graphs() {
        // Get-MessageTraceV2 | ConvertTo-Json, with PowerShell's `@data.type` sidecar keys.
        let v2 = json!({"MessageTraceId": "m1", "Received@data.type": "System.DateTime",
                        "Received": "2024-05-22T16:20:31.1234567Z",
                        "SenderAddress": "a@b.example", "RecipientAddress": "C@D.example",
                        "Status": "FilteredAsSpam", "FromIP": "203.0.113.9", "ToIP": "",
                        "Subject": "hi", "Size@data.type": "System.Int32", "Size": 321,
                        "MessageId": "<x@y>"});
        let e = normalize(&v2, ctx()).unwrap();
        assert_eq!(fmt_time(e.time), "2024-05-22T16:20:31.123Z");
        assert_eq!(e.record_id.as_deref(), Some("m1:c@d.example"));
        assert_eq!(e.actor.upn.as_deref(), Some("a@b.example"));
        assert_eq!(e.targets[0].name.as_deref(), Some("C@D.example"));
        assert_eq!(e.result, EventResult::Failure);
        assert_eq!(e.result_reason.as_deref(), Some("FilteredAsSpam"));
        assert_eq!(e.client_ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(e.details["size"], 321);
        assert_eq!(e.details["message_id"], "<x@y>");
        assert!(!e.details.contains_key("to_ip"), "an empty ToIP is absent");
        // The Reporting Web Service's row: a zone-less time, read as UTC.
        let rws = json!({"MessageTraceId": "m2", "Received": "2022-09-05T18:10:13.4907658",
                         "RecipientAddress": "r@x.example", "SenderAddress": "s@x.example",
                         "Status": "Delivered", "Index": 0, "Organization": "x.example"});
        let e = normalize(&rws, ctx()).unwrap();
        assert_eq!(fmt_time(e.time), "2022-09-05T18:10:13.490Z");
        assert_eq!(e.result, EventResult::Success);
        // The same row to another recipient is another event.
        let mut other = rws.clone();
        other["RecipientAddress"] = json!("q@x.example");
        assert_ne!(normalize(&other, ctx()).unwrap().id, e.id);
    }

    #[test]
    fn rows_without_any_time_are_refused() {
        let no_time = json!({"MessageTraceId": "m1", "SenderAddress": "a@b.example"});
        assert_eq!(
            normalize(&no_time, ctx()).unwrap_err(),
            NormalizeError::Missing("receivedDateTime (or Received)")
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
