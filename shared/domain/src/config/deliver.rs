//! The delivery functions' configuration: the notifier (new alerts to the topic and webhooks)
//! and the forwarder (new events to a SIEM collector). Destinations are checked against the
//! allow-list here, at start, so a misconfigured URL is a configuration error with its variable
//! named, not a failure at the first alert. The two local-only switches (loopback destinations,
//! an extra CA) are refused when the process runs inside Lambda (`AWS_LAMBDA_RUNTIME_API` set), so
//! no parameter of the stack can turn them on.

use std::str::FromStr;

use super::{ConfigError, Reader, Var, vars};
use crate::alert::Severity;
use crate::destination::Allowlist;
use crate::model::Source;

/// A webhook: its name (health, delivery ids) and its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub name: String,
    pub url: String,
}

/// How outbound connections are made (shared by the notifier and the forwarder).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outbound {
    pub allowlist: Allowlist,
    /// Local stacks only: a listed destination may resolve to loopback.
    pub allow_loopback: bool,
    /// Local stacks only: a PEM CA trusted besides the system's.
    pub ca_file: Option<String>,
}

/// Configuration of the notifier (the alerts table's stream).
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyConfig {
    pub alerts_table: String,
    pub alert_retention_days: u32,
    pub topic_arn: Option<String>,
    pub webhooks: Vec<Webhook>,
    pub webhook_secret_param: Option<String>,
    pub min_severity: Severity,
    pub outbound: Outbound,
}

/// Every variable the notifier reads.
pub const NOTIFY_VARS: &[Var] = &[
    vars::ALERTS_TABLE,
    vars::ALERT_RETENTION_DAYS,
    vars::ALERT_TOPIC_ARN,
    vars::WEBHOOKS,
    vars::WEBHOOK_SECRET_PARAM,
    vars::NOTIFY_MIN_SEVERITY,
    vars::DESTINATION_ALLOWLIST,
    vars::DESTINATIONS_ALLOW_LOOPBACK,
    vars::DESTINATIONS_CA_FILE,
];

/// The forwarder's body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardFormat {
    /// One AuditEvent JSON per line, signed like a webhook.
    Ndjson,
    /// Splunk HTTP Event Collector: `{"time", "source", "sourcetype", "event"}` objects.
    SplunkHec,
}

impl FromStr for ForwardFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ndjson" => Ok(ForwardFormat::Ndjson),
            "splunk-hec" | "hec" => Ok(ForwardFormat::SplunkHec),
            _ => Err(format!("`{s}` is not a format (ndjson, splunk-hec)")),
        }
    }
}

/// Configuration of the forwarder (the events table's stream).
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardConfig {
    /// The raw layer: forwarded events carry their raw record.
    pub bucket: String,
    /// Delivery health is kept in the alerts table.
    pub alerts_table: String,
    pub url: String,
    pub format: ForwardFormat,
    pub secret_param: String,
    /// Empty: every source.
    pub sources: Vec<Source>,
    /// Lower-cased; empty: every operation.
    pub operations: Vec<String>,
    pub batch: usize,
    pub outbound: Outbound,
}

/// Every variable the forwarder reads.
pub const FORWARD_VARS: &[Var] = &[
    vars::BUCKET,
    vars::ALERTS_TABLE,
    vars::FORWARD_URL,
    vars::FORWARD_FORMAT,
    vars::FORWARD_SECRET_PARAM,
    vars::FORWARD_SOURCES,
    vars::FORWARD_OPERATIONS,
    vars::FORWARD_BATCH,
    vars::DESTINATION_ALLOWLIST,
    vars::DESTINATIONS_ALLOW_LOOPBACK,
    vars::DESTINATIONS_CA_FILE,
];

/// Whether the variables say the process runs inside Lambda.
pub(super) fn in_lambda(all: &[(String, String)]) -> bool {
    all.iter().any(|(k, _)| k == "AWS_LAMBDA_RUNTIME_API")
}

fn outbound(r: &mut Reader, lambda: bool) -> Outbound {
    outbound_from(r, lambda, &vars::DESTINATION_ALLOWLIST)
}

/// The outbound settings with the allow-list read from `allowlist_var` (questions have their
/// own list: the model's host is not a webhook's).
pub(super) fn outbound_from(r: &mut Reader, lambda: bool, allowlist_var: &Var) -> Outbound {
    let allowlist = match r.optional(allowlist_var) {
        Some(text) => Allowlist::parse(&text).unwrap_or_else(|e| {
            r.problem(allowlist_var, e);
            Allowlist::default()
        }),
        None => Allowlist::default(),
    };
    let allow_loopback = match r.optional(&vars::DESTINATIONS_ALLOW_LOOPBACK).as_deref() {
        None | Some("0") => false,
        Some("1") => true,
        Some(other) => {
            r.problem(
                &vars::DESTINATIONS_ALLOW_LOOPBACK,
                format!("`{other}` is not 0 or 1"),
            );
            false
        }
    };
    let ca_file = r.optional(&vars::DESTINATIONS_CA_FILE);
    if lambda {
        for (set, var) in [
            (allow_loopback, &vars::DESTINATIONS_ALLOW_LOOPBACK),
            (ca_file.is_some(), &vars::DESTINATIONS_CA_FILE),
        ] {
            if set {
                r.problem(var, "is for local stacks only and is refused inside Lambda");
            }
        }
    }
    Outbound {
        allowlist,
        allow_loopback: allow_loopback && !lambda,
        ca_file: if lambda { None } else { ca_file },
    }
}

