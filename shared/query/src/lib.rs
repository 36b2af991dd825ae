//! The query API: search, review and annotate events over HTTP. [`router`] builds the whole API
//! as an axum `Router` over a [`QueryApp`] (ports and settings), so the Lambda (`functions/
//! query-api`, through `lambda_http`), `auditlake serve` and the tests run the same code; the
//! handlers are thin, the listing engine is [`list`], storage is reached through the ports in
//! `domain::read`, and every error is an [`error::ApiError`] with a status and a JSON body.
//!
//! Roles: `GET` routes other than `/health`, `/version` and `/openapi.json` need
//! `auditlake.read`; tags and comments need `auditlake.annotate`; hunting queries
//! (`POST /analytics/{query}`, which cost Athena scans) need `auditlake.admin`, which implies both.
//! A missing or invalid token is a 401 with `WWW-Authenticate: Bearer`; a valid one without the
//! role a 403. With auth explicitly disabled every response carries `x-auditlake-auth: disabled`.

pub mod analytics;
mod api_doc;
pub mod auth;
pub mod console;
pub mod cursor;
pub mod error;
mod handlers;
pub mod list;
mod wiring;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use chrono::TimeDelta;

use self::auth::{Authenticator, Role};
use self::cursor::CursorCodec;
use domain::analytics::QueryEngine;
use domain::config::QueryConfig;
use domain::read::{Annotator, EventReader};
use domain::store::{RawStore, StateStore};
use domain::stream::SignInKind;
use domain::triage::{AlertReader, RuleStore};
use runtime::clock::Clock;

pub use handlers::{ApiDoc, ROUTES, authorize};
pub use wiring::{query_app, query_app_with_clock};

/// The header every response carries when auth is disabled.
pub const AUTH_DISABLED_HEADER: &str = "x-auditlake-auth";

/// Largest request body accepted (tags, comments); larger ones are a 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the API reaches: the stores, the token check and the clock (the pin's time).
#[derive(Clone)]
pub struct QueryPorts {
    pub reader: Arc<dyn EventReader>,
    pub annotator: Arc<dyn Annotator>,
    pub state: Arc<dyn StateStore>,
    pub auth: Arc<dyn Authenticator>,
    pub clock: Arc<dyn Clock>,
    /// Where hunting queries run (`POST /analytics/{query}`); `None` answers 503.
    pub analytics: Option<Arc<dyn QueryEngine>>,
    /// The raw layer, read for events kept by reference (`raw_ref`); `None` returns the reference
    /// alone.
    pub raw: Option<Arc<dyn RawStore>>,
    /// Alerts (`/alerts`) and the tenant's rules (`/rules`); `None` answers 503 on those routes
    /// (the built-in rules are still listed).
    pub alerts: Option<Arc<dyn AlertReader>>,
    pub rules: Option<Arc<dyn RuleStore>>,
    /// The delivery channels' health (`GET /sources`' `deliveries`); `None` lists none.
    pub deliveries: Option<Arc<dyn domain::delivery::DeliveryHealthReader>>,
    /// The audit search backfill's jobs (`GET /sources`' `backfills`); `None` lists none.
    pub backfills: Option<Arc<dyn domain::backfill::BackfillStore>>,
}

impl QueryPorts {
    /// Ports over one store that both reads and annotates (the test kit's in-memory store).
    pub fn over<S: EventReader + Annotator + 'static>(
        events: Arc<S>,
        state: Arc<dyn StateStore>,
        auth: Arc<dyn Authenticator>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        QueryPorts {
            reader: events.clone(),
            annotator: events,
            state,
            auth,
            clock,
            analytics: None,
            raw: None,
            alerts: None,
            rules: None,
            deliveries: None,
            backfills: None,
        }
    }

    /// Adds the audit search backfill's jobs.
    pub fn with_backfills(mut self, backfills: Arc<dyn domain::backfill::BackfillStore>) -> Self {
        self.backfills = Some(backfills);
        self
    }

    /// Adds the delivery channels' health.
    pub fn with_deliveries(
        mut self,
        deliveries: Arc<dyn domain::delivery::DeliveryHealthReader>,
    ) -> Self {
        self.deliveries = Some(deliveries);
        self
    }

    /// Adds the alerts table (alerts and the tenant's rules).
    pub fn with_alerts<S: AlertReader + RuleStore + 'static>(mut self, alerts: Arc<S>) -> Self {
        self.alerts = Some(alerts.clone());
        self.rules = Some(alerts);
        self
    }

    /// Adds the raw layer, so events kept by reference come with their raw record.
    pub fn with_raw(mut self, raw: Arc<dyn RawStore>) -> Self {
        self.raw = Some(raw);
        self
    }

    /// Adds the engine hunting queries run on.
    pub fn with_analytics(mut self, engine: Arc<dyn QueryEngine>) -> Self {
        self.analytics = Some(engine);
        self
    }
}

