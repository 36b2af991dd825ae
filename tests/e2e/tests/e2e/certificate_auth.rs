//! Certificate credentials end to end: `ClientCredentials` reading a key and certificate from
//! the parameter store, signing client assertions on the simulator's virtual time, and getting
//! tokens and Graph pages through `ApiClient`; a certificate the app does not have; Entra
//! refusing PS256, answered by one RS256 retry that is then kept.

use super::*;
use collector::auth::{ClientCredentials, TokenSource};
use collector::http::{ApiClient, RetryPolicy};
use domain::config::CredentialSource;
use testkit::memory::MemoryParameters;

const PARAM: &str = "/auditlake/client-cert";
const GRAPH: &str = "https://graph.microsoft.com/.default";

fn fixture(name: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/certs");
    std::fs::read_to_string(dir.join(name)).unwrap()
}

struct Client {
    sim: m365_sim::RunningSim,
    ctl: SimControl,
    clock: Arc<ManualClock>,
    tokens: Arc<dyn TokenSource>,
    api: ApiClient,
    url: String,
}

/// A simulator whose app has client.crt registered, and a client whose SSM parameter holds
/// `stored`.
async fn client(stored: String, reject_ps256: bool) -> Client {
    let cfg = SimConfig {
        days: 1,
        enforce_budgets: false,
        client_certificate_pem: Some(fixture("client.crt")),
        reject_ps256,
        ..SimConfig::default()
    };
    let (tenant, client_id) = (cfg.tenant.clone(), cfg.client_id.clone());
    let sim = m365_sim::start(cfg).await.unwrap();
    let ctl = SimControl::new(sim.base_url());
    let clock = Arc::new(ManualClock::new(ctl.now().await.unwrap()));
    let params = Arc::new(MemoryParameters::default().with(PARAM, &stored));
    let http = reqwest::Client::new();
    let tokens: Arc<dyn TokenSource> = Arc::new(ClientCredentials::new(
        http.clone(),
        format!("{}/{tenant}/oauth2/v2.0/token", sim.base_url()),
        client_id,
        CredentialSource::Certificate {
            param: PARAM.into(),
        },
        params,
        clock.clone(),
    ));
    let api = ApiClient::new(
        "Microsoft Graph",
        http,
        tokens.clone(),
        GRAPH.into(),
        clock.clone(),
        RetryPolicy::default(),
    );
    let url = format!("{}/v1.0/auditLogs/directoryAudits?$top=5", sim.base_url());
    Client {
        sim,
        ctl,
        clock,
        tokens,
        api,
        url,
    }
}

#[tokio::test]
async fn a_certificate_gets_tokens_and_graph_pages() {
    // The SSM value as an operator stores it: key and certificate in one text (here the
    // certificate first, and each with its explanatory line).
    let c = client(
        format!("{}{}", fixture("client.crt"), fixture("client.key")),
        false,
    )
    .await;
    for _ in 0..3 {
        let page = c.api.get(&c.url, &Deadline::none()).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&page.body).unwrap();
        assert!(!body["value"].as_array().unwrap().is_empty(), "{body}");
    }
    let stats = c.ctl.stats().await.unwrap();
    assert_eq!(
        stats["tokens_issued"], 1,
        "one assertion, then the cache: {stats}"
    );
    assert_eq!(stats["token_failures"], 0, "{stats}");
    // Two hours on: the assertion's nbf/exp come from the Clock port, so a new one is valid on
    // the simulator's (moved) virtual clock, whatever the machine's clock says.
    c.clock.set(c.ctl.advance(2 * 3600).await.unwrap());
    c.api.get(&c.url, &Deadline::none()).await.unwrap();
    let stats = c.ctl.stats().await.unwrap();
    assert_eq!(stats["tokens_issued"], 2, "{stats}");
    assert_eq!(stats["token_failures"], 0, "{stats}");
    c.sim.shutdown().await;
}

#[tokio::test]
async fn a_certificate_the_app_does_not_have_fails_with_aadsts700027() {
    let c = client(
        format!("{}{}", fixture("other.key"), fixture("other.crt")),
        false,
    )
    .await;
    let err = c.tokens.token(GRAPH).await.unwrap_err();
    let info = err.info();
    assert_eq!(info.code, "AADSTS700027", "{info:?}");
    assert!(info.message.contains("Certificates & secrets"), "{info:?}");
    assert!(!info.message.contains("BEGIN"), "{info:?}");
    // PS256 was refused, so RS256 was tried once; nothing more.
    let stats = c.ctl.stats().await.unwrap();
    assert_eq!(stats["token_failures"], 2, "{stats}");
    assert_eq!(stats["tokens_issued"], 0, "{stats}");
    c.sim.shutdown().await;
}

#[tokio::test]
async fn a_refused_ps256_falls_back_to_rs256_once_and_keeps_it() {
    // A PKCS#1 key this time.
    let c = client(
        format!("{}{}", fixture("client.rsa.key"), fixture("client.crt")),
        true,
    )
    .await;
    let page = c.api.get(&c.url, &Deadline::none()).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&page.body).unwrap();
    assert!(body["value"].is_array(), "{body}");
    let stats = c.ctl.stats().await.unwrap();
    assert_eq!(stats["token_failures"], 1, "the PS256 attempt: {stats}");
    assert_eq!(stats["tokens_issued"], 1, "{stats}");
    // Another scope needs another token: RS256 straight away.
    c.tokens
        .token("https://manage.office.com/.default")
        .await
        .unwrap();
    let stats = c.ctl.stats().await.unwrap();
    assert_eq!(stats["token_failures"], 1, "{stats}");
    assert_eq!(stats["tokens_issued"], 2, "{stats}");
    c.sim.shutdown().await;
}