/// Checks `url` against the allow-list, naming `var` in the problem.
fn destination(r: &mut Reader, var: &Var, url: &str, outbound: &Outbound) -> bool {
    match outbound.allowlist.check(url) {
        Ok(_) => true,
        Err(e) => {
            r.problem(var, e.to_string());
            false
        }
    }
}

impl NotifyConfig {
    /// Parses the notifier's configuration, reporting every problem together.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let all: Vec<(String, String)> = vars.into_iter().collect();
        let lambda = in_lambda(&all);
        let mut r = Reader::new(all);
        let alerts_table = r.required(&vars::ALERTS_TABLE);
        let retention = r.number(&vars::ALERT_RETENTION_DAYS) as u32;
        let topic_arn = r.optional(&vars::ALERT_TOPIC_ARN);
        let outbound = outbound(&mut r, lambda);
        let mut webhooks = Vec::new();
        for part in r
            .optional(&vars::WEBHOOKS)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let Some((name, url)) = part.split_once('=') else {
                r.problem(
                    &vars::WEBHOOKS,
                    format!("`{part}` is not `name=https://host/path`"),
                );
                continue;
            };
            let name = name.trim();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                r.problem(
                    &vars::WEBHOOKS,
                    format!("`{name}`: a webhook name is letters, digits, `-` and `_`"),
                );
                continue;
            }
            if webhooks.iter().any(|w: &Webhook| w.name == name) {
                r.problem(&vars::WEBHOOKS, format!("`{name}` is named twice"));
                continue;
            }
            if destination(&mut r, &vars::WEBHOOKS, url.trim(), &outbound) {
                webhooks.push(Webhook {
                    name: name.to_owned(),
                    url: url.trim().to_owned(),
                });
            }
        }
        let webhook_secret_param = r.optional(&vars::WEBHOOK_SECRET_PARAM);
        if !webhooks.is_empty() && webhook_secret_param.is_none() {
            r.problem(
                &vars::WEBHOOK_SECRET_PARAM,
                "is required when AUDITLAKE_WEBHOOKS names a webhook (every request is signed)",
            );
        }
        let min_severity = r
            .optional(&vars::NOTIFY_MIN_SEVERITY)
            .or(vars::NOTIFY_MIN_SEVERITY.default.map(str::to_owned))
            .unwrap_or_default()
            .parse::<Severity>()
            .unwrap_or_else(|e| {
                r.problem(&vars::NOTIFY_MIN_SEVERITY, e);
                Severity::Low
            });
        let config = NotifyConfig {
            alerts_table,
            alert_retention_days: retention,
            topic_arn,
            webhooks,
            webhook_secret_param,
            min_severity,
            outbound,
        };
        r.finish(config)
    }
}

