//! Shared fixtures: a router over memory stores with a pinned clock and static tokens, a seed of
//! 600 events over three sources, request helpers, paging through a whole listing, the error
//! assertion, and a fake query engine for the hunting queries.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use domain::model::{AuditEvent, Source};
use domain::store::{EventStore, StoredEvent};
use http_body_util::BodyExt;
use query::{QueryApp, QueryPorts, QuerySettings, router};
use serde_json::{Value, json};
use testkit::clock::ManualClock;
use testkit::memory::{MemoryEventStore, MemoryStateStore};
use testkit::memory_alerts::MemoryAlerts;
use testkit::tokens::StaticTokens;
use tower::ServiceExt;

pub const TENANT: &str = "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35";

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 10, 12, 0, 0).unwrap()
}

pub struct Spec {
    pub source: Source,
    pub n: usize,
    pub time: DateTime<Utc>,
    pub ingested: DateTime<Utc>,
}

pub const ACTORS: [(&str, &str, &str); 3] = [
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

pub fn event(s: &Spec) -> AuditEvent {
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
        "id": domain::store::keys::event_id(s.source, s.time, &key),
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

pub async fn insert(store: &MemoryEventStore, events: Vec<AuditEvent>) -> Vec<bool> {
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

pub struct Fixture {
    pub store: Arc<MemoryEventStore>,
    pub alerts: Arc<MemoryAlerts>,
    pub deliveries: Arc<testkit::memory_deliveries::MemoryDeliveries>,
    pub state: Arc<MemoryStateStore>,
    pub backfills: Arc<testkit::memory_backfill::MemoryBackfills>,
    pub clock: Arc<ManualClock>,
    pub router: Router,
}

pub fn tokens() -> StaticTokens {
    StaticTokens::default()
        .with("reader", "u-read", &["auditlake.read"], &[])
        .with("annotator", "u-annotate", &["auditlake.annotate"], &[])
        .with("admin", "u-admin", &["auditlake.admin"], &[])
        .with("nobody", "u-none", &["something.else"], &[])
        .with("grouped", "u-group", &[], &["g-annotators"])
}

pub fn fixture_with(
    budget: u32,
    auth: Arc<dyn query::auth::Authenticator>,
    disabled: bool,
) -> Fixture {
    let store = Arc::new(MemoryEventStore::default());
    let state = Arc::new(MemoryStateStore::default());
    let clock = Arc::new(ManualClock::new(now()));
    let alerts = Arc::new(MemoryAlerts::default());
    let deliveries = Arc::new(testkit::memory_deliveries::MemoryDeliveries::default());
    let backfills = Arc::new(testkit::memory_backfill::MemoryBackfills::default());
    let app = QueryApp::new(
        QueryPorts::over(store.clone(), state.clone(), auth, clock.clone())
            .with_analytics(Arc::new(FakeEngine::default()))
            .with_alerts(alerts.clone())
            .with_deliveries(deliveries.clone())
            .with_backfills(backfills.clone()),
        QuerySettings {
            tenant_id: TENANT.into(),
            group_roles: vec![("g-annotators".into(), query::auth::Role::Annotate)],
            auth_disabled: disabled,
            hot_retention: TimeDelta::days(90),
            read_budget: budget,
            signin_kinds: vec![
                domain::stream::SignInKind::InteractiveUser,
                domain::stream::SignInKind::ServicePrincipal,
            ],
            content_types: domain::stream::ContentType::ALL.to_vec(),
            analytics_limit: std::time::Duration::from_secs(2),
            alert_retention: TimeDelta::days(365),
        },
        b"test cursor key",
    );
    Fixture {
        store,
        alerts,
        deliveries,
        state,
        backfills,
        clock,
        router: router(app),
    }
}

/// Plain settings: auth on, no groups, read budget 100, hunting queries limited to `limit_ms`.
pub fn settings(limit_ms: u64) -> QuerySettings {
    QuerySettings {
        tenant_id: TENANT.into(),
        group_roles: Vec::new(),
        auth_disabled: false,
        hot_retention: TimeDelta::days(90),
        read_budget: 100,
        signin_kinds: Vec::new(),
        content_types: domain::stream::ContentType::ALL.to_vec(),
        analytics_limit: std::time::Duration::from_millis(limit_ms),
        alert_retention: TimeDelta::days(365),
    }
}

pub fn fixture() -> Fixture {
    fixture_with(100, Arc::new(tokens()), false)
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

pub async fn call(
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

pub async fn get(f: &Fixture, uri: &str) -> Reply {
    call(&f.router, "GET", uri, Some("reader"), None).await
}

/// Pages through a listing; returns the ids in order and asserts newest-first order (by sort
/// key: the second, then the dedupe key).
pub async fn page_all(f: &Fixture, query: &str, page_size: usize) -> Vec<String> {
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
                e["time"].as_str().unwrap()[..19].to_string(),
                e["dedupe_key"].as_str().unwrap().to_string(),
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
const SEEDED_SOURCES: [Source; 3] = [
    Source::EntraDirectoryAudits,
    Source::EntraSignIns,
    Source::IntuneAudit,
];

/// The spec of [`seed`]'s event `n`.
fn seeded(n: usize) -> Spec {
    Spec {
        source: SEEDED_SOURCES[n % 3],
        n,
        time: now() - TimeDelta::minutes(12 * n as i64 + 1),
        ingested: now() - TimeDelta::hours(1),
    }
}

/// The id of [`seed`]'s event `n` (ids carry the event time).
pub fn seeded_id(n: usize) -> String {
    event(&seeded(n)).id
}

/// A well-formed id no stored event has.
pub const MISSING_ID: &str = "entra-sign-ins:20240101T000000Z-missing";

pub async fn seed(f: &Fixture) -> Vec<AuditEvent> {
    let events: Vec<AuditEvent> = (0..600).map(|n| event(&seeded(n))).collect();
    insert(&f.store, events.clone()).await;
    events
}

pub fn ids_where(events: &[AuditEvent], keep: impl Fn(&AuditEvent) -> bool) -> BTreeSet<String> {
    events
        .iter()
        .filter(|e| keep(e))
        .map(|e| e.id.clone())
        .collect()
}

pub async fn assert_error(r: &Reply, status: StatusCode, code: &str, words: &[&str]) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["error"]["code"], code, "{}", r.body);
    let msg = r.body["error"]["message"].as_str().unwrap();
    for w in words {
        assert!(msg.contains(w), "`{msg}` does not mention `{w}`");
    }
}

/// A query engine that records what it is asked and answers from the query's name: `consent_grants`
/// with two rows, `impossible_travel` never in time, `new_country_sign_ins` stopping its own query
/// just past the limit, `mfa_method_changes` with a failure whose
/// message holds an internal detail, anything else with 6,000 rows (more than one answer carries).
#[derive(Default)]
pub struct FakeEngine {
    pub calls: std::sync::Mutex<Vec<(String, Vec<String>)>>,
    pub stopped: std::sync::atomic::AtomicBool,
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
