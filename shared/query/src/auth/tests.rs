//! Tests of bearer-token verification against a tiny loopback issuer (discovery document and
//! JWKS, served by hand over TCP so the tests can swap keys, fail, hang and count requests).
//! Tokens are signed with the TEST-ONLY keys in `tests/fixtures/certs/` (`client.rsa.key` is
//! key A, `other.key` key B); time comes from a [`ManualClock`].

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
const TENANT: &str = "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35";
const APP_ID_URI: &str = "api://auditlake";
const API_CLIENT_ID: &str = "0b6f3c2a-9d8e-4f1a-b7c6-5e4d3c2b1a09";
const OID: &str = "11111111-2222-3333-4444-555555555555";
/// 2026-07-17T12:00:00Z.
const NOW: i64 = 1_784_289_600;
const KEYS_PATH: &str = "/common/discovery/v2.0/keys";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW, 0).unwrap()
}

/// A test signing key: its kid, PKCS#1 private key and public JWK.
struct TestKey {
    kid: String,
    pkcs1: Vec<u8>,
    public_der: Vec<u8>,
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
    fn from_pem(kid: &str, pem: &str) -> Self {
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

    fn a() -> Self {
        Self::from_pem("key-a", KEY_A)
    }

    fn b() -> Self {
        Self::from_pem("key-b", KEY_B)
    }

    /// The JWK as Entra publishes it (`kty`, `use`, `kid`, `n`, `e`).
    fn jwk(&self) -> Value {
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

    fn sign(&self, claims: &Value) -> String {
        let header = Header {
            kid: Some(self.kid.clone()),
            ..Header::new(Algorithm::RS256)
        };
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(&self.pkcs1)).unwrap()
    }
}

/// What the loopback issuer serves.
#[derive(Default)]
struct IssuerState {
    keys: Vec<Value>,
    /// Answer every request with 500.
    failing: bool,
    /// The `issuer` of the discovery document, when not the right one.
    discovery_issuer: Option<String>,
    hits: HashMap<String, usize>,
}

/// A loopback OIDC issuer: `/{tenant}/v2.0/.well-known/openid-configuration` and the JWKS.
struct Issuer {
    base: String,
    state: Arc<StdMutex<IssuerState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Issuer {
    async fn start(keys: &[&TestKey]) -> Issuer {
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

    fn issuer(&self) -> String {
        entra_issuer(&self.base, TENANT)
    }

    fn set_keys(&self, keys: &[&TestKey]) {
        self.state.lock().unwrap().keys = keys.iter().map(|k| k.jwk()).collect();
    }

    fn set_failing(&self, failing: bool) {
        self.state.lock().unwrap().failing = failing;
    }

    fn key_fetches(&self) -> usize {
        self.hits(KEYS_PATH)
    }

    fn discoveries(&self) -> usize {
        self.hits(&format!("/{TENANT}/v2.0/.well-known/openid-configuration"))
    }

    fn hits(&self, path: &str) -> usize {
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
fn verifier(
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

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(now()))
}

/// The claims of a v2.0 access token for the API, issued at [`NOW`], valid one hour.
fn claims(issuer: &Issuer) -> Value {
    json!({
        "aud": APP_ID_URI,
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

fn with(mut v: Value, f: impl FnOnce(&mut Map<String, Value>)) -> Value {
    f(v.as_object_mut().unwrap());
    v
}

fn bearer_of(token: &str) -> String {
    format!("Bearer {token}")
}

async fn auth(v: &EntraVerifier, token: &str) -> Result<Principal, AuthError> {
    v.authenticate(Some(&bearer_of(token))).await
}

/// The message of an `Invalid`, checked not to echo any part of `token`.
async fn refused(v: &EntraVerifier, token: &str) -> String {
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

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn a_valid_token_becomes_its_principal() {
    let a = TestKey::a();
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let v = verifier(&issuer, &clock, |_| {});
    let p = auth(&v, &a.sign(&claims(&issuer))).await.unwrap();
    assert_eq!(
        p,
        Principal {
            subject: OID.into(),
            name: Some("Ada Lovelace".into()),
            upn: Some("ada@contoso.example".into()),
            roles: vec!["auditlake.read".into(), "auditlake.annotate".into()],
            groups: vec!["g-1".into(), "g-2".into()],
        }
    );
    assert_eq!(issuer.discoveries(), 1);
    assert_eq!(issuer.key_fetches(), 1);

    // `sub` without `oid`, `upn` without `preferred_username`, no roles or groups, the client id
    // as audience inside an array, the scheme in lower case: all fine. Keys come from the cache.
    let minimal = with(claims(&issuer), |c| {
        for k in ["oid", "preferred_username", "roles", "groups", "name"] {
            c.remove(k);
        }
        c.insert("upn".into(), json!("ada@legacy.example"));
        c.insert("aud".into(), json!(["someone-else", API_CLIENT_ID]));
    });
    let p = v
        .authenticate(Some(&format!("bearer  {} ", a.sign(&minimal))))
        .await
        .unwrap();
    assert_eq!(p.subject, "pairwise-subject");
    assert_eq!(p.upn.as_deref(), Some("ada@legacy.example"));
    assert_eq!((p.name, p.roles.len(), p.groups.len()), (None, 0, 0));
    assert_eq!(issuer.key_fetches(), 1);
}

#[tokio::test]
async fn every_failed_check_is_named() {
    let (a, b) = (TestKey::a(), TestKey::b());
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let v = verifier(&issuer, &clock, |_| {});
    let good = claims(&issuer);
    let good_token = a.sign(&good);

    // Signed by key B but naming key A; and key A's token with altered claims.
    let forged = TestKey {
        kid: "key-a".into(),
        ..TestKey::b()
    };
    let (h, _, s) = {
        let mut it = good_token.split('.');
        (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
    };
    let escalated = with(good.clone(), |c| {
        c.insert("roles".into(), json!(["auditlake.admin"]));
    });
    let tampered = format!("{h}.{}.{s}", b64(&escalated));
    let no_kid = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &good,
        &EncodingKey::from_rsa_der(&a.pkcs1),
    )
    .unwrap();

    // Key B carried in the token's own header (`jwk`, `jku`): never trusted.
    let embedded = jsonwebtoken::encode(
        &Header {
            kid: Some("key-a".into()),
            jwk: Some(serde_json::from_value(b.jwk()).unwrap()),
            jku: Some(format!("{}{KEYS_PATH}", issuer.base)),
            ..Header::new(Algorithm::RS256)
        },
        &good,
        &EncodingKey::from_rsa_der(&b.pkcs1),
    )
    .unwrap();
    let crit = format!(
        "{}.{}.c2ln",
        b64(&json!({"alg": "RS256", "kid": "key-a", "crit": ["exp"], "exp": 1})),
        b64(&good)
    );

    let cases: Vec<(String, &str)> = vec![
        (forged.sign(&good), "signature does not verify"),
        (embedded, "signature does not verify"),
        (crit, "critical header parameters (crit)"),
        (tampered, "signature does not verify"),
        (
            a.sign(&with(good.clone(), |c| {
                c.insert(
                    "iss".into(),
                    json!("https://login.microsoftonline.com/other/v2.0"),
                );
            })),
            "wrong issuer",
        ),
        (
            a.sign(&with(good.clone(), |c| {
                c.remove("iss");
            })),
            "no issuer (iss)",
        ),
        (
            a.sign(&with(good.clone(), |c| {
                c.insert("aud".into(), json!("api://someone-else"));
            })),
            "wrong audience",
        ),
        (
            a.sign(&with(good.clone(), |c| {
                c.insert("aud".into(), json!(["x", "y"]));
            })),
            "wrong audience",
        ),
        (
            a.sign(&with(good.clone(), |c| {
                c.remove("aud");
            })),
            "no audience (aud)",
        ),
        // Past the 60 s leeway.
        (
            a.sign(&with(good.clone(), |c| {
                c.insert("exp".into(), json!(NOW - 61));
            })),
            "token expired",
        ),
        (
            a.sign(&with(good.clone(), |c| {
                c.remove("exp");
            })),
            "no expiry (exp)",
        ),
        (
            a.sign(&with(good.clone(), |c| {
                c.insert("exp".into(), json!("tomorrow"));
            })),
            "claim exp is not a date",
        ),
        (
            a.sign(&with(good.clone(), |c| {
                c.insert("nbf".into(), json!(NOW + 61));
            })),
            "token not yet valid",
        ),
        (
            a.sign(&with(good.clone(), |c| {
                c.remove("oid");
                c.remove("sub");
            })),
            "no subject",
        ),
        (no_kid, "names no signing key (kid)"),
        (
            TestKey {
                kid: "key-z".into(),
                ..TestKey::a()
            }
            .sign(&good),
            "unknown signing key",
        ),
        ("abc".into(), "three dot-separated parts"),
        ("a.b".into(), "three dot-separated parts"),
        ("a.b.c.d".into(), "three dot-separated parts"),
        (
            format!("!!.{}.sig", b64(&good)),
            "header is not base64url JSON",
        ),
        (
            format!("{}.{}.sig", b64(&json!([1])), b64(&good)),
            "header is not base64url JSON",
        ),
        (
            format!("{}.{}.sig", b64(&json!({"typ": "JWT"})), b64(&good)),
            "header has no alg",
        ),
        (
            format!(
                "{}.not-json.sig",
                b64(&json!({"alg": "RS256", "kid": "key-a"}))
            ),
            "claims are not base64url JSON",
        ),
        (
            format!(
                "{}.{}.",
                b64(&json!({"alg": "RS256", "kid": "key-a"})),
                b64(&good)
            ),
            "no signature",
        ),
        (
            "x".repeat(MAX_TOKEN_LEN + 1),
            "longer than any access token",
        ),
    ];
    for (token, want) in &cases {
        let why = refused(&v, token).await;
        assert!(why.contains(want), "expected '{want}', got '{why}'");
    }
    // Inside the leeway is fine, on both ends.
    for c in [
        with(good.clone(), |c| {
            c.insert("exp".into(), json!(NOW - 59));
        }),
        with(good.clone(), |c| {
            c.insert("nbf".into(), json!(NOW + 59));
        }),
    ] {
        auth(&v, &a.sign(&c)).await.unwrap();
    }
    // The Display of the error carries the check too, and a 401.
    let wrong_issuer = &cases.iter().find(|(_, w)| *w == "wrong issuer").unwrap().0;
    let err = auth(&v, wrong_issuer).await.unwrap_err();
    assert_eq!(err.to_string(), "invalid bearer token: wrong issuer");
    assert_eq!(err.status(), 401);
    assert_eq!(
        err.www_authenticate().unwrap(),
        "Bearer error=\"invalid_token\", error_description=\"wrong issuer\""
    );
    // One fetch served everything (the unknown kid came within the refetch interval).
    assert_eq!(issuer.key_fetches(), 1);
    // The good token still passes.
    auth(&v, &good_token).await.unwrap();
}

#[tokio::test]
async fn alg_none_and_hmac_with_the_public_key_are_refused_before_any_key_lookup() {
    let a = TestKey::a();
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let v = verifier(&issuer, &clock, |_| {});
    let good = claims(&issuer);

    // `alg: none` with no signature, and with a (meaningless) one; any letter case.
    for alg in ["none", "None", "NONE"] {
        let head = b64(&json!({"alg": alg, "typ": "JWT", "kid": "key-a"}));
        for token in [
            format!("{head}.{}.", b64(&good)),
            format!("{head}.{}.c2ln", b64(&good)),
        ] {
            assert_eq!(refused(&v, &token).await, "algorithm none is not allowed");
        }
    }
    // Algorithm confusion: HS256 keyed with the RSA public key the JWKS publishes (both as the
    // PKCS#1 DER and as the JWK's modulus), which a naive verifier would accept.
    let modulus = a.jwk()["n"].as_str().unwrap().to_string();
    for secret in [a.public_der.clone(), modulus.into_bytes()] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let header = Header {
                kid: Some("key-a".into()),
                ..Header::new(alg)
            };
            let token =
                jsonwebtoken::encode(&header, &good, &EncodingKey::from_secret(&secret)).unwrap();
            assert_eq!(
                refused(&v, &token).await,
                format!("algorithm {alg:?} is not allowed")
            );
        }
    }
    // Other families, and names nobody knows.
    for alg in ["ES256", "EdDSA", "PS256", "RS512"] {
        let token = format!(
            "{}.{}.c2ln",
            b64(&json!({"alg": alg, "kid": "key-a"})),
            b64(&good)
        );
        assert_eq!(
            refused(&v, &token).await,
            format!("algorithm {alg} is not allowed")
        );
    }
    let token = format!(
        "{}.{}.c2ln",
        b64(&json!({"alg": "XX999", "kid": "key-a"})),
        b64(&good)
    );
    assert_eq!(
        refused(&v, &token).await,
        "the token's algorithm is not allowed"
    );
    // None of it touched the issuer.
    assert_eq!((issuer.discoveries(), issuer.key_fetches()), (0, 0));

    // PS256 becomes acceptable only when configured.
    let ps = verifier(&issuer, &clock, |c| c.algorithms = vec![Algorithm::PS256]);
    let header = Header {
        kid: Some("key-a".into()),
        ..Header::new(Algorithm::PS256)
    };
    let token = jsonwebtoken::encode(&header, &good, &EncodingKey::from_rsa_der(&a.pkcs1)).unwrap();
    auth(&ps, &token).await.unwrap();
    assert_eq!(
        refused(&ps, &a.sign(&good)).await,
        "algorithm RS256 is not allowed"
    );
}

#[tokio::test]
async fn time_comes_from_the_clock_port() {
    let a = TestKey::a();
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let v = verifier(&issuer, &clock, |_| {});
    let token = a.sign(&with(claims(&issuer), |c| {
        c.insert("nbf".into(), json!(NOW + 600));
        c.insert("exp".into(), json!(NOW + 1200));
    }));
    assert!(refused(&v, &token).await.contains("not yet valid"));
    clock.set(now() + TimeDelta::seconds(600));
    auth(&v, &token).await.unwrap();
    clock.set(now() + TimeDelta::seconds(1200 + 59));
    auth(&v, &token).await.unwrap();
    clock.set(now() + TimeDelta::seconds(1200 + 60));
    assert_eq!(refused(&v, &token).await, "token expired");
}

#[tokio::test]
async fn a_key_rotation_is_picked_up_but_forged_kids_cannot_hammer_the_issuer() {
    let (a, b) = (TestKey::a(), TestKey::b());
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let v = verifier(&issuer, &clock, |_| {});
    let mut c = claims(&issuer);
    auth(&v, &a.sign(&c)).await.unwrap();
    assert_eq!(issuer.key_fetches(), 1);

    // Entra rolls its keys: B replaces A.
    issuer.set_keys(&[&b]);
    // A flood of tokens naming kids nobody published, right after the fetch: no request.
    for i in 0..50 {
        let forged = TestKey {
            kid: format!("forged-{i}"),
            ..TestKey::b()
        };
        assert!(
            refused(&v, &forged.sign(&c))
                .await
                .contains("unknown signing key")
        );
    }
    // B's tokens too, until the refetch interval (5 min) has passed since the last fetch.
    assert!(
        refused(&v, &b.sign(&c))
            .await
            .contains("unknown signing key")
    );
    assert_eq!(issuer.key_fetches(), 1);
    clock.set(now() + TimeDelta::seconds(299));
    assert!(
        refused(&v, &b.sign(&c))
            .await
            .contains("unknown signing key")
    );
    assert_eq!(issuer.key_fetches(), 1);
    clock.set(now() + TimeDelta::seconds(300));
    auth(&v, &b.sign(&c)).await.unwrap();
    assert_eq!(issuer.key_fetches(), 2);
    // The retired key A is no longer trusted, and asking again does not refetch.
    for _ in 0..20 {
        assert!(
            refused(&v, &a.sign(&c))
                .await
                .contains("unknown signing key")
        );
    }
    assert_eq!(issuer.key_fetches(), 2);
    // Discovery happened once; the key set URL is remembered.
    assert_eq!(issuer.discoveries(), 1);

    // A key set older than max_key_age is fetched again even for a known kid.
    let day = now() + TimeDelta::hours(24) + TimeDelta::seconds(300);
    clock.set(day);
    c["exp"] = json!(day.timestamp() + 3600);
    auth(&v, &b.sign(&c)).await.unwrap();
    assert_eq!(issuer.key_fetches(), 3);
    auth(&v, &b.sign(&c)).await.unwrap();
    assert_eq!(issuer.key_fetches(), 3);
}

#[tokio::test]
async fn an_unreachable_issuer_is_unavailable_not_invalid() {
    let a = TestKey::a();
    // A port with nothing listening.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let clock = clock();
    let issuer = Issuer::start(&[&a]).await;
    let token = a.sign(&claims(&issuer));

    // Discovery unreachable.
    let mut config = EntraVerifierConfig::new(
        entra_issuer(&format!("http://{closed}"), TENANT),
        vec![APP_ID_URI.into()],
    );
    config.http_timeout = Duration::from_secs(2);
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let v = EntraVerifier::new(
        config.clone(),
        reqwest::Client::new(),
        Arc::clone(&dyn_clock),
    )
    .unwrap();
    let err = auth(&v, &token).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::Unavailable(m) if m.contains("discovery document")),
        "{err:?}"
    );
    assert_eq!(err.status(), 503);
    assert_eq!(err.www_authenticate(), None);
    assert!(!err.to_string().contains(token.split('.').nth(2).unwrap()));

    // A JWKS URL that does not answer in time.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    config.jwks_url = Some(format!("http://{}/keys", silent.local_addr().unwrap()));
    config.http_timeout = Duration::from_millis(300);
    let v = EntraVerifier::new(config, reqwest::Client::new(), Arc::clone(&dyn_clock)).unwrap();
    let err = auth(&v, &token).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::Unavailable(m) if m.contains("timed out")),
        "{err:?}"
    );
    drop(silent);

    // An issuer answering 500: unavailable, and not asked again during the backoff.
    issuer.set_failing(true);
    let v = verifier(&issuer, &clock, |_| {});
    for _ in 0..5 {
        let err = auth(&v, &token).await.unwrap_err();
        assert!(
            matches!(&err, AuthError::Unavailable(m) if m.contains("HTTP 500")),
            "{err:?}"
        );
    }
    assert_eq!(issuer.discoveries(), 1);
    // It recovers; after the backoff the next request fetches and succeeds.
    issuer.set_failing(false);
    clock.set(now() + TimeDelta::from_std(FAILED_FETCH_BACKOFF).unwrap());
    auth(&v, &token).await.unwrap();

    // A stale key set whose refresh fails keeps serving the keys it has.
    issuer.set_failing(true);
    let later = now() + TimeDelta::hours(25);
    clock.set(later);
    let fresh = a.sign(&with(claims(&issuer), |c| {
        c.insert("exp".into(), json!(later.timestamp() + 600));
    }));
    auth(&v, &fresh).await.unwrap();
    // But a token naming a new kid cannot be checked: unavailable.
    let newer = TestKey {
        kid: "key-new".into(),
        ..TestKey::a()
    };
    clock.set(later + TimeDelta::seconds(600));
    let err = auth(&v, &newer.sign(&claims(&issuer))).await.unwrap_err();
    assert!(matches!(err, AuthError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_given_jwks_url_skips_discovery_and_a_foreign_discovery_document_is_refused() {
    let a = TestKey::a();
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let token = a.sign(&claims(&issuer));
    let direct = verifier(&issuer, &clock, |c| {
        c.jwks_url = Some(format!("{}{KEYS_PATH}", issuer.base));
    });
    auth(&direct, &token).await.unwrap();
    assert_eq!((issuer.discoveries(), issuer.key_fetches()), (0, 1));

    issuer.state.lock().unwrap().discovery_issuer = Some("https://evil.example/x/v2.0".into());
    let v = verifier(&issuer, &clock, |_| {});
    let err = auth(&v, &token).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::Unavailable(m) if m.contains("names issuer https://evil.example/x/v2.0")),
        "{err:?}"
    );
    assert_eq!(issuer.key_fetches(), 1);
}

#[tokio::test]
async fn headers_without_a_bearer_token() {
    let a = TestKey::a();
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let v = verifier(&issuer, &clock, |_| {});
    for h in [
        None,
        Some(""),
        Some("   "),
        Some("Bearer"),
        Some("Bearer    "),
    ] {
        let err = v.authenticate(h).await.unwrap_err();
        assert!(matches!(err, AuthError::Missing), "{h:?}: {err:?}");
        assert_eq!(err.status(), 401);
        assert_eq!(err.www_authenticate().as_deref(), Some("Bearer"));
    }
    let token = a.sign(&claims(&issuer));
    for h in [
        format!("Basic {token}"),
        "Basic dXNlcjpwYXNz".to_string(),
        token.clone(),
        format!("Bearer: {token}"),
    ] {
        match v.authenticate(Some(&h)).await {
            Err(AuthError::Invalid(why)) => {
                assert!(why.contains("not Bearer"), "{h}: {why}");
                assert!(!why.contains(&token[..20]));
            }
            other => panic!("{h}: expected Invalid, got {other:?}"),
        }
    }
    assert_eq!(issuer.key_fetches(), 0);
}

#[tokio::test]
async fn disabled_auth_makes_everyone_an_anonymous_admin() {
    for h in [None, Some("garbage"), Some("Bearer x.y.z")] {
        let p = Disabled.authenticate(h).await.unwrap();
        assert_eq!(p.subject, ANONYMOUS_SUBJECT);
        assert_eq!(effective_role(&p, &[]), Some(Role::Admin));
    }
}

#[test]
fn settings_that_cannot_work_are_refused() {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now()));
    let make = |f: &dyn Fn(&mut EntraVerifierConfig)| {
        let mut c =
            EntraVerifierConfig::new("https://login.example/t/v2.0", vec![APP_ID_URI.into()]);
        f(&mut c);
        EntraVerifier::new(c, reqwest::Client::new(), Arc::clone(&clock)).map(|_| ())
    };
    assert!(make(&|_| {}).is_ok());
    assert!(make(&|c| c.issuer = " ".into()).is_err());
    assert!(make(&|c| c.audiences = vec![]).is_err());
    assert!(make(&|c| c.audiences = vec!["".into()]).is_err());
    assert!(make(&|c| c.algorithms = vec![]).is_err());
    let err = make(&|c| c.algorithms = vec![Algorithm::RS256, Algorithm::HS256]).unwrap_err();
    assert!(err.to_string().contains("HS256"), "{err}");
    assert_eq!(
        entra_issuer("https://login.microsoftonline.com/", TENANT),
        format!("https://login.microsoftonline.com/{TENANT}/v2.0")
    );
}
