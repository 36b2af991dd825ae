//! Certificate credentials at the token endpoint: client assertions signed with the test keys
//! of `tests/fixtures/certs` (PS256 and RS256, v2 and v1), and each way an
//! assertion is refused with Entra's code: wrong key, unregistered certificate, wrong `aud`,
//! `iss` or `sub`, outside its time range on the virtual clock, replayed `jti`, unsupported
//! `alg`, PS256 while the tenant refuses it; the secret keeps working beside a certificate;
//! the binary's `--client-cert` and `--reject-ps256`.

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaKeyPair};
use m365_sim::auth::RegisteredCertificate;
use m365_sim::wire::b64url_encode;
use m365_sim::{RunningSim, SimConfig, start};
use reqwest::{Client, StatusCode};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

use crate::support::*;

const KEY: &str = include_str!("../../../fixtures/certs/client.key");
const CERT: &str = include_str!("../../../fixtures/certs/client.crt");
const OTHER_KEY: &str = include_str!("../../../fixtures/certs/other.key");
const OTHER_CERT: &str = include_str!("../../../fixtures/certs/other.crt");
/// Thumbprints of client.crt and other.crt as openssl printed them (fixture README).
const CLIENT_S256: &str = "hgkmyaQTzsbWWj-XIMEPscw92KoPWspyook3U1u12cQ";
const CLIENT_SHA1: &str = "S1TEFeyDcdrr0Q9xplss19fTcSs";
const OTHER_S256: &str = "8As1bC74XA_TNaNA4vgoh7xrn2OkC7msNsKj-YLB_jk";
const OTHER_SHA256_HEX: &str = "F00B356C2EF85C0FD335A340E2F82887BC6B9F63A40BB9AC36C2A3F982C1FE39";

fn now_secs() -> i64 {
    t(NOW).timestamp()
}

/// Signs `claims` under `header` with a PKCS#8 PEM key, by the header's `alg`.
fn sign(key_pem: &str, header: &Value, claims: &Value) -> Res<String> {
    let der = PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes())?;
    let pair = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())?;
    let message = format!(
        "{}.{}",
        b64url_encode(&serde_json::to_vec(header)?),
        b64url_encode(&serde_json::to_vec(claims)?)
    );
    let encoding = if header["alg"] == "PS256" {
        &RSA_PSS_SHA256
    } else {
        &RSA_PKCS1_SHA256
    };
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(
        encoding,
        &SystemRandom::new(),
        message.as_bytes(),
        &mut signature,
    )?;
    Ok(format!("{message}.{}", b64url_encode(&signature)))
}

fn ps256(x5t_s256: &str) -> Value {
    json!({"alg": "PS256", "typ": "JWT", "x5t#S256": x5t_s256})
}

fn rs256(x5t: &str) -> Value {
    json!({"alg": "RS256", "typ": "JWT", "x5t": x5t})
}

fn v2_url(sim: &RunningSim) -> String {
    format!("{}/{TENANT}/oauth2/v2.0/token", sim.base_url())
}

/// The claims the collector sends, valid from the simulator's initial time.
fn claims(aud: &str) -> Value {
    json!({
        "aud": aud, "iss": CLIENT_ID, "sub": CLIENT_ID,
        "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now_secs(), "iat": now_secs(), "exp": now_secs() + 600,
    })
}

fn with_claim(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn registered(f: impl FnOnce(&mut SimConfig)) -> SimConfig {
    config(|c| {
        c.client_certificate_pem = Some(CERT.to_string());
        f(c);
    })
}

/// POSTs `form` to a token endpoint; returns the status and the JSON body.
async fn post(c: &Client, url: &str, form: &[(&str, &str)]) -> Res<(u16, Value)> {
    let resp = c.post(url).form(form).send().await?;
    Ok((resp.status().as_u16(), resp.json().await?))
}

/// Asks the v2 endpoint for a Graph token with the assertion `jwt`.
async fn assert_v2(c: &Client, sim: &RunningSim, jwt: &str) -> Res<(u16, Value)> {
    post(
        c,
        &v2_url(sim),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("scope", GRAPH_SCOPE),
            ("client_assertion_type", m365_sim::auth::ASSERTION_TYPE),
            ("client_assertion", jwt),
        ],
    )
    .await
}

fn code_of(body: &Value) -> u64 {
    body["error_codes"][0].as_u64().unwrap_or_default()
}

