//! The retrying Graph client and the token cache, against the simulator.

use super::*;
use collector::auth::{ClientCredentials, TokenSource};
use collector::http::{ApiClient, ApiError, RetryPolicy};
use domain::config::CredentialSource;
use testkit::memory::MemoryParameters;

struct Client {
    sim: m365_sim::RunningSim,
    ctl: SimControl,
    clock: Arc<ManualClock>,
    api: ApiClient,
    url: String,
}

async fn client(retry_after_secs: u64, max_retries: usize) -> Client {
    // These tests count requests and waits exactly; Graph's request budget (tested with the
    // pipeline, where the clock's waits move the simulator's clock) is off here.
    let cfg = SimConfig {
        retry_after_secs,
        days: 1,
        enforce_budgets: false,
        ..SimConfig::default()
    };
    let (tenant, client_id, secret) = (
        cfg.tenant.clone(),
        cfg.client_id.clone(),
        cfg.client_secret.clone(),
    );
    let sim = m365_sim::start(cfg).await.unwrap();
    let ctl = SimControl::new(sim.base_url());
    let clock = Arc::new(ManualClock::new(ctl.now().await.unwrap()));
    let params = Arc::new(MemoryParameters::default().with("/secret", &secret));
    let http = reqwest::Client::new();
    let tokens: Arc<dyn TokenSource> = Arc::new(ClientCredentials::new(
        http.clone(),
        format!("{}/{tenant}/oauth2/v2.0/token", sim.base_url()),
        client_id,
        CredentialSource::Secret {
            param: "/secret".into(),
        },
        params,
        clock.clone(),
    ));
    let policy = RetryPolicy {
        max_retries,
        ..RetryPolicy::default()
    };
    let api = ApiClient::new(
        "Microsoft Graph",
        http,
        tokens,
        "https://graph.microsoft.com/.default".into(),
        clock.clone(),
        policy,
    );
    let url = format!("{}/v1.0/auditLogs/directoryAudits?$top=5", sim.base_url());
    Client {
        sim,
        ctl,
        clock,
        api,
        url,
    }
}

#[tokio::test]
async fn tokens_are_cached_until_shortly_before_expiry() {
    let c = client(1, 3).await;
    for _ in 0..5 {
        c.api.get(&c.url, &Deadline::none()).await.unwrap();
    }
    assert_eq!(c.ctl.stats().await.unwrap()["tokens_issued"], 1);
    // 56 minutes later the token (valid 3599 s) is inside the 5-minute renewal margin.
    c.clock.set(c.ctl.advance(56 * 60).await.unwrap());
    c.api.get(&c.url, &Deadline::none()).await.unwrap();
    assert_eq!(c.ctl.stats().await.unwrap()["tokens_issued"], 2);
    c.sim.shutdown().await;
}

#[tokio::test]
async fn a_401_refreshes_the_token_once() {
    let c = client(1, 3).await;
    c.api.get(&c.url, &Deadline::none()).await.unwrap();
    // The simulator's clock moves past the token's expiry, ours does not: the cached token is
    // rejected with 401, the client fetches a new one and the request succeeds.
    c.ctl.advance(2 * 3600).await.unwrap();
    c.api.get(&c.url, &Deadline::none()).await.unwrap();
    let stats = c.ctl.stats().await.unwrap();
    assert_eq!(stats["tokens_issued"], 2, "{stats}");
    assert_eq!(stats["unauthorized_401"], 1, "{stats}");
}

#[tokio::test]
async fn throttling_honours_retry_after_then_gives_up_with_microsofts_code() {
    let c = client(7, 3).await;
    c.ctl.set_faults(1.0, 0.0).await.unwrap();
    let err = c.api.get(&c.url, &Deadline::none()).await.unwrap_err();
    match &err {
        ApiError::Api { status, code, .. } => {
            assert_eq!(*status, 429);
            assert_eq!(code, "TooManyRequests");
        }
        other => panic!("expected the 429, got {other:?}"),
    }
    assert_eq!(c.clock.sleeps(), vec![Duration::from_secs(7); 3]);
    assert_eq!(c.ctl.stats().await.unwrap()["throttled_429"], 4);
}

#[tokio::test]
async fn server_errors_back_off_and_recover() {
    let c = client(1, 8).await;
    c.ctl.set_faults(0.0, 0.5).await.unwrap();
    for _ in 0..10 {
        c.api.get(&c.url, &Deadline::none()).await.unwrap();
    }
    let stats = c.ctl.stats().await.unwrap();
    let errors = stats["server_errors_5xx"].as_u64().unwrap();
    assert!(errors > 0, "{stats}");
    assert_eq!(c.clock.sleeps().len() as u64, errors, "one backoff per 5xx");
    assert!(
        c.clock
            .sleeps()
            .iter()
            .all(|d| *d <= Duration::from_secs(30))
    );
}

#[tokio::test]
async fn a_retry_wait_longer_than_the_time_left_ends_the_request() {
    let c = client(120, 5).await;
    c.ctl.set_faults(1.0, 0.0).await.unwrap();
    let err = c
        .api
        .get(&c.url, &Deadline::after(Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Deadline { .. }), "{err:?}");
    assert!(
        c.clock.sleeps().is_empty(),
        "it did not start a wait it could not finish"
    );
}
