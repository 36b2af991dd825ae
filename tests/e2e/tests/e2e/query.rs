//! The query API end to end: events written by the real DynamoDB event store into moto, the API
//! built by the same wiring as the Lambda (`query::query_app`, cursor key from SSM) and
//! served over HTTP on a local port; paging, every index path, one event with its annotations
//! surviving re-ingest, and the aggregates kept on insert.

use std::collections::BTreeSet;

use aws::DynamoEventStore;
use chrono::{TimeDelta, Utc};
use domain::config::QueryConfig;
use domain::model::{AuditEvent, Source, fmt_time};
use domain::store::{EventStore, StoredEvent};
use e2e::{Moto, StackNames, local_sdk_config, provision};
use serde_json::{Value, json};

const TENANT: &str = "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35";

fn event(n: usize) -> AuditEvent {
    let source = [Source::EntraDirectoryAudits, Source::IntuneAudit][n % 2];
    let upn = ["alice@contoso.com", "bob@contoso.com", "carol@contoso.com"][n / 2 % 3];
    let key = format!("e2e{n:05}");
    let service = ["Core Directory", "Intune"][n % 2];
    let operation = ["Add user", "Delete user", "Update policy"][n % 3];
    let result = ["success", "failure"][n / 7 % 2];
    let time = Utc::now() - TimeDelta::seconds(45 * n as i64 + 5);
    serde_json::from_value(json!({
        "id": domain::store::keys::event_id(source, time, &key), "record_id": key,
        "source": source.name(), "stream": null, "tenant_id": TENANT,
        "time": fmt_time(time),
        "service": service, "category": "c",
        "operation": operation,
        "result": result, "result_reason": null,
        "actor": {"kind": "user", "id": format!("oid-{}", n / 2 % 3), "upn": upn, "name": upn.to_uppercase(), "app_id": null},
        "targets": [], "client_ip": format!("192.0.2.{}", n % 5), "user_agent": null, "location": null,
        "details": {}, "dedupe_key": key,
        "ingested_at": fmt_time(Utc::now() - TimeDelta::minutes(1)),
        "raw": {"id": key, "activityDisplayName": "raw text"}
    }))
    .unwrap()
}

fn stored(events: &[AuditEvent]) -> Vec<StoredEvent> {
    events
        .iter()
        .map(|e| StoredEvent {
            event: e.clone(),
            expires_at: Utc::now().timestamp() + 86_400,
        })
        .collect()
}

async fn page_all(http: &reqwest::Client, base: &str, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/events?page_size=100&{query}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        assert_eq!(r.headers()["x-auditlake-auth"], "disabled");
        let body: Value = r.json().await.unwrap();
        ids.extend(
            body["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_string()),
        );
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return ids,
        }
    }
}

fn ids(events: &[AuditEvent], keep: impl Fn(&AuditEvent) -> bool) -> BTreeSet<String> {
    events
        .iter()
        .filter(|e| keep(e))
        .map(|e| e.id.clone())
        .collect()
}

