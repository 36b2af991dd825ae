//! The simulator as an OIDC issuer for the query API: Entra ID's v2.0 discovery document and key
//! set, and `POST /_sim/user-token`, which mints the access token a signed-in analyst would get,
//! so the query API runs locally with authentication on.
//!
//! - `GET /{tenant}/v2.0/.well-known/openid-configuration`: the discovery document, shaped as
//!   Entra's (`issuer` = `{base}/{tenant}/v2.0`, `jwks_uri` = `{base}/discovery/v2.0/keys`,
//!   `token_endpoint`, ...); `{base}` is `http://` and the request's `Host`, as the token
//!   endpoint builds its own URL. Another tenant gets Entra's 400 `invalid_tenant` AADSTS90002.
//! - `GET /discovery/v2.0/keys` (and `/{tenant}/discovery/v2.0/keys`, Entra's tenant form): the
//!   JWKS, one RSA key with `kty`, `use`, `kid`, `x5t`, `n`, `e`, `x5c` and `issuer`; `kid` is
//!   the `x5t` (base64url SHA-1 of the certificate), as at Entra.
//! - `POST /_sim/user-token` with `{"roles": [...], "groups": [...]}` and optionally `name`,
//!   `upn`, `oid`, `audience` (default [`SimConfig::api_audience`]) and `expires_in_secs` (1 to
//!   86400, default 3599): answers `{"access_token", "token_type": "Bearer", "expires_in"}`. The
//!   token is a v2.0 access token signed RS256 by the issuer key, header `typ`, `alg`, `kid`,
//!   `x5t`; claims `aud`, `iss`, `iat` = `nbf` = the **virtual** now, `exp`, `azp` (the
//!   simulator's client id), `azpacr`, `name`, `oid`, `preferred_username`, `roles` and `groups`
//!   (each only when not empty, as Entra omits them), `scp` ([`USER_TOKEN_SCOPE`]: the delegated
//!   scope a client signing the user in asks for, which every Entra user access token carries and
//!   the query API requires of a token without roles), `sub` (pairwise: base64url SHA-256 of
//!   `oid` and `aud`), `tid`, `uti`, `ver: "2.0"`. The `oid` defaults to a GUID derived from the seed
//!   and the `upn`, so the same user gets the same id in every run. Unknown fields are a 400.
//!
//! The signing key and its certificate are [`SimConfig::issuer_key_pem`], by default the
//! TEST-ONLY pair in `tests/fixtures/certs/issuer.pem` (committed, so tokens are reproducible and
//! generating RSA keys at start is avoided). Those keys are public: nothing real may trust them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rustls_pki_types::pem::{PemObject, SectionKind};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::SimConfig;
use crate::clock::{entra_timestamp, rfc3339};
use crate::rng::{Rng, hash_str, seed_of};
use crate::server::SimState;
use crate::tenant::TENANT_DOMAIN;
use crate::wire::b64url_encode;

/// The default audience of user tokens: the query API's app id URI.
pub const DEFAULT_API_AUDIENCE: &str = "api://auditlake";
/// The TEST-ONLY issuer key and certificate used when the configuration names none.
pub const DEFAULT_ISSUER_PEM: &str = include_str!("../../fixtures/certs/issuer.pem");
/// The delegated scope (`scp`) of user tokens: the one the query API's app registration exposes.
pub const USER_TOKEN_SCOPE: &str = "access_as_user";
/// Default lifetime of a user token, seconds.
pub const USER_TOKEN_LIFETIME_SECS: i64 = 3599;
/// Longest lifetime `/_sim/user-token` issues, seconds.
pub const MAX_USER_TOKEN_LIFETIME_SECS: i64 = 86_400;

/// The routes of this module, merged into the simulator's router.
pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/discovery/v2.0/keys", get(keys))
        .route("/{tenant}/discovery/v2.0/keys", get(tenant_keys))
        .route("/_sim/user-token", post(user_token))
}

/// The issuer's signing key: an RSA private key and its certificate.
pub struct IssuerKey {
    pair: aws_lc_rs::signature::RsaKeyPair,
    /// Base64url SHA-1 of the certificate's DER; also the `kid`.
    pub x5t: String,
    /// Base64url big-endian modulus.
    pub n: String,
    /// Base64url big-endian public exponent.
    pub e: String,
    /// Standard base64 of the certificate's DER (the JWK's `x5c`).
    pub x5c: String,
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKey")
            .field("x5t", &self.x5t)
            .finish_non_exhaustive()
    }
}

