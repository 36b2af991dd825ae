//! The authorization-code flow with PKCE (the console's sign-in), over HTTP: a code redeems
//! once, only with its verifier, client and redirect URI, into an access token that verifies
//! under the published key and carries the chosen user's roles; unregistered redirect URIs and
//! unknown clients get a 400 page, other refusals go back to the redirect URI with the state.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use m365_sim::wire::{b64url_encode, parse_pairs};
use m365_sim::{DEFAULT_SPA_CLIENT_ID, RunningSim, start};
use reqwest::{Client, StatusCode, redirect::Policy};
use serde_json::Value;

use crate::support::{NOW, Res, TENANT, TestResult, config};

/// Changes the query of an authorization request.
type Edit = Box<dyn FnOnce(&mut Vec<(&'static str, String)>)>;

const REDIRECT: &str = "http://127.0.0.1:8123/";
const SCOPE: &str = "api://auditlake/access_as_user";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn no_redirects() -> Client {
    Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap_or_default()
}

fn challenge(verifier: &str) -> String {
    b64url_encode(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref(),
    )
}

async fn sim(f: impl FnOnce(&mut m365_sim::SimConfig)) -> Res<RunningSim> {
    Ok(start(config(f)).await?)
}

/// `GET /authorize` with the standard parameters, `edit` changing them; the response.
async fn authorize(
    sim: &RunningSim,
    edit: impl FnOnce(&mut Vec<(&'static str, String)>),
) -> Res<reqwest::Response> {
    let mut q: Vec<(&'static str, String)> = vec![
        ("client_id", DEFAULT_SPA_CLIENT_ID.into()),
        ("response_type", "code".into()),
        ("redirect_uri", REDIRECT.into()),
        ("scope", SCOPE.into()),
        ("state", "st-42".into()),
        ("code_challenge", challenge(VERIFIER)),
        ("code_challenge_method", "S256".into()),
    ];
    edit(&mut q);
    Ok(no_redirects()
        .get(format!("{}/{TENANT}/oauth2/v2.0/authorize", sim.base_url()))
        .query(&q)
        .send()
        .await?)
}

/// The query parameters of a 302's `Location`, which must point at [`REDIRECT`].
fn redirected(resp: &reqwest::Response) -> Res<std::collections::HashMap<String, String>> {
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = resp
        .headers()
        .get("location")
        .ok_or("no Location")?
        .to_str()?;
    let query = location
        .strip_prefix(&format!("{REDIRECT}?"))
        .ok_or_else(|| format!("not back at the redirect URI: {location}"))?;
    Ok(parse_pairs(query).into_iter().collect())
}

async fn redeem(
    sim: &RunningSim,
    form: &[(&str, &str)],
    origin: Option<&str>,
) -> Res<(StatusCode, Value, Option<String>)> {
    let mut req = Client::new()
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", sim.base_url()))
        .form(form);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let acao = resp
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok((status, resp.json().await?, acao))
}

fn form<'a>(code: &'a str, verifier: &'a str, redirect: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("client_id", DEFAULT_SPA_CLIENT_ID),
        ("code", code),
        ("redirect_uri", redirect),
        ("code_verifier", verifier),
    ]
}

/// The claims of `jwt`, verified under the simulator's published key.
async fn verified(sim: &RunningSim, jwt: &str) -> Res<Value> {
    let jwks: Value = Client::new()
        .get(format!("{}/discovery/v2.0/keys", sim.base_url()))
        .send()
        .await?
        .json()
        .await?;
    let k = &jwks["keys"][0];
    let key =
        DecodingKey::from_rsa_components(k["n"].as_str().ok_or("n")?, k["e"].as_str().ok_or("e")?)?;
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&["api://auditlake"]);
    v.set_issuer(&[format!("{}/{TENANT}/v2.0", sim.base_url())]);
    // The token's times are on the virtual clock (NOW), not this machine's.
    v.validate_exp = false;
    Ok(jsonwebtoken::decode::<Value>(jwt, &key, &v)?.claims)
}

#[tokio::test]
async fn a_code_redeems_once_with_its_verifier_into_a_token_with_the_users_roles() -> TestResult {
    let sim = sim(|_| {}).await?;
    let back = redirected(
        &authorize(&sim, |q| {
            q.push(("login_hint", "reader@contoso.onmicrosoft.com".into()))
        })
        .await?,
    )?;
    assert_eq!(back.get("state").map(String::as_str), Some("st-42"));
    let code = back.get("code").ok_or("no code")?;
    let (status, body, acao) = redeem(
        &sim,
        &form(code, VERIFIER, REDIRECT),
        Some("http://127.0.0.1:8123"),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(acao.as_deref(), Some("http://127.0.0.1:8123"));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], SCOPE);
    assert_eq!(body["expires_in"], 3599);
    let claims = verified(&sim, body["access_token"].as_str().ok_or("no token")?).await?;
    assert_eq!(claims["roles"], serde_json::json!(["auditlake.read"]));
    assert_eq!(
        claims["preferred_username"],
        "reader@contoso.onmicrosoft.com"
    );
    assert_eq!(claims["azp"], DEFAULT_SPA_CLIENT_ID);
    assert_eq!(claims["scp"], "access_as_user");
    assert_eq!(claims["iat"], crate::support::t(NOW).timestamp());
    assert!(claims.get("nonce").is_none());

    // Single use: the same code again is refused, even with the right verifier.
    let (status, again, _) = redeem(&sim, &form(code, VERIFIER, REDIRECT), None).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(again["error"], "invalid_grant");
    assert_eq!(again["error_codes"][0], 54005);
    Ok(())
}

