//! Subscriptions (start, stop, list) and their errors; the token, the URL's tenant, the app's
//! permissions and the tenant's audit switches.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::mgmt::*;
use crate::support::{TestResult, token_for};

#[tokio::test]
async fn subscription_lifecycle_and_its_errors() -> TestResult {
    let api = Api::new(config(|_| {})).await?;
    let (s, _, body) = api.get("subscriptions/list").await?;
    assert_eq!((s, body), (StatusCode::OK, json!([])));
    let (s, _, body) = api
        .get(&format!("subscriptions/content?contentType={EXCHANGE}"))
        .await?;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "AF20022"));

    let (s, body) = api.start_sub(EXCHANGE).await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body,
        json!({"contentType": EXCHANGE, "status": "enabled", "webhook": null})
    );
    let (s, body) = api.start_sub(EXCHANGE).await?;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": {"code": "AF20024", "message": "The subscription is already enabled. No property change."}})
    );
    let (s, _, body) = api.get("subscriptions/list").await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body,
        json!([{"contentType": EXCHANGE, "status": "enabled", "webhook": null}])
    );
    let (s, _, _) = api
        .get(&format!("subscriptions/content?contentType={EXCHANGE}"))
        .await?;
    assert_eq!(s, StatusCode::OK);

    let (s, body) = api
        .post(&format!("subscriptions/stop?contentType={EXCHANGE}"))
        .await?;
    assert_eq!((s, body.as_str()), (StatusCode::OK, ""));
    let (_, _, body) = api.get("subscriptions/list").await?;
    assert_eq!(body[0]["status"], "disabled");
    let (s, _, body) = api
        .get(&format!("subscriptions/content?contentType={EXCHANGE}"))
        .await?;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "AF20023"));
    let (s, _) = api.start_sub(EXCHANGE).await?;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = api
        .get(&format!("subscriptions/content?contentType={EXCHANGE}"))
        .await?;
    assert_eq!(s, StatusCode::OK);

    // Content type errors.
    let (s, body) = api.start_sub("Audit.Nonsense").await?;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "AF20020"));
    let (s, body) = api.post("subscriptions/start").await?;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("AF20001"), "{body}");
    let (s, body) = api
        .post("subscriptions/stop?contentType=Audit.General")
        .await?;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("AF20022"), "{body}");
    // DLP.All and a second type, listed in content type order.
    let (s, _) = api.start_sub("DLP.All").await?;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = api.start_sub("Audit.AzureActiveDirectory").await?;
    assert_eq!(s, StatusCode::OK);
    let (_, _, body) = api.get("subscriptions/list").await?;
    let listed: Vec<&str> = body
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["contentType"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(listed, ["Audit.AzureActiveDirectory", EXCHANGE, "DLP.All"]);

    let stats = api.stats().await?;
    assert_eq!(
        stats["mgmt"]["subscription_starts"],
        json!({"Audit.AzureActiveDirectory": 1, "Audit.Exchange": 2, "DLP.All": 1})
    );
    // No request carried a PublisherIdentifier.
    assert!(stats["mgmt"]["missing_publisher"].as_u64().unwrap_or(0) >= 12);
    Ok(())
}

#[tokio::test]
async fn auth_tenant_permissions_and_audit_switches() -> TestResult {
    let api = Api::new(config(|c| {
        c.mgmt_denied_content_types = vec!["DLP.All".to_string()];
    }))
    .await?;
    let url = format!("{}/subscriptions/list", api.feed());
    // No token, a Graph token, a junk token: 401 with an AF error body.
    let graph = token_for(&api.c, &api.sim, "https://graph.microsoft.com/.default").await?;
    for auth in [None, Some(graph.as_str()), Some("junk")] {
        let mut req = api.c.get(&url);
        if let Some(tok) = auth {
            req = req.bearer_auth(tok);
        }
        let resp = req.send().await?;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let body: Value = resp.json().await?;
        assert_eq!(code(&body), "AF10000", "{body}");
    }
    // Another tenant in the URL.
    let other = format!(
        "{}/api/v1.0/00000000-1111-2222-3333-444444444444/activity/feed/subscriptions/list",
        api.base()
    );
    let (s, _, body) = api.get(&other).await?;
    assert_eq!((s, code(&body)), (StatusCode::UNAUTHORIZED, "AF20010"));
    // A denied content type: start and listing answer AF10001 naming the permission.
    let (s, body) = api.start_sub("DLP.All").await?;
    assert_eq!((s, code(&body)), (StatusCode::UNAUTHORIZED, "AF10001"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("ActivityFeed.ReadDlp"),
        "{body}"
    );
    let (s, _, body) = api.get("subscriptions/content?contentType=DLP.All").await?;
    assert_eq!((s, code(&body)), (StatusCode::UNAUTHORIZED, "AF10001"));
    // Other types are fine.
    let (s, _) = api.start_sub(EXCHANGE).await?;
    assert_eq!(s, StatusCode::OK);

    let off = Api::new(config(|c| c.mgmt_audit_disabled = true)).await?;
    let (s, body) = off.start_sub(EXCHANGE).await?;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "AF20012"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("audit logging is not enabled"),
        "{body}"
    );
    let (_, _, body) = off.get("subscriptions/list").await?;
    assert_eq!(body, json!([]));
    Ok(())
}
