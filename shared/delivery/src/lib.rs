//! What leaves the stack after detection: the notifier ([`notify`], each new alert to the
//! alert topic and every configured webhook, once per channel) and the forwarder ([`forward`],
//! new events to a SIEM collector as NDJSON or Splunk HEC). Both read a DynamoDB stream
//! (the alerts table's, the events table's) and answer with partial batch responses, so a
//! destination that is down delays delivery and never collection or detection. Every request
//! goes through [`webhook::Sender`]: allow-listed hosts, vetted and pinned addresses, no
//! redirects, retries with backoff, signed bodies.

pub mod forward;
pub mod lambda;
pub mod notify;
pub mod webhook;
