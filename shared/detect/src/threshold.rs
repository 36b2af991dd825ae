//! Threshold rules: Sigma `event_count` and `value_count` correlations over a sliding window,
//! with their state behind domain's `WindowStore` ([`MemoryWindows`] for `auditlake detect`;
//! the detection function keeps it in DynamoDB with a TTL).
//!
//! Semantics, chosen so that replaying an event changes nothing: the state of a (rule, group) is
//! a set of members keyed by event id, so adding an event twice is one member. When an
//! observation at time `t` finds `min` or more events (or distinct values) among the members in
//! `[t - timespan, t]`, the rule raises one alert whose id is derived from the rule, the group
//! and the crossing event ([`crate::alert_id`]), and the members up to `t` are cleared: the next
//! alert for the group needs `min` new events. A retry after a crash between the alert and the
//! clearing recounts the same members and derives the same id, so the alert is stored once.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use domain::alert::{Alert, MAX_EVENT_IDS, Member, WindowStore, alert_id};
use domain::store::StoreError;

use crate::engine::Observation;
use crate::rule::RuleMeta;

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

/// One group's members by (time, event id): (value, spent).
type Group = BTreeMap<(DateTime<Utc>, String), (Option<String>, bool)>;

/// Window state in memory.
#[derive(Debug, Default)]
pub struct MemoryWindows {
    /// Per (rule id, group).
    groups: Mutex<HashMap<(String, String), Group>>,
}

#[async_trait]
impl WindowStore for MemoryWindows {
    async fn add_and_read(
        &self,
        rule_id: &str,
        group: &str,
        member: Member,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Member>, StoreError> {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        let set = groups
            .entry((rule_id.to_owned(), group.to_owned()))
            .or_default();
        if !set.keys().any(|(_, id)| *id == member.event_id) {
            set.insert((member.time, member.event_id), (member.value, false));
        }
        let members = set
            .range((since, String::new())..)
            .take_while(|((t, _), _)| *t <= until)
            .filter(|(_, (_, spent))| !spent)
            .map(|((t, id), (v, _))| Member {
                event_id: id.clone(),
                time: *t,
                value: v.clone(),
            })
            .collect();
        Ok(members)
    }

    async fn spend(
        &self,
        rule_id: &str,
        group: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(set) = groups.get_mut(&(rule_id.to_owned(), group.to_owned())) {
            for (_, (_, spent)) in set.range_mut(..=(until, String::from("\u{10ffff}"))) {
                *spent = true;
            }
        }
        Ok(())
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

/// Counts `obs` in its group's window in `store`: the alert, when this observation crosses the
/// threshold. The window is left as it is: store the alert, then [`settle`], so a crash between
/// the two recounts the same members and derives the same alert id. Observations should come in
/// time order (a late one is counted in the window around its own time).
pub async fn count(
    store: &dyn WindowStore,
    obs: &Observation,
) -> Result<Option<Alert>, StoreError> {
    let rule = &obs.rule;
    let member = Member {
        event_id: obs.event_id.clone(),
        time: obs.summary.time,
        value: obs.value.clone(),
    };
    let t = obs.summary.time;
    let members = store
        .add_and_read(&rule.meta.id, &obs.group, member, t - rule.window, t)
        .await?;
    Ok(decide(rule, &members, obs))
}

/// Spends the members of the alert `obs` raised (see [`count`]).
pub async fn settle(store: &dyn WindowStore, obs: &Observation) -> Result<(), StoreError> {
    store
        .spend(&obs.rule.meta.id, &obs.group, obs.summary.time)
        .await
}

/// [`count`], then [`settle`] when it raised: for stores with nothing to persist in between.
pub async fn observe(
    store: &dyn WindowStore,
    obs: &Observation,
) -> Result<Option<Alert>, StoreError> {
    let alert = count(store, obs).await?;
    if alert.is_some() {
        settle(store, obs).await?;
    }
    Ok(alert)
}
