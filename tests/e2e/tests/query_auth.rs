//! The query API's bearer-token verification against the real tenant simulator as the issuer:
//! [`EntraVerifier`] discovers the simulator's key set from its OIDC discovery document, accepts
//! `/_sim/user-token` tokens with their roles and groups, and refuses them once they expire on the
//! virtual clock, for another audience, or from another issuer's key. This is how `auditlake
//! serve` and the demo run with authentication on.

use std::sync::Arc;

use e2e::{SimClock, SimControl};
use m365_sim::SimConfig;
use query::auth::{
    AuthError, Authenticator, EntraVerifier, EntraVerifierConfig, Role, effective_role,
    entra_issuer,
};
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const TENANT: &str = "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35";

fn sim_config(f: impl FnOnce(&mut SimConfig)) -> SimConfig {
    let mut c = SimConfig {
        now: domain::model::parse_time("2026-07-17T12:00:00Z"),
        events_per_hour: 0,
        enforce_budgets: false,
        ..SimConfig::default()
    };
    f(&mut c);
    c
}

/// A token from the simulator at `base` for the request `body`.
async fn user_token(base: &str, body: Value) -> Result<String, Box<dyn std::error::Error>> {
    let reply: Value = reqwest::Client::new()
        .post(format!("{base}/_sim/user-token"))
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(reply["access_token"]
        .as_str()
        .ok_or("no access_token")?
        .to_string())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn invalid(result: Result<query::auth::Principal, AuthError>) -> String {
    match result {
        Err(AuthError::Invalid(why)) => why,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn the_simulator_is_an_issuer_the_verifier_trusts() -> TestResult {
    let sim = m365_sim::start(sim_config(|_| {})).await?;
    let base = sim.base_url();
    let clock = Arc::new(SimClock::new(SimControl::new(&base)).await?);
    let verifier = EntraVerifier::new(
        EntraVerifierConfig::new(entra_issuer(&base, TENANT), vec!["api://auditlake".into()]),
        reqwest::Client::new(),
        clock.clone(),
    )?;

    let token = user_token(
        &base,
        json!({"roles": ["auditlake.annotate"], "groups": ["7f1e2d3c-0000-4000-8000-00000000000a"],
               "name": "Ada Lovelace", "upn": "ada@contoso.onmicrosoft.com"}),
    )
    .await?;
    let p = verifier.authenticate(Some(&bearer(&token))).await?;
    assert_eq!(p.roles, vec!["auditlake.annotate"]);
    assert_eq!(p.groups, vec!["7f1e2d3c-0000-4000-8000-00000000000a"]);
    assert_eq!(p.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(p.upn.as_deref(), Some("ada@contoso.onmicrosoft.com"));
    assert!(uuid_like(&p.subject), "{}", p.subject);
    assert_eq!(effective_role(&p, &[]), Some(Role::Annotate));
    let admins = [(
        "7F1E2D3C-0000-4000-8000-00000000000A".to_string(),
        Role::Admin,
    )];
    assert_eq!(effective_role(&p, &admins), Some(Role::Admin));

    // Another audience.
    let other = user_token(
        &base,
        json!({"roles": ["auditlake.read"], "audience": "api://other"}),
    )
    .await?;
    assert_eq!(
        invalid(verifier.authenticate(Some(&bearer(&other))).await),
        "wrong audience"
    );

    // Expiry on the virtual clock: an hour and the leeway later the token is refused; a new one
    // minted then is accepted.
    clock.advance(3599 + 60).await?;
    assert_eq!(
        invalid(verifier.authenticate(Some(&bearer(&token))).await),
        "token expired"
    );
    let fresh = user_token(&base, json!({"roles": ["auditlake.read"]})).await?;
    let p = verifier.authenticate(Some(&bearer(&fresh))).await?;
    assert_eq!(effective_role(&p, &[]), Some(Role::Read));

    // A token from a simulator with another signing key names a kid this issuer never published.
    let pem = format!(
        "{}{}",
        include_str!("../../fixtures/certs/client.key"),
        include_str!("../../fixtures/certs/client.crt")
    );
    let rogue = m365_sim::start(sim_config(|c| c.issuer_key_pem = Some(pem))).await?;
    let forged = user_token(&rogue.base_url(), json!({"roles": ["auditlake.admin"]})).await?;
    assert!(
        invalid(verifier.authenticate(Some(&bearer(&forged))).await)
            .contains("unknown signing key")
    );
    rogue.shutdown().await;

    // The simulator going away: keys stay cached, so known tokens still verify.
    sim.shutdown().await;
    verifier.authenticate(Some(&bearer(&fresh))).await?;
    Ok(())
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

/// The query API's router with the real verifier, the simulator as issuer: every way a token can
/// be wrong is a 401, a valid token without the role a 403, and roles (or a group granting one)
/// open exactly what they should.
#[tokio::test]
async fn the_router_refuses_every_bad_token_and_tells_401_from_403() -> TestResult {
    use query::{QueryApp, QueryPorts, QuerySettings};
    use testkit::memory::{MemoryEventStore, MemoryStateStore};

    let sim = m365_sim::start(sim_config(|_| {})).await?;
    let base = sim.base_url();
    let other = m365_sim::start(sim_config(|c| c.seed = 99)).await?;
    let ctl = SimControl::new(&base);
    let clock = Arc::new(SimClock::new(ctl.clone()).await?);
    let verifier = EntraVerifier::new(
        EntraVerifierConfig::new(entra_issuer(&base, TENANT), vec!["api://auditlake".into()]),
        reqwest::Client::new(),
        clock.clone(),
    )?;
    let reader_group = "0b5e6c7d-0000-4000-8000-0000000000aa";
    let app = QueryApp::new(
        QueryPorts::over(
            Arc::new(MemoryEventStore::default()),
            Arc::new(MemoryStateStore::default()),
            Arc::new(verifier),
            clock.clone(),
        ),
        QuerySettings {
            tenant_id: TENANT.into(),
            group_roles: vec![(reader_group.into(), Role::Read)],
            auth_disabled: false,
            hot_retention: chrono::TimeDelta::days(90),
            read_budget: 100,
            signin_kinds: Vec::new(),
            content_types: Vec::new(),
            analytics_limit: std::time::Duration::from_secs(25),
            alert_retention: chrono::TimeDelta::days(365),
        },
        b"test-cursor-key-test-cursor-key!",
    );
    let (addr, _task) = query::spawn(app, "127.0.0.1:0").await?;
    let api = format!("http://{addr}");
    let http = reqwest::Client::new();
    let get = |token: Option<String>| {
        let req = http.get(format!("{api}/events"));
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (
                status,
                body["error"]["message"].as_str().unwrap_or("").to_string(),
            )
        }
    };

    let reader = user_token(&base, json!({"roles": ["auditlake.read"]})).await?;
    assert_eq!(get(Some(reader.clone())).await.0, 200);
    let (status, msg) = get(None).await;
    assert_eq!(
        (status, msg.contains("no bearer token")),
        (401, true),
        "{msg}"
    );

    // A signature that does not verify.
    let mut parts: Vec<String> = reader.split('.').map(str::to_string).collect();
    let sig = &mut parts[2];
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    sig.replace_range(0..1, flipped);
    let (status, msg) = get(Some(parts.join("."))).await;
    assert_eq!(status, 401, "{msg}");
    assert!(msg.contains("signature"), "{msg}");

    // alg: none, with a genuine payload.
    let none = format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
        reader.split('.').nth(1).unwrap()
    );
    let (status, msg) = get(Some(none)).await;
    assert_eq!(status, 401, "{msg}");
    assert!(msg.contains("none"), "{msg}");

    // Another audience; another issuer (another tenant simulator, its own key).
    let foreign_aud = user_token(
        &base,
        json!({"roles": ["auditlake.read"], "audience": "api://other"}),
    )
    .await?;
    let (status, msg) = get(Some(foreign_aud)).await;
    assert_eq!(status, 401, "{msg}");
    assert!(msg.contains("audience"), "{msg}");
    let foreign_iss = user_token(&other.base_url(), json!({"roles": ["auditlake.read"]})).await?;
    let (status, msg) = get(Some(foreign_iss)).await;
    assert_eq!(status, 401, "{msg}");

    // Expired on the virtual clock.
    let short = user_token(
        &base,
        json!({"roles": ["auditlake.read"], "expires_in_secs": 60}),
    )
    .await?;
    assert_eq!(get(Some(short.clone())).await.0, 200);
    clock.advance(600).await?;
    let (status, msg) = get(Some(short)).await;
    assert_eq!(status, 401, "{msg}");
    assert!(msg.contains("expired"), "{msg}");

    // Valid tokens without the role: 403; a group mapped to read opens reading only.
    let nobody = user_token(&base, json!({"roles": []})).await?;
    assert_eq!(get(Some(nobody)).await.0, 403);
    let member = user_token(&base, json!({"roles": [], "groups": [reader_group]})).await?;
    assert_eq!(get(Some(member.clone())).await.0, 200);
    let patch = http
        .patch(format!("{api}/events/entra-sign-ins:x/tags"))
        .bearer_auth(&member)
        .json(&json!({"add": ["triage"]}))
        .send()
        .await?;
    assert_eq!(
        patch.status().as_u16(),
        403,
        "reading does not allow annotating"
    );
    sim.shutdown().await;
    other.shutdown().await;
    Ok(())
}
