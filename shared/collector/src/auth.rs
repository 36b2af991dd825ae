//! Entra ID app-only tokens by the client-credentials grant. The client credential is read once
//! from SSM and cached for the life of the container; access tokens are cached per scope until
//! five minutes before they expire. Neither ever reaches a log line or an error message: errors
//! carry Entra's `error`, its AADSTS code and the first line of its description only, and a
//! certificate credential that cannot be used is reported by its parameter name and what is wrong
//! with it, never by its content.
//!
//! Two credentials are supported (`config::CredentialSource`):
//! - a **client secret**, sent as `client_secret`;
//! - a **certificate**: one SSM SecureString holding a PEM RSA private key (PKCS#8 `PRIVATE KEY` or
//!   PKCS#1 `RSA PRIVATE KEY`) and its PEM certificate, concatenated in either order (text outside
//!   the PEM blocks is ignored; with several certificates, the one whose public key is the
//!   private key's is used). Each token request then carries a fresh client-assertion JWT
//!   (`m365-api-contract.md` 1.2): header `{"alg":"PS256","typ":"JWT","x5t#S256":<base64url
//!   SHA-256 of the certificate's DER>}`, claims `aud` = the token endpoint URL, `iss` = `sub` =
//!   the client id, `jti` = a new UUID v4, `nbf` = `iat` = now and `exp` = now + 10 minutes, all
//!   times from the [`Clock`] port. If Entra answers a PS256 assertion with `invalid_client`
//!   AADSTS700027, the request is repeated once with the legacy form (`alg: RS256` and `x5t`, the
//!   base64url SHA-1 thumbprint), and RS256 is used for the rest of the container's life if that
//!   succeeds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_lc_rs::digest;
use aws_lc_rs::signature::{KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rustls_pki_types::pem::{PemObject, SectionKind};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use domain::config::CredentialSource;
use domain::model::ErrorInfo;
use domain::store::{ParameterStore, StoreError};
use runtime::clock::Clock;

/// Tokens are renewed this long before Entra says they expire.
const RENEW_BEFORE: TimeDelta = TimeDelta::minutes(5);
/// Attempts at the token endpoint on network errors, 5xx and `temporarily_unavailable`.
const TOKEN_ATTEMPTS: u32 = 4;
/// `client_assertion_type` of a JWT client assertion (RFC 7523).
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long a client assertion is valid (MSAL's choice; the contract allows 5-10 minutes).
const ASSERTION_LIFETIME: TimeDelta = TimeDelta::minutes(10);
/// `rsaEncryption`, the algorithm of a PKCS#8 RSA private key.
const RSA_ENCRYPTION: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

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
    /// The certificate parameter was read but cannot be used.
    #[error(
        "SSM parameter {param} does not hold a usable certificate credential: {problem} (it must hold a PEM RSA private key and its PEM certificate)"
    )]
    Certificate {
        param: String,
        problem: CertificateProblem,
    },
    /// The client assertion could not be signed (the key was accepted when it was read, so this
    /// is not expected).
    #[error("cannot sign the client assertion: {message}")]
    Assertion { message: String },
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
            AuthError::Certificate { .. } => "CertificateInvalid".into(),
            AuthError::Assertion { .. } => "AssertionSigningFailed".into(),
            AuthError::Transport { .. } => "TokenEndpointUnreachable".into(),
            AuthError::Protocol { .. } => "TokenEndpointProtocol".into(),
        };
        ErrorInfo {
            code,
            message: self.to_string(),
        }
    }
}

/// What is wrong with a certificate credential. The text names PEM blocks and properties only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CertificateProblem {
    #[error(
        "the value is not well-formed PEM (each -----BEGIN and -----END line on a line of its own, base64 between them)"
    )]
    MalformedPem,
    #[error("no PRIVATE KEY block")]
    NoPrivateKey,
    #[error("the private key is encrypted; store it unencrypted (the SecureString encrypts it)")]
    EncryptedPrivateKey,
    #[error("more than one PRIVATE KEY block")]
    SeveralPrivateKeys,
    #[error("key is not RSA")]
    NotRsa,
    #[error("the RSA private key cannot be read or is not 2048 to 8192 bits")]
    InvalidRsaKey,
    #[error("no CERTIFICATE block")]
    NoCertificate,
    #[error("no CERTIFICATE block holds the private key's public key")]
    KeyDoesNotMatchCertificate,
}

