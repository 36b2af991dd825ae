//! The notifier: each alert once per channel (topic and webhooks), the delivery id stable over
//! retries, nothing sent again on a redelivered batch, a failing webhook stopping the batch at its
//! alert, a crash between a send and its marker repeating only the same delivery id.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use delivery::notify::{NotifyApp, Topic};
use domain::alert::Severity;
use domain::config::Webhook;
use domain::delivery::{Channel, delivery_id};
use secrecy::SecretString;
use serde_json::Value;
use testkit::clock::ManualClock;
use testkit::memory_deliveries::MemoryDeliveries;
use testkit::receiver::Receiver;

use crate::support::{alert, alert_record, batch, local, record, sender};

#[derive(Default)]
struct RecordingTopic {
    published: Mutex<Vec<(String, Value)>>,
}

#[async_trait]
impl Topic for RecordingTopic {
    async fn publish(&self, alert: &Value, subject: &str) -> Result<(), String> {
        self.published
            .lock()
            .unwrap()
            .push((subject.to_owned(), alert.clone()));
        Ok(())
    }
}

const SECRET: &str = "webhook-secret-for-tests";

struct Setup {
    rx: Receiver,
    topic: Arc<RecordingTopic>,
    log: Arc<MemoryDeliveries>,
    app: NotifyApp,
}

async fn setup() -> Setup {
    let rx = Receiver::start().await;
    let topic = Arc::new(RecordingTopic::default());
    let log = Arc::new(MemoryDeliveries::default());
    let clock = Arc::new(ManualClock::new("2026-12-01T10:00:00Z".parse().unwrap()));
    let app = NotifyApp::new(
        vec![Webhook {
            name: "soc".into(),
            url: rx.url("/alerts"),
        }],
        Some(SecretString::from(SECRET)),
        Some(topic.clone() as Arc<dyn Topic>),
        log.clone(),
        sender(local(&rx)),
        Severity::Low,
        clock,
    );
    Setup {
        rx,
        topic,
        log,
        app,
    }
}

/// Deliveries per delivery id at the receiver.
fn by_delivery(rx: &Receiver) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in rx.received() {
        *out.entry(r.delivery.unwrap()).or_default() += 1;
    }
    out
}

fn alerts_batch() -> Value {
    batch(vec![
        alert_record(1, &alert("al-1", "high")),
        // A comment item on the same table: not an alert.
        record(
            2,
            serde_json::json!({"pk": {"S": "acomment#al-1"}, "sk": {"S": "c1"}, "doc": {"S": "{}"}}),
        ),
        alert_record(3, &alert("al-2", "informational")),
        alert_record(4, &alert("al-3", "critical")),
    ])
}

#[tokio::test]
async fn each_alert_goes_to_each_channel_once_signed() {
    let s = setup().await;
    let (resp, report) = s.app.handle(&alerts_batch()).await;
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(report.alerts, 3);
    assert_eq!(report.below_severity, 1, "informational is below `low`");
    assert_eq!(report.delivered, 4, "two alerts, two channels");
    let got = s.rx.received();
    assert_eq!(got.len(), 2);
    let ids: BTreeSet<String> = got
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids, BTreeSet::from(["al-1".to_owned(), "al-3".to_owned()]));
    for r in &got {
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let want = delivery_id(
            &Channel::Webhook("soc".into()),
            body["id"].as_str().unwrap(),
        );
        assert_eq!(r.delivery.as_deref(), Some(want.as_str()));
        // The receiver's check: t and v1 over "<t>.<body>" with the shared secret.
        let sig = r.signature.as_deref().unwrap();
        let t: i64 = sig
            .strip_prefix("t=")
            .and_then(|rest| rest.split(',').next())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            sig,
            domain::destination::signature(SECRET.as_bytes(), t, &r.body)
        );
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        // Record values travel as JSON strings, untouched.
        assert_eq!(body["summary"]["targets"][0], "<script>alert(1)</script>");
    }
    let published = s.topic.published.lock().unwrap().clone();
    assert_eq!(published.len(), 2);
    assert_eq!(
        published[0].0,
        "auditlake high alert: Inbox rule forwards mail"
    );
    let h = s.log.health(&Channel::Webhook("soc".into())).unwrap();
    assert_eq!((h.delivered, h.failed, h.consecutive_failures), (2, 0, 0));
}