/// One DER TLV of `b`: (tag, content, rest).
fn der_tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = usize::from(*b.get(1)?);
    let (len, head) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let len = b
            .get(2..2 + n)?
            .iter()
            .fold(0usize, |acc, x| (acc << 8) | usize::from(*x));
        (len, 2 + n)
    };
    let content = b.get(head..head.checked_add(len)?)?;
    Some((tag, content, &b[head + len..]))
}

/// `(n, e)` of a PKCS#1 `RSAPublicKey` DER, without leading zero bytes.
fn rsa_components(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (0x30, seq, _) = der_tlv(der)? else {
        return None;
    };
    let (0x02, n, rest) = der_tlv(seq)? else {
        return None;
    };
    let (0x02, e, _) = der_tlv(rest)? else {
        return None;
    };
    let trim = |x: &[u8]| -> usize { x.iter().take_while(|b| **b == 0).count() };
    Some((&n[trim(n)..], &e[trim(e)..]))
}

/// Standard base64 with padding (for `x5c`).
fn b64_std(data: &[u8]) -> String {
    let mut s = b64url_encode(data).replace('-', "+").replace('_', "/");
    while !s.len().is_multiple_of(4) {
        s.push('=');
    }
    s
}

impl IssuerKey {
    /// Reads an RSA private key (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`) and the
    /// certificate of its public key from `pem` (other text is ignored).
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let mut key = None;
        let mut certs = Vec::new();
        for section in <(SectionKind, Vec<u8>) as PemObject>::pem_slice_iter(pem.as_bytes()) {
            let (kind, der) = section.map_err(|e| format!("not well-formed PEM ({e})"))?;
            match kind {
                SectionKind::RsaPrivateKey => {
                    key = Some(
                        aws_lc_rs::signature::RsaKeyPair::from_der(&der)
                            .map_err(|e| format!("the RSA PRIVATE KEY cannot be read ({e})"))?,
                    );
                }
                SectionKind::PrivateKey => {
                    key = Some(
                        aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&der).map_err(|e| {
                            format!("the PRIVATE KEY is not a usable RSA key ({e})")
                        })?,
                    );
                }
                SectionKind::Certificate => certs.push(der),
                _ => {}
            }
        }
        let pair = key.ok_or("no RSA PRIVATE KEY or PRIVATE KEY block")?;
        let public = aws_lc_rs::signature::KeyPair::public_key(&pair)
            .as_ref()
            .to_vec();
        // A certificate's SubjectPublicKeyInfo holds the RSAPublicKey DER verbatim.
        let cert = certs
            .iter()
            .find(|der| der.windows(public.len()).any(|w| w == public.as_slice()))
            .ok_or("no CERTIFICATE block holds the private key's public key")?;
        let (n, e) = rsa_components(&public).ok_or("the RSA public key cannot be read")?;
        Ok(IssuerKey {
            x5t: b64url_encode(
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, cert)
                    .as_ref(),
            ),
            n: b64url_encode(n),
            e: b64url_encode(e),
            x5c: b64_std(cert),
            pair,
        })
    }

    /// The key of `config` (parsed once per distinct PEM and kept for the process's life).
    pub fn of(config: &SimConfig) -> Result<Arc<IssuerKey>, String> {
        static CACHE: OnceLock<Mutex<HashMap<String, Arc<IssuerKey>>>> = OnceLock::new();
        let pem = config
            .issuer_key_pem
            .as_deref()
            .unwrap_or(DEFAULT_ISSUER_PEM);
        let cache = CACHE.get_or_init(Default::default);
        if let Some(key) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(pem) {
            return Ok(Arc::clone(key));
        }
        let key = Arc::new(IssuerKey::from_pem(pem)?);
        cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pem.to_string(), Arc::clone(&key));
        Ok(key)
    }

    /// The key as a JWK of the set, naming `issuer`.
    pub fn jwk(&self, issuer: &str) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.x5t,
            "x5t": self.x5t,
            "n": self.n,
            "e": self.e,
            "x5c": [self.x5c],
            "issuer": issuer,
        })
    }

    /// A compact JWS of `claims`, RS256.
    pub fn sign(&self, claims: &Value) -> Result<String, String> {
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": self.x5t, "x5t": self.x5t});
        let message = format!(
            "{}.{}",
            b64url_encode(header.to_string().as_bytes()),
            b64url_encode(claims.to_string().as_bytes())
        );
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                message.as_bytes(),
                &mut signature,
            )
            .map_err(|e| format!("cannot sign ({e})"))?;
        Ok(format!("{message}.{}", b64url_encode(&signature)))
    }
}

