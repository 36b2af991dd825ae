//! Alert triage over the router (issue 15): `GET /alerts` newest first with every filter and
//! cursor paging that neither skips nor repeats, the pin (alerts raised while a client pages stay
//! out of that listing), `GET /alerts/{id}` with its events and comments, `PATCH` by the annotate
//! role only, and the schema the document gives an alert against what the API serializes.

use chrono::TimeDelta;
use domain::alert::{Alert, AlertStore, AlertSummary, Severity, alert_id};
use serde_json::json;

use super::support::*;
use axum::http::StatusCode;

fn alert(rule: &str, severity: Severity, event_ids: &[String], n: usize) -> Alert {
    Alert {
        id: alert_id(rule, &[&n.to_string()]),
        rule_id: rule.into(),
        title: format!("title of {rule}"),
        severity,
        techniques: vec!["T1098".into()],
        event_id: event_ids[0].clone(),
        record_id: Some(format!("rec-{n}")),
        event_ids: event_ids.to_vec(),
        group: None,
        summary: AlertSummary {
            actor: Some("alice@contoso.com".into()),
            operation: "Add member to role".into(),
            targets: vec!["Global Administrator".into()],
            source: "entra-directory-audits".into(),
            time: now() - TimeDelta::hours(n as i64),
        },
        fields: Default::default(),
    }
}

/// 30 alerts of three rules and two severities, raised an hour apart over the 30 hours before
/// now (so across a day boundary), newest `n = 0`.
async fn raise(f: &Fixture) -> Vec<Alert> {
    let mut out = Vec::new();
    for n in 0..30 {
        let rule = [
            "audit-privileged-role-assigned",
            "signin-device-code",
            "m365-ediscovery",
        ][n % 3];
        let sev = if n % 2 == 0 {
            Severity::High
        } else {
            Severity::Medium
        };
        let a = alert(rule, sev, &[seeded_id(n)], n);
        assert!(
            f.alerts
                .put_new(
                    &a,
                    now() - TimeDelta::hours(n as i64) - TimeDelta::minutes(1)
                )
                .await
                .unwrap()
        );
        out.push(a);
    }
    out
}

async fn page_alerts(f: &Fixture, query: &str, size: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut last: Option<String> = None;
    loop {
        let mut uri = format!("/alerts?page_size={size}{query}");
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={c}"));
        }
        let r = get(f, &uri).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.body);
        for a in r.body["alerts"].as_array().unwrap() {
            let created = a["created_at"].as_str().unwrap().to_string();
            if let Some(prev) = &last {
                assert!(created < *prev, "not newest first: {created} after {prev}");
            }
            last = Some(created);
            ids.push(a["id"].as_str().unwrap().to_string());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return ids,
        }
        assert!(ids.len() <= 30, "paging did not end");
    }
}

#[tokio::test]
async fn alerts_list_newest_first_filter_and_page_without_skipping() {
    let f = fixture();
    let raised = raise(&f).await;
    let all: Vec<String> = raised.iter().map(|a| a.id.clone()).collect();
    assert_eq!(page_alerts(&f, "", 50).await, all);
    assert_eq!(
        page_alerts(&f, "", 4).await,
        all,
        "pages of 4 list the same, in order"
    );
    let device: Vec<String> = raised
        .iter()
        .filter(|a| a.rule_id == "signin-device-code")
        .map(|a| a.id.clone())
        .collect();
    assert_eq!(page_alerts(&f, "&rule=signin-device-code", 3).await, device);
    let high_device: Vec<String> = raised
        .iter()
        .filter(|a| a.rule_id == "signin-device-code" && a.severity == Severity::High)
        .map(|a| a.id.clone())
        .collect();
    assert_eq!(high_device.len(), 5);
    assert_eq!(
        page_alerts(&f, "&rule=signin-device-code&severity=high", 2).await,
        high_device
    );
    // The time range is when alerts were raised: the last 10 hours hold n = 0..=9.
    let start = domain::model::fmt_time(now() - TimeDelta::hours(10));
    assert_eq!(
        page_alerts(&f, &format!("&start={start}"), 3).await,
        all[..10].to_vec()
    );
    let end = domain::model::fmt_time(now() - TimeDelta::hours(28));
    assert_eq!(
        page_alerts(&f, &format!("&end={end}"), 50).await,
        all[28..].to_vec()
    );
}

