//! The Entra ID token endpoint (client credentials) and bearer-token checks for data endpoints.
//!
//! `POST /{tenant}/oauth2/v2.0/token` takes `grant_type=client_credentials`, `client_id`,
//! `client_secret` (or HTTP Basic) and `scope=<resource>/.default`; the legacy
//! `POST /{tenant}/oauth2/token` takes `resource=<resource>` and answers with v1's string-typed
//! `expires_in`/`expires_on`/`not_before`. Errors use Entra's body shape and AADSTS codes (see
//! `m365-api-contract.md` 1.4). Tokens are opaque random strings remembered with their audience
//! and an expiry on the **virtual** clock (`now + 3599 s`), so advancing the clock expires them.
//!
//! **Certificate credentials** (the identity platform's client assertions). When [`SimConfig::client_certificate_pem`] registers
//! a certificate, both endpoints also take `client_assertion_type` ([`ASSERTION_TYPE`]) and
//! `client_assertion=<JWT>` in place of the secret (the secret keeps working: an app may have
//! both credentials). Exactly one of `client_secret` and `client_assertion` must be sent, else
//! 401 `invalid_client` AADSTS7000218. The assertion is checked in this order; every refusal is
//! `invalid_client` (HTTP 401) unless marked:
//! 1. `client_assertion_type` present (else 400 `invalid_request` AADSTS900144) and the JWT
//!    bearer type (else 400 `invalid_request` AADSTS50027), and the JWT made of three base64url
//!    parts with JSON header and claims (else 400 `invalid_request` AADSTS50027);
//! 2. `alg` is `PS256` or `RS256` (anything else: AADSTS700027), and `PS256` is refused with
//!    AADSTS700027 when [`SimConfig::reject_ps256`] is set (Entra before it took PS256);
//! 3. the header's `x5t#S256` (SHA-256), or else its `x5t` (SHA-1), is the base64url thumbprint
//!    of the registered certificate (else AADSTS700027 "The key was not found", with the
//!    thumbprint the client used, in hex, as Entra prints it);
//! 4. the signature verifies under the certificate's public key (else AADSTS700027 "invalid
//!    signature"): a wrong key with the right thumbprint lands here;
//! 5. `iss == sub == client_id` (else AADSTS700021, "Client assertion application identifier
//!    doesn't match 'client_id' parameter");
//! 6. `aud` is this endpoint's URL as the client builds it from the request's `Host` (`http` or
//!    `https`, `/{tenant}/oauth2/v2.0/token`; on the v1 endpoint `/{tenant}/oauth2/token` too),
//!    compared without regard to case (else AADSTS700023, "Client assertion audience claim does
//!    not match Realm issuer"); the codes of steps 5 and 6 are those Azure SDK's troubleshooting
//!    guide lists, since Microsoft's error-code table does not;
//! 7. `nbf - 5 min <= now < exp + 5 min` on the **virtual** clock (else AADSTS700024, "Client
//!    assertion is not within its valid time range"); `nbf` and `exp` are required (a missing
//!    one is AADSTS50027);
//! 8. `jti` (required) was not accepted before while that assertion was still valid. Entra
//!    documents no replay code, so a replay is AADSTS700027 with the reason "already used": it
//!    is a refusal of the assertion itself, which is what 700027 means to a client.
//!
//! The `jti` is remembered only when the whole request succeeds (an assertion refused for its
//! scope can be sent again), until its `exp` plus the skew.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Serialize;
use serde_json::Value;
use x509_cert::der::Decode;
use x509_cert::der::asn1::ObjectIdentifier;

use crate::SimConfig;
use crate::clock::{NS_PER_SEC, entra_timestamp, from_ns, rfc3339, to_ns};
use crate::server::SimState;
use crate::tenant::TENANT_DOMAIN;
use crate::wire::{b64_decode, b64url_encode, parse_pairs, percent_decode};

mod assertion;
pub use assertion::RegisteredCertificate;
use assertion::{AssertionRequest, check_assertion};

/// Lifetime of an issued token, seconds.
pub const TOKEN_LIFETIME_SECS: i64 = 3599;
/// `client_assertion_type` of a JWT client assertion (RFC 7523).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Clock skew allowed on a client assertion's `nbf` and `exp`, seconds.
pub const ASSERTION_SKEW_SECS: i64 = 300;
/// Which API a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Microsoft Graph (any national cloud root).
    Graph,
    /// The Office 365 Management Activity API.
    Management,
    /// Exchange Online (legacy message trace).
    Outlook,
}

