//! Who is calling the query API, and what they may do: Entra ID bearer tokens checked against the
//! issuer's published keys, mapped to a [`Principal`] and, through app roles or groups, to a
//! [`Role`].
//!
//! **Design.** The API's app registration (separate from the collector's, which holds application
//! permissions to Microsoft) exposes three app roles, `auditlake.read`, `auditlake.annotate` and
//! `auditlake.admin`; each implies the ones before it. A caller's role is the highest one its
//! token grants, either directly in `roles` or through a group object id in `groups` that the
//! deployment maps to a role ([`effective_role`]). Authentication (this module: 401 when it fails,
//! 503 when the issuer cannot be reached) is kept apart from authorization (the router: 403 when
//! the role is too low). In AWS the HTTP API's JWT authorizer checks the token first and the Lambda
//! checks it again with [`EntraVerifier`]; locally the tenant simulator is the issuer.
//!
//! [`EntraVerifier`] checks, in this order, and refuses with a message naming the failed check
//! (never echoing the token, which is never logged either):
//! 1. the header is `Authorization: Bearer <token>` (none or blank: [`AuthError::Missing`]);
//! 2. the token's shape: three base64url parts, header and claims JSON objects;
//! 3. the algorithm is on the allow-list (RS256 only by default; `none`, the HMAC family and
//!    anything not RSA are refused here, before any key is looked up, so a public key can never
//!    be used as an HMAC secret);
//! 4. the key named by `kid` is in the issuer's key set (JWKS) and the signature verifies under
//!    it (keys a token names or carries itself, `jku`, `x5u`, `jwk`, are never used; a `crit`
//!    header is refused);
//! 5. `iss` is the configured issuer (`{login}/{tenant}/v2.0`, i.e. v2.0 access tokens: the API's
//!    app registration must set `accessTokenAcceptedVersion: 2`);
//! 6. `aud` (string or array) holds one of the accepted audiences (the API's client id and/or
//!    its app id URI);
//! 7. `exp` (required) and `nbf` (when present), with a small leeway, against the [`Clock`]
//!    port, so tests on the simulator's virtual clock work;
//! 8. it is an access token for an API, not an ID token (below);
//! 9. a subject (`oid`, else `sub`).
//!
//! **Access tokens only.** An ID token proves to a *client* who signed in; it is not a grant to
//! call an API, yet it is signed by the same keys and carries the same issuer. When a browser
//! console is registered as the same app as the API, its ID tokens even carry an accepted `aud`
//! (the client id) and the user's app `roles`. So a token is refused unless it has the shape of an
//! Entra v2.0 access token:
//! - the header's `typ`, when present, is `JWT` (what Entra sets on both kinds) or `at+jwt`
//!   (RFC 9068's access-token type), ignoring case and an `application/` prefix; any other type
//!   (`logout+jwt`, `secevent+jwt`, ...) names another kind of token (RFC 8725, explicit
//!   typing). Checked with the algorithm, before any key is looked up;
//! - no `nonce`, `at_hash` or `c_hash` claim: OpenID Connect puts them in ID tokens only (MSAL
//!   sends a nonce with every sign-in, so Entra's ID tokens carry it). The `nonce` Entra puts in
//!   the *header* of its Microsoft Graph tokens is not a claim and is not looked at (such tokens
//!   fail the audience check anyway);
//! - `idtyp` (an optional claim of Entra access tokens), when present, is `user` or `app`;
//! - `azp`, the client the token was issued to: every v2.0 access token names it, while an ID
//!   token is issued *to* the client and names it only as `aud`;
//! - a grant: `scp` (delegated scopes, a non-empty string) or `roles` (a non-empty array). A
//!   user's token always carries the scope the client asked for (a deployment whose users get
//!   their role through a group must expose a delegated scope, e.g. `access_as_user`); an
//!   app-only token carries the application roles it was granted. A token with neither grants
//!   nothing here, and ID tokens never carry `scp`.
//!
//! These checks come after the signature, issuer, audience and lifetime, so a forged or foreign
//! token learns nothing from them.
//!
//! **Keys.** The JWKS URL is given or discovered once from
//! `{issuer}/.well-known/openid-configuration` (whose `issuer` must match). The key set is cached
//! and fetched again when it is older than [`EntraVerifierConfig::max_key_age`], or when a token
//! names an unknown `kid` (a key rotation) and the last fetch was at least
//! [`EntraVerifierConfig::refetch_interval`] ago, so a flood of forged `kid`s costs the issuer at
//! most one request per interval. Fetches are single-flight (one at a time, under the cache lock)
//! and each has a timeout; after a failed fetch none is tried for [`FAILED_FETCH_BACKOFF`]. When a
//! refresh of a stale key set fails, the old keys stay in use (with a warning) rather than
//! turning every request into a 503.
//!
//! **Not covered.** Group overage (a user in more than 200 groups gets `_claim_names` instead of
//! `groups`; resolving it needs Graph) is not followed: such a user must be granted a role
//! directly. Only `kty: RSA` keys are read.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use runtime::clock::Clock;

