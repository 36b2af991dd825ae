//! What happens to an alert after it is raised, and the tenant's own rules: the alert as stored
//! ([`StoredAlert`]: the raised [`Alert`] with its status, assignee and when it was raised), the
//! listing filter ([`AlertFilter`]), a change an analyst makes ([`AlertChange`]), and the two
//! ports the query API reaches them through: [`AlertReader`] (list, one alert with its comments,
//! status and assignee changes, comments) and [`RuleStore`] (the tenant's rules, as Sigma text).
//!
//! Listing is newest first by `ts = <created_at>#<alert id>`, the sort key of the alerts table's
//! listing index, so a cursor is one sort key and paging never skips or repeats an alert.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::{Alert, Severity};
use crate::model::fmt_time;
use crate::read::Comment;
use crate::store::StoreError;

/// Where an alert is in triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Closed,
}

impl AlertStatus {
    pub const ALL: [AlertStatus; 3] = [
        AlertStatus::Open,
        AlertStatus::Acknowledged,
        AlertStatus::Closed,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Closed => "closed",
        }
    }
}

impl std::str::FromStr for AlertStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AlertStatus::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| format!("`{s}` is not a status (open, acknowledged, closed)"))
    }
}

/// An alert as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAlert {
    #[serde(flatten)]
    pub alert: Alert,
    pub status: AlertStatus,
    /// Whom it is assigned to (free text: a UPN or a name), `None` when nobody.
    pub assignee: Option<String>,
    /// When the detection path stored it.
    #[serde(with = "crate::model::time_format")]
    pub created_at: DateTime<Utc>,
    /// The last status or assignee change, and who made it (the token's subject).
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub updated_by: Option<String>,
}

impl StoredAlert {
    /// A newly raised alert: open, unassigned.
    pub fn raised(alert: Alert, created_at: DateTime<Utc>) -> Self {
        StoredAlert {
            alert,
            status: AlertStatus::Open,
            assignee: None,
            created_at,
            updated_at: None,
            updated_by: None,
        }
    }

    /// The listing sort key: `<created_at>#<id>`.
    pub fn ts(&self) -> String {
        alert_ts(self.created_at, &self.alert.id)
    }
}

/// The listing sort key of an alert raised at `created_at`.
pub fn alert_ts(created_at: DateTime<Utc>, id: &str) -> String {
    format!("{}#{id}", fmt_time(created_at))
}

/// What `GET /alerts` asks for. Times are when the alert was raised (`created_at`): `start`
/// inclusive, `end` exclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertFilter {
    pub rule: Option<String>,
    pub severity: Option<Severity>,
    pub status: Option<AlertStatus>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl AlertFilter {
    pub fn matches(&self, a: &StoredAlert) -> bool {
        self.rule.as_ref().is_none_or(|r| *r == a.alert.rule_id)
            && self.severity.is_none_or(|s| s == a.alert.severity)
            && self.status.is_none_or(|s| s == a.status)
            && a.created_at >= self.start
            && a.created_at < self.end
    }

    /// A stable text of the filter, for a cursor's digest.
    pub fn canonical(&self) -> String {
        format!(
            "rule={}&severity={}&status={}&start={}&end={}",
            self.rule.as_deref().unwrap_or(""),
            self.severity.map_or("", Severity::name),
            self.status.map_or("", AlertStatus::name),
            fmt_time(self.start),
            fmt_time(self.end)
        )
    }
}

/// One read of the listing.
#[derive(Debug, Clone, Default)]
pub struct AlertPage {
    /// Matching alerts, newest first.
    pub alerts: Vec<StoredAlert>,
    /// Set when more may follow: every alert with `ts >= resume` was examined.
    pub resume: Option<String>,
    /// Requests sent to the database.
    pub requests: u32,
    /// Items read, matching or not.
    pub examined: u64,
}

/// A triage change; `None` leaves a field as it is, `assignee: Some(None)` unassigns.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertChange {
    pub status: Option<AlertStatus>,
    pub assignee: Option<Option<String>>,
    /// The token's subject.
    pub by: String,
    pub at: DateTime<Utc>,
}