#[tokio::test]
async fn a_redelivered_batch_sends_nothing_again() {
    let s = setup().await;
    s.app.handle(&alerts_batch()).await;
    let (resp, report) = s.app.handle(&alerts_batch()).await;
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(report.delivered, 0);
    assert_eq!(report.already_delivered, 4);
    assert_eq!(s.rx.received().len(), 2);
    assert_eq!(s.topic.published.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_failing_webhook_stops_the_batch_at_its_alert_and_the_retry_completes_it() {
    let s = setup().await;
    // Every try of the first alert fails (3 tries), then the receiver recovers.
    s.rx.fail_next(3);
    let (resp, report) = s.app.handle(&alerts_batch()).await;
    assert_eq!(
        resp.batch_item_failures.len(),
        4,
        "the failed alert's record and every later one come again"
    );
    assert_eq!(
        resp.batch_item_failures[0].item_identifier,
        format!("{:021}", 1)
    );
    assert_eq!(report.failed, 4);
    let h = s.log.health(&Channel::Webhook("soc".into())).unwrap();
    assert_eq!((h.failed, h.consecutive_failures), (1, 1));
    assert!(h.last_error.unwrap().contains("status 503"));
    // The topic got the first alert already; the redelivery must not send it there again.
    assert_eq!(s.topic.published.lock().unwrap().len(), 1);
    let (resp, _) = s.app.handle(&alerts_batch()).await;
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(s.topic.published.lock().unwrap().len(), 2);
    let per_id = by_delivery(&s.rx);
    assert_eq!(per_id.len(), 2);
    assert!(per_id.values().all(|&n| n == 1), "{per_id:?}");
    assert_eq!(
        s.log
            .health(&Channel::Webhook("soc".into()))
            .unwrap()
            .consecutive_failures,
        0
    );
}

#[tokio::test]
async fn a_crash_before_the_marker_repeats_only_the_same_delivery_id() {
    let s = setup().await;
    // The first marker write fails after the topic accepted the first alert: the record comes
    // again, and the topic's delivery is repeated (no marker), under the same id.
    s.log.fail_next_marks(1);
    let (resp, _) = s.app.handle(&alerts_batch()).await;
    assert!(!resp.batch_item_failures.is_empty());
    let (resp, _) = s.app.handle(&alerts_batch()).await;
    assert!(resp.batch_item_failures.is_empty());
    let published = s.topic.published.lock().unwrap().clone();
    let ids: Vec<&str> = published
        .iter()
        .map(|(_, a)| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec!["al-1", "al-1", "al-3"],
        "one repeat, recognisable by its alert id"
    );
    let per_id = by_delivery(&s.rx);
    assert_eq!(per_id.len(), 2);
    assert!(per_id.values().all(|&n| n == 1), "{per_id:?}");
}

#[tokio::test]
async fn a_webhook_off_the_list_is_refused_and_counted_without_stopping_the_rest() {
    let rx = Receiver::start().await;
    let log = Arc::new(MemoryDeliveries::default());
    let mut out = local(&rx);
    out.allowlist = domain::destination::Allowlist::parse("hooks.example.com").unwrap();
    let app = NotifyApp::new(
        vec![Webhook {
            name: "soc".into(),
            url: rx.url("/alerts"),
        }],
        Some(SecretString::from(SECRET)),
        None,
        log.clone(),
        sender(out),
        Severity::Low,
        Arc::new(ManualClock::new("2026-12-01T10:00:00Z".parse().unwrap())),
    );
    let (resp, report) = app.handle(&alerts_batch()).await;
    assert!(
        resp.batch_item_failures.is_empty(),
        "retrying cannot help a refusal"
    );
    assert_eq!(report.refused, 2);
    assert_eq!(rx.attempts(), 0);
    let h = log.health(&Channel::Webhook("soc".into())).unwrap();
    assert_eq!(h.refused, 2);
    assert!(h.last_error.unwrap().contains("allow-list"));
}
