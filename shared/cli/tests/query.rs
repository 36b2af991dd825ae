//! The query API over its router, with the in-memory stores and `StaticTokens`: every filter,
//! paging across 10,000 events while events are inserted, every bad input, 401 against 403,
//! annotations surviving re-ingest, the aggregates, and the OpenAPI document against the routes.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use domain::model::{AuditEvent, Source};
use domain::store::{EventStore, StoredEvent};
use http_body_util::BodyExt;
use query::auth::Disabled;
use query::{QueryApp, QueryPorts, QuerySettings, ROUTES, router};
use serde_json::{Value, json};
use testkit::clock::ManualClock;
use testkit::memory::{MemoryEventStore, MemoryStateStore};
use testkit::tokens::StaticTokens;
use tower::ServiceExt;

const TENANT: &str = "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 10, 12, 0, 0).unwrap()
}

struct Spec {
    source: Source,
    n: usize,
    time: DateTime<Utc>,
    ingested: DateTime<Utc>,
}

const ACTORS: [(&str, &str, &str); 3] = [
    (
        "alice@contoso.com",
        "Alice Adams",
        "11111111-1111-1111-1111-111111111111",
    ),
    (
        "bob@contoso.com",
        "Bob Brown",
        "22222222-2222-2222-2222-222222222222",
    ),
    ("", "Sync Service", "33333333-3333-3333-3333-333333333333"),
];

fn event(s: &Spec) -> AuditEvent {
    let (upn, name, oid) = ACTORS[s.n / 5 % 3];
    let key = format!("k{:06}", s.n);
    let stream = (s.source == Source::EntraSignIns)
        .then(|| ["interactiveUser", "servicePrincipal"][s.n % 2]);
    let service = ["Core Directory", "Exchange", "SharePoint"][s.n / 3 % 3];
    let operation = ["Add user", "Delete user", "Update user", "Reset password"][s.n % 4];
    let result = ["success", "failure", "success", "partial", "unknown"][s.n % 5];
    let upn = if upn.is_empty() {
        Value::Null
    } else {
        json!(upn)
    };
    serde_json::from_value(json!({
        "id": format!("{}:{key}", s.source.name()),
        "record_id": key,
        "source": s.source.name(),
        "stream": stream,
        "tenant_id": TENANT,
        "time": domain::model::fmt_time(s.time),
        "service": service,
        "category": "UserManagement",
        "operation": operation,
        "result": result,
        "result_reason": null,
        "actor": {"kind": "user", "id": oid, "upn": upn, "name": name, "app_id": null},
        "targets": [{"kind": "user", "id": null, "name": format!("target-{}", s.n % 7)}],
        "client_ip": format!("10.0.0.{}", s.n % 6),
        "user_agent": null,
        "location": null,
        "details": {"marker": format!("m{}", s.n % 11)},
        "dedupe_key": key,
        "ingested_at": domain::model::fmt_time(s.ingested),
        "raw": {"id": key, "note": format!("needle-{}", s.n % 13)}
    }))
    .unwrap()
}

async fn insert(store: &MemoryEventStore, events: Vec<AuditEvent>) -> Vec<bool> {
    store
        .put_new(
            events
                .into_iter()
                .map(|event| StoredEvent {
                    event,
                    expires_at: 0,
                })
                .collect(),
        )
        .await
        .unwrap()
}

struct Fixture {
    store: Arc<MemoryEventStore>,
    state: Arc<MemoryStateStore>,
    clock: Arc<ManualClock>,
    router: Router,
}

fn tokens() -> StaticTokens {
    StaticTokens::default()
        .with("reader", "u-read", &["auditlake.read"], &[])
        .with("annotator", "u-annotate", &["auditlake.annotate"], &[])
        .with("admin", "u-admin", &["auditlake.admin"], &[])
        .with("nobody", "u-none", &["something.else"], &[])
        .with("grouped", "u-group", &[], &["g-annotators"])
}

fn fixture_with(budget: u32, auth: Arc<dyn query::auth::Authenticator>, disabled: bool) -> Fixture {
    let store = Arc::new(MemoryEventStore::default());
    let state = Arc::new(MemoryStateStore::default());
    let clock = Arc::new(ManualClock::new(now()));
    let app = QueryApp::new(
        QueryPorts::over(store.clone(), state.clone(), auth, clock.clone())
            .with_analytics(Arc::new(FakeEngine::default())),
        QuerySettings {
            tenant_id: TENANT.into(),
            group_roles: vec![("g-annotators".into(), query::auth::Role::Annotate)],
            auth_disabled: disabled,
            hot_retention: TimeDelta::days(90),
            read_budget: budget,
            signin_kinds: vec!["interactiveUser".into(), "servicePrincipal".into()],
            analytics_limit: std::time::Duration::from_secs(2),
        },
        b"test cursor key",
    );
    Fixture {
        store,
        state,
        clock,
        router: router(app),
    }
}

/// Plain settings: auth on, no groups, read budget 100, hunting queries limited to `limit_ms`.
fn settings(limit_ms: u64) -> QuerySettings {
    QuerySettings {
        tenant_id: TENANT.into(),
        group_roles: Vec::new(),
        auth_disabled: false,
        hot_retention: TimeDelta::days(90),
        read_budget: 100,
        signin_kinds: Vec::new(),
        analytics_limit: std::time::Duration::from_millis(limit_ms),
    }
}

fn fixture() -> Fixture {
    fixture_with(100, Arc::new(tokens()), false)
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b)),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(f: &Fixture, uri: &str) -> Reply {
    call(&f.router, "GET", uri, Some("reader"), None).await
}