/// The query API's access to alerts.
#[async_trait]
pub trait AlertReader: Send + Sync {
    /// Up to `limit` alerts matching `filter` with `ts` strictly below `before` (from the top
    /// when `None`) and raised at or before `pin`, newest first, in at most `budget` requests.
    async fn list(
        &self,
        filter: &AlertFilter,
        before: Option<&str>,
        pin: DateTime<Utc>,
        limit: usize,
        budget: u32,
    ) -> Result<AlertPage, StoreError>;
    /// One alert and its comments (oldest first).
    async fn get(&self, id: &str) -> Result<Option<(StoredAlert, Vec<Comment>)>, StoreError>;
    /// Applies `change`; the alert after it, `None` when there is no such alert.
    async fn update(
        &self,
        id: &str,
        change: &AlertChange,
    ) -> Result<Option<StoredAlert>, StoreError>;
    /// Adds a comment; false when there is no such alert.
    async fn add_comment(&self, id: &str, comment: &Comment) -> Result<bool, StoreError>;
}

/// One of the tenant's own rules: Sigma YAML, checked by the `detect` crate before it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantRule {
    /// The rule's own `id` (a threshold file: the correlation's).
    pub id: String,
    pub yaml: String,
    pub updated_at: String,
    /// The token's subject.
    pub updated_by: String,
}

/// Where the tenant's rules are kept (the alerts table's `rules` partition).
#[async_trait]
pub trait RuleStore: Send + Sync {
    /// Every rule, by id.
    async fn list_rules(&self) -> Result<Vec<TenantRule>, StoreError>;
    /// Stores `rule`; with `create`, only when no rule has its id (false when one has), else
    /// only when one has (false when none has).
    async fn put_rule(&self, rule: &TenantRule, create: bool) -> Result<bool, StoreError>;
    /// Deletes a rule; false when there was none.
    async fn delete_rule(&self, id: &str) -> Result<bool, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertSummary;

    fn stored(rule: &str, sev: Severity, at: &str) -> StoredAlert {
        let t = crate::model::parse_time(at).unwrap();
        StoredAlert::raised(
            Alert {
                id: crate::alert::alert_id(rule, &[at]),
                rule_id: rule.into(),
                title: "t".into(),
                severity: sev,
                techniques: vec![],
                event_id: "e".into(),
                record_id: None,
                event_ids: vec!["e".into()],
                group: None,
                summary: AlertSummary {
                    actor: None,
                    operation: "op".into(),
                    targets: vec![],
                    source: "entra-sign-ins".into(),
                    time: t,
                },
                fields: Default::default(),
            },
            t,
        )
    }

    #[test]
    fn the_filter_checks_every_field_and_its_bounds() {
        let a = stored("r1", Severity::High, "2026-05-01T10:00:00Z");
        let t = |s| crate::model::parse_time(s).unwrap();
        let mut f = AlertFilter {
            rule: None,
            severity: None,
            status: None,
            start: t("2026-05-01T10:00:00Z"),
            end: t("2026-05-01T10:00:01Z"),
        };
        assert!(f.matches(&a), "start is inclusive");
        f.end = t("2026-05-01T10:00:00Z");
        assert!(!f.matches(&a), "end is exclusive");
        f.end = t("2026-06-01T00:00:00Z");
        f.rule = Some("r2".into());
        assert!(!f.matches(&a));
        f.rule = Some("r1".into());
        f.severity = Some(Severity::Low);
        assert!(!f.matches(&a));
        f.severity = Some(Severity::High);
        f.status = Some(AlertStatus::Closed);
        assert!(!f.matches(&a));
        f.status = Some(AlertStatus::Open);
        assert!(f.matches(&a));
        assert_ne!(
            f.canonical(),
            AlertFilter {
                status: None,
                ..f.clone()
            }
            .canonical()
        );
    }

    #[test]
    fn statuses_round_trip_and_the_sort_key_orders_by_time() {
        for s in AlertStatus::ALL {
            assert_eq!(s.name().parse::<AlertStatus>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.name());
        }
        assert!("done".parse::<AlertStatus>().is_err());
        let early = stored("r", Severity::Low, "2026-05-01T09:59:59Z");
        let late = stored("r", Severity::Low, "2026-05-01T10:00:00Z");
        assert!(early.ts() < late.ts());
        let json = serde_json::to_value(&late).unwrap();
        assert_eq!(json["status"], "open");
        assert_eq!(json["rule_id"], "r");
        let back: StoredAlert = serde_json::from_value(json).unwrap();
        assert_eq!(back, late);
    }
}