#[test]
fn registered_certificate_thumbprints_match_openssl() -> TestResult {
    let c = RegisteredCertificate::from_pem(CERT)?;
    assert_eq!(
        (c.x5t_s256.as_str(), c.x5t.as_str()),
        (CLIENT_S256, CLIENT_SHA1)
    );
    // A file holding the key too is fine; the certificate block is what counts.
    let both = RegisteredCertificate::from_pem(&format!("{KEY}{CERT}"))?;
    assert_eq!(both, c);
    assert_eq!(
        RegisteredCertificate::from_pem(OTHER_CERT)?.x5t_s256,
        OTHER_S256
    );
    Ok(())
}

#[tokio::test]
async fn an_unusable_registered_certificate_stops_the_simulator_at_start() -> TestResult {
    for (pem, why) in [
        (KEY, "no CERTIFICATE block"),
        ("junk", "no CERTIFICATE block"),
        (
            "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
            "not an X.509 certificate",
        ),
    ] {
        let err = start(config(|c| c.client_certificate_pem = Some(pem.to_string())))
            .await
            .err()
            .ok_or("started with a bad certificate")?;
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains(why), "{err}");
    }
    Ok(())
}

#[tokio::test]
async fn valid_ps256_and_rs256_assertions_get_tokens_at_v2_and_v1() -> TestResult {
    let sim = start(registered(|_| {})).await?;
    let c = client();
    let v2 = v2_url(&sim);
    let v1 = format!("{}/{TENANT}/oauth2/token", sim.base_url());
    for header in [ps256(CLIENT_S256), rs256(CLIENT_SHA1)] {
        let jwt = sign(KEY, &header, &claims(&v2))?;
        let (status, body) = assert_v2(&c, &sim, &jwt).await?;
        assert_eq!(status, 200, "{header}: {body}");
        assert_eq!(body["token_type"], "Bearer");
        let token = body["access_token"].as_str().unwrap_or_default();
        let (status, _, _) =
            graph_get(&c, &format!("{}{AUDITS}?$top=1", sim.base_url()), token).await?;
        assert_eq!(status, StatusCode::OK);
    }
    // The legacy v1 endpoint takes its own URL or the v2 one as the audience.
    for aud in [&v1, &v2] {
        let jwt = sign(KEY, &rs256(CLIENT_SHA1), &claims(aud))?;
        let (status, body) = post(
            &c,
            &v1,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("resource", "https://manage.office.com"),
                ("client_assertion_type", m365_sim::auth::ASSERTION_TYPE),
                ("client_assertion", &jwt),
            ],
        )
        .await?;
        assert_eq!(status, 200, "{aud}: {body}");
        assert_eq!(body["resource"], "https://manage.office.com");
    }
    // Clock skew: five minutes either side are tolerated; the tenant id is case-blind.
    let skewed = with_claim(
        with_claim(claims(&v2.to_uppercase()), "nbf", json!(now_secs() + 299)),
        "exp",
        json!(now_secs() - 299),
    );
    let (status, body) = assert_v2(&c, &sim, &sign(KEY, &ps256(CLIENT_S256), &skewed)?).await?;
    assert_eq!(status, 200, "{body}");
    // The secret still works on an app with a certificate.
    token_for(&c, &sim, GRAPH_SCOPE).await?;
    assert_eq!(stats(&c, &sim).await?["tokens_issued"], 6);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn refused_assertions_get_entras_codes() -> TestResult {
    let sim = start(registered(|_| {})).await?;
    let c = client();
    let v2 = v2_url(&sim);
    let good = || claims(&v2);
    let now = now_secs();
    // (what, assertion, HTTP status, error, AADSTS code, words of the description)
    let cases: Vec<(&str, String, u16, &str, u64, &str)> = vec![
        (
            "signed by another key under this certificate's thumbprint",
            sign(OTHER_KEY, &ps256(CLIENT_S256), &good())?,
            401,
            "invalid_client",
            700027,
            "invalid signature",
        ),
        (
            "a certificate the app does not have",
            sign(OTHER_KEY, &ps256(OTHER_S256), &good())?,
            401,
            "invalid_client",
            700027,
            OTHER_SHA256_HEX,
        ),
        (
            "no thumbprint",
            sign(KEY, &json!({"alg": "PS256", "typ": "JWT"}), &good())?,
            401,
            "invalid_client",
            700027,
            "The key was not found",
        ),
        (
            "an algorithm other than PS256 and RS256",
            sign(
                KEY,
                &json!({"alg": "HS256", "typ": "JWT", "x5t#S256": CLIENT_S256}),
                &good(),
            )?,
            401,
            "invalid_client",
            700027,
            "'HS256' is not supported",
        ),
        (
            "audience of the real login host",
            sign(
                KEY,
                &ps256(CLIENT_S256),
                &claims(&format!(
                    "https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
                )),
            )?,
            401,
            "invalid_client",
            700023,
            "audience claim",
        ),
        (
            "the v1 audience at the v2 endpoint",
            sign(
                KEY,
                &ps256(CLIENT_S256),
                &claims(&format!("{}/{TENANT}/oauth2/token", sim.base_url())),
            )?,
            401,
            "invalid_client",
            700023,
            "audience claim",
        ),
        (
            "issuer is another app",
            sign(
                KEY,
                &ps256(CLIENT_S256),
                &with_claim(good(), "iss", json!("00000000-1111-2222-3333-444444444444")),
            )?,
            401,
            "invalid_client",
            700021,
            "doesn't match 'client_id'",
        ),
        (
            "subject is another app",
            sign(
                KEY,
                &rs256(CLIENT_SHA1),
                &with_claim(good(), "sub", json!("someone")),
            )?,
            401,
            "invalid_client",
            700021,
            "doesn't match 'client_id'",
        ),
        (
            "expired beyond the skew",
            sign(
                KEY,
                &ps256(CLIENT_S256),
                &with_claim(
                    with_claim(good(), "nbf", json!(now - 1200)),
                    "exp",
                    json!(now - 301),
                ),
            )?,
            401,
            "invalid_client",
            700024,
            "not within its valid time range",
        ),
        (
            "not yet valid beyond the skew",
            sign(
                KEY,
                &ps256(CLIENT_S256),
                &with_claim(
                    with_claim(good(), "nbf", json!(now + 301)),
                    "exp",
                    json!(now + 900),
                ),
            )?,
            401,
            "invalid_client",
            700024,
            "not within its valid time range",
        ),
        (
            "no exp",
            sign(KEY, &ps256(CLIENT_S256), &{
                let mut c = good();
                if let Some(o) = c.as_object_mut() {
                    o.remove("exp");
                }
                c
            })?,
            400,
            "invalid_request",
            50027,
            "nbf and exp are required",
        ),
        (
            "not a JWT",
            "not-a-jwt".to_string(),
            400,
            "invalid_request",
            50027,
            "three dot-separated parts",
        ),
    ];
    let n = cases.len();
    for (what, jwt, status, error, code, words) in cases {
        let (got, body) = assert_v2(&c, &sim, &jwt).await?;
        assert_eq!(got, status, "{what}: {body}");
        assert_eq!(body["error"], error, "{what}: {body}");
        assert_eq!(code_of(&body), code, "{what}: {body}");
        let desc = body["error_description"].as_str().unwrap_or_default();
        assert!(
            desc.starts_with(&format!("AADSTS{code}: ")),
            "{what}: {desc}"
        );
        assert!(desc.contains(words), "{what}: {desc}");
    }
    // The form's own mistakes: both credentials, or an assertion without its type.
    let jwt = sign(KEY, &ps256(CLIENT_S256), &good())?;
    let base = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("scope", GRAPH_SCOPE),
        ("client_assertion", jwt.as_str()),
    ];
    let mut both = base.to_vec();
    both.push(("client_secret", SECRET));
    both.push(("client_assertion_type", m365_sim::auth::ASSERTION_TYPE));
    let (status, body) = post(&c, &v2, &both).await?;
    assert_eq!((status, code_of(&body)), (401, 7000218), "{body}");
    let (status, body) = post(&c, &v2, &base).await?;
    assert_eq!((status, code_of(&body)), (400, 900144), "{body}");
    assert_eq!(body["error"], "invalid_request");
    let mut wrong_type = base.to_vec();
    wrong_type.push(("client_assertion_type", "urn:example:saml"));
    let (status, body) = post(&c, &v2, &wrong_type).await?;
    assert_eq!((status, code_of(&body)), (400, 50027), "{body}");
    let s = stats(&c, &sim).await?;
    assert_eq!(s["token_failures"], n + 3);
    assert_eq!(s["tokens_issued"], 0);
    sim.shutdown().await;
    // An app without a certificate refuses every assertion as a key it does not have.
    let sim = start(config(|_| {})).await?;
    let jwt = sign(KEY, &ps256(CLIENT_S256), &claims(&v2_url(&sim)))?;
    let (status, body) = assert_v2(&c, &sim, &jwt).await?;
    assert_eq!((status, code_of(&body)), (401, 700027), "{body}");
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_replayed_jti_is_refused() -> TestResult {
    let sim = start(registered(|_| {})).await?;
    let c = client();
    let jwt = sign(KEY, &ps256(CLIENT_S256), &claims(&v2_url(&sim)))?;
    // Refused for its scope first: that does not spend the jti.
    let (status, body) = post(
        &c,
        &v2_url(&sim),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("scope", "https://graph.microsoft.com/AuditLog.Read.All"),
            ("client_assertion_type", m365_sim::auth::ASSERTION_TYPE),
            ("client_assertion", &jwt),
        ],
    )
    .await?;
    assert_eq!((status, code_of(&body)), (400, 1002012), "{body}");
    let (status, body) = assert_v2(&c, &sim, &jwt).await?;
    assert_eq!(status, 200, "{body}");
    let (status, body) = assert_v2(&c, &sim, &jwt).await?;
    assert_eq!((status, code_of(&body)), (401, 700027), "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("already been used")),
        "{body}"
    );
    // A new jti is a new assertion.
    let fresh = sign(KEY, &ps256(CLIENT_S256), &claims(&v2_url(&sim)))?;
    assert_eq!(assert_v2(&c, &sim, &fresh).await?.0, 200);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn assertion_lifetime_follows_the_virtual_clock() -> TestResult {
    let sim = start(registered(|_| {})).await?;
    let c = client();
    let made_at_start = || sign(KEY, &ps256(CLIENT_S256), &claims(&v2_url(&sim)));
    // exp is 10 minutes after NOW; with 5 minutes of skew it is good until NOW + 15 min.
    let (status, _) = set_clock(&c, &sim, json!({"advance_secs": 899})).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(assert_v2(&c, &sim, &made_at_start()?).await?.0, 200);
    set_clock(&c, &sim, json!({"advance_secs": 1})).await?;
    let (status, body) = assert_v2(&c, &sim, &made_at_start()?).await?;
    assert_eq!((status, code_of(&body)), (401, 700024), "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("Current time: 2026-07-17T12:15:00Z")),
        "{body}"
    );
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn reject_ps256_refuses_ps256_and_takes_rs256() -> TestResult {
    let sim = start(registered(|c| c.reject_ps256 = true)).await?;
    let c = client();
    let v2 = v2_url(&sim);
    let (status, body) =
        assert_v2(&c, &sim, &sign(KEY, &ps256(CLIENT_S256), &claims(&v2))?).await?;
    assert_eq!((status, code_of(&body)), (401, 700027), "{body}");
    assert_eq!(body["error"], "invalid_client");
    let (status, body) =
        assert_v2(&c, &sim, &sign(KEY, &rs256(CLIENT_SHA1), &claims(&v2))?).await?;
    assert_eq!(status, 200, "{body}");
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn binary_takes_client_cert_and_reject_ps256() -> TestResult {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let cert = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/certs/client.crt");
    let mut child = Command::new(env!("CARGO_BIN_EXE_m365-sim"))
        .args([
            "--port",
            "0",
            "--now",
            NOW,
            "--client-cert",
            cert,
            "--reject-ps256",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(30));
    let base = line
        .as_deref()
        .unwrap_or_default()
        .trim()
        .strip_prefix("listening: ")
        .unwrap_or_default()
        .to_string();
    let url = format!("{base}/{TENANT}/oauth2/v2.0/token");
    let c = client();
    let mut results = Vec::new();
    for header in [ps256(CLIENT_S256), rs256(CLIENT_SHA1)] {
        let jwt = sign(KEY, &header, &claims(&url))?;
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("scope", GRAPH_SCOPE),
            ("client_assertion_type", m365_sim::auth::ASSERTION_TYPE),
            ("client_assertion", jwt.as_str()),
        ];
        results.push(post(&c, &url, &form).await.map(|(s, b)| (s, code_of(&b))));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(base.starts_with("http://127.0.0.1:"), "{line:?}");
    let results: Vec<(u16, u64)> = results.into_iter().collect::<Res<_>>()?;
    assert_eq!(results, vec![(401, 700027), (200, 0)]);
    // A file that is not there stops the binary with clap's message.
    let out = Command::new(env!("CARGO_BIN_EXE_m365-sim"))
        .args(["--client-cert", "/nonexistent/cert.pem"])
        .output()?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/cert.pem"));
    Ok(())
}