/// Pages through a listing; returns the ids in order and asserts newest-first order.
async fn page_all(f: &Fixture, query: &str, page_size: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut last: Option<(String, String)> = None;
    for _ in 0..10_000 {
        let sep = if query.is_empty() { "" } else { "&" };
        let mut uri = format!("/events?{query}{sep}page_size={page_size}");
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={c}"));
        }
        let r = get(f, &uri).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.body);
        for e in r.body["events"].as_array().unwrap() {
            let key = (
                e["time"].as_str().unwrap().to_string(),
                e["id"].as_str().unwrap().to_string(),
            );
            if let Some(prev) = &last {
                assert!(key < *prev, "not newest first: {key:?} after {prev:?}");
            }
            last = Some(key);
            ids.push(e["id"].as_str().unwrap().to_string());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return ids,
        }
    }
    panic!("paging did not end");
}

/// 600 events over the last 5 days across three sources, ingested an hour ago.
async fn seed(f: &Fixture) -> Vec<AuditEvent> {
    let sources = [
        Source::EntraDirectoryAudits,
        Source::EntraSignIns,
        Source::IntuneAudit,
    ];
    let events: Vec<AuditEvent> = (0..600)
        .map(|n| {
            event(&Spec {
                source: sources[n % 3],
                n,
                time: now() - TimeDelta::minutes(12 * n as i64 + 1),
                ingested: now() - TimeDelta::hours(1),
            })
        })
        .collect();
    insert(&f.store, events.clone()).await;
    events
}

fn ids_where(events: &[AuditEvent], keep: impl Fn(&AuditEvent) -> bool) -> BTreeSet<String> {
    events
        .iter()
        .filter(|e| keep(e))
        .map(|e| e.id.clone())
        .collect()
}

#[tokio::test]
async fn every_filter_lists_exactly_the_matching_events() {
    let f = fixture();
    let events = seed(&f).await;
    let t = |h: i64| domain::model::fmt_time(now() - TimeDelta::hours(h));
    let (start, end) = (now() - TimeDelta::hours(60), now() - TimeDelta::hours(20));
    let cases: Vec<(String, BTreeSet<String>)> = vec![
        ("".into(), ids_where(&events, |_| true)),
        (
            "source=entra-sign-ins".into(),
            ids_where(&events, |e| e.source == Source::EntraSignIns),
        ),
        (
            "source=entra-sign-ins&stream=servicePrincipal".into(),
            ids_where(&events, |e| e.stream.as_deref() == Some("servicePrincipal")),
        ),
        (
            "service=Exchange".into(),
            ids_where(&events, |e| e.service.as_deref() == Some("Exchange")),
        ),
        (
            "operation=Reset%20password".into(),
            ids_where(&events, |e| e.operation == "Reset password"),
        ),
        (
            "result=failure".into(),
            ids_where(&events, |e| e.result.as_str() == "failure"),
        ),
        (
            "actor=ALICE@contoso.com".into(),
            ids_where(&events, |e| {
                e.actor.upn.as_deref() == Some("alice@contoso.com")
            }),
        ),
        (
            "actor=Sync%20Service".into(),
            ids_where(&events, |e| e.actor.name.as_deref() == Some("Sync Service")),
        ),
        (
            "actor=22222222-2222-2222-2222-222222222222".into(),
            ids_where(&events, |e| e.actor.name.as_deref() == Some("Bob Brown")),
        ),
        (
            "ip=10.0.0.4".into(),
            ids_where(&events, |e| e.client_ip.as_deref() == Some("10.0.0.4")),
        ),
        (
            format!("start={}&end={}", t(60), t(20)),
            ids_where(&events, |e| e.time >= start && e.time < end),
        ),
        (
            format!("q=NEEDLE-7&start={}", t(100)),
            ids_where(&events, |e| {
                e.time >= now() - TimeDelta::hours(100)
                    && e.raw.as_ref().unwrap().get().contains("needle-7\"")
            }),
        ),
        (
            "q=target-3".into(),
            ids_where(&events, |e| {
                e.time >= now() + TimeDelta::minutes(5) - TimeDelta::hours(24)
                    && e.targets[0].name.as_deref() == Some("target-3")
            }),
        ),
        (
            "source=intune-audit&result=success&actor=bob@contoso.com&ip=10.0.0.5".into(),
            ids_where(&events, |e| {
                e.source == Source::IntuneAudit
                    && e.result.as_str() == "success"
                    && e.actor.upn.as_deref() == Some("bob@contoso.com")
                    && e.client_ip.as_deref() == Some("10.0.0.5")
            }),
        ),
        (
            "source=intune-audit&actor=Bob%20Brown&service=Exchange".into(),
            ids_where(&events, |e| {
                e.source == Source::IntuneAudit
                    && e.actor.upn.as_deref() == Some("bob@contoso.com")
                    && e.service.as_deref() == Some("Exchange")
            }),
        ),
    ];
    for (query, want) in cases {
        assert!(!want.is_empty(), "{query}: the seed has no match");
        let got = page_all(&f, &query, 37).await;
        let set: BTreeSet<String> = got.iter().cloned().collect();
        assert_eq!(set.len(), got.len(), "{query}: repeats");
        assert_eq!(set, want, "{query}");
    }
}

