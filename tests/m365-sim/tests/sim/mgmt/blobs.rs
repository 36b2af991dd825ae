//! Blobs: fetched and expired on the virtual clock; the ground truth (`/_sim/truth/m365-activity`)
//! as the union of every fetched record, its expired ids as records no blob holds any more;
//! determinism by seed; empty blobs when there are no events.

use std::collections::{BTreeSet, HashSet};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::mgmt::*;
use crate::support::{NOW, TestResult, t};

#[tokio::test]
async fn blobs_fetch_and_expire_on_the_virtual_clock() -> TestResult {
    let api = Api::new(config(|_| {})).await?;
    api.start_all().await?;
    let now = t(NOW);
    let (items, _) = api
        .list_all(EXCHANGE, &at(now, -2 * HOUR), &at(now, 0))
        .await?;
    assert_eq!(items.len(), 12);
    let uri = items[0]["contentUri"].as_str().unwrap_or_default();
    let id = items[0]["contentId"].as_str().unwrap_or_default();
    let (s, text) = api.fetch_text(uri).await?;
    assert_eq!(s, StatusCode::OK);
    let records: Vec<Value> = serde_json::from_str(&text)?;
    assert!(!records.is_empty());
    // The same blob with `$` percent-encoded.
    let encoded = format!("{}/audit/{}", api.feed(), id.replace('$', "%24"));
    let (s, again) = api.fetch_text(&encoded).await?;
    assert_eq!((s, &again), (StatusCode::OK, &text));
    // The truth counts its records.
    let truth = api.truth(&format!("stream={EXCHANGE}&detail=true")).await?;
    let blob = truth["blobs"]
        .as_array()
        .and_then(|a| a.iter().find(|b| b["content_id"] == json!(id)))
        .cloned()
        .unwrap_or_default();
    assert_eq!(blob["records"], json!(records.len()));
    assert_eq!(blob["fetches"], json!(2));

    // Unknown and malformed ids.
    let forged = id
        .rsplit_once('$')
        .map(|(a, _)| format!("{a}$zz9999"))
        .unwrap_or_default();
    let (s, body) = api
        .fetch_text(&format!("{}/audit/{forged}", api.feed()))
        .await?;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(code(&serde_json::from_str(&body)?), "AF20050");
    let (s, body) = api
        .fetch_text(&format!("{}/audit/not-a-blob", api.feed()))
        .await?;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(code(&serde_json::from_str(&body)?), "AF20052");
    // A stamp at the end of representable time is simply unknown.
    let far = format!(
        "22620411234700000000000$22620411235700000000000$audit_exchange$Audit_Exchange${}",
        id.rsplit('$').next().unwrap_or_default()
    );
    let (s, body) = api
        .fetch_text(&format!("{}/audit/{far}", api.feed()))
        .await?;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    // A blob that is not listed yet does not exist.
    let future = id.replacen(
        &id[..14],
        &(now + chrono::Duration::hours(1))
            .format("%Y%m%d%H%M%S")
            .to_string(),
        1,
    );
    let (s, body) = api
        .fetch_text(&format!("{}/audit/{future}", api.feed()))
        .await?;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code(&serde_json::from_str(&body)?), "AF20050");

    // Seven days after contentCreated it has expired; a later blob has not.
    let created = t(items[0]["contentCreated"].as_str().unwrap_or_default());
    let to_expiry = (created + chrono::Duration::days(7) - now).num_seconds();
    api.advance(to_expiry - 1).await?;
    let (s, _) = api.fetch_text(uri).await?;
    assert_eq!(s, StatusCode::OK, "one second before expiry");
    api.advance(1).await?;
    let (s, body) = api.fetch_text(uri).await?;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        serde_json::from_str::<Value>(&body)?,
        json!({"error": {"code": "AF20051", "message": format!("Content requested with the key {id} has already expired. Content older than 7 days cannot be retrieved.")}})
    );
    let (s, _) = api
        .fetch_text(items[1]["contentUri"].as_str().unwrap_or_default())
        .await?;
    assert_eq!(s, StatusCode::OK);
    let stats = api.stats().await?;
    assert_eq!(stats["mgmt"]["blob_fetches"], json!(4));
    assert_eq!(stats["mgmt"]["blobs_fetched_twice"], json!(1));
    assert_eq!(stats["mgmt"]["expired_fetches"], json!(1));
    Ok(())
}

