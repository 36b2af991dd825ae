//! The web console on the API's own origin: `GET /` (the page), `GET /assets/{name}` (its
//! content-hashed script and stylesheet, embedded by the `console` crate) and
//! `GET /console-config.json` (the sign-in settings of [`ConsoleConfig`]). Nothing else is
//! static: every other path is the API. These routes need no token (the page must load before
//! anyone signs in) and hold no data.
//!
//! Every response here carries a strict Content-Security-Policy: scripts and styles only from
//! this origin (no inline script, no `eval`, no third-party origin), `connect-src` this origin
//! plus the Entra authority's (the token endpoint), no frames, no plugins, no `<base>`, and
//! Trusted Types with no policy, so a DOM sink such as `innerHTML` fed a string throws instead
//! of parsing markup. Hashed assets are cached for a year (`immutable`); the page and the
//! configuration are revalidated on every load.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::config::ConsoleConfig;
use serde_json::json;

use crate::QueryApp;
use crate::error::ApiError;

/// Every `(method, path)` the console adds to the router (no token needed, not in the OpenAPI
/// document: they are not the API).
pub const CONSOLE_ROUTES: &[(&str, &str)] = &[
    ("get", "/"),
    ("get", "/assets/{name}"),
    ("get", "/console-config.json"),
];

/// `Cache-Control` of the content-hashed assets.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub(crate) fn routes() -> Router<QueryApp> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(asset))
        .route("/console-config.json", get(config))
}

/// The policy for a console whose users sign in at `console`'s authority.
pub fn content_security_policy(console: Option<&ConsoleConfig>) -> String {
    let connect = match console.and_then(ConsoleConfig::authority_origin) {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_string(),
    };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; \
         object-src 'none'; require-trusted-types-for 'script'; trusted-types 'none'"
    )
}

/// The security headers of every console response.
fn secure(app: &QueryApp, headers: &mut HeaderMap) {
    if let Ok(v) = HeaderValue::from_str(&content_security_policy(app.console.as_deref())) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
}

fn serve(app: &QueryApp, a: &'static console::Asset, cache: &'static str) -> Response {
    let mut resp = (StatusCode::OK, a.bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    secure(app, h);
    resp
}

/// `GET /`.
async fn index(State(app): State<QueryApp>) -> Result<Response, ApiError> {
    let page = console::index()
        .ok_or_else(|| ApiError::NotFound("this build carries no console".into()))?;
    Ok(serve(&app, page, "no-cache"))
}

/// `GET /assets/{name}`.
async fn asset(
    State(app): State<QueryApp>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let a = console::asset(&name).ok_or_else(|| ApiError::NotFound("no such asset".into()))?;
    Ok(serve(&app, a, IMMUTABLE))
}

/// `GET /console-config.json`: what the console needs to sign users in (nothing secret: a
/// public client's id, the authority, the scopes).
async fn config(State(app): State<QueryApp>) -> Response {
    let c = app.console.as_deref();
    let body = json!({
        "client_id": c.and_then(|c| c.client_id.clone()),
        "authority": c.map(|c| c.authority.clone()),
        "authorization_endpoint": c.map(|c| c.authorization_endpoint.clone()),
        "token_endpoint": c.map(|c| c.token_endpoint.clone()),
        "scopes": c.map(|c| c.scopes.clone()).unwrap_or_default(),
        "auth_disabled": app.settings.auth_disabled,
    });
    let mut resp = axum::Json(body).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(&app, resp.headers_mut());
    resp
}
