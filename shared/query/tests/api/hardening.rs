//! What a hostile caller or a hostile record could do, closed (issue 12): pages that would pass
//! Lambda's 6 MB response limit end early and page on; `/summary` and `/filter-options` stop on
//! the read budget and say so; inputs DynamoDB would refuse (repeated tags, ids and filter values
//! past its key limits, times past 2262) are 400s; the 50-tag limit holds per event across
//! requests; a cursor cannot be rebound to other filters through a value holding a newline.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use chrono::TimeDelta;
use domain::model::Source;
use serde_json::json;

use crate::support::{
    Spec, assert_error, call, event, fixture, fixture_with, get, insert, now, seed, tokens,
};

/// `n` events of `source` a minute apart, ending a minute ago, each changed by `edit`.
fn recent(
    source: Source,
    n: usize,
    edit: impl Fn(usize, &mut domain::model::AuditEvent),
) -> Vec<domain::model::AuditEvent> {
    (0..n)
        .map(|i| {
            let mut e = event(&Spec {
                source,
                n: i,
                time: now() - TimeDelta::minutes(i as i64 + 1),
                ingested: now() - TimeDelta::hours(1),
            });
            edit(i, &mut e);
            e
        })
        .collect()
}

/// The largest response a Lambda behind API Gateway may return.
const LAMBDA_RESPONSE_LIMIT: usize = 6 * 1024 * 1024;

#[tokio::test]
async fn a_page_of_large_records_stays_under_lambdas_response_limit_and_pages_on() {
    let f = fixture();
    // 25 records of about 280 KB: at the default page size of 50 they were one 7 MB page.
    let events = recent(Source::EntraDirectoryAudits, 25, |n, e| {
        let raw = json!({"id": n, "blob": "x".repeat(280 * 1024)});
        e.raw = Some(serde_json::value::to_raw_value(&raw).unwrap());
    });
    insert(&f.store, events).await;
    let mut seen = BTreeSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let uri = match &cursor {
            Some(c) => format!("/events?source=entra-directory-audits&cursor={c}"),
            None => "/events?source=entra-directory-audits".to_string(),
        };
        let r = get(&f, &uri).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let bytes = serde_json::to_vec(&r.body).unwrap().len();
        assert!(bytes < LAMBDA_RESPONSE_LIMIT, "a page of {bytes} bytes");
        let listed = r.body["events"].as_array().unwrap();
        assert!(!listed.is_empty());
        for e in listed {
            assert!(
                seen.insert(e["id"].as_str().unwrap().to_string()),
                "{} twice",
                e["id"]
            );
        }
        pages += 1;
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25, "every event listed once");
    assert!(pages >= 2, "the page ended early ({pages} page)");
}

#[tokio::test]
async fn summary_and_filter_options_stop_on_the_read_budget_and_say_partial() {
    // A budget of 5 requests: one for the presence markers of the last 92 days, then one per day
    // of counters (the memory store's costs), and the seed spans 5 days and a bit.
    let f = fixture_with(5, std::sync::Arc::new(tokens()), false);
    seed(&f).await;
    for route in ["/summary", "/filter-options"] {
        let r = get(&f, &format!("{route}?days=366")).await;
        assert_eq!(r.status, StatusCode::OK, "{route}: {}", r.body);
        assert_eq!(r.body["partial"], true, "{route}: {}", r.body);
        let from = (now() - TimeDelta::days(3)).date_naive().to_string();
        assert_eq!(
            r.body["from"],
            from.as_str(),
            "{route}: the oldest day counted"
        );
    }
    // With room for every present day, a year is whole: days without presence cost nothing.
    let f = fixture_with(12, std::sync::Arc::new(tokens()), false);
    seed(&f).await;
    let r = get(&f, "/summary?days=366").await;
    assert_eq!(r.body["partial"], false, "{}", r.body);
    assert_eq!(r.body["total"], 600);
    assert_eq!(
        r.body["from"],
        (now() - TimeDelta::days(365))
            .date_naive()
            .to_string()
            .as_str()
    );
}

