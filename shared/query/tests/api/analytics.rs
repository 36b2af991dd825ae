//! Hunting queries (`/analytics`): the catalog, typed parameters bound for the engine, admins
//! only, bad input never reaching the engine, the time limit, engine failures without internals,
//! and a deployment without Athena.

use std::sync::Arc;

use axum::http::StatusCode;
use query::{QueryApp, QueryPorts, router};
use serde_json::json;
use testkit::clock::ManualClock;
use testkit::memory::{MemoryEventStore, MemoryStateStore};

use crate::support::{FakeEngine, assert_error, call, now, settings, tokens};

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
