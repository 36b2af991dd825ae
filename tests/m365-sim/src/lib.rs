//! `m365-sim`: a deterministic Microsoft 365 tenant simulator for tests and the local demo.
//!
//! One base URL serves what the collector talks to at Microsoft: the Entra token endpoint
//! (`POST /{tenant}/oauth2/v2.0/token` and the legacy v1 `/oauth2/token`) and Microsoft Graph
//! list endpoints under `/v1.0` and `/beta` (`auditLogs/directoryAudits`, `auditLogs/signIns`,
//! `deviceManagement/auditEvents`, `admin/exchange/tracing/messageTraces`), the Office 365
//! Management Activity API under `/api/v1.0/{tenant}/activity/feed` (subscriptions, content
//! listings, blobs; see [`mgmt`]), with Microsoft's URLs,
//! auth, paging, error bodies, licence and provisioning errors, request budgets and throttling,
//! an OIDC issuer for the query API (discovery document, JWKS and signed user tokens, see
//! [`oidc`]), Entra's authorization-code flow with PKCE for the web console (see
//! [`authorize`]), display names carrying script and markup payloads (see [`hostile`]), plus a control plane under `/_sim` (virtual clock, ground truth of every record and of the
//! planted attacks, counters). Everything is a pure function of the seed and the **virtual clock**, which
//! only moves when told (`POST /_sim/clock`), so a test can live through a week in seconds.
//!
//! In-process use:
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = m365_sim::start(m365_sim::SimConfig::default()).await?;
//! let graph_base = sim.base_url(); // http://127.0.0.1:PORT
//! # let _ = graph_base;
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Module map: [`clock`] (virtual time and wire time formats), [`auth`] (token endpoint, client
//! secrets and certificate assertions, bearer checks), [`oidc`] (the query API's token issuer:
//! discovery, keys, `/_sim/user-token`), [`authorize`] (the console's sign-in: authorize and
//! the code grant), [`hostile`] (the planted payloads, `/_sim/hostile`, `/_sim/beacon`), [`budget`] (Microsoft's request budgets on budget time), [`graph`] (the shared Graph list endpoint: `$filter`, `$top`, `$skiptoken`,
//! ordering, errors), [`mgmt`] (the Management Activity API: content types, blobs and their
//! records, quirks, routes, truth), [`audit_search`] (Graph's audit log query API over the same
//! records, 180 days deep), [`attacks`] (the planted attack scenarios: one or more per
//! alerting rule of the detection pack, each once per simulated day, and their truth; the benign
//! traffic raises no alert of the pack), [`sources`] (one module per source behind the [`sources::SimSource`]
//! trait, registered in [`sources::SOURCES`]), [`store`] (generated hour buckets and their
//! cache), [`tenant`] (the simulated directory), [`faults`], [`stats`], [`server`] (routing and
//! the `/_sim` control plane), [`rng`] and [`wire`] (helpers).

pub mod attacks;
pub mod audit_search;
pub mod auth;
pub mod authorize;
pub mod budget;
pub mod clock;
pub mod faults;
pub mod graph;
pub mod hostile;
pub mod mgmt;
pub mod oidc;
pub mod rng;
pub mod server;
pub mod sources;
pub mod stats;
pub mod store;
pub mod tenant;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How the simulator behaves. Every field has a `--flag` of the same name in the binary, except
/// the five switches that default to on, whose flags turn them off: `premium`
/// (`--no-premium`), `premium_p2` (`--no-premium-p2`), `message_trace_provisioned` (`--message-trace-unprovisioned`),
/// `enforce_budgets` (`--no-budgets`) and `attacks` (`--no-attacks`); the two PEM fields, read from the file given:
/// `client_certificate_pem` with `--client-cert FILE`, `issuer_key_pem` with `--issuer-key FILE`;
/// and the repeatable lists `denied_sources` (`--deny-source`) and `mgmt_denied_content_types`
/// (`--mgmt-deny-content-type`).
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// TCP port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Seed of everything generated (directory, events, ids, faults).
    pub seed: u64,
    /// The tenant id (GUID) the token endpoint accepts.
    pub tenant: String,
    /// The only registered application (client) id.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: String,
    /// Its registered certificate, PEM (text around the `CERTIFICATE` block, such as the private
    /// key kept in the same file, is ignored). With one, the token endpoint also takes client
    /// assertions signed by its key (see [`auth`]); the secret keeps working. `None`: the app
    /// has no certificate, and every assertion is refused with AADSTS700027.
    pub client_certificate_pem: Option<String>,
    /// Test switch: refuse `PS256` client assertions with AADSTS700027, as Entra did before it
    /// took PS256, so that a client's fallback to `RS256` can be exercised. Off by default.
    pub reject_ps256: bool,
    /// History: events exist from `initial now - days` onward.
    pub days: u32,
    /// Mean events per hour per source (varied 50-150% per hour; 0 means none).
    pub events_per_hour: u32,
    /// Upper bound of the ingestion delay; about 2% of events are later still (see
    /// [`sources`]).
    pub ingest_delay_secs: u64,
    /// Probability that a data request is answered 429.
    pub fault_429: f64,
    /// Probability that a data request is answered 500 or 503 (alternating).
    pub fault_5xx: f64,
    /// Real milliseconds added to every data response.
    pub latency_ms: u64,
    /// The `Retry-After` value (seconds) sent with injected 429s and 503s.
    pub retry_after_secs: u64,
    /// Initial virtual time; `None` means the real current time truncated to whole seconds.
    pub now: Option<DateTime<Utc>>,
    /// The tenant has an Entra ID P1/P2 licence. Without it every sign-ins request (v1.0 and
    /// beta) is answered 403 `Authentication_RequestFromNonPremiumTenantOrB2CTenant`.
    pub premium: bool,
    /// The tenant's Entra ID licence includes P2 (Identity Protection). Without it (or without
    /// [`SimConfig::premium`]) every risk detection request is answered 403 `Forbidden` naming
    /// the licence. On by default (`--no-premium-p2` turns it off).
    pub premium_p2: bool,
    /// The Exchange message trace service principal (app id
    /// `8bd644d1-64a1-4d4b-ae52-2e0cbf64e373`) is provisioned in the tenant. Without it every
    /// message trace request is answered 401.
    pub message_trace_provisioned: bool,
    /// Sources whose application permission the app lacks (or was never consented): their
    /// requests are answered 403 `Authorization_RequestDenied`.
    pub denied_sources: Vec<String>,
    /// The app's client secret has expired: the right secret gets 401 `invalid_client`
    /// AADSTS7000222.
    pub secret_expired: bool,
    /// Enforce Microsoft's request budgets (see [`budget`]): directory audits and sign-ins share
    /// 5 requests per 10 s, message trace has 100 per 5 min; over budget is 429 with
    /// `Retry-After`.
    pub enforce_budgets: bool,
    /// Office 365 Management Activity API ([`mgmt`]): one blob per content type every this many
    /// seconds (60..=86400).
    pub mgmt_blob_interval_secs: u64,
    /// Management API: content items per listing page before a `NextPageUri` (1..=10000).
    pub mgmt_page_size: usize,
    /// Management API: HTTP status of an `AF429` throttle, 429 (default) or 403 (as Microsoft's
    /// troubleshooting page shows it).
    pub mgmt_af429_status: u16,
    /// Management API: the paging header's name, `NextPageUri` (default) or `NextPageUrl`.
    pub mgmt_next_page_header: String,
    /// Management API: content types whose permission (`ActivityFeed.Read`, or
    /// `ActivityFeed.ReadDlp` for `DLP.All`) the app lacks: start, listing and fetch answer 401
    /// `AF10001`.
    pub mgmt_denied_content_types: Vec<String>,
    /// Management API: unified audit logging is off in the tenant: `subscriptions/start`
    /// answers 400 `AF20012`.
    pub mgmt_audit_disabled: bool,
    /// Management API quirk: a blob is listed at contentCreated + a delay uniform in `[0, this]`
    /// seconds (0 = listed at once).
    pub mgmt_listing_delay_secs: u64,
    /// Management API quirk: about 5% of blobs also carry records 3-5 days older than the blob,
    /// and records within a blob are not time-ordered.
    pub mgmt_late_records: bool,
    /// Management API quirk: each blob's first record repeats the last record of the previous
    /// blob of the same content type.
    pub mgmt_repeat_last: bool,
    /// Management API quirk: about 3% of blobs are listed a second time 1-3 days later.
    pub mgmt_relist: bool,
    /// Management API quirk: about 3% of blobs expire 20 minutes after they are listed.
    pub mgmt_early_expiry: bool,
    /// Management API quirk: after this many successful content listings (pages answered 200,
    /// any content type) the `Audit.Exchange` subscription is disabled once (`AF20023` until
    /// started again).
    pub mgmt_disable_after: Option<u64>,
    /// Management API: turn every quirk on with sensible parameters (see
    /// [`mgmt::MgmtSettings::from_config`]).
    pub mgmt_quirks: bool,
    /// The default `aud` of tokens from `POST /_sim/user-token`: the query API's app id URI
    /// (or client id) that it accepts. Default `api://auditlake`.
    pub api_audience: String,
    /// Plant attack scenarios among the ordinary traffic, each scenario of
    /// [`attacks::SCENARIOS`] once per simulated day, reported by `/_sim/truth/attacks` (see
    /// [`attacks`]). On by default (`--no-attacks` turns it off); the benign traffic is the same
    /// either way.
    pub attacks: bool,
    /// The OIDC issuer's signing key and its certificate, PEM (an RSA `RSA PRIVATE KEY` or
    /// `PRIVATE KEY` block and the `CERTIFICATE` of its public key). `None`: the TEST-ONLY pair
    /// committed in `tests/fixtures/certs/issuer.pem` (see [`oidc`]).
    pub issuer_key_pem: Option<String>,
    /// The Graph audit log query API's log depth, timing and limits (see [`audit_search`]);
    /// flags `--audit-search-days`, `--audit-search-run-secs`, `--audit-search-record-limit`,
    /// `--audit-search-max-concurrent`, `--audit-search-daily-limit`, `--audit-search-fail-every`.
    pub audit_search: audit_search::AuditSearchSettings,
    /// The client id of the console's (a single-page app's) registration, the only client the
    /// authorization-code flow of [`authorize`] serves.
    pub spa_client_id: String,
    /// The SPA redirect URIs registered for it; empty: any `http` URI on a loopback host.
    pub spa_redirect_uris: Vec<String>,
    /// Plant script and markup payloads in display names (see [`hostile`]). On by default
    /// (`--no-hostile` turns it off); the records and their ids are the same either way.
    pub hostile: bool,
    /// Where the planted `<script>` sends its beacon (an origin, e.g. this simulator's URL);
    /// `None`: a relative `/_sim/beacon`, on the origin of the page that would run it.
    pub hostile_beacon: Option<String>,
}

