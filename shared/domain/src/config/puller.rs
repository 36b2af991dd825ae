//! The pullers' configuration: every variable a pull function reads, the credential it signs in
//! with, and the per-source overlap default.

use chrono::TimeDelta;

use super::{ConfigError, Reader, Var, is_guid, vars};
use crate::cloud::{Cloud, Endpoints};
use crate::model::Source;
use crate::stream::{ContentType, SignInKind};

/// Every variable a puller reads (the template check and the README table check use it).
pub const PULLER_VARS: &[Var] = &[
    vars::TENANT_ID,
    vars::CLIENT_ID,
    vars::CLIENT_SECRET_PARAM,
    vars::CLIENT_CERT_PARAM,
    vars::CLOUD,
    vars::LOGIN_URL,
    vars::GRAPH_URL,
    vars::MANAGEMENT_URL,
    vars::BUCKET,
    vars::EVENTS_TABLE,
    vars::STATE_TABLE,
    vars::LAG_SECS,
    vars::OVERLAP_SECS,
    vars::INITIAL_LOOKBACK_DAYS,
    vars::HOT_RETENTION_DAYS,
    vars::WRITE_CONCURRENCY,
    vars::PAGE_SIZE,
    vars::SIGNIN_KINDS,
    vars::CONTENT_TYPES,
    vars::PUBLISHER_ID,
    vars::BLOB_CONCURRENCY,
    vars::REQUEST_BUDGET,
    vars::HISTORY_DAYS,
    vars::HTTP_TIMEOUT_SECS,
    vars::MAX_RETRIES,
    vars::DEADLINE_MARGIN_SECS,
];

/// How the collector proves its identity to Entra ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// SSM parameter name of a client secret.
    Secret { param: String },
    /// SSM parameter name of a PEM private key plus certificate.
    Certificate { param: String },
}

/// Configuration of a pull function (and `auditlake run`).
#[derive(Debug, Clone, PartialEq)]
pub struct PullerConfig {
    pub tenant_id: String,
    pub client_id: String,
    pub credential: CredentialSource,
    pub cloud: Cloud,
    pub endpoints: Endpoints,
    pub bucket: String,
    pub events_table: String,
    pub state_table: String,
    pub lag: TimeDelta,
    /// `None`: the source's default overlap ([`default_overlap`]).
    pub overlap: Option<TimeDelta>,
    pub initial_lookback: TimeDelta,
    pub hot_retention: TimeDelta,
    pub write_concurrency: usize,
    pub page_size: u32,
    pub signin_kinds: Vec<SignInKind>,
    pub content_types: Vec<ContentType>,
    pub publisher_id: String,
    pub blob_concurrency: usize,
    pub history: Option<TimeDelta>,
    /// `(requests, seconds)` overriding the source's default request budget.
    pub request_budget: Option<(u32, u64)>,
    pub http_timeout: std::time::Duration,
    pub max_retries: usize,
    pub deadline_margin: std::time::Duration,
}

/// How far before its watermark a source re-reads when `AUDITLAKE_OVERLAP_SECS` is not set.
/// Graph: 30 minutes, the simulator's and Microsoft's observed late-arrival bound (ARCHITECTURE.md,
/// "Windows, lag and overlap").
/// Management API: 2 hours, because a blob can be listed well after its `contentCreated` (events
/// arrive in 60-90 minutes and later); blobs already stored are skipped by the content ledger, so
/// the overlap costs listing calls only.
pub fn default_overlap(source: Source) -> TimeDelta {
    match source {
        Source::M365Activity => TimeDelta::hours(2),
        _ => TimeDelta::minutes(30),
    }
}

impl PullerConfig {
    /// Parses the puller configuration from `(name, value)` pairs, e.g. `std::env::vars()`.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut r = Reader::new(vars);

