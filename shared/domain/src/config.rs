//! Typed configuration, parsed once from `AUDITLAKE_*` variables handed in by the caller (the
//! core never reads the environment itself). Every missing or malformed variable is reported in
//! one error, so an operator fixes a deployment in one pass.

use std::collections::HashMap;
use std::fmt;

use chrono::TimeDelta;

use crate::cloud::{Cloud, Endpoints};
use crate::model::Source;
use crate::stream::ContentType;
use crate::stream::SignInKind;

/// Prefix of every variable auditlake reads.
pub const PREFIX: &str = "AUDITLAKE_";

/// One configuration variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var {
    pub name: &'static str,
    /// The value used when the variable is unset; `None`: required, or derived (the meaning
    /// says from what).
    pub default: Option<&'static str>,
    /// Inclusive bounds of a whole-number variable.
    pub range: Option<(u64, u64)>,
    pub meaning: &'static str,
}

/// Every `AUDITLAKE_*` variable, each declared once: name, default, accepted range and meaning.
/// The parsers read through these declarations (defaults and ranges included), problems name
/// them, and the README table and the template are checked against them.
pub mod vars {
    use super::Var;

    pub const TENANT_ID: Var = Var {
        name: "AUDITLAKE_TENANT_ID",
        default: None,
        range: None,
        meaning: "Entra tenant GUID the collector reads. Query API: the tenant GUID (health keys; the default token issuer).",
    };

    pub const CLIENT_ID: Var = Var {
        name: "AUDITLAKE_CLIENT_ID",
        default: None,
        range: None,
        meaning: "Application (client) id of the collector's app registration.",
    };

    pub const CLIENT_SECRET_PARAM: Var = Var {
        name: "AUDITLAKE_CLIENT_SECRET_PARAM",
        default: None,
        range: None,
        meaning: "SSM SecureString parameter holding the client secret.",
    };

    pub const CLIENT_CERT_PARAM: Var = Var {
        name: "AUDITLAKE_CLIENT_CERT_PARAM",
        default: None,
        range: None,
        meaning: "SSM SecureString parameter holding a PEM key and certificate (certificate auth).",
    };

    pub const CLOUD: Var = Var {
        name: "AUDITLAKE_CLOUD",
        default: Some("commercial"),
        range: None,
        meaning: "Microsoft cloud: commercial, gcc, gcc-high, dod, china. Query API: selects the default token issuer's login host.",
    };

    pub const LOGIN_URL: Var = Var {
        name: "AUDITLAKE_LOGIN_URL",
        default: None,
        range: None,
        meaning: "Override of the Entra login root (tests, proxies). Query API: override of the login host the default issuer is built from (local stacks).",
    };

    pub const GRAPH_URL: Var = Var {
        name: "AUDITLAKE_GRAPH_URL",
        default: None,
        range: None,
        meaning: "Override of the Microsoft Graph root.",
    };

    pub const MANAGEMENT_URL: Var = Var {
        name: "AUDITLAKE_MANAGEMENT_URL",
        default: None,
        range: None,
        meaning: "Override of the Management Activity API root.",
    };

    pub const BUCKET: Var = Var {
        name: "AUDITLAKE_BUCKET",
        default: None,
        range: None,
        meaning: "S3 bucket for raw, quarantine and curated data. Query API: the bucket of the raw layer: `GET /events/{id}` then includes the raw record, which the hot store keeps by reference (`raw_ref`).",
    };

    pub const EVENTS_TABLE: Var = Var {
        name: "AUDITLAKE_EVENTS_TABLE",
        default: None,
        range: None,
        meaning: "DynamoDB table of normalized events and annotations.",
    };

    pub const STATE_TABLE: Var = Var {
        name: "AUDITLAKE_STATE_TABLE",
        default: None,
        range: None,
        meaning: "DynamoDB table of checkpoints and health.",
    };

    pub const LAG_SECS: Var = Var {
        name: "AUDITLAKE_LAG_SECS",
        default: Some("120"),
        range: Some((0, 86_400)),
        meaning: "Newest event time a run asks for is now minus this.",
    };

