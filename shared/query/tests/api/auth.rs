//! Authentication and roles: no or a bad token is 401, a missing role is 403, the open routes need
//! no token, and with auth disabled every response says so.

use std::sync::Arc;

use axum::http::StatusCode;
use query::auth::Disabled;

use crate::support::{assert_error, call, fixture, fixture_with, seed};

#[tokio::test]
async fn no_or_bad_token_is_401_and_a_missing_role_is_403() {
    let f = fixture();
    seed(&f).await;
    let r = call(&f.router, "GET", "/events", None, None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized", &["Bearer"]).await;
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    let r = call(&f.router, "GET", "/events", Some("forged"), None).await;
    assert_error(
        &r,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &["invalid bearer token"],
    )
    .await;
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    assert_error(
        &call(&f.router, "GET", "/events", Some("nobody"), None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        &["auditlake.read"],
    )
    .await;
    let body = br#"{"add": ["reviewed"]}"#.to_vec();
    let uri = &format!("/events/{}/tags", crate::support::seeded_id(1));
    assert_error(
        &call(&f.router, "PATCH", uri, Some("reader"), Some(body.clone())).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        &["auditlake.annotate", "auditlake.read"],
    )
    .await;
    assert_error(
        &call(&f.router, "PATCH", uri, None, Some(body.clone())).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &[],
    )
    .await;
    for token in ["annotator", "admin", "grouped"] {
        assert_eq!(
            call(&f.router, "PATCH", uri, Some(token), Some(body.clone()))
                .await
                .status,
            StatusCode::OK,
            "{token}"
        );
    }
    for token in ["reader", "annotator", "admin", "grouped"] {
        for path in [
            "/events",
            &format!("/events/{}", crate::support::seeded_id(1)),
            "/filter-options",
            "/sources",
            "/summary",
        ] {
            assert_eq!(
                call(&f.router, "GET", path, Some(token), None).await.status,
                StatusCode::OK,
                "{token} {path}"
            );
        }
    }
    for path in ["/health", "/version", "/openapi.json"] {
        let r = call(&f.router, "GET", path, None, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(r.headers.get("x-auditlake-auth").is_none());
    }
    assert_eq!(
        call(&f.router, "GET", "/health", None, None).await.body["status"],
        "ok"
    );
}

#[tokio::test]
async fn with_auth_disabled_every_response_says_so() {
    let f = fixture_with(100, Arc::new(Disabled), true);
    seed(&f).await;
    for (method, path) in [("GET", "/events"), ("GET", "/health"), ("GET", "/nowhere")] {
        let r = call(&f.router, method, path, None, None).await;
        assert_eq!(r.headers["x-auditlake-auth"], "disabled", "{path}");
    }
    let r = call(
        &f.router,
        "POST",
        &format!("/events/{}/comments", crate::support::seeded_id(1)),
        None,
        Some(br#"{"text":"hi"}"#.to_vec()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["author"], "anonymous");
}
