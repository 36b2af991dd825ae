//! The detection path: what the detection function does with a batch of the events table's
//! stream. Each INSERT of an event item (the only write an event ever gets: a conditional put,
//! after a keys-only read skipped the stored ones) is evaluated once against every rule; a
//! re-read, a retried chunk or a backfill of stored events writes no item and so reaches no one
//! here. The stream delivers at least once, so everything downstream is idempotent: alert ids are
//! derived from rule and event (`domain::alert::alert_id`) and put only if absent, and threshold
//! windows are sets keyed by event id. A batch that fails part way reports the first failed
//! record and every later one as failures, and the stream redelivers them in order.

pub mod app;
pub mod lambda;
pub mod rules;

pub use app::{BatchReport, DetectionApp};