    pub const OVERLAP_SECS: Var = Var {
        name: "AUDITLAKE_OVERLAP_SECS",
        default: None,
        range: Some((0, 7 * 86_400)),
        meaning: "Each run re-reads this much before its watermark to catch late events (default 1800 for Graph sources; 7200 for m365-activity, whose blobs can be listed after their `contentCreated` has passed).",
    };

    pub const INITIAL_LOOKBACK_DAYS: Var = Var {
        name: "AUDITLAKE_INITIAL_LOOKBACK_DAYS",
        default: Some("7"),
        range: Some((0, 3650)),
        meaning: "How far back the first run reads (capped at the source's history edge).",
    };

    pub const HOT_RETENTION_DAYS: Var = Var {
        name: "AUDITLAKE_HOT_RETENTION_DAYS",
        default: Some("90"),
        range: Some((1, 3650)),
        meaning: "DynamoDB TTL of events, counted from ingestion. Query API: how far back a listing without `start` reaches (the events' hot retention).",
    };

    pub const WRITE_CONCURRENCY: Var = Var {
        name: "AUDITLAKE_WRITE_CONCURRENCY",
        default: Some("16"),
        range: Some((1, 256)),
        meaning: "Concurrent DynamoDB writes per run.",
    };

    pub const PAGE_SIZE: Var = Var {
        name: "AUDITLAKE_PAGE_SIZE",
        default: Some("1000"),
        range: Some((1, 5000)),
        meaning: "Records per Graph page requested (`$top`, capped at each API's maximum); lower it if pages time out.",
    };

    pub const SIGNIN_KINDS: Var = Var {
        name: "AUDITLAKE_SIGNIN_KINDS",
        default: Some("interactiveUser,nonInteractiveUser,servicePrincipal,managedIdentity"),
        range: None,
        meaning: "Sign-in kinds pulled by entra-sign-ins, one stream each. Query API: the sign-in streams `GET /sources` reports.",
    };

    pub const CONTENT_TYPES: Var = Var {
        name: "AUDITLAKE_CONTENT_TYPES",
        default: Some(
            "Audit.AzureActiveDirectory,Audit.Exchange,Audit.SharePoint,Audit.General,DLP.All",
        ),
        range: None,
        meaning: "Management API content types pulled by m365-activity, one stream each (DLP.All needs ActivityFeed.ReadDlp).",
    };

    pub const PUBLISHER_ID: Var = Var {
        name: "AUDITLAKE_PUBLISHER_ID",
        default: None,
        range: None,
        meaning: "`PublisherIdentifier` sent on every Management API call (default: the tenant id, which gives the tenant its own quota).",
    };

    pub const BLOB_CONCURRENCY: Var = Var {
        name: "AUDITLAKE_BLOB_CONCURRENCY",
        default: Some("8"),
        range: Some((1, 64)),
        meaning: "Management API content blobs fetched at once per content type.",
    };

    pub const REQUEST_BUDGET: Var = Var {
        name: "AUDITLAKE_REQUEST_BUDGET",
        default: None,
        range: None,
        meaning: "Requests this puller may send, as N/SECS (default: its share of Microsoft's budget: directory audits 2/10 and sign-ins 3/10 of Graph's 5 per 10 s, message trace 100/300, Intune 10/10).",
    };

    pub const HISTORY_DAYS: Var = Var {
        name: "AUDITLAKE_HISTORY_DAYS",
        default: None,
        range: Some((1, 3650)),
        meaning: "Override of the source's history edge in days (Microsoft's retention; e.g. 7 on Entra ID Free).",
    };

    pub const HTTP_TIMEOUT_SECS: Var = Var {
        name: "AUDITLAKE_HTTP_TIMEOUT_SECS",
        default: Some("60"),
        range: Some((1, 900)),
        meaning: "Timeout of one HTTP request to Microsoft.",
    };

    pub const MAX_RETRIES: Var = Var {
        name: "AUDITLAKE_MAX_RETRIES",
        default: Some("8"),
        range: Some((0, 50)),
        meaning: "Retries of one Microsoft request on 429, 5xx and timeouts.",
    };

    pub const DEADLINE_MARGIN_SECS: Var = Var {
        name: "AUDITLAKE_DEADLINE_MARGIN_SECS",
        default: Some("30"),
        range: Some((0, 900)),
        meaning: "Time kept free before the Lambda deadline; no window starts inside it.",
    };