#[tokio::test]
async fn the_default_user_is_an_admin_and_an_unknown_hint_is_refused() -> TestResult {
    let sim = sim(|_| {}).await?;
    let back = redirected(&authorize(&sim, |_| {}).await?)?;
    let (_, body, _) = redeem(&sim, &form(&back["code"], VERIFIER, REDIRECT), None).await?;
    let claims = verified(&sim, body["access_token"].as_str().ok_or("no token")?).await?;
    assert_eq!(claims["roles"], serde_json::json!(["auditlake.admin"]));
    assert_eq!(
        claims["preferred_username"],
        "analyst@contoso.onmicrosoft.com"
    );

    let back = redirected(
        &authorize(&sim, |q| {
            q.push(("login_hint", "nobody@contoso.onmicrosoft.com".into()))
        })
        .await?,
    )?;
    assert_eq!(
        back.get("error").map(String::as_str),
        Some("invalid_request")
    );
    assert!(
        back["error_description"].starts_with("AADSTS50034"),
        "{back:?}"
    );
    assert_eq!(back.get("state").map(String::as_str), Some("st-42"));
    assert!(!back.contains_key("code"));
    Ok(())
}

#[tokio::test]
async fn a_wrong_verifier_is_refused_and_consumes_the_code() -> TestResult {
    let sim = sim(|_| {}).await?;
    let back = redirected(&authorize(&sim, |_| {}).await?)?;
    let code = &back["code"];
    let wrong = "a-different-verifier-of-enough-length-0123456789";
    let (status, body, _) = redeem(&sim, &form(code, wrong, REDIRECT), None).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_codes"][0], 501481);
    assert!(body.get("access_token").is_none());
    let (status, body, _) = redeem(&sim, &form(code, VERIFIER, REDIRECT), None).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_codes"][0], 54005);

    // No verifier at all.
    let back = redirected(&authorize(&sim, |_| {}).await?)?;
    let mut f = form(&back["code"], VERIFIER, REDIRECT);
    f.retain(|(k, _)| *k != "code_verifier");
    let (status, body, _) = redeem(&sim, &f, None).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_codes"][0], 900144);
    Ok(())
}

#[tokio::test]
async fn the_redirect_uri_must_be_registered_and_match_at_redemption() -> TestResult {
    let sim = sim(|c| c.spa_redirect_uris = vec![REDIRECT.into()]).await?;
    // Not registered: a page, never a redirect to it.
    let resp = authorize(&sim, |q| q[2].1 = "http://127.0.0.1:9999/".into()).await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());
    assert!(resp.text().await?.contains("AADSTS50011"));
    // Redeemed with another redirect URI than it was issued for: refused, CORS withheld.
    let back = redirected(&authorize(&sim, |_| {}).await?)?;
    let (status, body, acao) = redeem(
        &sim,
        &form(&back["code"], VERIFIER, "http://127.0.0.1:9999/"),
        Some("http://127.0.0.1:9999"),
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error_codes"][0], 500117);
    assert_eq!(acao, None);

    // Without registered URIs only loopback http ones are accepted.
    let open = self::sim(|_| {}).await?;
    for bad in [
        "https://evil.example/",
        "http://10.0.0.1/",
        "javascript:alert(1)",
    ] {
        let resp = authorize(&open, |q| q[2].1 = bad.into()).await?;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    Ok(())
}

#[tokio::test]
async fn pkce_s256_client_scope_and_response_type_are_required() -> TestResult {
    let sim = sim(|_| {}).await?;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "no challenge",
            Box::new(|q| q.retain(|(k, _)| *k != "code_challenge")),
            "AADSTS9002325",
        ),
        (
            "plain",
            Box::new(|q| q[6].1 = "plain".into()),
            "AADSTS50148",
        ),
        (
            "not a digest",
            Box::new(|q| q[5].1 = "short".into()),
            "AADSTS50148",
        ),
        (
            "token flow",
            Box::new(|q| q[1].1 = "token".into()),
            "AADSTS700054",
        ),
        (
            "graph scope",
            Box::new(|q| q[3].1 = "https://graph.microsoft.com/.default".into()),
            "AADSTS70011",
        ),
    ];
    for (name, edit, code) in cases {
        let back = redirected(&authorize(&sim, edit).await?)?;
        assert!(
            back.get("error_description")
                .is_some_and(|d| d.starts_with(code)),
            "{name}: {back:?}"
        );
        assert!(!back.contains_key("code"), "{name}");
    }
    let resp = authorize(&sim, |q| {
        q[0].1 = "00000000-0000-0000-0000-000000000000".into()
    })
    .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await?.contains("AADSTS700016"));
    Ok(())
}

#[tokio::test]
async fn a_code_expires_after_ten_virtual_minutes() -> TestResult {
    let sim = sim(|_| {}).await?;
    let back = redirected(&authorize(&sim, |_| {}).await?)?;
    Client::new()
        .post(format!("{}/_sim/clock", sim.base_url()))
        .json(&serde_json::json!({"advance_secs": 601}))
        .send()
        .await?
        .error_for_status()?;
    let (status, body, _) = redeem(&sim, &form(&back["code"], VERIFIER, REDIRECT), None).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_codes"][0], 70008);
    Ok(())
}
