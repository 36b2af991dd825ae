//! Entra ID app-only tokens by the client-credentials grant. The client credential is read once
//! from SSM and cached for the life of the container; access tokens are cached per scope until
//! five minutes before they expire. Neither ever reaches a log line or an error message: errors
//! carry Entra's `error`, its AADSTS code and the first line of its description only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::clock::Clock;
use crate::config::CredentialSource;
use crate::model::ErrorInfo;
use crate::store::{ParameterStore, StoreError};

/// Tokens are renewed this long before Entra says they expire.
const RENEW_BEFORE: TimeDelta = TimeDelta::minutes(5);
/// Attempts at the token endpoint on network errors, 5xx and `temporarily_unavailable`.
const TOKEN_ATTEMPTS: u32 = 4;

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("Entra ID refused the token request ({error}, {code}): {description}{hint}")]
    Rejected {
        status: u16,
        error: String,
        /// `AADSTS7000215` and the like.
        code: String,
        description: String,
        hint: String,
    },
    #[error("cannot read the client credential: {0}")]
    Credential(#[from] StoreError),
    #[error(
        "certificate authentication (AUDITLAKE_CLIENT_CERT_PARAM) is not supported by this version; set AUDITLAKE_CLIENT_SECRET_PARAM"
    )]
    CertificateUnsupported,
    #[error("token endpoint {url} could not be reached: {message}")]
    Transport { url: String, message: String },
    #[error("token endpoint {url} answered something that is not a token response (HTTP {status})")]
    Protocol { url: String, status: u16 },
}

impl AuthError {
    pub fn info(&self) -> ErrorInfo {
        let code = match self {
            AuthError::Rejected { code, .. } => code.clone(),
            AuthError::Credential(_) => "CredentialUnavailable".into(),
            AuthError::CertificateUnsupported => "CertificateUnsupported".into(),
            AuthError::Transport { .. } => "TokenEndpointUnreachable".into(),
            AuthError::Protocol { .. } => "TokenEndpointProtocol".into(),
        };
        ErrorInfo {
            code,
            message: self.to_string(),
        }
    }
}

/// Plain-language advice for the AADSTS codes an operator meets when setting up.
fn hint(code: u64) -> &'static str {
    match code {
        7000215 => " (the client secret is wrong: store the secret's Value, not its Secret ID)",
        7000222 => {
            " (the client secret has expired: create a new one and update the SSM parameter)"
        }
        700016 => " (the application id is not registered in this tenant)",
        90002 | 900023 => " (the tenant id is wrong)",
        7000218 => " (no client secret or assertion was sent)",
        _ => "",
    }
}

/// Something that hands out bearer tokens for a scope.
#[async_trait]
pub trait TokenSource: Send + Sync {
    async fn token(&self, scope: &str) -> Result<SecretString, AuthError>;
    /// Forgets the cached token for `scope` (after a 401).
    fn invalidate(&self, scope: &str);
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(deserialize_with = "number_or_string")]
    expires_in: i64,
}

fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        Int(i64),
        Str(String),
    }
    match N::deserialize(d)? {
        N::Int(n) => Ok(n),
        N::Str(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

#[derive(Deserialize, Default)]
struct EntraError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u64>,
}

/// The client-credentials grant against the v2 token endpoint.
pub struct ClientCredentials {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    credential: CredentialSource,
    params: Arc<dyn ParameterStore>,
    clock: Arc<dyn Clock>,
    secret: OnceCell<SecretString>,
    cache: Mutex<HashMap<String, (SecretString, DateTime<Utc>)>>,
}

impl ClientCredentials {
    pub fn new(
        http: reqwest::Client,
        token_url: String,
        client_id: String,
        credential: CredentialSource,
        params: Arc<dyn ParameterStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        ClientCredentials {
            http,
            token_url,
            client_id,
            credential,
            params,
            clock,
            secret: OnceCell::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn secret(&self) -> Result<&SecretString, AuthError> {
        let param = match &self.credential {
            CredentialSource::Secret { param } => param.clone(),
            CredentialSource::Certificate { .. } => return Err(AuthError::CertificateUnsupported),
        };
        self.secret
            .get_or_try_init(|| async {
                let mut values = self.params.get_secure(std::slice::from_ref(&param)).await?;
                values.remove(&param).ok_or_else(|| {
                    AuthError::Credential(StoreError::NotFound {
                        resource: format!("SSM parameter {param}"),
                    })
                })
            })
            .await
    }

    fn cached(&self, scope: &str) -> Option<SecretString> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let (token, expires) = cache.get(scope)?;
        (self.clock.now() + RENEW_BEFORE < *expires).then(|| token.clone())
    }

    async fn request(&self, scope: &str) -> Result<(SecretString, i64), AuthError> {
        let secret = self.secret().await?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let form = [
                ("grant_type", "client_credentials"),
                ("client_id", self.client_id.as_str()),
                ("client_secret", secret.expose_secret()),
                ("scope", scope),
            ];
            let retry_in = Duration::from_millis(500 * 2u64.pow(attempt));
            let resp = match self.http.post(&self.token_url).form(&form).send().await {
                Ok(r) => r,
                Err(e) if attempt < TOKEN_ATTEMPTS => {
                    tracing::warn!(error = %without_url(&e), attempt, "Token request failed; retrying.");
                    self.clock.sleep(retry_in).await;
                    continue;
                }
                Err(e) => {
                    return Err(AuthError::Transport {
                        url: self.token_url.clone(),
                        message: without_url(&e),
                    });
                }
            };
            let status = resp.status();
            let body = resp.bytes().await.unwrap_or_default();
            if status.is_success() {
                let t: TokenResponse =
                    serde_json::from_slice(&body).map_err(|_| AuthError::Protocol {
                        url: self.token_url.clone(),
                        status: status.as_u16(),
                    })?;
                return Ok((SecretString::from(t.access_token), t.expires_in));
            }
            let err: EntraError = serde_json::from_slice(&body).unwrap_or_default();
            let transient = status.is_server_error() || err.error == "temporarily_unavailable";
            if transient && attempt < TOKEN_ATTEMPTS {
                tracing::warn!(
                    status = status.as_u16(),
                    attempt,
                    "Token endpoint unavailable; retrying."
                );
                self.clock.sleep(retry_in).await;
                continue;
            }
            if err.error.is_empty() {
                return Err(AuthError::Protocol {
                    url: self.token_url.clone(),
                    status: status.as_u16(),
                });
            }
            let first = err.error_codes.first().copied();
            let description = err
                .error_description
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            return Err(AuthError::Rejected {
                status: status.as_u16(),
                error: err.error,
                code: first.map_or_else(|| "AADSTS".into(), |c| format!("AADSTS{c}")),
                description,
                hint: first.map(hint).unwrap_or_default().to_string(),
            });
        }
    }
}

/// A reqwest error's text without the URL's query string (which never holds secrets here, but
/// this keeps log lines short and stable).
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(url) = e.url() {
        s = s.replace(url.as_str(), url.path());
    }
    s
}

#[async_trait]
impl TokenSource for ClientCredentials {
    async fn token(&self, scope: &str) -> Result<SecretString, AuthError> {
        if let Some(t) = self.cached(scope) {
            return Ok(t);
        }
        let (token, expires_in) = self.request(scope).await?;
        let expires = self.clock.now() + TimeDelta::seconds(expires_in);
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(scope.to_string(), (token.clone(), expires));
        Ok(token)
    }

    fn invalidate(&self, scope: &str) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(scope);
    }
}