#[tokio::test]
async fn truth_ids_are_the_union_of_every_fetched_record() -> TestResult {
    let api = Api::new(config(|c| c.now = Some(t(NOW_OFF)))).await?;
    api.start_all().await?;
    let mut all = BTreeSet::new();
    for ct in TYPES {
        let blobs = api.pull(ct, 1).await?;
        assert_eq!(blobs.len(), 144, "{ct}");
        let mut mine = BTreeSet::new();
        for (_, records) in &blobs {
            mine.extend(ids_of(records));
        }
        let truth = api.truth(&format!("until={NOW_OFF}&stream={ct}")).await?;
        assert_eq!(truth["stream"], json!(ct));
        assert_eq!(
            strs(&truth["ids"]).into_iter().collect::<BTreeSet<_>>(),
            mine,
            "{ct}"
        );
        all.extend(mine);
    }
    let truth = api.truth(&format!("until={NOW_OFF}")).await?;
    assert_eq!(truth["source"], "m365-activity");
    assert_eq!(truth["as_of"], NOW_OFF);
    let ids = strs(&truth["ids"]);
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), all);
    assert_eq!(ids.len(), all.len(), "ids are distinct");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids are sorted");
    assert_eq!(truth["expired_ids"], json!([]));
    // An earlier `until` holds fewer; an unknown stream is refused.
    let earlier = api.truth("until=2026-07-17T00:00:00Z").await?;
    assert!(strs(&earlier["ids"]).len() < ids.len());
    let resp = api
        .c
        .get(format!(
            "{}/_sim/truth/m365-activity?stream=Audit.Nope",
            api.base()
        ))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let sources: Value = api
        .c
        .get(format!("{}/_sim/sources", api.base()))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        sources.as_array().and_then(|a| a.last()),
        Some(&json!("m365-activity"))
    );
    Ok(())
}

#[tokio::test]
async fn expired_ids_are_lost_records_that_no_fetched_or_fetchable_blob_holds() -> TestResult {
    // Quirk 3 makes neighbouring blobs share a record, which is what the rule is about.
    let cfg = || {
        config(|c| {
            c.now = Some(t(NOW_OFF));
            c.mgmt_repeat_last = true;
        })
    };
    // A reference simulator tells what every blob holds.
    let reference = Api::new(cfg()).await?;
    reference.start_all().await?;
    let blobs = reference.pull(EXCHANGE, 1).await?;
    assert_eq!(blobs.len(), 144);
    // The simulator under test: only every other blob is fetched.
    let api = Api::new(cfg()).await?;
    api.start_all().await?;
    let mut fetched = HashSet::new();
    let mut lost = HashSet::new();
    for (i, (item, records)) in blobs.iter().enumerate() {
        if i % 2 == 0 {
            let got = api
                .fetch(&api.rebase(item["contentUri"].as_str().unwrap_or_default()))
                .await?;
            assert_eq!(&got, records, "same seed, same records");
            fetched.extend(ids_of(records));
        } else {
            lost.extend(ids_of(records));
        }
    }
    // The first blob after that day repeats the day's last record and stays fetchable.
    reference.advance(HOUR).await?;
    let (after, _) = reference
        .list_all(EXCHANGE, "2026-07-17T12:05", "2026-07-17T13:05")
        .await?;
    let next = reference
        .fetch(after[0]["contentUri"].as_str().unwrap_or_default())
        .await?;
    assert_eq!(next.first(), blobs.last().and_then(|b| b.1.last()));
    let kept: HashSet<String> = fetched
        .union(&ids_of(&next).into_iter().collect())
        .cloned()
        .collect();
    let mut expected: Vec<String> = lost.difference(&kept).cloned().collect();
    expected.sort();
    assert!(
        lost.len() > expected.len(),
        "some records of unfetched blobs are repeated in fetched ones"
    );
    // Nothing has expired yet.
    let truth = api.truth(&format!("stream={EXCHANGE}")).await?;
    assert_eq!(truth["expired_ids"], json!([]));
    // Seven days on, every blob of the first day has expired; the unfetched ones are lost.
    api.advance(7 * DAY).await?;
    let until = "2026-07-24T12:05:00Z";
    let truth = api
        .truth(&format!("until={until}&stream={EXCHANGE}&detail=true"))
        .await?;
    assert_eq!(strs(&truth["expired_ids"]), expected);
    let expired_blobs = strs(&truth["expired_content_ids"]);
    let mut odd: Vec<String> = blobs
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, (item, _))| item["contentId"].as_str().unwrap_or_default().to_string())
        .collect();
    odd.sort();
    assert_eq!(expired_blobs, odd);
    // The detail carries each blob's fetch count and record count.
    let detail = truth["blobs"].as_array().cloned().unwrap_or_default();
    let first = blobs[0].0["contentId"].clone();
    let d = detail
        .iter()
        .find(|b| b["content_id"] == first)
        .cloned()
        .unwrap_or_default();
    assert_eq!(d["fetches"], json!(1));
    assert_eq!(d["records"], json!(blobs[0].1.len()));
    assert_eq!(d["content_type"], EXCHANGE);
    assert_eq!(d["content_created"], blobs[0].0["contentCreated"]);
    assert_eq!(d["listed_at"], blobs[0].0["contentCreated"]);
    assert_eq!(d["expiration"], blobs[0].0["contentExpiration"]);
    // Blobs listed after the first day are still fetchable: none of their ids is lost.
    let all = strs(&truth["ids"]);
    assert!(all.len() > fetched.len() + expected.len());
    Ok(())
}