pub use domain::access::{
    ANONYMOUS_SUBJECT, AuthError, Authenticator, Disabled, Principal, ROLE_ADMIN, ROLE_ANNOTATE,
    ROLE_READ, Role, effective_role,
};

/// After a failed key fetch, no other is tried for this long (clock time).
pub const FAILED_FETCH_BACKOFF: Duration = Duration::from_secs(10);

/// Longest token accepted (bytes); Entra access tokens are a few KB.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The issuer of Entra ID v2.0 tokens for `tenant` at `login_url` (`https://login.microsoftonline.com`
/// or a national cloud's, or the simulator's base URL): `{login_url}/{tenant}/v2.0`.
pub fn entra_issuer(login_url: &str, tenant: &str) -> String {
    format!("{}/{tenant}/v2.0", login_url.trim_end_matches('/'))
}

/// How an [`EntraVerifier`] checks tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraVerifierConfig {
    /// The `iss` tokens must carry, exactly: `{login}/{tenant}/v2.0` (see [`entra_issuer`]).
    pub issuer: String,
    /// Accepted `aud` values: the API's application (client) id and/or its app id URI
    /// (`api://...`). At least one.
    pub audiences: Vec<String>,
    /// The key set's URL; `None`: taken from the issuer's discovery document,
    /// `{issuer}/.well-known/openid-configuration`.
    pub jwks_url: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// Least time between two key-set fetches caused by an unknown `kid`.
    pub refetch_interval: Duration,
    /// A key set older than this is fetched again before it is used.
    pub max_key_age: Duration,
    /// Timeout of each discovery or key-set request.
    pub http_timeout: Duration,
    /// Signature algorithms accepted; RSA ones only (RS256/384/512, PS256/384/512).
    pub algorithms: Vec<Algorithm>,
}

impl EntraVerifierConfig {
    /// Defaults: keys discovered from the issuer, 60 s leeway, a refetch on an unknown `kid` at
    /// most every 5 minutes, keys refreshed daily, 5 s HTTP timeout, RS256 only.
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>) -> Self {
        EntraVerifierConfig {
            issuer: issuer.into(),
            audiences,
            jwks_url: None,
            leeway: Duration::from_secs(60),
            refetch_interval: Duration::from_secs(5 * 60),
            max_key_age: Duration::from_secs(24 * 3600),
            http_timeout: Duration::from_secs(5),
            algorithms: vec![Algorithm::RS256],
        }
    }
}

/// An [`EntraVerifierConfig`] that cannot work.
#[derive(Debug, thiserror::Error)]
#[error("invalid token verification settings: {0}")]
pub struct VerifierConfigError(pub String);

/// The real [`Authenticator`]: Entra ID (or the simulator) access tokens checked against the
/// issuer's key set (see the module docs).
pub struct EntraVerifier {
    config: EntraVerifierConfig,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    keys: Mutex<KeyCache>,
}

impl std::fmt::Debug for EntraVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntraVerifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// One verification key of the issuer's set.
#[derive(Clone)]
struct SigningKey {
    key: DecodingKey,
    /// The key's own `alg`, when the set names one.
    alg: Option<String>,
}

/// The cached key set and the bookkeeping that limits fetches.
#[derive(Default)]
struct KeyCache {
    /// The discovered key-set URL.
    jwks_url: Option<String>,
    keys: HashMap<String, SigningKey>,
    /// Last successful fetch.
    fetched_at: Option<DateTime<Utc>>,
    /// Last fetch attempt, successful or not.
    attempted_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed, if it did.
    last_error: Option<String>,
}