impl ForwardConfig {
    /// Parses the forwarder's configuration, reporting every problem together.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let all: Vec<(String, String)> = vars.into_iter().collect();
        let lambda = in_lambda(&all);
        let mut r = Reader::new(all);
        let bucket = r.required(&vars::BUCKET);
        let alerts_table = r.required(&vars::ALERTS_TABLE);
        let outbound = outbound(&mut r, lambda);
        let url = r.required(&vars::FORWARD_URL);
        if !url.is_empty() {
            destination(&mut r, &vars::FORWARD_URL, &url, &outbound);
        }
        let format = r
            .optional(&vars::FORWARD_FORMAT)
            .unwrap_or_else(|| "ndjson".into())
            .parse::<ForwardFormat>()
            .unwrap_or_else(|e| {
                r.problem(&vars::FORWARD_FORMAT, e);
                ForwardFormat::Ndjson
            });
        let secret_param = r.required(&vars::FORWARD_SECRET_PARAM);
        let sources = r.list::<Source>(&vars::FORWARD_SOURCES);
        let operations = r
            .optional(&vars::FORWARD_OPERATIONS)
            .unwrap_or_default()
            .split(',')
            .map(|o| o.trim().to_ascii_lowercase())
            .filter(|o| !o.is_empty())
            .collect();
        let batch = r.number(&vars::FORWARD_BATCH) as usize;
        let config = ForwardConfig {
            bucket,
            alerts_table,
            url,
            format,
            secret_param,
            sources,
            operations,
            batch,
            outbound,
        };
        r.finish(config)
    }

    /// Whether an event of `source` with `operation` is forwarded.
    pub fn wants(&self, source: Source, operation: &str) -> bool {
        (self.sources.is_empty() || self.sources.contains(&source))
            && (self.operations.is_empty()
                || self
                    .operations
                    .iter()
                    .any(|o| o.eq_ignore_ascii_case(operation)))
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

    const BASE: &[(&str, &str)] = &[
        ("AUDITLAKE_ALERTS_TABLE", "alerts"),
        (
            "AUDITLAKE_DESTINATION_ALLOWLIST",
            "hooks.example.com,*.siem.example.org",
        ),
    ];

    #[test]
    fn webhooks_are_parsed_and_checked_against_the_allow_list() {
        let mut v = vars(BASE);
        v.extend(vars(&[
            (
                "AUDITLAKE_WEBHOOKS",
                "soc=https://hooks.example.com/a, chat=https://eu.siem.example.org/b",
            ),
            ("AUDITLAKE_WEBHOOK_SECRET_PARAM", "/auditlake/webhook"),
        ]));
        let c = NotifyConfig::from_vars(v).unwrap();
        assert_eq!(c.webhooks.len(), 2);
        assert_eq!(c.webhooks[0].name, "soc");
        assert_eq!(c.min_severity, Severity::Low);
        assert!(!c.outbound.allow_loopback);
    }

    #[test]
    fn every_problem_is_reported_together() {
        let mut v = vars(BASE);
        v.extend(vars(&[
            (
                "AUDITLAKE_WEBHOOKS",
                "soc=https://evil.example/x,bad name=https://hooks.example.com/,plain,ok=https://hooks.example.com/a",
            ),
            ("AUDITLAKE_NOTIFY_MIN_SEVERITY", "urgent"),
        ]));
        let e = NotifyConfig::from_vars(v).unwrap_err().to_string();
        for want in [
            "not on the allow-list",
            "a webhook name is letters",
            "`plain` is not",
            "`urgent` is not a severity",
            "AUDITLAKE_WEBHOOK_SECRET_PARAM",
        ] {
            assert!(e.contains(want), "{want} missing from: {e}");
        }
    }

    #[test]
    fn the_local_switches_are_refused_inside_lambda() {
        let mut v = vars(BASE);
        v.extend(vars(&[
            ("AUDITLAKE_DESTINATIONS_ALLOW_LOOPBACK", "1"),
            ("AUDITLAKE_DESTINATIONS_CA_FILE", "/tmp/ca.pem"),
        ]));
        let local = NotifyConfig::from_vars(v.clone()).unwrap();
        assert!(local.outbound.allow_loopback);
        assert_eq!(local.outbound.ca_file.as_deref(), Some("/tmp/ca.pem"));
        v.push(("AWS_LAMBDA_RUNTIME_API".into(), "127.0.0.1:9001".into()));
        let e = NotifyConfig::from_vars(v).unwrap_err().to_string();
        assert!(e.contains("AUDITLAKE_DESTINATIONS_ALLOW_LOOPBACK"), "{e}");
        assert!(e.contains("AUDITLAKE_DESTINATIONS_CA_FILE"), "{e}");
    }

    #[test]
    fn the_forwarder_filters_by_source_and_operation() {
        let mut v = vars(BASE);
        v.extend(vars(&[
            ("AUDITLAKE_BUCKET", "lake"),
            (
                "AUDITLAKE_FORWARD_URL",
                "https://hec.siem.example.org/services/collector",
            ),
            ("AUDITLAKE_FORWARD_FORMAT", "splunk-hec"),
            ("AUDITLAKE_FORWARD_SECRET_PARAM", "/auditlake/hec"),
            ("AUDITLAKE_FORWARD_SOURCES", "entra-sign-ins,m365-activity"),
            (
                "AUDITLAKE_FORWARD_OPERATIONS",
                "New-InboxRule, UserLoggedIn",
            ),
        ]));
        let c = ForwardConfig::from_vars(v).unwrap();
        assert_eq!(c.format, ForwardFormat::SplunkHec);
        assert_eq!(c.batch, 500);
        assert!(c.wants(Source::M365Activity, "new-inboxrule"));
        assert!(!c.wants(Source::M365Activity, "Set-Mailbox"));
        assert!(!c.wants(Source::IntuneAudit, "UserLoggedIn"));
        let bad = ForwardConfig::from_vars(vars(&[
            ("AUDITLAKE_ALERTS_TABLE", "alerts"),
            ("AUDITLAKE_FORWARD_URL", "http://hec.example.org/"),
            ("AUDITLAKE_FORWARD_FORMAT", "syslog"),
        ]))
        .unwrap_err()
        .to_string();
        for want in [
            "AUDITLAKE_BUCKET",
            "only https",
            "`syslog` is not a format",
            "AUDITLAKE_FORWARD_SECRET_PARAM",
        ] {
            assert!(bad.contains(want), "{want} missing from: {bad}");
        }
    }
}
