//! Integration tests of the `auditlake` binary still parked here: the
//! `auditlake normalize` CLI run as a process on the hand-written fixtures in `tests/fixtures/`,
//! and conformance checks of every source's normalizer against the shared corpus of published
//! records (read in place, never copied), when that corpus is present. The pipeline, payload and
//! Management API tests are in `shared/collector/tests/collector/`.

/// `auditlake normalize`, run as a process the way an operator runs it.
mod cli {
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
                    let v: Value = serde_json::from_str(l).unwrap_or_else(|e| {
                        panic!("stdout line is not one JSON object ({e}): {l}")
                    });
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
                format!("entra-directory-audits:{}", r["id"].as_str().unwrap())
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
        let out = super::cli::auditlake(
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
}

/// The normalizer against the shared corpus of published directory-audit records.
mod corpus {
    use std::path::{Path, PathBuf};

    use chrono::DateTime;
    use serde_json::Value;

    use super::cli::normalize;

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
            || (v.get("properties").is_some_and(Value::is_object)
                && v.get("operationName").is_some())
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
            eprintln!(
                "note: corpus not found at {}; conformance not checked on this machine",
                dir.display()
            );
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
                        let inner = super::unwrap_envelope(&where_, e, env);
                        check_record(&where_, &inner, &super::envelope_record(env));
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
}

mod run_command {
    //! `auditlake run` refuses to start on bad configuration, naming every problem at once.

    use std::process::Command;

    #[test]
    fn run_without_configuration_lists_every_missing_variable_and_exits_2() {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_auditlake"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AUDITLAKE_")) {
            cmd.env_remove(k);
        }
        let out = cmd
            .args(["run", "--source", "entra-directory-audits"])
            .env("AUDITLAKE_LAG_SECS", "soon")
            .output()
            .expect("auditlake runs");
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        for var in [
            "AUDITLAKE_TENANT_ID",
            "AUDITLAKE_CLIENT_ID",
            "AUDITLAKE_CLIENT_SECRET_PARAM",
            "AUDITLAKE_BUCKET",
            "AUDITLAKE_EVENTS_TABLE",
            "AUDITLAKE_STATE_TABLE",
            "AUDITLAKE_LAG_SECS",
        ] {
            assert!(err.contains(var), "{var} not reported in: {err}");
        }
        assert!(out.stdout.is_empty());
    }
}

/// `auditlake normalize` for the other Graph sources (sign-ins, Intune audit events, message
/// traces): the hand-written fixtures in `tests/fixtures/<source>/`, and a conformance check
/// against the shared corpus folders of published records (read in place, never copied), each
/// event compared with its input record parsed here, independently of auditlake.
mod graph_sources_conformance {
    use std::path::{Path, PathBuf};

    use chrono::DateTime;
    use serde_json::{Value, json};

    use super::cli::{Outcome, auditlake, fixture};