/// Resource roots the token endpoint knows, per national cloud (`shared/domain/src/cloud.rs` names the same hosts).
const RESOURCES: &[(&str, Audience)] = &[
    ("https://graph.microsoft.com", Audience::Graph),
    ("https://graph.microsoft.us", Audience::Graph),
    ("https://dod-graph.microsoft.us", Audience::Graph),
    ("https://microsoftgraph.chinacloudapi.cn", Audience::Graph),
    ("https://manage.office.com", Audience::Management),
    ("https://manage-gcc.office.com", Audience::Management),
    ("https://manage.office365.us", Audience::Management),
    ("https://manage.protection.apps.mil", Audience::Management),
    ("https://manage.office365.cn", Audience::Management),
    ("https://outlook.office365.com", Audience::Outlook),
];

/// Maps a resource root (`https://graph.microsoft.com`, trailing slash optional) to its audience.
pub fn audience_of(resource: &str) -> Option<(&'static str, Audience)> {
    let r = resource.trim().trim_end_matches('/');
    RESOURCES
        .iter()
        .find(|(root, _)| root.eq_ignore_ascii_case(r))
        .map(|(root, aud)| (*root, *aud))
}

#[derive(Debug, Clone)]
struct Issued {
    audience: Audience,
    expires_ns: i64,
}

/// Issued tokens, and what the certificate credential needs: the registered certificate (parsed
/// on first use) and the `jti`s of accepted client assertions.
#[derive(Debug, Default)]
pub struct TokenStore {
    tokens: Mutex<HashMap<String, Issued>>,
    certificate: OnceLock<Option<RegisteredCertificate>>,
    /// `jti` -> the virtual instant (ns) after which its assertion is refused anyway.
    assertions: Mutex<HashMap<String, i64>>,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A token this simulator never issued.
    Unknown,
    /// Issued, but expired on the virtual clock.
    Expired,
    /// Issued for another API.
    WrongAudience,
}

impl BearerError {
    /// Graph's message for this failure.
    pub fn message(self) -> &'static str {
        match self {
            Self::Missing => "Access token is empty.",
            Self::Unknown => "IDX14100: JWT is not well formed, there are no dots (.).",
            Self::Expired => "Lifetime validation failed, the token is expired.",
            Self::WrongAudience => "Access token validation failure. Invalid audience.",
        }
    }
}

impl TokenStore {
    /// The registered certificate, if the configuration has one (it was validated at start).
    fn certificate(&self, config: &SimConfig) -> Option<&RegisteredCertificate> {
        self.certificate
            .get_or_init(|| {
                config
                    .client_certificate_pem
                    .as_deref()
                    .and_then(|pem| RegisteredCertificate::from_pem(pem).ok())
            })
            .as_ref()
    }

    /// Whether an assertion with this `jti` was accepted and is still within its validity.
    fn seen(&self, jti: &str, now_ns: i64) -> bool {
        let map = self.assertions.lock().unwrap_or_else(|p| p.into_inner());
        map.get(jti).is_some_and(|until| *until > now_ns)
    }

    /// Remembers an accepted assertion's `jti` until `until_ns`.
    fn remember(&self, jti: String, until_ns: i64, now_ns: i64) {
        let mut map = self.assertions.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 50_000 {
            map.retain(|_, until| *until > now_ns);
        }
        map.insert(jti, until_ns);
    }

    fn issue(&self, audience: Audience, now_ns: i64) -> (String, i64) {
        let token = format!(
            "sim.{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let expires_ns = now_ns.saturating_add(TOKEN_LIFETIME_SECS * NS_PER_SEC);
        let mut map = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 50_000 {
            map.retain(|_, t| t.expires_ns > now_ns);
        }
        map.insert(
            token.clone(),
            Issued {
                audience,
                expires_ns,
            },
        );
        (token, expires_ns)
    }

    /// Checks the `Authorization` header for a live token of `want`'s audience.
    pub fn check(
        &self,
        headers: &HeaderMap,
        want: Audience,
        now_ns: i64,
    ) -> Result<(), BearerError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim();
        let token = match value.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => "",
        };
        if token.is_empty() {
            return Err(BearerError::Missing);
        }
        let map = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let issued = map.get(token).ok_or(BearerError::Unknown)?;
        if issued.expires_ns <= now_ns {
            return Err(BearerError::Expired);
        }
        if issued.audience != want {
            return Err(BearerError::WrongAudience);
        }
        Ok(())
    }
}

/// An Entra token-endpoint error.
#[derive(Debug, Clone)]
pub struct EntraError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    message: String,
}

