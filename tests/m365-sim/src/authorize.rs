//! Entra's authorization-code flow with PKCE, for single-page apps (the console): a browser
//! signs in through the real redirects, with no password.
//!
//! - `GET /{tenant}/oauth2/v2.0/authorize` with `client_id` (the SPA's registration,
//!   [`SimConfig::spa_client_id`]), `response_type=code`, `redirect_uri`, `scope`, `state`,
//!   `code_challenge` and `code_challenge_method=S256`, optionally `login_hint`, `nonce`,
//!   `prompt` and `response_mode` (`query`, the default, or `fragment`). The user is the
//!   simulated user whose UPN is `login_hint` ([`USERS`]), else the first one (an admin). A
//!   request that cannot be answered at its redirect URI (an unknown client, a redirect URI
//!   that is not registered) is a 400 page, as at Entra; the others redirect back with `error`,
//!   `error_description` and `state`. On success: a 302 to `redirect_uri?code=..&state=..`.
//!   Registered redirect URIs are [`SimConfig::spa_redirect_uris`]; when none are configured,
//!   any `http` URI on a loopback host (`127.0.0.1`, `localhost`, `[::1]`) is accepted, as
//!   Entra accepts loopback redirect URIs on any port.
//! - `POST /{tenant}/oauth2/v2.0/token` with `grant_type=authorization_code`, `client_id`,
//!   `code`, `redirect_uri` and `code_verifier` (no secret: an SPA is a public client). A code
//!   is single-use (the first redemption consumes it, whatever its outcome), lives 10 virtual
//!   minutes, and redeems only with the same client and redirect URI and a verifier whose
//!   base64url SHA-256 is the challenge (RFC 7636, S256; `plain` is refused at authorize).
//!   The answer is `{token_type, scope, expires_in, ext_expires_in, access_token}`: a user
//!   access token for the API audience, minted as `POST /_sim/user-token` mints them
//!   ([`crate::oidc`]), with `azp` the SPA's client id, `scp` the API scopes asked for and the
//!   user's `roles`. No ID token is issued (the console asks for no `openid` scope).
//!   Entra answers a cross-origin redemption from a registered SPA origin with CORS headers;
//!   so does this endpoint (`Access-Control-Allow-Origin` is the request's `Origin` when that
//!   is the origin of the code's redirect URI).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::auth::EntraError;
use crate::clock::{NS_PER_SEC, to_ns};
use crate::oidc::{Grant, MintedUser, USER_TOKEN_LIFETIME_SECS, invalid_tenant, issuer, mint};
use crate::server::SimState;
use crate::tenant::TENANT_DOMAIN;
use crate::wire::{b64url_encode, parse_pairs, percent_encode};

/// A simulated user who can sign in: UPN (the `login_hint`), display name, app roles.
#[derive(Debug, Clone, Copy)]
pub struct SimUser {
    pub local: &'static str,
    pub name: &'static str,
    pub roles: &'static [&'static str],
}

/// The users of the simulated tenant's sign-in page; the first is the default.
pub const USERS: &[SimUser] = &[
    SimUser {
        local: "analyst",
        name: "Simulated Analyst",
        roles: &["auditlake.admin"],
    },
    SimUser {
        local: "triage",
        name: "Simulated Triager",
        roles: &["auditlake.annotate"],
    },
    SimUser {
        local: "reader",
        name: "Simulated Reader",
        roles: &["auditlake.read"],
    },
    SimUser {
        local: "guest",
        name: "Simulated Guest",
        roles: &[],
    },
];

/// How long an authorization code can be redeemed, seconds (virtual clock).
pub const CODE_LIFETIME_SECS: i64 = 600;

/// An issued code, waiting for its redemption.
#[derive(Debug, Clone)]
struct PendingCode {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    user: SimUser,
    /// The API scopes granted, without the audience prefix, space-separated (`scp`).
    scp: String,
    /// The scopes as the answer's `scope` names them.
    scope: String,
    expires_ns: i64,
}

/// The codes issued and not yet redeemed.
#[derive(Debug, Default)]
pub struct Codes(Mutex<HashMap<String, PendingCode>>);

impl Codes {
    fn put(&self, code: String, pending: PendingCode) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(code, pending);
    }

    fn take(&self, code: &str) -> Option<PendingCode> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(code)
    }
}

/// The UPN of a simulated user.
pub fn upn(user: &SimUser) -> String {
    format!("{}@{TENANT_DOMAIN}", user.local)
}

fn user_for(hint: Option<&str>) -> Option<SimUser> {
    match hint {
        None => USERS.first().copied(),
        Some(h) => USERS
            .iter()
            .find(|u| upn(u).eq_ignore_ascii_case(h.trim()))
            .copied(),
    }
}