    /// `auditlake normalize --source <source> <files>`.
    fn normalize(source: &str, files: &[&Path]) -> Outcome {
        let mut args = vec!["normalize", "--source", source];
        args.extend(files.iter().map(|p| p.to_str().unwrap()));
        auditlake(&args, None)
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

    fn is_sentinel(t: &str) -> bool {
        let t = t.trim();
        t.is_empty()
            || ["<null>", "null", "__null__", "not available", "n/a"]
                .iter()
                .any(|x| t.eq_ignore_ascii_case(x))
    }

    /// A Graph string as the contract carries it: null, empty and sentinel strings are absent.
    fn present(v: Option<&Value>) -> Value {
        match v {
            Some(Value::String(s)) if is_sentinel(s) => Value::Null,
            Some(Value::String(s)) => Value::String(s.trim().to_string()),
            Some(Value::Null) | None => Value::Null,
            Some(other) => other.clone(),
        }
    }

    /// The first of `keys` that is present in `v`.
    fn first(v: &Value, keys: &[&str]) -> Value {
        keys.iter()
            .map(|k| present(v.get(*k)))
            .find(|x| !x.is_null())
            .unwrap_or(Value::Null)
    }

    fn expected_time(s: &str) -> String {
        DateTime::parse_from_rfc3339(s)
            .unwrap_or_else(|e| panic!("record time {s}: {e}"))
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    }

    /// Checks what every event of every source shares with its record: one line each, source,
    /// ids, the contract's time format, and the record itself as `raw`.
    fn check_common(where_: &str, source: &str, time_field: &str, e: &Value, r: &Value) {
        assert_eq!(e["source"], source, "{where_}");
        let id = present(r.get("id"));
        assert_eq!(e["record_id"], id, "{where_}");
        if let Value::String(id) = &id {
            assert_eq!(e["id"], format!("{source}:{id}"), "{where_}");
        }
        let time = r[time_field].as_str().expect("record time");
        let got = e["time"].as_str().unwrap_or_default();
        assert_eq!(got, expected_time(time), "{where_}");
        assert!(
            got.len() == 24 && got.as_bytes()[19] == b'.' && got.ends_with('Z'),
            "{where_}: {got}"
        );
        assert_eq!(&e["raw"], r, "{where_}: raw is the record");
        let mut derived = e.clone();
        derived.as_object_mut().unwrap().remove("raw");
        assert!(
            !derived.to_string().contains("<null>"),
            "{where_}: a `<null>` sentinel leaked: {derived}"
        );
    }

    // ----- sign-ins, as the test reads a signIn record -----

    fn sign_in_kind(r: &Value) -> &'static str {
        const KINDS: [&str; 4] = [
            "interactiveUser",
            "nonInteractiveUser",
            "servicePrincipal",
            "managedIdentity",
        ];
        if let Some(k) = r
            .get("signInEventTypes")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .and_then(|t| KINDS.into_iter().find(|k| k.eq_ignore_ascii_case(t)))
        {
            return k;
        }
        let user =
            !present(r.get("userId")).is_null() || !present(r.get("userPrincipalName")).is_null();
        let sp = !present(r.get("servicePrincipalId")).is_null()
            || !present(r.get("servicePrincipalName")).is_null();
        match r.get("isInteractive").and_then(Value::as_bool) {
            Some(true) => "interactiveUser",
            _ if !user && sp => {
                let msi = r
                    .pointer("/managedServiceIdentity/msiType")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.eq_ignore_ascii_case("none"));
                if msi {
                    "managedIdentity"
                } else {
                    "servicePrincipal"
                }
            }
            Some(false) => "nonInteractiveUser",
            None => "interactiveUser",
        }
    }

    fn check_sign_in(where_: &str, e: &Value, r: &Value) {
        check_common(where_, "entra-sign-ins", "createdDateTime", e, r);
        let kind = sign_in_kind(r);
        let user_kind = kind.ends_with("User");
        assert_eq!(e["stream"], kind, "{where_}");
        assert_eq!(e["category"], format!("SignIn/{kind}"), "{where_}");
        let operation = match kind {
            "servicePrincipal" => "Service principal sign-in",
            "managedIdentity" => "Managed identity sign-in",
            _ => "Sign-in",
        };
        assert_eq!(e["operation"], operation, "{where_}");
        let service = match present(r.get("resourceDisplayName")) {
            Value::Null => json!("Entra ID"),
            s => s,
        };
        assert_eq!(e["service"], service, "{where_}");
        let result = match r.pointer("/status/errorCode").and_then(Value::as_i64) {
            Some(0) => "success",
            Some(_) => "failure",
            None => "unknown",
        };
        assert_eq!(e["result"], result, "{where_}");
        if result == "failure" {
            let code = r.pointer("/status/errorCode").unwrap().to_string();
            let reason = e["result_reason"].as_str().expect("a failure has a reason");
            assert!(reason.contains(&code), "{where_}: {reason}");
        } else {
            assert_eq!(e["result_reason"], Value::Null, "{where_}");
        }
        let actor = &e["actor"];
        if user_kind {
            assert_eq!(actor["kind"], "user", "{where_}");
            assert_eq!(actor["id"], present(r.get("userId")), "{where_}");
            assert_eq!(
                actor["upn"],
                present(r.get("userPrincipalName")),
                "{where_}"
            );
            assert_eq!(actor["name"], present(r.get("userDisplayName")), "{where_}");
        } else {
            assert_eq!(actor["kind"], "app", "{where_}");
            assert_eq!(
                actor["id"],
                present(r.get("servicePrincipalId")),
                "{where_}"
            );
            assert_eq!(actor["app_id"], present(r.get("appId")), "{where_}");
            assert_eq!(
                actor["name"],
                first(r, &["servicePrincipalName", "appDisplayName"]),
                "{where_}"
            );
        }
        let mut targets = Vec::new();
        let (id, name) = (
            present(r.get("resourceId")),
            present(r.get("resourceDisplayName")),
        );
        if !id.is_null() || !name.is_null() {
            targets.push(json!({"kind": "resource", "id": id, "name": name}));
        }
        let (id, name) = (present(r.get("appId")), present(r.get("appDisplayName")));
        if user_kind && (!id.is_null() || !name.is_null()) {
            targets.push(json!({"kind": "application", "id": id, "name": name}));
        }
        assert_eq!(e["targets"], Value::Array(targets), "{where_}");
        assert_eq!(e["client_ip"], present(r.get("ipAddress")), "{where_}");
        assert_eq!(
            e["location"]["country"],
            present(r.pointer("/location/countryOrRegion")),
            "{where_}"
        );
        assert_eq!(e["details"]["app_id"], present(r.get("appId")), "{where_}");
        assert_eq!(
            e["details"]["correlation_id"],
            present(r.get("correlationId")),
            "{where_}"
        );
    }

    // ----- Intune audit events -----

    fn check_intune(where_: &str, e: &Value, r: &Value) {
        check_common(where_, "intune-audit", "activityDateTime", e, r);
        assert_eq!(
            e["operation"],
            first(r, &["activity", "displayName", "activityType"]),
            "{where_}"
        );
        assert_eq!(e["service"], present(r.get("componentName")), "{where_}");
        assert_eq!(e["category"], present(r.get("category")), "{where_}");
        let result = match r
            .get("activityResult")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("success") => "success",
            Some("failure" | "failed" | "fail") => "failure",
            _ => "unknown",
        };
        assert_eq!(e["result"], result, "{where_}");
        let a = r.get("actor").cloned().unwrap_or(Value::Null);
        let actor = &e["actor"];
        let (uid, upn) = (
            present(a.get("userId")),
            present(a.get("userPrincipalName")),
        );
        let app_id = present(a.get("applicationId"));
        let app_name = first(&a, &["applicationDisplayName", "servicePrincipalName"]);
        if !uid.is_null() || !upn.is_null() {
            assert_eq!(actor["kind"], "user", "{where_}");
            assert_eq!(actor["id"], uid, "{where_}");
            assert_eq!(actor["upn"], upn, "{where_}");
        } else if !app_id.is_null() || !app_name.is_null() {
            assert_eq!(actor["kind"], "app", "{where_}");
            assert_eq!(actor["app_id"], app_id, "{where_}");
            assert_eq!(actor["name"], app_name, "{where_}");
        } else {
            assert_eq!(actor["kind"], "system", "{where_}");
        }
        assert_eq!(e["client_ip"], present(a.get("ipAddress")), "{where_}");
        let resources = r
            .get("resources")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let want: Vec<Value> = resources
            .iter()
            .map(|t| {
                json!({
                    "kind": first(t, &["type", "auditResourceType"]),
                    "id": present(t.get("resourceId")),
                    "name": present(t.get("displayName")),
                })
            })
            .collect();
        assert_eq!(e["targets"], Value::Array(want), "{where_}");
        let modified: usize = resources
            .iter()
            .map(|t| {
                t.get("modifiedProperties")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
            })
            .sum();
        let got = e["details"]["modified_properties"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(got, modified, "{where_}: every modified property is kept");
    }

    // ----- message traces -----

    fn check_message_trace(where_: &str, e: &Value, r: &Value) {
        check_common(where_, "exchange-message-trace", "receivedDateTime", e, r);
        assert_eq!(e["service"], "Exchange Online", "{where_}");
        assert_eq!(e["category"], "MessageTrace", "{where_}");
        assert_eq!(e["operation"], "Message trace", "{where_}");
        let status = present(r.get("status"));
        let result = match status.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("delivered" | "expanded") => "success",
            Some("failed" | "quarantined" | "filteredasspam") => "failure",
            _ => "unknown",
        };
        assert_eq!(e["result"], result, "{where_}");
        assert_eq!(e["details"]["status"], status, "{where_}");
        let sender = present(r.get("senderAddress"));
        if sender.is_null() {
            assert_eq!(e["actor"]["kind"], "system", "{where_}");
        } else {
            assert_eq!(e["actor"]["kind"], "user", "{where_}");
            assert_eq!(e["actor"]["upn"], sender, "{where_}");
        }
        let recipient = present(r.get("recipientAddress"));
        let targets = if recipient.is_null() {
            json!([])
        } else {
            json!([{"kind": "recipient", "id": null, "name": recipient}])
        };
        assert_eq!(e["targets"], targets, "{where_}");
        assert_eq!(e["client_ip"], present(r.get("fromIP")), "{where_}");
        assert_eq!(
            e["details"]["message_id"],
            present(r.get("messageId")),
            "{where_}"
        );
    }

    /// Every event matches its record, in order, with exit 0 and the summary line.
    fn check_all(
        out: &Outcome,
        records: &[Value],
        what: &str,
        check: fn(&str, &Value, &Value),
    ) -> Vec<Value> {
        assert_eq!(out.code, 0, "{what}: {}", out.stderr);
        let events = out.events();
        assert_eq!(events.len(), records.len(), "{what}: one line per record");
        assert!(
            out.stderr
                .contains(&format!("{} normalized, 0 quarantined", records.len())),
            "{what}: {}",
            out.stderr
        );
        for (i, (e, r)) in events.iter().zip(records).enumerate() {
            check(&format!("{what} record {}", i + 1), e, r);
        }
        events
    }

    #[test]
    fn sign_ins_from_a_v1_list_response() {
        let path = fixture("entra-sign-ins/list-response.json");
        let out = normalize("entra-sign-ins", &[&path]);
        let e = check_all(&out, &records_in(&path), "list-response", check_sign_in);
        assert_eq!(e[0]["time"], "2024-06-03T08:12:45.123Z");
        assert_eq!(e[0]["result"], "success");
        assert_eq!(e[0]["service"], "Office 365 Exchange Online");
        assert_eq!(e[0]["actor"]["upn"], "priya@tailspin.example");
        assert_eq!(
            e[0]["user_agent"],
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/125.0"
        );
        assert_eq!(
            e[0]["location"],
            json!({"city": "Seattle", "state": "Washington", "country": "US", "lat": 47.6062, "lon": -122.3321})
        );
        let d = &e[0]["details"];
        assert_eq!(d["device"]["name"], "TS-LT-0042");
        assert_eq!(d["device"]["is_compliant"], true);
        assert_eq!(d["device"]["trust_type"], "Azure AD joined");
        assert_eq!(
            d["applied_ca_policies"],
            json!([{"name": "Require MFA for all users", "result": "success"}])
        );
        assert_eq!(
            d["failure_reason"],
            Value::Null,
            "`Other.` on a success is dropped"
        );
        assert_eq!(d["status_code"], 0);

        assert_eq!(e[1]["result"], "failure", "the MFA interrupt");
        assert_eq!(
            e[1]["result_reason"],
            "Strong Authentication is required. (error 50074)"
        );
        assert_eq!(e[1]["client_ip"], "2001:db8:4::17");
        assert_eq!(e[1]["location"]["lat"], Value::Null);
        assert_eq!(e[1]["details"]["risk"]["level_aggregated"], "hidden");
        assert_eq!(
            e[1]["details"].get("device").map(|d| d.get("id")),
            Some(None)
        );

        assert_eq!(
            e[2]["time"], "2024-06-03T08:12:45.000Z",
            "offsets become UTC"
        );
        assert_eq!(e[2]["service"], "Windows Azure Service Management API");
        assert_eq!(
            e[2]["location"],
            json!({"city": null, "state": null, "country": "NL", "lat": null, "lon": null}),
            "(0, 0) is not a place"
        );
        assert_eq!(
            e[2]["details"]["risk"]["event_types"],
            json!(["unlikelyTravel", "anonymizedIPAddress"])
        );
        assert_eq!(e[2]["details"].get("applied_ca_policies"), None);
    }

    #[test]
    fn sign_ins_of_every_beta_kind_keep_their_bytes() {
        let path = fixture("entra-sign-ins/beta-kinds.ndjson");
        let out = normalize("entra-sign-ins", &[&path]);
        let e = check_all(&out, &records_in(&path), "beta-kinds", check_sign_in);
        let streams: Vec<&str> = e.iter().map(|e| e["stream"].as_str().unwrap()).collect();
        assert_eq!(
            streams,
            ["nonInteractiveUser", "servicePrincipal", "managedIdentity"]
        );
        assert_eq!(
            e[0]["details"]["incoming_token_type"],
            "primaryRefreshToken"
        );
        assert_eq!(e[0]["details"]["is_interactive"], false);
        assert_eq!(e[1]["actor"]["name"], "invoice-sync");
        assert_eq!(
            e[1]["result_reason"],
            "The provided client secret keys for app are expired. (error 7000222)"
        );
        assert_eq!(e[2]["result"], "success");
        assert_eq!(e[2]["client_ip"], Value::Null);
        assert_eq!(e[2]["location"], Value::Null);
        assert_eq!(e[2]["details"]["managed_identity_type"], "systemAssigned");
        let text = std::fs::read_to_string(&path).unwrap();
        for (line, input) in out.stdout.lines().zip(text.lines()) {
            assert!(
                line.ends_with(&format!(",\"raw\":{input}}}")),
                "raw is the input line verbatim: {line}"
            );
        }
    }

    #[test]
    fn a_sign_in_without_a_time_is_quarantined_by_line() {
        let path = fixture("entra-sign-ins/one-bad.ndjson");
        let out = normalize("entra-sign-ins", &[&path]);
        assert_eq!(out.code, 3, "{}", out.stderr);
        assert_eq!(
            out.record_ids(),
            [
                "c0ffee03-2b3c-4d5e-8f60-718293a4b521",
                "c0ffee03-2b3c-4d5e-8f60-718293a4b523"
            ]
        );
        let needle = format!(
            "{}:line 2: required field `createdDateTime` is missing",
            path.display()
        );
        assert!(out.stderr.contains(&needle), "{}", out.stderr);
        assert!(
            out.stderr.contains("2 normalized, 1 quarantined"),
            "{}",
            out.stderr
        );
        let e = out.events();
        assert_eq!(e[1]["result"], "failure");
        assert_eq!(e[1]["targets"], json!([]));
    }

    #[test]
    fn the_sign_in_diagnostic_settings_envelope_is_read_with_its_kind() {
        let path = fixture("entra-sign-ins/diagnostic-lines.ndjson");
        let out = normalize("entra-sign-ins", &[&path]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let envelopes = records_in(&path);
        let events = out.events();
        assert_eq!(events.len(), envelopes.len());
        for (i, (e, env)) in events.iter().zip(&envelopes).enumerate() {
            let where_ = format!("diagnostic-lines record {}", i + 1);
            let inner = super::unwrap_envelope(&where_, e, env);
            check_sign_in(&where_, &inner, &super::envelope_record(env));
        }
    }

    #[test]
    fn intune_audit_events_from_a_list_response() {
        let path = fixture("intune-audit/list-response.json");
        let out = normalize("intune-audit", &[&path]);
        let e = check_all(&out, &records_in(&path), "intune list", check_intune);
        assert_eq!(e[0]["operation"], "Create device configuration assignment");
        assert_eq!(e[0]["service"], "DeviceConfiguration");
        assert_eq!(e[0]["result"], "success");
        assert_eq!(e[0]["actor"]["upn"], "lena@tailspin.example");
        assert_eq!(e[0]["client_ip"], "198.51.100.80");
        assert_eq!(
            e[0]["targets"][1]["name"],
            Value::Null,
            "`<null>` is absent"
        );
        assert_eq!(
            e[0]["details"]["application_display_name"],
            "Microsoft Intune portal extension"
        );
        assert_eq!(
            e[0]["details"]["activity_type"],
            "Create DeviceManagementConfigurationPolicyAssignment"
        );
        assert_eq!(e[0]["details"]["user_permissions"], json!(["*"]));
        assert_eq!(
            e[0]["details"]["modified_properties"][2],
            json!({"target": "a9b8c7d6-e5f4-4a3b-9c2d-1e0f9a8b7c01_c4d5e6f7-0000-4000-8000-000000000001",
                   "property": "Target.DeviceAndAppManagementAssignmentFilterId",
                   "old_value": null, "new_value": null})
        );

        assert_eq!(e[1]["time"], "2024-06-05T20:30:00.000Z");
        assert_eq!(e[1]["result"], "failure");
        assert_eq!(e[1]["actor"]["kind"], "app");
        assert_eq!(e[1]["actor"]["name"], "Device cleanup runbook");
        assert_eq!(e[1]["client_ip"], Value::Null);
        assert_eq!(e[1]["targets"][0]["kind"], "ManagedDevice");

        assert_eq!(e[2]["operation"], "Delete DeviceEnrollmentConfiguration");
        assert_eq!(e[2]["actor"]["kind"], "system");
        assert_eq!(
            e[2]["result"], "unknown",
            "Intune's result words other than success/failure"
        );
        assert_eq!(e[2]["time"], "2024-06-05T23:59:59.999Z");
    }

    #[test]
    fn intune_audit_events_from_stdin() {
        let path = fixture("intune-audit/records.ndjson");
        let out = auditlake(
            &["normalize", "--source", "intune-audit"],
            Some(std::fs::read(&path).unwrap()),
        );
        let e = check_all(&out, &records_in(&path), "intune stdin", check_intune);
        assert_eq!(e[1]["actor"]["id"], Value::Null);
        assert_eq!(e[1]["actor"]["upn"], "omar@tailspin.example");
        assert_eq!(e[1]["client_ip"], "2001:db8:9::80");
    }

    #[test]
    fn message_traces_map_each_status() {
        let path = fixture("exchange-message-trace/list-response.json");
        let out = normalize("exchange-message-trace", &[&path]);
        let e = check_all(&out, &records_in(&path), "trace list", check_message_trace);
        let results: Vec<(&str, &str)> = e
            .iter()
            .map(|e| {
                (
                    e["details"]["status"].as_str().unwrap(),
                    e["result"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            results,
            [
                ("delivered", "success"),
                ("expanded", "success"),
                ("failed", "failure"),
                ("quarantined", "failure"),
                ("filteredAsSpam", "failure"),
                ("pending", "unknown"),
            ]
        );
        assert_eq!(e[0]["actor"]["upn"], "Priya@Tailspin.example", "as given");
        assert_eq!(e[0]["details"]["size"], 35210);
        assert_eq!(e[0]["details"].get("to_ip"), None);
        assert_eq!(e[2]["time"], "2024-06-07T09:30:00.100Z");
        assert_eq!(e[3]["result_reason"], "quarantined");
        assert_eq!(e[5]["details"]["to_ip"], "203.0.113.99");
        assert_eq!(
            e[5]["details"].get("subject"),
            None,
            "an empty subject is absent"
        );
    }

    #[test]
    fn message_traces_from_ndjson() {
        let path = fixture("exchange-message-trace/records.ndjson");
        let out = normalize("exchange-message-trace", &[&path]);
        let e = check_all(
            &out,
            &records_in(&path),
            "trace ndjson",
            check_message_trace,
        );
        assert_eq!(e[1]["actor"]["kind"], "system", "a bounce has no sender");
        assert_eq!(e[1]["result"], "unknown");
        assert_eq!(e[1]["result_reason"], "gettingStatus");
    }

    // ----- the shared corpus -----

    fn corpus_dir(folder: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpus")
            .join(folder)
    }

    fn is_envelope(v: &Value) -> bool {
        v.get("records").is_some()
            || (v.get("properties").is_some_and(Value::is_object)
                && (v.get("operationName").is_some() || v.get("resourceId").is_some()))
    }

    /// Runs every file of a corpus folder: Graph files must conform record by record; files in
    /// the diagnostic-settings envelope must conform on `properties` (sign-ins) or be refused (exit 2,
    /// other sources); files in another format (no
    /// record carries the Graph time field) are skipped with a note. Returns the number of
    /// Graph files checked, or `None` when the folder is absent.
    fn conform(
        folder: &str,
        source: &str,
        time_field: &str,
        check: fn(&str, &Value, &Value),
    ) -> Option<usize> {
        let dir = corpus_dir(folder);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!(
                "note: corpus not found at {}; {source} conformance not checked on this machine",
                dir.display()
            );
            return None;
        };
        let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        files.retain(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|x| x.to_str()),
                    Some("json" | "ndjson")
                )
        });
        files.sort();
        let (mut graph, mut envelope, mut other, mut records) = (0, 0, 0, 0);
        for path in &files {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let found = records_in(path);
            if found.iter().any(is_envelope) {
                let out = normalize(source, &[path]);
                if source != "entra-sign-ins" {
                    // Only Entra's audit and sign-in exports carry the Graph object.
                    assert_eq!(out.code, 2, "{name}: {}", out.stderr);
                    assert!(
                        out.stderr.contains("diagnostic-settings"),
                        "{name}: {}",
                        out.stderr
                    );
                    envelope += 1;
                    continue;
                }
                assert_eq!(out.code, 0, "{name}: {}", out.stderr);
                let events = out.events();
                assert_eq!(events.len(), found.len(), "{name}: one line per record");
                for (i, (e, env)) in events.iter().zip(&found).enumerate() {
                    let where_ = format!("{name} record {}", i + 1);
                    let inner = super::unwrap_envelope(&where_, e, env);
                    check(&where_, &inner, &super::envelope_record(env));
                }
                envelope += 1;
                records += found.len();
                continue;
            }
            if !found.iter().any(|r| r.get(time_field).is_some()) {
                eprintln!(
                    "note: {folder}/{name} is not a Graph {source} file (no `{time_field}`); skipped"
                );
                other += 1;
                continue;
            }
            let out = normalize(source, &[path]);
            check_all(&out, &found, &name, check);
            graph += 1;
            records += found.len();
        }
        eprintln!(
            "corpus {folder}: {graph} Graph files ({records} records) conform; {envelope} envelope files refused; {other} other-format files skipped"
        );
        Some(graph)
    }

    #[test]
    fn sign_ins_conform_on_the_shared_corpus() {
        if let Some(graph) = conform(
            "graph-signins",
            "entra-sign-ins",
            "createdDateTime",
            check_sign_in,
        ) {
            assert!(graph > 0, "graph-signins holds no Graph-format file");
        }
    }

    #[test]
    fn intune_audit_events_conform_on_the_shared_corpus() {
        if let Some(graph) = conform(
            "intune-audit-events",
            "intune-audit",
            "activityDateTime",
            check_intune,
        ) {
            assert!(graph > 0, "intune-audit-events holds no Graph-format file");
        }
    }

    #[test]
    fn message_traces_conform_on_the_shared_corpus() {
        // The folder holds a Reporting Web Service row and a Get-MessageTraceV2 row (PascalCase,
        // `Received`), neither of them Graph; they are skipped, and any Graph file added later
        // is checked.
        conform(
            "message-trace",
            "exchange-message-trace",
            "receivedDateTime",
            check_message_trace,
        );
    }
}

