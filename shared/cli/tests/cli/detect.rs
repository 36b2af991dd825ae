//! `auditlake detect` as an operator runs it: the built-in pack over every rule's own cases (the
//! records of `infra/detections/cases/`, one process per case) and over the shared corpus of
//! published records, each with exactly the expected alerts; a tenant's rules beside the pack;
//! rule errors that name the file, line and field; the exit codes of DESIGN's contract.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{Outcome, auditlake, corpus_missing};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn alerts(out: &Outcome) -> Vec<Value> {
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn write_ndjson(dir: &Path, name: &str, records: &[Value]) -> PathBuf {
    let path = dir.join(name);
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_pack_over_every_rules_own_cases_raises_exactly_the_expected_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("infra/detections/cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 20, "{files:?}");
    let mut failures = Vec::new();
    let mut cases = 0;
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let file = detect::cases::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
        for (i, case) in file.cases.iter().enumerate() {
            cases += 1;
            let records = case.expand(file.source).unwrap();
            let input = write_ndjson(dir.path(), &format!("{name}-{i}.ndjson"), &records);
            let mut args = vec!["detect", "--source", file.source.name()];
            if let Some(s) = &case.stream {
                args.extend(["--stream", s.as_str()]);
            }
            let input = input.display().to_string();
            args.push(&input);
            let out = auditlake(&args, None);
            let lines = alerts(&out);
            let mut got: Vec<String> = lines
                .iter()
                .map(|a| a["rule_id"].as_str().unwrap().to_owned())
                .collect();
            got.sort();
            let mut want = case.raise.clone();
            want.sort();
            let code = if want.is_empty() { 0 } else { 4 };
            if got != want || out.code != code {
                failures.push(format!(
                    "{name} `{}`: exit {} with {got:?}, expected exit {code} with {want:?}\n{}",
                    case.name, out.code, out.stderr
                ));
            }
            for a in &lines {
                for key in [
                    "rule_id",
                    "title",
                    "severity",
                    "techniques",
                    "event_id",
                    "time",
                ] {
                    assert!(!a[key].is_null(), "{name}: `{key}` missing in {a}");
                }
                let event = a["event_id"].as_str().unwrap();
                assert!(event.starts_with(file.source.name()), "{event}");
                if a.get("group").is_some() {
                    let ids = a["event_ids"]
                        .as_array()
                        .expect("a threshold lists its events");
                    assert!(ids.iter().any(|i| i == event), "{a}");
                }
            }
        }
    }
    assert!(cases >= 60, "only {cases} cases");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The alerts the pack raises on the shared corpus, by (rule, Microsoft's record id), read off
/// the records themselves: two Security & Compliance `AlertTriggered` records and one OneDrive
/// `AnonymousLinkCreated`. Every other record (ordinary directory changes, browser sign-ins,
/// Teams, Exchange item access, alert entity records) raises nothing.
const CORPUS_ALERTS: [(&str, &str); 3] = [
    (
        "m365-compliance-alert",
        "7d6297b5-e4a7-46f0-3c1e-08d7b1c1fb22",
    ),
    (
        "m365-compliance-alert",
        "dddddddd-cccc-eeee-aaaa-bbbbbbbbbbbb",
    ),
    (
        "m365-external-sharing",
        "1cb54d72-3a76-4a7c-7b3d-08d7b17b4ec9",
    ),
];

#[test]
fn the_pack_over_the_shared_corpus_raises_the_expected_alerts_and_none_else() {
    let corpus = root().join("../shared/corpus");
    if !corpus.is_dir() {
        corpus_missing(&corpus, "detect over the corpus");
        return;
    }
    let folders = [
        ("graph-directory-audits", "entra-directory-audits"),
        ("graph-signins", "entra-sign-ins"),
        ("intune-audit-events", "intune-audit"),
        ("message-trace", "exchange-message-trace"),
        (
            "mgmt-activity-records/Audit.AzureActiveDirectory",
            "m365-activity",
        ),
        ("mgmt-activity-records/Audit.Exchange", "m365-activity"),
        ("mgmt-activity-records/Audit.General", "m365-activity"),
        ("mgmt-activity-records/Audit.SharePoint", "m365-activity"),
    ];
    let mut raised = BTreeSet::new();
    let mut events = 0;
    for (folder, source) in folders {
        let mut files: Vec<PathBuf> = std::fs::read_dir(corpus.join(folder))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let path = f.display().to_string();
            let out = auditlake(&["detect", "--source", source, &path], None);
            assert!(
                out.code == 0 || out.code == 4,
                "{path}: exit {}\n{}",
                out.code,
                out.stderr
            );
            let n: u64 = out
                .stderr
                .lines()
                .find_map(|l| l.strip_prefix("auditlake: "))
                .and_then(|l| l.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{path}: no summary line in {}", out.stderr));
            events += n;
            for a in alerts(&out) {
                raised.insert((
                    a["rule_id"].as_str().unwrap().to_owned(),
                    a["record_id"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    // 48 records in these folders when this was written (PROVENANCE.md counts 64 in all).
    assert!(events >= 45, "only {events} events read from the corpus");
    let want: BTreeSet<(String, String)> = CORPUS_ALERTS
        .iter()
        .map(|(r, id)| ((*r).to_owned(), (*id).to_owned()))
        .collect();
    assert_eq!(raised, want);
}

const OWN_RULE: &str = "title: Sign-ins to the payroll app\nid: tenant-payroll\nlogsource:\n  product: azure\n  service: signinlogs\ndetection:\n  sel:\n    AppDisplayName: Payroll\n  condition: sel\nlevel: low\nfields: [userPrincipalName]\n";

const SIGN_IN: &str = r#"{"id":"aa000000-0000-4000-8000-000000000001","createdDateTime":"2026-11-30T10:00:00Z","userPrincipalName":"a@contoso.com","userId":"u1","appDisplayName":"Payroll","status":{"errorCode":0}}"#;

#[test]
fn a_tenants_rules_run_beside_the_pack() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/payroll.yml"), OWN_RULE).unwrap();
    let rules = dir.path().join("rules").display().to_string();
    let out = auditlake(
        &["detect", "--rules", &rules, "--source", "entra-sign-ins"],
        Some(SIGN_IN.as_bytes().to_vec()),
    );
    assert_eq!(out.code, 4, "{}", out.stderr);
    let lines = alerts(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["rule_id"], "tenant-payroll");
    assert_eq!(lines[0]["actor"], "a@contoso.com");
    assert_eq!(lines[0]["severity"], "low");
    // Without --rules, the pack alone raises nothing for it.
    let out = auditlake(
        &["detect", "--source", "entra-sign-ins"],
        Some(SIGN_IN.as_bytes().to_vec()),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
fn rule_errors_name_the_file_line_and_field_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = OWN_RULE.replace("product: azure", "product: windows");
    std::fs::write(dir.path().join("bad.yml"), bad).unwrap();
    // An id the pack already uses.
    std::fs::write(
        dir.path().join("dup.yml"),
        OWN_RULE
            .replace("tenant-payroll", "signin-legacy-auth")
            .replace("Sign-ins to the payroll app", "Another"),
    )
    .unwrap();
    let rules = dir.path().display().to_string();
    let out = auditlake(
        &["detect", "--rules", &rules, "--source", "entra-sign-ins"],
        Some(SIGN_IN.as_bytes().to_vec()),
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr
            .contains("bad.yml:3 (document 1): field `logsource`"),
        "{}",
        out.stderr
    );
    // One rule file whose id the pack already uses.
    let out = auditlake(
        &[
            "detect",
            "--rules",
            &dir.path().join("dup.yml").display().to_string(),
            "--source",
            "entra-sign-ins",
        ],
        Some(SIGN_IN.as_bytes().to_vec()),
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("`signin-legacy-auth` is already used"),
        "{}",
        out.stderr
    );
    let empty = tempfile::tempdir().unwrap();
    let out = auditlake(
        &[
            "detect",
            "--rules",
            &empty.path().display().to_string(),
            "--source",
            "entra-sign-ins",
        ],
        Some(SIGN_IN.as_bytes().to_vec()),
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no rule files"), "{}", out.stderr);
}

#[test]
fn quarantined_records_exit_3_and_alerts_are_still_printed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("payroll.yml"), OWN_RULE).unwrap();
    let rules = dir.path().display().to_string();
    let input = format!("{SIGN_IN}\n{{\"id\": \"no time\"}}\nnot json\n");
    let out = auditlake(
        &["detect", "--rules", &rules, "--source", "entra-sign-ins"],
        Some(input.into_bytes()),
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(alerts(&out).len(), 1);
    assert!(out.stderr.contains("2 quarantined"), "{}", out.stderr);
}