/// The signature algorithm of a client assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AssertionAlg {
    /// RSASSA-PSS with SHA-256, with the `x5t#S256` thumbprint (the current form).
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, with the SHA-1 `x5t` thumbprint (the legacy form).
    Rs256,
}

/// An RSA private key and its certificate's thumbprints: what signing an assertion needs.
struct CertificateCredential {
    /// PKCS#1 DER; zeroized on drop, redacted in `Debug`.
    key: EncodingKey,
    /// Base64url SHA-256 of the certificate's DER.
    x5t_s256: String,
    /// Base64url SHA-1 of the certificate's DER.
    x5t: String,
}

impl std::fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("x5t#S256", &self.x5t_s256)
            .finish_non_exhaustive()
    }
}

/// The claims of a client assertion (Microsoft identity platform, "certificate credentials":
/// `aud` the token endpoint, `iss` and `sub` the client id, a unique `jti`, `nbf` and `exp`).
#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: i64,
    iat: i64,
    exp: i64,
}

/// When the first certificate in `pem` (the stored key-and-certificate parameter) stops being
/// valid: what the doctor warns about 30 days ahead, without asking Graph for the app
/// registration. `None` when there is no readable certificate.
pub fn certificate_not_after(pem: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use x509_cert::der::Decode;
    let der = rustls_pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()?
        .ok()?;
    let cert = x509_cert::Certificate::from_der(&der).ok()?;
    let secs = cert
        .tbs_certificate()
        .validity()
        .not_after
        .to_unix_duration()
        .as_secs();
    chrono::DateTime::from_timestamp(i64::try_from(secs).ok()?, 0)
}

impl CertificateCredential {
    /// Reads a PEM RSA private key and its certificate from `pem` (see the module docs).
    fn from_pem(pem: &str) -> Result<Self, CertificateProblem> {
        // An OpenSSL-encrypted PKCS#1 key ("Proc-Type: 4,ENCRYPTED" inside its block).
        if pem.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(CertificateProblem::EncryptedPrivateKey);
        }
        let mut keys: Vec<(SectionKind, Zeroizing<Vec<u8>>)> = Vec::new();
        let mut certificates: Vec<Vec<u8>> = Vec::new();
        for section in <(SectionKind, Vec<u8>) as PemObject>::pem_slice_iter(pem.as_bytes()) {
            let (kind, der) = section.map_err(|_| CertificateProblem::MalformedPem)?;
            match kind {
                SectionKind::PrivateKey
                | SectionKind::RsaPrivateKey
                | SectionKind::EcPrivateKey => {
                    keys.push((kind, Zeroizing::new(der)));
                }
                SectionKind::Certificate => certificates.push(der),
                _ => {}
            }
        }
        let (kind, der) = match keys.as_slice() {
            [] if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") => {
                return Err(CertificateProblem::EncryptedPrivateKey);
            }
            [] => return Err(CertificateProblem::NoPrivateKey),
            [one] => one,
            _ => return Err(CertificateProblem::SeveralPrivateKeys),
        };
        let pkcs1: Zeroizing<Vec<u8>> = match kind {
            SectionKind::RsaPrivateKey => der.clone(),
            SectionKind::PrivateKey => {
                let info = pkcs8::PrivateKeyInfoRef::try_from(der.as_slice())
                    .map_err(|_| CertificateProblem::InvalidRsaKey)?;
                if info.algorithm.oid != RSA_ENCRYPTION {
                    return Err(CertificateProblem::NotRsa);
                }
                Zeroizing::new(info.private_key.as_bytes().to_vec())
            }
            _ => return Err(CertificateProblem::NotRsa),
        };
        let pair = RsaKeyPair::from_der(&pkcs1).map_err(|_| CertificateProblem::InvalidRsaKey)?;
        // A certificate's SubjectPublicKeyInfo holds the RSAPublicKey DER verbatim (as the
        // content of its BIT STRING), so the certificate of this key is the one containing
        // those bytes: no X.509 parser needed in the collector.
        let public = pair.public_key().as_ref();
        if certificates.is_empty() {
            return Err(CertificateProblem::NoCertificate);
        }
        let certificate = certificates
            .iter()
            .find(|der| der.windows(public.len()).any(|w| w == public))
            .ok_or(CertificateProblem::KeyDoesNotMatchCertificate)?;
        Ok(CertificateCredential {
            key: EncodingKey::from_rsa_der(&pkcs1),
            x5t_s256: thumbprint(&digest::SHA256, certificate),
            x5t: thumbprint(&digest::SHA1_FOR_LEGACY_USE_ONLY, certificate),
        })
    }

    /// A client assertion for `token_url`, valid from `now` for ten minutes.
    fn assertion(
        &self,
        alg: AssertionAlg,
        token_url: &str,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<String, AuthError> {
        let header = match alg {
            AssertionAlg::Ps256 => Header {
                x5t_s256: Some(self.x5t_s256.clone()),
                ..Header::new(Algorithm::PS256)
            },
            AssertionAlg::Rs256 => Header {
                x5t: Some(self.x5t.clone()),
                ..Header::new(Algorithm::RS256)
            },
        };
        let claims = AssertionClaims {
            aud: token_url,
            iss: client_id,
            sub: client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now.timestamp(),
            iat: now.timestamp(),
            exp: (now + ASSERTION_LIFETIME).timestamp(),
        };
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| AuthError::Assertion {
            message: e.to_string(),
        })
    }
}

