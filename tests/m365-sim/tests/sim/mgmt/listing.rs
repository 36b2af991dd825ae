//! Content listings: every window rule with its error code, and a day listed at page size ten
//! through `NextPageUri`, every blob once and in order.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::mgmt::*;
use crate::support::{NOW, TENANT, TestResult, t};

#[tokio::test]
async fn every_window_rule_and_its_error_code() -> TestResult {
    let api = Api::new(config(|c| c.days = 8)).await?;
    api.start_all().await?;
    let now = t(NOW);
    let q = |extra: &str| format!("subscriptions/content?contentType={EXCHANGE}{extra}");
    let cases: Vec<(String, StatusCode, &str)> = vec![
        // Both or neither.
        (
            format!("&startTime={}", at(now, -HOUR)),
            StatusCode::BAD_REQUEST,
            "AF20030",
        ),
        (
            format!("&endTime={}", at(now, -HOUR)),
            StatusCode::BAD_REQUEST,
            "AF20030",
        ),
        // Start before end.
        (
            format!("&startTime={0}&endTime={0}", at(now, -HOUR)),
            StatusCode::BAD_REQUEST,
            "AF20030",
        ),
        (
            format!(
                "&startTime={}&endTime={}",
                at(now, -HOUR),
                at(now, -2 * HOUR)
            ),
            StatusCode::BAD_REQUEST,
            "AF20030",
        ),
        // At most 24 h.
        (
            format!("&startTime={}&endTime={}", at(now, -DAY - 1), at(now, 0)),
            StatusCode::BAD_REQUEST,
            "AF20030",
        ),
        (
            format!("&startTime={}&endTime={}", at(now, -DAY), at(now, 0)),
            StatusCode::OK,
            "",
        ),
        // Start at most 7 days ago, and not in the future.
        (
            format!(
                "&startTime={}&endTime={}",
                at(now, -7 * DAY - 1),
                at(now, -6 * DAY - 1)
            ),
            StatusCode::BAD_REQUEST,
            "AF20055",
        ),
        (
            format!(
                "&startTime={}&endTime={}",
                at(now, -7 * DAY),
                at(now, -6 * DAY)
            ),
            StatusCode::OK,
            "",
        ),
        (
            format!("&startTime={}&endTime={}", at(now, HOUR), at(now, 2 * HOUR)),
            StatusCode::BAD_REQUEST,
            "AF20055",
        ),
        // The end may lie in the future.
        (
            format!("&startTime={}&endTime={}", at(now, -HOUR), at(now, HOUR)),
            StatusCode::OK,
            "",
        ),
        // Formats.
        (
            "&startTime=2026-07-17&endTime=2026-07-17T11:00".to_string(),
            StatusCode::OK,
            "",
        ),
        (
            "&startTime=2026-07-16T12:00:00.000Z&endTime=2026-07-17T11:59:59Z".to_string(),
            StatusCode::OK,
            "",
        ),
        (
            "&startTime=2026-07-17T10&endTime=2026-07-17T11:00".to_string(),
            StatusCode::BAD_REQUEST,
            "AF20002",
        ),
        (
            "&startTime=yesterday&endTime=today".to_string(),
            StatusCode::BAD_REQUEST,
            "AF20002",
        ),
        // Extreme but well-formed times are refused, not overflowed.
        (
            "&startTime=1700-01-01&endTime=2260-01-01".to_string(),
            StatusCode::BAD_REQUEST,
            "AF20030",
        ),
        (
            "&startTime=1500-01-01&endTime=1500-01-02".to_string(),
            StatusCode::BAD_REQUEST,
            "AF20002",
        ),
        (
            "&startTime=2026-07-17T10:00:00%2B02:00&endTime=2026-07-17T11:00".to_string(),
            StatusCode::BAD_REQUEST,
            "AF20002",
        ),
        // Paging tokens.
        (
            format!(
                "&startTime={}&endTime={}&nextPage=bogus",
                at(now, -HOUR),
                at(now, 0)
            ),
            StatusCode::BAD_REQUEST,
            "AF20031",
        ),
    ];
    for (extra, status, want) in cases {
        let (s, _, body) = api.get(&q(&extra)).await?;
        assert_eq!(s, status, "{extra}: {body}");
        if status == StatusCode::OK {
            assert!(body.is_array(), "{extra}: {body}");
        } else {
            assert_eq!(code(&body), want, "{extra}: {body}");
        }
    }
    // Neither bound: the last 24 h.
    let (s, h, body) = api.get(&q("")).await?;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h.get("NextPageUri").is_some(),
        "144 blobs need two pages of 100"
    );
    let mut items = body.as_array().cloned().unwrap_or_default();
    let next = h
        .get("NextPageUri")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (_, _, rest) = api.get(&next).await?;
    items.extend(rest.as_array().cloned().unwrap_or_default());
    let (explicit, _) = api.list_all(EXCHANGE, &at(now, -DAY), &at(now, 0)).await?;
    assert_eq!(items, explicit);
    assert_eq!(items.len(), 144);
    // The window is over contentCreated: [start, end).
    let (one, _) = api
        .list_all(EXCHANGE, "2026-07-17T10:00", "2026-07-17T10:20")
        .await?;
    let created: Vec<&str> = one
        .iter()
        .filter_map(|i| i["contentCreated"].as_str())
        .collect();
    assert_eq!(
        created,
        ["2026-07-17T10:00:00.000Z", "2026-07-17T10:10:00.000Z"]
    );
    Ok(())
}

