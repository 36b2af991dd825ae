//! `GET /events` with every filter lists exactly the matching events, and `GET /events/{id}`
//! brings an event kept by reference with its raw record from the raw layer.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use chrono::TimeDelta;
use domain::model::Source;
use query::{QueryApp, QueryPorts, router};
use testkit::clock::ManualClock;
use testkit::memory::{MemoryEventStore, MemoryStateStore};

use crate::support::{
    Spec, call, event, fixture, ids_where, insert, now, page_all, seed, settings, tokens,
};

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
    let id_of = |n: usize| {
        domain::store::keys::event_id(
            Source::EntraDirectoryAudits,
            now() - TimeDelta::hours(2),
            &format!("k{n:06}"),
        )
    };
    let get_one = |r: &Router, id: &str| {
        let (r, id) = (r.clone(), id.to_string());
        async move { call(&r, "GET", &format!("/events/{id}"), Some("reader"), None).await }
    };

    // Line 2 of the raw page, as Microsoft sent it, with the reference kept.
    let one = get_one(&with_raw, &id_of(2)).await;
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
    for id in [id_of(4), id_of(5)] {
        let r = get_one(&with_raw, &id).await;
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
    let r = get_one(&without, &id_of(2)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["event"]["raw"].is_null());
    assert_eq!(r.body["event"]["raw_ref"]["key"], key);
}