    pub const API_AUDIENCE: Var = Var {
        name: "AUDITLAKE_API_AUDIENCE",
        default: None,
        range: None,
        meaning: "Audience (`aud`) of the query API's tokens: its app registration's Application ID URI or client id. Required unless auth is disabled.",
    };

    pub const API_ISSUER: Var = Var {
        name: "AUDITLAKE_API_ISSUER",
        default: None,
        range: None,
        meaning: "Token issuer; default `<login URL>/<tenant>/v2.0` for the cloud (or AUDITLAKE_LOGIN_URL).",
    };

    pub const ALLOWED_GROUPS: Var = Var {
        name: "AUDITLAKE_ALLOWED_GROUPS",
        default: None,
        range: None,
        meaning: "Groups granting roles, comma-separated: a group object id (read), or `groupObjectId=role` (role: read, annotate, admin).",
    };

    pub const AUTH_DISABLED: Var = Var {
        name: "AUDITLAKE_AUTH_DISABLED",
        default: Some("false"),
        range: None,
        meaning: "`true` switches token checks off: every caller is an anonymous admin, every response says so. Local use only.",
    };

    pub const CURSOR_KEY_PARAM: Var = Var {
        name: "AUDITLAKE_CURSOR_KEY_PARAM",
        default: None,
        range: None,
        meaning: "SSM SecureString parameter holding the key that signs paging cursors; without it each process makes its own key and cursors do not survive it.",
    };

    pub const API_READ_BUDGET: Var = Var {
        name: "AUDITLAKE_API_READ_BUDGET",
        default: Some("100"),
        range: Some((1, 10_000)),
        meaning: "DynamoDB requests one `GET /events` call may send before it returns what it has with a cursor.",
    };

    pub const ATHENA_WORKGROUP: Var = Var {
        name: "AUDITLAKE_ATHENA_WORKGROUP",
        default: None,
        range: None,
        meaning: "Athena workgroup that runs `POST /analytics/{query}` (with AUDITLAKE_ATHENA_DATABASE); unset: hunting queries answer 503.",
    };

    pub const ATHENA_DATABASE: Var = Var {
        name: "AUDITLAKE_ATHENA_DATABASE",
        default: None,
        range: None,
        meaning: "Glue database of the curated tables and views the hunting queries read.",
    };

    pub const ALERTS_TABLE: Var = Var {
        name: "AUDITLAKE_ALERTS_TABLE",
        default: None,
        range: None,
        meaning: "DynamoDB table of alerts and threshold-window state (the detection function).",
    };

    pub const ALERT_RETENTION_DAYS: Var = Var {
        name: "AUDITLAKE_ALERT_RETENTION_DAYS",
        default: Some("365"),
        range: Some((1, 3650)),
        meaning: "DynamoDB TTL of alerts, counted from when they are raised.",
    };

    pub const ANALYTICS_TIMEOUT_SECS: Var = Var {
        name: "AUDITLAKE_ANALYTICS_TIMEOUT_SECS",
        default: Some("25"),
        range: Some((1, 900)),
        meaning: "Time limit of one hunting query; past it the query is stopped and the answer is a 504. API Gateway gives up after 30 s.",
    };
}

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

/// One problem with one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub var: String,
    pub problem: String,
}

/// All configuration problems found, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "invalid configuration ({} problem(s)):",
            self.problems.len()
        )?;
        for p in &self.problems {
            writeln!(f, "  {}: {}", p.var, p.problem)?;
        }
        Ok(())
    }
}

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

/// Reads typed values out of a variable map while collecting problems.
struct Reader {
    vars: HashMap<String, String>,
    problems: Vec<ConfigProblem>,
}

