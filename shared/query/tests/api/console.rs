//! The web console's routes (`shared/query/src/console.rs`): the page and its hashed assets are
//! served without a token, with the strict CSP (the configured authority's origin, and only it,
//! in `connect-src`), `nosniff`, no framing, year-long immutable caching for hashed names and
//! `no-cache` for the page; `/console-config.json` serves the typed configuration; nothing else
//! became static (other paths are still the API: 404 JSON or 401).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use domain::config::QueryConfig;
use http_body_util::BodyExt;
use query::{QueryApp, QueryPorts, router};
use serde_json::Value;
use testkit::clock::ManualClock;
use testkit::memory::{MemoryEventStore, MemoryStateStore};
use tower::ServiceExt;

use crate::support::{TENANT, now, settings, tokens};

const LOGIN: &str = "http://127.0.0.1:4555";

fn console_router(extra: &[(&str, &str)]) -> Router {
    let mut vars: Vec<(String, String)> = [
        ("AUDITLAKE_TENANT_ID", TENANT),
        ("AUDITLAKE_EVENTS_TABLE", "events"),
        ("AUDITLAKE_STATE_TABLE", "state"),
        ("AUDITLAKE_API_AUDIENCE", "api://auditlake"),
        ("AUDITLAKE_LOGIN_URL", LOGIN),
        (
            "AUDITLAKE_CONSOLE_CLIENT_ID",
            "0c7e4b2a-9d3f-4a61-b8e5-3f2a1d6c9e47",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = QueryConfig::from_vars(vars).expect("configuration");
    let app = QueryApp::new(
        QueryPorts::over(
            Arc::new(MemoryEventStore::default()),
            Arc::new(MemoryStateStore::default()),
            Arc::new(tokens()),
            Arc::new(ManualClock::new(now())),
        ),
        settings(1000),
        b"test cursor key",
    )
    .with_console(config.console);
    router(app)
}

async fn fetch(r: &Router, method: &str, uri: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let resp = r.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, bytes)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// The CSP's directives, name -> sources.
fn csp(h: &HeaderMap) -> std::collections::BTreeMap<String, Vec<String>> {
    header(h, "content-security-policy")
        .split(';')
        .filter_map(|d| {
            let mut w = d.split_whitespace();
            Some((
                w.next()?.to_string(),
                w.map(str::to_string).collect::<Vec<_>>(),
            ))
        })
        .collect()
}

fn assert_secure(h: &HeaderMap) {
    let p = csp(h);
    assert_eq!(p["default-src"], ["'none'"]);
    assert_eq!(
        p["script-src"],
        ["'self'"],
        "no inline script, no eval, no CDN"
    );
    assert_eq!(p["style-src"], ["'self'"]);
    assert_eq!(p["connect-src"], ["'self'", LOGIN]);
    assert_eq!(p["frame-ancestors"], ["'none'"]);
    assert_eq!(p["object-src"], ["'none'"]);
    assert_eq!(p["base-uri"], ["'none'"]);
    assert_eq!(p["require-trusted-types-for"], ["'script'"]);
    for sources in p.values() {
        for s in sources {
            assert!(!s.contains("unsafe") && s != "*", "{s}");
        }
    }
    assert_eq!(header(h, "x-content-type-options"), "nosniff");
    assert_eq!(header(h, "x-frame-options"), "DENY");
    assert_eq!(header(h, "referrer-policy"), "no-referrer");
}

#[tokio::test]
async fn the_page_is_served_without_a_token_with_the_strict_policy_and_no_cache() {
    let r = console_router(&[]);
    let (status, h, body) = fetch(&r, "GET", "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&h, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&h, "cache-control"), "no-cache");
    assert_secure(&h);
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("<script type=\"module\" src=\"/assets/app-"));
    let (status, h, _) = fetch(&r, "HEAD", "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_secure(&h);
}

#[tokio::test]
async fn every_asset_the_page_names_is_immutable_and_typed() {
    let r = console_router(&[]);
    let (_, _, body) = fetch(&r, "GET", "/").await;
    let page = String::from_utf8(body).unwrap();
    let named: Vec<&str> = page
        .split("\"/assets/")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert_eq!(named.len(), 2, "{page}");
    for name in named {
        let (status, h, body) = fetch(&r, "GET", &format!("/assets/{name}")).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(
            header(&h, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        let want = if name.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(header(&h, "content-type"), want);
        assert_secure(&h);
        assert_eq!(
            body,
            console::asset(name).unwrap().bytes,
            "served as embedded"
        );
    }
}

#[tokio::test]
async fn unknown_assets_and_other_paths_stay_the_api() {
    let r = console_router(&[]);
    for uri in [
        "/assets/app-0000000000000000.js",
        "/assets/..%2Findex.html",
        "/index.html",
        "/assets",
        "/no-such-route",
    ] {
        let (status, h, body) = fetch(&r, "GET", uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(header(&h, "content-type").starts_with("application/json"));
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "not_found", "{uri}");
    }
    // The API routes still need a token.
    let (status, _, _) = fetch(&r, "GET", "/events").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = fetch(&r, "POST", "/").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_configuration_is_served_from_the_typed_config() {
    let r = console_router(&[]);
    let (status, h, body) = fetch(&r, "GET", "/console-config.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_secure(&h);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["client_id"], "0c7e4b2a-9d3f-4a61-b8e5-3f2a1d6c9e47");
    assert_eq!(v["authority"], format!("{LOGIN}/{TENANT}/v2.0"));
    assert_eq!(
        v["authorization_endpoint"],
        format!("{LOGIN}/{TENANT}/oauth2/v2.0/authorize")
    );
    assert_eq!(
        v["token_endpoint"],
        format!("{LOGIN}/{TENANT}/oauth2/v2.0/token")
    );
    assert_eq!(
        v["scopes"],
        serde_json::json!(["api://auditlake/access_as_user"])
    );
    assert_eq!(v["auth_disabled"], false);

    // A configured authority moves the endpoints and the CSP's connect-src with it.
    let r = console_router(&[
        (
            "AUDITLAKE_CONSOLE_AUTHORITY",
            "https://login.microsoftonline.us/contoso.onmicrosoft.us/v2.0",
        ),
        ("AUDITLAKE_CONSOLE_SCOPES", "api://x/a, api://x/b"),
    ]);
    let (_, h, body) = fetch(&r, "GET", "/console-config.json").await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v["token_endpoint"],
        "https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/token"
    );
    assert_eq!(v["scopes"], serde_json::json!(["api://x/a", "api://x/b"]));
    assert_eq!(
        csp(&h)["connect-src"],
        ["'self'", "https://login.microsoftonline.us"]
    );
}

#[test]
fn an_authority_over_plain_http_to_another_host_is_a_configuration_error() {
    let err = QueryConfig::from_vars(
        [
            ("AUDITLAKE_TENANT_ID", TENANT),
            ("AUDITLAKE_EVENTS_TABLE", "events"),
            ("AUDITLAKE_STATE_TABLE", "state"),
            ("AUDITLAKE_API_AUDIENCE", "api://auditlake"),
            ("AUDITLAKE_CONSOLE_AUTHORITY", "http://login.example/t/v2.0"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("AUDITLAKE_CONSOLE_AUTHORITY"), "{err}");
}