#[tokio::test]
async fn the_query_api_over_moto_pages_reads_annotates_and_counts() {
    let moto = Moto::start().await.expect("moto_server");
    let sdk = local_sdk_config(&moto.endpoint).await;
    let names = StackNames::default();
    provision(&sdk, &names, "unused").await.expect("provision");
    testkit::provision::put_secure_parameter(
        &sdk,
        "/auditlake/cursor-key",
        &secrecy::SecretString::from("e2e cursor key".to_string()),
    )
    .await
    .unwrap();

    let store = DynamoEventStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        names.events_table.clone(),
        8,
    );
    let events: Vec<AuditEvent> = (0..450).map(event).collect();
    let new = store.put_new(stored(&events)).await.unwrap();
    assert!(new.iter().all(|n| *n));
    // A second run over the same records: nothing new, counters unchanged.
    let again = store.put_new(stored(&events[..100])).await.unwrap();
    assert!(again.iter().all(|n| !*n));
    // The counters of the new events, as the pipeline writes them after each chunk.
    store.flush().await;

    let vars: Vec<(String, String)> = [
        ("AUDITLAKE_TENANT_ID", TENANT),
        ("AUDITLAKE_EVENTS_TABLE", names.events_table.as_str()),
        ("AUDITLAKE_STATE_TABLE", names.state_table.as_str()),
        ("AUDITLAKE_AUTH_DISABLED", "true"),
        ("AUDITLAKE_CURSOR_KEY_PARAM", "/auditlake/cursor-key"),
        ("AUDITLAKE_API_READ_BUDGET", "40"),
        ("AUDITLAKE_BUCKET", names.bucket.as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = QueryConfig::from_vars(vars).expect("query config");
    let app = query::query_app(&sdk, &config).await.expect("query app");
    let (addr, _task) = query::spawn(app, "127.0.0.1:0").await.unwrap();
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();

    let health: Value = http
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");

    // Every event once, newest first, across both sources' hour buckets.
    let all = page_all(&http, &base, "").await;
    assert_eq!(all.len(), events.len());
    assert_eq!(
        all.iter().cloned().collect::<BTreeSet<_>>(),
        ids(&events, |_| true)
    );
    assert_eq!(all[0], events[0].id, "newest first");

    // The time index with a source and a filter run inside DynamoDB; the actor and IP indexes.
    let cases: Vec<(&str, BTreeSet<String>)> = vec![
        (
            "source=intune-audit",
            ids(&events, |e| e.source == Source::IntuneAudit),
        ),
        (
            "source=entra-directory-audits&operation=Delete%20user&result=failure",
            ids(&events, |e| {
                e.source == Source::EntraDirectoryAudits
                    && e.operation == "Delete user"
                    && e.result.as_str() == "failure"
            }),
        ),
        (
            "actor=Bob@Contoso.com",
            ids(&events, |e| {
                e.actor.upn.as_deref() == Some("bob@contoso.com")
            }),
        ),
        (
            "actor=oid-2",
            ids(&events, |e| e.actor.id.as_deref() == Some("oid-2")),
        ),
        (
            "ip=192.0.2.3&service=Intune",
            ids(&events, |e| {
                e.client_ip.as_deref() == Some("192.0.2.3")
                    && e.service.as_deref() == Some("Intune")
            }),
        ),
        ("q=ADD%20USER", ids(&events, |e| e.operation == "Add user")),
    ];
    for (query, want) in cases {
        assert!(!want.is_empty(), "{query}");
        let got = page_all(&http, &base, query).await;
        assert_eq!(got.len(), want.len(), "{query}: repeats or misses");
        assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want, "{query}");
    }

    // One event, annotated, then ingested again: annotations stay.
    let id = events[3].id.clone();
    let r = http
        .patch(format!("{base}/events/{id}/tags"))
        .json(&json!({"add": ["reviewed", "case:7"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .patch(format!("{base}/events/{id}/tags"))
        .json(&json!({"remove": ["reviewed"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["tags"], json!(["case:7"]));
    // The per-event limit of 50 tags is a condition of DynamoDB's write: 49 more fit, one
    // beyond is refused, re-adding one already there is no growth, a removal makes room.
    let tag = |i: usize| format!("t{i:02}");
    let patch = |body: Value| {
        let (http, url) = (http.clone(), format!("{base}/events/{id}/tags"));
        async move { http.patch(url).json(&body).send().await.unwrap() }
    };
    let r = patch(json!({"add": (0..49).map(tag).collect::<Vec<_>>()})).await;
    assert_eq!(r.status(), 200);
    let r = patch(json!({"add": ["one-too-many"]})).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "too_many_tags"
    );
    let r = patch(json!({"add": [tag(0), "case:7"]})).await;
    assert_eq!(r.status(), 200, "re-adding tags it has");
    let r = patch(json!({"add": ["one-more"], "remove": [tag(0)]})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["tags"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
    let r = patch(
        json!({"remove": (1..49).map(tag).chain(["one-more".to_string()]).collect::<Vec<_>>()}),
    )
    .await;
    assert_eq!(r.json::<Value>().await.unwrap()["tags"], json!(["case:7"]));
    let r = http
        .post(format!("{base}/events/{id}/comments"))
        .json(&json!({"text": "benign"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    store.put_new(stored(&events[3..4])).await.unwrap();
    let one: Value = http
        .get(format!("{base}/events/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["event"]["id"], id.as_str());
    assert_eq!(one["event"]["raw"]["activityDisplayName"], "raw text");
    assert_eq!(one["tags"], json!(["case:7"]));
    assert_eq!(one["comments"][0]["text"], "benign");
    assert_eq!(one["comments"][0]["author"], "anonymous");
    let missing = http
        .get(format!("{base}/events/intune-audit:20240101T000000Z-nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // Aggregates bumped once per new event.
    let opts: Value = http
        .get(format!("{base}/filter-options?days=2"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let count = |list: &Value, v: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|x| x["value"] == v)
            .map(|x| x["count"].as_u64().unwrap())
    };
    assert_eq!(count(&opts["sources"], "intune-audit"), Some(225), "{opts}");
    assert_eq!(count(&opts["operations"], "Add user"), Some(150));
    assert_eq!(
        count(&opts["actors"], "alice@contoso.com"),
        Some(
            ids(&events, |e| e.actor.upn.as_deref()
                == Some("alice@contoso.com"))
            .len() as u64
        )
    );
    let summary: Value = http
        .get(format!("{base}/summary?days=2"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(summary["total"], 450);

    let sources = http.get(format!("{base}/sources")).send().await.unwrap();
    assert_eq!(sources.status(), 200);

    // An event kept by reference (a record over 300 KB): the API reads its raw page from S3.
    use domain::store::RawStore;
    let raw = aws::S3RawStore::new(aws::s3_client(&sdk), names.bucket.clone());
    let key = "raw/source=intune-audit/dt=2024-05-10/hour=10/20240510T100000Z-big-00001.json.gz";
    let big = format!(r#"{{"id": "e2e-big", "pad": "{}"}}"#, "y".repeat(350_000));
    raw.put(
        key,
        collector::pipeline::gzip_lines([r#"{"id": "other"}"#, big.as_str()].into_iter()).unwrap(),
    )
    .await
    .unwrap();
    let mut by_ref = event(1001);
    by_ref.raw = None;
    by_ref.raw_ref = Some(domain::model::RawRef {
        key: key.into(),
        line: 2,
    });
    store
        .put_new(stored(std::slice::from_ref(&by_ref)))
        .await
        .unwrap();
    let one: Value = http
        .get(format!("{base}/events/{}", by_ref.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["event"]["raw"]["id"], "e2e-big", "read from S3");
    assert_eq!(one["event"]["raw"]["pad"].as_str().unwrap().len(), 350_000);
}
