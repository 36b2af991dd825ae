//! What a detection rule raises: [`Alert`], with the contract's fields (DESIGN "Alert JSON") and
//! what an analyst needs to start (the triggering events, the actor, the operation, the rule's
//! `fields:` values). The id is a function of the rule and the event (or, for a threshold, the
//! rule, the group and the event that crossed it), so evaluating the same event twice, after a
//! retry or a re-read, gives the same alert and storing it is idempotent.
//!
//! Also the ports the detection path stores through: [`AlertStore`] (an alert once, by id) and
//! [`WindowStore`] (the members of a threshold's window). The rules themselves are the `detect`
//! crate's; the types here are shared by it, the stores, the API and the notifiers.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::StoreError;

/// Sigma's levels, which are the contract's severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Informational,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("`{s}` is not a severity (informational, low, medium, high, critical)")
            })
    }
}

/// The event an alert is about, in a few fields (the contract's `summary`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertSummary {
    /// The actor's UPN, else its name, else its id or app id (as the event's actor index).
    pub actor: Option<String>,
    pub operation: String,
    /// Target display names (or ids), at most ten.
    pub targets: Vec<String>,
    pub source: String,
    #[serde(with = "crate::model::time_format")]
    pub time: DateTime<Utc>,
}

/// One alert as raised by a rule, before triage (status and assignee are the store's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub techniques: Vec<String>,
    /// The event that raised it (a threshold: the event that crossed the threshold).
    pub event_id: String,
    /// Microsoft's id of that event's record.
    pub record_id: Option<String>,
    /// Every event behind the alert: the one event of a detection, the window's events of a
    /// threshold (at most [`MAX_EVENT_IDS`], oldest first).
    pub event_ids: Vec<String>,
    /// For a threshold, the group it counted, a JSON object of the group-by fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub summary: AlertSummary,
    /// The values of the rule's `fields:` in the triggering event, as text (absent fields are
    /// left out).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Alert {
    /// The line `auditlake detect` prints (DESIGN "auditlake detect"): `rule_id`, `title`,
    /// `severity`, `techniques`, `event_id`, `record_id`, `time`, `actor`, and for a threshold
    /// `event_ids`; plus `id`, so a reader can match it with the stored alert.
    pub fn detect_line(&self) -> serde_json::Value {
        let mut line = serde_json::json!({
            "id": self.id,
            "rule_id": self.rule_id,
            "title": self.title,
            "severity": self.severity,
            "techniques": self.techniques,
            "event_id": self.event_id,
            "record_id": self.record_id,
            "time": crate::model::fmt_time(self.summary.time),
            "actor": self.summary.actor,
        });
        if self.group.is_some() {
            line["event_ids"] = serde_json::json!(self.event_ids);
            line["group"] = serde_json::json!(self.group);
        }
        line
    }
}

/// An alert id: `al-` and 32 hex digits of SHA-256 over the rule id and the parts that make the
/// alert unique (the event id; for a threshold, the group and the crossing event's id), each
/// length-prefixed so no two part lists share an encoding.
pub fn alert_id(rule_id: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in std::iter::once(rule_id).chain(parts.iter().copied()) {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut id = String::with_capacity(35);
    id.push_str("al-");
    for b in &digest[..16] {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// At most this many event ids are listed in a threshold alert (the oldest in its window).
pub const MAX_EVENT_IDS: usize = 100;

/// Where alerts are kept.
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Stores `alert` unless one with its id is stored; true when this call stored it.
    async fn put_new(&self, alert: &Alert, created_at: DateTime<Utc>) -> Result<bool, StoreError>;
}

/// One event counted in a threshold group's window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub event_id: String,
    pub time: DateTime<Utc>,
    /// The counted field's value (`value_count`).
    pub value: Option<String>,
}

/// Where a threshold's window state lives (memory for `auditlake detect`; DynamoDB with a TTL
/// for the detection function).
#[async_trait]
pub trait WindowStore: Send + Sync {
    /// Adds `member` to the group's set (a no-op when its event id is there, counted or spent)
    /// and returns the unspent members whose time is in `[since, until]`, oldest first.
    async fn add_and_read(
        &self,
        rule_id: &str,
        group: &str,
        member: Member,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Member>, StoreError>;
    /// Marks the group's members up to and including `until` spent: counted in an alert, never
    /// counted again, and still known, so a replayed event is not added back.
    async fn spend(
        &self,
        rule_id: &str,
        group: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_unambiguous() {
        let a = alert_id("r1", &["e1"]);
        assert_eq!(a, alert_id("r1", &["e1"]));
        assert_eq!(a.len(), 35);
        assert!(a.starts_with("al-"));
        assert_ne!(a, alert_id("r1", &["e2"]));
        assert_ne!(a, alert_id("r2", &["e1"]));
        // Concatenation cannot collide: ("ab","c") and ("a","bc") differ.
        assert_ne!(alert_id("r", &["ab", "c"]), alert_id("r", &["a", "bc"]));
    }

    #[test]
    fn severities_parse_in_any_case() {
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert!("urgent".parse::<Severity>().is_err());
        assert!(Severity::Critical > Severity::Low);
    }
}
