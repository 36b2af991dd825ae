//! Loading rules: Sigma YAML files (one or more documents each) into a [`RuleSet`], with every
//! problem of every file reported together ([`RuleError`]: file, document, line, field).
//!
//! Beyond parsing, a rule must name an `id` (alerts and the API key on it), a `logsource`
//! auditlake collects ([`crate::logsource`]), and compile in the engine (a modifier or condition
//! rsigma does not support is an error here, not a rule that silently never matches). A
//! correlation must be `event_count` or `value_count` with a `gte`/`gt` threshold, over rules of
//! one source that are in the set. Ids are unique across the set (a tenant's rule cannot shadow a
//! built-in one).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use chrono::Duration;
use rsigma_parser::{
    ConditionOperator, CorrelationCondition, CorrelationRule, CorrelationType, SigmaRule,
};

use crate::logsource::{Target, target_of};
use crate::threshold::{Measure, ThresholdRule};
use domain::alert::Severity;

/// What an alert says about the rule that raised it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleMeta {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub severity: Severity,
    /// MITRE ATT&CK technique ids from the `attack.tNNNN[.NNN]` tags (`T1078.004`).
    pub techniques: Vec<String>,
    /// The rule's `fields:`: what the analyst needs in the alert.
    pub fields: Vec<String>,
    pub target: Target,
    /// `detection` or `threshold`.
    pub kind: RuleKind,
    /// The file it came from.
    pub origin: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    Detection,
    Threshold,
}

/// One problem with a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub file: String,
    /// The YAML document within the file, from 1.
    pub document: Option<usize>,
    /// The line within the file, from 1, where known.
    pub line: Option<u32>,
    /// The rule field the problem is in (`logsource`, `id`, `detection`, `correlation`).
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(d) = self.document {
            write!(f, " (document {d})")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A detection rule as loaded.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub meta: Arc<RuleMeta>,
    pub sigma: SigmaRule,
    /// Compiled once, at load: a construct rsigma refuses is this rule's error, and the
    /// detector takes it as it is.
    pub compiled: rsigma_eval::CompiledRule,
    /// Raises its own alerts (false for a rule only a correlation uses, as Sigma's `generate`).
    pub generate: bool,
}

/// Rules ready to compile into a [`crate::Detector`].
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub(crate) rules: Vec<Loaded>,
    pub(crate) thresholds: Vec<Arc<ThresholdRule>>,
}

