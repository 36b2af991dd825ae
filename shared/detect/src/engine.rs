//! The detector: a [`RuleSet`] compiled into one rsigma engine per source, evaluating one event
//! at a time. A detection rule's match is an [`Alert`] at once; a match of a rule a threshold
//! counts is an [`Observation`], which [`crate::threshold::observe`] turns into an alert when
//! the window fills.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use domain::model::{AuditEvent, Source};
use rsigma_eval::event::{Event, EventValue, JsonEvent};
use serde_json::Value;

use crate::document::{document, mapping};
use crate::rule::{Loaded, RuleMeta, RuleSet};
use crate::threshold::{Measure, ThresholdRule};
use domain::alert::{Alert, AlertSummary, alert_id};

/// A match of a rule that a threshold counts, with what the threshold's alert needs.
#[derive(Debug, Clone)]
pub struct Observation {
    pub rule: Arc<ThresholdRule>,
    /// The group-by fields and their values, as a JSON object (`{"ipAddress":"203.0.113.9"}`).
    pub group: String,
    /// The counted field's value, for `value_count`.
    pub value: Option<String>,
    pub event_id: String,
    pub record_id: Option<String>,
    pub summary: AlertSummary,
    pub fields: serde_json::Map<String, Value>,
}

/// What one event raised.
#[derive(Debug, Default)]
pub struct Evaluation {
    pub alerts: Vec<Alert>,
    pub observations: Vec<Observation>,
}

/// A compiled rule: its metadata, whether it raises alerts itself, and the thresholds that count
/// its matches.
struct Compiled {
    meta: Arc<RuleMeta>,
    generate: bool,
    counted: Vec<Arc<ThresholdRule>>,
}

struct SourceRules {
    engine: rsigma_eval::Engine,
    mapping: HashMap<String, Vec<String>>,
    /// By rule id.
    rules: HashMap<String, Compiled>,
}

/// Compiled rules, shareable across threads.
pub struct Detector {
    sources: HashMap<Source, SourceRules>,
    count: usize,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("rules", &self.count)
            .finish()
    }
}

fn fields_of(rules: &[&Loaded], thresholds: &[Arc<ThresholdRule>]) -> BTreeSet<String> {
    let mut collection = rsigma_parser::SigmaCollection::new();
    collection.rules = rules.iter().map(|r| r.sigma.clone()).collect();
    let set = rsigma_eval::RuleFieldSet::collect(&collection, &[], false);
    let mut names: BTreeSet<String> = set.names().map(str::to_owned).collect();
    for r in rules {
        names.extend(r.meta.fields.iter().cloned());
    }
    for t in thresholds {
        names.extend(t.group_by.iter().cloned());
        names.extend(t.meta.fields.iter().cloned());
        if let Measure::Distinct(f) = &t.measure {
            names.insert(f.clone());
        }
    }
    names
}

impl Detector {
    /// Builds the engines of `set` from the rules compiled at load (so this does not fail).
    pub fn new(set: &RuleSet) -> Detector {
        let mut sources = HashMap::new();
        let mut count = 0;
        for source in Source::ALL {
            let rules: Vec<&Loaded> = set
                .rules
                .iter()
                .filter(|r| r.meta.target.source == source)
                .collect();
            if rules.is_empty() {
                continue;
            }
            let thresholds: Vec<Arc<ThresholdRule>> = set
                .thresholds
                .iter()
                .filter(|t| t.meta.target.source == source)
                .cloned()
                .collect();
            let mut engine = rsigma_eval::Engine::new();
            let mut by_id = HashMap::new();
            for r in &rules {
                engine.add_compiled_rule(r.compiled.clone());
                let counted: Vec<Arc<ThresholdRule>> = thresholds
                    .iter()
                    .filter(|t| t.base.contains(&r.meta.id))
                    .cloned()
                    .collect();
                by_id.insert(
                    r.meta.id.clone(),
                    Compiled {
                        meta: r.meta.clone(),
                        generate: r.generate,
                        counted,
                    },
                );
                count += usize::from(r.generate);
            }
            count += thresholds.len();
            let names = fields_of(&rules, &thresholds);
            sources.insert(
                source,
                SourceRules {
                    engine,
                    mapping: mapping(source, names.iter().map(String::as_str)),
                    rules: by_id,
                },
            );
        }
        Detector { sources, count }
    }

    /// How many rules raise alerts (detections and thresholds).
    pub fn rule_count(&self) -> usize {
        self.count
    }

