//! The query API's OpenAPI document validates: the router's `GET /openapi.json` is written to a
//! file and checked by `openapi-spec-validator` (pinned in `requirements-tools.txt`, installed
//! into `.venv` by `scripts/lib.sh`'s `ensure_venv`; `AUDITLAKE_TOOLS_PYTHON` points at another
//! interpreter that has it). When the validator is missing the tests say so and pass, except
//! under CI (`CI` set), where a missing validator is a failure. A second test corrupts the
//! document and checks that the same function rejects it, so a validator that accepts anything
//! cannot pass unnoticed. A third test checks that the document lists every route the router
//! serves, each of which answers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeDelta, TimeZone, Utc};
use http_body_util::BodyExt;
use query::auth::Disabled;
use query::{QueryApp, QueryPorts, QuerySettings, ROUTES, router};
use serde_json::Value;
use testkit::clock::ManualClock;
use testkit::memory::{MemoryEventStore, MemoryStateStore};
use tower::ServiceExt;

use crate::support::{call, fixture, seed};

/// What the validator said about a document.
#[derive(Debug)]
enum Verdict {
    Valid,
    Invalid(String),
    /// The validator could not be run (no interpreter, or no `openapi_spec_validator` module).
    Unavailable(String),
}

/// The Python interpreter that has the project's pinned tools.
fn tools_python() -> PathBuf {
    std::env::var_os("AUDITLAKE_TOOLS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"))
}

/// Runs `python -m openapi_spec_validator FILE` (exit 0: valid; otherwise its message).
fn validate_file(python: &Path, file: &Path) -> Verdict {
    if !python.exists() {
        return Verdict::Unavailable(format!("no Python at {}", python.display()));
    }
    let probe = Command::new(python)
        .args(["-c", "import openapi_spec_validator"])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Verdict::Unavailable(format!(
                "{} has no openapi_spec_validator module: {}",
                python.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Err(e) => return Verdict::Unavailable(format!("cannot run {}: {e}", python.display())),
    }
    match Command::new(python)
        .args(["-m", "openapi_spec_validator"])
        .arg(file)
        .output()
    {
        Ok(o) if o.status.success() => Verdict::Valid,
        Ok(o) => Verdict::Invalid(format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout).trim(),
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Verdict::Unavailable(format!("cannot run {}: {e}", python.display())),
    }
}

/// Writes `doc` to a temporary file and validates it.
fn validate(doc: &Value) -> Verdict {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(doc).unwrap()).expect("write openapi.json");
    validate_file(&tools_python(), &file)
}

/// `true` when the validator ran; panics under CI when it could not.
fn ran(verdict: &Verdict) -> bool {
    if let Verdict::Unavailable(why) = verdict {
        let fix = "run scripts/test (its ensure_venv installs requirements-tools.txt into .venv), \
                   or set AUDITLAKE_TOOLS_PYTHON to a Python with openapi-spec-validator";
        if std::env::var_os("CI").is_some() {
            panic!("the OpenAPI validator is required under CI but is missing: {why}; {fix}");
        }
        eprintln!("skipping OpenAPI validation: {why}; {fix}");
        return false;
    }
    true
}

/// The router's `GET /openapi.json` (the document needs no token).
async fn served_document() -> Value {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2024, 5, 10, 12, 0, 0).unwrap(),
    ));
    let app = QueryApp::new(
        QueryPorts::over(
            Arc::new(MemoryEventStore::default()),
            Arc::new(MemoryStateStore::default()),
            Arc::new(Disabled),
            clock,
        ),
        QuerySettings {
            tenant_id: "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35".into(),
            group_roles: vec![],
            auth_disabled: true,
            hot_retention: TimeDelta::days(90),
            read_budget: 100,
            signin_kinds: vec![domain::stream::SignInKind::InteractiveUser],
            analytics_limit: std::time::Duration::from_secs(25),
        },
        b"test cursor key",
    );
    let req = Request::builder()
        .uri("/openapi.json")
        .body(Body::empty())
        .unwrap();
    let resp = router(app).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).expect("openapi.json is JSON")
}

