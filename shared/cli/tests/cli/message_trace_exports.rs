//! Message trace as users hold it (issue 13): rows of PowerShell's `Get-MessageTraceV2`
//! (`ConvertTo-Json`, with its `@data.type` sidecar keys) and of the retired Reporting Web
//! Service, PascalCase with `Received`, normalize as `exchange-message-trace` events: the shared
//! corpus folder (every record normalized, none refused) and fixtures of the project's own (JSON,
//! and CSV as Windows PowerShell's `Export-Csv` writes it), each event checked against its row.

use chrono::{DateTime, NaiveDateTime};
use serde_json::{Value, json};

use crate::support::{auditlake, corpus_missing, fixture, records_in};
use testkit::corpus::corpus_dir;

/// The row's `Received` as the contract writes times: UTC, milliseconds (a zone-less time is UTC).
fn expected_time(s: &str) -> String {
    let t = DateTime::parse_from_rfc3339(s)
        .map(|t| t.naive_utc())
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
        .unwrap_or_else(|e| panic!("row time {s}: {e}"));
    t.and_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn nonempty(r: &Value, key: &str) -> Value {
    match r.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => json!(s.trim()),
        _ => Value::Null,
    }
}

fn check_row(where_: &str, e: &Value, r: &Value) {
    assert_eq!(e["source"], "exchange-message-trace", "{where_}");
    assert_eq!(
        e["time"],
        expected_time(r["Received"].as_str().unwrap()),
        "{where_}"
    );
    let recipient = r["RecipientAddress"].as_str().unwrap();
    assert_eq!(
        e["record_id"],
        format!(
            "{}:{}",
            r["MessageTraceId"].as_str().unwrap(),
            recipient.to_lowercase()
        ),
        "{where_}"
    );
    assert_eq!(e["actor"]["kind"], "user", "{where_}");
    assert_eq!(e["actor"]["upn"], nonempty(r, "SenderAddress"), "{where_}");
    assert_eq!(
        e["targets"],
        json!([{"kind": "recipient", "id": null, "name": recipient}]),
        "{where_}"
    );
    assert_eq!(e["client_ip"], nonempty(r, "FromIP"), "{where_}");
    let result = match r["Status"].as_str().unwrap().to_ascii_lowercase().as_str() {
        "delivered" | "expanded" => "success",
        "failed" | "quarantined" | "filteredasspam" => "failure",
        _ => "unknown",
    };
    assert_eq!(e["result"], result, "{where_}");
    assert_eq!(e["details"]["subject"], nonempty(r, "Subject"), "{where_}");
    assert_eq!(
        e["details"]["message_id"],
        nonempty(r, "MessageId"),
        "{where_}"
    );
    assert_eq!(e["details"]["size"], r["Size"], "{where_}");
    assert_eq!(&e["raw"], r, "{where_}: raw is the row");
}

/// `auditlake normalize --source exchange-message-trace <path>`.
fn normalize(path: &std::path::Path) -> crate::support::Outcome {
    auditlake(
        &[
            "normalize",
            "--source",
            "exchange-message-trace",
            path.to_str().unwrap(),
        ],
        None,
    )
}

fn normalize_and_check(path: &std::path::Path) -> usize {
    let rows = records_in(path);
    let out = normalize(path);
    assert_eq!(out.code, 0, "{}: {}", path.display(), out.stderr);
    let events = out.events();
    assert_eq!(
        events.len(),
        rows.len(),
        "{}: one event per row",
        path.display()
    );
    for (i, (e, r)) in events.iter().zip(&rows).enumerate() {
        check_row(&format!("{} row {}", path.display(), i + 1), e, r);
    }
    rows.len()
}

#[test]
fn powershell_and_reporting_web_service_rows_normalize() {
    let n = normalize_and_check(&fixture("exchange-message-trace/powershell-v2.json"));
    assert_eq!(n, 3);
}

#[test]
fn every_message_trace_row_of_the_shared_corpus_normalizes() {
    let dir = corpus_dir().join("message-trace");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        corpus_missing(&dir, "message trace exports");
        return;
    };
    let mut files: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ndjson" || x == "json"))
        .collect();
    files.sort();
    let legacy: Vec<_> = files
        .iter()
        .filter(|p| records_in(p).iter().all(|r| r.get("Received").is_some()))
        .collect();
    assert!(
        !legacy.is_empty(),
        "the corpus folder holds no PowerShell or RWS rows"
    );
    let rows: usize = legacy.iter().map(|p| normalize_and_check(p)).sum();
    eprintln!(
        "corpus message-trace: {} files, {rows} PowerShell/RWS rows normalize",
        legacy.len()
    );
}

#[test]
fn powershell_export_csv_rows_normalize_and_a_short_row_is_quarantined_with_its_line() {
    // Windows PowerShell's Export-Csv: a `#TYPE` line, CRLF, every value quoted, the time in the
    // en-US culture's format, a comma and doubled quotes inside values, and a truncated row.
    let path = fixture("exchange-message-trace/powershell-v2.csv");
    let out = normalize(&path);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("powershell-v2.csv:line 5: not a CSV row"),
        "{}",
        out.stderr
    );
    let e = out.events();
    assert_eq!(e.len(), 2);
    assert_eq!(e[0]["time"], "2026-03-04T09:15:27.000Z");
    assert_eq!(
        e[0]["record_id"],
        "7d2c1a90-3b4e-4f5a-9c8d-1e2f3a4b5c6d:ana@contoso.example"
    );
    assert_eq!(e[0]["result"], "failure");
    assert_eq!(e[0]["details"]["subject"], "Quarterly figures, Q1");
    assert_eq!(
        e[0]["details"]["size"], 48211,
        "a numeric string is a number"
    );
    assert_eq!(
        e[0]["details"].get("to_ip"),
        None,
        "an empty ToIP is absent"
    );
    assert_eq!(e[1]["details"]["subject"], "He said \"hi\"");
    assert_eq!(e[1]["result"], "success");
    assert_eq!(
        e[1]["raw"]["Received"], "2026-03-04T09:16:00.0000000Z",
        "raw keeps the row's values"
    );
}
