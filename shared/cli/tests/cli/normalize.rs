//! `auditlake normalize --source entra-directory-audits`, run as a process the way an operator
//! runs it, on the hand-written fixtures in `tests/fixtures/`: Graph list responses, JSON arrays,
//! single records, NDJSON kept byte for byte, stdin, several files, bad lines and records named by
//! line or index, byte order marks, the diagnostic-settings envelope, and usage and I/O errors.

use std::path::Path;

use serde_json::Value;

use crate::support::{Outcome, auditlake, fixture};
/// `auditlake normalize --source entra-directory-audits <files>`.
pub fn normalize(files: &[&Path]) -> Outcome {
    let mut args = vec!["normalize", "--source", "entra-directory-audits"];
    let names: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
    args.extend(names);
    auditlake(&args, None)
}

/// The records of a fixture, parsed independently of auditlake.
fn records_of(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    if let Ok(v) = serde_json::from_str::<Value>(&text) {
        return match v {
            Value::Array(a) => a,
            Value::Object(ref m) if m.contains_key("value") => {
                m["value"].as_array().unwrap().clone()
            }
            other => vec![other],
        };
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ids_of(name: &str) -> Vec<String> {
    records_of(name)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// Every event is one line, keeps the record as `raw`, and names the source.
fn assert_events_match(out: &Outcome, fixture_name: &str) {
    let records = records_of(fixture_name);
    let events = out.events();
    assert_eq!(events.len(), records.len(), "{}", out.stderr);
    for (e, r) in events.iter().zip(&records) {
        assert_eq!(e["source"], "entra-directory-audits");
        assert_eq!(e["record_id"], r["id"]);
        assert_eq!(
            e["id"],
            crate::support::expected_id("entra-directory-audits", e, r["id"].as_str().unwrap())
        );
        assert_eq!(&e["raw"], r, "raw is the record as received");
        assert_eq!(e["operation"], r["activityDisplayName"]);
    }
}

#[test]
fn a_graph_list_response_file() {
    let out = normalize(&[&fixture("list-response.json")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 3, "one line per record");
    assert_events_match(&out, "list-response.json");
    assert!(
        out.stderr.contains("3 normalized, 0 quarantined"),
        "{}",
        out.stderr
    );
    let e = out.events();
    assert_eq!(e[0]["tenant_id"], "unknown");
    assert_eq!(e[0]["time"], "2024-05-10T08:15:42.345Z");
    assert_eq!(e[0]["result"], "success");
    assert_eq!(e[0]["result_reason"], Value::Null, "empty reason is absent");
    assert_eq!(e[0]["actor"]["kind"], "user");
    assert_eq!(e[0]["actor"]["upn"], "hana@fabrikam.example");
    assert_eq!(e[0]["actor"]["id"], "a1b2c3d4-1111-4aaa-8bbb-000000000001");
    assert_eq!(e[0]["client_ip"], "198.51.100.10");
    assert_eq!(e[0]["user_agent"], "Mozilla/5.0 (Windows NT 10.0)");
    assert_eq!(e[0]["targets"][0]["kind"], "User");
    assert_eq!(e[0]["targets"][0]["name"], "Olaf Operator");

    assert_eq!(e[1]["result"], "failure");
    assert_eq!(
        e[1]["result_reason"],
        "Microsoft.Online.Workflows.ObjectNotFound"
    );
    assert_eq!(e[1]["actor"]["kind"], "app");
    assert_eq!(e[1]["actor"]["id"], "d4e5f6a7-4444-4ddd-8eee-000000000004");
    assert_eq!(
        e[1]["actor"]["app_id"],
        "c3d4e5f6-3333-4ccc-8ddd-000000000003"
    );
    assert_eq!(e[1]["actor"]["name"], "Provisioning Robot");
    assert_eq!(e[1]["client_ip"], Value::Null);
    let kinds: Vec<&str> = e[1]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ServicePrincipal", "Group"]);
    assert_eq!(
        e[1]["details"]["modified_properties"][0]["new_value"],
        "[false]"
    );

    assert_eq!(e[2]["actor"]["kind"], "system");
    assert_eq!(e[2]["result"], "failure", "timeout is a failure");
    assert_eq!(
        e[2]["time"], "2024-05-10T08:20:30.500Z",
        "offsets are converted to UTC"
    );
    assert_eq!(e[2]["service"], "Conditional Access");
    assert_eq!(e[2]["targets"], serde_json::json!([]));
}

#[test]
fn a_json_array_file_with_a_tenant() {
    let path = fixture("array.json");
    let out = auditlake(
        &[
            "normalize",
            "--source",
            "entra-directory-audits",
            "--tenant",
            "99999999-8888-4777-8666-555555555555",
            path.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_events_match(&out, "array.json");
    for e in out.events() {
        assert_eq!(e["tenant_id"], "99999999-8888-4777-8666-555555555555");
    }
    let e = out.events();
    assert_eq!(e[0]["time"], "2024-05-11T01:02:03.004Z");
    assert_eq!(e[0]["client_ip"], "2001:db8::7");
    assert_eq!(e[0]["targets"][1]["name"], "fay@fabrikam.example");
    assert_eq!(
        e[1]["time"], "2024-05-11T01:05:00.999Z",
        "fractions are truncated, not rounded"
    );
}

#[test]
fn a_single_pretty_printed_record() {
    let out = normalize(&[&fixture("single-record.json")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1, "one line: {}", out.stdout);
    assert_events_match(&out, "single-record.json");
    let e = &out.events()[0];
    assert_eq!(e["time"], "2024-05-12T23:59:59.999Z");
    assert_eq!(e["service"], "PIM");
    assert_eq!(
        e["details"]["additional_details"]["RoleDefinitionOriginType"],
        "BuiltInRole"
    );
}

#[test]
fn an_ndjson_file_keeps_each_record_byte_for_byte() {
    let path = fixture("records.ndjson");
    let out = normalize(&[&path]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_events_match(&out, "records.ndjson");
    let text = std::fs::read_to_string(&path).unwrap();
    let inputs: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    for (line, input) in out.stdout.lines().zip(inputs) {
        assert!(
            line.ends_with(&format!(",\"raw\":{input}}}")),
            "raw is the input line verbatim: {line}"
        );
    }
    let e = out.events();
    assert_eq!(e[1]["actor"]["kind"], "app");
    assert_eq!(e[1]["actor"]["app_id"], Value::Null);
    assert_eq!(e[2]["result"], "unknown");
    assert_eq!(e[2]["actor"]["kind"], "system");
}

#[test]
fn stdin_without_a_file_and_as_dash() {
    let bytes = std::fs::read(fixture("records.ndjson")).unwrap();
    let want = ids_of("records.ndjson");
    let none = auditlake(
        &["normalize", "--source", "entra-directory-audits"],
        Some(bytes.clone()),
    );
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert_eq!(none.record_ids(), want);
    let dash = auditlake(
        &["normalize", "--source", "entra-directory-audits", "-"],
        Some(bytes),
    );
    assert_eq!(dash.code, 0, "{}", dash.stderr);
    assert_eq!(dash.record_ids(), want);

    let pretty = std::fs::read(fixture("list-response.json")).unwrap();
    let out = auditlake(
        &["normalize", "--source", "entra-directory-audits"],
        Some(pretty),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.record_ids(), ids_of("list-response.json"));
}

#[test]
fn several_files_in_one_call_are_read_in_order() {
    let out = normalize(&[&fixture("array.json"), &fixture("records.ndjson")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut want = ids_of("array.json");
    want.extend(ids_of("records.ndjson"));
    assert_eq!(out.record_ids(), want);
    assert!(
        out.stderr.contains("5 normalized, 0 quarantined"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_ndjson_lines_are_reported_and_the_good_ones_still_printed() {
    let path = fixture("one-bad.ndjson");
    let out = normalize(&[&path]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let all = ids_of_lines(&path);
    assert_eq!(out.record_ids(), vec![all[0].clone(), all[2].clone()]);
    let p = path.display();
    for needle in [
        format!("{p}:line 2: not JSON"),
        format!("{p}:line 4: required field `activityDateTime` is missing"),
        format!("{p}:line 5: field `activityDateTime` holds `garbage`, which is not a time"),
        "2 normalized, 3 quarantined".to_string(),
    ] {
        assert!(
            out.stderr.contains(&needle),
            "want {needle:?} in:\n{}",
            out.stderr
        );
    }
}

/// The `id` of every line that parses, `<not JSON>` for one that does not.
fn ids_of_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_string))
                .unwrap_or_else(|| "<not JSON>".into())
        })
        .collect()
}

#[test]
fn a_bad_record_in_a_list_response_is_named_by_its_index() {
    let path = fixture("one-bad-list.json");
    let out = normalize(&[&path]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let all = ids_of("one-bad-list.json");
    assert_eq!(out.record_ids(), vec![all[0].clone(), all[2].clone()]);
    let needle = format!(
        "{}:#2: required field `activityDateTime` is missing",
        path.display()
    );
    assert!(out.stderr.contains(&needle), "{}", out.stderr);
    assert!(
        out.stderr.contains("2 normalized, 1 quarantined"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_records_on_stdin_are_named_by_line() {
    let bytes = std::fs::read(fixture("one-bad.ndjson")).unwrap();
    let out = auditlake(
        &["normalize", "--source", "entra-directory-audits"],
        Some(bytes),
    );
    assert_eq!(out.code, 3);
    assert_eq!(out.events().len(), 2);
    assert!(
        out.stderr.contains("stdin:line 2: not JSON"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_broken_first_line_does_not_hide_the_records_after_it() {
    let good = std::fs::read_to_string(fixture("records.ndjson")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("truncated.ndjson");
    std::fs::write(
        &path,
        format!("{{\"id\":\"Directory_cut-off\",\"categ\n{good}"),
    )
    .unwrap();
    let out = normalize(&[&path]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(out.record_ids(), ids_of("records.ndjson"));
    assert!(
        out.stderr
            .contains(&format!("{}:line 1: not JSON", path.display())),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("3 normalized, 1 quarantined"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_byte_order_mark_is_not_part_of_the_json() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["records.ndjson", "list-response.json"] {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend(std::fs::read(fixture(name)).unwrap());
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = normalize(&[&path]);
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
        assert_eq!(out.record_ids(), ids_of(name));
    }
}

#[test]
fn the_diagnostic_settings_envelope_is_read_from_properties() {
    for name in ["diagnostic-envelope.json", "diagnostic-lines.ndjson"] {
        let path = fixture(name);
        let out = normalize(&[&path]);
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
        let events = out.events();
        assert!(!events.is_empty(), "{name}");
        for e in &events {
            assert!(
                e["raw"].get("properties").is_some(),
                "{name}: raw is the envelope"
            );
            assert_eq!(e["source"], "entra-directory-audits");
            assert!(
                e["time"].as_str().is_some_and(|t| t.ends_with('Z')),
                "{name}"
            );
        }
    }
    // Intune's diagnostic export uses its own schema: refused with a message naming it.
    let out = auditlake(
        &[
            "normalize",
            "--source",
            "intune-audit",
            fixture("diagnostic-lines.ndjson").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("diagnostic-settings"), "{}", out.stderr);
}

#[test]
fn an_unknown_source_is_a_usage_error() {
    let path = fixture("records.ndjson");
    let out = auditlake(
        &[
            "normalize",
            "--source",
            "entra-audits",
            path.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("unknown source `entra-audits`"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-export.json");
    let out = normalize(&[&path]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("cannot open"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&path.display().to_string()),
        "{}",
        out.stderr
    );
}

/// A file is normalized on every core, stdin on one thread: the same bytes in give the same
/// events in the same order and the same quarantine lines (issue 14). Several hundred KB, so the
/// file is cut into several batches; good and bad lines alternate so order and positions show.
#[test]
fn a_large_file_and_the_same_bytes_on_stdin_give_the_same_output() {
    let mut input = Vec::new();
    for i in 0..3000 {
        let line = match i % 97 {
            13 => "{broken".to_string(),
            41 => String::new(),
            _ => serde_json::json!({
                "id": format!("Directory_{i:06}"),
                "activityDateTime": "2024-05-10T08:15:42.3456789Z",
                "activityDisplayName": "Update user",
                "result": if i % 5 == 0 { "failure" } else { "success" },
                "initiatedBy": {"user": {"id": format!("u{i}"), "userPrincipalName": format!("u{i}@contoso.example"), "ipAddress": "198.51.100.10"}},
                "targetResources": [{"id": "t", "displayName": "Target \"quoted\"", "type": "User", "modifiedProperties": [{"displayName": "AccountEnabled", "oldValue": "[true]", "newValue": "[false]"}]}],
                "additionalDetails": [{"key": "User-Agent", "value": "Mozilla/5.0"}],
                // Every tenth record in another letter case: the lenient path, in the same output.
                (if i % 10 == 0 { "LoggedByService" } else { "loggedByService" }): "Core Directory",
            })
            .to_string(),
        };
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.ndjson");
    std::fs::write(&path, &input).unwrap();
    let from_file = normalize(&[&path]);
    let from_stdin = auditlake(
        &["normalize", "--source", "entra-directory-audits", "-"],
        Some(input),
    );
    assert_eq!(from_file.code, 3, "{}", from_file.stderr);
    assert_eq!(from_stdin.code, 3, "{}", from_stdin.stderr);
    let events = |o: &Outcome| {
        o.events()
            .into_iter()
            .map(|mut e| {
                e["ingested_at"] = Value::Null;
                e
            })
            .collect::<Vec<_>>()
    };
    let (file_events, stdin_events) = (events(&from_file), events(&from_stdin));
    assert_eq!(file_events.len(), 3000 - 31 - 31, "{}", from_file.stderr);
    assert_eq!(file_events, stdin_events);
    let ids: Vec<&str> = file_events
        .iter()
        .map(|e| e["record_id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "events keep the input order");
    assert_eq!(file_events[0]["service"], "Core Directory");
    assert_eq!(file_events[1]["service"], "Core Directory");
    let problems = |o: &Outcome, name: &str| -> Vec<String> {
        o.stderr
            .lines()
            .filter(|l| l.starts_with(name))
            .map(|l| l.replacen(name, "<input>", 1))
            .collect()
    };
    let file_problems = problems(&from_file, &path.display().to_string());
    assert_eq!(file_problems.len(), 31);
    assert!(
        file_problems[0].starts_with("<input>:line 14: not JSON"),
        "{file_problems:?}"
    );
    assert_eq!(file_problems, problems(&from_stdin, "stdin"));
}