#[tokio::test]
async fn the_served_openapi_document_validates() {
    let doc = served_document().await;
    assert!(
        doc["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3.1"),
        "utoipa emits OpenAPI 3.1 (what the pinned validator is chosen for): {}",
        doc["openapi"]
    );
    let verdict = validate(&doc);
    if ran(&verdict) {
        assert!(
            matches!(verdict, Verdict::Valid),
            "GET /openapi.json is not a valid OpenAPI document: {verdict:?}"
        );
    }
}

#[tokio::test]
async fn a_corrupted_document_is_rejected() {
    let mut doc = served_document().await;
    // A dangling reference, a response without its required description, and a bad version.
    let paths = doc["paths"].as_object_mut().unwrap();
    let (_, item) = paths.iter_mut().next().expect("at least one path");
    item["get"]["responses"]["200"] = serde_json::json!({
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Nope"}}}
    });
    let verdict = validate(&doc);
    if ran(&verdict) {
        assert!(
            matches!(&verdict, Verdict::Invalid(m) if !m.is_empty()),
            "a corrupted document passed validation: {verdict:?}"
        );
    }
    let mut doc = served_document().await;
    doc["openapi"] = "3.1.0-not-a-version".into();
    doc.as_object_mut().unwrap().remove("info");
    let verdict = validate(&doc);
    if ran(&verdict) {
        assert!(
            matches!(verdict, Verdict::Invalid(_)),
            "a document without info passed validation: {verdict:?}"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_the_router_serves() {
    let f = fixture();
    seed(&f).await;
    let doc = call(&f.router, "GET", "/openapi.json", None, None)
        .await
        .body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = 0;
    for (path, item) in paths {
        documented += item
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| ["get", "post", "patch", "put", "delete"].contains(&k.as_str()))
            .count();
        let _ = path;
    }
    assert_eq!(documented, ROUTES.len(), "documented operations vs routes");
    for (method, path) in ROUTES {
        assert!(
            paths[*path].get(*method).is_some(),
            "{method} {path} is not in openapi.json"
        );
        let uri = path
            .replace("{id}", "entra-sign-ins:k000001")
            .replace("{query}", "consent_grants");
        let body = match (*method, *path) {
            ("patch", _) => Some(br#"{"add":["x"]}"#.to_vec()),
            ("post", "/analytics/{query}") => {
                Some(br#"{"start_date":"2024-05-01","end_date":"2024-05-07"}"#.to_vec())
            }
            ("post", _) => Some(br#"{"text":"x"}"#.to_vec()),
            _ => None,
        };
        let r = call(&f.router, &method.to_uppercase(), &uri, Some("admin"), body).await;
        assert!(
            r.status.is_success(),
            "{method} {path} is not served: {} {}",
            r.status,
            r.body
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

/// `Comment` is declared in the core without a schema derive; the document's `Comment` schema is
/// a mirror beside the routes. The two must name the same fields, the same ones required.
#[tokio::test]
async fn the_comment_schema_matches_the_comment_the_api_serializes() {
    let doc = served_document().await;
    let schema = &doc["components"]["schemas"]["Comment"];
    let mut declared: Vec<&str> = schema["properties"]
        .as_object()
        .expect("Comment has properties")
        .keys()
        .map(String::as_str)
        .collect();
    declared.sort();
    let comment = domain::read::Comment {
        id: "c".into(),
        author: "a".into(),
        author_name: None,
        text: "t".into(),
        created_at: "2024-05-10T12:00:00.000Z".into(),
    };
    let json = serde_json::to_value(&comment).unwrap();
    let mut serialized: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    serialized.sort();
    assert_eq!(declared, serialized);
    let mut required: Vec<&str> = schema["required"]
        .as_array()
        .expect("Comment lists required fields")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    required.sort();
    assert_eq!(required, ["author", "created_at", "id", "text"]);
}
