//! The Management Activity API's documented answers (the shared corpus's
//! `mgmt-activity-api-responses`, read in place) through the parsers the puller uses. Every
//! file must be known here, so a new sample cannot go unread.

use collector::sources::m365_activity::{
    next_page_header, parse_blob, parse_listing, parse_subscriptions,
};
use serde_json::Value;
use std::path::PathBuf;

use crate::support::corpus_missing;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/mgmt-activity-api-responses")
}

fn body(v: &Value) -> Vec<u8> {
    serde_json::to_vec(&v["body"]).unwrap()
}

fn headers(v: &Value) -> reqwest::header::HeaderMap {
    let mut h = reqwest::header::HeaderMap::new();
    for (k, val) in v["headers"].as_object().into_iter().flatten() {
        h.insert(
            reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            val.as_str().unwrap().parse().unwrap(),
        );
    }
    h
}

#[test]
fn every_documented_answer_is_read_as_the_puller_reads_it() {
    let dir = dir();
    if !dir.is_dir() {
        corpus_missing(&dir, "Management API answers");
        return;
    }
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        match name.as_str() {
            "msdocs_subscriptions-content_response.json"
            | "msdocs-troubleshooting_subscriptions-content_response.json"
            | "msdocs_subscriptions-notifications_response.json"
            | "msdocs_webhook-notification_request.json" => {
                let items = parse_listing(&body(&v)).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(!items.is_empty(), "{name}");
                for i in &items {
                    assert!(i.content_id.contains('$'), "{name}: {i:?}");
                    assert!(i.content_uri.ends_with(&i.content_id), "{name}: {i:?}");
                    assert!(i.created().is_some(), "{name}: contentCreated {i:?}");
                    assert!(i.expires().is_some(), "{name}: contentExpiration {i:?}");
                    assert!(i.expires() > i.created(), "{name}: {i:?}");
                }
            }
            "msdocs_subscriptions-content_nextpage-header_response.json"
            | "msdocs_subscriptions-notifications_nextpage-header_response.json" => {
                // Taken verbatim, `/api/v1/` and all; a null body is an empty page.
                let next = next_page_header(&headers(&v)).expect("NextPageUri");
                assert_eq!(next, v["headers"]["NextPageUri"].as_str().unwrap());
                assert!(next.contains("nextPage="), "{next}");
                assert!(parse_listing(&body(&v)).unwrap().is_empty(), "{name}");
            }
            "msdocs_subscriptions-list_response.json"
            | "msdocs_subscriptions-start_response.json" => {
                let subs = parse_subscriptions(&body(&v)).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(!subs.is_empty(), "{name}");
                assert!(
                    subs.iter().all(|s| s.content_type.contains('.')),
                    "{subs:?}"
                );
                assert!(subs.iter().any(|s| s.enabled), "{name}: {subs:?}");
            }
            "msdocs_retrieve-content_response.json" => {
                let records = parse_blob(&body(&v)).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(!records.is_empty(), "{name}");
                // Kept byte for byte: each record is the corpus's object.
                for (r, orig) in records.iter().zip(v["body"].as_array().unwrap()) {
                    let back: Value = serde_json::from_str(r.get()).unwrap();
                    assert_eq!(&back, orig, "{name}");
                }
            }
            // Answers the puller never reads: stop (it never stops a subscription), the
            // webhook validation (it polls; Microsoft recommends polling) and the DLP
            // sensitive-type names (normalized events keep the type ids). They still must
            // be the documented empty or id/name shapes.
            "msdocs_subscriptions-stop_response.json"
            | "msdocs_webhook-validation_response.json" => {
                assert_eq!(v["status"], 200, "{name}");
                assert!(v["body"].is_null(), "{name}");
            }
            "msdocs_resources-dlpSensitiveTypes_response.json" => {
                let types = v["body"].as_array().expect("array");
                assert!(
                    types
                        .iter()
                        .all(|t| t["id"].is_string() && t["name"].is_string())
                );
            }
            other => panic!("{other}: a Management API sample this test does not know; add it"),
        }
        checked += 1;
    }
    assert!(checked >= 12, "{checked} files");
}