impl EntraError {
    pub(crate) fn new(
        status: StatusCode,
        error: &'static str,
        code: u32,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            code,
            message: message.into(),
        }
    }

    fn missing(param: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{param}'."),
        )
    }

    fn invalid_scope(scope: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        )
    }

    /// The response body and headers, stamped with the virtual time.
    pub(crate) fn into_response_at(self, now_ns: i64, correlation_id: &str) -> Response {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let timestamp = entra_timestamp(from_ns(now_ns));
        let description = format!(
            "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
            self.code, self.message
        );
        let body = ErrorBody {
            error: self.error,
            error_description: description,
            error_codes: [self.code],
            timestamp,
            trace_id: trace_id.clone(),
            correlation_id: correlation_id.to_string(),
            error_uri: format!("https://login.microsoftonline.com/error?code={}", self.code),
        };
        token_headers(self.status, &body, &trace_id, correlation_id)
    }
}

/// Entra's error body, fields in the order Entra sends them.
#[derive(Serialize)]
struct ErrorBody {
    error: &'static str,
    error_description: String,
    error_codes: [u32; 1],
    timestamp: String,
    trace_id: String,
    correlation_id: String,
    error_uri: String,
}

/// The v2 success body.
#[derive(Serialize)]
struct TokenV2 {
    token_type: &'static str,
    expires_in: i64,
    ext_expires_in: i64,
    access_token: String,
}

/// The v1 success body (numbers as strings, as v1 sends them).
#[derive(Serialize)]
struct TokenV1 {
    token_type: &'static str,
    expires_in: String,
    ext_expires_in: String,
    expires_on: String,
    not_before: String,
    resource: String,
    access_token: String,
}

fn token_headers(
    status: StatusCode,
    body: &impl Serialize,
    trace_id: &str,
    correlation_id: &str,
) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(trace_id) {
        h.insert("x-ms-request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(correlation_id) {
        h.insert("client-request-id", v);
    }
    resp
}

/// Which token endpoint was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    V2,
    V1,
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token_v2(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(&state, &tenant, &headers, &body, Flavor::V2)
}

/// `POST /{tenant}/oauth2/token` (legacy v1, `resource=` instead of `scope=`).
pub async fn token_v1(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(&state, &tenant, &headers, &body, Flavor::V1)
}

fn token(
    state: &SimState,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
    flavor: Flavor,
) -> Response {
    let now_ns = to_ns(state.clock.now());
    let correlation_id = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| uuid::Uuid::parse_str(v).ok())
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), |u| u.to_string());
    if flavor == Flavor::V2 {
        let form: HashMap<String, String> = parse_pairs(&String::from_utf8_lossy(body))
            .into_iter()
            .collect();
        if form.get("grant_type").map(|g| g.trim()) == Some("authorization_code") {
            return code_grant(state, tenant, headers, &form, now_ns, &correlation_id);
        }
    }
    match grant(state, tenant, headers, body, flavor) {
        Ok((resource, audience)) => {
            let (access_token, expires_ns) = state.tokens.issue(audience, now_ns);
            state.stats.token_issued();
            let trace_id = uuid::Uuid::new_v4().to_string();
            match flavor {
                Flavor::V2 => {
                    let body = TokenV2 {
                        token_type: "Bearer",
                        expires_in: TOKEN_LIFETIME_SECS,
                        ext_expires_in: TOKEN_LIFETIME_SECS,
                        access_token,
                    };
                    token_headers(StatusCode::OK, &body, &trace_id, &correlation_id)
                }
                Flavor::V1 => {
                    let body = TokenV1 {
                        token_type: "Bearer",
                        expires_in: TOKEN_LIFETIME_SECS.to_string(),
                        ext_expires_in: TOKEN_LIFETIME_SECS.to_string(),
                        expires_on: (expires_ns / NS_PER_SEC).to_string(),
                        not_before: (now_ns / NS_PER_SEC).to_string(),
                        resource,
                        access_token,
                    };
                    token_headers(StatusCode::OK, &body, &trace_id, &correlation_id)
                }
            }
        }
        Err(e) => {
            state.stats.token_failure();
            tracing::debug!(code = e.code, error = e.error, "Token request refused.");
            e.into_response_at(now_ns, &correlation_id)
        }
    }
}

/// `grant_type=authorization_code` (the console's sign-in; [`crate::authorize`]).
fn code_grant(
    state: &SimState,
    tenant: &str,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    now_ns: i64,
    correlation_id: &str,
) -> Response {
    let allowed = crate::authorize::allowed_origin(state, form);
    let tenant_ok = tenant.eq_ignore_ascii_case(&state.config.tenant)
        || tenant.eq_ignore_ascii_case(TENANT_DOMAIN);
    let outcome = if tenant_ok {
        crate::authorize::redeem(state, headers, form)
    } else {
        Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!("Tenant '{tenant}' not found."),
        ))
    };
    let mut resp = match outcome {
        Ok(body) => {
            state.stats.token_issued();
            let trace_id = uuid::Uuid::new_v4().to_string();
            token_headers(StatusCode::OK, &body, &trace_id, correlation_id)
        }
        Err(e) => {
            state.stats.token_failure();
            tracing::debug!(code = e.code, error = e.error, "Code redemption refused.");
            e.into_response_at(now_ns, correlation_id)
        }
    };
    crate::authorize::cors(&mut resp, headers, allowed.as_deref());
    resp
}