/// The default client id of the console's registration ([`SimConfig::spa_client_id`]).
pub const DEFAULT_SPA_CLIENT_ID: &str = "0c7e4b2a-9d3f-4a61-b8e5-3f2a1d6c9e47";

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            port: 0,
            seed: 1,
            tenant: "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35".to_string(),
            client_id: "5e7d9c1b-3a2f-4e6d-8c0b-1a9f7e5d3c21".to_string(),
            client_secret: "sim-client-secret".to_string(),
            client_certificate_pem: None,
            reject_ps256: false,
            days: 2,
            events_per_hour: 60,
            ingest_delay_secs: 120,
            fault_429: 0.0,
            fault_5xx: 0.0,
            latency_ms: 0,
            retry_after_secs: 1,
            now: None,
            premium: true,
            premium_p2: true,
            message_trace_provisioned: true,
            denied_sources: Vec::new(),
            secret_expired: false,
            enforce_budgets: true,
            mgmt_blob_interval_secs: 600,
            mgmt_page_size: 100,
            mgmt_af429_status: 429,
            mgmt_next_page_header: "NextPageUri".to_string(),
            mgmt_denied_content_types: Vec::new(),
            mgmt_audit_disabled: false,
            mgmt_listing_delay_secs: 0,
            mgmt_late_records: false,
            mgmt_repeat_last: false,
            mgmt_relist: false,
            mgmt_early_expiry: false,
            mgmt_disable_after: None,
            mgmt_quirks: false,
            api_audience: oidc::DEFAULT_API_AUDIENCE.to_string(),
            issuer_key_pem: None,
            attacks: true,
            audit_search: audit_search::AuditSearchSettings::default(),
            spa_client_id: DEFAULT_SPA_CLIENT_ID.to_string(),
            spa_redirect_uris: Vec::new(),
            hostile: true,
            hostile_beacon: None,
        }
    }
}

