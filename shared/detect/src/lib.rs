//! auditlake's detections, pure: rules in Sigma (parsed and compiled by `rsigma`), threshold
//! rules as Sigma correlations (`event_count`, `value_count`) whose window state lives behind a
//! port, the built-in pack embedded from `infra/detections/`, the field mapping that lets a rule
//! written against Sentinel's or SigmaHQ's names run on what auditlake stores, and the alert
//! contract (ids derived from rule and event, so a retried evaluation raises nothing new).
//!
//! The flow: [`RuleSet::load`] parses rule files (every problem at once, each naming its file,
//! document and field); [`Detector::new`] compiles them per source; [`Detector::evaluate`] takes
//! one stored event and its raw record and returns the detection alerts and the threshold
//! observations; [`threshold::observe`] turns observations into threshold alerts over a
//! `domain::alert::WindowStore`.

pub mod cases;
pub mod document;
pub mod engine;
pub mod logsource;
pub mod pack;
pub mod rule;
pub mod threshold;

pub use domain::alert::{Alert, AlertSummary, Severity, alert_id};
pub use engine::{Batch, Detector, Evaluation, Observation, evaluate_all};
pub use rule::{RuleError, RuleMeta, RuleSet};
