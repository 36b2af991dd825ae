//! The simulator as the query API's OIDC issuer, over HTTP: the discovery document and key set
//! shaped as Entra's, and `POST /_sim/user-token` tokens that verify under the published key and
//! carry the requested roles, groups and audience with times on the virtual clock; a configured
//! issuer key; the binary's `--api-audience` and `--issuer-key` flags.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey};
use m365_sim::wire::{b64_decode, b64url_encode};
use m365_sim::{RunningSim, SimConfig, start};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::support::{CLIENT_ID, NOW, TENANT, TestResult, client};

/// [`NOW`] in seconds.
const NOW_SECS: i64 = 1_784_289_600;
/// `openssl x509 -in tests/fixtures/certs/issuer.pem -outform DER | openssl dgst -sha1 -binary
/// | base64url`.
const ISSUER_X5T: &str = "4wF2FcpjdzCZMXs4QrT1y4Nod_s";
/// The same for `client.crt` (tests/fixtures/certs/README.md).
const CLIENT_X5T: &str = "S1TEFeyDcdrr0Q9xplss19fTcSs";

fn config(f: impl FnOnce(&mut SimConfig)) -> SimConfig {
    let mut c = SimConfig {
        now: Some(
            DateTime::parse_from_rfc3339(NOW)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default(),
        ),
        enforce_budgets: false,
        events_per_hour: 0,
        ..SimConfig::default()
    };
    f(&mut c);
    c
}

async fn get_json(
    c: &Client,
    url: &str,
) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
    let resp = c.get(url).send().await?;
    let status = resp.status();
    Ok((status, resp.json().await?))
}

async fn user_token(
    c: &Client,
    base: &str,
    body: &Value,
) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
    let resp = c
        .post(format!("{base}/_sim/user-token"))
        .json(body)
        .send()
        .await?;
    let status = resp.status();
    Ok((status, resp.json().await?))
}

/// Header and claims of a JWT (unverified).
fn parts(jwt: &str) -> Result<(Value, Value), Box<dyn std::error::Error>> {
    let mut it = jwt.split('.');
    let mut next = || -> Result<Value, Box<dyn std::error::Error>> {
        let part = it.next().ok_or("not a JWT")?;
        Ok(serde_json::from_slice(
            &b64_decode(part).ok_or("not base64")?,
        )?)
    };
    Ok((next()?, next()?))
}

/// Whether `jwt`'s RS256 signature verifies under the JWK whose `kid` its header names.
fn verifies(jwt: &str, jwks: &Value) -> Result<bool, Box<dyn std::error::Error>> {
    let (header, _) = parts(jwt)?;
    let Some(jwk) = jwks["keys"]
        .as_array()
        .ok_or("no keys")?
        .iter()
        .find(|k| k["kid"] == header["kid"])
    else {
        return Ok(false);
    };
    let key = DecodingKey::from_rsa_components(
        jwk["n"].as_str().ok_or("no n")?,
        jwk["e"].as_str().ok_or("no e")?,
    )?;
    let (message, signature) = jwt.rsplit_once('.').ok_or("not a JWT")?;
    Ok(jsonwebtoken::crypto::verify(
        signature,
        message.as_bytes(),
        &key,
        Algorithm::RS256,
    )?)
}

async fn started(f: impl FnOnce(&mut SimConfig)) -> Result<RunningSim, Box<dyn std::error::Error>> {
    Ok(start(config(f)).await?)
}

