//! `auditlake normalize --source entra-directory-audits` against the shared corpus of published
//! directory-audit records (read in place, never copied): Graph files record by record, and
//! diagnostic-settings files on their `properties`, each event compared with its record parsed
//! here, independently of auditlake.

use std::path::{Path, PathBuf};

use chrono::DateTime;
use serde_json::Value;

use crate::normalize::normalize;
use crate::support::{corpus_missing, envelope_record, unwrap_envelope};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/graph-directory-audits")
}

/// What a corpus file holds.
enum Content {
    Graph(Vec<Value>),
    /// Diagnostic-settings records (the Graph object under `properties`).
    Envelope(Vec<Value>),
}

fn is_envelope(v: &Value) -> bool {
    v.get("records").is_some()
        || (v.get("properties").is_some_and(Value::is_object) && v.get("operationName").is_some())
}

/// Classifies a file and extracts its records without auditlake's help.
fn read(path: &Path) -> Content {
    let text = std::fs::read_to_string(path).unwrap();
    let values: Vec<Value> = match serde_json::from_str::<Value>(&text) {
        Ok(v) => vec![v],
        Err(_) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{}: a line is not JSON: {e}", path.display()))
            })
            .collect(),
    };
    if values.iter().any(is_envelope) {
        let mut records = Vec::new();
        for v in values {
            match v.get("records").and_then(Value::as_array) {
                Some(list) => records.extend(list.iter().cloned()),
                None => records.push(v),
            }
        }
        return Content::Envelope(records);
    }
    let mut records = Vec::new();
    for v in values {
        match v {
            Value::Array(a) => records.extend(a),
            Value::Object(ref m) if m.get("value").is_some_and(Value::is_array) => {
                records.extend(m["value"].as_array().unwrap().iter().cloned())
            }
            other => records.push(other),
        }
    }
    Content::Graph(records)
}

/// A Graph string as the contract carries it: Microsoft writes "nothing" as null, an empty
/// string, or literal sentinels such as `N/A` and `<null>`; all of them are absent.
fn present(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) => {
            let t = s.trim();
            let sentinel = t.is_empty()
                || ["<null>", "null", "__null__", "not available", "n/a"]
                    .iter()
                    .any(|x| t.eq_ignore_ascii_case(x));
            if sentinel {
                Value::Null
            } else {
                Value::String(t.to_string())
            }
        }
        Some(Value::Null) | None => Value::Null,
        Some(other) => other.clone(),
    }
}

fn expected_time(s: &str) -> String {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("corpus time {s}: {e}"))
        .with_timezone(&chrono::Utc)
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn expected_result(r: &Value) -> &'static str {
    match r
        .get("result")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("success") => "success",
        Some("failure") | Some("timeout") => "failure",
        _ => "unknown",
    }
}

fn check_actor(where_: &str, actor: &Value, record: &Value) {
    let by = record.get("initiatedBy");
    let user = by.and_then(|b| b.get("user")).filter(|u| u.is_object());
    if let Some(u) = user {
        let (id, upn) = (present(u.get("id")), present(u.get("userPrincipalName")));
        if !id.is_null() || !upn.is_null() {
            assert_eq!(actor["kind"], "user", "{where_}");
            assert_eq!(actor["id"], id, "{where_}");
            assert_eq!(actor["upn"], upn, "{where_}");
            return;
        }
    }
    let app = by.and_then(|b| b.get("app")).filter(|a| a.is_object());
    if let Some(a) = app
        && a.as_object()
            .unwrap()
            .values()
            .any(|v| !present(Some(v)).is_null())
    {
        assert_eq!(actor["kind"], "app", "{where_}");
        assert_eq!(
            actor["id"],
            present(a.get("servicePrincipalId")),
            "{where_}"
        );
        assert_eq!(actor["app_id"], present(a.get("appId")), "{where_}");
        return;
    }
    assert_eq!(actor["kind"], "system", "{where_}");
}

fn check_record(where_: &str, e: &Value, r: &Value) {
    assert_eq!(e["source"], "entra-directory-audits", "{where_}");
    assert_eq!(e["record_id"], present(r.get("id")), "{where_}");
    let time = r["activityDateTime"].as_str().expect("corpus time");
    let got = e["time"].as_str().unwrap_or_default();
    assert_eq!(got, expected_time(time), "{where_}");
    assert!(
        got.len() == 24 && got.as_bytes()[19] == b'.' && got.ends_with('Z'),
        "{where_}: {got}"
    );
    assert_eq!(
        e["operation"],
        present(r.get("activityDisplayName")),
        "{where_}"
    );
    assert_eq!(e["category"], present(r.get("category")), "{where_}");
    assert_eq!(e["service"], present(r.get("loggedByService")), "{where_}");
    assert_eq!(e["result"], expected_result(r), "{where_}");
    check_actor(where_, &e["actor"], r);
    let targets = r
        .get("targetResources")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let got = e["targets"].as_array().expect("targets array");
    assert_eq!(
        got.len(),
        targets.len(),
        "{where_}: one target per resource"
    );
    for (g, t) in got.iter().zip(&targets) {
        assert_eq!(g["id"], present(t.get("id")), "{where_}");
        let kind = match present(t.get("type")) {
            Value::Null => present(t.get("Type")),
            k => k,
        };
        assert_eq!(g["kind"], kind, "{where_}");
    }
    assert_eq!(&e["raw"], r, "{where_}: raw is the record");
}

#[test]
fn the_normalizer_conforms_on_the_shared_corpus() {
    let dir = corpus_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        corpus_missing(&dir, "conformance");
        return;
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.is_file());
    files.sort();
    let (mut graph_files, mut envelope_files, mut records) = (0, 0, 0);
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let out = normalize(&[path]);
        match read(path) {
            Content::Graph(expected) => {
                assert_eq!(out.code, 0, "{name}: {}", out.stderr);
                let events = out.events();
                assert_eq!(events.len(), expected.len(), "{name}: one line per record");
                for (i, (e, r)) in events.iter().zip(&expected).enumerate() {
                    check_record(&format!("{name} record {}", i + 1), e, r);
                }
                graph_files += 1;
                records += expected.len();
            }
            Content::Envelope(envelopes) => {
                // The Graph object is under `properties`; `raw` keeps the whole envelope.
                assert_eq!(out.code, 0, "{name}: {}", out.stderr);
                let events = out.events();
                assert_eq!(events.len(), envelopes.len(), "{name}: one line per record");
                for (i, (e, env)) in events.iter().zip(&envelopes).enumerate() {
                    let where_ = format!("{name} record {}", i + 1);
                    let inner = unwrap_envelope(&where_, e, env);
                    check_record(&where_, &inner, &envelope_record(env));
                }
                envelope_files += 1;
                records += envelopes.len();
            }
        }
    }
    assert!(
        graph_files > 0,
        "the corpus at {} holds no Graph-format file",
        dir.display()
    );
    eprintln!(
        "corpus: {graph_files} Graph files and {envelope_files} diagnostic-settings files ({records} records) conform"
    );
}
