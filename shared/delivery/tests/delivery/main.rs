//! The delivery crate against a real HTTPS receiver on loopback (testkit's, with its test-only
//! certificate): the sender's allow-list, address vetting, redirects and retries; the notifier's
//! once-per-channel delivery over redeliveries, failures and a crash before a marker; the
//! forwarder's NDJSON and Splunk HEC bodies and filters.

mod forward;
mod notify;
mod support;
mod webhook;
