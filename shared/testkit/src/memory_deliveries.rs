//! Delivery markers and channel health in memory, with `aws::deliveries`' semantics, and a
//! switch that makes the next marker writes fail: a notifier that crashes between a send and its
//! marker, as a test needs it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::delivery::{Channel, DeliveryHealth, DeliveryHealthReader, DeliveryLog, Outcome};
use domain::store::StoreError;

use crate::memory::lock;

#[derive(Default)]
struct Inner {
    markers: BTreeSet<String>,
    health: BTreeMap<String, DeliveryHealth>,
    fail_marks: usize,
}

#[derive(Default)]
pub struct MemoryDeliveries {
    inner: Mutex<Inner>,
}

impl MemoryDeliveries {
    /// The next `n` marker writes fail (as a store that did not answer).
    pub fn fail_next_marks(&self, n: usize) {
        lock(&self.inner).fail_marks = n;
    }

    pub fn markers(&self) -> usize {
        lock(&self.inner).markers.len()
    }

    pub fn health(&self, channel: &Channel) -> Option<DeliveryHealth> {
        lock(&self.inner).health.get(&channel.key()).cloned()
    }
}

#[async_trait]
impl DeliveryLog for MemoryDeliveries {
    async fn delivered(&self, id: &str) -> Result<bool, StoreError> {
        Ok(lock(&self.inner).markers.contains(id))
    }

    async fn mark_delivered(&self, id: &str, _at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut i = lock(&self.inner);
        if i.fail_marks > 0 {
            i.fail_marks -= 1;
            return Err(StoreError::backend("PutItem", "memory", "injected failure"));
        }
        i.markers.insert(id.to_owned());
        Ok(())
    }

    async fn record(
        &self,
        channel: &Channel,
        outcome: &Outcome,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut i = lock(&self.inner);
        let h = i
            .health
            .entry(channel.key())
            .or_insert_with(|| DeliveryHealth {
                channel: channel.key(),
                ..DeliveryHealth::default()
            });
        match outcome {
            Outcome::Delivered => {
                h.delivered += 1;
                h.last_success = Some(at);
                h.consecutive_failures = 0;
            }
            Outcome::Failed(e) | Outcome::Refused(e) => {
                if matches!(outcome, Outcome::Failed(_)) {
                    h.failed += 1;
                } else {
                    h.refused += 1;
                }
                h.last_failure = Some(at);
                h.last_error = Some(e.clone());
                h.consecutive_failures += 1;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl DeliveryHealthReader for MemoryDeliveries {
    async fn deliveries(&self) -> Result<Vec<DeliveryHealth>, StoreError> {
        Ok(lock(&self.inner).health.values().cloned().collect())
    }
}
