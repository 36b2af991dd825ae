//! The token endpoint with client secrets (v2, v1 and basic tokens, each cloud's scope) and its
//! Entra errors, and Graph refusing missing, foreign, expired and wrong-audience tokens.

use m365_sim::start;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn token_endpoint_issues_v2_v1_and_basic_tokens() -> TestResult {
    let sim = start(config(|_| {})).await?;
    let c = client();
    let base = sim.base_url();
    for scope in [
        GRAPH_SCOPE,
        "https://manage.office.com/.default",
        "https://graph.microsoft.us/.default",
        "https://microsoftgraph.chinacloudapi.cn/.default",
    ] {
        let resp = c
            .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", SECRET),
                ("scope", scope),
            ])
            .send()
            .await?;
        assert_eq!(resp.status(), StatusCode::OK, "{scope}");
        assert_eq!(
            resp.headers().get("date").and_then(|d| d.to_str().ok()),
            Some("Fri, 17 Jul 2026 12:00:00 GMT")
        );
        let body: Value = resp.json().await?;
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3599);
        assert_eq!(body["ext_expires_in"], 3599);
        assert!(body["access_token"].as_str().is_some_and(|s| s.len() >= 40));
    }
    // HTTP Basic client authentication.
    let resp = c
        .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", GRAPH_SCOPE)])
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let basic_token = resp.json::<Value>().await?["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (status, _, _) = graph_get(&c, &format!("{base}{AUDITS}?$top=1"), &basic_token).await?;
    assert_eq!(status, StatusCode::OK);
    // Legacy v1 endpoint: resource= and string-typed numbers.
    let resp = c
        .post(format!("{base}/{TENANT}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("resource", "https://manage.office.com"),
        ])
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await?;
    assert_eq!(body["expires_in"], "3599");
    let now = t(NOW).timestamp();
    assert_eq!(body["not_before"], now.to_string());
    assert_eq!(body["expires_on"], (now + 3599).to_string());
    assert_eq!(body["resource"], "https://manage.office.com");
    assert_eq!(stats(&c, &sim).await?["tokens_issued"], 6);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn token_errors_match_entra() -> TestResult {
    let sim = start(config(|_| {})).await?;
    let c = client();
    let base = sim.base_url();
    let good = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", SECRET),
        ("scope", GRAPH_SCOPE),
    ];
    let with = |k: &str, v: Option<&'static str>| -> Vec<(&'static str, &'static str)> {
        good.iter()
            .filter_map(|(gk, gv)| {
                if *gk == k {
                    v.map(|v| (*gk, v))
                } else {
                    Some((*gk, *gv))
                }
            })
            .collect()
    };
    // (tenant, form, HTTP status, error, AADSTS code)
    type Case = (
        String,
        Vec<(&'static str, &'static str)>,
        u16,
        &'static str,
        u32,
    );
    let cases: Vec<Case> = vec![
        (
            TENANT.into(),
            with("client_secret", Some("wrong-secret")),
            401,
            "invalid_client",
            7000215,
        ),
        (
            TENANT.into(),
            with("client_secret", None),
            401,
            "invalid_client",
            7000218,
        ),
        (
            TENANT.into(),
            with("client_id", Some("00000000-1111-2222-3333-444444444444")),
            400,
            "unauthorized_client",
            700016,
        ),
        (
            "11111111-2222-3333-4444-555555555555".into(),
            good.to_vec(),
            400,
            "invalid_request",
            90002,
        ),
        (
            TENANT.into(),
            with(
                "scope",
                Some("https://graph.microsoft.com/AuditLog.Read.All"),
            ),
            400,
            "invalid_scope",
            1002012,
        ),
        (
            TENANT.into(),
            with("scope", Some("https://unknown.example.com/.default")),
            400,
            "invalid_scope",
            1002012,
        ),
        (
            TENANT.into(),
            with("scope", Some("https://graph.microsoft.com")),
            400,
            "invalid_scope",
            1002012,
        ),
    ];
    let n = cases.len();
    for (tenant, form, status, error, code) in cases {
        let resp = c
            .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
            .header("client-request-id", "0b7c3e7a-3f0e-4d57-9a55-5a2f6c2f0d11")
            .form(&form)
            .send()
            .await?;
        assert_eq!(resp.status().as_u16(), status, "AADSTS{code}");
        let body: Value = resp.json().await?;
        assert_eq!(body["error"], error, "{body}");
        assert_eq!(body["error_codes"], json!([code]), "{body}");
        let desc = body["error_description"].as_str().unwrap_or_default();
        assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
        assert!(desc.contains("\r\nTrace ID: "), "{desc}");
        assert!(
            desc.contains("\r\nCorrelation ID: 0b7c3e7a-3f0e-4d57-9a55-5a2f6c2f0d11"),
            "{desc}"
        );
        assert!(
            desc.contains("\r\nTimestamp: 2026-07-17 12:00:00Z"),
            "{desc}"
        );
        assert_eq!(body["timestamp"], "2026-07-17 12:00:00Z");
        assert_eq!(
            body["correlation_id"],
            "0b7c3e7a-3f0e-4d57-9a55-5a2f6c2f0d11"
        );
        assert!(
            body["trace_id"]
                .as_str()
                .is_some_and(|s| uuid::Uuid::parse_str(s).is_ok())
        );
        assert_eq!(
            body["error_uri"],
            format!("https://login.microsoftonline.com/error?code={code}")
        );
    }
    let s = stats(&c, &sim).await?;
    assert_eq!(s["token_failures"], n);
    assert_eq!(s["tokens_issued"], 0);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn graph_refuses_missing_bad_expired_and_wrong_audience_tokens() -> TestResult {
    let sim = start(config(|_| {})).await?;
    let c = client();
    let url = format!("{}{AUDITS}?$top=5", sim.base_url());
    let check_401 = |status: StatusCode, headers: &reqwest::header::HeaderMap, body: &Value| {
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
        assert!(body["error"]["innerError"]["request-id"].is_string());
        assert!(body["error"]["innerError"]["date"].is_string());
        assert!(headers.get("request-id").is_some());
        assert!(headers.get("client-request-id").is_some());
    };
    let resp = c.get(&url).send().await?;
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body: Value = resp.json().await?;
    check_401(status, &headers, &body);
    assert_eq!(body["error"]["message"], "Access token is empty.");

    let (status, headers, body) = graph_get(&c, &url, "not-a-token-we-issued").await?;
    check_401(status, &headers, &body);

    let manage = token_for(&c, &sim, "https://manage.office.com/.default").await?;
    let (status, headers, body) = graph_get(&c, &url, &manage).await?;
    check_401(status, &headers, &body);

    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let (status, _, _) = graph_get(&c, &url, &token).await?;
    assert_eq!(status, StatusCode::OK);
    set_clock(&c, &sim, json!({"advance_secs": 3598})).await?;
    let (status, _, _) = graph_get(&c, &url, &token).await?;
    assert_eq!(
        status,
        StatusCode::OK,
        "still valid one second before expiry"
    );
    set_clock(&c, &sim, json!({"advance_secs": 1})).await?;
    let (status, headers, body) = graph_get(&c, &url, &token).await?;
    check_401(status, &headers, &body);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("expired"))
    );
    assert_eq!(stats(&c, &sim).await?["unauthorized_401"], 4);
    sim.shutdown().await;
    Ok(())
}
