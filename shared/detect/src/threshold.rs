//! Threshold rules: Sigma `event_count` and `value_count` correlations over a sliding window,
//! with their state behind [`WindowStore`] (memory for `auditlake detect`; the detection function
//! keeps it in DynamoDB with a TTL).
//!
//! Semantics, chosen so that replaying an event changes nothing: the state of a (rule, group) is
//! a set of members keyed by event id, so adding an event twice is one member. When an
//! observation at time `t` finds `min` or more events (or distinct values) among the members in
//! `[t - timespan, t]`, the rule raises one alert whose id is derived from the rule, the group
//! and the crossing event ([`crate::alert_id`]), and the members up to `t` are cleared: the next
//! alert for the group needs `min` new events. A retry after a crash between the alert and the
//! clearing recounts the same members and derives the same id, so the alert is stored once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::alert::{Alert, alert_id};
use crate::engine::Observation;
use crate::rule::RuleMeta;

/// At most this many event ids are listed in a threshold alert (the oldest in its window).
pub const MAX_EVENT_IDS: usize = 100;

/// What a threshold counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measure {
    /// Events (`event_count`).
    Events,
    /// Distinct values of a field (`value_count`).
    Distinct(String),
}

/// A loaded correlation.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdRule {
    pub meta: Arc<RuleMeta>,
    /// The ids of the rules whose matches it counts.
    pub base: Vec<String>,
    pub group_by: Vec<String>,
    pub window: Duration,
    pub measure: Measure,
    /// Raise at this many events or distinct values.
    pub min: u64,
}

/// One event counted in a group's window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub event_id: String,
    pub time: DateTime<Utc>,
    /// The counted field's value (`value_count`).
    pub value: Option<String>,
}

/// Where a threshold's window state lives.
pub trait WindowStore {
    /// Adds `member` to the group's set (a no-op when its event id is there, counted or spent)
    /// and returns the unspent members whose time is in `[since, until]`, oldest first.
    fn add_and_read(
        &mut self,
        rule_id: &str,
        group: &str,
        member: Member,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<Member>;
    /// Marks the group's members up to and including `until` spent: counted in an alert, never
    /// counted again, and still known, so a replayed event is not added back.
    fn spend(&mut self, rule_id: &str, group: &str, until: DateTime<Utc>);
}

/// One group's members by (time, event id): (value, spent).
type Group = BTreeMap<(DateTime<Utc>, String), (Option<String>, bool)>;

/// Window state in memory.
#[derive(Debug, Default)]
pub struct MemoryWindows {
    /// Per (rule id, group).
    groups: HashMap<(String, String), Group>,
}

impl WindowStore for MemoryWindows {
    fn add_and_read(
        &mut self,
        rule_id: &str,
        group: &str,
        member: Member,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<Member> {
        let set = self
            .groups
            .entry((rule_id.to_owned(), group.to_owned()))
            .or_default();
        if !set.keys().any(|(_, id)| *id == member.event_id) {
            set.insert((member.time, member.event_id), (member.value, false));
        }
        set.range((since, String::new())..)
            .take_while(|((t, _), _)| *t <= until)
            .filter(|(_, (_, spent))| !spent)
            .map(|((t, id), (v, _))| Member {
                event_id: id.clone(),
                time: *t,
                value: v.clone(),
            })
            .collect()
    }

    fn spend(&mut self, rule_id: &str, group: &str, until: DateTime<Utc>) {
        if let Some(set) = self.groups.get_mut(&(rule_id.to_owned(), group.to_owned())) {
            for (_, (_, spent)) in set.range_mut(..=(until, String::from("\u{10ffff}"))) {
                *spent = true;
            }
        }
    }
}

/// Decides whether the members of a window (read after adding `crossing`) raise an alert.
pub fn decide(rule: &ThresholdRule, members: &[Member], crossing: &Observation) -> Option<Alert> {
    let count = match &rule.measure {
        Measure::Events => members.len() as u64,
        Measure::Distinct(_) => {
            let mut values: Vec<&str> = members.iter().filter_map(|m| m.value.as_deref()).collect();
            values.sort_unstable();
            values.dedup();
            values.len() as u64
        }
    };
    if count < rule.min {
        return None;
    }
    let event_ids: Vec<String> = members
        .iter()
        .take(MAX_EVENT_IDS)
        .map(|m| m.event_id.clone())
        .collect();
    Some(Alert {
        id: alert_id(&rule.meta.id, &[&crossing.group, &crossing.event_id]),
        rule_id: rule.meta.id.clone(),
        title: rule.meta.title.clone(),
        severity: rule.meta.severity,
        techniques: rule.meta.techniques.clone(),
        event_id: crossing.event_id.clone(),
        record_id: crossing.record_id.clone(),
        event_ids,
        group: Some(crossing.group.clone()),
        summary: crossing.summary.clone(),
        fields: crossing.fields.clone(),
    })
}

/// Threshold evaluation over a [`WindowStore`].
pub struct Thresholds<W: WindowStore> {
    store: W,
}

impl<W: WindowStore> Thresholds<W> {
    pub fn new(store: W) -> Self {
        Thresholds { store }
    }

    /// Counts `obs` in its group's window; the alert, when this observation crosses the
    /// threshold. Observations should come in time order (a late one is counted in the window
    /// around its own time).
    pub fn observe(&mut self, obs: &Observation) -> Option<Alert> {
        let rule = &obs.rule;
        let member = Member {
            event_id: obs.event_id.clone(),
            time: obs.summary.time,
            value: obs.value.clone(),
        };
        let t = obs.summary.time;
        let members =
            self.store
                .add_and_read(&rule.meta.id, &obs.group, member, t - rule.window, t);
        let alert = decide(rule, &members, obs)?;
        self.store.spend(&rule.meta.id, &obs.group, t);
        Some(alert)
    }
}
