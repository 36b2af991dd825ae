//! Alerts, their comments and the tenant's rules in memory, with the DynamoDB adapters'
//! semantics (`aws::alerts`, `aws::triage`): an alert stored once by id, listing newest first by
//! `<created_at>#<id>` with the cursor exclusive, one "request" per 100 alerts examined, rules
//! created only when new and replaced only when present.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::alert::{Alert, AlertStore};
use domain::read::Comment;
use domain::store::StoreError;
use domain::triage::{
    AlertChange, AlertFilter, AlertPage, AlertReader, RuleStore, StoredAlert, TenantRule,
};

use crate::memory::lock;

/// Alerts examined per simulated request.
const PER_REQUEST: usize = 100;

#[derive(Default)]
struct Inner {
    /// By listing key `<created_at>#<id>`.
    alerts: BTreeMap<String, StoredAlert>,
    /// Alert id -> listing key.
    ids: BTreeMap<String, String>,
    comments: BTreeMap<String, Vec<Comment>>,
    rules: BTreeMap<String, TenantRule>,
}

/// The alerts table in memory.
#[derive(Default)]
pub struct MemoryAlerts {
    inner: Mutex<Inner>,
}

impl MemoryAlerts {
    /// Every stored alert, oldest first.
    pub fn all(&self) -> Vec<StoredAlert> {
        lock(&self.inner).alerts.values().cloned().collect()
    }
}

#[async_trait]
impl AlertStore for MemoryAlerts {
    async fn put_new(&self, alert: &Alert, created_at: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut g = lock(&self.inner);
        if g.ids.contains_key(&alert.id) {
            return Ok(false);
        }
        let stored = StoredAlert::raised(alert.clone(), created_at);
        let ts = stored.ts();
        g.ids.insert(alert.id.clone(), ts.clone());
        g.alerts.insert(ts, stored);
        Ok(true)
    }
}

#[async_trait]
impl AlertReader for MemoryAlerts {
    async fn list(
        &self,
        filter: &AlertFilter,
        before: Option<&str>,
        pin: DateTime<Utc>,
        limit: usize,
        budget: u32,
    ) -> Result<AlertPage, StoreError> {
        let g = lock(&self.inner);
        let mut page = AlertPage::default();
        let below = |ts: &String| before.is_none_or(|b| ts.as_str() < b);
        for (i, (ts, a)) in g
            .alerts
            .iter()
            .rev()
            .filter(|(ts, _)| below(ts))
            .enumerate()
        {
            if i % PER_REQUEST == 0 {
                if page.requests >= budget.max(1) {
                    return Ok(page);
                }
                page.requests += 1;
            }
            page.examined += 1;
            page.resume = Some(ts.clone());
            if filter.matches(a) && a.created_at <= pin {
                page.alerts.push(a.clone());
                if page.alerts.len() >= limit {
                    return Ok(page);
                }
            }
        }
        page.resume = None;
        Ok(page)
    }

    async fn get(&self, id: &str) -> Result<Option<(StoredAlert, Vec<Comment>)>, StoreError> {
        let g = lock(&self.inner);
        Ok(g.ids
            .get(id)
            .and_then(|ts| g.alerts.get(ts))
            .map(|a| (a.clone(), g.comments.get(id).cloned().unwrap_or_default())))
    }

    async fn update(
        &self,
        id: &str,
        change: &AlertChange,
    ) -> Result<Option<StoredAlert>, StoreError> {
        let mut g = lock(&self.inner);
        let Some(ts) = g.ids.get(id).cloned() else {
            return Ok(None);
        };
        let Some(a) = g.alerts.get_mut(&ts) else {
            return Ok(None);
        };
        if let Some(s) = change.status {
            a.status = s;
        }
        if let Some(who) = &change.assignee {
            a.assignee = who.clone();
        }
        a.updated_at = Some(domain::model::fmt_time(change.at));
        a.updated_by = Some(change.by.clone());
        Ok(Some(a.clone()))
    }

    async fn add_comment(&self, id: &str, comment: &Comment) -> Result<bool, StoreError> {
        let mut g = lock(&self.inner);
        if !g.ids.contains_key(id) {
            return Ok(false);
        }
        g.comments
            .entry(id.to_owned())
            .or_default()
            .push(comment.clone());
        Ok(true)
    }
}

#[async_trait]
impl RuleStore for MemoryAlerts {
    async fn list_rules(&self) -> Result<Vec<TenantRule>, StoreError> {
        Ok(lock(&self.inner).rules.values().cloned().collect())
    }

    async fn put_rule(&self, rule: &TenantRule, create: bool) -> Result<bool, StoreError> {
        let mut g = lock(&self.inner);
        if g.rules.contains_key(&rule.id) == create {
            return Ok(false);
        }
        g.rules.insert(rule.id.clone(), rule.clone());
        Ok(true)
    }

    async fn delete_rule(&self, id: &str) -> Result<bool, StoreError> {
        Ok(lock(&self.inner).rules.remove(id).is_some())
    }
}
