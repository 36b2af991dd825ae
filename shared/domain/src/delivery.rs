//! Deliveries: what leaves the stack after detection. An alert goes to each notification
//! [`Channel`] once (the stack's SNS topic, each configured webhook), new events go to the SIEM
//! forwarder. Every delivery has an id that is the same on every retry ([`delivery_id`]), so a
//! receiver that sees it twice knows it is a repeat; a per-delivery marker ([`DeliveryLog`])
//! keeps a redelivered stream record from sending again what already went out. Each channel's
//! outcomes are kept as its [`DeliveryHealth`], which `GET /sources` shows.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::StoreError;

/// Where a delivery goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// The stack's alert topic (e-mail and chat subscriptions hang off it).
    Topic,
    /// A configured webhook, by its name.
    Webhook(String),
    /// The SIEM collector that new events are forwarded to.
    Forward,
}

impl Channel {
    /// The channel's key in health and in delivery ids: `topic`, `webhook:<name>`, `forward`.
    pub fn key(&self) -> String {
        match self {
            Channel::Topic => "topic".into(),
            Channel::Webhook(name) => format!("webhook:{name}"),
            Channel::Forward => "forward".into(),
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// The id of one delivery of `subject` (an alert id, or the digest of a forwarded batch) to
/// `channel`: `dl-` and 32 hex digits of SHA-256 over both, the same on every retry.
pub fn delivery_id(channel: &Channel, subject: &str) -> String {
    let mut h = Sha256::new();
    let key = channel.key();
    for p in [key.as_str(), subject] {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut id = String::with_capacity(35);
    id.push_str("dl-");
    for b in &digest[..16] {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// How one delivery attempt (with its retries) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver accepted it.
    Delivered,
    /// It failed after its retries; the stream record is reported back (and after the
    /// mapping's retries, set aside in the dead-letter queue). The text names the destination
    /// and the status or error, never a secret or the body.
    Failed(String),
    /// The destination was refused before any request (not on the allow-list, or it resolved
    /// to a private address): retrying cannot help, so it is not retried.
    Refused(String),
}

/// A channel's delivery record, as `GET /sources` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryHealth {
    /// The channel's key (`topic`, `webhook:<name>`, `forward`).
    pub channel: String,
    pub last_success: Option<DateTime<Utc>>,
    pub last_failure: Option<DateTime<Utc>>,
    /// What the last failure was (status or error kind and the destination's host).
    pub last_error: Option<String>,
    pub delivered: u64,
    pub failed: u64,
    /// Deliveries refused by the allow-list or the address check.
    pub refused: u64,
    /// Failures since the last success: 0 is healthy.
    pub consecutive_failures: u64,
}

/// Delivery markers and health, kept by the notifier and the forwarder.
#[async_trait]
pub trait DeliveryLog: Send + Sync {
    /// Whether delivery `id` already went out.
    async fn delivered(&self, id: &str) -> Result<bool, StoreError>;
    /// Records that delivery `id` went out (kept as long as alerts are).
    async fn mark_delivered(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Counts an outcome in the channel's health.
    async fn record(
        &self,
        channel: &Channel,
        outcome: &Outcome,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// Reads every channel's health (the query API).
#[async_trait]
pub trait DeliveryHealthReader: Send + Sync {
    async fn deliveries(&self) -> Result<Vec<DeliveryHealth>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids_are_stable_per_channel_and_subject() {
        let a = delivery_id(&Channel::Webhook("soc".into()), "al-1");
        assert_eq!(a, delivery_id(&Channel::Webhook("soc".into()), "al-1"));
        assert_eq!(a.len(), 35);
        assert!(a.starts_with("dl-"));
        assert_ne!(a, delivery_id(&Channel::Webhook("soc2".into()), "al-1"));
        assert_ne!(a, delivery_id(&Channel::Topic, "al-1"));
        assert_ne!(a, delivery_id(&Channel::Webhook("soc".into()), "al-2"));
        // Length prefixes: `webhook:a` + `b:c` is not `webhook:a:b` + `c`.
        assert_ne!(
            delivery_id(&Channel::Webhook("a".into()), "b:c"),
            delivery_id(&Channel::Webhook("a:b".into()), "c")
        );
    }

    #[test]
    fn channel_keys() {
        assert_eq!(Channel::Topic.key(), "topic");
        assert_eq!(Channel::Webhook("soc".into()).to_string(), "webhook:soc");
        assert_eq!(Channel::Forward.key(), "forward");
    }
}