/// The API's settings, from [`QueryConfig`] plus the cursor key read at start.
#[derive(Clone)]
pub struct QuerySettings {
    pub tenant_id: String,
    /// Group object id -> role granted to its members.
    pub group_roles: Vec<(String, Role)>,
    pub auth_disabled: bool,
    /// How far back a listing without `start` reaches (the events' hot retention).
    pub hot_retention: TimeDelta,
    /// Database requests one `GET /events` call may send.
    pub read_budget: u32,
    /// Streams listed by `/sources`, per source.
    pub signin_kinds: Vec<SignInKind>,
    /// The Management API content types the stack collects.
    pub content_types: Vec<domain::stream::ContentType>,
    /// Time limit of one hunting query.
    pub analytics_limit: std::time::Duration,
    /// How far back `GET /alerts` without `start` reaches (alerts' retention).
    pub alert_retention: TimeDelta,
}

impl QuerySettings {
    pub fn from_config(c: &QueryConfig) -> Self {
        QuerySettings {
            tenant_id: c.tenant_id.clone(),
            group_roles: c.allowed_groups.clone(),
            auth_disabled: c.auth_disabled,
            hot_retention: c.hot_retention,
            read_budget: c.read_budget,
            signin_kinds: c.signin_kinds.clone(),
            content_types: c.content_types.clone(),
            analytics_limit: c.analytics_timeout,
            alert_retention: TimeDelta::days(i64::from(c.alert_retention_days)),
        }
    }
}

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct QueryApp {
    pub(crate) ports: QueryPorts,
    pub(crate) settings: Arc<QuerySettings>,
    pub(crate) cursors: Arc<CursorCodec>,
    /// The web console's sign-in settings (`/console-config.json`, the CSP); `None`: not set up.
    pub(crate) console: Option<Arc<domain::config::ConsoleConfig>>,
}

impl QueryApp {
    /// `cursor_key` signs paging cursors: every instance serving the same API needs the same key.
    pub fn new(ports: QueryPorts, settings: QuerySettings, cursor_key: &[u8]) -> Self {
        QueryApp {
            ports,
            settings: Arc::new(settings),
            cursors: Arc::new(CursorCodec::new(cursor_key)),
            console: None,
        }
    }
}

impl QueryApp {
    /// Replaces the clock that pins listings. The pin is compared with events' `ingested_at`,
    /// which the pullers stamp with their clock: a local stack whose pullers run on the
    /// simulator's virtual clock (the demo) must give the API the same clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.ports.clock = clock;
        self
    }

    /// Sets the web console's sign-in settings (from [`QueryConfig::console`]).
    pub fn with_console(mut self, console: domain::config::ConsoleConfig) -> Self {
        self.console = Some(Arc::new(console));
        self
    }

    /// Whether authentication is switched off (every caller an anonymous admin).
    pub fn auth_disabled(&self) -> bool {
        self.settings.auth_disabled
    }

    /// The clock listings pin on (the questions' time budget is measured on the system clock).
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.ports.clock.clone()
    }

    /// Replaces the engine hunting queries run on (the demo's local DuckDB engine).
    pub fn with_analytics(mut self, engine: Arc<dyn QueryEngine>) -> Self {
        self.ports.analytics = Some(engine);
        self
    }
}

/// The whole API as a router.
pub fn router(app: QueryApp) -> Router {
    handlers::router(app)
}

/// Binds `addr` and serves the API in a background task; returns the bound address (use port 0
/// for any free port) and the task.
pub async fn spawn(
    app: QueryApp,
    addr: &str,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    spawn_router(router(app), addr).await
}

/// [`spawn`] for any router built over the API (`mcp::router` adds `/mcp` and the questions).
pub async fn spawn_router(
    router: Router,
    addr: &str,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((local, task))
}

/// The token check for a configuration: [`auth::Disabled`] when auth is switched off; otherwise
/// the Entra ID JWT verifier.
pub fn authenticator(config: &QueryConfig, clock: Arc<dyn Clock>) -> Arc<dyn Authenticator> {
    if config.auth_disabled {
        tracing::warn!(
            "Authentication is DISABLED (AUDITLAKE_AUTH_DISABLED=true): every caller is an anonymous admin."
        );
        return Arc::new(auth::Disabled);
    }
    let audiences = config.audience.iter().cloned().collect();
    let verifier = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())
        .and_then(|http| {
            auth::EntraVerifier::new(
                auth::EntraVerifierConfig::new(config.issuer.clone(), audiences),
                http,
                clock,
            )
            .map_err(|e| e.0)
        });
    match verifier {
        Ok(v) => Arc::new(v),
        Err(problem) => {
            tracing::error!(%problem, "Cannot build the token verifier; every request will be refused.");
            Arc::new(NoVerifier(problem))
        }
    }
}

/// Refuses every token as unverifiable (503): the verifier could not be built.
struct NoVerifier(String);

#[async_trait::async_trait]
impl Authenticator for NoVerifier {
    async fn authenticate(&self, _: Option<&str>) -> Result<auth::Principal, auth::AuthError> {
        Err(auth::AuthError::Unavailable(format!(
            "the token verifier is not configured: {}",
            self.0
        )))
    }
}