#[tokio::test]
async fn discovery_document_is_shaped_as_entras() -> TestResult {
    let sim = started(|_| {}).await?;
    let base = sim.base_url();
    let c = client();
    let (status, doc) = get_json(
        &c,
        &format!("{base}/{TENANT}/v2.0/.well-known/openid-configuration"),
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["issuer"], format!("{base}/{TENANT}/v2.0"));
    assert_eq!(doc["jwks_uri"], format!("{base}/discovery/v2.0/keys"));
    assert_eq!(
        doc["token_endpoint"],
        format!("{base}/{TENANT}/oauth2/v2.0/token")
    );
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{base}/{TENANT}/oauth2/v2.0/authorize")
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(doc["subject_types_supported"], json!(["pairwise"]));
    assert_eq!(doc["request_uri_parameter_supported"], json!(false));
    assert!(
        doc["claims_supported"]
            .as_array()
            .is_some_and(|c| c.contains(&json!("tid")))
    );
    // The tenant id in capitals is the same tenant.
    let (status, upper) = get_json(
        &c,
        &format!(
            "{base}/{}/v2.0/.well-known/openid-configuration",
            TENANT.to_uppercase()
        ),
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(upper["issuer"], doc["issuer"]);
    // Another tenant: Entra's invalid_tenant.
    let (status, err) = get_json(
        &c,
        &format!(
            "{base}/00000000-0000-0000-0000-000000000000/v2.0/.well-known/openid-configuration"
        ),
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_tenant");
    assert_eq!(err["error_codes"], json!([90002]));
    // The existing token endpoint is untouched by the new routes.
    let resp = c
        .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", "sim-client-secret"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn key_set_is_shaped_as_entras() -> TestResult {
    let sim = started(|_| {}).await?;
    let base = sim.base_url();
    let c = client();
    let resp = c.get(format!("{base}/discovery/v2.0/keys")).send().await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=86400, private")
    );
    let jwks: Value = resp.json().await?;
    let keys = jwks["keys"].as_array().ok_or("no keys array")?;
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    assert_eq!(k["kty"], "RSA");
    assert_eq!(k["use"], "sig");
    assert_eq!(k["kid"], ISSUER_X5T);
    assert_eq!(k["x5t"], ISSUER_X5T);
    assert_eq!(k["e"], "AQAB");
    assert_eq!(k["issuer"], format!("{base}/{TENANT}/v2.0"));
    // n: base64url of a 2048-bit modulus, no padding.
    let n = b64_decode(k["n"].as_str().ok_or("no n")?).ok_or("n is not base64")?;
    assert_eq!(n.len(), 256);
    assert!(n[0] >= 0x80, "no leading zero byte");
    // x5c: the certificate (standard base64 DER) whose SHA-1 is x5t.
    let x5c = k["x5c"][0].as_str().ok_or("no x5c")?;
    assert!(
        x5c.len() % 4 == 0 && !x5c.contains(['-', '_']),
        "standard base64"
    );
    let der = b64_decode(x5c).ok_or("x5c is not base64")?;
    let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
    assert_eq!(b64url_encode(sha1.as_ref()), ISSUER_X5T);
    // Entra's tenant form of the same URL.
    let (status, tenant_jwks) =
        get_json(&c, &format!("{base}/{TENANT}/discovery/v2.0/keys")).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tenant_jwks, jwks);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn user_tokens_verify_and_carry_roles_groups_and_virtual_times() -> TestResult {
    let sim = started(|_| {}).await?;
    let base = sim.base_url();
    let c = client();
    let (_, jwks) = get_json(&c, &format!("{base}/discovery/v2.0/keys")).await?;

    let (status, body) = user_token(
        &c,
        &base,
        &json!({"roles": ["auditlake.read", "auditlake.annotate"], "groups": ["g-1"]}),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    let token = body["access_token"].as_str().ok_or("no token")?;
    assert!(verifies(token, &jwks)?);
    let (header, claims) = parts(token)?;
    assert_eq!(
        header,
        json!({"typ": "JWT", "alg": "RS256", "kid": ISSUER_X5T, "x5t": ISSUER_X5T})
    );
    assert_eq!(claims["aud"], "api://auditlake");
    assert_eq!(claims["iss"], format!("{base}/{TENANT}/v2.0"));
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["ver"], "2.0");
    assert_eq!(claims["azp"], CLIENT_ID);
    assert_eq!(claims["scp"], "access_as_user");
    assert_eq!(
        claims["roles"],
        json!(["auditlake.read", "auditlake.annotate"])
    );
    assert_eq!(claims["groups"], json!(["g-1"]));
    assert_eq!(claims["iat"], NOW_SECS);
    assert_eq!(claims["nbf"], NOW_SECS);
    assert_eq!(claims["exp"], NOW_SECS + 3599);
    assert_eq!(
        claims["preferred_username"],
        "analyst@contoso.onmicrosoft.com"
    );
    let oid = claims["oid"].as_str().ok_or("no oid")?;
    assert!(uuid::Uuid::parse_str(oid).is_ok(), "{oid}");
    assert_eq!(claims["sub"].as_str().map(str::len), Some(43));

    // Tampering breaks the signature: the check above is real.
    let (h, rest) = token.split_once('.').ok_or("not a JWT")?;
    let (_, s) = rest.split_once('.').ok_or("not a JWT")?;
    let mut forged = claims.clone();
    forged["roles"] = json!(["auditlake.admin"]);
    let forged = format!("{h}.{}.{s}", b64url_encode(forged.to_string().as_bytes()));
    assert!(!verifies(&forged, &jwks)?);

    // Times follow the virtual clock; the same user keeps the same oid.
    let resp = c
        .post(format!("{base}/_sim/clock"))
        .json(&json!({"advance_secs": 7200}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let (status, body) = user_token(
        &c,
        &base,
        &json!({
            "audience": "0b6f3c2a-9d8e-4f1a-b7c6-5e4d3c2b1a09",
            "expires_in_secs": 600,
            "name": "Grace Hopper",
            "upn": "grace@contoso.onmicrosoft.com",
        }),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["expires_in"], 600);
    let token = body["access_token"].as_str().ok_or("no token")?;
    assert!(verifies(token, &jwks)?);
    let (_, claims) = parts(token)?;
    assert_eq!(claims["aud"], "0b6f3c2a-9d8e-4f1a-b7c6-5e4d3c2b1a09");
    assert_eq!(claims["iat"], NOW_SECS + 7200);
    assert_eq!(claims["exp"], NOW_SECS + 7200 + 600);
    assert_eq!(claims["name"], "Grace Hopper");
    assert_eq!(
        claims["preferred_username"],
        "grace@contoso.onmicrosoft.com"
    );
    assert_ne!(claims["oid"], oid);
    // No roles or groups asked for: the claims are absent, as at Entra.
    assert!(claims.get("roles").is_none() && claims.get("groups").is_none());
    let (_, again) =
        user_token(&c, &base, &json!({"upn": "GRACE@contoso.onmicrosoft.com"})).await?;
    let (_, again) = parts(again["access_token"].as_str().ok_or("no token")?)?;
    assert_eq!(again["oid"], claims["oid"]);
    let (_, explicit) = user_token(
        &c,
        &base,
        &json!({"oid": "11111111-2222-3333-4444-555555555555"}),
    )
    .await?;
    let (_, explicit) = parts(explicit["access_token"].as_str().ok_or("no token")?)?;
    assert_eq!(explicit["oid"], "11111111-2222-3333-4444-555555555555");

    // An empty body is a token with the defaults.
    let resp = c.post(format!("{base}/_sim/user-token")).send().await?;
    assert_eq!(resp.status(), StatusCode::OK);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn bad_user_token_requests_are_400s() -> TestResult {
    let sim = started(|_| {}).await?;
    let base = sim.base_url();
    let c = client();
    for (body, want) in [
        (json!({"role": ["auditlake.read"]}), "unknown field"),
        (json!({"roles": "auditlake.read"}), "invalid type"),
        (json!({"expires_in_secs": 0}), "between 1 and 86400"),
        (json!({"expires_in_secs": 86401}), "between 1 and 86400"),
    ] {
        let (status, err) = user_token(&c, &base, &body).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(err["error"]["code"], "BadRequest");
        let message = err["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(want), "{body}: {message}");
    }
    let resp = c
        .post(format!("{base}/_sim/user-token"))
        .body("roles=x")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = c.get(format!("{base}/_sim/user-token")).send().await?;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_configured_issuer_key_and_audience_are_used() -> TestResult {
    let pem = format!(
        "{}{}",
        include_str!("../../../fixtures/certs/client.key"),
        include_str!("../../../fixtures/certs/client.crt")
    );
    let sim = started(|c| {
        c.issuer_key_pem = Some(pem);
        c.api_audience = "api://auditlake-test".into();
    })
    .await?;
    let base = sim.base_url();
    let c = client();
    let (_, jwks) = get_json(&c, &format!("{base}/discovery/v2.0/keys")).await?;
    assert_eq!(jwks["keys"][0]["kid"], CLIENT_X5T);
    let (_, body) = user_token(&c, &base, &json!({"roles": ["auditlake.admin"]})).await?;
    let token = body["access_token"].as_str().ok_or("no token")?;
    assert!(verifies(token, &jwks)?);
    let (header, claims) = parts(token)?;
    assert_eq!(header["kid"], CLIENT_X5T);
    assert_eq!(claims["aud"], "api://auditlake-test");
    sim.shutdown().await;

    // A key without the certificate of its public key, and no audience, are refused at start.
    let bad = config(|c| {
        c.issuer_key_pem = Some(format!(
            "{}{}",
            include_str!("../../../fixtures/certs/client.key"),
            include_str!("../../../fixtures/certs/other.crt")
        ));
    });
    let err = bad.validate().err().unwrap_or_default();
    assert!(err.starts_with("issuer_key_pem:"), "{err}");
    let err = config(|c| c.api_audience = " ".into())
        .validate()
        .err()
        .unwrap_or_default();
    assert!(err.contains("api_audience"), "{err}");
    assert_eq!(SimConfig::default().api_audience, "api://auditlake");
    Ok(())
}

#[tokio::test]
async fn binary_takes_the_audience_and_issuer_key_flags() -> TestResult {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = std::env::temp_dir().join(format!("m365-sim-oidc-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let key_file = dir.join("issuer.pem");
    std::fs::write(
        &key_file,
        format!(
            "{}{}",
            include_str!("../../../fixtures/certs/client.rsa.key"),
            include_str!("../../../fixtures/certs/client.crt")
        ),
    )?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_m365-sim"))
        .args([
            "--port",
            "0",
            "--now",
            NOW,
            "--api-audience",
            "api://from-flag",
        ])
        .arg("--issuer-key")
        .arg(&key_file)
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
    let result = async {
        let line = line?;
        let base = line
            .trim()
            .strip_prefix("listening: ")
            .ok_or("no listening line")?
            .to_string();
        let c = client();
        let (_, jwks) = get_json(&c, &format!("{base}/discovery/v2.0/keys")).await?;
        assert_eq!(jwks["keys"][0]["kid"], CLIENT_X5T);
        let (_, body) = user_token(&c, &base, &json!({"roles": ["auditlake.read"]})).await?;
        let token = body["access_token"].as_str().ok_or("no token")?;
        assert!(verifies(token, &jwks)?);
        let (_, claims) = parts(token)?;
        assert_eq!(claims["aud"], "api://from-flag");
        assert_eq!(claims["iat"], NOW_SECS);
        Ok::<(), Box<dyn std::error::Error>>(())
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