#[tokio::test]
async fn summary_and_filter_options_return_at_most_the_top_100_values() {
    let f = fixture();
    // 150 distinct actors in one day.
    let events = recent(Source::IntuneAudit, 150, |n, e| {
        e.actor.upn = Some(format!("user{n:03}@contoso.com"));
    });
    insert(&f.store, events).await;
    let r = get(&f, "/filter-options?days=1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["actors"].as_array().unwrap().len(), 100);
    let r = get(&f, "/summary?days=1").await;
    assert_eq!(r.body["by_actor"].as_array().unwrap().len(), 100);
}

#[tokio::test]
async fn inputs_dynamodb_would_refuse_are_400s() {
    let f = fixture();
    let events = seed(&f).await;
    let id = events[0].id.clone();
    let bad = StatusCode::BAD_REQUEST;
    let patch = |body: serde_json::Value| {
        let uri = format!("/events/{id}/tags");
        let router = f.router.clone();
        async move {
            call(
                &router,
                "PATCH",
                &uri,
                Some("annotator"),
                Some(body.to_string().into_bytes()),
            )
            .await
        }
    };
    assert_error(
        &patch(json!({"add": ["a", "a"]})).await,
        bad,
        "invalid_body",
        &["`a`", "more than once"],
    )
    .await;
    assert_error(
        &patch(json!({"remove": ["b", "b"]})).await,
        bad,
        "invalid_body",
        &["`b`", "more than once"],
    )
    .await;
    assert_error(
        &patch(json!({"add": ["c"], "remove": ["c"]})).await,
        bad,
        "invalid_body",
        &["`c`", "both"],
    )
    .await;
    // Ids past DynamoDB's key limits (and any id no dedupe key can be) are refused, not asked for.
    let long = format!("entra-directory-audits:{}", "k".repeat(3000));
    for uri in [format!("/events/{long}"), format!("/events/{long}/tags")] {
        let r = if uri.ends_with("/tags") {
            call(
                &f.router,
                "PATCH",
                &uri,
                Some("annotator"),
                Some(br#"{"add":["x"]}"#.to_vec()),
            )
            .await
        } else {
            get(&f, &uri).await
        };
        assert_error(&r, bad, "invalid_parameter", &["not an event id"]).await;
        assert!(
            r.body.to_string().len() < 1000,
            "the error echoes the whole id"
        );
    }
    // Filter values past the index key limit.
    for k in ["actor", "ip", "operation", "service", "stream"] {
        let r = get(&f, &format!("/events?{k}={}", "a".repeat(1025))).await;
        assert_error(&r, bad, "invalid_parameter", &[k, "1024 bytes"]).await;
    }
    // Times past the last instant nanoseconds since 1970 fit an i64.
    for q in [
        "end=2262-04-12T00:00:00Z",
        "start=2262-04-12",
        "start=1969-12-31T23:59:59Z",
    ] {
        let r = get(&f, &format!("/events?{q}")).await;
        assert_error(&r, bad, "invalid_parameter", &["2262-04-11"]).await;
    }
    let r = get(&f, "/events?start=2262-04-10&end=2262-04-11T00:00:00Z").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn the_fifty_tag_limit_holds_per_event_across_requests() {
    let f = fixture();
    let events = seed(&f).await;
    let uri = format!("/events/{}/tags", events[0].id);
    let tags = |from: usize, n: usize| -> Vec<String> {
        (from..from + n).map(|i| format!("t{i:03}")).collect()
    };
    let patch = |body: serde_json::Value| {
        let router = f.router.clone();
        let uri = uri.clone();
        async move {
            call(
                &router,
                "PATCH",
                &uri,
                Some("annotator"),
                Some(body.to_string().into_bytes()),
            )
            .await
        }
    };
    let r = patch(json!({"add": tags(0, 50)})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A second request of 50 other tags gave 100 before: now it is refused and nothing is added.
    let r = patch(json!({"add": tags(50, 50)})).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "too_many_tags", &["50"]).await;
    let r = get(&f, &format!("/events/{}", events[0].id)).await;
    assert_eq!(r.body["tags"].as_array().unwrap().len(), 50);
    // Re-adding tags it has is no growth; removing makes room in the same request.
    let r = patch(json!({"add": tags(0, 10)})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = patch(json!({"add": tags(50, 5), "remove": tags(0, 5)})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["tags"].as_array().unwrap().len(), 50);
    assert!(r.body["tags"].as_array().unwrap().contains(&json!("t054")));
}

#[tokio::test]
async fn a_cursor_cannot_be_rebound_through_a_value_holding_a_newline() {
    let f = fixture();
    seed(&f).await;
    let r = get(
        &f,
        "/events?operation=Update%20user&result=success&page_size=1",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let cursor = r.body["next_cursor"].as_str().unwrap().to_string();
    // With `name=value` lines these two filter sets read the same.
    let r = get(
        &f,
        &format!("/events?operation=Update%20user%0Aresult%3Dsuccess&page_size=1&cursor={cursor}"),
    )
    .await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid_cursor",
        &["other filters"],
    )
    .await;
    // The same filters go on.
    let r = get(
        &f,
        &format!("/events?operation=Update%20user&result=success&page_size=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