/// Validates a client-credentials request; returns the resource root and its audience.
fn grant(
    state: &SimState,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
    flavor: Flavor,
) -> Result<(String, Audience), EntraError> {
    let cfg = &state.config;
    let tenant_ok =
        tenant.eq_ignore_ascii_case(&cfg.tenant) || tenant.eq_ignore_ascii_case(TENANT_DOMAIN);
    if !tenant_ok {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        ));
    }
    let form: HashMap<String, String> = parse_pairs(&String::from_utf8_lossy(body))
        .into_iter()
        .collect();
    let field = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let grant_type = field("grant_type").ok_or_else(|| EntraError::missing("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    }
    let basic = basic_credentials(headers);
    let client_id = field("client_id")
        .or_else(|| basic.as_ref().map(|(id, _)| id.clone()))
        .ok_or_else(|| EntraError::missing("client_id"))?;
    if !client_id.eq_ignore_ascii_case(&cfg.client_id) {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        ));
    }
    let secret = form
        .get("client_secret")
        .cloned()
        .filter(|s| !s.is_empty())
        .or_else(|| basic.map(|(_, s)| s).filter(|s| !s.is_empty()));
    let assertion = field("client_assertion");
    let credential = match (secret, assertion) {
        (Some(secret), None) => ClientCredential::Secret(secret),
        (None, Some(jwt)) => ClientCredential::Assertion(jwt),
        (Some(_), Some(_)) => {
            return Err(EntraError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000218,
                "The request body must contain only one of the following parameters: 'client_assertion' or 'client_secret'.",
            ));
        }
        (None, None) => {
            return Err(EntraError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        }
    };
    let (root, audience) = match flavor {
        Flavor::V2 => {
            let scope = field("scope").ok_or_else(|| EntraError::missing("scope"))?;
            let resource = match scope.strip_suffix("/.default") {
                Some(r) if !scope.contains(' ') => r,
                _ => return Err(EntraError::invalid_scope(&scope)),
            };
            audience_of(resource).ok_or_else(|| EntraError::invalid_scope(&scope))?
        }
        Flavor::V1 => {
            let resource = field("resource").ok_or_else(|| EntraError::missing("resource"))?;
            audience_of(&resource).ok_or_else(|| {
                EntraError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_resource",
                    500011,
                    format!(
                        "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
                    ),
                )
            })?
        }
    };
    match credential {
        ClientCredential::Secret(secret) if secret == cfg.client_secret && cfg.secret_expired => {
            return Err(EntraError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000222,
                format!(
                    "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."
                ),
            ));
        }
        ClientCredential::Secret(secret) if secret == cfg.client_secret => {}
        ClientCredential::Secret(_) => {
            return Err(EntraError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
            ));
        }
        ClientCredential::Assertion(jwt) => {
            let request = AssertionRequest {
                assertion_type: field("client_assertion_type"),
                client_id: &client_id,
                tenant,
                host: headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map_or_else(|| format!("127.0.0.1:{}", state.port), str::to_string),
                flavor,
            };
            check_assertion(state, &request, &jwt)?;
        }
    }
    Ok((root.to_string(), audience))
}

/// How the client authenticated.
enum ClientCredential {
    Secret(String),
    Assertion(String),
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(b64_decode(rest)?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((percent_decode(id, true), percent_decode(secret, true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences_cover_national_clouds() {
        assert_eq!(
            audience_of("https://graph.microsoft.com/").map(|a| a.1),
            Some(Audience::Graph)
        );
        assert_eq!(
            audience_of("https://dod-graph.microsoft.us").map(|a| a.1),
            Some(Audience::Graph)
        );
        assert_eq!(
            audience_of("https://manage.office365.cn").map(|a| a.1),
            Some(Audience::Management)
        );
        assert_eq!(audience_of("https://example.com"), None);
    }

    #[test]
    fn tokens_expire_and_check_audience() {
        let store = TokenStore::default();
        let (t, exp) = store.issue(Audience::Graph, 0);
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {t}")).unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(store.check(&h, Audience::Graph, 0), Ok(()));
        assert_eq!(
            store.check(&h, Audience::Management, 0),
            Err(BearerError::WrongAudience)
        );
        assert_eq!(
            store.check(&h, Audience::Graph, exp),
            Err(BearerError::Expired)
        );
        assert_eq!(
            store.check(&HeaderMap::new(), Audience::Graph, 0),
            Err(BearerError::Missing)
        );
    }
}
