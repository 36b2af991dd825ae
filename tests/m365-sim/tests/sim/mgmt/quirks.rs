//! Microsoft's quirks, each on and off: the listing delay, late and unordered records, the last
//! record repeated, blobs re-listed, early expiry, `Audit.Exchange` disabled, and the quirks
//! switch turning on `NextPageUrl` and AF429 as 403.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::SecondsFormat;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::mgmt::*;
use crate::support::{NOW, TestResult, t};

/// Every quirk off (the default): blobs are listed at contentCreated and expire 7 days later,
/// records lie 60-90 minutes before the blob and are time-ordered, no record is in two blobs,
/// no blob is listed twice, and no subscription is ever disabled.
#[tokio::test]
async fn no_quirk_happens_when_off() -> TestResult {
    let api = Api::new(config(|c| {
        c.now = Some(t(NOW_OFF));
        c.days = 4;
    }))
    .await?;
    api.start_all().await?;
    let mut seen: HashMap<String, String> = HashMap::new();
    for ct in TYPES {
        let blobs = api.pull(ct, 4).await?;
        assert_eq!(blobs.len(), 4 * 144, "{ct}: every blob once, none twice");
        for (item, records) in &blobs {
            let created = ms(item["contentCreated"].as_str().unwrap_or_default());
            let expires = ms(item["contentExpiration"].as_str().unwrap_or_default());
            assert_eq!(expires - created, 7 * DAY * 1000);
            let id = item["contentId"].as_str().unwrap_or_default();
            let times: Vec<i64> = records
                .iter()
                .map(|r| {
                    ms(&format!(
                        "{}Z",
                        r["CreationTime"].as_str().unwrap_or_default()
                    ))
                })
                .collect();
            assert!(times.windows(2).all(|w| w[0] <= w[1]), "{id}: ordered");
            for time in times {
                let before = created - time;
                assert!(
                    (3600 * 1000..=5400 * 1000).contains(&before),
                    "{id}: a record {before} ms before its blob"
                );
            }
            for rid in ids_of(records) {
                assert!(
                    seen.insert(rid.clone(), id.to_string()).is_none(),
                    "{rid} in two blobs"
                );
            }
        }
    }
    let truth = api.truth("detail=true").await?;
    for b in truth["blobs"].as_array().cloned().unwrap_or_default() {
        assert_eq!(b["listed_at"], b["content_created"]);
    }
    for _ in 0..25 {
        let (s, _, body) = api
            .get(&format!("subscriptions/content?contentType={EXCHANGE}"))
            .await?;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let stats = api.stats().await?;
    assert_eq!(stats["mgmt"]["disabled"], json!({}));
    Ok(())
}

#[tokio::test]
async fn quirk_listing_delay_lists_blobs_after_their_creation() -> TestResult {
    let api = Api::new(config(|c| c.mgmt_listing_delay_secs = 5400)).await?;
    api.start_all().await?;
    let now = t(NOW);
    // The truth two hours ahead knows when each blob of the last two hours gets listed.
    let ahead = api
        .truth(&format!(
            "until={}&stream={EXCHANGE}&detail=true",
            (now + chrono::Duration::hours(2)).to_rfc3339_opts(SecondsFormat::Secs, true)
        ))
        .await?;
    let mut delays = Vec::new();
    let mut pending = BTreeSet::new();
    let mut listed = BTreeSet::new();
    for b in ahead["blobs"].as_array().cloned().unwrap_or_default() {
        let created = ms(b["content_created"].as_str().unwrap_or_default());
        let at_ms = ms(b["listed_at"].as_str().unwrap_or_default());
        delays.push(at_ms - created);
        let id = b["content_id"].as_str().unwrap_or_default().to_string();
        if created >= now.timestamp_millis() - 2 * HOUR * 1000 && created < now.timestamp_millis() {
            if at_ms > now.timestamp_millis() {
                pending.insert(id);
            } else {
                listed.insert(id);
            }
        }
    }
    assert!(delays.iter().all(|d| (0..=5400 * 1000).contains(d)));
    assert!(delays.iter().any(|d| *d > 3600 * 1000));
    assert!(!pending.is_empty(), "some recent blobs are not listed yet");
    let window = (at(now, -2 * HOUR), at(now, 0));
    let (items, _) = api.list_all(EXCHANGE, &window.0, &window.1).await?;
    let got: BTreeSet<String> = items
        .iter()
        .filter_map(|i| i["contentId"].as_str().map(str::to_string))
        .collect();
    assert_eq!(got, listed);
    // Sorted by when they became available, not by contentCreated.
    let created: Vec<i64> = items
        .iter()
        .map(|i| ms(i["contentCreated"].as_str().unwrap_or_default()))
        .collect();
    assert!(created.windows(2).any(|w| w[0] > w[1]), "{created:?}");
    // Two hours later the same window also lists the late ones.
    api.advance(2 * HOUR).await?;
    let (items, _) = api.list_all(EXCHANGE, &window.0, &window.1).await?;
    let got: BTreeSet<String> = items
        .iter()
        .filter_map(|i| i["contentId"].as_str().map(str::to_string))
        .collect();
    assert_eq!(got, listed.union(&pending).cloned().collect());
    Ok(())
}

#[tokio::test]
async fn quirk_late_records_are_days_old_and_unordered() -> TestResult {
    let api = Api::new(config(|c| c.mgmt_late_records = true)).await?;
    api.start_all().await?;
    let mut late_blobs = 0;
    let mut unordered = 0;
    let mut blobs_total = 0;
    for ct in [EXCHANGE, "Audit.SharePoint", "Audit.AzureActiveDirectory"] {
        for (item, records) in api.pull(ct, 1).await? {
            blobs_total += 1;
            let created = ms(item["contentCreated"].as_str().unwrap_or_default());
            let times: Vec<i64> = records
                .iter()
                .map(|r| {
                    ms(&format!(
                        "{}Z",
                        r["CreationTime"].as_str().unwrap_or_default()
                    ))
                })
                .collect();
            let late = times
                .iter()
                .filter(|t| created - **t >= 3 * DAY * 1000)
                .count();
            assert!(
                times
                    .iter()
                    .all(|t| (3600 * 1000..=5 * DAY * 1000).contains(&(created - t))),
                "{times:?}"
            );
            if late > 0 {
                late_blobs += 1;
            }
            if times.windows(2).any(|w| w[0] > w[1]) {
                unordered += 1;
            }
        }
    }
    // About 5% of 432 blobs.
    assert!(
        (8..=45).contains(&late_blobs),
        "{late_blobs} of {blobs_total}"
    );
    assert!(unordered > blobs_total / 2, "{unordered} of {blobs_total}");
    Ok(())
}

#[tokio::test]
async fn quirk_repeat_last_repeats_the_previous_blobs_last_record() -> TestResult {
    let api = Api::new(config(|c| c.mgmt_repeat_last = true)).await?;
    api.start_all().await?;
    let now = t(NOW);
    for ct in [EXCHANGE, "Audit.General"] {
        let (items, _) = api.list_all(ct, &at(now, -6 * HOUR), &at(now, 0)).await?;
        assert_eq!(items.len(), 36);
        let mut raw = Vec::new();
        for item in &items {
            raw.push(
                api.fetch_raw(item["contentUri"].as_str().unwrap_or_default())
                    .await?,
            );
        }
        let mut repeats = 0;
        for pair in raw.windows(2) {
            if let (Some(last), Some(first)) = (pair[0].last(), pair[1].first())
                && pair[0].len() > 1
            {
                assert_eq!(first, last, "{ct}: same record, same bytes");
                repeats += 1;
            }
        }
        assert!(repeats >= 20, "{ct}: {repeats}");
    }
    Ok(())
}

#[tokio::test]
async fn quirk_relist_lists_a_blob_again_days_later() -> TestResult {
    let api = Api::new(config(|c| {
        c.mgmt_relist = true;
        c.days = 7;
    }))
    .await?;
    api.start_all().await?;
    let now = t(NOW);
    let mut by_id: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for d in (1..=6).rev() {
        let (items, _) = api
            .list_all(EXCHANGE, &at(now, -d * DAY), &at(now, -(d - 1) * DAY))
            .await?;
        for item in items {
            by_id
                .entry(item["contentId"].as_str().unwrap_or_default().to_string())
                .or_default()
                .push(item);
        }
    }
    let twice: Vec<&Vec<Value>> = by_id.values().filter(|v| v.len() > 1).collect();
    // About 3% of the blobs whose second listing falls inside the six days.
    assert!((3..=40).contains(&twice.len()), "{}", twice.len());
    for pair in twice {
        assert_eq!(pair.len(), 2);
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!(a["contentUri"], b["contentUri"]);
        assert_eq!(a["contentExpiration"], b["contentExpiration"]);
        let gap = ms(b["contentCreated"].as_str().unwrap_or_default())
            - ms(a["contentCreated"].as_str().unwrap_or_default());
        assert!((DAY * 1000..=3 * DAY * 1000).contains(&gap), "{gap}");
        let uri = a["contentUri"].as_str().unwrap_or_default();
        let first = api.fetch_text(uri).await?;
        let second = api.fetch_text(uri).await?;
        assert_eq!(first, second);
    }
    Ok(())
}

#[tokio::test]
async fn quirk_early_expiry_expires_blobs_twenty_minutes_after_listing() -> TestResult {
    let api = Api::new(config(|c| {
        c.mgmt_early_expiry = true;
        c.days = 3;
    }))
    .await?;
    api.start_all().await?;
    let now = t(NOW);
    let mut early = Vec::new();
    let mut normal = Vec::new();
    for d in (1..=3).rev() {
        let (items, _) = api
            .list_all(EXCHANGE, &at(now, -d * DAY), &at(now, -(d - 1) * DAY))
            .await?;
        for item in items {
            let life = ms(item["contentExpiration"].as_str().unwrap_or_default())
                - ms(item["contentCreated"].as_str().unwrap_or_default());
            if life == 20 * 60 * 1000 {
                early.push(item);
            } else {
                assert_eq!(life, 7 * DAY * 1000);
                normal.push(item);
            }
        }
    }
    assert!((3..=35).contains(&early.len()), "{}", early.len());
    let gone = &early[0];
    let (s, body) = api
        .fetch_text(gone["contentUri"].as_str().unwrap_or_default())
        .await?;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("AF20051"), "{body}");
    let (s, _) = api
        .fetch_text(normal[0]["contentUri"].as_str().unwrap_or_default())
        .await?;
    assert_eq!(s, StatusCode::OK);
    let truth = api.truth(&format!("stream={EXCHANGE}&detail=true")).await?;
    let expired = strs(&truth["expired_content_ids"]);
    assert_eq!(expired.len(), early.len());
    assert!(expired.contains(&gone["contentId"].as_str().unwrap_or_default().to_string()));
    assert!(!strs(&truth["expired_ids"]).is_empty());
    Ok(())
}