/// Base64url (no padding) of a digest of `der`: a JWT `x5t` or `x5t#S256` value.
fn thumbprint(alg: &'static digest::Algorithm, der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(alg, der))
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
        700027 => {
            " (the certificate is not registered on the app, or the key does not match it: upload the certificate's public part under Certificates & secrets)"
        }
        700024 => " (the client assertion's time range was refused: check the clock)",
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

/// The client credential read from SSM, parsed once.
enum Credential {
    Secret(SecretString),
    Certificate(CertificateCredential),
}

/// The client-credentials grant against the v2 token endpoint.
pub struct ClientCredentials {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    credential: CredentialSource,
    params: Arc<dyn ParameterStore>,
    clock: Arc<dyn Clock>,
    loaded: OnceCell<Credential>,
    /// Entra refused a PS256 assertion and took an RS256 one: use RS256 from now on.
    legacy_rs256: AtomicBool,
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
            loaded: OnceCell::new(),
            legacy_rs256: AtomicBool::new(false),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The credential, read from SSM (and parsed, for a certificate) on first use only.
    async fn credential(&self) -> Result<&Credential, AuthError> {
        self.loaded
            .get_or_try_init(|| async {
                let param = match &self.credential {
                    CredentialSource::Secret { param }
                    | CredentialSource::Certificate { param } => param.clone(),
                };
                let mut values = self.params.get_secure(std::slice::from_ref(&param)).await?;
                let value = values.remove(&param).ok_or_else(|| {
                    AuthError::Credential(StoreError::NotFound {
                        resource: format!("SSM parameter {param}"),
                    })
                })?;
                match &self.credential {
                    CredentialSource::Secret { .. } => Ok(Credential::Secret(value)),
                    CredentialSource::Certificate { .. } => {
                        CertificateCredential::from_pem(value.expose_secret())
                            .map(Credential::Certificate)
                            .map_err(|problem| AuthError::Certificate { param, problem })
                    }
                }
            })
            .await
    }

    fn cached(&self, scope: &str) -> Option<SecretString> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let (token, expires) = cache.get(scope)?;
        (self.clock.now() + RENEW_BEFORE < *expires).then(|| token.clone())
    }

    async fn request(&self, scope: &str) -> Result<(SecretString, i64), AuthError> {
        let credential = self.credential().await?;
        let mut alg = if self.legacy_rs256.load(Ordering::Relaxed) {
            AssertionAlg::Rs256
        } else {
            AssertionAlg::Ps256
        };
        let mut fell_back = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Every attempt carries a fresh assertion: a new jti and the current time.
            let assertion: SecretString;
            let mut form = vec![
                ("grant_type", "client_credentials"),
                ("client_id", self.client_id.as_str()),
            ];
            match credential {
                Credential::Secret(secret) => form.push(("client_secret", secret.expose_secret())),
                Credential::Certificate(cert) => {
                    assertion = cert
                        .assertion(alg, &self.token_url, &self.client_id, self.clock.now())?
                        .into();
                    form.push(("client_assertion_type", ASSERTION_TYPE));
                    form.push(("client_assertion", assertion.expose_secret()));
                }
            }
            form.push(("scope", scope));
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
                if fell_back {
                    self.legacy_rs256.store(true, Ordering::Relaxed);
                    tracing::info!(
                        "Entra accepted the RS256 client assertion; using RS256 from now on."
                    );
                }
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
            if alg == AssertionAlg::Ps256
                && matches!(credential, Credential::Certificate(_))
                && err.error == "invalid_client"
                && err.error_codes.contains(&700027)
            {
                tracing::warn!(
                    "Entra refused the PS256 client assertion (AADSTS700027); retrying once with RS256."
                );
                alg = AssertionAlg::Rs256;
                fell_back = true;
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

#[cfg(test)]
mod tests {
    //! The certificate credential: PEM parsing and its errors, thumbprints against the values
    //! `openssl x509 -fingerprint` printed (tests/fixtures/certs/README.md), the assertion's
    //! header and claims, and its signature under the certificate's key.

    use super::*;
    use jsonwebtoken::DecodingKey;

    const KEY_PKCS8: &str = include_str!("../../../tests/fixtures/certs/client.key");
    const KEY_PKCS1: &str = include_str!("../../../tests/fixtures/certs/client.rsa.key");
    const CERT: &str = include_str!("../../../tests/fixtures/certs/client.crt");
    const OTHER_KEY: &str = include_str!("../../../tests/fixtures/certs/other.key");
    const OTHER_CERT: &str = include_str!("../../../tests/fixtures/certs/other.crt");
    /// `openssl x509 -fingerprint -sha256` / `-sha1` of client.crt, from the fixture README.
    const CLIENT_SHA256_HEX: &str = "86:09:26:C9:A4:13:CE:C6:D6:5A:3F:97:20:C1:0F:B1:CC:3D:D8:AA:0F:5A:CA:72:A2:89:37:53:5B:B5:D9:C4";
    const CLIENT_SHA1_HEX: &str = "4B:54:C4:15:EC:83:71:DA:EB:D1:0F:71:A6:5B:2C:D7:D7:D3:71:2B";
    const TOKEN_URL: &str =
        "https://login.microsoftonline.com/8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35/oauth2/v2.0/token";
    const CLIENT_ID: &str = "5e7d9c1b-3a2f-4e6d-8c0b-1a9f7e5d3c21";

    fn hex_to_b64url(hex: &str) -> String {
        let bytes: Vec<u8> = hex
            .split(':')
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect();
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn parse(pem: &str) -> Result<CertificateCredential, CertificateProblem> {
        CertificateCredential::from_pem(pem)
    }

    fn part(jwt: &str, i: usize) -> serde_json::Value {
        let p = jwt.split('.').nth(i).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
    }

    /// The public key of the fixture's private key, as PKCS#1 DER.
    fn public_key() -> DecodingKey {
        let pkcs1 =
            rustls_pki_types::PrivatePkcs1KeyDer::from_pem_slice(KEY_PKCS1.as_bytes()).unwrap();
        let pair = RsaKeyPair::from_der(pkcs1.secret_pkcs1_der()).unwrap();
        DecodingKey::from_rsa_der(pair.public_key().as_ref())
    }

    fn pem_block(label: &str, der: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn the_certificates_expiry_is_read_for_the_doctor() {
        // `openssl x509 -enddate -noout -in client.crt`: notAfter=Nov 22 08:57:57 2046 GMT
        let end = certificate_not_after(&format!("{KEY_PKCS8}{CERT}")).unwrap();
        assert_eq!(domain::model::fmt_time(end), "2046-11-22T08:57:57.000Z");
        assert_eq!(certificate_not_after(KEY_PKCS8), None);
        assert_eq!(certificate_not_after("not pem"), None);
    }

    #[test]
    fn thumbprints_match_openssl() {
        let c = parse(&format!("{KEY_PKCS8}{CERT}")).unwrap();
        assert_eq!(c.x5t_s256, hex_to_b64url(CLIENT_SHA256_HEX));
        assert_eq!(c.x5t, hex_to_b64url(CLIENT_SHA1_HEX));
        assert_eq!(c.x5t_s256, "hgkmyaQTzsbWWj-XIMEPscw92KoPWspyook3U1u12cQ");
        assert_eq!(c.x5t, "S1TEFeyDcdrr0Q9xplss19fTcSs");
    }

    #[test]
    fn pkcs8_and_pkcs1_keys_in_either_order_are_the_same_credential() {
        let a = parse(&format!("{KEY_PKCS8}{CERT}")).unwrap();
        for pem in [
            format!("{CERT}{KEY_PKCS8}"),
            format!("{KEY_PKCS1}\n{CERT}"),
            format!("{CERT}{KEY_PKCS1}"),
            // A chain: the certificate of the key is found among others, in any position.
            format!("{OTHER_CERT}{CERT}{KEY_PKCS8}"),
            format!("{CERT}{OTHER_CERT}{KEY_PKCS1}").replace('\n', "\r\n"),
        ] {
            let b = parse(&pem).unwrap();
            assert_eq!((&a.x5t_s256, &a.x5t), (&b.x5t_s256, &b.x5t));
        }
        // The other pair is a credential too, with its own thumbprint (README values).
        let o = parse(&format!("{OTHER_KEY}{OTHER_CERT}")).unwrap();
        assert_eq!(o.x5t_s256, "8As1bC74XA_TNaNA4vgoh7xrn2OkC7msNsKj-YLB_jk");
        assert_eq!(o.x5t, "F2vw-19Dc4YqU5WGs0ya3LBT0EE");
    }

    #[test]
    fn ps256_assertion_has_the_contracts_header_and_claims() {
        let c = parse(&format!("{KEY_PKCS8}{CERT}")).unwrap();
        let now = DateTime::parse_from_rfc3339("2026-07-17T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let jwt = c
            .assertion(AssertionAlg::Ps256, TOKEN_URL, CLIENT_ID, now)
            .unwrap();
        assert_eq!(
            part(&jwt, 0),
            serde_json::json!({"alg": "PS256", "typ": "JWT", "x5t#S256": c.x5t_s256})
        );
        let claims = part(&jwt, 1);
        let t = now.timestamp();
        assert_eq!(claims["aud"], TOKEN_URL);
        assert_eq!(claims["iss"], CLIENT_ID);
        assert_eq!(claims["sub"], CLIENT_ID);
        assert_eq!(claims["nbf"], t);
        assert_eq!(claims["iat"], t);
        assert_eq!(claims["exp"], t + 600);
        let jti = uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).unwrap();
        assert_eq!(jti.get_version_num(), 4);
        assert_eq!(claims.as_object().unwrap().len(), 7, "{claims}");
        // Signed with the certificate's key, by RSASSA-PSS.
        let (message, signature) = jwt.rsplit_once('.').unwrap();
        assert!(
            jsonwebtoken::crypto::verify(
                signature,
                message.as_bytes(),
                &public_key(),
                Algorithm::PS256
            )
            .unwrap()
        );
        // Every assertion has its own jti.
        let again = c
            .assertion(AssertionAlg::Ps256, TOKEN_URL, CLIENT_ID, now)
            .unwrap();
        assert_ne!(part(&again, 1)["jti"], claims["jti"]);
    }

    #[test]
    fn rs256_assertion_carries_the_sha1_thumbprint() {
        let c = parse(&format!("{KEY_PKCS1}{CERT}")).unwrap();
        let jwt = c
            .assertion(AssertionAlg::Rs256, TOKEN_URL, CLIENT_ID, Utc::now())
            .unwrap();
        assert_eq!(
            part(&jwt, 0),
            serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": "S1TEFeyDcdrr0Q9xplss19fTcSs"})
        );
        let (message, signature) = jwt.rsplit_once('.').unwrap();
        let key = public_key();
        assert!(
            jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key, Algorithm::RS256)
                .unwrap()
        );
        assert!(
            !jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key, Algorithm::PS256)
                .unwrap_or(false)
        );
    }

    #[test]
    fn pem_problems_are_named_without_key_material() {
        // A PKCS#8 key of another algorithm (id-ecPublicKey, P-256), with a dummy key body:
        // refused on its algorithm before the body is read.
        let ec_pkcs8 = [
            &[0x30, 0x1b, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07][..],
            &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01],
            &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
            &[0x04, 0x01, 0x00],
        ]
        .concat();
        let encrypted = pem_block("ENCRYPTED PRIVATE KEY", &[0x30, 0x00]);
        let cases: Vec<(String, CertificateProblem)> = vec![
            (String::new(), CertificateProblem::NoPrivateKey),
            ("not pem at all".into(), CertificateProblem::NoPrivateKey),
            (CERT.into(), CertificateProblem::NoPrivateKey),
            (KEY_PKCS8.into(), CertificateProblem::NoCertificate),
            (
                format!("{KEY_PKCS8}{OTHER_CERT}"),
                CertificateProblem::KeyDoesNotMatchCertificate,
            ),
            (
                format!("{KEY_PKCS8}{OTHER_KEY}{CERT}"),
                CertificateProblem::SeveralPrivateKeys,
            ),
            (
                format!("{encrypted}{CERT}"),
                CertificateProblem::EncryptedPrivateKey,
            ),
            (
                format!("{}{CERT}", pem_block("PRIVATE KEY", &ec_pkcs8)),
                CertificateProblem::NotRsa,
            ),
            (
                format!("{}{CERT}", pem_block("EC PRIVATE KEY", &[0x30, 0x00])),
                CertificateProblem::NotRsa,
            ),
            (
                format!(
                    "{}{CERT}",
                    pem_block("RSA PRIVATE KEY", &[0x30, 0x03, 0x02, 0x01, 0x00])
                ),
                CertificateProblem::InvalidRsaKey,
            ),
            (
                format!("{}{CERT}", KEY_PKCS8.replace("MII", "M*I")),
                CertificateProblem::MalformedPem,
            ),
            (
                KEY_PKCS8.replace("-----END PRIVATE KEY-----", ""),
                CertificateProblem::MalformedPem,
            ),
        ];
        for (pem, want) in cases {
            assert_eq!(parse(&pem).err(), Some(want), "{want}");
            let err = AuthError::Certificate {
                param: "/auditlake/client-cert".into(),
                problem: want,
            };
            let info = err.info();
            assert_eq!(info.code, "CertificateInvalid");
            assert!(info.message.contains("/auditlake/client-cert"), "{info:?}");
            assert!(info.message.contains(&want.to_string()), "{info:?}");
        }
        assert_eq!(
            CertificateProblem::NoPrivateKey.to_string(),
            "no PRIVATE KEY block"
        );
        assert_eq!(
            CertificateProblem::NoCertificate.to_string(),
            "no CERTIFICATE block"
        );
        assert_eq!(CertificateProblem::NotRsa.to_string(), "key is not RSA");
    }

    #[test]
    fn debug_output_holds_no_key_material() {
        let c = parse(&format!("{KEY_PKCS8}{CERT}")).unwrap();
        let debug = format!("{c:?} {:?}", c.key);
        assert!(debug.contains(&c.x5t_s256), "{debug}");
        assert!(!debug.contains("MII") && debug.len() < 200, "{debug}");
    }

    #[tokio::test]
    async fn a_bad_certificate_parameter_is_reported_by_name() {
        use runtime::clock::SystemClock;
        use testkit::memory::MemoryParameters;
        let params = Arc::new(MemoryParameters::default().with("/cert", CERT));
        let creds = ClientCredentials::new(
            reqwest::Client::new(),
            "http://127.0.0.1:9/tenant/oauth2/v2.0/token".into(),
            CLIENT_ID.into(),
            CredentialSource::Certificate {
                param: "/cert".into(),
            },
            params,
            Arc::new(SystemClock),
        );
        let err = creds.token("https://graph.microsoft.com/.default").await;
        match err {
            Err(AuthError::Certificate { param, problem }) => {
                assert_eq!(param, "/cert");
                assert_eq!(problem, CertificateProblem::NoPrivateKey);
            }
            other => panic!("expected a certificate problem, got {other:?}"),
        }
    }
}