impl Reader {
    fn new(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let vars = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with(PREFIX))
            .map(|(k, v)| (k, v.trim().to_string()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        Reader {
            vars,
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, var: &Var, problem: impl Into<String>) {
        self.problems.push(ConfigProblem {
            var: var.name.to_string(),
            problem: problem.into(),
        });
    }

    /// A comma-separated list of names, each parsed, duplicates dropped; the declared default
    /// when unset.
    fn list<T>(&mut self, var: &Var) -> Vec<T>
    where
        T: std::str::FromStr<Err = String> + PartialEq + Copy,
    {
        let raw = self
            .optional(var)
            .or(var.default.map(str::to_string))
            .unwrap_or_default();
        let mut out = Vec::new();
        for part in raw.split(',').filter(|p| !p.trim().is_empty()) {
            match part.parse::<T>() {
                Ok(t) if !out.contains(&t) => out.push(t),
                Ok(_) => {}
                Err(e) => self.problem(var, e),
            }
        }
        out
    }

    /// `AUDITLAKE_TENANT_ID`, required and a GUID (Microsoft's APIs compare GUIDs, not domains).
    fn tenant_id(&mut self) -> String {
        let tenant_id = self.required(&vars::TENANT_ID);
        if !tenant_id.is_empty() && !is_guid(&tenant_id) {
            self.problem(&vars::TENANT_ID,
                format!(
                    "`{tenant_id}` is not a tenant GUID (the Management API compares GUIDs, not domains such as contoso.onmicrosoft.com)"
                ),
            );
        }
        tenant_id
    }

    fn optional(&self, var: &Var) -> Option<String> {
        self.vars.get(var.name).cloned()
    }

    fn required(&mut self, var: &Var) -> String {
        match self.vars.get(var.name) {
            Some(v) => v.clone(),
            None => {
                self.problem(var, "is required but not set");
                String::new()
            }
        }
    }

    /// A whole number within the declared range; the declared default when unset (or, after a
    /// problem was recorded, so parsing can go on). A variable without a default is read only
    /// when set.
    fn number(&mut self, var: &Var) -> u64 {
        let (min, max) = var.range.unwrap_or((0, u64::MAX));
        let default = var.default.and_then(|d| d.parse().ok()).unwrap_or(min);
        let Some(raw) = self.vars.get(var.name).cloned() else {
            return default;
        };
        match raw.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => n,
            Ok(n) => {
                self.problem(var, format!("{n} is out of range {min}..={max}"));
                default
            }
            Err(_) => {
                self.problem(var, format!("`{raw}` is not a whole number"));
                default
            }
        }
    }

    /// An endpoint override: https, or plain http to a loopback address only (a local
    /// simulator), since tokens and secrets travel to it.
    fn url(&mut self, var: &Var) -> Option<String> {
        let raw = self.optional(var)?;
        match url::Url::parse(&raw) {
            Ok(u) if u.scheme() == "https" || (u.scheme() == "http" && is_loopback(&u)) => {
                Some(raw.trim_end_matches('/').to_string())
            }
            Ok(u) if u.scheme() == "http" => {
                self.problem(
                    var,
                    format!("`{raw}` is plain http to a host that is not loopback; use https"),
                );
                None
            }
            _ => {
                self.problem(var, format!("`{raw}` is not an https URL"));
                None
            }
        }
    }

    fn finish<T>(self, value: T) -> Result<T, ConfigError> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(ConfigError {
                problems: self.problems,
            })
        }
    }
}

/// True when `s` is a GUID in its usual 8-4-4-4-12 hex form.
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
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

/// Configuration of `auditlake import`: where records go, no Microsoft credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportConfig {
    pub tenant_id: String,
    pub bucket: String,
    pub events_table: String,
    pub hot_retention: TimeDelta,
    pub write_concurrency: usize,
}

impl ImportConfig {
    /// Parses the variables an import needs, reporting every problem together.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut r = Reader::new(vars);
        let tenant_id = r.tenant_id();
        let bucket = r.required(&vars::BUCKET);
        let events_table = r.required(&vars::EVENTS_TABLE);
        let retention = r.number(&vars::HOT_RETENTION_DAYS);
        let concurrency = r.number(&vars::WRITE_CONCURRENCY);
        let config = ImportConfig {
            tenant_id,
            bucket,
            events_table,
            hot_retention: TimeDelta::days(retention as i64),
            write_concurrency: concurrency as usize,
        };
        r.finish(config)
    }
}

/// Configuration of the detection function (the events table's stream).
#[derive(Debug, Clone, PartialEq)]
pub struct DetectConfig {
    /// The raw layer's bucket: rules match the raw record's own fields.
    pub bucket: String,
    pub alerts_table: String,
    pub alert_retention_days: u32,
}

/// Every variable the detection function reads.
pub const DETECT_VARS: &[Var] = &[vars::BUCKET, vars::ALERTS_TABLE, vars::ALERT_RETENTION_DAYS];

