//! The built-in pack: every file shipped, every rule loads, every case raises exactly the alerts
//! it names (and nothing else), every rule has a case that raises it and one that must not.

use std::collections::{BTreeMap, BTreeSet};

use detect::pack::{FILES, builtin};
use detect::{Detector, evaluate_all};

use crate::support::{events, load, root};

#[test]
fn every_rule_file_is_in_the_pack() {
    let dir = root().join("infra/detections/rules");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml"))
        .map(|n| format!("infra/detections/rules/{n}"))
        .collect();
    let shipped: BTreeSet<String> = FILES.iter().map(|(p, _)| (*p).to_owned()).collect();
    assert_eq!(
        on_disk, shipped,
        "shared/detect/src/pack.rs must list every rule file"
    );
    for (path, text) in FILES {
        assert_eq!(
            std::fs::read_to_string(root().join(path)).unwrap(),
            *text,
            "{path}"
        );
    }
}

#[test]
fn the_pack_loads_and_covers_what_the_issue_asks() {
    let set = load(FILES.iter().copied());
    let ids: BTreeSet<&str> = set.rules().map(|r| r.id.as_str()).collect();
    for want in [
        "signin-legacy-auth",
        "signin-ropc-no-mfa",
        "signin-device-code",
        "signin-brute-force",
        "signin-password-spray",
        "signin-high-risk",
        "audit-mfa-removed",
        "audit-app-credential-added",
        "audit-oauth-consent",
        "audit-privileged-role-assigned",
        "audit-federation-changed",
        "audit-conditional-access-weakened",
        "m365-inbox-rule-forwarding",
        "m365-mailbox-forwarding",
        "m365-mass-download",
        "m365-external-sharing",
        "m365-dlp-high",
        "m365-compliance-alert",
        "m365-audit-disabled",
        "m365-ediscovery",
        "intune-device-wipe",
    ] {
        assert!(ids.contains(want), "the pack has no rule `{want}`: {ids:?}");
    }
    // The rules only thresholds count raise nothing themselves.
    assert!(!ids.contains("signin-failed-password"));
    assert!(!ids.contains("m365-file-downloaded"));
    for r in set.rules() {
        assert!(
            !r.techniques.is_empty() || r.id == "m365-compliance-alert",
            "{}: no ATT&CK technique",
            r.id
        );
        assert!(!r.fields.is_empty(), "{}: no fields for the analyst", r.id);
    }
}

#[test]
fn every_case_raises_exactly_what_it_names() {
    let set = builtin().unwrap();
    let detector = Detector::new(&set);
    let rule_file: BTreeMap<String, String> = set
        .rules()
        .map(|r| (r.id.clone(), r.origin.clone()))
        .collect();
    let mut failures = Vec::new();
    // Per rule: (raised by a case of its own file, a case of its own file that must not).
    let mut coverage: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    let dir = root().join("infra/detections/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let stem = name.trim_end_matches(".yml");
        let rules_file = format!("infra/detections/rules/{stem}.yml");
        assert!(
            FILES.iter().any(|(p, _)| *p == rules_file),
            "{name}: no rule file {rules_file}"
        );
        let file = detect::cases::parse(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let own: Vec<&String> = rule_file
            .iter()
            .filter(|(_, f)| **f == rules_file)
            .map(|(id, _)| id)
            .collect();
        for case in &file.cases {
            let records = case.expand(file.source).unwrap();
            let evs = events(file.source, case.stream.as_deref(), &records);
            let alerts = futures::executor::block_on(evaluate_all(
                &detector,
                evs.iter().map(|(e, r)| (e, Some(r))),
            ));
            let mut got: Vec<String> = alerts.iter().map(|a| a.rule_id.clone()).collect();
            got.sort();
            let mut want = case.raise.clone();
            want.sort();
            if got != want {
                failures.push(format!(
                    "{name}: `{}`: raised {got:?}, expected {want:?}",
                    case.name
                ));
            }
            for id in &own {
                let c = coverage.entry((*id).clone()).or_default();
                if want.contains(id) {
                    c.0 = true;
                } else {
                    c.1 = true;
                }
            }
            // Every alert names its event, and ids are unique.
            let ids: BTreeSet<&str> = alerts.iter().map(|a| a.id.as_str()).collect();
            assert_eq!(
                ids.len(),
                alerts.len(),
                "{name}: `{}`: duplicate alert ids",
                case.name
            );
        }
    }
    for id in rule_file.keys() {
        match coverage.get(id) {
            Some((true, true)) => {}
            other => failures.push(format!(
                "rule `{id}` needs a case that raises it and one that must not (has {other:?})"
            )),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
