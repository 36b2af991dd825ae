//! What the CLI tests share: running the `auditlake` binary as a process and reading what it
//! printed, the hand-written fixtures under `tests/fixtures/`, reading a fixture or corpus file's
//! records without auditlake's help, the diagnostic-settings envelope helpers, and the rule for
//! tests that read the shared corpus.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// What one CLI run produced.
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Each stdout line parsed as one AuditEvent JSON object.
    pub fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("stdout line is not one JSON object ({e}): {l}"));
                assert!(v.is_object(), "{l}");
                v
            })
            .collect()
    }

    pub fn record_ids(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| e["record_id"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs `auditlake <args>` with `stdin` fed from a thread (so a large output cannot stall it).
pub fn auditlake(args: &[&str], stdin: Option<Vec<u8>>) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_auditlake"))
        .args(args)
        .env_remove("AUDITLAKE_TENANT_ID")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("auditlake runs");
    let writer = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let out = child.wait_with_output().expect("auditlake finishes");
    if let Some(w) = writer {
        w.join().unwrap();
    }
    Outcome {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    }
}

/// The records of a fixture or corpus file, parsed without auditlake's help.
pub fn records_in(path: &Path) -> Vec<Value> {
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
    records
}

/// Checks that an event read from a diagnostic-settings record kept the whole record as `raw`
/// and took the envelope's tenant, and returns the event as if read from the Graph object alone
/// (`raw` = [`envelope_record`]), for the per-source field checks.
pub fn unwrap_envelope(
    where_: &str,
    event: &serde_json::Value,
    envelope: &serde_json::Value,
) -> serde_json::Value {
    assert_eq!(
        &event["raw"], envelope,
        "{where_}: raw keeps the whole envelope record"
    );
    if let Some(t) = envelope.get("tenantId").and_then(|t| t.as_str()) {
        assert_eq!(event["tenant_id"], t, "{where_}: tenant from the envelope");
    }
    let mut inner = event.clone();
    inner["raw"] = envelope_record(envelope);
    inner
}

/// The Graph object of a diagnostic-settings record, with the sign-in kind its log category
/// names made explicit (as Graph's beta `signInEventTypes`), since the category is what tells a
/// managed identity's sign-in from a service principal's in this export.
pub fn envelope_record(envelope: &serde_json::Value) -> serde_json::Value {
    let mut record = envelope["properties"].clone();
    let kind = match envelope.get("category").and_then(|c| c.as_str()) {
        Some("SignInLogs") => Some("interactiveUser"),
        Some("NonInteractiveUserSignInLogs") => Some("nonInteractiveUser"),
        Some("ServicePrincipalSignInLogs" | "MicrosoftServicePrincipalSignInLogs") => {
            Some("servicePrincipal")
        }
        Some("ManagedIdentitySignInLogs") => Some("managedIdentity"),
        _ => None,
    };
    if let (Some(kind), Some(obj)) = (kind, record.as_object_mut()) {
        obj.insert("signInEventTypes".into(), serde_json::json!([kind]));
    }
    record
}

pub use testkit::corpus::corpus_missing;

/// The id an event printed by `normalize` must have: its source, its own time to the second
/// (`YYYYMMDDTHHMMSSZ`) and its key (`shared/domain/src/store/keys.rs`, `event_id`).
pub fn expected_id(source: &str, e: &serde_json::Value, key: &str) -> String {
    let t = e["time"].as_str().expect("event time");
    let compact: String = t[..19]
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    format!("{source}:{compact}Z-{key}")
}