impl SimConfig {
    /// Rejects values that make no sense (probabilities outside `[0, 1]`).
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [("fault_429", self.fault_429), ("fault_5xx", self.fault_5xx)] {
            if !p.is_finite() || !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} must be a probability in [0, 1], got {p}"));
            }
        }
        if self.fault_429 + self.fault_5xx > 1.0 {
            return Err("fault_429 + fault_5xx must not exceed 1".to_string());
        }
        if let Some(now) = self.now
            && !(0..7_258_118_400).contains(&now.timestamp())
        {
            return Err(format!("now must lie between 1970 and 2200, got {now}"));
        }
        if self.days > 3650 {
            return Err(format!("days must be at most 3650, got {}", self.days));
        }
        if self.events_per_hour > 1_000_000 {
            return Err(format!(
                "events_per_hour must be at most 1000000, got {}",
                self.events_per_hour
            ));
        }
        if self.tenant.trim().is_empty() || self.client_id.trim().is_empty() {
            return Err("tenant and client_id must not be empty".to_string());
        }
        mgmt::MgmtSettings::validate(self)?;
        self.audit_search.validate()?;
        if let Some(pem) = &self.client_certificate_pem {
            auth::RegisteredCertificate::from_pem(pem)
                .map_err(|e| format!("client_certificate_pem: {e}"))?;
        }
        if self.api_audience.trim().is_empty() {
            return Err("api_audience must not be empty".to_string());
        }
        if let Some(pem) = &self.issuer_key_pem {
            oidc::IssuerKey::from_pem(pem).map_err(|e| format!("issuer_key_pem: {e}"))?;
        }
        Ok(())
    }

    /// The initial virtual time this configuration resolves to.
    pub fn initial_now(&self) -> DateTime<Utc> {
        self.now.unwrap_or_else(|| Utc::now().trunc_subsecs(0))
    }
}

/// A running simulator. Dropping it aborts the server task; [`RunningSim::shutdown`] stops it
/// gracefully.
#[derive(Debug)]
pub struct RunningSim {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Binds `127.0.0.1:port` and serves the simulator on a background task.
pub async fn start(config: SimConfig) -> std::io::Result<RunningSim> {
    config
        .validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(server::SimState::new(config, addr.port()));
    let app = server::router(state);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "Simulator server stopped with an error.");
        }
    });
    tracing::info!(%addr, "Simulator listening.");
    Ok(RunningSim {
        addr,
        stop: Some(stop_tx),
        task: Some(task),
    })
}

impl RunningSim {
    /// `http://127.0.0.1:PORT`: the login, Graph and control-plane base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Stops accepting connections, lets in-flight requests finish (up to 5 s), then stops.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