impl RuleSet {
    /// Parses `files` (name, YAML text). Every problem of every file is returned together.
    pub fn load<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<RuleSet, Vec<RuleError>> {
        let mut errors = Vec::new();
        let mut rules: Vec<Loaded> = Vec::new();
        let mut correlations: Vec<(String, String, CorrelationRule, usize)> = Vec::new();
        let mut ids: HashSet<String> = HashSet::new();
        for (file, text) in files {
            let collection = match rsigma_parser::parse_sigma_yaml(text) {
                Ok(c) => c,
                Err(e) => {
                    errors.push(RuleError {
                        file: file.to_owned(),
                        document: None,
                        line: location_of(&e),
                        field: None,
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            // A document the parser could not use is dropped from the collection with a message.
            for message in &collection.errors {
                errors.push(RuleError {
                    file: file.to_owned(),
                    document: None,
                    line: line_in_message(message),
                    field: None,
                    message: message.clone(),
                });
            }
            if !collection.filters.is_empty() {
                errors.push(RuleError {
                    file: file.to_owned(),
                    document: None,
                    line: None,
                    field: Some("filter".into()),
                    message: "Sigma filter documents are not supported; exclude in the rule's \
                              own condition (`selection and not filter`)"
                        .into(),
                });
            }
            let mut docs = documents(text);
            for rule in &collection.rules {
                let index = docs.next_index(&rule.title);
                let err = |field: &str, message: String| RuleError {
                    file: file.to_owned(),
                    document: index.map(|i| i + 1),
                    line: index.and_then(|i| key_line(text, i, field)),
                    field: Some(field.to_owned()),
                    message,
                };
                match load_rule(file, rule, &mut ids) {
                    Ok(l) => rules.push(l),
                    Err((field, message)) => errors.push(err(field, message)),
                }
            }
            for c in &collection.correlations {
                let index = docs.next_index(&c.title);
                correlations.push((
                    file.to_owned(),
                    text.to_owned(),
                    c.clone(),
                    index.unwrap_or(0),
                ));
            }
        }
        let mut thresholds = Vec::new();
        for (file, text, c, index) in correlations {
            match load_correlation(&file, &c, &mut rules, &mut ids) {
                Ok(t) => thresholds.push(Arc::new(t)),
                Err((field, message)) => errors.push(RuleError {
                    line: key_line(&text, index, field),
                    file,
                    document: Some(index + 1),
                    field: Some(field.to_owned()),
                    message,
                }),
            }
        }
        if errors.is_empty() {
            Ok(RuleSet { rules, thresholds })
        } else {
            Err(errors)
        }
    }

    /// Every rule's metadata: detections (those that raise alerts) and thresholds.
    pub fn rules(&self) -> impl Iterator<Item = &RuleMeta> {
        self.rules
            .iter()
            .filter(|r| r.generate)
            .map(|r| r.meta.as_ref())
            .chain(self.thresholds.iter().map(|t| t.meta.as_ref()))
    }

    /// The longest threshold window of the set (zero without thresholds): how long window
    /// state must be kept.
    pub fn longest_window(&self) -> Duration {
        self.thresholds
            .iter()
            .map(|t| t.window)
            .max()
            .unwrap_or_else(Duration::zero)
    }

    /// Adds `other`'s rules; an id in both is an error naming the second file.
    pub fn merge(mut self, other: RuleSet) -> Result<RuleSet, Vec<RuleError>> {
        let mut seen: HashSet<String> = self
            .rules
            .iter()
            .map(|r| &r.meta.id)
            .chain(self.thresholds.iter().map(|t| &t.meta.id))
            .cloned()
            .collect();
        let mut errors = Vec::new();
        for r in other
            .rules
            .iter()
            .map(|r| &r.meta)
            .chain(other.thresholds.iter().map(|t| &t.meta))
        {
            if !seen.insert(r.id.clone()) {
                errors.push(RuleError {
                    file: r.origin.clone(),
                    document: None,
                    line: None,
                    field: Some("id".into()),
                    message: format!("rule id `{}` is already used by another rule", r.id),
                });
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        self.rules.extend(other.rules);
        self.thresholds.extend(other.thresholds);
        Ok(self)
    }
}

type FieldProblem = (&'static str, String);

/// Sigma's levels are the contract's severities.
fn severity(l: rsigma_parser::Level) -> Severity {
    match l {
        rsigma_parser::Level::Informational => Severity::Informational,
        rsigma_parser::Level::Low => Severity::Low,
        rsigma_parser::Level::Medium => Severity::Medium,
        rsigma_parser::Level::High => Severity::High,
        rsigma_parser::Level::Critical => Severity::Critical,
    }
}

fn techniques(tags: &[String]) -> Vec<String> {
    tags.iter()
        .filter_map(|t| {
            let t = t.trim().to_ascii_lowercase();
            let rest = t.strip_prefix("attack.t")?;
            rest.starts_with(|c: char| c.is_ascii_digit())
                .then(|| format!("T{}", rest.to_ascii_uppercase()))
        })
        .collect()
}

/// The document's id, claimed in `ids` (a set's ids are unique).
fn claim_id(
    id: Option<&str>,
    what: &str,
    ids: &mut HashSet<String>,
) -> Result<String, FieldProblem> {
    let id = id.map(str::trim).filter(|i| !i.is_empty()).ok_or((
        "id",
        format!("a {what} needs an `id`: alerts and the API name it"),
    ))?;
    if !ids.insert(id.to_owned()) {
        return Err((
            "id",
            format!("rule id `{id}` is already used by another rule"),
        ));
    }
    Ok(id.to_owned())
}

fn load_rule(
    file: &str,
    rule: &SigmaRule,
    ids: &mut HashSet<String>,
) -> Result<Loaded, FieldProblem> {
    let id = claim_id(rule.id.as_deref(), "rule", ids)?;
    let target = target_of(&rule.logsource).map_err(|m| ("logsource", m))?;
    let compiled = rsigma_eval::compile_rule(rule)
        .map_err(|e| ("detection", format!("does not compile: {e}")))?;
    Ok(Loaded {
        meta: Arc::new(RuleMeta {
            id,
            title: rule.title.clone(),
            description: rule.description.clone(),
            severity: rule.level.map_or(Severity::Medium, severity),
            techniques: techniques(&rule.tags),
            fields: rule.fields.clone(),
            target,
            kind: RuleKind::Detection,
            origin: file.to_owned(),
        }),
        sigma: rule.clone(),
        compiled,
        generate: true,
    })
}

fn load_correlation(
    file: &str,
    c: &CorrelationRule,
    rules: &mut [Loaded],
    ids: &mut HashSet<String>,
) -> Result<ThresholdRule, FieldProblem> {
    let id = claim_id(c.id.as_deref(), "correlation", ids)?;
    let (predicates, field) = match &c.condition {
        CorrelationCondition::Threshold {
            predicates, field, ..
        } => (predicates, field),
        CorrelationCondition::Extended(_) => {
            return Err((
                "condition",
                "only threshold conditions (gte, gt) are supported".to_owned(),
            ));
        }
    };
    let min = match predicates.as_slice() {
        [(ConditionOperator::Gte, n)] => *n,
        [(ConditionOperator::Gt, n)] => n + 1,
        _ => {
            return Err((
                "condition",
                "the condition must be one `gte: N` or `gt: N` (ranges and lt/eq are not supported)"
                    .to_owned(),
            ));
        }
    };
    if min == 0 {
        return Err(("condition", "a threshold of 0 would fire on nothing".into()));
    }
    let measure = match c.correlation_type {
        CorrelationType::EventCount => Measure::Events,
        CorrelationType::ValueCount => match field.as_deref() {
            Some([f]) => Measure::Distinct(f.clone()),
            _ => {
                return Err((
                    "condition",
                    "value_count needs exactly one `field` to count distinct values of".into(),
                ));
            }
        },
        other => {
            return Err((
                "correlation",
                format!(
                    "correlation type `{}` is not supported (event_count, value_count)",
                    other.as_str()
                ),
            ));
        }
    };
    if c.timespan.seconds == 0 {
        return Err(("timespan", "the timespan must be at least 1s".into()));
    }
    let by_ref: HashMap<&str, usize> = rules
        .iter()
        .enumerate()
        .flat_map(|(i, r)| {
            let name = r.sigma.name.as_deref();
            [Some(r.meta.id.as_str()), name]
                .into_iter()
                .flatten()
                .map(move |k| (k, i))
        })
        .collect();
    let mut base = Vec::new();
    for r in &c.rules {
        let i = *by_ref.get(r.as_str()).ok_or((
            "rules",
            format!("`{r}` is not the id or name of a rule in the set"),
        ))?;
        base.push(i);
    }
    let target = rules[base[0]].meta.target.clone();
    if base
        .iter()
        .any(|&i| rules[i].meta.target.source != target.source)
    {
        return Err((
            "rules",
            "the rules of a correlation must be of one source".into(),
        ));
    }
    let base_ids: Vec<String> = base.iter().map(|&i| rules[i].meta.id.clone()).collect();
    if !c.generate {
        for &i in &base {
            rules[i].generate = false;
        }
    }
    Ok(ThresholdRule {
        meta: Arc::new(RuleMeta {
            id,
            title: c.title.clone(),
            description: c.description.clone(),
            severity: c.level.map_or(Severity::Medium, severity),
            techniques: techniques(&c.tags),
            fields: c.fields.clone(),
            target,
            kind: RuleKind::Threshold,
            origin: file.to_owned(),
        }),
        base: base_ids,
        group_by: c.group_by.clone(),
        window: Duration::seconds(i64::try_from(c.timespan.seconds).unwrap_or(i64::MAX / 1000)),
        measure,
        min,
    })
}

fn location_of(e: &rsigma_parser::SigmaParserError) -> Option<u32> {
    match e {
        rsigma_parser::SigmaParserError::Condition(_, Some(l)) => Some(l.line),
        rsigma_parser::SigmaParserError::Yaml(y) => y.location().map(|l| l.line() as u32),
        _ => None,
    }
}

/// The titles of the YAML documents of a file, in order, so a parsed rule can be traced back to
/// its document (and so to its lines).
struct Documents {
    titles: Vec<Option<String>>,
    used: Vec<bool>,
}

fn documents(text: &str) -> Documents {
    let titles: Vec<Option<String>> = split_documents(text)
        .map(|(_, body)| {
            body.lines()
                .find_map(|l| l.strip_prefix("title:"))
                .map(|t| t.trim().trim_matches(['"', '\'']).to_owned())
        })
        .collect();
    let used = vec![false; titles.len()];
    Documents { titles, used }
}

impl Documents {
    /// The first unused document whose title is `title`.
    fn next_index(&mut self, title: &str) -> Option<usize> {
        let i = self
            .titles
            .iter()
            .enumerate()
            .position(|(i, t)| !self.used[i] && t.as_deref() == Some(title))?;
        self.used[i] = true;
        Some(i)
    }
}

/// `(first line, body)` of each document, split at `---` lines.
fn split_documents(text: &str) -> impl Iterator<Item = (u32, String)> + '_ {
    let mut out: Vec<(u32, String)> = vec![(0, String::new())];
    for (n, line) in text.lines().enumerate() {
        if line.trim_end() == "---" {
            out.push((n as u32 + 1, String::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    out.into_iter()
        .filter(|(_, b)| !b.trim().is_empty() || text.trim().is_empty())
}

/// `line N` in a parser message (YAML errors say `at line N column M`).
fn line_in_message(message: &str) -> Option<u32> {
    let at = message.find("line ")? + 5;
    let digits: String = message[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The 1-based line of top-level `key:` in document `index`, or the document's first line.
fn key_line(text: &str, index: usize, key: &str) -> Option<u32> {
    let (start, body) = split_documents(text).nth(index)?;
    let at = body
        .lines()
        .position(|l| l.starts_with(&format!("{key}:")))
        .unwrap_or(0);
    Some(start + at as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "title: One\nid: r-one\nlogsource:\n  product: azure\n  service: signinlogs\ndetection:\n  sel:\n    appId: x\n  condition: sel\nlevel: high\ntags:\n  - attack.t1078.004\n  - attack.initial-access\n";

    #[test]
    fn a_good_rule_loads_with_its_metadata() {
        let set = RuleSet::load([("a.yml", GOOD)]).unwrap();
        let r: Vec<_> = set.rules().collect();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].id, "r-one");
        assert_eq!(r[0].severity, Severity::High);
        assert_eq!(r[0].techniques, ["T1078.004"]);
    }

    #[test]
    fn every_problem_is_reported_with_file_line_and_field() {
        let bad_source = GOOD
            .replace("azure", "windows")
            .replace("r-one", "r-two")
            .replace("title: One", "title: Two");
        let no_id = "title: Three\nlogsource:\n  product: azure\n  service: auditlogs\ndetection:\n  sel:\n    a: b\n  condition: sel\n";
        let errs = RuleSet::load([
            ("a.yml", GOOD),
            ("b.yml", bad_source.as_str()),
            ("c.yml", no_id),
            ("d.yml", GOOD),
            ("e.yml", "title: [unclosed\n"),
        ])
        .unwrap_err();
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(errs.len(), 4, "{text:#?}");
        assert!(
            text[0].starts_with("b.yml:3 (document 1): field `logsource`"),
            "{}",
            text[0]
        );
        assert!(
            text[1].starts_with("c.yml:1 (document 1): field `id`"),
            "{}",
            text[1]
        );
        assert!(
            text[2].contains("d.yml") && text[2].contains("already used"),
            "{}",
            text[2]
        );
        assert!(text[3].starts_with("e.yml"), "{}", text[3]);
    }
}