#[tokio::test]
async fn paging_10000_events_while_events_arrive_never_repeats_or_skips() {
    let f = fixture();
    let sources = [
        Source::EntraDirectoryAudits,
        Source::EntraSignIns,
        Source::ExchangeMessageTrace,
    ];
    let events: Vec<AuditEvent> = (0..10_000)
        .map(|n| {
            event(&Spec {
                source: sources[n % 3],
                n,
                time: now() - TimeDelta::seconds(61 * n as i64 + 30),
                ingested: now() - TimeDelta::minutes(10),
            })
        })
        .collect();
    insert(&f.store, events.clone()).await;
    let expected: BTreeSet<String> = events.iter().map(|e| e.id.clone()).collect();

    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut next_n = 10_000;
    let mut pages = 0;
    loop {
        let uri = match &cursor {
            Some(c) => format!("/events?page_size=137&cursor={c}"),
            None => "/events?page_size=137".to_string(),
        };
        let r = get(&f, &uri).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        seen.extend(
            r.body["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_string()),
        );
        pages += 1;
        // Between pages: time passes and new events arrive, newer than anything and spread
        // through the range already paged and still to page.
        f.clock.set(now() + TimeDelta::seconds(pages));
        let arrivals: Vec<AuditEvent> = (0..20)
            .map(|i| {
                next_n += 1;
                event(&Spec {
                    source: sources[i % 3],
                    n: next_n,
                    time: now() - TimeDelta::seconds(((next_n * 7919) % 620_000) as i64)
                        + TimeDelta::hours(i as i64 % 2 * 20),
                    ingested: now() + TimeDelta::seconds(pages),
                })
            })
            .collect();
        insert(&f.store, arrivals).await;
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let set: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(set.len(), seen.len(), "an event was listed twice");
    assert_eq!(
        set, expected,
        "the pinned set differs from what was stored at the first page"
    );
    assert!(pages >= 10_000 / 137);
    // A new listing sees the arrivals.
    f.clock.set(now() + TimeDelta::days(1));
    let all = page_all(&f, "", 500).await;
    assert_eq!(all.len(), f.store.len());
}

#[tokio::test]
async fn a_tiny_read_budget_stops_early_says_so_and_still_pages_everything() {
    let f = fixture_with(2, Arc::new(tokens()), false);
    let events = seed(&f).await;
    let r = get(&f, "/events?actor=Sync%20Service&page_size=500").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["scan"]["complete"], false, "{}", r.body["scan"]);
    assert!(r.body["scan"]["searched_to"].is_string());
    assert!(r.body["scan"]["requests"].as_u64().unwrap() <= 2 + 4);
    assert!(r.body["next_cursor"].is_string());
    let got: BTreeSet<String> = page_all(&f, "actor=Sync%20Service", 500)
        .await
        .into_iter()
        .collect();
    assert_eq!(
        got,
        ids_where(&events, |e| e.actor.name.as_deref() == Some("Sync Service"))
    );
}

#[tokio::test]
async fn the_empty_days_of_the_hot_retention_cost_one_request_not_one_per_day() {
    // Ten events in the hour before the pin, nothing in the 89 days before: the listing reaches
    // back the whole hot retention (no `start`), walks today's hours, and learns that every
    // earlier day is empty from one presence read (it used to take one request per day, 90 in
    // all, and ran out of budget before it could say the listing was done).
    let f = fixture();
    let events: Vec<AuditEvent> = (0..10)
        .map(|n| {
            event(&Spec {
                source: Source::EntraDirectoryAudits,
                n,
                time: now() - TimeDelta::minutes(5 * n as i64 + 1),
                ingested: now() - TimeDelta::minutes(1),
            })
        })
        .collect();
    insert(&f.store, events).await;
    let r = get(&f, "/events?page_size=50").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["events"].as_array().unwrap().len(), 10);
    assert!(r.body["next_cursor"].is_null(), "{}", r.body);
    let scan = &r.body["scan"];
    assert_eq!(scan["complete"], true, "{scan}");
    // 12 hour buckets (12:05 back to midnight) of the one present source, plus presence reads
    // covering 92 days each: today's, and one for the 89 days before today's window.
    let requests = scan["requests"].as_u64().unwrap();
    assert!(requests <= 12 + 2, "{scan}");
}

#[tokio::test]
async fn an_event_kept_by_reference_comes_with_its_raw_record_from_the_raw_layer() {
    use domain::store::RawStore;
    let store = Arc::new(MemoryEventStore::default());
    let state = Arc::new(MemoryStateStore::default());
    let clock = Arc::new(ManualClock::new(now()));
    let raw = Arc::new(testkit::memory::MemoryRawStore::default());
    let key =
        "raw/source=entra-directory-audits/dt=2024-05-10/hour=10/20240510T100000Z-r1-00001.json.gz";
    let big = format!(
        r#"{{"id": "k000002", "activityDisplayName": "Add user", "pad": "{}"}}"#,
        "x".repeat(400_000)
    );
    let page = [r#"{"id": "k000001"}"#, big.as_str(), r#"{"id": "k000003"}"#];
    raw.put(
        key,
        collector::pipeline::gzip_lines(page.into_iter()).unwrap(),
    )
    .await
    .unwrap();
    let by_ref = |n: usize, key: &str, line: u64| {
        let mut e = event(&Spec {
            source: Source::EntraDirectoryAudits,
            n,
            time: now() - TimeDelta::hours(2),
            ingested: now() - TimeDelta::hours(1),
        });
        e.raw = None;
        e.raw_ref = Some(domain::model::RawRef {
            key: key.into(),
            line,
        });
        e
    };
    insert(
        &store,
        vec![
            by_ref(2, key, 2),
            by_ref(4, "raw/source=entra-directory-audits/gone.json.gz", 1),
            by_ref(5, "quarantine/source=entra-directory-audits/x.json.gz", 1),
        ],
    )
    .await;
    let with_raw = router(QueryApp::new(
        QueryPorts::over(
            store.clone(),
            state.clone(),
            Arc::new(tokens()),
            clock.clone(),
        )
        .with_raw(raw.clone()),
        settings(2000),
        b"k",
    ));
    let get_one = |r: &Router, id: &str| {
        let (r, id) = (r.clone(), id.to_string());
        async move { call(&r, "GET", &format!("/events/{id}"), Some("reader"), None).await }
    };

    // Line 2 of the raw page, as Microsoft sent it, with the reference kept.
    let one = get_one(&with_raw, "entra-directory-audits:k000002").await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.body["event"]["raw"]["id"], "k000002");
    assert_eq!(
        one.body["event"]["raw"]["pad"].as_str().unwrap().len(),
        400_000
    );
    assert!(
        one.body["event"]["raw_ref"].is_null(),
        "raw or raw_ref, never both"
    );

    // A missing object, or a reference outside the raw layer: the event without its raw record.
    for id in [
        "entra-directory-audits:k000004",
        "entra-directory-audits:k000005",
    ] {
        let r = get_one(&with_raw, id).await;
        assert_eq!(r.status, StatusCode::OK, "{id}: {}", r.body);
        assert!(r.body["event"]["raw"].is_null(), "{id}: {}", r.body);
        assert!(r.body["event"]["raw_ref"]["key"].is_string());
    }

    // Without the bucket configured the reference is all there is.
    let without = router(QueryApp::new(
        QueryPorts::over(store, state, Arc::new(tokens()), clock),
        settings(2000),
        b"k",
    ));
    let r = get_one(&without, "entra-directory-audits:k000002").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["event"]["raw"].is_null());
    assert_eq!(r.body["event"]["raw_ref"]["key"], key);
}