    /// Evaluates one event; `raw` is its raw record (`None` evaluates the normalized fields
    /// only).
    pub fn evaluate(&self, event: &AuditEvent, raw: Option<&Value>) -> Evaluation {
        let mut out = Evaluation::default();
        let Some(rules) = self.sources.get(&event.source) else {
            return out;
        };
        let doc = document(event, raw, &rules.mapping);
        let view = JsonEvent::borrow(&doc);
        for hit in rules.engine.evaluate(&view) {
            let Some(id) = hit.header.rule_id.as_deref() else {
                continue;
            };
            let Some(Compiled {
                meta,
                generate,
                counted,
            }) = rules.rules.get(id)
            else {
                continue;
            };
            if !meta.target.covers(event.source, event.stream.as_deref()) {
                continue;
            }
            if *generate {
                out.alerts.push(Alert {
                    id: alert_id(&meta.id, &[&event.id]),
                    rule_id: meta.id.clone(),
                    title: meta.title.clone(),
                    severity: meta.severity,
                    techniques: meta.techniques.clone(),
                    event_id: event.id.clone(),
                    record_id: event.record_id.clone(),
                    event_ids: vec![event.id.clone()],
                    group: None,
                    summary: summary(event),
                    fields: field_values(&view, &meta.fields),
                });
            }
            for t in counted {
                if !t.meta.target.covers(event.source, event.stream.as_deref()) {
                    continue;
                }
                out.observations.push(Observation {
                    rule: t.clone(),
                    group: group_key(&view, &t.group_by),
                    value: match &t.measure {
                        Measure::Events => None,
                        Measure::Distinct(f) => view
                            .get_field(f)
                            .and_then(|v| text(&v))
                            .map(|v| v.to_lowercase()),
                    },
                    event_id: event.id.clone(),
                    record_id: event.record_id.clone(),
                    summary: summary(event),
                    fields: field_values(&view, &t.meta.fields),
                });
            }
        }
        out
    }
}

/// The contract's summary of an event.
pub fn summary(event: &AuditEvent) -> AlertSummary {
    let a = &event.actor;
    AlertSummary {
        actor: a
            .upn
            .clone()
            .or_else(|| a.name.clone())
            .or_else(|| a.id.clone())
            .or_else(|| a.app_id.clone()),
        operation: event.operation.clone(),
        targets: event
            .targets
            .iter()
            .filter_map(|t| t.name.clone().or_else(|| t.id.clone()))
            .take(10)
            .collect(),
        source: event.source.name().to_owned(),
        time: event.time,
    }
}

/// An event value as text: strings as they are, numbers and booleans in decimal, a list as its
/// items' texts joined with `, `; objects and nulls have none.
fn text(v: &EventValue<'_>) -> Option<String> {
    match v {
        EventValue::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(text).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        EventValue::Map(_) | EventValue::Null => None,
        other => other.as_str().map(|s| s.into_owned()),
    }
}

/// The group a threshold counts in: its group-by fields and their values (lowercased: UPNs and
/// addresses are not case-sensitive), as a JSON object, so no two groups share a key.
fn group_key(view: &impl Event, fields: &[String]) -> String {
    let map: serde_json::Map<String, Value> = fields
        .iter()
        .map(|f| {
            let v = view.get_field(f).and_then(|v| text(&v)).unwrap_or_default();
            (f.clone(), Value::String(v.to_lowercase()))
        })
        .collect();
    Value::Object(map).to_string()
}

fn field_values(view: &impl Event, fields: &[String]) -> serde_json::Map<String, Value> {
    fields
        .iter()
        .filter_map(|f| {
            let v = view.get_field(f).and_then(|v| text(&v))?;
            Some((f.clone(), Value::String(v)))
        })
        .collect()
}

/// A finite set of events evaluated together (a file, a rule test over stored events):
/// detections as events are pushed, thresholds at [`Batch::finish`] over every observation in
/// time order (then event id), with windows in memory.
pub struct Batch<'d> {
    detector: &'d Detector,
    alerts: Vec<Alert>,
    observations: Vec<Observation>,
    events: u64,
}

impl<'d> Batch<'d> {
    pub fn new(detector: &'d Detector) -> Self {
        Batch {
            detector,
            alerts: Vec::new(),
            observations: Vec::new(),
            events: 0,
        }
    }

    /// Evaluates one event (memory grows with matches only, not with events).
    pub fn push(&mut self, event: &AuditEvent, raw: Option<&Value>) {
        let e = self.detector.evaluate(event, raw);
        self.alerts.extend(e.alerts);
        self.observations.extend(e.observations);
        self.events += 1;
    }

    /// How many events were pushed.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// How many threshold observations the events made (each is a window-store write and read
    /// in the detection function).
    pub fn observations(&self) -> usize {
        self.observations.len()
    }

    /// Every alert, ordered by event time, then id.
    pub async fn finish(mut self) -> Vec<Alert> {
        self.observations
            .sort_by(|a, b| (a.summary.time, &a.event_id).cmp(&(b.summary.time, &b.event_id)));
        let windows = crate::threshold::MemoryWindows::default();
        for o in &self.observations {
            // Memory windows do not fail.
            if let Ok(Some(a)) = crate::threshold::observe(&windows, o).await {
                self.alerts.push(a);
            }
        }
        self.alerts
            .sort_by(|a, b| (a.summary.time, &a.id).cmp(&(b.summary.time, &b.id)));
        self.alerts
    }
}

/// [`Batch`] over `events` at once.
pub async fn evaluate_all<'a>(
    detector: &Detector,
    events: impl IntoIterator<Item = (&'a AuditEvent, Option<&'a Value>)>,
) -> Vec<Alert> {
    let mut batch = Batch::new(detector);
    for (event, raw) in events {
        batch.push(event, raw);
    }
    batch.finish().await
}
