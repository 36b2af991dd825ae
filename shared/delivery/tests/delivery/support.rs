//! Shared pieces: a sender that may reach the receiver, stream records of alert and event items.

use base64::Engine as _;
use delivery::webhook::{Retry, Sender};
use domain::config::Outbound;
use domain::destination::Allowlist;
use serde_json::{Value, json};
use std::time::Duration;
use testkit::receiver::{Receiver, ca_file};

/// Fast retries for tests.
pub fn quick() -> Retry {
    Retry {
        tries: 3,
        first_delay: Duration::from_millis(20),
        timeout: Duration::from_secs(5),
    }
}

/// How a local stack reaches the receiver: listed, loopback allowed, its CA trusted.
pub fn local(rx: &Receiver) -> Outbound {
    Outbound {
        allowlist: Allowlist::parse(&rx.allow_entry()).unwrap(),
        allow_loopback: true,
        ca_file: Some(ca_file().display().to_string()),
    }
}

pub fn sender(outbound: Outbound) -> Sender {
    Sender::new(outbound, quick()).unwrap()
}

/// The alert JSON as the alerts table stores it.
pub fn alert(id: &str, severity: &str) -> Value {
    json!({
        "id": id, "rule_id": "inbox-rule-forwards", "title": "Inbox rule forwards mail",
        "severity": severity, "techniques": ["T1114.003"], "event_id": format!("ev-{id}"),
        "record_id": null, "event_ids": [format!("ev-{id}")], "status": "open", "assignee": null,
        "created_at": "2026-12-01T10:00:00Z",
        "summary": {"actor": "mallory@contoso.com", "operation": "New-InboxRule",
                    "targets": ["<script>alert(1)</script>"], "source": "m365-activity",
                    "time": "2026-12-01T09:59:00Z"}
    })
}

/// A stream record of an item with `image`.
pub fn record(seq: u64, image: Value) -> Value {
    json!({
        "eventID": format!("e{seq}"), "eventName": "INSERT", "eventSource": "aws:dynamodb",
        "dynamodb": {"SequenceNumber": format!("{seq:021}"), "NewImage": image,
                     "StreamViewType": "NEW_IMAGE"}
    })
}

/// A stream record of an alert item.
pub fn alert_record(seq: u64, alert: &Value) -> Value {
    record(
        seq,
        json!({
            "pk": {"S": format!("alert#{}", alert["id"].as_str().unwrap())},
            "sk": {"S": "alert"},
            "doc": {"S": alert.to_string()},
        }),
    )
}

/// A stream record of an event item carrying `event`'s stored document.
pub fn event_record(seq: u64, event: &domain::model::AuditEvent) -> Value {
    let (pk, sk) = aws::items::event_key(event);
    let doc = aws::codec::encode(event).unwrap();
    record(
        seq,
        json!({
            "pk": {"S": pk}, "sk": {"S": sk},
            "d": {"B": base64::engine::general_purpose::STANDARD.encode(doc)},
        }),
    )
}

pub fn batch(records: Vec<Value>) -> Value {
    json!({ "Records": records })
}
