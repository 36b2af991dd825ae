//! Real exports read leniently (issue 13): times with a space or 0 to 9 fractional digits and any
//! zone, keys in any letter case, the Azure Monitor envelope's time, operation and result where
//! the inner record lacks them, every result word Microsoft uses, SharePoint's app and the local
//! system as actors, and a file with bad bytes, a truncated line and an out-of-range number: each
//! bad line quarantined with its position, every good line normalized.

use chrono::{TimeZone, Utc};
use domain::model::{ActorKind, EventResult, Source, fmt_time, parse_time};
use domain::normalize::{Context, normalize, normalize_envelope, normalize_reader, result_word};
use serde_json::value::RawValue;
use serde_json::{Value, json};

fn ctx() -> Context<'static> {
    Context {
        tenant_id: "t",
        stream: None,
        ingested_at: Utc.with_ymd_and_hms(2024, 10, 1, 0, 0, 0).unwrap(),
    }
}

fn raw(v: &Value) -> Box<RawValue> {
    RawValue::from_string(v.to_string()).unwrap()
}

#[test]
fn times_in_every_export_spelling_read_as_utc_to_the_millisecond() {
    for (given, want) in [
        ("2024-09-23 14:33:09.049661100", "2024-09-23T14:33:09.049Z"),
        ("2024-09-23T14:33:09.049661100Z", "2024-09-23T14:33:09.049Z"),
        ("2024-09-23T14:33:09Z", "2024-09-23T14:33:09.000Z"),
        ("2024-09-23T14:33:09.5", "2024-09-23T14:33:09.500Z"),
        ("2024-09-23 14:33:09", "2024-09-23T14:33:09.000Z"),
        ("2024-09-23 14:33:09Z", "2024-09-23T14:33:09.000Z"),
        ("2024-09-23T16:33:09.1+02:00", "2024-09-23T14:33:09.100Z"),
        (
            "2024-09-23 16:33:09.1234567 +0200",
            "2024-09-23T14:33:09.123Z",
        ),
        ("2024-09-23T16:33:09+0200", "2024-09-23T14:33:09.000Z"),
        ("2024-09-23T14:33", "2024-09-23T14:33:00.000Z"),
    ] {
        let t = parse_time(given).unwrap_or_else(|| panic!("{given} not read"));
        assert_eq!(fmt_time(t), want, "{given}");
    }
    for junk in [
        "23/09/2024",
        "2024-09-23",
        "yesterday",
        "2024-09-23 ",
        "2024-13-01T00:00:00Z",
    ] {
        assert_eq!(parse_time(junk), None, "{junk}");
    }
}

#[test]
fn result_words_map_to_the_contracts_results() {
    for (word, want) in [
        ("Succeeded", Some(EventResult::Success)),
        ("Successful", Some(EventResult::Success)),
        ("TRUE", Some(EventResult::Success)),
        ("True", Some(EventResult::Success)),
        ("success", Some(EventResult::Success)),
        ("0", Some(EventResult::Success)),
        ("Failed", Some(EventResult::Failure)),
        ("FALSE", Some(EventResult::Failure)),
        ("50126", Some(EventResult::Failure)),
        ("PartiallySucceeded", Some(EventResult::Partial)),
        ("Interrupted", None),
    ] {
        assert_eq!(result_word(word), want, "{word}");
    }
    // An unknown word stays unknown, and the word is kept.
    let r = json!({"id": "x1", "activityDateTime": "2024-09-23T14:33:09Z", "activityDisplayName": "Update user",
                   "result": "Interrupted", "loggedByService": "Core Directory"});
    let e = normalize(Source::EntraDirectoryAudits, &raw(&r), ctx()).unwrap();
    assert_eq!(e.result, EventResult::Unknown);
    assert_eq!(e.result_reason.as_deref(), Some("Interrupted"));
    let r = json!({"id": "i1", "activityDateTime": "2024-09-23T14:33:09Z", "activityType": "Delete device",
                   "activityResult": "Succeeded", "componentName": "Devices"});
    let e = normalize(Source::IntuneAudit, &raw(&r), ctx()).unwrap();
    assert_eq!(e.result, EventResult::Success);
}

