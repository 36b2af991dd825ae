//! The loopback issuer and helpers the token-verification tests share: a discovery document and
//! JWKS served by hand over TCP (so tests can swap keys, fail, hang and count requests), two
//! signing keys (the TEST-ONLY keys in `tests/fixtures/certs/`: `client.rsa.key` is key A,
//! `other.key` key B), the claims of a good v2.0 access token, and a [`ManualClock`].

use std::sync::Mutex as StdMutex;

use aws_lc_rs::signature::{KeyPair, RsaKeyPair};
use jsonwebtoken::{EncodingKey, Header};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivatePkcs1KeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use testkit::clock::ManualClock;

const KEY_A: &str = include_str!("../../../../tests/fixtures/certs/client.rsa.key");
const KEY_B: &str = include_str!("../../../../tests/fixtures/certs/other.key");
pub(super) const TENANT: &str = "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35";
pub(super) const APP_ID_URI: &str = "api://auditlake";
pub(super) const API_CLIENT_ID: &str = "0b6f3c2a-9d8e-4f1a-b7c6-5e4d3c2b1a09";
pub(super) const OID: &str = "11111111-2222-3333-4444-555555555555";
/// 2026-07-17T12:00:00Z.
pub(super) const NOW: i64 = 1_784_289_600;
pub(super) const KEYS_PATH: &str = "/common/discovery/v2.0/keys";

pub(super) fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW, 0).unwrap()
}

/// A test signing key: its kid, PKCS#1 private key and public JWK.
pub(super) struct TestKey {
    pub(super) kid: String,
    pub(super) pkcs1: Vec<u8>,
    pub(super) public_der: Vec<u8>,
}

/// One DER TLV: (tag, content, rest).
fn tlv(b: &[u8]) -> (u8, &[u8], &[u8]) {
    let (len, head) = match b[1] {
        l if l < 0x80 => (usize::from(l), 2),
        l => {
            let n = usize::from(l & 0x7f);
            let len = b[2..2 + n]
                .iter()
                .fold(0usize, |acc, x| (acc << 8) | usize::from(*x));
            (len, 2 + n)
        }
    };
    (b[0], &b[head..head + len], &b[head + len..])
}

impl TestKey {
    pub(super) fn from_pem(kid: &str, pem: &str) -> Self {
        let pkcs1 = if pem.contains("BEGIN RSA PRIVATE KEY") {
            PrivatePkcs1KeyDer::from_pem_slice(pem.as_bytes())
                .unwrap()
                .secret_pkcs1_der()
                .to_vec()
        } else {
            let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).unwrap();
            pkcs8::PrivateKeyInfoRef::try_from(der.secret_pkcs8_der())
                .unwrap()
                .private_key
                .as_bytes()
                .to_vec()
        };
        let public_der = RsaKeyPair::from_der(&pkcs1)
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec();
        TestKey {
            kid: kid.to_string(),
            pkcs1,
            public_der,
        }
    }

    pub(super) fn a() -> Self {
        Self::from_pem("key-a", KEY_A)
    }

    pub(super) fn b() -> Self {
        Self::from_pem("key-b", KEY_B)
    }

    /// The JWK as Entra publishes it (`kty`, `use`, `kid`, `n`, `e`).
    pub(super) fn jwk(&self) -> Value {
        // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
        let (_, seq, _) = tlv(&self.public_der);
        let (_, n, rest) = tlv(seq);
        let (_, e, _) = tlv(rest);
        let n = n.strip_prefix(&[0u8]).unwrap_or(n);
        json!({
            "kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
            "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e),
        })
    }

    pub(super) fn sign(&self, claims: &Value) -> String {
        let header = Header {
            kid: Some(self.kid.clone()),
            ..Header::new(Algorithm::RS256)
        };
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(&self.pkcs1)).unwrap()
    }
}

/// What the loopback issuer serves.
#[derive(Default)]
pub(super) struct IssuerState {
    pub(super) keys: Vec<Value>,
    /// Answer every request with 500.
    pub(super) failing: bool,
    /// The `issuer` of the discovery document, when not the right one.
    pub(super) discovery_issuer: Option<String>,
    pub(super) hits: HashMap<String, usize>,
}