impl DetectConfig {
    /// Parses the detection function's configuration, reporting every problem together.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut r = Reader::new(vars);
        let bucket = r.required(&vars::BUCKET);
        let alerts_table = r.required(&vars::ALERTS_TABLE);
        let retention = r.number(&vars::ALERT_RETENTION_DAYS);
        let config = DetectConfig {
            bucket,
            alerts_table,
            alert_retention_days: retention as u32,
        };
        r.finish(config)
    }
}

/// Every variable the query API (and `auditlake serve`) reads.
pub const QUERY_VARS: &[Var] = &[
    vars::TENANT_ID,
    vars::EVENTS_TABLE,
    vars::STATE_TABLE,
    vars::API_AUDIENCE,
    vars::API_ISSUER,
    vars::ALLOWED_GROUPS,
    vars::AUTH_DISABLED,
    vars::CURSOR_KEY_PARAM,
    vars::API_READ_BUDGET,
    vars::CLOUD,
    vars::LOGIN_URL,
    vars::HOT_RETENTION_DAYS,
    vars::SIGNIN_KINDS,
    vars::CONTENT_TYPES,
    vars::BUCKET,
    vars::ATHENA_WORKGROUP,
    vars::ATHENA_DATABASE,
    vars::ANALYTICS_TIMEOUT_SECS,
];

/// Where hunting queries run: an Athena workgroup and the Glue database of the curated layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AthenaTarget {
    pub workgroup: String,
    pub database: String,
}

/// Configuration of the query API (the Lambda and `auditlake serve`).
#[derive(Debug, Clone, PartialEq)]
pub struct QueryConfig {
    pub tenant_id: String,
    pub events_table: String,
    pub state_table: String,
    /// `None` only when auth is disabled.
    pub audience: Option<String>,
    pub issuer: String,
    pub allowed_groups: Vec<(String, crate::access::Role)>,
    pub auth_disabled: bool,
    pub cursor_key_param: Option<String>,
    pub hot_retention: TimeDelta,
    pub read_budget: u32,
    pub signin_kinds: Vec<SignInKind>,
    /// The Management API content types the stack collects (`/sources` lists these only).
    pub content_types: Vec<ContentType>,
    /// The raw layer's bucket, for events kept by reference.
    pub bucket: Option<String>,
    /// `None`: hunting queries are not configured (`POST /analytics/{query}` answers 503).
    pub athena: Option<AthenaTarget>,
    pub analytics_timeout: std::time::Duration,
}

