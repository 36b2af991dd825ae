//! Paging with signed cursors: 10,000 events paged while events arrive never repeat or skip, a
//! tiny read budget stops early, says so and still pages everything, and the empty days of the
//! hot retention cost one request.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::http::StatusCode;
use chrono::TimeDelta;
use domain::model::{AuditEvent, Source};

use crate::support::{
    Spec, event, fixture, fixture_with, get, ids_where, insert, now, page_all, seed, tokens,
};

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