/// A loopback OIDC issuer: `/{tenant}/v2.0/.well-known/openid-configuration` and the JWKS.
pub(super) struct Issuer {
    pub(super) base: String,
    pub(super) state: Arc<StdMutex<IssuerState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Issuer {
    pub(super) async fn start(keys: &[&TestKey]) -> Issuer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(StdMutex::new(IssuerState::default()));
        let (st, b) = (Arc::clone(&state), base.clone());
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(answer(sock, Arc::clone(&st), b.clone()));
            }
        });
        let issuer = Issuer { base, state, task };
        issuer.set_keys(keys);
        issuer
    }

    pub(super) fn issuer(&self) -> String {
        entra_issuer(&self.base, TENANT)
    }

    pub(super) fn set_keys(&self, keys: &[&TestKey]) {
        self.state.lock().unwrap().keys = keys.iter().map(|k| k.jwk()).collect();
    }

    pub(super) fn set_failing(&self, failing: bool) {
        self.state.lock().unwrap().failing = failing;
    }

    pub(super) fn key_fetches(&self) -> usize {
        self.hits(KEYS_PATH)
    }

    pub(super) fn discoveries(&self) -> usize {
        self.hits(&format!("/{TENANT}/v2.0/.well-known/openid-configuration"))
    }

    pub(super) fn hits(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

/// Answers one HTTP/1.1 request and closes the connection.
async fn answer(mut sock: tokio::net::TcpStream, state: Arc<StdMutex<IssuerState>>, base: String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let request = String::from_utf8_lossy(&buf);
    let path = request.split(' ').nth(1).unwrap_or("").to_string();
    let (status, body) = {
        let mut st = state.lock().unwrap();
        *st.hits.entry(path.clone()).or_default() += 1;
        let issuer = entra_issuer(&base, TENANT);
        if st.failing {
            ("500 Internal Server Error", json!({"error": "down"}))
        } else if path == format!("/{TENANT}/v2.0/.well-known/openid-configuration") {
            (
                "200 OK",
                json!({
                    "issuer": st.discovery_issuer.clone().unwrap_or(issuer),
                    "jwks_uri": format!("{base}{KEYS_PATH}"),
                    "id_token_signing_alg_values_supported": ["RS256"],
                }),
            )
        } else if path == KEYS_PATH {
            ("200 OK", json!({"keys": st.keys}))
        } else {
            ("404 Not Found", json!({"error": "not found"}))
        }
    };
    let body = body.to_string();
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = sock.write_all(response.as_bytes()).await;
    let _ = sock.shutdown().await;
}

/// A verifier of `issuer`'s tokens for [`APP_ID_URI`] and [`API_CLIENT_ID`], keys discovered.
pub(super) fn verifier(
    issuer: &Issuer,
    clock: &Arc<ManualClock>,
    f: impl FnOnce(&mut EntraVerifierConfig),
) -> EntraVerifier {
    let mut config = EntraVerifierConfig::new(
        issuer.issuer(),
        vec![APP_ID_URI.to_string(), API_CLIENT_ID.to_string()],
    );
    f(&mut config);
    let clock: Arc<dyn Clock> = clock.clone();
    EntraVerifier::new(config, reqwest::Client::new(), clock).unwrap()
}

pub(super) fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(now()))
}

/// The client application a user signed in to (the token's `azp`).
pub(super) const CLIENT_APP_ID: &str = "5e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b";

/// The claims of a v2.0 delegated access token for the API (what a user signed in to
/// [`CLIENT_APP_ID`] gets for scope `access_as_user`), issued at [`NOW`], valid one hour.
pub(super) fn claims(issuer: &Issuer) -> Value {
    json!({
        "aud": APP_ID_URI,
        "azp": CLIENT_APP_ID,
        "azpacr": "0",
        "scp": "access_as_user",
        "iss": issuer.issuer(),
        "iat": NOW - 60,
        "nbf": NOW - 60,
        "exp": NOW + 3600,
        "name": "Ada Lovelace",
        "oid": OID,
        "preferred_username": "ada@contoso.example",
        "roles": ["auditlake.read", "auditlake.annotate"],
        "groups": ["g-1", "g-2"],
        "sub": "pairwise-subject",
        "tid": TENANT,
        "ver": "2.0",
    })
}

pub(super) fn with(mut v: Value, f: impl FnOnce(&mut Map<String, Value>)) -> Value {
    f(v.as_object_mut().unwrap());
    v
}

pub(super) fn bearer_of(token: &str) -> String {
    format!("Bearer {token}")
}

pub(super) async fn auth(v: &EntraVerifier, token: &str) -> Result<Principal, AuthError> {
    v.authenticate(Some(&bearer_of(token))).await
}

/// The message of an `Invalid`, checked not to echo any part of `token`.
pub(super) async fn refused(v: &EntraVerifier, token: &str) -> String {
    match auth(v, token).await {
        Err(AuthError::Invalid(why)) => {
            for part in token.split('.').filter(|p| p.len() > 8) {
                assert!(!why.contains(part), "message echoes the token: {why}");
            }
            why
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

pub(super) fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}