async fn assert_error(r: &Reply, status: StatusCode, code: &str, words: &[&str]) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["error"]["code"], code, "{}", r.body);
    let msg = r.body["error"]["message"].as_str().unwrap();
    for w in words {
        assert!(msg.contains(w), "`{msg}` does not mention `{w}`");
    }
}

#[tokio::test]
async fn every_bad_input_is_a_4xx_naming_the_problem() {
    let f = fixture();
    seed(&f).await;
    let bad = StatusCode::BAD_REQUEST;
    assert_error(
        &get(&f, "/events?colour=red").await,
        bad,
        "unknown_parameter",
        &["colour"],
    )
    .await;
    assert_error(
        &get(&f, "/events?start=yesterday").await,
        bad,
        "invalid_parameter",
        &["start", "yesterday"],
    )
    .await;
    assert_error(
        &get(&f, "/events?end=2024-13-01").await,
        bad,
        "invalid_parameter",
        &["end"],
    )
    .await;
    assert_error(
        &get(&f, "/events?page_size=0").await,
        bad,
        "invalid_parameter",
        &["page_size", "0"],
    )
    .await;
    assert_error(
        &get(&f, "/events?page_size=501").await,
        bad,
        "invalid_parameter",
        &["page_size", "501"],
    )
    .await;
    assert_error(
        &get(&f, "/events?page_size=ten").await,
        bad,
        "invalid_parameter",
        &["page_size"],
    )
    .await;
    assert_error(
        &get(&f, "/events?source=okta").await,
        bad,
        "invalid_parameter",
        &["okta"],
    )
    .await;
    assert_error(
        &get(&f, "/events?result=maybe").await,
        bad,
        "invalid_parameter",
        &["result", "maybe"],
    )
    .await;
    assert_error(
        &get(&f, "/events?source=intune-audit&source=entra-sign-ins").await,
        bad,
        "invalid_parameter",
        &["source", "more than once"],
    )
    .await;
    assert_error(
        &get(&f, "/events?start=2024-05-02&end=2024-05-01").await,
        bad,
        "invalid_parameter",
        &["start", "before"],
    )
    .await;
    assert_error(
        &get(&f, "/events?q=x&start=2024-04-01&end=2024-05-01").await,
        bad,
        "invalid_parameter",
        &["q", "7 days"],
    )
    .await;
    assert_error(
        &get(&f, "/events?cursor=abc.def").await,
        bad,
        "invalid_cursor",
        &["cursor"],
    )
    .await;

    // A real cursor, altered; and the same cursor with other filters.
    let first = get(&f, "/events?source=entra-sign-ins&page_size=5").await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let (body, tag) = cursor.split_once('.').unwrap();
    let mut chars: Vec<char> = body.chars().collect();
    chars[3] = if chars[3] == 'A' { 'B' } else { 'A' };
    let forged = format!("{}.{tag}", chars.into_iter().collect::<String>());
    assert_error(
        &get(
            &f,
            &format!("/events?source=entra-sign-ins&cursor={forged}"),
        )
        .await,
        bad,
        "invalid_cursor",
        &["not a cursor"],
    )
    .await;
    assert_error(
        &get(&f, &format!("/events?source=intune-audit&cursor={cursor}")).await,
        bad,
        "invalid_cursor",
        &["other filters"],
    )
    .await;
    assert_eq!(
        get(
            &f,
            &format!("/events?source=entra-sign-ins&page_size=9&cursor={cursor}")
        )
        .await
        .status,
        StatusCode::OK
    );

    assert_error(
        &get(&f, "/events/entra-sign-ins:nope").await,
        StatusCode::NOT_FOUND,
        "not_found",
        &["entra-sign-ins:nope"],
    )
    .await;
    assert_error(
        &get(&f, "/events/not-an-id").await,
        bad,
        "invalid_parameter",
        &["not-an-id", "event id"],
    )
    .await;
    assert_error(
        &get(&f, "/summary?days=0").await,
        bad,
        "invalid_parameter",
        &["days"],
    )
    .await;
    assert_error(
        &get(&f, "/filter-options?day=3").await,
        bad,
        "unknown_parameter",
        &["day"],
    )
    .await;
    assert_error(
        &get(&f, "/nowhere").await,
        StatusCode::NOT_FOUND,
        "not_found",
        &["route"],
    )
    .await;
    assert_error(
        &call(&f.router, "DELETE", "/events", Some("admin"), None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &["method"],
    )
    .await;

    let id = "entra-sign-ins:k000001";
    let tags_uri = format!("/events/{id}/tags");
    let tags = |b: &str| {
        call(
            &f.router,
            "PATCH",
            &tags_uri,
            Some("annotator"),
            Some(b.as_bytes().to_vec()),
        )
    };
    assert_error(&tags("{not json").await, bad, "invalid_body", &["JSON"]).await;
    assert_error(
        &tags(r#"{"add": "urgent"}"#).await,
        bad,
        "invalid_body",
        &["JSON"],
    )
    .await;
    assert_error(
        &tags(r#"{"set": ["x"]}"#).await,
        bad,
        "invalid_body",
        &["set"],
    )
    .await;
    assert_error(
        &tags(r#"{}"#).await,
        bad,
        "invalid_body",
        &["add", "remove"],
    )
    .await;
    assert_error(
        &tags(r#"{"add": ["<script>"]}"#).await,
        bad,
        "invalid_body",
        &["<script>"],
    )
    .await;
    let huge = format!(r#"{{"add": ["{}"]}}"#, "a".repeat(100_000));
    assert_error(
        &tags(&huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        &["bytes"],
    )
    .await;
    assert_error(
        &call(
            &f.router,
            "PATCH",
            "/events/entra-sign-ins:nope/tags",
            Some("annotator"),
            Some(br#"{"add":["x"]}"#.to_vec()),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
        &["nope"],
    )
    .await;
    assert_error(
        &call(
            &f.router,
            "POST",
            &format!("/events/{id}/comments"),
            Some("annotator"),
            Some(br#"{"text": "   "}"#.to_vec()),
        )
        .await,
        bad,
        "invalid_body",
        &["text"],
    )
    .await;
}

#[tokio::test]
async fn no_or_bad_token_is_401_and_a_missing_role_is_403() {
    let f = fixture();
    seed(&f).await;
    let r = call(&f.router, "GET", "/events", None, None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized", &["Bearer"]).await;
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    let r = call(&f.router, "GET", "/events", Some("forged"), None).await;
    assert_error(
        &r,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &["invalid bearer token"],
    )
    .await;
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    assert_error(
        &call(&f.router, "GET", "/events", Some("nobody"), None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        &["auditlake.read"],
    )
    .await;
    let body = br#"{"add": ["reviewed"]}"#.to_vec();
    let uri = "/events/entra-sign-ins:k000001/tags";
    assert_error(
        &call(&f.router, "PATCH", uri, Some("reader"), Some(body.clone())).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        &["auditlake.annotate", "auditlake.read"],
    )
    .await;
    assert_error(
        &call(&f.router, "PATCH", uri, None, Some(body.clone())).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &[],
    )
    .await;
    for token in ["annotator", "admin", "grouped"] {
        assert_eq!(
            call(&f.router, "PATCH", uri, Some(token), Some(body.clone()))
                .await
                .status,
            StatusCode::OK,
            "{token}"
        );
    }
    for token in ["reader", "annotator", "admin", "grouped"] {
        for path in [
            "/events",
            "/events/entra-sign-ins:k000001",
            "/filter-options",
            "/sources",
            "/summary",
        ] {
            assert_eq!(
                call(&f.router, "GET", path, Some(token), None).await.status,
                StatusCode::OK,
                "{token} {path}"
            );
        }
    }
    for path in ["/health", "/version", "/openapi.json"] {
        let r = call(&f.router, "GET", path, None, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(r.headers.get("x-auditlake-auth").is_none());
    }
    assert_eq!(
        call(&f.router, "GET", "/health", None, None).await.body["status"],
        "ok"
    );
}

#[tokio::test]
async fn with_auth_disabled_every_response_says_so() {
    let f = fixture_with(100, Arc::new(Disabled), true);
    seed(&f).await;
    for (method, path) in [("GET", "/events"), ("GET", "/health"), ("GET", "/nowhere")] {
        let r = call(&f.router, method, path, None, None).await;
        assert_eq!(r.headers["x-auditlake-auth"], "disabled", "{path}");
    }
    let r = call(
        &f.router,
        "POST",
        "/events/entra-sign-ins:k000001/comments",
        None,
        Some(br#"{"text":"hi"}"#.to_vec()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["author"], "anonymous");
}

#[tokio::test]
async fn tags_and_comments_round_trip_and_survive_reingest() {
    let f = fixture();
    let events = seed(&f).await;
    let id = "intune-audit:k000002";
    let uri = format!("/events/{id}");
    let r = call(
        &f.router,
        "PATCH",
        &format!("{uri}/tags"),
        Some("annotator"),
        Some(br#"{"add": ["reviewed", "case:42"]}"#.to_vec()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["tags"], json!(["case:42", "reviewed"]));
    let r = call(
        &f.router,
        "PATCH",
        &format!("{uri}/tags"),
        Some("annotator"),
        Some(br#"{"add": ["escalated"], "remove": ["reviewed"]}"#.to_vec()),
    )
    .await;
    assert_eq!(r.body["tags"], json!(["case:42", "escalated"]));
    let r = call(
        &f.router,
        "POST",
        &format!("{uri}/comments"),
        Some("annotator"),
        Some(br#"{"text": "Looked at this; benign."}"#.to_vec()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["author"], "u-annotate");
    assert_eq!(r.body["author_name"], "u-annotate (test)");
    f.clock.set(now() + TimeDelta::minutes(1));
    call(
        &f.router,
        "POST",
        &format!("{uri}/comments"),
        Some("admin"),
        Some(br#"{"text": "Agreed."}"#.to_vec()),
    )
    .await;

    // The same event ingested again, as an overlapping run would: not new, annotations kept.
    let again = events.iter().find(|e| e.id == id).unwrap().clone();
    assert_eq!(insert(&f.store, vec![again]).await, vec![false]);
    let r = get(&f, &uri).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["event"]["id"], id);
    assert_eq!(r.body["event"]["raw"]["id"], "k000002");
    assert_eq!(r.body["tags"], json!(["case:42", "escalated"]));
    let comments = r.body["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[0]["text"], "Looked at this; benign.");
    assert_eq!(comments[1]["author"], "u-admin");
}

#[tokio::test]
async fn filter_options_and_summary_come_from_the_counters_kept_on_insert() {
    let f = fixture();
    let events = seed(&f).await;
    // Re-ingesting changes nothing: only a successful first insert counts.
    insert(&f.store, events.clone()).await;
    let r = get(&f, "/filter-options?days=30").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["approximate"], true);
    let count = |list: &Value, value: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|v| v["value"] == value)
            .map(|v| v["count"].as_u64().unwrap())
    };
    assert_eq!(
        count(&r.body["services"], "Exchange"),
        Some(
            events
                .iter()
                .filter(|e| e.service.as_deref() == Some("Exchange"))
                .count() as u64
        )
    );
    assert_eq!(
        count(&r.body["results"], "failure"),
        Some(
            events
                .iter()
                .filter(|e| e.result.as_str() == "failure")
                .count() as u64
        )
    );
    assert_eq!(
        count(&r.body["actors"], "alice@contoso.com"),
        Some(
            events
                .iter()
                .filter(|e| e.actor.upn.as_deref() == Some("alice@contoso.com"))
                .count() as u64
        )
    );
    assert_eq!(
        count(&r.body["actors"], "33333333-3333-3333-3333-333333333333"),
        Some(events.iter().filter(|e| e.actor.upn.is_none()).count() as u64)
    );
    assert_eq!(r.body["operations"].as_array().unwrap().len(), 4);
    assert_eq!(count(&r.body["sources"], "entra-sign-ins"), Some(200));

    let r = get(&f, "/summary?days=2").await;
    assert_eq!(r.status, StatusCode::OK);
    let today = now().date_naive();
    let recent = events
        .iter()
        .filter(|e| e.time.date_naive() >= today - chrono::Days::new(1))
        .count() as u64;
    assert_eq!(r.body["total"], recent);
    assert_eq!(r.body["days"], 2);
    assert_eq!(r.body["from"], (today - chrono::Days::new(1)).to_string());
}

#[tokio::test]
async fn sources_show_each_streams_health() {
    use domain::store::{HealthUpdate, StateStore, StreamKey};
    let f = fixture();
    let key = StreamKey::new(
        TENANT,
        Source::EntraSignIns,
        Some("servicePrincipal".into()),
    );
    let summary: domain::model::RunSummary = serde_json::from_value(json!({
        "source": "entra-sign-ins", "stream": "servicePrincipal", "run_id": "r1", "mode": "scheduled",
        "window_start": null, "window_end": null, "windows": 1, "pulled": 5, "new": 5, "duplicates": 0,
        "quarantined": 0, "raw_objects": 1, "raw_bytes": 100, "lag_secs": 120, "complete": false,
        "skipped": null, "gap": null, "error": {"code": "Authorization_RequestDenied", "message": "denied"},
        "duration_ms": 3
    })).unwrap();
    f.state
        .record_health(
            &key,
            HealthUpdate {
                at: now(),
                summary,
                watermark: Some(now()),
                doctor: None,
            },
        )
        .await
        .unwrap();
    let r = get(&f, "/sources").await;
    assert_eq!(r.status, StatusCode::OK);
    let list = r.body["sources"].as_array().unwrap();
    let names: HashSet<(String, Option<String>)> = list
        .iter()
        .map(|s| {
            (
                s["source"].as_str().unwrap().to_string(),
                s["stream"].as_str().map(String::from),
            )
        })
        .collect();
    assert!(names.contains(&("entra-directory-audits".into(), None)));
    assert!(names.contains(&("entra-sign-ins".into(), Some("interactiveUser".into()))));
    let sp = list
        .iter()
        .find(|s| s["stream"] == "servicePrincipal")
        .unwrap();
    assert_eq!(
        sp["health"]["last_error"]["code"],
        "Authorization_RequestDenied"
    );
    assert_eq!(sp["health"]["total_pulled"], 5);
    assert!(list.iter().find(|s| s["source"] == "intune-audit").unwrap()["health"].is_null());
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_the_router_serves() {
    let f = fixture();
    seed(&f).await;
    let doc = call(&f.router, "GET", "/openapi.json", None, None)
        .await
        .body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = 0;
    for (path, item) in paths {
        documented += item
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| ["get", "post", "patch", "put", "delete"].contains(&k.as_str()))
            .count();
        let _ = path;
    }
    assert_eq!(documented, ROUTES.len(), "documented operations vs routes");
    for (method, path) in ROUTES {
        assert!(
            paths[*path].get(*method).is_some(),
            "{method} {path} is not in openapi.json"
        );
        let uri = path
            .replace("{id}", "entra-sign-ins:k000001")
            .replace("{query}", "consent_grants");
        let body = match (*method, *path) {
            ("patch", _) => Some(br#"{"add":["x"]}"#.to_vec()),
            ("post", "/analytics/{query}") => {
                Some(br#"{"start_date":"2024-05-01","end_date":"2024-05-07"}"#.to_vec())
            }
            ("post", _) => Some(br#"{"text":"x"}"#.to_vec()),
            _ => None,
        };
        let r = call(&f.router, &method.to_uppercase(), &uri, Some("admin"), body).await;
        assert!(
            r.status.is_success(),
            "{method} {path} is not served: {} {}",
            r.status,
            r.body
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[test]
fn serve_without_configuration_lists_every_missing_variable_and_exits_2() {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_auditlake"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AUDITLAKE_")) {
        cmd.env_remove(k);
    }
    let out = cmd
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("AUDITLAKE_ALLOWED_GROUPS", "g=owner")
        .output()
        .expect("auditlake runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for var in [
        "AUDITLAKE_TENANT_ID",
        "AUDITLAKE_EVENTS_TABLE",
        "AUDITLAKE_STATE_TABLE",
        "AUDITLAKE_API_AUDIENCE",
        "AUDITLAKE_ALLOWED_GROUPS",
    ] {
        assert!(err.contains(var), "{var} not reported in: {err}");
    }
    assert!(out.stdout.is_empty());
}

/// A query engine that records what it is asked and answers from the query's name: `consent_grants`
/// with two rows, `impossible_travel` never in time, `new_country_sign_ins` stopping its own query
/// just past the limit, `mfa_method_changes` with a failure whose
/// message holds an internal detail, anything else with 6,000 rows (more than one answer carries).
#[derive(Default)]
struct FakeEngine {
    calls: std::sync::Mutex<Vec<(String, Vec<String>)>>,
    stopped: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl domain::analytics::QueryEngine for FakeEngine {
    async fn run(
        &self,
        query: &domain::analytics::BoundQuery,
        limit: std::time::Duration,
    ) -> Result<domain::analytics::Table, domain::analytics::EngineError> {
        use domain::analytics::{Column, EngineError, Table};
        self.calls.lock().unwrap().push((
            query.name.to_string(),
            query.params.iter().map(|p| p.athena_literal()).collect(),
        ));
        let col = |name: &str, ty: &str| Column {
            name: name.into(),
            ty: ty.into(),
        };
        match query.name {
            "consent_grants" => Ok(Table {
                columns: vec![col("actor", "varchar"), col("app", "varchar")],
                rows: vec![
                    vec![Some("alice@contoso.com".into()), Some("Evil App".into())],
                    vec![Some("bob@contoso.com".into()), None],
                ],
            }),
            "impossible_travel" => {
                tokio::time::sleep(limit * 4).await;
                Err(EngineError::Timeout(limit))
            }
            // Stops its own query a little past the limit (StopQueryExecution takes a moment).
            "new_country_sign_ins" => {
                tokio::time::sleep(limit + limit / 10).await;
                self.stopped
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                Err(EngineError::Timeout(limit))
            }
            "mfa_method_changes" => Err(EngineError::Failed {
                query: query.name.into(),
                message: "arn:aws:athena:us-east-1:123456789012:workgroup/secret-wg denied".into(),
            }),
            _ => Ok(Table {
                columns: vec![col("n", "bigint")],
                rows: (0..6000).map(|i| vec![Some(i.to_string())]).collect(),
            }),
        }
    }
}

#[tokio::test]
async fn hunting_queries_run_with_typed_parameters_for_admins_only() {
    let engine = Arc::new(FakeEngine::default());
    let store = Arc::new(MemoryEventStore::default());
    let state = Arc::new(MemoryStateStore::default());
    let clock = Arc::new(ManualClock::new(now()));
    let r = router(QueryApp::new(
        QueryPorts::over(
            store.clone(),
            state.clone(),
            Arc::new(tokens()),
            clock.clone(),
        )
        .with_analytics(engine.clone()),
        settings(300),
        b"k",
    ));
    let post = |uri: &str, token: &str, body: &str| {
        let r = r.clone();
        let (uri, token, body) = (uri.to_string(), token.to_string(), body.as_bytes().to_vec());
        async move { call(&r, "POST", &uri, Some(&token), Some(body)).await }
    };
    let week = r#"{"start_date": "2024-05-01", "end_date": "2024-05-07"}"#;

    // The catalog: every query with its typed parameters, for readers.
    let cat = call(&r, "GET", "/analytics", Some("reader"), None).await;
    assert_eq!(cat.status, StatusCode::OK, "{}", cat.body);
    assert_eq!(cat.body["enabled"], true);
    let names: Vec<&str> = cat.body["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), domain::analytics::catalog().len());
    assert!(names.contains(&"failed_sign_ins_by_user_country"));
    let failed = cat.body["queries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "failed_sign_ins_by_user_country")
        .unwrap();
    assert_eq!(
        failed["params"],
        json!([{"name": "start_date", "type": "date"}, {"name": "end_date", "type": "date"},
               {"name": "min_failures", "type": "integer"}])
    );

    // An admin's run: the engine gets the typed values in placeholder order; the answer is the
    // engine's table.
    let ok = post("/analytics/consent_grants", "admin", week).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["query"], "consent_grants");
    assert_eq!(
        ok.body["columns"],
        json!([{"name": "actor", "type": "varchar"}, {"name": "app", "type": "varchar"}])
    );
    assert_eq!(
        ok.body["rows"],
        json!([["alice@contoso.com", "Evil App"], ["bob@contoso.com", null]])
    );
    assert_eq!(ok.body["truncated"], false);
    let ok = post(
        "/analytics/failed_sign_ins_by_user_country",
        "admin",
        r#"{"start_date": "2024-05-01", "end_date": "2024-05-07", "min_failures": "3"}"#,
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["rows"].as_array().unwrap().len(), 5000);
    assert_eq!(ok.body["truncated"], true, "6,000 rows are cut to 5,000");
    let calls = engine.calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        vec![
            (
                "consent_grants".to_string(),
                vec!["'2024-05-01'".to_string(), "'2024-05-07'".to_string()]
            ),
            (
                "failed_sign_ins_by_user_country".to_string(),
                vec![
                    "'2024-05-01'".to_string(),
                    "'2024-05-07'".to_string(),
                    "3".to_string()
                ]
            ),
        ]
    );

    // Roles: no token 401; reader and annotator 403 (hunting queries cost Athena scans).
    let none = call(
        &r,
        "POST",
        "/analytics/consent_grants",
        None,
        Some(week.as_bytes().to_vec()),
    )
    .await;
    assert_error(&none, StatusCode::UNAUTHORIZED, "unauthorized", &[]).await;
    for who in ["reader", "annotator"] {
        let denied = post("/analytics/consent_grants", who, week).await;
        assert_error(
            &denied,
            StatusCode::FORBIDDEN,
            "forbidden",
            &["auditlake.admin"],
        )
        .await;
    }

    // Bad input: each a 4xx naming the problem, and the engine is never called.
    let cases: &[(&str, &str, StatusCode, &str, &[&str])] = &[
        (
            "/analytics/drop_tables",
            week,
            StatusCode::NOT_FOUND,
            "not_found",
            &["drop_tables", "GET /analytics"],
        ),
        (
            "/analytics/consent_grants",
            r#"{"start_date": "2024-05-01"}"#,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            &["end_date", "missing"],
        ),
        (
            "/analytics/consent_grants",
            r#"{"start_date": "2024-05-01", "end_date": "2024-05-07", "user": "x"}"#,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            &["user", "unknown"],
        ),
        (
            "/analytics/consent_grants",
            r#"{"start_date": "2024-05-01'; DROP TABLE events; --", "end_date": "2024-05-07"}"#,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            &["start_date", "not a date"],
        ),
        (
            "/analytics/consent_grants",
            r#"{"start_date": "2024-05-09", "end_date": "2024-05-07"}"#,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            &["end_date", "before start_date"],
        ),
        (
            "/analytics/failed_sign_ins_by_user_country",
            r#"{"start_date": "2024-05-01", "end_date": "2024-05-07", "min_failures": "three"}"#,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            &["min_failures", "integer"],
        ),
        (
            "/analytics/consent_grants",
            r#"["2024-05-01"]"#,
            StatusCode::BAD_REQUEST,
            "invalid_body",
            &["JSON object"],
        ),
        (
            "/analytics/consent_grants",
            "{not json",
            StatusCode::BAD_REQUEST,
            "invalid_body",
            &["not JSON"],
        ),
        (
            "/analytics/consent_grants",
            "",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            &["start_date", "missing"],
        ),
    ];
    for (uri, body, status, code, words) in cases {
        let reply = post(uri, "admin", body).await;
        assert_error(&reply, *status, code, words).await;
    }
    let big = format!(
        r#"{{"start_date": "2024-05-01", "end_date": "2024-05-07", "pad": "{}"}}"#,
        "x".repeat(query::MAX_BODY_BYTES)
    );
    let reply = post("/analytics/consent_grants", "admin", &big).await;
    assert_error(
        &reply,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        &[],
    )
    .await;
    assert_eq!(
        engine.calls.lock().unwrap().len(),
        2,
        "bad input never reaches the engine"
    );

    // Past the time limit: 504, promptly. An engine failure: 502 without the engine's internals.
    let started = std::time::Instant::now();
    let slow = post(
        "/analytics/impossible_travel",
        "admin",
        r#"{"start_date": "2024-05-01", "end_date": "2024-05-07", "max_kmh": 900}"#,
    )
    .await;
    assert_error(
        &slow,
        StatusCode::GATEWAY_TIMEOUT,
        "timeout",
        &["impossible_travel", "limit"],
    )
    .await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let stopping = post(
        "/analytics/new_country_sign_ins",
        "admin",
        r#"{"start_date": "2024-05-01", "end_date": "2024-05-07", "baseline_start": "2024-03-01"}"#,
    )
    .await;
    assert_error(
        &stopping,
        StatusCode::GATEWAY_TIMEOUT,
        "timeout",
        &["new_country_sign_ins"],
    )
    .await;
    assert!(
        engine.stopped.load(std::sync::atomic::Ordering::SeqCst),
        "an engine stopping its query at the limit is not cut off"
    );
    let broken = post("/analytics/mfa_method_changes", "admin", week).await;
    assert_error(
        &broken,
        StatusCode::BAD_GATEWAY,
        "upstream_failed",
        &["mfa_method_changes"],
    )
    .await;
    let text = broken.body.to_string();
    assert!(
        !text.contains("arn:") && !text.contains("secret-wg"),
        "{text}"
    );

    // A deployment without Athena: the catalog says so and a valid run is a 503 (bad input is
    // still a 4xx first).
    let off = router(QueryApp::new(
        QueryPorts::over(store, state, Arc::new(tokens()), clock),
        settings(300),
        b"k",
    ));
    let cat = call(&off, "GET", "/analytics", Some("reader"), None).await;
    assert_eq!(cat.body["enabled"], false, "{}", cat.body);
    let reply = call(
        &off,
        "POST",
        "/analytics/consent_grants",
        Some("admin"),
        Some(week.as_bytes().to_vec()),
    )
    .await;
    assert_error(
        &reply,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        &["not configured"],
    )
    .await;
    let reply = call(
        &off,
        "POST",
        "/analytics/nope",
        Some("admin"),
        Some(week.as_bytes().to_vec()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}
