//! `auditlake normalize` for the other Graph sources (sign-ins, Intune audit events, message
//! traces): the hand-written fixtures in `tests/fixtures/<source>/`, and a conformance check
//! against the shared corpus folders of published records (read in place, never copied), each
//! event compared with its input record parsed here, independently of auditlake.

use std::path::{Path, PathBuf};

use chrono::DateTime;
use serde_json::{Value, json};

use crate::support::{
    Outcome, auditlake, corpus_missing, envelope_record, fixture, records_in, unwrap_envelope,
};

/// `auditlake normalize --source <source> <files>`.
fn normalize(source: &str, files: &[&Path]) -> Outcome {
    let mut args = vec!["normalize", "--source", source];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    auditlake(&args, None)
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
        assert_eq!(
            e["id"],
            crate::support::expected_id(source, e, id),
            "{where_}"
        );
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
        // The result words `domain::normalize::result_word` documents, Intune's `Timeout` among them.
        Some("success" | "succeeded" | "successful" | "true") => "success",
        Some("failure" | "failed" | "fail" | "false" | "timeout") => "failure",
        Some("partiallysucceeded") => "partial",
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
        let inner = unwrap_envelope(&where_, e, env);
        check_sign_in(&where_, &inner, &envelope_record(env));
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
        e[2]["result"], "failure",
        "Intune's `Timeout` did not complete: a failure, as in directory audits"
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
        corpus_missing(&dir, &format!("{source} conformance"));
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
                let inner = unwrap_envelope(&where_, e, env);
                check(&where_, &inner, &envelope_record(env));
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
    // `Received`), neither of them Graph: `message_trace_exports` checks those; any Graph file
    // added later is checked here.
    conform(
        "message-trace",
        "exchange-message-trace",
        "receivedDateTime",
        check_message_trace,
    );
}