#[tokio::test]
async fn a_cursor_keeps_its_filters_and_its_pin() {
    let f = fixture();
    raise(&f).await;
    let first = get(&f, "/alerts?page_size=5").await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let foreign = get(
        &f,
        &format!("/alerts?page_size=5&status=open&cursor={cursor}"),
    )
    .await;
    assert_error(
        &foreign,
        StatusCode::BAD_REQUEST,
        "invalid_cursor",
        &["other filters"],
    )
    .await;
    // An events cursor is not an alerts cursor.
    seed(&f).await;
    let events = get(&f, "/events?page_size=5").await;
    let events_cursor = events.body["next_cursor"].as_str().unwrap();
    let r = get(&f, &format!("/alerts?page_size=5&cursor={events_cursor}")).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_cursor", &[]).await;
    // An alert raised after the first page is not in that listing's later pages.
    let late = alert("m365-ediscovery", Severity::Low, &[seeded_id(1)], 99);
    f.clock.set(now() + TimeDelta::minutes(5));
    f.alerts
        .put_new(&late, now() + TimeDelta::minutes(4))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut c = Some(cursor);
    while let Some(cur) = c {
        let r = get(&f, &format!("/alerts?page_size=5&cursor={cur}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        seen.extend(
            r.body["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_string()),
        );
        c = r.body["next_cursor"].as_str().map(str::to_string);
    }
    assert_eq!(seen.len(), 25);
    assert!(!seen.contains(&late.id));
    // A new listing has it on top.
    let fresh = get(&f, "/alerts?page_size=1").await;
    assert_eq!(fresh.body["alerts"][0]["id"], late.id.as_str());
}

#[tokio::test]
async fn bad_filters_are_refused_with_the_reason() {
    let f = fixture();
    for (q, words) in [
        ("severity=urgent", &["severity", "urgent"][..]),
        ("status=done", &["status", "done"]),
        ("page_size=0", &["page_size"]),
        ("start=yesterday", &["start"]),
        ("start=2024-05-02&end=2024-05-01", &["before"]),
        ("nope=1", &["unknown parameter"]),
    ] {
        let r = get(&f, &format!("/alerts?{q}")).await;
        let code = if q.starts_with("nope") {
            "unknown_parameter"
        } else {
            "invalid_parameter"
        };
        assert_error(&r, StatusCode::BAD_REQUEST, code, words).await;
    }
}

#[tokio::test]
async fn one_alert_comes_with_its_events_comments_and_triage() {
    let f = fixture();
    seed(&f).await;
    let events = vec![seeded_id(3), seeded_id(6), MISSING_ID.to_string()];
    let a = alert("signin-brute-force", Severity::High, &events, 1);
    f.alerts.put_new(&a, now()).await.unwrap();
    let uri = format!("/alerts/{}", a.id);

    let r = get(&f, &uri).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["alert"]["status"], "open");
    assert_eq!(r.body["alert"]["assignee"], serde_json::Value::Null);
    let got: Vec<&str> = r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [seeded_id(3), seeded_id(6)]);
    assert_eq!(r.body["missing_events"], json!([MISSING_ID]));

    // Triage needs the annotate role.
    let body = || Some(br#"{"status":"acknowledged","assignee":"soc@contoso.com"}"#.to_vec());
    let r = call(&f.router, "PATCH", &uri, Some("reader"), body()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(&f.router, "PATCH", &uri, Some("annotator"), body()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "acknowledged");
    assert_eq!(r.body["assignee"], "soc@contoso.com");
    assert_eq!(r.body["updated_by"], "u-annotate");
    // Absent fields stay; null unassigns.
    let r = call(
        &f.router,
        "PATCH",
        &uri,
        Some("annotator"),
        Some(br#"{"assignee":null}"#.to_vec()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "acknowledged");
    assert_eq!(r.body["assignee"], serde_json::Value::Null);
    let r = call(
        &f.router,
        "PATCH",
        &uri,
        Some("annotator"),
        Some(br#"{"status":"closed"}"#.to_vec()),
    )
    .await;
    assert_eq!(r.body["status"], "closed");
    // The listing's status filter follows.
    assert_eq!(
        page_alerts(&f, "&status=closed", 10).await,
        vec![a.id.clone()]
    );
    assert!(page_alerts(&f, "&status=open", 10).await.is_empty());

    let r = call(
        &f.router,
        "POST",
        &format!("{uri}/comments"),
        Some("annotator"),
        Some(br#"{"text":"  looked at it  "}"#.to_vec()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = get(&f, &uri).await;
    assert_eq!(r.body["comments"][0]["text"], "looked at it");
    assert_eq!(r.body["comments"][0]["author"], "u-annotate");
    assert_eq!(r.body["alert"]["status"], "closed");
}

#[tokio::test]
async fn bad_triage_is_refused() {
    let f = fixture();
    let a = alert("m365-ediscovery", Severity::Low, &[seeded_id(1)], 1);
    f.alerts.put_new(&a, now()).await.unwrap();
    let uri = format!("/alerts/{}", a.id);
    let patch = |body: &'static [u8]| {
        call(
            &f.router,
            "PATCH",
            &uri,
            Some("annotator"),
            Some(body.to_vec()),
        )
    };
    assert_error(
        &patch(b"{}").await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
        &["status"],
    )
    .await;
    assert_error(
        &patch(br#"{"status":"done"}"#).await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
        &[],
    )
    .await;
    assert_error(
        &patch(br#"{"assignee":"  "}"#).await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
        &["assignee"],
    )
    .await;
    assert_error(
        &patch(br#"{"status":"closed","x":1}"#).await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
        &[],
    )
    .await;
    let missing = format!("/alerts/{}", alert_id("nothing", &[]));
    let r = call(
        &f.router,
        "PATCH",
        &missing,
        Some("annotator"),
        Some(br#"{"status":"closed"}"#.to_vec()),
    )
    .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found", &["no alert"]).await;
    assert_error(
        &get(&f, &missing).await,
        StatusCode::NOT_FOUND,
        "not_found",
        &[],
    )
    .await;
    for bad in ["nope", "al-XYZ", "al-0123456789abcdef0123456789ABCDEF"] {
        assert_error(
            &get(&f, &format!("/alerts/{bad}")).await,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            &["alert id"],
        )
        .await;
    }
    // Nothing changed.
    assert_eq!(get(&f, &uri).await.body["alert"]["status"], "open");
}

#[tokio::test]
async fn without_an_alerts_table_the_routes_say_so() {
    use std::sync::Arc;
    use testkit::memory::{MemoryEventStore, MemoryStateStore};
    let app = query::QueryApp::new(
        query::QueryPorts::over(
            Arc::new(MemoryEventStore::default()),
            Arc::new(MemoryStateStore::default()),
            Arc::new(tokens()),
            Arc::new(testkit::clock::ManualClock::new(now())),
        ),
        settings(1000),
        b"k",
    );
    let router = query::router(app);
    let r = call(&router, "GET", "/alerts", Some("reader"), None).await;
    assert_error(
        &r,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        &["AUDITLAKE_ALERTS_TABLE"],
    )
    .await;
    // The built-in rules are still listed.
    let r = call(&router, "GET", "/rules", Some("reader"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body["rules"].as_array().unwrap().is_empty());
}

/// The document's `Alert` schema names exactly the fields an alert is served with.
#[tokio::test]
async fn the_alert_schema_matches_the_alert_the_api_serializes() {
    let f = fixture();
    let mut a = alert("signin-brute-force", Severity::High, &[seeded_id(1)], 1);
    a.group = Some(r#"{"userPrincipalName":"a@b"}"#.into());
    a.fields.insert("ipAddress".into(), json!("203.0.113.9"));
    f.alerts.put_new(&a, now()).await.unwrap();
    call(
        &f.router,
        "PATCH",
        &format!("/alerts/{}", a.id),
        Some("annotator"),
        Some(br#"{"assignee":"x"}"#.to_vec()),
    )
    .await;
    let served = get(&f, &format!("/alerts/{}", a.id)).await.body["alert"].clone();
    let doc = call(&f.router, "GET", "/openapi.json", None, None)
        .await
        .body;
    let props: std::collections::BTreeSet<String> =
        doc["components"]["schemas"]["Alert"]["properties"]
            .as_object()
            .expect("Alert has properties")
            .keys()
            .cloned()
            .collect();
    let keys: std::collections::BTreeSet<String> =
        served.as_object().unwrap().keys().cloned().collect();
    assert_eq!(props, keys);
}
