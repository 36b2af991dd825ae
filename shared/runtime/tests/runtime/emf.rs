//! The EMF line (issue 13: template-only features get behaviour tests). Each run prints one line
//! per stream; CloudWatch turns it into metrics in namespace `auditlake` with the dimension set
//! (Source, Stream). The line must be what CloudWatch reads (every declared metric a number at
//! the top level, the dimensions as strings), say what the run did, and every alarm of
//! `template.yaml` on it must query a metric, namespace and dimension set the line emits, for a
//! source that exists: an alarm on a name nothing emits never fires.

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use domain::model::{ErrorInfo, RunMode, RunSummary, Source};
use domain::stream::{SignInKind, Stream};
use runtime::telemetry::emf_line;
use serde_json::Value;

fn summary(source: Source, stream: Option<Stream>) -> RunSummary {
    RunSummary {
        source,
        stream,
        run_id: "r1".into(),
        mode: RunMode::Scheduled,
        window_start: None,
        window_end: None,
        windows: 2,
        pulled: 120,
        new: 100,
        duplicates: 20,
        quarantined: 1,
        raw_objects: 3,
        raw_bytes: 4096,
        lag_secs: Some(540),
        complete: true,
        skipped: None,
        gap: None,
        lost: Vec::new(),
        error: None,
        duration_ms: 900,
    }
}

fn line(s: &RunSummary) -> Value {
    let now = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
    serde_json::from_str(&emf_line(s, now)).expect("the EMF line is JSON")
}

/// (namespace, dimension set, metric names) the line declares.
fn declared(v: &Value) -> (String, BTreeSet<String>, BTreeSet<String>) {
    let d = &v["_aws"]["CloudWatchMetrics"][0];
    let dims = d["Dimensions"][0]
        .as_array()
        .expect("one dimension set")
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    let metrics = d["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap().to_string())
        .collect();
    (d["Namespace"].as_str().unwrap().to_string(), dims, metrics)
}

#[test]
fn the_line_is_what_cloudwatch_reads_and_says_what_the_run_did() {
    let s = summary(
        Source::EntraSignIns,
        Some(Stream::SignIn(SignInKind::ServicePrincipal)),
    );
    let v = line(&s);
    assert_eq!(v["_aws"]["Timestamp"], 1_714_564_800_000i64);
    let (ns, dims, metrics) = declared(&v);
    assert_eq!(ns, "auditlake");
    for d in &dims {
        assert!(v[d].is_string(), "dimension {d} is not a string: {v}");
    }
    assert_eq!(v["Source"], "entra-sign-ins");
    assert_eq!(v["Stream"], "servicePrincipal");
    for m in &metrics {
        assert!(v[m].is_number(), "metric {m} is not a number: {v}");
    }
    for (m, want) in [
        ("Pulled", 120),
        ("New", 100),
        ("Duplicates", 20),
        ("Quarantined", 1),
        ("RawBytes", 4096),
        ("LagSeconds", 540),
        ("RunErrors", 0),
        ("Incomplete", 0),
        ("DurationMs", 900),
    ] {
        assert_eq!(v[m], want, "{m}");
    }
    // A source without streams has the dimension all the same, as `-`.
    assert_eq!(line(&summary(Source::IntuneAudit, None))["Stream"], "-");
    // A failed, incomplete run counts one error and one incomplete run; a run skipped because
    // another held the lease is not incomplete.
    let mut failed = s.clone();
    failed.error = Some(ErrorInfo {
        code: "AADSTS7000215".into(),
        message: "secret".into(),
    });
    failed.complete = false;
    let v = line(&failed);
    assert_eq!(
        (v["RunErrors"].clone(), v["Incomplete"].clone()),
        (1.into(), 1.into())
    );
    assert_eq!(v["error_code"], "AADSTS7000215");
    let mut skipped = summary(Source::IntuneAudit, None);
    skipped.complete = false;
    skipped.skipped = Some("locked".into());
    assert_eq!(line(&skipped)["Incomplete"], 0);
}

/// Every `SELECT AGG(Metric) FROM SCHEMA(ns, dims) WHERE Source = 'x'` in the template.
fn alarm_queries(template: &str) -> Vec<(String, String, BTreeSet<String>, String)> {
    template
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Expression: "))
        .filter(|e| e.contains("FROM SCHEMA("))
        .map(|e| {
            let e = e.trim_matches('"');
            let metric = e
                .split_once('(')
                .and_then(|(_, r)| r.split_once(')'))
                .map(|(m, _)| m.to_string())
                .unwrap_or_default();
            let schema = e
                .split_once("SCHEMA(")
                .and_then(|(_, r)| r.split_once(')'))
                .map(|(s, _)| s)
                .unwrap_or_default();
            let mut parts = schema.split(',').map(|p| p.trim().to_string());
            let ns = parts.next().unwrap_or_default();
            let dims = parts.collect();
            let source = e
                .split_once("Source = '")
                .and_then(|(_, r)| r.split_once('\''))
                .map(|(s, _)| s.to_string())
                .unwrap_or_default();
            (metric, ns, dims, source)
        })
        .collect()
}

fn problems(template: &str) -> Vec<String> {
    let (ns, dims, metrics) = declared(&line(&summary(Source::IntuneAudit, None)));
    let queries = alarm_queries(template);
    let mut out = Vec::new();
    if queries.is_empty() {
        out.push("no alarm reads the EMF metrics".to_string());
    }
    for (metric, q_ns, q_dims, source) in queries {
        if !metrics.contains(&metric) {
            out.push(format!("an alarm reads {metric}, which no puller emits"));
        }
        if q_ns != ns || q_dims != dims {
            out.push(format!(
                "an alarm reads SCHEMA({q_ns}, {q_dims:?}); pullers emit ({ns}, {dims:?})"
            ));
        }
        if source.parse::<Source>().is_err() {
            out.push(format!(
                "an alarm filters on Source = '{source}', which is no source"
            ));
        }
    }
    out
}

#[test]
fn every_alarm_reads_a_metric_namespace_and_dimensions_a_puller_emits() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
    let template = std::fs::read_to_string(path).expect("template.yaml");
    let p = problems(&template);
    assert!(p.is_empty(), "{p:#?}");
    // Each source has its lag and error alarms.
    let queries = alarm_queries(&template);
    for s in Source::ALL {
        for m in ["LagSeconds", "RunErrors"] {
            assert!(
                queries.iter().any(|q| q.0 == m && q.3 == s.name()),
                "no {m} alarm for {s}"
            );
        }
    }
    // A renamed metric, a dimension set CloudWatch would not match, and a misspelt source.
    for (from, to, why) in [
        ("SELECT SUM(RunErrors)", "SELECT SUM(RunError)", "RunError"),
        (
            "SCHEMA(auditlake, Source, Stream)",
            "SCHEMA(auditlake, Source)",
            "SCHEMA",
        ),
        (
            "WHERE Source = 'intune-audit'",
            "WHERE Source = 'intune'",
            "'intune'",
        ),
    ] {
        let planted = template.replacen(from, to, 1);
        assert_ne!(planted, template);
        let p = problems(&planted);
        assert!(p.iter().any(|l| l.contains(why)), "{why}: {p:?}");
    }
}
