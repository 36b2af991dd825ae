//! The detection path end to end against moto (issue 15): a real pull of a whole simulated day of
//! every source the simulator plants attacks in (directory audits, sign-ins, Intune, the
//! Management Activity API), and an import of every raising case of `infra/detections/cases/`,
//! into the events table; the event items then reach the detection app as the events table's
//! stream would deliver them (INSERT records of NEW_IMAGE, in batches of 100, with the items'
//! own keys and documents), through an alert store that fails every third write (the batch is
//! redelivered from the failed record, as Lambda's partial batch response makes the stream do).
//!
//! The alerts stored must be exactly: one per attack of the simulator's truth
//! (`/_sim/truth/attacks`: its rule, on one of its records, the trigger record for a single-record
//! scenario), the cases' expected alerts, and nothing else: the benign baseline raises nothing.
//! A replay of every batch must store nothing new. Then every stored alert goes through the
//! notifier to the SNS topic and a webhook under failures and a replay: one delivery id per alert
//! at the webhook, every alert at the topic. One known gap is pinned: the ROPC and
//! device-code rules read beta-only sign-in fields, and the collector reads interactive sign-ins
//! from v1.0, so their planted scenarios raise nothing yet ([`V1_BLIND`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use alerting::DetectionApp;
use aws::alerts::{DynamoAlertStore, DynamoWindowStore};
use base64::Engine as _;
use collector::import::{Target, import_reader};
use domain::alert::{Alert, AlertStore};
use domain::store::StoreError;

use super::*;

use e2e::detections::V1_BLIND;

async fn scan(db: &aws_sdk_dynamodb::Client, table: &str) -> Vec<aws::items::Item> {
    e2e::scan_table(db, table).await
}

/// The stream records of the events table's event items (and of one counter, which the app must
/// pass over), ordered as the stream orders each partition: by sort key.
fn stream_records(items: &[aws::items::Item]) -> Vec<serde_json::Value> {
    let mut keyed: Vec<(String, String, Option<Vec<u8>>)> = items
        .iter()
        .filter_map(|i| {
            let pk = i["pk"].as_s().ok()?.clone();
            let sk = i["sk"].as_s().ok()?.clone();
            let doc = i
                .get(aws::items::DOC)
                .and_then(|d| d.as_b().ok())
                .map(|b| b.as_ref().to_vec());
            Some((pk, sk, doc))
        })
        .collect();
    keyed.sort();
    let counter = keyed
        .iter()
        .position(|(pk, _, doc)| doc.is_none() && pk.starts_with("agg#"));
    keyed
        .iter()
        .enumerate()
        .filter(|(i, (_, _, doc))| doc.is_some() || Some(*i) == counter)
        .map(|(i, (pk, sk, doc))| {
            let mut image = json!({"pk": {"S": pk}, "sk": {"S": sk}});
            if let Some(d) = doc {
                image["d"] = json!({"B": base64::engine::general_purpose::STANDARD.encode(d)});
            }
            json!({
                "eventID": format!("e{i}"),
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "dynamodb": {
                    "Keys": {"pk": {"S": pk}, "sk": {"S": sk}},
                    "NewImage": image,
                    "SequenceNumber": format!("{:021}", i + 1),
                    "StreamViewType": "NEW_IMAGE"
                }
            })
        })
        .collect()
}

/// An alert store that fails every `every`-th put (a throttled or unreachable table).
struct Flaky {
    inner: DynamoAlertStore,
    every: usize,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl AlertStore for Flaky {
    async fn put_new(
        &self,
        alert: &Alert,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) % self.every == self.every - 1 {
            return Err(StoreError::backend(
                "PutItem",
                "alerts",
                "throttled (planted)",
            ));
        }
        self.inner.put_new(alert, at).await
    }
}