/// `http://` and the request's `Host` (else `127.0.0.1:port`).
fn base_url(state: &SimState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| format!("127.0.0.1:{}", state.port), str::to_string);
    format!("http://{host}")
}

/// The issuer of this simulator's tokens, as seen through `headers`.
pub(crate) fn issuer(state: &SimState, headers: &HeaderMap) -> String {
    format!("{}/{}/v2.0", base_url(state, headers), state.config.tenant)
}

fn sim_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// Entra's answer for a tenant it does not know.
pub(crate) fn invalid_tenant(state: &SimState, tenant: &str) -> Response {
    let now = state.clock.now();
    let trace_id = uuid::Uuid::new_v4().to_string();
    let correlation_id = uuid::Uuid::new_v4().to_string();
    let timestamp = entra_timestamp(now);
    let description = format!(
        "AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
    );
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "error": "invalid_tenant",
            "error_description": description,
            "error_codes": [90002],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": "https://login.microsoftonline.com/error?code=90002",
        })),
    )
        .into_response()
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
async fn discovery(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !tenant.eq_ignore_ascii_case(&state.config.tenant) {
        return invalid_tenant(&state, &tenant);
    }
    let base = base_url(&state, &headers);
    let t = &state.config.tenant;
    axum::Json(json!({
        "token_endpoint": format!("{base}/{t}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer(&state, &headers),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": format!("{base}/{t}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{t}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{t}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{base}/{t}/kerberos"),
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }))
    .into_response()
}

/// The key set, cacheable for a day as Entra's is.
fn key_set(state: &SimState, headers: &HeaderMap) -> Response {
    let key = match IssuerKey::of(&state.config) {
        Ok(key) => key,
        Err(e) => return sim_error(StatusCode::INTERNAL_SERVER_ERROR, "IssuerKey", &e),
    };
    let mut resp = axum::Json(json!({"keys": [key.jwk(&issuer(state, headers))]})).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=86400, private"),
    );
    resp
}

/// `GET /discovery/v2.0/keys`.
async fn keys(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    key_set(&state, &headers)
}

/// `GET /{tenant}/discovery/v2.0/keys`.
async fn tenant_keys(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !tenant.eq_ignore_ascii_case(&state.config.tenant) {
        return invalid_tenant(&state, &tenant);
    }
    key_set(&state, &headers)
}

/// Who a minted user token is for (`POST /_sim/user-token`, and the authorization-code flow of
/// [`crate::authorize`]).
pub(crate) struct MintedUser {
    pub upn: String,
    pub name: String,
    /// `None`: a GUID derived from the seed and the UPN, the same in every run.
    pub oid: Option<String>,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
}

/// What a minted user token grants: its audience, the client it was issued to (`azp`), the
/// delegated scope (`scp`) and its lifetime in seconds.
pub(crate) struct Grant<'a> {
    pub audience: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub lifetime: i64,
}

/// A v2.0 user access token signed by the issuer key (the claims of the module docs), with
/// times on the virtual clock.
pub(crate) fn mint(
    state: &SimState,
    issuer: &str,
    user: &MintedUser,
    grant: &Grant<'_>,
) -> Result<String, String> {
    let cfg = &state.config;
    let oid = user.oid.clone().unwrap_or_else(|| {
        Rng::new(seed_of(&[
            cfg.seed,
            hash_str("oidc-user"),
            hash_str(&user.upn.to_ascii_lowercase()),
        ]))
        .guid()
    });
    let now = state.clock.now().timestamp();
    let sub = b64url_encode(
        aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            format!("{oid}|{}", grant.audience).as_bytes(),
        )
        .as_ref(),
    );
    let mut claims = json!({
        "aud": grant.audience,
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now.saturating_add(grant.lifetime),
        "aio": b64url_encode(uuid::Uuid::new_v4().as_bytes()),
        "azp": grant.client_id,
        "azpacr": "0",
        "name": user.name,
        "oid": oid,
        "preferred_username": user.upn,
        "rh": "0.sim",
        "scp": grant.scope,
        "sub": sub,
        "tid": cfg.tenant,
        "uti": b64url_encode(uuid::Uuid::new_v4().as_bytes()),
        "ver": "2.0",
    });
    if !user.roles.is_empty() {
        claims["roles"] = json!(user.roles);
    }
    if !user.groups.is_empty() {
        claims["groups"] = json!(user.groups);
    }
    IssuerKey::of(cfg).and_then(|key| key.sign(&claims))
}