        let tenant_id = r.tenant_id();
        let client_id = r.required(&vars::CLIENT_ID);
        let secret = r.optional(&vars::CLIENT_SECRET_PARAM);
        let cert = r.optional(&vars::CLIENT_CERT_PARAM);
        let credential = match (secret, cert) {
            (Some(param), None) => CredentialSource::Secret { param },
            (None, Some(param)) => CredentialSource::Certificate { param },
            (Some(_), Some(_)) => {
                r.problem(&vars::CLIENT_CERT_PARAM,
                    "set either AUDITLAKE_CLIENT_SECRET_PARAM or AUDITLAKE_CLIENT_CERT_PARAM, not both",
                );
                CredentialSource::Secret {
                    param: String::new(),
                }
            }
            (None, None) => {
                r.problem(
                    &vars::CLIENT_SECRET_PARAM,
                    "is required (or AUDITLAKE_CLIENT_CERT_PARAM for certificate auth)",
                );
                CredentialSource::Secret {
                    param: String::new(),
                }
            }
        };
        let cloud = match r.optional(&vars::CLOUD) {
            None => Cloud::Commercial,
            Some(raw) => raw.parse().unwrap_or_else(|e: String| {
                r.problem(&vars::CLOUD, e);
                Cloud::Commercial
            }),
        };
        let login = r.url(&vars::LOGIN_URL);
        let graph = r.url(&vars::GRAPH_URL);
        let management = r.url(&vars::MANAGEMENT_URL);
        let endpoints = cloud.endpoints().with_overrides(login, graph, management);
        let bucket = r.required(&vars::BUCKET);
        let events_table = r.required(&vars::EVENTS_TABLE);
        let state_table = r.required(&vars::STATE_TABLE);
        let lag = r.number(&vars::LAG_SECS);
        let overlap = r
            .optional(&vars::OVERLAP_SECS)
            .map(|_| r.number(&vars::OVERLAP_SECS));
        let lookback = r.number(&vars::INITIAL_LOOKBACK_DAYS);
        let retention = r.number(&vars::HOT_RETENTION_DAYS);
        let concurrency = r.number(&vars::WRITE_CONCURRENCY);
        let page_size = r.number(&vars::PAGE_SIZE);
        let signin_kinds = r.list(&vars::SIGNIN_KINDS);
        let content_types = r.list(&vars::CONTENT_TYPES);
        if content_types.is_empty() {
            r.problem(&vars::CONTENT_TYPES, "names no content type");
        }
        let publisher_id = r
            .optional(&vars::PUBLISHER_ID)
            .unwrap_or_else(|| tenant_id.clone());
        if !is_guid(&publisher_id) && !publisher_id.is_empty() {
            r.problem(
                &vars::PUBLISHER_ID,
                format!("`{publisher_id}` is not a GUID (Microsoft expects a tenant GUID)"),
            );
        }
        let blob_concurrency = r.number(&vars::BLOB_CONCURRENCY);
        let request_budget = r.optional(&vars::REQUEST_BUDGET).and_then(|raw| {
            let parsed = raw.split_once('/').and_then(|(n, secs)| {
                Some((
                    n.trim().parse::<u32>().ok()?,
                    secs.trim().parse::<u64>().ok()?,
                ))
            });
            match parsed {
                Some((n, secs)) if n > 0 && secs > 0 => Some((n, secs)),
                _ => {
                    r.problem(
                        &vars::REQUEST_BUDGET,
                        format!("`{raw}` is not N/SECS with both above zero (e.g. 2/10)"),
                    );
                    None
                }
            }
        });
        let history = r
            .optional(&vars::HISTORY_DAYS)
            .map(|_| TimeDelta::days(r.number(&vars::HISTORY_DAYS) as i64));
        let timeout = r.number(&vars::HTTP_TIMEOUT_SECS);
        let retries = r.number(&vars::MAX_RETRIES);
        let margin = r.number(&vars::DEADLINE_MARGIN_SECS);

        let config = PullerConfig {
            tenant_id,
            client_id,
            credential,
            cloud,
            endpoints,
            bucket,
            events_table,
            state_table,
            lag: TimeDelta::seconds(lag as i64),
            overlap: overlap.map(|secs| TimeDelta::seconds(secs as i64)),
            initial_lookback: TimeDelta::days(lookback as i64),
            hot_retention: TimeDelta::days(retention as i64),
            write_concurrency: concurrency as usize,
            page_size: page_size as u32,
            signin_kinds,
            content_types,
            publisher_id,
            blob_concurrency: blob_concurrency as usize,
            history,
            request_budget,
            http_timeout: std::time::Duration::from_secs(timeout),
            max_retries: retries as usize,
            deadline_margin: std::time::Duration::from_secs(margin),
        };
        r.finish(config)
    }
}