impl QueryConfig {
    /// Parses the query API's configuration, reporting every problem together.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        use crate::access::Role;
        let mut r = Reader::new(vars);
        let tenant_id = r.tenant_id();
        let events_table = r.required(&vars::EVENTS_TABLE);
        let state_table = r.required(&vars::STATE_TABLE);
        let auth_disabled = match r.optional(&vars::AUTH_DISABLED).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                r.problem(
                    &vars::AUTH_DISABLED,
                    format!("`{other}` is neither `true` nor `false`"),
                );
                false
            }
        };
        let audience = r.optional(&vars::API_AUDIENCE);
        if audience.is_none() && !auth_disabled {
            r.problem(
                &vars::API_AUDIENCE,
                "is required (or set AUDITLAKE_AUTH_DISABLED=true to run without auth, locally)",
            );
        }
        let cloud = match r.optional(&vars::CLOUD) {
            None => Cloud::Commercial,
            Some(raw) => raw.parse().unwrap_or_else(|e: String| {
                r.problem(&vars::CLOUD, e);
                Cloud::Commercial
            }),
        };
        let login = r
            .url(&vars::LOGIN_URL)
            .unwrap_or_else(|| cloud.endpoints().login.clone());
        let issuer = r
            .url(&vars::API_ISSUER)
            .unwrap_or_else(|| format!("{login}/{tenant_id}/v2.0"));
        let mut allowed_groups = Vec::new();
        if let Some(raw) = r.optional(&vars::ALLOWED_GROUPS) {
            for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                // A bare group id (what the template's `ApiAllowedGroups` documents) grants read.
                let pair_or_read = if pair.contains('=') {
                    pair.to_string()
                } else {
                    format!("{pair}=read")
                };
                let role = pair_or_read.split_once('=').and_then(|(g, role)| {
                    let role = match role.trim().trim_start_matches("auditlake.") {
                        "read" => Role::Read,
                        "annotate" => Role::Annotate,
                        "admin" => Role::Admin,
                        _ => return None,
                    };
                    Some((g.trim().to_string(), role)).filter(|(g, _)| !g.is_empty())
                });
                match role {
                    Some(gr) => allowed_groups.push(gr),
                    None => r.problem(
                        &vars::ALLOWED_GROUPS,
                        format!(
                            "`{pair}` is not a group object id, nor `groupObjectId=role` with role read, annotate or admin"
                        ),
                    ),
                }
            }
        }
        let cursor_key_param = r.optional(&vars::CURSOR_KEY_PARAM);
        let retention = r.number(&vars::HOT_RETENTION_DAYS);
        let read_budget = r.number(&vars::API_READ_BUDGET);
        let signin_kinds = r.list(&vars::SIGNIN_KINDS);
        let content_types = r.list(&vars::CONTENT_TYPES);
        let athena = match (
            r.optional(&vars::ATHENA_WORKGROUP),
            r.optional(&vars::ATHENA_DATABASE),
        ) {
            (Some(workgroup), Some(database)) => Some(AthenaTarget {
                workgroup,
                database,
            }),
            (None, None) => None,
            (Some(_), None) => {
                r.problem(
                    &vars::ATHENA_DATABASE,
                    "is required when AUDITLAKE_ATHENA_WORKGROUP is set",
                );
                None
            }
            (None, Some(_)) => {
                r.problem(
                    &vars::ATHENA_WORKGROUP,
                    "is required when AUDITLAKE_ATHENA_DATABASE is set",
                );
                None
            }
        };
        let analytics_timeout = r.number(&vars::ANALYTICS_TIMEOUT_SECS);
        let bucket = r.optional(&vars::BUCKET);
        let config = QueryConfig {
            tenant_id,
            events_table,
            state_table,
            audience,
            issuer,
            allowed_groups,
            auth_disabled,
            cursor_key_param,
            hot_retention: TimeDelta::days(retention as i64),
            read_budget: read_budget as u32,
            signin_kinds,
            content_types,
            bucket,
            athena,
            analytics_timeout: std::time::Duration::from_secs(analytics_timeout),
        };
        r.finish(config)
    }
}