/// Runs `records` through `app` in batches of 100, redelivering from the first failure until
/// every batch succeeds; returns (new alerts, redeliveries).
async fn deliver(app: &DetectionApp, records: &[serde_json::Value]) -> (usize, usize) {
    let (mut new, mut redeliveries) = (0, 0);
    for chunk in records.chunks(100) {
        let mut pending: Vec<serde_json::Value> = chunk.to_vec();
        loop {
            let (response, report) = app.handle(&json!({"Records": pending})).await;
            new += report.alerts_new;
            if response.batch_item_failures.is_empty() {
                break;
            }
            redeliveries += 1;
            assert!(redeliveries < 10_000, "the batch never succeeds");
            let failed: Vec<String> = response
                .batch_item_failures
                .iter()
                .map(|f| f.item_identifier.clone())
                .collect();
            pending.retain(|r| {
                failed.contains(&r["dynamodb"]["SequenceNumber"].as_str().unwrap().to_owned())
            });
        }
    }
    (new, redeliveries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_planted_attack_raises_its_alert_once_under_failures_and_replays() {
    // A day that ends just before midnight: one day of history holds every planted scenario of
    // it (each starts before 20:00). Hourly blobs keep the Management API's objects few.
    let env = env(
        SimConfig {
            seed: 15,
            days: 1,
            events_per_hour: 5,
            now: Some(
                chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 7, 17, 23, 30, 0).unwrap(),
            ),
            mgmt_blob_interval_secs: 3600,
            ..SimConfig::default()
        },
        &[("AUDITLAKE_INITIAL_LOOKBACK_DAYS", "1")],
        None,
    )
    .await;
    // The simulated day: a real pull of every source with planted attacks.
    for source in [
        Source::EntraDirectoryAudits,
        Source::EntraSignIns,
        Source::IntuneAudit,
        Source::M365Activity,
    ] {
        let app = PullerApp::new(source, &env.config, env.ports.clone()).expect("puller");
        for s in app
            .handle(&scheduled_event(), Deadline::none())
            .await
            .unwrap()
        {
            assert!(s.complete && s.error.is_none(), "{source}: {s:?}");
        }
    }
    let attacks = env.ctl.attacks(env.clock.now()).await.unwrap();
    let rules: std::collections::BTreeSet<&str> = attacks
        .iter()
        .filter_map(|a| a["rule_id"].as_str())
        .collect();
    assert_eq!(
        rules.len(),
        21,
        "the day holds every alerting rule: {rules:?}"
    );

    // The planted attacks: every case that raises something, imported as an operator would.
    let sdk = e2e::local_sdk_config(&env._moto.endpoint).await;
    let names = StackNames::default();
    let (raw, events) = aws::lake_stores(&sdk, &names.bucket, &names.events_table, 4);
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    let mut planted: std::collections::BTreeSet<String> = Default::default();
    let cases = e2e::repo_root().join("infra/detections/cases");
    let mut files: Vec<_> = std::fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let file = detect::cases::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut ndjson = String::new();
        for case in file.cases.iter().filter(|c| !c.raise.is_empty()) {
            for r in case.expand(file.source).unwrap() {
                let id = r.get("id").or_else(|| r.get("Id")).and_then(|v| v.as_str());
                planted.insert(id.expect("a case record has an id").to_owned());
                ndjson.push_str(&format!("{r}\n"));
            }
            for id in &case.raise {
                *expected.entry(id.clone()).or_default() += 1;
            }
        }
        let target = Target {
            tenant_id: "00000000-0000-4000-8000-000000000001",
            source: file.source,
            raw: &raw,
            events: &events,
            clock: env.clock.as_ref(),
            hot_retention: chrono::TimeDelta::days(30),
        };
        let summary = import_reader(
            &target,
            std::io::Cursor::new(ndjson.into_bytes()),
            path.display().to_string(),
            &mut |_| {},
            &mut |p, r| panic!("{p}: {r}"),
        )
        .await
        .unwrap();
        assert_eq!(summary.quarantined, 0, "{}", path.display());
    }

    let db = aws_sdk_dynamodb::Client::new(&sdk);
    let records = stream_records(&scan(&db, &names.events_table).await);
    assert!(
        records.len() > 1000,
        "only {} stream records",
        records.len()
    );

    let detector = detect::Detector::new(&detect::pack::builtin().unwrap());
    let longest = chrono::Duration::hours(1);
    let alerts = DynamoAlertStore::new(db.clone(), names.alerts_table.clone(), 90);
    let app = DetectionApp::new(
        detector,
        Arc::new(raw),
        Arc::new(Flaky {
            inner: alerts,
            every: 3,
            calls: AtomicUsize::new(0),
        }),
        Arc::new(DynamoWindowStore::new(
            db.clone(),
            names.alerts_table.clone(),
            longest,
        )),
        env.clock.clone(),
    );
    let (new, redeliveries) = deliver(&app, &records).await;
    assert!(redeliveries > 0, "the flaky store never failed");

    let stored: Vec<serde_json::Value> = scan(&db, &names.alerts_table)
        .await
        .iter()
        .filter(|i| i["pk"].as_s().unwrap().starts_with("alert#"))
        .map(|i| serde_json::from_str(i["doc"].as_s().unwrap()).unwrap())
        .collect();
    // Which attack of the truth each record belongs to.
    let mut attack_of: BTreeMap<String, usize> = BTreeMap::new();
    for (i, a) in attacks.iter().enumerate() {
        for id in a["record_ids"].as_array().unwrap() {
            attack_of.insert(id.as_str().unwrap().to_owned(), i);
        }
    }
    let mut raised: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_attack = vec![0usize; attacks.len()];
    let mut others = Vec::new();
    let mut per_event = std::collections::BTreeSet::new();
    for a in &stored {
        let rule = a["rule_id"].as_str().unwrap().to_owned();
        let record = a["record_id"].as_str().unwrap_or_default();
        assert!(
            per_event.insert((rule.clone(), a["event_id"].as_str().unwrap().to_owned())),
            "two alerts of one rule for one event: {a}"
        );
        assert_eq!(a["status"], "open");
        if planted.contains(record) {
            *raised.entry(rule).or_default() += 1;
        } else if let Some(&i) = attack_of.get(record)
            && attacks[i]["rule_id"] == rule.as_str()
        {
            per_attack[i] += 1;
            if attacks[i]["threshold"].is_null() {
                assert_eq!(attacks[i]["trigger_record_id"], record, "{a}");
            }
        } else {
            others.push(format!("{rule} on {record}"));
        }
    }
    assert_eq!(
        raised, expected,
        "planted alerts stored (left) against the cases (right)"
    );
    for (a, n) in attacks.iter().zip(&per_attack) {
        // A known gap, pinned so that closing it fails here: the collector reads interactive
        // sign-ins from Graph v1.0, which has no `authenticationProtocol` or
        // `authenticationRequirement` (beta only), and those two rules read nothing else.
        let want = usize::from(!V1_BLIND.contains(&a["rule_id"].as_str().unwrap_or_default()));
        assert_eq!(*n, want, "{} raised {n} alerts: {a}", a["id"]);
    }
    assert!(
        others.is_empty(),
        "alerts on the benign baseline: {others:?}"
    );
    assert_eq!(
        new,
        stored.len(),
        "each alert was stored by exactly one put"
    );

    // A replay of everything (the stream redelivering every batch): nothing new.
    let replay = DetectionApp::new(
        detect::Detector::new(&detect::pack::builtin().unwrap()),
        Arc::new(aws::lake_stores(&sdk, &names.bucket, &names.events_table, 4).0),
        Arc::new(DynamoAlertStore::new(
            db.clone(),
            names.alerts_table.clone(),
            90,
        )),
        Arc::new(DynamoWindowStore::new(
            db.clone(),
            names.alerts_table.clone(),
            longest,
        )),
        env.clock.clone(),
    );
    let (again, _) = deliver(&replay, &records).await;
    assert_eq!(again, 0, "a replay stored new alerts");

    // Notifications: every stored alert through the notifier to the alert topic (moto, posting
    // to an HTTP subscriber) and a webhook over HTTPS, while the webhook answers 503 to its first
    // five requests and every fourth marker write fails (a crash after a send), then a replay of
    // the alerts stream. Each alert reaches the webhook under exactly one delivery id (a repeat
    // carries the same id and body), and the topic once per alert but for marker failures.
    let marks = Arc::new(FlakyMarks {
        inner: aws::deliveries::DynamoDeliveries::new(db.clone(), names.alerts_table.clone(), 30),
        every: 4,
        calls: AtomicUsize::new(0),
    });
    let mut notifier = e2e::notifications::LocalNotifier::start(
        &sdk,
        &names,
        env.clock.clone(),
        Some(marks.clone()),
    )
    .await
    .unwrap();
    notifier.webhook.fail_next(5);
    let pass = notifier.pass().await.unwrap();
    assert_eq!(pass.alerts, stored.len());
    assert!(
        pass.redeliveries > 0,
        "neither fault made a batch come again"
    );
    assert!(
        marks.calls.load(Ordering::SeqCst) >= 4,
        "no marker write failed"
    );
    let channel = domain::delivery::Channel::Webhook(e2e::notifications::WEBHOOK.into());
    let want: BTreeMap<String, String> = stored
        .iter()
        .map(|a| {
            let id = a["id"].as_str().unwrap().to_owned();
            (domain::delivery::delivery_id(&channel, &id), id)
        })
        .collect();
    let got = notifier.webhook_deliveries();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "one delivery id per stored alert, and no other"
    );
    for (delivery, bodies) in &got {
        assert!(
            bodies.iter().all(|b| b == &bodies[0]),
            "{delivery}: a repeat differs"
        );
        assert_eq!(bodies[0]["id"].as_str(), Some(want[delivery].as_str()));
        assert_eq!(bodies[0]["status"], "open");
    }
    assert!(
        notifier.signatures_valid(),
        "a webhook request is not signed with the key"
    );
    let mut per_alert: BTreeMap<String, usize> = BTreeMap::new();
    for m in notifier.topic_messages() {
        *per_alert
            .entry(m["id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(
        per_alert.keys().collect::<Vec<_>>(),
        want.values()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>(),
        "the topic got every stored alert and no other"
    );
    let received = notifier.webhook.received().len();
    let published = notifier.subscriber.received().len();
    notifier.rewind();
    let replay = notifier.pass().await.unwrap();
    assert_eq!(
        replay.delivered, 0,
        "a replay of the alerts stream sent again"
    );
    assert_eq!(notifier.webhook.received().len(), received);
    assert_eq!(notifier.subscriber.received().len(), published);
}

/// Delivery markers that fail every `every`-th write (the notifier crashing after a send).
struct FlakyMarks {
    inner: aws::deliveries::DynamoDeliveries,
    every: usize,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl domain::delivery::DeliveryLog for FlakyMarks {
    async fn delivered(&self, id: &str) -> Result<bool, StoreError> {
        self.inner.delivered(id).await
    }
    async fn mark_delivered(
        &self,
        id: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) % self.every == self.every - 1 {
            return Err(StoreError::backend(
                "PutItem",
                "alerts",
                "throttled (planted)",
            ));
        }
        self.inner.mark_delivered(id, at).await
    }
    async fn record(
        &self,
        channel: &domain::delivery::Channel,
        outcome: &domain::delivery::Outcome,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        self.inner.record(channel, outcome, at).await
    }
}