#[test]
fn lower_cased_management_api_records_read_like_their_usual_spelling() {
    let r = json!({"id": "5e1c0b7e-0000-4000-8000-00000000000a", "recordtype": 6,
                   "creationtime": "2024-09-23T14:33:09", "operation": "FileAccessed",
                   "organizationid": "t2", "userid": "ann@contoso.example", "usertype": 0,
                   "workload": "SharePoint", "clientip": "203.0.113.7", "resultstatus": "Succeeded"});
    let e = normalize(Source::M365Activity, &raw(&r), ctx()).unwrap();
    assert_eq!(fmt_time(e.time), "2024-09-23T14:33:09.000Z");
    assert_eq!(e.operation, "FileAccessed");
    assert_eq!(e.actor.upn.as_deref(), Some("ann@contoso.example"));
    assert_eq!(e.client_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(e.result, EventResult::Success);
    assert_eq!(e.service.as_deref(), Some("SharePoint"));
}

#[test]
fn sharepoints_app_and_the_local_system_are_not_users() {
    let base = |user_id: &str, user_key: &str| {
        json!({"Id": format!("5e1c0b7e-0000-4000-8000-{:012}", user_id.len()), "RecordType": 6,
               "CreationTime": "2024-09-23T14:33:09", "Operation": "FileModified", "UserType": 0,
               "UserId": user_id, "UserKey": user_key, "Workload": "SharePoint"})
    };
    let app = base(
        "app@sharepoint",
        "i:0i.t|00000003-0000-0ff1-ce00-000000000000|app@sharepoint",
    );
    let e = normalize(Source::M365Activity, &raw(&app), ctx()).unwrap();
    assert_eq!(e.actor.kind, ActorKind::App);
    assert_eq!(e.actor.upn, None, "app@sharepoint is not a UPN");
    for (id, key) in [
        (
            "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)",
            "S-1-5-18",
        ),
        ("S-1-5-18", "S-1-5-18"),
    ] {
        let e = normalize(Source::M365Activity, &raw(&base(id, key)), ctx()).unwrap();
        assert_eq!(e.actor.kind, ActorKind::System, "{id}");
        assert_eq!(e.actor.upn, None);
    }
}

#[test]
fn the_envelope_gives_time_operation_and_result_where_the_inner_record_lacks_them() {
    // Lower-cased envelope keys, a sign-in whose result is only on the envelope.
    let env = json!({"time": "2024-09-23T14:33:09.0496611Z", "resourceid": "/tenants/t/providers/Microsoft.aadiam",
                     "operationname": "Sign-in activity", "category": "SignInLogs", "tenantid": "t9",
                     "resulttype": "50126", "resultsignature": "None", "resultdescription": "Invalid username or password.",
                     "properties": {"id": "s1", "createdDateTime": "2024-09-23T14:33:09.0496611Z",
                                    "userPrincipalName": "ann@contoso.example", "ipAddress": "203.0.113.7"}});
    let e = normalize_envelope(Source::EntraSignIns, &raw(&env), ctx()).unwrap();
    assert_eq!(e.tenant_id, "t9");
    assert_eq!(e.result, EventResult::Failure);
    assert_eq!(
        e.result_reason.as_deref(),
        Some("Invalid username or password.")
    );
    assert_eq!(e.stream.as_deref(), Some("interactiveUser"));
    // A directory audit without its own time or activity name: the envelope's.
    let env = json!({"time": "2024-09-23 14:33:09.049661100", "operationName": "Add member to group",
                     "resourceId": "/tenants/t/providers/Microsoft.aadiam", "resultSignature": "Success",
                     "properties": {"id": "d1", "loggedByService": "Core Directory"}});
    let e = normalize_envelope(Source::EntraDirectoryAudits, &raw(&env), ctx()).unwrap();
    assert_eq!(fmt_time(e.time), "2024-09-23T14:33:09.049Z");
    assert_eq!(e.operation, "Add member to group");
    assert_eq!(e.result, EventResult::Success);
    // Neither has a time: the error names both places.
    let env = json!({"operationName": "x", "resourceId": "r", "properties": {"id": "d2"}});
    let err = normalize_envelope(Source::EntraDirectoryAudits, &raw(&env), ctx()).unwrap_err();
    assert!(err.to_string().contains("envelope's time"), "{err}");
}

#[test]
fn bad_bytes_a_truncated_line_and_a_huge_number_are_quarantined_with_their_position() {
    let good = |id: &str| {
        json!({"id": id, "activityDateTime": "2024-09-23T14:33:09Z", "activityDisplayName": "Update user",
               "result": "success"})
        .to_string()
    };
    let mut input = Vec::new();
    for line in [
        good("a1").into_bytes(),
        b"{\"id\": \"bad\xff\xfe\", \"activityDateTime\": \"2024-09-23T14:33:09Z\"}".to_vec(),
        good("a2").into_bytes(),
        br#"{"id": "cut", "activityDateTime": "2024-09"#.to_vec(),
        br#"{"id": "big", "activityDateTime": "2024-09-23T14:33:09Z", "n": 1e999}"#.to_vec(),
        good("a3").into_bytes(),
    ] {
        input.extend(line);
        input.push(b'\n');
    }
    let (mut out, mut problems) = (Vec::new(), Vec::new());
    let counts = normalize_reader(
        Source::EntraDirectoryAudits,
        "t",
        &input[..],
        "export.ndjson",
        &mut out,
        &mut problems,
    )
    .unwrap();
    assert_eq!((counts.normalized, counts.quarantined), (3, 3));
    let ids: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["record_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, ["a1", "a2", "a3"]);
    let problems = String::from_utf8(problems).unwrap();
    for (line, why) in [(2, "UTF-8"), (4, ""), (5, "")] {
        assert!(
            problems.contains(&format!("export.ndjson:line {line}:")) && problems.contains(why),
            "line {line} ({why}) not reported in:\n{problems}"
        );
    }
}
