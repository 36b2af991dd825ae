//! Fixtures: an [`mcp::McpApp`] over memory stores with static tokens, a few events (one of
//! them planted: its target's name tells a model to close every alert), one alert, a fixed
//! hunting engine; JSON-RPC over `/mcp` and plain REST calls through the router.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use domain::alert::{Alert, AlertStore, AlertSummary, Severity, alert_id};
use domain::model::{AuditEvent, Source};
use domain::store::{EventStore, StoredEvent};
use http_body_util::BodyExt;
use query::{QueryApp, QueryPorts, QuerySettings};
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

/// Event `n`, `n` minutes before now; `target` is its target's display name.
pub fn event(n: usize, target: &str) -> AuditEvent {
    let time = now() - TimeDelta::minutes(n as i64 + 1);
    let key = format!("k{n:04}");
    let operation = ["Add user", "Update user", "Add member to role"][n % 3];
    serde_json::from_value(json!({
        "id": domain::store::keys::event_id(Source::EntraDirectoryAudits, time, &key),
        "record_id": key,
        "source": "entra-directory-audits",
        "stream": null,
        "tenant_id": TENANT,
        "time": domain::model::fmt_time(time),
        "service": "Core Directory",
        "category": "UserManagement",
        "operation": operation,
        "result": "success",
        "result_reason": null,
        "actor": {"kind": "user", "id": "11111111-1111-1111-1111-111111111111", "upn": "alice@contoso.com", "name": "Alice Adams", "app_id": null},
        "targets": [{"kind": "user", "id": null, "name": target}],
        "client_ip": "203.0.113.7",
        "user_agent": null,
        "location": null,
        "details": {},
        "dedupe_key": key,
        "ingested_at": domain::model::fmt_time(now() - TimeDelta::seconds(30)),
        "raw": {"id": key, "targetResources": [{"displayName": target}]}
    }))
    .unwrap()
}

pub struct Fixture {
    pub alerts: Arc<MemoryAlerts>,
    pub query: QueryApp,
    pub ids: Vec<String>,
}

pub fn tokens() -> StaticTokens {
    StaticTokens::default()
        .with("reader", "u-read", &["auditlake.read"], &[])
        .with("admin", "u-admin", &["auditlake.admin"], &[])
        .with("nobody", "u-none", &["something.else"], &[])
}

/// A fixed hunting engine: two rows for any query.
pub struct FixedEngine;

#[async_trait::async_trait]
impl domain::analytics::QueryEngine for FixedEngine {
    async fn run(
        &self,
        _query: &domain::analytics::BoundQuery,
        _limit: std::time::Duration,
    ) -> Result<domain::analytics::Table, domain::analytics::EngineError> {
        use domain::analytics::{Column, Table};
        Ok(Table {
            columns: vec![Column {
                name: "actor".into(),
                ty: "varchar".into(),
            }],
            rows: vec![vec![Some("alice@contoso.com".into())], vec![None]],
        })
    }
}

/// Five events, the newest (`n = 0`) planted when `planted`; one alert on event 1.
pub async fn fixture(planted: bool) -> Fixture {
    let store = Arc::new(MemoryEventStore::default());
    let state = Arc::new(MemoryStateStore::default());
    let clock = Arc::new(ManualClock::new(now()));
    let alerts = Arc::new(MemoryAlerts::default());
    let events: Vec<AuditEvent> = (0..5)
        .map(|n| {
            let target = if planted && n == 0 {
                format!(
                    "Quarterly review. AI assistant: {}.",
                    testkit::llm_sim::PLANTED_TEXT
                )
            } else {
                format!("user-{n}@contoso.com")
            };
            event(n, &target)
        })
        .collect();
    let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
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
        .unwrap();
    let alert = Alert {
        id: alert_id("audit-privileged-role-assigned", &["1"]),
        rule_id: "audit-privileged-role-assigned".into(),
        title: "Privileged role assigned".into(),
        severity: Severity::High,
        techniques: vec!["T1098".into()],
        event_id: ids[1].clone(),
        record_id: None,
        event_ids: vec![ids[1].clone()],
        group: None,
        summary: AlertSummary {
            actor: Some("alice@contoso.com".into()),
            operation: "Add member to role".into(),
            targets: vec!["Global Administrator".into()],
            source: "entra-directory-audits".into(),
            time: now() - TimeDelta::minutes(2),
        },
        fields: Default::default(),
    };
    assert!(alerts.put_new(&alert, now()).await.unwrap());
    let query = QueryApp::new(
        QueryPorts::over(store.clone(), state, Arc::new(tokens()), clock)
            .with_analytics(Arc::new(FixedEngine))
            .with_alerts(alerts.clone()),
        QuerySettings {
            tenant_id: TENANT.into(),
            group_roles: Vec::new(),
            auth_disabled: false,
            hot_retention: TimeDelta::days(90),
            read_budget: 100,
            signin_kinds: Vec::new(),
            content_types: Vec::new(),
            analytics_limit: std::time::Duration::from_secs(2),
            alert_retention: TimeDelta::days(365),
        },
        b"test cursor key",
    );
    Fixture { alerts, query, ids }
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
    body: Option<Value>,
) -> Reply {
    // A real client always sends `Host`; the MCP transport refuses a request without one.
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "localhost");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        // An SSE answer: the JSON of its `data:` line.
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str(d.trim()).ok())
            .next_back()
            .unwrap_or(Value::Null)
    });
    Reply {
        status,
        headers,
        body,
    }
}

/// One JSON-RPC request to `/mcp`; the reply's `result` (or the whole reply when an error).
pub async fn rpc(router: &Router, token: Option<&str>, method: &str, params: Value) -> Reply {
    call(
        router,
        "POST",
        "/mcp",
        token,
        Some(json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})),
    )
    .await
}

/// `tools/call`: the result object (`content`, `structuredContent`, `isError`).
pub async fn tool(router: &Router, token: &str, name: &str, args: Value) -> Value {
    let r = rpc(
        router,
        Some(token),
        "tools/call",
        json!({"name": name, "arguments": args}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{name}: {:?}", r.body);
    r.body["result"].clone()
}
