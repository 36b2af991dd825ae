//! The query API's bearer-token verification against the real tenant simulator as the issuer:
//! [`EntraVerifier`] discovers the simulator's key set from its OIDC discovery document, accepts
//! `/_sim/user-token` tokens with their roles and groups, and refuses them once they expire on the
//! virtual clock, for another audience, or from another issuer's key. This is how `auditlake
//! serve` and the demo run with authentication on.

use std::sync::Arc;

use auditlake::query::auth::{
    AuthError, Authenticator, EntraVerifier, EntraVerifierConfig, Role, effective_role,
    entra_issuer,
};
use e2e::{SimClock, SimControl};
use m365_sim::SimConfig;
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const TENANT: &str = "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35";

fn sim_config(f: impl FnOnce(&mut SimConfig)) -> SimConfig {
    let mut c = SimConfig {
        now: auditlake::model::parse_time("2026-07-17T12:00:00Z"),
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

fn invalid(result: Result<auditlake::query::auth::Principal, AuthError>) -> String {
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