/// Checks that an event read from a diagnostic-settings record kept the whole record as `raw`
/// and took the envelope's tenant, and returns the event as if read from the Graph object alone
/// (`raw` = [`envelope_record`]), for the per-source field checks.
fn unwrap_envelope(
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
fn envelope_record(envelope: &serde_json::Value) -> serde_json::Value {
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

/// `auditlake normalize --source m365-activity`: the hand-written blobs in
/// `tests/fixtures/m365-activity/` (one JSON array per content type) checked field by field, the
/// edge cases (sentinels, `ResultStatus` casings, IP forms, unknown record types, records without
/// `Id`, bad times) fed on stdin, and a conformance check against the shared corpus of published
/// Management Activity API records (read in place, never copied).
mod m365_activity {
    use std::path::{Path, PathBuf};

    use chrono::{DateTime, NaiveDateTime};
    use serde_json::{Value, json};

    use super::cli::{Outcome, auditlake, fixture};
    use super::graph_sources_conformance::records_in;

    const SOURCE: &str = "m365-activity";

    fn normalize(files: &[&Path]) -> Outcome {
        let mut args = vec!["normalize", "--source", SOURCE];
        args.extend(files.iter().map(|p| p.to_str().unwrap()));
        auditlake(&args, None)
    }

    fn normalize_stdin(bytes: Vec<u8>) -> Outcome {
        auditlake(&["normalize", "--source", SOURCE], Some(bytes))
    }

    /// One record through stdin; its single event.
    fn one(record: Value) -> Value {
        let out = normalize_stdin(record.to_string().into_bytes());
        assert_eq!(out.code, 0, "{record}: {}", out.stderr);
        let mut events = out.events();
        assert_eq!(events.len(), 1);
        events.remove(0)
    }

    /// A minimal valid record with `extra` merged in (a null value removes the field).
    fn base(extra: Value) -> Value {
        let mut r = json!({
            "CreationTime": "2024-06-01T10:00:00",
            "Id": "c0c0c0c0-0000-4000-8000-000000000001",
            "Operation": "FileAccessed",
            "OrganizationId": "9e8d7c6b-1111-4222-8333-444455556666",
            "RecordType": 6,
            "UserKey": "2c4e6a80-aaaa-4bbb-8ccc-000000000009",
            "UserType": 0,
            "Workload": "SharePoint",
            "UserId": "rita@contoso.example",
            "ClientIP": "192.0.2.1"
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                r.as_object_mut().unwrap().remove(k);
            } else {
                r[k] = v.clone();
            }
        }
        r
    }

    /// A fixture's events, after the checks every event shares: one per record, the record as
    /// `raw`, its `Id` as `record_id` and in `id`.
    fn events_of(name: &str) -> Vec<Value> {
        let path = fixture(&format!("m365-activity/{name}"));
        let records = records_in(&path);
        let out = normalize(&[&path]);
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
        let events = out.events();
        assert_eq!(events.len(), records.len(), "{name}: one event per record");
        for (e, r) in events.iter().zip(&records) {
            assert_eq!(e["source"], SOURCE);
            assert_eq!(&e["raw"], r, "{name}: raw is the record");
            assert_eq!(e["operation"], r["Operation"]);
            assert_eq!(e["service"], r["Workload"]);
            if let Some(id) = r["Id"].as_str() {
                assert_eq!(e["record_id"], id);
                assert_eq!(e["dedupe_key"], id);
                assert_eq!(e["id"], format!("{SOURCE}:{id}"));
            }
            assert!(e["stream"].is_null(), "a file names no content type");
            assert!(e["location"].is_null());
        }
        events
    }

    fn target(kind: &str, id: Value, name: Value) -> Value {
        json!({"kind": kind, "id": id, "name": name})
    }

    #[test]
    fn azure_active_directory_blob() {
        let e = events_of("audit-azureactivedirectory.json");
        let ok = &e[0];
        assert_eq!(ok["time"], "2024-05-02T08:15:30.000Z", "zone-less is UTC");
        assert_eq!(ok["category"], "AzureActiveDirectoryStsLogon");
        assert_eq!(ok["result"], "success");
        assert!(ok["result_reason"].is_null());
        assert_eq!(
            ok["actor"],
            json!({"kind": "user", "id": "2c4e6a80-aaaa-4bbb-8ccc-000000000001",
                   "upn": "ada@contoso.example", "name": null,
                   "app_id": "11111111-2222-4333-8444-555555555555"})
        );
        assert_eq!(ok["client_ip"], "2001:db8::5", "brackets and port stripped");
        assert_eq!(
            ok["user_agent"], "Mozilla/5.0 (X11; Linux x86_64) Fixture/1.0",
            "from ExtendedProperties"
        );
        assert_eq!(
            ok["targets"],
            json!([target(
                "object",
                json!("00000003-0000-0000-c000-000000000000"),
                Value::Null
            )])
        );
        let d = &ok["details"];
        assert_eq!(d["record_type"], 15);
        assert_eq!(d["record_type_name"], "AzureActiveDirectoryStsLogon");
        assert_eq!(d["user_type"], 0);
        assert_eq!(d["organization_id"], "9e8d7c6b-1111-4222-8333-444455556666");
        assert_eq!(d["object_id"], "00000003-0000-0000-c000-000000000000");
        assert_eq!(d["client_app_id"], "11111111-2222-4333-8444-555555555555");
        assert_eq!(d["extended_properties"]["RequestType"], "OAuth2:Authorize");
        assert_eq!(d["device_properties"]["OS"], "Linux");
        assert_eq!(d["error_number"], "0");
        assert!(d.get("logon_error").is_none() && d.get("error_code").is_none());

        let failed = &e[1];
        assert_eq!(failed["time"], "2024-05-02T08:16:02.500Z", "fraction and Z");
        assert_eq!(
            failed["category"], "AzureActiveDirectoryStsLogon",
            "\"15\" as a string"
        );
        assert_eq!(
            failed["result"], "failure",
            "LogonError wins over ResultStatus Success (the HTTP outcome)"
        );
        assert_eq!(failed["result_reason"], "InvalidUserNameOrPassword");
        assert_eq!(failed["details"]["error_code"], "50126");
        assert_eq!(
            failed["details"]["logon_error"],
            "InvalidUserNameOrPassword"
        );
        assert_eq!(failed["client_ip"], "198.51.100.77", "port stripped");
        assert_eq!(failed["user_agent"], "python-requests/2.31");

        let role = &e[2];
        assert_eq!(role["category"], "AzureActiveDirectory");
        assert_eq!(role["result"], "success", "lower-case success");
        assert_eq!(
            role["actor"]["id"], "2c4e6a80-aaaa-4bbb-8ccc-000000000001",
            "the Actor[] GUID rather than a PUID UserKey"
        );
        assert_eq!(role["actor"]["kind"], "user", "UserType 2 (Admin)");
        assert!(role["client_ip"].is_null(), "<null> is absent");
        assert_eq!(
            role["targets"],
            json!([
                target(
                    "identifier",
                    json!("Role_62e90394-69f5-4237-9190-012177145e10"),
                    Value::Null
                ),
                target(
                    "object",
                    json!("7a6b5c4d-0000-4111-8222-933344445555"),
                    Value::Null
                ),
                target("user", json!("eve@contoso.example"), Value::Null),
            ])
        );
        assert_eq!(
            role["details"]["modified_properties"],
            json!([{"name": "Role.DisplayName", "new_value": "Global Administrator"}]),
            "the empty old value is absent"
        );
    }

    #[test]
    fn exchange_blob() {
        let e = events_of("audit-exchange.json");
        let rule = &e[0];
        assert_eq!(rule["category"], "ExchangeAdmin");
        assert_eq!(rule["result"], "success", "True");
        assert_eq!(rule["client_ip"], "198.51.100.23");
        assert_eq!(
            rule["actor"],
            json!({"kind": "user", "id": "10030000A1B2C3D5", "upn": "mallory@contoso.example",
                   "name": null, "app_id": null}),
            "empty ClientAppId is absent"
        );
        assert_eq!(
            rule["targets"],
            json!([target("object", Value::Null, json!("Forward everything"))])
        );
        let d = &rule["details"];
        assert_eq!(d["parameters"]["ForwardTo"], "drop@fabrikam.example");
        assert_eq!(d["parameters"]["DeleteMessage"], "True");
        assert_eq!(d["external_access"], false);
        assert_eq!(
            d["object_id"],
            "contoso.example/Users/mallory\\Forward everything"
        );

        let fwd = &e[1];
        assert_eq!(fwd["result"], "failure", "False");
        assert!(fwd["client_ip"].is_null(), "empty ClientIP");
        assert_eq!(
            fwd["details"]["parameters"]["ForwardingSmtpAddress"],
            "smtp:grace.home@fabrikam.example"
        );
        assert_eq!(
            fwd["details"]["external_access"], true,
            "\"True\" as a string"
        );
        assert_eq!(
            fwd["actor"]["name"], "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)",
            "a UserId that is no UPN is the name"
        );
        assert!(fwd["actor"]["upn"].is_null());

        let read = &e[2];
        assert_eq!(read["category"], "ExchangeItemAggregated");
        assert_eq!(read["client_ip"], "203.0.113.9", "IPv4-mapped IPv6");
        assert_eq!(
            read["actor"]["app_id"],
            "33333333-4444-4555-8666-777777777777"
        );
        assert_eq!(read["user_agent"], "Client=REST;Client=RESTSystem;;");
        assert_eq!(
            read["targets"],
            json!([target(
                "mailbox",
                json!("5f5f5f5f-0000-4000-8000-000000000001"),
                json!("grace@contoso.example")
            )])
        );
        let d = &read["details"];
        assert_eq!(d["operation_count"], 12, "\"12\" as a number");
        assert_eq!(d["logon_type"], 0);
        assert_eq!(d["mailbox_owner_upn"], "grace@contoso.example");
        assert_eq!(d["client_info"], "Client=REST;Client=RESTSystem;;");
        assert_eq!(d["correlation_id"], "4e4e4e4e-0000-4000-8000-000000000001");

        let del = &e[3];
        assert_eq!(del["result"], "partial");
        assert_eq!(del["details"]["item_subject"], "Quarterly numbers");
        assert_eq!(del["details"]["item_folder"], "\\Deleted Items");
        assert_eq!(del["details"]["folder"], "\\Deleted Items");
        assert_eq!(
            del["details"]["affected_items"][1],
            json!({"id": "RgAAAAFixtureItem2"}),
            "__NULL__ subject absent"
        );
    }

    #[test]
    fn sharepoint_blob() {
        let e = events_of("audit-sharepoint.json");
        let dl = &e[0];
        assert_eq!(dl["time"], "2024-05-04T12:00:00.123Z");
        assert_eq!(dl["category"], "SharePointFileOperation");
        assert_eq!(dl["result"], "unknown", "no ResultStatus");
        assert_eq!(
            dl["actor"]["id"],
            "i:0h.f|membership|10030000a1b2c3d6@live.com"
        );
        assert_eq!(dl["actor"]["upn"], "judy@contoso.example");
        assert_eq!(dl["client_ip"], "192.0.2.10");
        assert_eq!(
            dl["user_agent"],
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Fixture/2.0"
        );
        let url =
            "https://contoso.sharepoint.example/sites/Finance/Shared Documents/Budget 2025.xlsx";
        assert_eq!(
            dl["targets"],
            json!([
                target("file", json!(url), json!("Budget 2025.xlsx")),
                target(
                    "site",
                    json!("7d7d7d7d-0000-4000-8000-000000000001"),
                    json!("https://contoso.sharepoint.example/sites/Finance/")
                ),
            ])
        );
        let d = &dl["details"];
        assert_eq!(
            d["site_url"],
            "https://contoso.sharepoint.example/sites/Finance/"
        );
        assert_eq!(d["file_name"], "Budget 2025.xlsx");
        assert_eq!(d["file_extension"], "xlsx");
        assert_eq!(d["object_url"], url);
        assert_eq!(d["event_source"], "SharePoint");
        assert_eq!(d["item_type"], "File");

        let share = &e[1];
        assert_eq!(share["category"], "SharePointSharingOperation");
        assert_eq!(share["service"], "OneDrive");
        assert!(share["user_agent"].is_null(), "empty UserAgent");
        assert_eq!(
            share["targets"][2],
            target("Guest", Value::Null, json!("Anonymous"))
        );
        assert_eq!(share["details"]["target_user_or_group_name"], "Anonymous");
        assert_eq!(share["details"]["target_user_or_group_type"], "Guest");

        let blank = &e[2];
        assert_eq!(blank["result"], "unknown", "__NULL__ ResultStatus");
        assert_eq!(
            blank["actor"],
            json!({"kind": "user", "id": null, "upn": null, "name": null, "app_id": null}),
            "Not Available UserKey and <null> UserId are absent"
        );
        assert!(blank["client_ip"].is_null(), "Not Available ClientIP");
        assert!(blank["user_agent"].is_null(), "<null> UserAgent");
    }

    #[test]
    fn general_blob_with_teams_an_alert_and_the_unknown() {
        let e = events_of("audit-general.json");
        let teams = &e[0];
        assert_eq!(teams["category"], "MicrosoftTeams");
        assert_eq!(
            teams["targets"],
            json!([
                target(
                    "team",
                    json!("19:fixtureteam0001@thread.tacv2"),
                    json!("Project Falcon")
                ),
                target(
                    "member",
                    json!("leo_fabrikam.example#EXT#@contoso.example"),
                    json!("Leo Guest")
                ),
                target("member", json!("mia@contoso.example"), json!("Mia Member")),
            ])
        );
        assert_eq!(teams["details"]["team_name"], "Project Falcon");
        assert_eq!(teams["details"]["channel_name"], "General");
        assert_eq!(
            teams["details"]["members"][1],
            json!({"upn": "mia@contoso.example", "display_name": "Mia Member", "role": 1})
        );

        let alert = &e[1];
        assert_eq!(alert["category"], "SecurityComplianceAlerts", "\"40\"");
        assert_eq!(alert["result"], "success");
        assert_eq!(alert["actor"]["kind"], "system");
        assert_eq!(
            alert["targets"],
            json!([target("User", Value::Null, json!("kim@contoso.example"))])
        );
        let d = &alert["details"];
        assert_eq!(d["alert_id"], "aa11bb22-0000-4000-8000-000000000001");
        assert_eq!(d["alert_type"], "System");
        assert_eq!(d["name"], "Suspicious email forwarding activity");
        assert_eq!(d["severity"], "Medium");
        assert_eq!(d["category"], "ThreatManagement");
        assert_eq!(d["status"], "Active");
        assert_eq!(d["user_type"], 4, "\"4\"");
        assert_eq!(
            d["data"],
            json!({"f3u": "kim@contoso.example", "op": "New-InboxRule", "wl": "Exchange", "sev": "Medium", "tdc": "1"}),
            "Data parsed from its JSON string"
        );

        let future = &e[2];
        assert_eq!(future["category"], "RecordType9999");
        assert_eq!(future["details"]["record_type"], 9999);
        assert!(future["details"].get("record_type_name").is_none());
        assert_eq!(future["result"], "unknown", "an unknown ResultStatus");
        assert!(future["record_id"].is_null());
        let key = future["dedupe_key"].as_str().unwrap();
        assert!(
            key.starts_with("h-") && key.len() == 66,
            "content hash: {key}"
        );
        assert_eq!(future["id"], format!("{SOURCE}:{key}"));
        assert_eq!(
            future["actor"],
            json!({"kind": "app", "id": "app@sharepoint", "upn": null, "name": "app@sharepoint",
                   "app_id": "44444444-5555-4666-8777-888888888888"})
        );
        assert_eq!(future["client_ip"], "2001:db8::9");
        assert_eq!(
            future["details"]["data"], "not json at all",
            "kept as the string"
        );
        assert_eq!(future["targets"], json!([]));

        assert_eq!(e[3]["category"], "CopilotInteraction");
    }

    #[test]
    fn dlp_blob() {
        let e = events_of("dlp-all.json");
        let sp = &e[0];
        assert_eq!(sp["category"], "ComplianceDLPSharePoint");
        assert_eq!(sp["actor"]["kind"], "system", "DlpAgent");
        let url = "https://contoso.sharepoint.example/sites/HR/Shared Documents/payroll.csv";
        assert_eq!(
            sp["targets"],
            json!([target("file", json!(url), json!("payroll.csv"))])
        );
        let d = &sp["details"];
        assert_eq!(
            d["policies"],
            json!([{"id": "dd44ee55-0000-4000-8000-000000000001", "name": "Fixture Financial Data",
                    "rules": [{"id": "ff667788-0000-4000-8000-000000000001", "name": "Card numbers, high volume",
                               "severity": "High", "mode": "Enable", "actions": ["NotifyUser", "BlockAccess"]}]}])
        );
        assert_eq!(
            d["sensitive_types"],
            json!([
                {"type": "50842eb7-edc8-4019-85dd-5a5c1f2bb085", "count": 3, "confidence": 85},
                {"type": "a44669fe-0d48-453d-a9b1-2cc83f2cba77", "count": 1, "confidence": 75},
            ])
        );
        assert_eq!(d["file"]["file_owner"], "nina@contoso.example");
        assert_eq!(d["sensitive_info_detection_is_included"], true);

        let ex = &e[1];
        assert_eq!(ex["category"], "ComplianceDLPExchange");
        assert_eq!(
            ex["targets"],
            json!([target(
                "message",
                json!("<fixture-msg-0001@contoso.example>"),
                json!("Employee list")
            )])
        );
        assert_eq!(
            ex["details"]["message"]["to"],
            json!(["quinn@fabrikam.example"])
        );
        assert!(
            ex["details"]["message"].get("bcc").is_none(),
            "empty list absent"
        );
        assert_eq!(ex["details"]["sensitive_info_detection_is_included"], false);
    }

    #[test]
    fn result_status_casings() {
        for (status, want) in [
            ("Succeeded", "success"),
            ("succeeded", "success"),
            ("Success", "success"),
            ("SUCCESS", "success"),
            ("True", "success"),
            ("true", "success"),
            ("Failed", "failure"),
            ("failed", "failure"),
            ("Failure", "failure"),
            ("False", "failure"),
            ("PartiallySucceeded", "partial"),
            ("partiallysucceeded", "partial"),
            ("Pending", "unknown"),
            ("", "unknown"),
        ] {
            let e = one(base(json!({"ResultStatus": status})));
            assert_eq!(e["result"], want, "{status}");
        }
        // Entra logons: an error wins; a zero code is no error.
        let sts = |extra: Value| {
            let mut r = base(json!({"RecordType": 15, "Workload": "AzureActiveDirectory",
                                    "ResultStatus": "Succeeded"}));
            for (k, v) in extra.as_object().unwrap() {
                r[k] = v.clone();
            }
            one(r)
        };
        let e = sts(json!({"ErrorCode": 50053}));
        assert_eq!(
            (e["result"].as_str(), e["result_reason"].as_str()),
            (Some("failure"), Some("50053"))
        );
        let e = sts(json!({"ErrorCode": "0"}));
        assert_eq!(
            (e["result"].as_str(), e["result_reason"].as_str()),
            (Some("success"), None)
        );
        let e = sts(json!({"ErrorCode": 0, "LogonError": "__NULL__"}));
        assert_eq!(e["result"], "success");
    }

    #[test]
    fn every_sentinel_is_absent_everywhere() {
        for sentinel in ["Not Available", "__NULL__", "<null>", "", "  "] {
            let e = one(base(json!({
                "UserId": sentinel, "UserKey": sentinel, "ClientIP": sentinel,
                "UserAgent": sentinel, "ObjectId": sentinel, "SiteUrl": sentinel,
                "SourceFileName": sentinel, "ResultStatus": sentinel, "Workload": sentinel,
            })));
            assert!(
                e["actor"]["upn"].is_null() && e["actor"]["id"].is_null(),
                "{sentinel:?}"
            );
            assert!(e["actor"]["name"].is_null(), "{sentinel:?}");
            assert!(e["client_ip"].is_null(), "{sentinel:?}");
            assert!(e["user_agent"].is_null(), "{sentinel:?}");
            assert!(e["service"].is_null(), "{sentinel:?}");
            assert_eq!(e["result"], "unknown", "{sentinel:?}");
            assert_eq!(e["targets"], json!([]), "{sentinel:?}");
            for k in ["object_id", "site_url", "file_name", "object_url"] {
                assert!(e["details"].get(k).is_none(), "{sentinel:?}: {k}");
            }
            let mut derived = e.clone();
            derived.as_object_mut().unwrap().remove("raw");
            let text = derived.to_string();
            for s in ["Not Available", "__NULL__", "<null>"] {
                assert!(!text.contains(s), "{s} leaked: {text}");
            }
        }
    }

    #[test]
    fn ip_forms() {
        for (field, given, want) in [
            ("ClientIP", "1.2.3.4:5678", Some("1.2.3.4")),
            ("ClientIP", "[2001:db8::1]:443", Some("2001:db8::1")),
            ("ClientIP", "::ffff:1.2.3.4", Some("1.2.3.4")),
            ("ClientIP", "2001:DB8::A", Some("2001:db8::a")),
            ("ClientIP", "", None),
            ("ClientIPAddress", "198.51.100.4:1", Some("198.51.100.4")),
            ("ActorIpAddress", "[2001:db8::2]", Some("2001:db8::2")),
        ] {
            let e = one(base(json!({"ClientIP": null, field: given})));
            assert_eq!(e["client_ip"].as_str(), want, "{field}={given}");
        }
        let e = one(base(
            json!({"ClientIP": "", "ClientIPAddress": "203.0.113.1"}),
        ));
        assert_eq!(
            e["client_ip"], "203.0.113.1",
            "an empty ClientIP falls through"
        );
    }

    #[test]
    fn a_record_without_an_id_gets_a_stable_content_hash() {
        let r = base(json!({"Id": null}));
        let a = one(r.clone());
        let b = one(r);
        assert!(a["record_id"].is_null());
        assert_eq!(a["dedupe_key"], b["dedupe_key"]);
        assert!(a["dedupe_key"].as_str().unwrap().starts_with("h-"));
        let c = one(base(json!({"Id": null, "Operation": "FileDeleted"})));
        assert_ne!(a["dedupe_key"], c["dedupe_key"]);
    }

    #[test]
    fn bad_or_missing_times_are_quarantined_and_the_rest_kept() {
        let lines = [
            base(json!({"Id": "c0c0c0c0-0000-4000-8000-00000000000a"})),
            base(json!({"Id": "c0c0c0c0-0000-4000-8000-00000000000b", "CreationTime": "29/06/2015 20:03"})),
            base(json!({"Id": "c0c0c0c0-0000-4000-8000-00000000000c", "CreationTime": null})),
            base(json!({"Id": "c0c0c0c0-0000-4000-8000-00000000000d", "Operation": "<null>"})),
            base(json!({"Id": "c0c0c0c0-0000-4000-8000-00000000000e", "CreationTime": "2024-06-01T10:00:00.1234567Z"})),
        ]
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
        let out = normalize_stdin(lines.into_bytes());
        assert_eq!(out.code, 3, "{}", out.stderr);
        assert_eq!(
            out.record_ids(),
            [
                "c0c0c0c0-0000-4000-8000-00000000000a",
                "c0c0c0c0-0000-4000-8000-00000000000e"
            ]
        );
        assert!(
            out.stderr
                .contains("line 2: field `CreationTime` holds `29/06/2015 20:03`"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("line 3: required field `CreationTime`"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("line 4: required field `Operation`"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("2 normalized, 3 quarantined"),
            "{}",
            out.stderr
        );
    }

    // ----- the shared corpus -----

    fn corpus_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
    }

    fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files_under(&path, out);
            } else if matches!(
                path.extension().and_then(|x| x.to_str()),
                Some("json" | "ndjson")
            ) {
                out.push(path);
            }
        }
    }

    /// `CreationTime` as the contract writes it, parsed here: zone-less is UTC.
    fn expected_time(s: &str) -> String {
        let t = DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&chrono::Utc))
            .or_else(|_| {
                NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc())
            })
            .unwrap_or_else(|e| panic!("corpus time {s}: {e}"));
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }

    fn check(where_: &str, e: &Value, raw: &Value) {
        // A Graph beta audit-log row carries the Management API record under `auditData`.
        let r = raw
            .get("auditData")
            .filter(|_| raw.get("CreationTime").is_none())
            .unwrap_or(raw);
        assert_eq!(&e["raw"], raw, "{where_}: raw is the record as read");
        assert_eq!(e["source"], SOURCE, "{where_}");
        let id = r["Id"]
            .as_str()
            .unwrap_or_else(|| panic!("{where_}: corpus record without Id"));
        assert_eq!(e["record_id"], id, "{where_}");
        assert_eq!(e["id"], format!("{SOURCE}:{id}"), "{where_}");
        assert_eq!(
            e["time"],
            expected_time(r["CreationTime"].as_str().unwrap()),
            "{where_}"
        );
        assert_eq!(e["operation"], r["Operation"], "{where_}");
        assert_eq!(e["service"], r["Workload"], "{where_}");
        assert!(
            e["category"].as_str().is_some_and(|c| !c.is_empty()),
            "{where_}"
        );
        let mut derived = e.clone();
        derived.as_object_mut().unwrap().remove("raw");
        let text = derived.to_string();
        for s in ["\"Not Available\"", "\"__NULL__\"", "\"<null>\""] {
            assert!(!text.contains(s), "{where_}: {s} leaked: {text}");
        }
    }

    #[test]
    fn every_corpus_record_normalizes() {
        let root = corpus_dir();
        let records_dir = root.join("mgmt-activity-records");
        if !records_dir.is_dir() {
            eprintln!(
                "note: corpus not found at {}; m365-activity conformance not checked on this machine",
                records_dir.display()
            );
            return;
        }
        let mut files = Vec::new();
        files_under(&records_dir, &mut files);
        files.sort();
        let mut total = 0;
        for path in &files {
            let name = path.strip_prefix(&root).unwrap().display().to_string();
            let records = records_in(path);
            let out = normalize(&[path]);
            assert_eq!(out.code, 0, "{name}: {}", out.stderr);
            let events = out.events();
            assert_eq!(events.len(), records.len(), "{name}: one event per record");
            for (i, (e, r)) in events.iter().zip(&records).enumerate() {
                check(&format!("{name} record {}", i + 1), e, r);
            }
            total += records.len();
        }
        assert!(
            files.len() >= 5 && total >= 20,
            "{} files, {total} records",
            files.len()
        );

        // The Retrieve-content sample response: its body is the blob (a JSON array of records).
        let response =
            root.join("mgmt-activity-api-responses/msdocs_retrieve-content_response.json");
        let wrapped: Value =
            serde_json::from_str(&std::fs::read_to_string(&response).unwrap()).unwrap();
        let blob = wrapped["body"]
            .as_array()
            .expect("the response body is a blob")
            .clone();
        let out = normalize_stdin(serde_json::to_vec_pretty(&blob).unwrap());
        assert_eq!(out.code, 0, "{}", out.stderr);
        let events = out.events();
        assert_eq!(events.len(), blob.len());
        for (i, (e, r)) in events.iter().zip(&blob).enumerate() {
            check(&format!("retrieve-content response record {}", i + 1), e, r);
        }
        eprintln!(
            "corpus mgmt-activity-records: {} files ({total} records) and the retrieve-content blob ({} records) conform",
            files.len(),
            blob.len()
        );
    }
}