#[tokio::test]
async fn quirk_disable_after_disables_exchange_once() -> TestResult {
    let api = Api::new(config(|c| c.mgmt_disable_after = Some(3))).await?;
    api.start_all().await?;
    let url = |ct: &str| format!("subscriptions/content?contentType={ct}");
    for ct in [EXCHANGE, "Audit.General", EXCHANGE] {
        let (s, _, _) = api.get(&url(ct)).await?;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, _, body) = api.get(&url(EXCHANGE)).await?;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "AF20023"));
    let (s, _, _) = api.get(&url("Audit.General")).await?;
    assert_eq!(s, StatusCode::OK, "other types stay enabled");
    let (_, _, list) = api.get("subscriptions/list").await?;
    assert_eq!(
        list[1],
        json!({"contentType": EXCHANGE, "status": "disabled", "webhook": null})
    );
    let stats = api.stats().await?;
    assert_eq!(stats["mgmt"]["disabled"], json!({EXCHANGE: 1}));
    // Starting it again works (no AF20024), and it is not disabled a second time.
    let (s, _) = api.start_sub(EXCHANGE).await?;
    assert_eq!(s, StatusCode::OK);
    for _ in 0..10 {
        let (s, _, _) = api.get(&url(EXCHANGE)).await?;
        assert_eq!(s, StatusCode::OK);
    }
    let stats = api.stats().await?;
    assert_eq!(stats["mgmt"]["disabled"], json!({EXCHANGE: 1}));
    assert_eq!(stats["mgmt"]["subscription_starts"][EXCHANGE], json!(2));
    Ok(())
}

#[tokio::test]
async fn quirks_switch_turns_on_next_page_url_and_403() -> TestResult {
    let api = Api::new(config(|c| {
        c.mgmt_quirks = true;
        c.mgmt_page_size = 5;
    }))
    .await?;
    api.start_all().await?;
    let (s, h, _) = api
        .get(&format!("subscriptions/content?contentType={EXCHANGE}"))
        .await?;
    assert_eq!(s, StatusCode::OK);
    assert!(h.get("NextPageUri").is_none());
    let next = h
        .get("NextPageUrl")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(next.contains("&nextPage="), "{next}");
    let (s, _, body) = api.get(&next).await?;
    assert_eq!(s, StatusCode::OK, "{body}");
    api.c
        .post(format!("{}/_sim/faults", api.base()))
        .json(&json!({"fault_429": 1.0, "fault_5xx": 0.0}))
        .send()
        .await?;
    let (s, _, body) = api.get(&next).await?;
    assert_eq!((s, code(&body)), (StatusCode::FORBIDDEN, "AF429"));
    Ok(())
}
