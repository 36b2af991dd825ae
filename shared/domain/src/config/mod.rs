//! Typed configuration, parsed once from `AUDITLAKE_*` variables handed in by the caller (the
//! core never reads the environment itself). Every missing or malformed variable is reported in
//! one error, so an operator fixes a deployment in one pass.

mod ask;
mod backfill;
mod deliver;
mod detect;
mod import;
mod puller;
mod query;
#[cfg(test)]
mod tests;
pub mod vars;

pub use ask::{ASK_VARS, AskConfig, AzureDeployment};
pub use backfill::{BACKFILL_VARS, BackfillConfig, BackfillSettings};
pub use deliver::{
    FORWARD_VARS, ForwardConfig, ForwardFormat, NOTIFY_VARS, NotifyConfig, Outbound, Webhook,
};
pub use detect::{DETECT_VARS, DetectConfig};
pub use import::ImportConfig;
pub use puller::{CredentialSource, PULLER_VARS, PullerConfig, default_overlap};
pub use query::{AthenaTarget, ConsoleConfig, QUERY_VARS, QueryConfig};

use std::collections::HashMap;
use std::fmt;

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
        T: std::str::FromStr + PartialEq + Copy,
        T::Err: fmt::Display,
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
                Err(e) => self.problem(var, e.to_string()),
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

/// True for `localhost` and the loopback addresses (127.0.0.0/8, ::1).
fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