#[tokio::test]
async fn same_seed_same_blobs_and_records() -> TestResult {
    let a = Api::new(config(|c| c.mgmt_quirks = true)).await?;
    let b = Api::new(config(|c| c.mgmt_quirks = true)).await?;
    let other = Api::new(config(|c| {
        c.mgmt_quirks = true;
        c.seed = 2;
    }))
    .await?;
    let ta = a.truth("detail=true").await?;
    let tb = b.truth("detail=true").await?;
    let to = other.truth("detail=true").await?;
    assert_eq!(ta, tb);
    assert!(!strs(&ta["ids"]).is_empty());
    let ids_other: HashSet<String> = strs(&to["ids"]).into_iter().collect();
    assert!(strs(&ta["ids"]).iter().all(|id| !ids_other.contains(id)));
    for api in [&a, &b] {
        api.start_all().await?;
    }
    for ct in TYPES {
        let now = t(NOW);
        let (la, _) = a.list_all(ct, &at(now, -6 * HOUR), &at(now, 0)).await?;
        let (lb, _) = b.list_all(ct, &at(now, -6 * HOUR), &at(now, 0)).await?;
        let strip = |items: &[Value]| -> Vec<Value> {
            items
                .iter()
                .map(|i| {
                    let mut i = i.clone();
                    i["contentUri"] = json!(
                        i["contentUri"]
                            .as_str()
                            .and_then(|u| u.split_once("/api/"))
                            .map(|x| x.1)
                    );
                    i
                })
                .collect()
        };
        assert!(strip(&la) == strip(&lb), "{ct}: listings differ");
        assert!(!la.is_empty());
        for item in la.iter().take(5) {
            let uri = item["contentUri"].as_str().unwrap_or_default();
            let (sa, ra) = a.fetch_text(uri).await?;
            let (sb, rb) = b.fetch_text(&b.rebase(uri)).await?;
            assert!(sa == sb && ra == rb, "{ct}: blob bodies differ");
        }
    }
    Ok(())
}

#[tokio::test]
async fn no_events_means_empty_blobs() -> TestResult {
    let api = Api::new(config(|c| c.events_per_hour = 0)).await?;
    api.start_all().await?;
    let now = t(NOW);
    let (items, _) = api.list_all(EXCHANGE, &at(now, -HOUR), &at(now, 0)).await?;
    assert_eq!(items.len(), 6);
    for item in items {
        let records = api
            .fetch(item["contentUri"].as_str().unwrap_or_default())
            .await?;
        assert!(records.is_empty());
    }
    let truth = api.truth("").await?;
    assert_eq!(truth["ids"], json!([]));
    Ok(())
}
