//! The forwarder: new events that pass the filters, with their raw records, as NDJSON (signed)
//! or Splunk HEC (token), in requests of the configured size, each event once over a
//! redelivered batch; a failing collector reports the batch back from the request that failed.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Arc;

use delivery::forward::ForwardApp;
use domain::config::{ForwardConfig, ForwardFormat};
use domain::model::{AuditEvent, RawRef, Source};
use domain::normalize::Context;
use domain::store::RawStore;
use secrecy::SecretString;
use serde_json::{Value, json};
use testkit::clock::ManualClock;
use testkit::memory::MemoryRawStore;
use testkit::memory_deliveries::MemoryDeliveries;
use testkit::receiver::Receiver;

use crate::support::{batch, event_record, local, sender};

const RAW_KEY: &str = "raw/source=entra-sign-ins/2026/12/01/10/run.json.gz";

/// Sign-ins `n` of `records`, stored by reference to line `n + 1` of [`RAW_KEY`].
fn sign_ins(records: &[Value]) -> Vec<AuditEvent> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let raw = serde_json::value::to_raw_value(r).unwrap();
            let ctx = Context {
                tenant_id: "t",
                stream: Some("interactiveUser"),
                ingested_at: "2026-12-01T10:05:00Z".parse().unwrap(),
            };
            let mut e = domain::normalize::normalize(Source::EntraSignIns, &raw, ctx).unwrap();
            e.raw = None;
            e.raw_ref = Some(RawRef {
                key: RAW_KEY.into(),
                line: i as u64 + 1,
            });
            e
        })
        .collect()
}

fn raw_records() -> Vec<Value> {
    (0..5)
        .map(|i| {
            json!({
                "id": format!("00000000-0000-0000-0000-00000000000{i}"),
                "createdDateTime": format!("2026-12-01T09:0{i}:00Z"),
                "userPrincipalName": format!("user{i}@contoso.com"), "userId": format!("u{i}"),
                "appDisplayName": "Office", "ipAddress": "203.0.113.9",
                "status": {"errorCode": if i == 2 { 50126 } else { 0 }}
            })
        })
        .collect()
}

async fn raw_store(records: &[Value]) -> Arc<MemoryRawStore> {
    let raw = Arc::new(MemoryRawStore::default());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for r in records {
        writeln!(gz, "{r}").unwrap();
    }
    raw.put(RAW_KEY, gz.finish().unwrap()).await.unwrap();
    raw
}

fn config(rx: &Receiver, format: ForwardFormat, batch: usize) -> ForwardConfig {
    ForwardConfig {
        bucket: "lake".into(),
        alerts_table: "alerts".into(),
        url: rx.url("/services/collector"),
        format,
        secret_param: "/auditlake/forward".into(),
        sources: Vec::new(),
        operations: Vec::new(),
        batch,
        outbound: local(rx),
    }
}

fn app(
    config: ForwardConfig,
    raw: Arc<MemoryRawStore>,
    log: Arc<MemoryDeliveries>,
    rx: &Receiver,
) -> ForwardApp {
    ForwardApp::new(
        config,
        SecretString::from("hec-token-for-tests"),
        raw,
        log,
        sender(local(rx)),
        Arc::new(ManualClock::new("2026-12-01T10:06:00Z".parse().unwrap())),
    )
}