/// Whether `uri` is registered: listed in the configuration, or, when none is, an `http` URI on
/// a loopback host.
fn registered(state: &SimState, uri: &str) -> bool {
    let listed = &state.config.spa_redirect_uris;
    if !listed.is_empty() {
        return listed.iter().any(|r| r == uri);
    }
    url::Url::parse(uri).is_ok_and(|u| {
        u.scheme() == "http"
            && u.fragment().is_none()
            && matches!(
                u.host_str(),
                Some("127.0.0.1") | Some("localhost") | Some("[::1]")
            )
    })
}

/// The origin (`scheme://host[:port]`) of a URL.
fn origin_of(uri: &str) -> Option<String> {
    let u = url::Url::parse(uri).ok()?;
    Some(u.origin().ascii_serialization()).filter(|o| o != "null")
}

/// A 400 page for a request that cannot be sent back to its redirect URI.
fn error_page(code: u32, message: &str) -> Response {
    let mut resp = (
        StatusCode::BAD_REQUEST,
        format!("Sign in\n\nAADSTS{code}: {message}\n"),
    )
        .into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// A 302 to `redirect_uri` with `params` in its query (or fragment).
fn redirect(redirect_uri: &str, fragment: bool, params: &[(&str, &str)]) -> Response {
    let encoded: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    let sep = if fragment {
        "#"
    } else if redirect_uri.contains('?') {
        "&"
    } else {
        "?"
    };
    let location = format!("{redirect_uri}{sep}{}", encoded.join("&"));
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `GET /{tenant}/oauth2/v2.0/authorize`.
pub async fn authorize(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if !tenant.eq_ignore_ascii_case(&state.config.tenant)
        && !tenant.eq_ignore_ascii_case(TENANT_DOMAIN)
    {
        return invalid_tenant(&state, &tenant);
    }
    let q: HashMap<String, String> = parse_pairs(query.as_deref().unwrap_or_default())
        .into_iter()
        .collect();
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let cfg = &state.config;
    match get("client_id") {
        Some(id) if id.eq_ignore_ascii_case(&cfg.spa_client_id) => {}
        Some(id) => {
            return error_page(
                700016,
                &format!(
                    "Application with identifier '{id}' was not found in the directory '{tenant}'."
                ),
            );
        }
        None => {
            return error_page(
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            );
        }
    }
    let Some(redirect_uri) = get("redirect_uri") else {
        return error_page(
            900144,
            "The request body must contain the following parameter: 'redirect_uri'.",
        );
    };
    if !registered(&state, redirect_uri) {
        return error_page(
            50011,
            &format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{}'.",
                cfg.spa_client_id
            ),
        );
    }
    let fragment = get("response_mode") == Some("fragment");
    let state_param = get("state").unwrap_or_default();
    let fail = |error: &str, code: u32, message: &str| {
        let description = format!("AADSTS{code}: {message}");
        let mut params = vec![
            ("error", error),
            ("error_description", description.as_str()),
        ];
        if !state_param.is_empty() {
            params.push(("state", state_param));
        }
        redirect(redirect_uri, fragment, &params)
    };
    if get("response_type") != Some("code") {
        return fail(
            "unsupported_response_type",
            700054,
            "response_type must be 'code' for this application.",
        );
    }
    let Some(challenge) = get("code_challenge") else {
        return fail(
            "invalid_request",
            9002325,
            "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
        );
    };
    if get("code_challenge_method") != Some("S256") {
        return fail(
            "invalid_request",
            50148,
            "The code_challenge_method must be S256 for this application.",
        );
    }
    // RFC 7636: a S256 challenge is the base64url SHA-256 of the verifier, 43 characters.
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return fail(
            "invalid_request",
            50148,
            "The code_challenge is not a base64url SHA-256 digest.",
        );
    }
    let prefix = format!("{}/", cfg.api_audience);
    let scopes: Vec<&str> = get("scope").unwrap_or_default().split(' ').collect();
    let api: Vec<&str> = scopes
        .iter()
        .filter_map(|s| s.strip_prefix(&prefix))
        .filter(|s| !s.is_empty())
        .collect();
    let unknown: Vec<&&str> = scopes
        .iter()
        .filter(|s| {
            !s.is_empty()
                && !s.starts_with(&prefix)
                && !matches!(**s, "openid" | "profile" | "email" | "offline_access")
        })
        .collect();
    if api.is_empty() || !unknown.is_empty() {
        return fail(
            "invalid_scope",
            70011,
            &format!(
                "The provided value for the input parameter 'scope' is not valid: ask for a scope of '{}'.",
                cfg.api_audience
            ),
        );
    }
    let Some(user) = user_for(get("login_hint")) else {
        return fail(
            "invalid_request",
            50034,
            "The user account does not exist in the directory.",
        );
    };
    let code = b64url_encode(&rand_bytes());
    let now_ns = to_ns(state.clock.now());
    state.codes.put(
        code.clone(),
        PendingCode {
            client_id: cfg.spa_client_id.clone(),
            redirect_uri: redirect_uri.to_string(),
            challenge: challenge.to_string(),
            user,
            scp: api.join(" "),
            scope: api
                .iter()
                .map(|s| format!("{prefix}{s}"))
                .collect::<Vec<_>>()
                .join(" "),
            expires_ns: now_ns.saturating_add(CODE_LIFETIME_SECS * NS_PER_SEC),
        },
    );
    let mut params = vec![("code", code.as_str())];
    if !state_param.is_empty() {
        params.push(("state", state_param));
    }
    params.push(("session_state", "00000000-0000-0000-0000-000000000000"));
    redirect(redirect_uri, fragment, &params)
}

fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    b[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    b[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    b
}

fn invalid_grant(code: u32, message: &str) -> EntraError {
    EntraError::new(StatusCode::BAD_REQUEST, "invalid_grant", code, message)
}

/// The CORS header of a redemption answer: the request's `Origin` when it is `allowed`.
pub fn cors(resp: &mut Response, headers: &HeaderMap, allowed: Option<&str>) {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if let (Some(o), Some(a)) = (origin, allowed)
        && o == a
        && let Ok(v) = HeaderValue::from_str(o)
    {
        resp.headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        resp.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// The origin a redemption's answer may be read from: that of its redirect URI, when registered.
pub fn allowed_origin(state: &SimState, form: &HashMap<String, String>) -> Option<String> {
    form.get("redirect_uri")
        .filter(|u| registered(state, u))
        .and_then(|u| origin_of(u))
}

/// Redeems an authorization code (`grant_type=authorization_code`): the answer's body.
pub fn redeem(
    state: &SimState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Value, EntraError> {
    let field = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let missing = |p: &str| {
        EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{p}'."),
        )
    };
    let client_id = field("client_id").ok_or_else(|| missing("client_id"))?;
    let code = field("code").ok_or_else(|| missing("code"))?;
    let redirect_uri = field("redirect_uri").ok_or_else(|| missing("redirect_uri"))?;
    // The code is consumed by its first redemption, whatever comes of it.
    let pending = state.codes.take(&code).ok_or_else(|| {
        invalid_grant(
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        )
    })?;
    if to_ns(state.clock.now()) >= pending.expires_ns {
        return Err(invalid_grant(
            70008,
            "The provided authorization code or refresh token has expired due to inactivity.",
        ));
    }
    if !client_id.eq_ignore_ascii_case(&pending.client_id) {
        return Err(invalid_grant(
            70002,
            "The client_id does not match the one the authorization code was issued to.",
        ));
    }
    if redirect_uri != pending.redirect_uri {
        return Err(invalid_grant(
            500117,
            "The reply uri specified in the request isn't expected: it must be the redirect_uri of the authorization request.",
        ));
    }
    let verifier = field("code_verifier").ok_or_else(|| missing("code_verifier"))?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    if b64url_encode(digest.as_ref()) != pending.challenge {
        return Err(invalid_grant(
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        ));
    }
    let user = MintedUser {
        upn: upn(&pending.user),
        name: pending.user.name.to_string(),
        oid: None,
        roles: pending.user.roles.iter().map(|r| r.to_string()).collect(),
        groups: Vec::new(),
    };
    let token = mint(
        state,
        &issuer(state, headers),
        &user,
        &Grant {
            audience: &state.config.api_audience,
            client_id: &pending.client_id,
            scope: &pending.scp,
            lifetime: USER_TOKEN_LIFETIME_SECS,
        },
    )
    .map_err(|e| EntraError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", 50000, e))?;
    Ok(json!({
        "token_type": "Bearer",
        "scope": pending.scope,
        "expires_in": USER_TOKEN_LIFETIME_SECS,
        "ext_expires_in": USER_TOKEN_LIFETIME_SECS,
        "access_token": token,
    }))
}

/// `OPTIONS /{tenant}/oauth2/v2.0/token`: the CORS preflight of a browser's redemption.
pub async fn token_preflight(headers: HeaderMap) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| origin_of(o).is_some_and(|x| x == *o));
    if let Some(o) = origin
        && let Ok(v) = HeaderValue::from_str(o)
    {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type, accept"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    resp
}