/// A JWKS document.
#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Value>,
}

/// The part of a discovery document used here.
#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

fn invalid(why: impl Into<String>) -> AuthError {
    AuthError::Invalid(why.into())
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// Decodes one base64url part of a JWT into a JSON object.
fn json_part(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice::<Value>(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A claim holding a list of strings (anything else in it is ignored).
fn strings(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// A non-empty string claim.
fn text(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
}

/// A NumericDate claim (seconds; a fractional value is truncated).
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, AuthError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| invalid(format!("claim {name} is not a date"))),
        Some(_) => Err(invalid(format!("claim {name} is not a date"))),
    }
}

/// Header `typ` values of an access token: Entra's `JWT` and RFC 9068's `at+jwt`.
const ACCESS_TOKEN_TYPES: [&str; 2] = ["jwt", "at+jwt"];

/// Claims only ID tokens carry (OpenID Connect Core 1.0, sections 2 and 3.3.2.11).
const ID_TOKEN_CLAIMS: [&str; 3] = ["nonce", "at_hash", "c_hash"];

/// The header's `typ`, when present, names an access token (see the module docs).
fn check_type(header: &Map<String, Value>) -> Result<(), AuthError> {
    let typ = match header.get("typ") {
        None => return Ok(()),
        Some(Value::String(t)) => t.to_ascii_lowercase(),
        Some(_) => return Err(invalid("malformed token: the header's typ is not a string")),
    };
    let typ = typ.strip_prefix("application/").unwrap_or(&typ);
    if ACCESS_TOKEN_TYPES.contains(&typ) {
        Ok(())
    } else {
        Err(invalid(
            "not an access token: the header's typ is neither JWT nor at+jwt",
        ))
    }
}

/// The claims are an access token's, not an ID token's (see the module docs).
fn check_access_token(claims: &Map<String, Value>) -> Result<(), AuthError> {
    if let Some(claim) = ID_TOKEN_CLAIMS.iter().find(|c| claims.contains_key(**c)) {
        return Err(invalid(format!(
            "an ID token, not an access token (it carries {claim}): send the access token issued for this API"
        )));
    }
    match claims.get("idtyp") {
        None => {}
        Some(Value::String(t)) if t == "user" || t == "app" => {}
        Some(_) => {
            return Err(invalid(
                "not an access token: idtyp is neither user nor app",
            ));
        }
    }
    if text(claims, "azp").is_none() {
        return Err(invalid(
            "not an access token: it names no client (azp), as ID tokens do not",
        ));
    }
    if text(claims, "scp").is_none() && strings(claims, "roles").is_empty() {
        return Err(invalid(
            "not an access token for this API: it grants no scope (scp) and no app role (roles)",
        ));
    }
    Ok(())
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(AuthError::Missing);
    }
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(invalid(
            "the Authorization scheme is not Bearer (send 'Authorization: Bearer <access token>')",
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token)
}

/// Reads one JWK into a verification key; `None` for a key that is not an RSA signing key.
fn signing_key(jwk: &Value) -> Option<(String, SigningKey)> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    if field("kty") != Some("RSA") || field("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let kid = field("kid").filter(|k| !k.is_empty())?;
    let key = DecodingKey::from_rsa_components(field("n")?, field("e")?).ok()?;
    Some((
        kid.to_string(),
        SigningKey {
            key,
            alg: field("alg").map(str::to_string),
        },
    ))
}

impl EntraVerifier {
    /// A verifier with `config`, fetching keys through `http` and reading time from `clock`.
    pub fn new(
        config: EntraVerifierConfig,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, VerifierConfigError> {
        if config.issuer.trim().is_empty() {
            return Err(VerifierConfigError("the issuer is empty".into()));
        }
        if config.audiences.iter().all(|a| a.trim().is_empty()) {
            return Err(VerifierConfigError(
                "no audience: give the API's client id and/or app id URI".into(),
            ));
        }
        if config.algorithms.is_empty() {
            return Err(VerifierConfigError("no signature algorithm allowed".into()));
        }
        if let Some(alg) = config
            .algorithms
            .iter()
            .find(|a| a.family() != jsonwebtoken::AlgorithmFamily::Rsa)
        {
            return Err(VerifierConfigError(format!(
                "algorithm {alg:?} is not an RSA signature algorithm; the issuer's keys are RSA"
            )));
        }
        Ok(EntraVerifier {
            config,
            http,
            clock,
            keys: Mutex::new(KeyCache::default()),
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &EntraVerifierConfig {
        &self.config
    }

    /// Checks `token` (see the module docs for the order of the checks).
    async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(invalid("malformed token: longer than any access token"));
        }
        let parts: Vec<&str> = token.split('.').collect();
        let [header_b64, claims_b64, signature_b64] = parts[..] else {
            return Err(invalid(
                "malformed token: a JWT has three dot-separated parts",
            ));
        };
        let header = json_part(header_b64)
            .ok_or_else(|| invalid("malformed token: the header is not base64url JSON"))?;
        let alg_name = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("malformed token: the header has no alg"))?;
        if alg_name.eq_ignore_ascii_case("none") {
            return Err(invalid("algorithm none is not allowed"));
        }
        let alg = match Algorithm::from_str(alg_name) {
            Ok(alg) if self.config.algorithms.contains(&alg) => alg,
            Ok(alg) => return Err(invalid(format!("algorithm {alg:?} is not allowed"))),
            Err(_) => return Err(invalid("the token's algorithm is not allowed")),
        };
        check_type(&header)?;
        if header.contains_key("crit") {
            return Err(invalid(
                "the token has critical header parameters (crit) this verifier does not understand",
            ));
        }
        let claims = json_part(claims_b64)
            .ok_or_else(|| invalid("malformed token: the claims are not base64url JSON"))?;
        if signature_b64.is_empty() {
            return Err(invalid("malformed token: no signature"));
        }
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| invalid("the token names no signing key (kid)"))?;
        let key = self.key(kid).await?;
        if key.alg.as_deref().is_some_and(|a| a != alg_name) {
            return Err(invalid(
                "the token's algorithm is not the one of its signing key",
            ));
        }
        let message = &token[..header_b64.len() + 1 + claims_b64.len()];
        let verified =
            jsonwebtoken::crypto::verify(signature_b64, message.as_bytes(), &key.key, alg)
                .unwrap_or(false);
        if !verified {
            return Err(invalid("signature does not verify"));
        }
        self.check_claims(&claims)?;
        check_access_token(&claims)?;
        let subject = text(&claims, "oid")
            .or_else(|| text(&claims, "sub"))
            .ok_or_else(|| invalid("the token has no subject (oid or sub)"))?;
        Ok(Principal {
            subject,
            name: text(&claims, "name"),
            upn: text(&claims, "preferred_username").or_else(|| text(&claims, "upn")),
            roles: strings(&claims, "roles"),
            groups: strings(&claims, "groups"),
        })
    }

    /// Issuer, audience, expiry and not-before, against the clock.
    fn check_claims(&self, claims: &Map<String, Value>) -> Result<(), AuthError> {
        match claims.get("iss").and_then(Value::as_str) {
            None => return Err(invalid("the token has no issuer (iss)")),
            Some(iss) if iss != self.config.issuer => return Err(invalid("wrong issuer")),
            Some(_) => {}
        }
        let accepted = |a: &str| self.config.audiences.iter().any(|x| x == a);
        let aud_ok = match claims.get("aud") {
            None => return Err(invalid("the token has no audience (aud)")),
            Some(Value::String(a)) => accepted(a),
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(accepted),
            Some(_) => false,
        };
        if !aud_ok {
            return Err(invalid("wrong audience"));
        }
        let now = self.clock.now().timestamp();
        let leeway = i64::try_from(self.config.leeway.as_secs()).unwrap_or(i64::MAX);
        let exp =
            numeric_date(claims, "exp")?.ok_or_else(|| invalid("the token has no expiry (exp)"))?;
        if now >= exp.saturating_add(leeway) {
            return Err(invalid("token expired"));
        }
        if let Some(nbf) = numeric_date(claims, "nbf")?
            && now.saturating_add(leeway) < nbf
        {
            return Err(invalid("token not yet valid (nbf)"));
        }
        Ok(())
    }

    /// The verification key named `kid`, fetching the key set when the cache rules allow.
    async fn key(&self, kid: &str) -> Result<SigningKey, AuthError> {
        let now = self.clock.now();
        let mut cache = self.keys.lock().await;
        let since = |t: Option<DateTime<Utc>>| t.map(|t| now - t);
        let fresh = since(cache.fetched_at).is_some_and(|age| age < delta(self.config.max_key_age));
        if fresh && let Some(key) = cache.keys.get(kid) {
            return Ok(key.clone());
        }
        let since_attempt = since(cache.attempted_at);
        let backed_off = cache.last_error.is_some()
            && since_attempt.is_some_and(|d| d < delta(FAILED_FETCH_BACKOFF));
        let may_fetch = if cache.fetched_at.is_none() || !fresh {
            // No keys yet, or keys too old: fetch unless a fetch just failed.
            !backed_off
        } else {
            // An unknown kid with a fresh key set: a rotation, or a forgery.
            since_attempt.is_none_or(|d| d >= delta(self.config.refetch_interval)) && !backed_off
        };
        if may_fetch {
            cache.attempted_at = Some(now);
            match self.fetch(&mut cache).await {
                Ok(keys) => {
                    tracing::info!(
                        keys = keys.len(),
                        "Fetched the token issuer's signing keys."
                    );
                    cache.keys = keys;
                    cache.fetched_at = Some(now);
                    cache.last_error = None;
                }
                Err(error) => {
                    tracing::warn!(%error, "Cannot fetch the token issuer's signing keys.");
                    cache.last_error = Some(error);
                }
            }
        }
        if let Some(key) = cache.keys.get(kid) {
            if cache.last_error.is_some() {
                tracing::warn!("Using a stale key set: the issuer cannot be reached.");
            }
            return Ok(key.clone());
        }
        match (&cache.last_error, cache.fetched_at) {
            // Keys were never had, or the fetch meant to find this kid failed.
            (Some(error), None) => Err(AuthError::Unavailable(error.clone())),
            (Some(error), Some(_)) if may_fetch => Err(AuthError::Unavailable(error.clone())),
            _ => Err(invalid(
                "unknown signing key: the token's kid is not in the issuer's key set",
            )),
        }
    }

    /// Fetches the key set (discovering its URL first when needed).
    async fn fetch(&self, cache: &mut KeyCache) -> Result<HashMap<String, SigningKey>, String> {
        let url = match (&self.config.jwks_url, &cache.jwks_url) {
            (Some(url), _) | (None, Some(url)) => url.clone(),
            (None, None) => {
                let url = self.discover().await?;
                cache.jwks_url = Some(url.clone());
                url
            }
        };
        let set: JwkSet = self.get_json(&url, "signing keys").await?;
        let keys: HashMap<String, SigningKey> = set.keys.iter().filter_map(signing_key).collect();
        if keys.is_empty() {
            return Err(format!(
                "the key set at {url} holds no RSA signing key with a kid"
            ));
        }
        Ok(keys)
    }

    /// The key-set URL from the issuer's discovery document.
    async fn discover(&self) -> Result<String, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let doc: Discovery = self.get_json(&url, "discovery document").await?;
        if doc.issuer != self.config.issuer {
            return Err(format!(
                "the discovery document at {url} names issuer {} instead of the configured {}",
                doc.issuer, self.config.issuer
            ));
        }
        Ok(doc.jwks_uri)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        what: &str,
    ) -> Result<T, String> {
        let resp = self
            .http
            .get(url)
            .timeout(self.config.http_timeout)
            .send()
            .await
            .map_err(|e| {
                let why = if e.is_timeout() {
                    "timed out".to_string()
                } else {
                    error_chain(&e.without_url())
                };
                format!("cannot fetch the {what} from {url}: {why}")
            })?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!(
                "{url} answered HTTP {} to the {what} request",
                status.as_u16()
            ));
        }
        resp.json::<T>()
            .await
            .map_err(|_| format!("{url} answered something that is not a {what}"))
    }
}

/// An error and its causes, `: `-separated (reqwest's own text says little: "error sending
/// request").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[async_trait]
impl Authenticator for EntraVerifier {
    async fn authenticate(
        &self,
        authorization_header: Option<&str>,
    ) -> Result<Principal, AuthError> {
        let token = bearer(authorization_header)?;
        self.verify(token).await
    }
}

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod token_kind_tests;
