//! The query API's configuration (the Lambda and `auditlake serve`).

use chrono::TimeDelta;

use super::{ConfigError, Reader, Var, vars};
use crate::cloud::Cloud;
use crate::stream::{ContentType, SignInKind};

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
    vars::ALERTS_TABLE,
    vars::ALERT_RETENTION_DAYS,
    vars::CONSOLE_CLIENT_ID,
    vars::CONSOLE_AUTHORITY,
    vars::CONSOLE_SCOPES,
];

/// The web console's sign-in settings, served to it as `/console-config.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleConfig {
    /// `None`: sign-in is not configured (the console says so).
    pub client_id: Option<String>,
    /// `<login>/<tenant>/v2.0`.
    pub authority: String,
    /// `<login>/<tenant>/oauth2/v2.0/authorize` and `.../token`, from the authority.
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub scopes: Vec<String>,
}

impl ConsoleConfig {
    /// The origin (`scheme://host[:port]`) of the authority: what the console's scripts may
    /// connect to besides the API.
    pub fn authority_origin(&self) -> Option<String> {
        url::Url::parse(&self.authority)
            .ok()
            .map(|u| u.origin().ascii_serialization())
            .filter(|o| o != "null")
    }
}

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
    /// The alerts table (alerts, the tenant's rules); `None`: `/alerts` and the tenant's rules
    /// answer 503.
    pub alerts_table: Option<String>,
    pub alert_retention_days: u32,
    pub console: ConsoleConfig,
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
        let alerts_table = r.optional(&vars::ALERTS_TABLE);
        let alert_retention_days = r.number(&vars::ALERT_RETENTION_DAYS) as u32;
        let authority = r
            .url(&vars::CONSOLE_AUTHORITY)
            .unwrap_or_else(|| format!("{login}/{tenant_id}/v2.0"));
        let base = authority
            .strip_suffix("/v2.0")
            .unwrap_or(&authority)
            .to_string();
        let scopes: Vec<String> = match r.optional(&vars::CONSOLE_SCOPES) {
            Some(raw) => raw
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            None => audience
                .iter()
                .map(|a| format!("{a}/access_as_user"))
                .collect(),
        };
        let console = ConsoleConfig {
            client_id: r.optional(&vars::CONSOLE_CLIENT_ID),
            authorization_endpoint: format!("{base}/oauth2/v2.0/authorize"),
            token_endpoint: format!("{base}/oauth2/v2.0/token"),
            authority,
            scopes,
        };
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
            alerts_table,
            alert_retention_days,
            console,
        };
        r.finish(config)
    }
}