/// The body of `POST /_sim/user-token`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserTokenRequest {
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    name: Option<String>,
    upn: Option<String>,
    oid: Option<String>,
    audience: Option<String>,
    expires_in_secs: Option<i64>,
}

/// `POST /_sim/user-token`: a signed access token for a simulated user (see the module docs).
async fn user_token(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req: UserTokenRequest = if body.iter().all(u8::is_ascii_whitespace) {
        UserTokenRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return sim_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!(
                        "Expected {{\"roles\": [...], \"groups\": [...]}} with optional name, upn, oid, audience, expires_in_secs: {e}"
                    ),
                );
            }
        }
    };
    let lifetime = req.expires_in_secs.unwrap_or(USER_TOKEN_LIFETIME_SECS);
    if !(1..=MAX_USER_TOKEN_LIFETIME_SECS).contains(&lifetime) {
        return sim_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!(
                "expires_in_secs must be between 1 and {MAX_USER_TOKEN_LIFETIME_SECS}, got {lifetime}"
            ),
        );
    }
    let cfg = &state.config;
    let user = MintedUser {
        upn: req
            .upn
            .unwrap_or_else(|| format!("analyst@{TENANT_DOMAIN}")),
        name: req.name.unwrap_or_else(|| "Simulated Analyst".to_string()),
        oid: req.oid,
        roles: req.roles,
        groups: req.groups,
    };
    let audience = req.audience.unwrap_or_else(|| cfg.api_audience.clone());
    let signed = mint(
        &state,
        &issuer(&state, &headers),
        &user,
        &Grant {
            audience: &audience,
            client_id: &cfg.client_id,
            scope: USER_TOKEN_SCOPE,
            lifetime,
        },
    );
    match signed {
        Ok(token) => {
            tracing::debug!(issued_at = %rfc3339(state.clock.now()), lifetime, "Issued a user token.");
            let mut resp = axum::Json(json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": lifetime,
            }))
            .into_response();
            resp.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store, no-cache"),
            );
            resp
        }
        Err(e) => sim_error(StatusCode::INTERNAL_SERVER_ERROR, "IssuerKey", &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_issuer_key_matches_openssl() {
        let key = IssuerKey::from_pem(DEFAULT_ISSUER_PEM).unwrap();
        // `openssl x509 -in issuer.pem -outform DER | openssl dgst -sha1 -binary | base64url`.
        assert_eq!(key.x5t, "4wF2FcpjdzCZMXs4QrT1y4Nod_s");
        assert_eq!(key.e, "AQAB");
        // 2048-bit modulus: 256 bytes, 342 base64url characters.
        assert_eq!(key.n.len(), 342);
        assert!(key.x5c.starts_with("MII") && key.x5c.len().is_multiple_of(4));
    }

    #[test]
    fn a_key_without_its_certificate_is_refused() {
        let key_only: String = DEFAULT_ISSUER_PEM
            .split("-----BEGIN CERTIFICATE-----")
            .next()
            .unwrap_or_default()
            .to_string();
        let err = IssuerKey::from_pem(&key_only).unwrap_err();
        assert!(err.contains("CERTIFICATE"), "{err}");
        assert!(
            IssuerKey::from_pem("")
                .unwrap_err()
                .contains("no RSA PRIVATE KEY")
        );
        let other = include_str!("../../fixtures/certs/other.crt");
        let mismatched = format!("{key_only}{other}");
        assert!(IssuerKey::from_pem(&mismatched).is_err());
    }
}
