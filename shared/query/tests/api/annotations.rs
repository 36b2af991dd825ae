//! Tags and comments round-trip through the API and survive the event being ingested again.

use axum::http::StatusCode;
use chrono::TimeDelta;
use serde_json::json;

use crate::support::{call, fixture, get, insert, now, seed};

#[tokio::test]
async fn tags_and_comments_round_trip_and_survive_reingest() {
    let f = fixture();
    let events = seed(&f).await;
    let id_owned = crate::support::seeded_id(2);
    let id = id_owned.as_str();
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