/// True for `localhost` and the loopback addresses (127.0.0.0/8, ::1).
fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn minimal() -> Vec<(String, String)> {
        vars(&[
            (
                "AUDITLAKE_TENANT_ID",
                "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35",
            ),
            ("AUDITLAKE_CLIENT_ID", "app"),
            ("AUDITLAKE_CLIENT_SECRET_PARAM", "/auditlake/secret"),
            ("AUDITLAKE_BUCKET", "b"),
            ("AUDITLAKE_EVENTS_TABLE", "e"),
            ("AUDITLAKE_STATE_TABLE", "s"),
        ])
    }

    /// Every declared variable, once.
    fn declared() -> Vec<Var> {
        let mut all: Vec<Var> = PULLER_VARS
            .iter()
            .chain(QUERY_VARS)
            .chain(DETECT_VARS)
            .copied()
            .collect();
        all.sort_by_key(|v| v.name);
        all.dedup();
        all
    }

    #[test]
    fn each_variable_is_declared_once_with_a_default_inside_its_range() {
        let all = declared();
        let mut names: Vec<&str> = all.iter().map(|v| v.name).collect();
        names.dedup();
        assert_eq!(names.len(), all.len(), "a name declared twice differently");
        for v in &all {
            assert!(v.name.starts_with(PREFIX), "{}", v.name);
            assert!(!v.meaning.is_empty(), "{} has no meaning", v.name);
            if let (Some((min, max)), Some(d)) = (v.range, v.default) {
                let d: u64 = d
                    .parse()
                    .unwrap_or_else(|_| panic!("{}: default `{d}`", v.name));
                assert!(
                    (min..=max).contains(&d),
                    "{}: {d} outside {min}..={max}",
                    v.name
                );
            }
        }
    }

    #[test]
    fn a_number_outside_its_declared_range_names_the_range() {
        let mut v = minimal();
        v.push(("AUDITLAKE_BLOB_CONCURRENCY".into(), "65".into()));
        let err = PullerConfig::from_vars(v).unwrap_err();
        assert_eq!(err.problems.len(), 1);
        assert_eq!(err.problems[0].var, vars::BLOB_CONCURRENCY.name);
        assert_eq!(err.problems[0].problem, "65 is out of range 1..=64");
    }

    #[test]
    fn defaults_apply() {
        let c = PullerConfig::from_vars(minimal()).unwrap();
        assert_eq!(c.lag, TimeDelta::seconds(120));
        assert_eq!(c.overlap, None);
        assert_eq!(
            default_overlap(Source::EntraSignIns),
            TimeDelta::seconds(1800)
        );
        assert_eq!(default_overlap(Source::M365Activity), TimeDelta::hours(2));
        assert_eq!(c.content_types, ContentType::ALL.to_vec());
        assert_eq!(c.publisher_id, c.tenant_id);
        assert_eq!(c.blob_concurrency, 8);
        assert_eq!(c.initial_lookback, TimeDelta::days(7));
        assert_eq!(c.cloud, Cloud::Commercial);
        assert_eq!(c.endpoints.graph, "https://graph.microsoft.com");
        assert_eq!(
            c.credential,
            CredentialSource::Secret {
                param: "/auditlake/secret".into()
            }
        );
    }

    #[test]
    fn every_problem_is_reported_together() {
        let err = PullerConfig::from_vars(vars(&[
            ("AUDITLAKE_TENANT_ID", "contoso.com"),
            ("AUDITLAKE_LAG_SECS", "soon"),
            ("AUDITLAKE_CLOUD", "mars"),
            ("AUDITLAKE_GRAPH_URL", "ftp://x"),
            ("UNRELATED", "x"),
        ]))
        .unwrap_err();
        let names: Vec<&str> = err.problems.iter().map(|p| p.var.as_str()).collect();
        for want in [
            "AUDITLAKE_TENANT_ID",
            "AUDITLAKE_CLIENT_ID",
            "AUDITLAKE_CLIENT_SECRET_PARAM",
            "AUDITLAKE_CLOUD",
            "AUDITLAKE_GRAPH_URL",
            "AUDITLAKE_BUCKET",
            "AUDITLAKE_EVENTS_TABLE",
            "AUDITLAKE_STATE_TABLE",
            "AUDITLAKE_LAG_SECS",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        let text = err.to_string();
        assert!(text.contains("`soon` is not a whole number"), "{text}");
    }

    #[test]
    fn overrides_replace_cloud_hosts_but_not_scopes() {
        let mut v = minimal();
        v.push(("AUDITLAKE_CLOUD".into(), "gcc-high".into()));
        v.push(("AUDITLAKE_GRAPH_URL".into(), "http://127.0.0.1:9/".into()));
        let c = PullerConfig::from_vars(v).unwrap();
        assert_eq!(c.endpoints.graph, "http://127.0.0.1:9");
        assert_eq!(c.endpoints.login, "https://login.microsoftonline.us");
        assert_eq!(
            c.endpoints.graph_scope,
            "https://graph.microsoft.us/.default"
        );
    }

    #[test]
    fn endpoint_overrides_are_https_or_loopback_http() {
        // Tokens and the client secret go to these hosts: plain http is for a local simulator.
        for ok in [
            "https://graph.example",
            "http://localhost:8080",
            "http://[::1]:9",
            "http://127.0.0.2:9",
        ] {
            let mut v = minimal();
            v.push(("AUDITLAKE_GRAPH_URL".into(), ok.into()));
            assert!(PullerConfig::from_vars(v).is_ok(), "{ok}");
        }
        for bad in [
            "http://graph.example",
            "http://10.0.0.5:8080",
            "ftp://127.0.0.1/",
            "graph",
        ] {
            let mut v = minimal();
            v.push(("AUDITLAKE_MANAGEMENT_URL".into(), bad.into()));
            let err = PullerConfig::from_vars(v).unwrap_err().to_string();
            assert!(err.contains("AUDITLAKE_MANAGEMENT_URL"), "{bad}: {err}");
        }
    }

    #[test]
    fn every_var_is_documented_once() {
        let mut names: Vec<&str> = PULLER_VARS.iter().map(|v| v.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), PULLER_VARS.len());
        assert!(names.iter().all(|n| n.starts_with(PREFIX)));
    }

    #[test]
    fn sign_in_kinds_and_history() {
        let c = PullerConfig::from_vars(minimal()).unwrap();
        assert_eq!(c.signin_kinds, SignInKind::ALL.to_vec());
        assert_eq!(c.history, None);
        let mut v = minimal();
        v.push((
            "AUDITLAKE_SIGNIN_KINDS".into(),
            "interactiveUser, servicePrincipal".into(),
        ));
        v.push(("AUDITLAKE_HISTORY_DAYS".into(), "7".into()));
        let c = PullerConfig::from_vars(v).unwrap();
        assert_eq!(
            c.signin_kinds,
            vec![SignInKind::InteractiveUser, SignInKind::ServicePrincipal]
        );
        assert_eq!(c.history, Some(TimeDelta::days(7)));
        let mut v = minimal();
        v.push((
            "AUDITLAKE_SIGNIN_KINDS".into(),
            "interactiveUser,robots".into(),
        ));
        let err = PullerConfig::from_vars(v).unwrap_err();
        assert_eq!(err.problems[0].var, "AUDITLAKE_SIGNIN_KINDS");
    }

    #[test]
    fn query_config_reports_every_problem_and_parses_groups() {
        let err = QueryConfig::from_vars(vars(&[
            ("AUDITLAKE_AUTH_DISABLED", "yes"),
            ("AUDITLAKE_ALLOWED_GROUPS", "g1=read,g2=root"),
            ("AUDITLAKE_API_READ_BUDGET", "0"),
            ("AUDITLAKE_ATHENA_WORKGROUP", "wg"),
            ("AUDITLAKE_ANALYTICS_TIMEOUT_SECS", "0"),
        ]))
        .unwrap_err();
        let names: Vec<&str> = err.problems.iter().map(|p| p.var.as_str()).collect();
        for want in [
            "AUDITLAKE_TENANT_ID",
            "AUDITLAKE_EVENTS_TABLE",
            "AUDITLAKE_STATE_TABLE",
            "AUDITLAKE_AUTH_DISABLED",
            "AUDITLAKE_API_AUDIENCE",
            "AUDITLAKE_ALLOWED_GROUPS",
            "AUDITLAKE_API_READ_BUDGET",
            "AUDITLAKE_ATHENA_DATABASE",
            "AUDITLAKE_ANALYTICS_TIMEOUT_SECS",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        let c = QueryConfig::from_vars(vars(&[
            (
                "AUDITLAKE_TENANT_ID",
                "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35",
            ),
            ("AUDITLAKE_EVENTS_TABLE", "e"),
            ("AUDITLAKE_STATE_TABLE", "s"),
            ("AUDITLAKE_API_AUDIENCE", "api://auditlake"),
            ("AUDITLAKE_LOGIN_URL", "http://127.0.0.1:9/"),
            (
                "AUDITLAKE_ALLOWED_GROUPS",
                "g1=read, g2=auditlake.admin, 5f1c0b7e-0000-4000-8000-00000000000a",
            ),
        ]))
        .unwrap();
        use crate::access::Role;
        // A bare group object id, as the template's ApiAllowedGroups documents it, grants read.
        assert_eq!(
            c.allowed_groups,
            vec![
                ("g1".into(), Role::Read),
                ("g2".into(), Role::Admin),
                ("5f1c0b7e-0000-4000-8000-00000000000a".into(), Role::Read)
            ]
        );
        assert_eq!(
            c.issuer,
            "http://127.0.0.1:9/8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35/v2.0"
        );
        assert!(!c.auth_disabled);
        assert_eq!(c.read_budget, 100);
        assert_eq!(c.athena, None, "hunting queries are off unless configured");
        assert_eq!(c.analytics_timeout, std::time::Duration::from_secs(25));
        let names: Vec<&str> = QUERY_VARS.iter().map(|v| v.name).collect();
        let mut dedup = names.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), names.len());
    }

    #[test]
    fn guid_check() {
        assert!(is_guid("8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35"));
        assert!(!is_guid("8f3c5a2e6b1d4c9ea7f02d4b6e8a1c35"));
        assert!(!is_guid("contoso.onmicrosoft.com"));
    }
}
