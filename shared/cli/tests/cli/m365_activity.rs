//! `auditlake normalize --source m365-activity`: the hand-written blobs in
//! `tests/fixtures/m365-activity/` (one JSON array per content type) checked field by field, the
//! edge cases (sentinels, `ResultStatus` casings, IP forms, unknown record types, records without
//! `Id`, bad times) fed on stdin, and a conformance check against the shared corpus of published
//! Management Activity API records (read in place, never copied).

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime};
use serde_json::{Value, json};

use crate::support::{Outcome, auditlake, corpus_missing, fixture, records_in};

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
            assert_eq!(e["id"], crate::support::expected_id(SOURCE, e, id));
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
    let url = "https://contoso.sharepoint.example/sites/Finance/Shared Documents/Budget 2025.xlsx";
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
    assert_eq!(
        future["id"],
        crate::support::expected_id(SOURCE, future, key)
    );
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
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc()))
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
    assert_eq!(
        e["id"],
        crate::support::expected_id(SOURCE, e, id),
        "{where_}"
    );
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
        corpus_missing(&records_dir, "m365-activity conformance");
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
    let response = root.join("mgmt-activity-api-responses/msdocs_retrieve-content_response.json");
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
