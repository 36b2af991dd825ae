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
            content_types: Vec::new(),
            analytics_limit: std::time::Duration::from_secs(25),
            alert_retention: TimeDelta::days(365),
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
    let alert = domain::alert::Alert {
        id: domain::alert::alert_id("signin-device-code", &["e"]),
        rule_id: "signin-device-code".into(),
        title: "t".into(),
        severity: domain::alert::Severity::High,
        techniques: vec![],
        event_id: crate::support::seeded_id(1),
        record_id: None,
        event_ids: vec![crate::support::seeded_id(1)],
        group: None,
        summary: domain::alert::AlertSummary {
            actor: None,
            operation: "op".into(),
            targets: vec![],
            source: "entra-sign-ins".into(),
            time: crate::support::now(),
        },
        fields: Default::default(),
    };
    domain::alert::AlertStore::put_new(f.alerts.as_ref(), &alert, crate::support::now())
        .await
        .unwrap();
    let rule = serde_json::to_vec(&serde_json::json!({"yaml": "title: t\nid: tenant-x\nlogsource:\n  product: auditlake\n  service: entra-sign-ins\ndetection:\n  s:\n    auditlake.result: failure\n  condition: s\nlevel: low\n"})).unwrap();
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
        // Alert routes name the stored alert; rule routes the tenant rule `POST /rules` adds
        // (the test route a built-in one: `DELETE` has removed the tenant's by then).
        let id = if path.starts_with("/alerts") {
            alert.id.clone()
        } else if *path == "/rules/{id}/test" {
            "signin-device-code".to_string()
        } else if path.starts_with("/rules") {
            "tenant-x".to_string()
        } else {
            crate::support::seeded_id(1)
        };
        let uri = path
            .replace("{id}", &id)
            .replace("{query}", "consent_grants");
        let body = match (*method, *path) {
            ("patch", "/alerts/{id}") => Some(br#"{"status":"closed"}"#.to_vec()),
            ("patch", _) => Some(br#"{"add":["x"]}"#.to_vec()),
            ("post", "/analytics/{query}") => {
                Some(br#"{"start_date":"2024-05-01","end_date":"2024-05-07"}"#.to_vec())
            }
            ("post", "/rules") | ("put", _) => Some(rule.clone()),
            ("post", "/rules/{id}/test") => Some(b"{}".to_vec()),
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

/// A token check that cannot reach its issuer: every guarded route answers 503.
struct IssuerDown;

#[async_trait::async_trait]
impl query::auth::Authenticator for IssuerDown {
    async fn authenticate(
        &self,
        _: Option<&str>,
    ) -> Result<query::auth::Principal, query::auth::AuthError> {
        Err(query::auth::AuthError::Unavailable(
            "the key set cannot be fetched".into(),
        ))
    }
}

/// The operation `method path` of the document.
fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    &doc["paths"][path][method]
}

/// The status codes `method path` documents, each with the error body when it is an error.
fn documented(doc: &Value, method: &str, path: &str) -> Vec<u16> {
    let responses = operation(doc, method, path)["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} documents no responses"));
    let mut codes: Vec<u16> = responses.keys().filter_map(|k| k.parse().ok()).collect();
    codes.sort();
    for code in codes.iter().filter(|c| **c >= 400) {
        let schema = &responses[&code.to_string()]["content"]["application/json"]["schema"];
        let name = schema["$ref"].as_str().unwrap_or_default();
        let health = path == "/health" && name.ends_with("/HealthView");
        assert!(
            name.ends_with("/ErrorBody") || health,
            "{method} {path} {code}: documented without the JSON error body: {schema}"
        );
    }
    codes
}

/// Statuses each guarded route must document, whatever the request: 401 (no or a bad token,
/// with `WWW-Authenticate`), 403 (the role), 503 (the issuer's keys cannot be fetched), and for
/// the routes that read or write the stores 500 (a corrupt item). And 400 where the route reads
/// input (query parameters, a path id or a body).
const MUST_DOCUMENT: &[(&str, &str, &[u16])] = &[
    ("get", "/events", &[400, 401, 403, 500, 503]),
    ("get", "/events/{id}", &[400, 401, 403, 404, 500, 503]),
    ("get", "/filter-options", &[400, 401, 403, 500, 503]),
    ("get", "/sources", &[401, 403, 500, 503]),
    ("get", "/summary", &[400, 401, 403, 500, 503]),
    (
        "patch",
        "/events/{id}/tags",
        &[400, 401, 403, 404, 413, 500, 503],
    ),
    (
        "post",
        "/events/{id}/comments",
        &[400, 401, 403, 404, 413, 500, 503],
    ),
    ("get", "/analytics", &[401, 403, 503]),
    (
        "post",
        "/analytics/{query}",
        &[400, 401, 403, 404, 413, 502, 503, 504],
    ),
    ("get", "/alerts", &[400, 401, 403, 500, 503]),
    ("get", "/alerts/{id}", &[400, 401, 403, 404, 500, 503]),
    (
        "patch",
        "/alerts/{id}",
        &[400, 401, 403, 404, 413, 500, 503],
    ),
    (
        "post",
        "/alerts/{id}/comments",
        &[400, 401, 403, 404, 413, 500, 503],
    ),
    ("get", "/rules", &[401, 403, 500, 503]),
    ("post", "/rules", &[400, 401, 403, 409, 413, 500, 503]),
    (
        "put",
        "/rules/{id}",
        &[400, 401, 403, 404, 409, 413, 500, 503],
    ),
    (
        "delete",
        "/rules/{id}",
        &[400, 401, 403, 404, 409, 500, 503],
    ),
    (
        "post",
        "/rules/{id}/test",
        &[400, 401, 403, 404, 413, 500, 503],
    ),
    ("get", "/health", &[503]),
];

#[tokio::test]
async fn every_route_documents_the_failures_it_can_answer() {
    let doc = served_document().await;
    for (method, path, must) in MUST_DOCUMENT {
        let codes = documented(&doc, method, path);
        for code in *must {
            assert!(
                codes.contains(code),
                "{method} {path} does not document {code} (documents {codes:?})"
            );
        }
        let op = operation(&doc, method, path);
        if codes.contains(&401) {
            assert!(
                op["responses"]["401"]["headers"]["WWW-Authenticate"].is_object(),
                "{method} {path}: the 401 does not document WWW-Authenticate"
            );
            assert_eq!(op["security"], serde_json::json!([{"bearer": []}]));
        }
    }
    // Every guarded route of the router is in the table.
    let guarded = ROUTES
        .iter()
        .filter(|(_, p)| !["/health", "/version", "/openapi.json"].contains(p))
        .count();
    assert_eq!(guarded + 1, MUST_DOCUMENT.len());
}

/// Provokes the failures from outside and checks the document names each status answered.
#[tokio::test]
async fn every_failure_the_router_answers_is_documented() {
    let doc = served_document().await;
    let f = fixture();
    seed(&f).await;
    let down = crate::support::fixture_with(100, Arc::new(IssuerDown), false);
    let big = Some(vec![b' '; query::MAX_BODY_BYTES + 1]);
    let tags = || Some(br#"{"add":["x"]}"#.to_vec());
    let comment = || Some(br#"{"text":"x"}"#.to_vec());
    let hunt = || Some(br#"{"start_date":"2024-05-01","end_date":"2024-05-07"}"#.to_vec());
    type Probe = (&'static str, &'static str, String, Option<Vec<u8>>, u16);
    let id = &crate::support::seeded_id(1);
    let mut probes: Vec<Probe> = vec![
        ("get", "/events", "/events?page_size=0".into(), None, 400),
        ("get", "/events", "/events?nope=1".into(), None, 400),
        ("get", "/events", "/events?cursor=abc".into(), None, 400),
        ("get", "/events/{id}", "/events/nope".into(), None, 400),
        (
            "get",
            "/events/{id}",
            format!("/events/{}", crate::support::MISSING_ID),
            None,
            404,
        ),
        (
            "get",
            "/filter-options",
            "/filter-options?days=0".into(),
            None,
            400,
        ),
        ("get", "/summary", "/summary?days=367".into(), None, 400),
        (
            "patch",
            "/events/{id}/tags",
            "/events/nope/tags".into(),
            tags(),
            400,
        ),
        (
            "patch",
            "/events/{id}/tags",
            format!("/events/{id}/tags"),
            Some(b"{}".to_vec()),
            400,
        ),
        (
            "patch",
            "/events/{id}/tags",
            format!("/events/{}/tags", crate::support::MISSING_ID),
            tags(),
            404,
        ),
        (
            "patch",
            "/events/{id}/tags",
            format!("/events/{id}/tags"),
            big.clone(),
            413,
        ),
        (
            "post",
            "/events/{id}/comments",
            format!("/events/{id}/comments"),
            Some(br#"{"text":" "}"#.to_vec()),
            400,
        ),
        (
            "post",
            "/events/{id}/comments",
            format!("/events/{}/comments", crate::support::MISSING_ID),
            comment(),
            404,
        ),
        (
            "post",
            "/events/{id}/comments",
            format!("/events/{id}/comments"),
            big.clone(),
            413,
        ),
        (
            "post",
            "/analytics/{query}",
            "/analytics/consent_grants".into(),
            Some(b"[1]".to_vec()),
            400,
        ),
        (
            "post",
            "/analytics/{query}",
            "/analytics/no_such".into(),
            hunt(),
            404,
        ),
        (
            "post",
            "/analytics/{query}",
            "/analytics/consent_grants".into(),
            big.clone(),
            413,
        ),
    ];
    // The alert and rule routes' own failures.
    let missing_alert = format!("/alerts/{}", domain::alert::alert_id("nothing", &[]));
    let rule = |id: &str| {
        Some(
            serde_json::to_vec(&serde_json::json!({"yaml": format!(
                "title: t\nid: {id}\nlogsource:\n  product: auditlake\n  service: entra-sign-ins\ndetection:\n  s:\n    auditlake.result: failure\n  condition: s\nlevel: low\n"
            )}))
            .unwrap(),
        )
    };
    let status = || Some(br#"{"status":"closed"}"#.to_vec());
    probes.extend::<Vec<Probe>>(vec![
        (
            "get",
            "/alerts",
            "/alerts?severity=urgent".into(),
            None,
            400,
        ),
        ("get", "/alerts/{id}", "/alerts/nope".into(), None, 400),
        ("get", "/alerts/{id}", missing_alert.clone(), None, 404),
        (
            "patch",
            "/alerts/{id}",
            "/alerts/nope".into(),
            status(),
            400,
        ),
        (
            "patch",
            "/alerts/{id}",
            missing_alert.clone(),
            status(),
            404,
        ),
        (
            "patch",
            "/alerts/{id}",
            missing_alert.clone(),
            big.clone(),
            413,
        ),
        (
            "post",
            "/alerts/{id}/comments",
            "/alerts/nope/comments".into(),
            comment(),
            400,
        ),
        (
            "post",
            "/alerts/{id}/comments",
            format!("{missing_alert}/comments"),
            comment(),
            404,
        ),
        (
            "post",
            "/alerts/{id}/comments",
            format!("{missing_alert}/comments"),
            big.clone(),
            413,
        ),
        (
            "post",
            "/rules",
            "/rules".into(),
            Some(br#"{"yaml":"title: ["}"#.to_vec()),
            400,
        ),
        (
            "post",
            "/rules",
            "/rules".into(),
            rule("signin-device-code"),
            409,
        ),
        ("post", "/rules", "/rules".into(), big.clone(), 413),
        ("put", "/rules/{id}", "/rules/a:b".into(), rule("a"), 400),
        (
            "put",
            "/rules/{id}",
            "/rules/tenant-x".into(),
            rule("tenant-x"),
            404,
        ),
        (
            "put",
            "/rules/{id}",
            "/rules/signin-device-code".into(),
            rule("signin-device-code"),
            409,
        ),
        (
            "put",
            "/rules/{id}",
            "/rules/tenant-x".into(),
            big.clone(),
            413,
        ),
        ("delete", "/rules/{id}", "/rules/a:b".into(), None, 400),
        ("delete", "/rules/{id}", "/rules/tenant-x".into(), None, 404),
        (
            "delete",
            "/rules/{id}",
            "/rules/signin-device-code".into(),
            None,
            409,
        ),
        (
            "post",
            "/rules/{id}/test",
            "/rules/a:b/test".into(),
            Some(b"{}".to_vec()),
            400,
        ),
        (
            "post",
            "/rules/{id}/test",
            "/rules/tenant-x/test".into(),
            Some(b"{}".to_vec()),
            404,
        ),
        (
            "post",
            "/rules/{id}/test",
            "/rules/signin-device-code/test".into(),
            big.clone(),
            413,
        ),
    ]);
    // Every guarded route: no token (401), a token without the role (403), the issuer down (503).
    for (method, path) in ROUTES {
        if ["/health", "/version", "/openapi.json"].contains(path) {
            continue;
        }
        let uri = path
            .replace("{id}", id)
            .replace("{query}", "consent_grants");
        let body = match (*method, *path) {
            ("patch", _) => tags(),
            ("post", "/analytics/{query}") => hunt(),
            ("put", _) | ("post", "/rules") => rule("tenant-x"),
            ("post", _) => comment(),
            _ => None,
        };
        for status in [401, 403, 503] {
            probes.push((method, path, uri.clone(), body.clone(), status));
        }
    }
    for (method, path, uri, body, want) in probes {
        let (router, token) = match want {
            401 => (&f.router, None),
            403 if method == "get" => (&f.router, Some("nobody")),
            403 => (&f.router, Some("reader")),
            503 => (&down.router, Some("admin")),
            _ => (&f.router, Some("admin")),
        };
        let r = call(router, &method.to_uppercase(), &uri, token, body).await;
        assert_eq!(r.status.as_u16(), want, "{method} {uri}: {}", r.body);
        assert!(
            r.body["error"]["code"].is_string(),
            "{method} {uri}: {want} without the error body: {}",
            r.body
        );
        let codes = documented(&doc, method, path);
        assert!(
            codes.contains(&want),
            "{method} {path} answered {want} ({uri}) but documents only {codes:?}"
        );
    }
}

/// The limits the handlers enforce are in the document, and the vocabularies match the core's.
#[tokio::test]
async fn the_document_states_the_limits_and_vocabularies() {
    let doc = served_document().await;
    let param = |method: &str, path: &str, name: &str| -> Value {
        operation(&doc, method, path)["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))["schema"]
            .clone()
    };
    let events = |name: &str| param("get", "/events", name);
    assert_eq!(
        (
            events("page_size")["minimum"].as_u64(),
            events("page_size")["maximum"].as_u64()
        ),
        (Some(1), Some(500))
    );
    assert_eq!(events("q")["maxLength"].as_u64(), Some(200));
    for path in ["/filter-options", "/summary"] {
        let days = param("get", path, "days");
        assert_eq!(
            (days["minimum"].as_u64(), days["maximum"].as_u64()),
            (Some(1), Some(366)),
            "{path}"
        );
    }
    for (method, path) in [
        ("get", "/events/{id}"),
        ("patch", "/events/{id}/tags"),
        ("post", "/events/{id}/comments"),
    ] {
        let id = param(method, path, "id");
        assert_eq!(id["maxLength"].as_u64(), Some(2048), "{method} {path}");
        let pattern = id["pattern"].as_str().unwrap();
        for s in domain::model::Source::ALL {
            assert!(
                pattern.contains(&format!("{}|", s.name()))
                    || pattern.contains(&format!("{}):", s.name())),
                "{pattern} lacks {s}"
            );
        }
    }
    let names = |v: &Value| -> Vec<String> {
        v["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    let sources: Vec<String> = domain::model::Source::ALL
        .iter()
        .map(|s| s.name().to_string())
        .collect();
    let source = events("source");
    let source = if source["enum"].is_array() {
        source
    } else {
        source["oneOf"][0].clone()
    };
    assert_eq!(names(&source), sources);
    let results: Vec<String> = ["success", "failure", "partial", "unknown"]
        .iter()
        .map(|r| {
            let parsed: domain::model::EventResult =
                serde_json::from_value(Value::from(*r)).unwrap();
            serde_json::to_value(parsed)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let result = events("result");
    let result = if result["enum"].is_array() {
        result
    } else {
        result["oneOf"][0].clone()
    };
    assert_eq!(names(&result), results);
    // The alert filters' vocabularies are the core's.
    let one_of = |v: Value| {
        if v["enum"].is_array() {
            v
        } else {
            v["oneOf"][0].clone()
        }
    };
    let severities: Vec<String> = domain::alert::Severity::ALL
        .iter()
        .map(|s| s.name().to_string())
        .collect();
    assert_eq!(
        names(&one_of(param("get", "/alerts", "severity"))),
        severities
    );
    let statuses: Vec<String> = domain::triage::AlertStatus::ALL
        .iter()
        .map(|s| s.name().to_string())
        .collect();
    assert_eq!(names(&one_of(param("get", "/alerts", "status"))), statuses);
    assert_eq!(
        doc["components"]["schemas"]["RuleBody"]["properties"]["yaml"]["maxLength"].as_u64(),
        Some(32 * 1024)
    );

    let schemas = &doc["components"]["schemas"];
    for body in ["add", "remove"] {
        assert_eq!(
            schemas["TagsBody"]["properties"][body]["maxItems"].as_u64(),
            Some(50)
        );
    }
    let text = &schemas["CommentBody"]["properties"]["text"];
    assert_eq!(
        (text["minLength"].as_u64(), text["maxLength"].as_u64()),
        (Some(1), Some(4000))
    );
    for name in ["Summary", "FilterOptions"] {
        assert!(
            schemas[name]["properties"]["partial"]["type"] == "boolean",
            "{name} does not document `partial`: {}",
            schemas[name]
        );
    }
}