#[tokio::test]
async fn paging_a_day_at_page_size_ten_lists_every_blob_once_in_order() -> TestResult {
    let api = Api::new(config(|c| c.mgmt_page_size = 10)).await?;
    api.start_all().await?;
    let now = t(NOW);
    let (start_s, end_s) = (at(now, -DAY), at(now, 0));
    // The first page's header: same contentType, start and end, plus nextPage.
    let first = format!(
        "subscriptions/content?contentType={EXCHANGE}&startTime={start_s}&endTime={end_s}&PublisherIdentifier={TENANT}"
    );
    let (s, h, body) = api.get(&first).await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body.as_array().map(Vec::len), Some(10));
    let next = h
        .get("NextPageUri")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let prefix = format!(
        "{}/subscriptions/content?contentType={EXCHANGE}&startTime={start_s}&endTime={end_s}&PublisherIdentifier={TENANT}&nextPage=",
        api.feed()
    );
    assert!(next.starts_with(&prefix), "{next}");
    assert!(next.len() > prefix.len());

    let (items, pages) = api.list_all(EXCHANGE, &start_s, &end_s).await?;
    assert_eq!(items.len(), 144);
    assert_eq!(pages, 15, "144 items at 10 per page");
    let ids: Vec<&str> = items
        .iter()
        .filter_map(|i| i["contentId"].as_str())
        .collect();
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        144,
        "every blob once"
    );
    let created: Vec<i64> = items
        .iter()
        .map(|i| ms(i["contentCreated"].as_str().unwrap_or_default()))
        .collect();
    assert!(created.windows(2).all(|w| w[0] < w[1]), "in order");
    assert_eq!(
        created.first(),
        Some(&(now.timestamp_millis() - DAY * 1000))
    );
    for item in &items {
        let id = item["contentId"].as_str().unwrap_or_default();
        assert_eq!(item["contentType"], EXCHANGE);
        assert_eq!(
            item["contentUri"],
            json!(format!("{}/audit/{id}", api.feed()))
        );
        let c = item["contentCreated"].as_str().unwrap_or_default();
        let e = item["contentExpiration"].as_str().unwrap_or_default();
        assert_eq!(c.len(), 24, "{c}");
        assert!(c.ends_with(".000Z"), "{c}");
        assert_eq!(ms(e) - ms(c), 7 * DAY * 1000);
        let parts: Vec<&str> = id.split('$').collect();
        assert_eq!(parts.len(), 5, "{id}");
        assert_eq!(&parts[2..4], ["audit_exchange", "Audit_Exchange"]);
        assert_eq!(parts[0].len(), 23);
        assert_eq!(
            &parts[0][..14],
            t(c).format("%Y%m%d%H%M%S").to_string().as_str()
        );
    }
    // The same listing matches the truth's blobs of that window.
    let truth = api
        .truth(&format!("until={NOW}&stream={EXCHANGE}&detail=true"))
        .await?;
    let lo = ms(&format!("{start_s}Z"));
    let hi = ms(&format!("{end_s}Z"));
    let expected: Vec<&str> = truth["blobs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|b| {
                    let c = ms(b["content_created"].as_str().unwrap_or_default());
                    c >= lo && c < hi
                })
                .filter_map(|b| b["content_id"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(ids, expected);
    let stats = api.stats().await?;
    assert_eq!(stats["mgmt"]["listings"], json!(16));
    Ok(())
}