fn lines(rx: &Receiver) -> Vec<Value> {
    rx.received()
        .iter()
        .flat_map(|r| {
            String::from_utf8(r.body.clone())
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn ndjson_carries_each_new_event_with_its_raw_record_once() {
    let rx = Receiver::start().await;
    let records = raw_records();
    let events = sign_ins(&records);
    let log = Arc::new(MemoryDeliveries::default());
    let app = app(
        config(&rx, ForwardFormat::Ndjson, 2),
        raw_store(&records).await,
        log.clone(),
        &rx,
    );
    let stream = batch(
        events
            .iter()
            .enumerate()
            .map(|(i, e)| event_record(i as u64 + 1, e))
            .collect(),
    );
    let (resp, report) = app.handle(&stream).await;
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(
        (report.events, report.forwarded, report.requests),
        (5, 5, 3)
    );
    let got = rx.received();
    assert_eq!(got.len(), 3, "batches of at most 2");
    for r in &got {
        assert_eq!(r.content_type.as_deref(), Some("application/x-ndjson"));
        let sig = r.signature.as_deref().unwrap();
        let t: i64 = sig[2..sig.find(',').unwrap()].parse().unwrap();
        assert_eq!(
            sig,
            domain::destination::signature(b"hec-token-for-tests", t, &r.body)
        );
    }
    let docs = lines(&rx);
    let ids: Vec<&str> = docs.iter().map(|d| d["id"].as_str().unwrap()).collect();
    let want: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, want, "in stream order, each once");
    assert_eq!(docs[2]["raw"], records[2], "the raw record travels inline");
    assert!(docs[2].get("raw_ref").is_none());
    // A redelivery of the same batch: every request already went out.
    let (_, again) = app.handle(&stream).await;
    assert_eq!((again.forwarded, again.already_delivered), (0, 3));
    assert_eq!(rx.received().len(), 3);
}

#[tokio::test]
async fn splunk_hec_events_carry_the_token_and_the_filters_apply() {
    let rx = Receiver::start().await;
    let records = raw_records();
    let events = sign_ins(&records);
    let mut c = config(&rx, ForwardFormat::SplunkHec, 500);
    c.sources = vec![Source::EntraSignIns];
    let log = Arc::new(MemoryDeliveries::default());
    let app = app(c, raw_store(&records).await, log, &rx);
    let stream = batch(
        events
            .iter()
            .enumerate()
            .map(|(i, e)| event_record(i as u64 + 1, e))
            .collect(),
    );
    app.handle(&stream).await;
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].authorization.as_deref(),
        Some("Splunk hec-token-for-tests")
    );
    assert!(got[0].signature.is_none());
    let hec = lines(&rx);
    assert_eq!(hec.len(), 5);
    assert_eq!(hec[0]["sourcetype"], "auditlake:event");
    assert_eq!(hec[0]["source"], "auditlake:entra-sign-ins");
    assert_eq!(hec[0]["event"]["id"], events[0].id);
    assert!(hec[0]["time"].as_f64().unwrap() > 1.7e9);

    // Another source only: nothing passes.
    let rx2 = Receiver::start().await;
    let mut c = config(&rx2, ForwardFormat::Ndjson, 500);
    c.sources = vec![Source::IntuneAudit];
    let (_, report) = self::app(
        c,
        raw_store(&records).await,
        Arc::new(MemoryDeliveries::default()),
        &rx2,
    )
    .handle(&stream)
    .await;
    assert_eq!((report.events, report.filtered_out), (0, 5));
    assert_eq!(rx2.attempts(), 0);
}

#[tokio::test]
async fn a_failing_collector_reports_the_batch_back_from_the_failed_request() {
    let rx = Receiver::start().await;
    let records = raw_records();
    let events = sign_ins(&records);
    let log = Arc::new(MemoryDeliveries::default());
    let app = app(
        config(&rx, ForwardFormat::Ndjson, 2),
        raw_store(&records).await,
        log.clone(),
        &rx,
    );
    let stream = batch(
        events
            .iter()
            .enumerate()
            .map(|(i, e)| event_record(i as u64 + 1, e))
            .collect(),
    );
    // The first request goes through, the second fails every try (3).
    app.handle(&batch(vec![])).await;
    let first_ok = app
        .handle(&batch(vec![
            event_record(1, &events[0]),
            event_record(2, &events[1]),
        ]))
        .await;
    assert!(first_ok.0.batch_item_failures.is_empty());
    rx.fail_next(3);
    let (resp, report) = app.handle(&stream).await;
    assert_eq!(
        report.already_delivered, 1,
        "the first two events' request went out before"
    );
    assert_eq!(
        resp.batch_item_failures.len(),
        3,
        "from the failed request's first event (the third record) on"
    );
    assert_eq!(
        resp.batch_item_failures[0].item_identifier,
        format!("{:021}", 3)
    );
    let (resp, _) = app.handle(&stream).await;
    assert!(resp.batch_item_failures.is_empty());
    let ids: BTreeSet<String> = lines(&rx)
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 5);
    assert_eq!(lines(&rx).len(), 5, "each event reached the collector once");
    let h = log.health(&domain::delivery::Channel::Forward).unwrap();
    assert_eq!((h.failed, h.consecutive_failures), (1, 0));
}
