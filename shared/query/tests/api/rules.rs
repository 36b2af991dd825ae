//! The rule routes over the router (issue 15): the built-in pack listed, the tenant's rules added,
//! replaced and deleted by the admin role only, a rule that does not load refused naming its line
//! and field, ids that would clash refused, and `POST /rules/{id}/test` raising over stored events
//! exactly what the rule matches.

use axum::http::StatusCode;
use serde_json::json;

use super::support::*;

const RESET_RULE: &str = r#"title: Password reset by anyone
id: tenant-password-reset
status: experimental
tags:
  - attack.t1098
logsource:
  product: auditlake
  service: entra-directory-audits
detection:
  reset:
    auditlake.operation: Reset password
  condition: reset
fields:
  - auditlake.actor.upn
level: medium
"#;

fn body(yaml: &str) -> Option<Vec<u8>> {
    Some(serde_json::to_vec(&json!({ "yaml": yaml })).unwrap())
}

async fn rule_ids(f: &Fixture) -> Vec<(String, String)> {
    let r = get(f, "/rules").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["origin"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_pack_is_listed_with_what_an_analyst_needs() {
    let f = fixture();
    let r = get(&f, "/rules").await;
    let rules = r.body["rules"].as_array().unwrap();
    let pack = detect::pack::builtin().unwrap();
    assert_eq!(rules.len(), pack.rules().count());
    let spray = rules
        .iter()
        .find(|r| r["id"] == "signin-password-spray")
        .expect("listed");
    assert_eq!(spray["kind"], "threshold");
    assert_eq!(spray["origin"], "builtin");
    assert_eq!(spray["source"], "entra-sign-ins");
    assert_eq!(spray["techniques"], json!(["T1110.003"]));
    assert_eq!(spray["severity"], "high");
    assert!(
        rules.iter().all(|r| r["yaml"].is_null()),
        "built-in text is not served"
    );
    // The counted detection raises nothing of its own and is not listed.
    assert!(!rules.iter().any(|r| r["id"] == "signin-failed-password"));
}

#[tokio::test]
async fn tenant_rules_are_added_replaced_and_deleted_by_admins_only() {
    let f = fixture();
    for token in ["reader", "annotator"] {
        let r = call(&f.router, "POST", "/rules", Some(token), body(RESET_RULE)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{token}");
    }
    let r = call(&f.router, "POST", "/rules", Some("admin"), body(RESET_RULE)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["id"], "tenant-password-reset");
    assert_eq!(r.body["origin"], "tenant");
    assert_eq!(r.body["updated_by"], "u-admin");
    assert!(
        rule_ids(&f)
            .await
            .contains(&("tenant-password-reset".into(), "tenant".into()))
    );
    // Again: a conflict, and the stored text is unchanged.
    let r = call(&f.router, "POST", "/rules", Some("admin"), body(RESET_RULE)).await;
    assert_error(
        &r,
        StatusCode::CONFLICT,
        "conflict",
        &["tenant-password-reset"],
    )
    .await;

    let changed = RESET_RULE.replace("level: medium", "level: high");
    let r = call(
        &f.router,
        "PUT",
        "/rules/tenant-password-reset",
        Some("admin"),
        body(&changed),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["severity"], "high");
    // Another id in the text than the path's.
    let other = RESET_RULE.replace("id: tenant-password-reset", "id: tenant-other");
    let r = call(
        &f.router,
        "PUT",
        "/rules/tenant-password-reset",
        Some("admin"),
        body(&other),
    )
    .await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid_rule",
        &["tenant-other", "keeps its id"],
    )
    .await;
    let r = call(
        &f.router,
        "PUT",
        "/rules/tenant-other",
        Some("admin"),
        body(&other),
    )
    .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found", &[]).await;
    // Built-in rules are not changed through the API.
    let r = call(
        &f.router,
        "PUT",
        "/rules/signin-device-code",
        Some("admin"),
        body(RESET_RULE),
    )
    .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict", &["built-in"]).await;
    let r = call(
        &f.router,
        "DELETE",
        "/rules/signin-device-code",
        Some("admin"),
        None,
    )
    .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict", &["built-in"]).await;
    let clash = RESET_RULE.replace("id: tenant-password-reset", "id: signin-device-code");
    let r = call(&f.router, "POST", "/rules", Some("admin"), body(&clash)).await;
    assert_error(
        &r,
        StatusCode::CONFLICT,
        "conflict",
        &["signin-device-code"],
    )
    .await;

    let r = call(
        &f.router,
        "DELETE",
        "/rules/tenant-password-reset",
        Some("annotator"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        &f.router,
        "DELETE",
        "/rules/tenant-password-reset",
        Some("admin"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = call(
        &f.router,
        "DELETE",
        "/rules/tenant-password-reset",
        Some("admin"),
        None,
    )
    .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found", &[]).await;
    assert!(
        !rule_ids(&f)
            .await
            .iter()
            .any(|(id, _)| id == "tenant-password-reset")
    );
}

#[tokio::test]
async fn a_rule_that_does_not_load_is_refused_naming_line_and_field() {
    let f = fixture();
    // An unknown logsource: the message names the line of `logsource` and the field.
    let bad = RESET_RULE.replace("product: auditlake", "product: windows");
    let r = call(&f.router, "POST", "/rules", Some("admin"), body(&bad)).await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid_rule",
        &[":6", "field `logsource`", "windows"],
    )
    .await;
    // Not YAML at all.
    let r = call(
        &f.router,
        "POST",
        "/rules",
        Some("admin"),
        body("title: [unclosed"),
    )
    .await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid_rule",
        &["does not load"],
    )
    .await;
    // Two raising rules in one text.
    let two = format!(
        "{RESET_RULE}---\n{}",
        RESET_RULE.replace("id: tenant-password-reset", "id: tenant-second")
    );
    let r = call(&f.router, "POST", "/rules", Some("admin"), body(&two)).await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid_rule",
        &["exactly one"],
    )
    .await;
    // A threshold over more than a day.
    let long = r#"title: base
id: tenant-base
name: tenant_base
logsource:
  product: auditlake
  service: entra-sign-ins
detection:
  f:
    auditlake.result: failure
  condition: f
level: low
---
title: Many failures over a week
id: tenant-weekly
correlation:
  type: event_count
  rules:
    - tenant_base
  group-by:
    - auditlake.actor.upn
  timespan: 7d
  condition:
    gte: 100
level: medium
"#;
    let r = call(&f.router, "POST", "/rules", Some("admin"), body(long)).await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid_rule",
        &["timespan", "24 hours"],
    )
    .await;
    assert!(
        rule_ids(&f).await.iter().all(|(_, o)| o == "builtin"),
        "nothing stored"
    );
    let r = call(
        &f.router,
        "POST",
        "/rules",
        Some("admin"),
        Some(br#"{"text":"x"}"#.to_vec()),
    )
    .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_body", &[]).await;
}

#[tokio::test]
async fn a_rule_test_raises_over_stored_events_exactly_what_the_rule_matches() {
    let f = fixture();
    let events = seed(&f).await;
    let r = call(&f.router, "POST", "/rules", Some("admin"), body(RESET_RULE)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let day_ago = now() - chrono::TimeDelta::days(1);
    let want = ids_where(&events, |e| {
        e.source == domain::model::Source::EntraDirectoryAudits
            && e.operation == "Reset password"
            && e.time >= day_ago
    });
    assert!(want.len() >= 5, "the seed has resets in the last day");
    let r = call(
        &f.router,
        "POST",
        "/rules/tenant-password-reset/test",
        Some("admin"),
        Some(b"{}".to_vec()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let got: std::collections::BTreeSet<String> = r.body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["event_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, want);
    assert_eq!(r.body["complete"], true);
    let directory_in_day = ids_where(&events, |e| {
        e.source == domain::model::Source::EntraDirectoryAudits && e.time >= day_ago
    });
    assert_eq!(
        r.body["events"],
        directory_in_day.len() as u64,
        "only the rule's source is read"
    );
    // Nothing was stored.
    assert!(f.alerts.all().is_empty());
    // Only admins; a range over 7 days is refused; an unknown rule is a 404.
    let r = call(
        &f.router,
        "POST",
        "/rules/tenant-password-reset/test",
        Some("annotator"),
        Some(b"{}".to_vec()),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        &f.router,
        "POST",
        "/rules/tenant-password-reset/test",
        Some("admin"),
        Some(br#"{"start":"2024-04-01","end":"2024-05-01"}"#.to_vec()),
    )
    .await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &["7 days"],
    )
    .await;
    let r = call(
        &f.router,
        "POST",
        "/rules/no-such-rule/test",
        Some("admin"),
        Some(b"{}".to_vec()),
    )
    .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found", &[]).await;
    // A built-in rule runs too (nothing in the seed is a device-code sign-in).
    let r = call(
        &f.router,
        "POST",
        "/rules/signin-device-code/test",
        Some("admin"),
        Some(b"{}".to_vec()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["alerts"], json!([]));
    assert!(r.body["events"].as_u64().unwrap() > 0);
}
