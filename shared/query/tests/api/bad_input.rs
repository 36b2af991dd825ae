//! Every bad input is a 4xx naming the problem: unknown and invalid parameters, forged or
//! mismatched cursors, unknown ids and routes, and bad or oversized annotation bodies.

use axum::http::StatusCode;

use crate::support::{assert_error, call, fixture, get, seed};

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
        &get(&f, "/events/entra-sign-ins:20240101T000000Z-nope").await,
        StatusCode::NOT_FOUND,
        "not_found",
        &["entra-sign-ins:20240101T000000Z-nope"],
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

    let id = &crate::support::seeded_id(1);
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
            "/events/entra-sign-ins:20240101T000000Z-nope/tags",
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
