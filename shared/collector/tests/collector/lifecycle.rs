//! The bucket's lifecycle rules against the keys the collector writes (issue 13: template-only
//! features get behaviour tests): every raw, quarantine and curated object the code names falls
//! under exactly one rule of `template.yaml`, which expires it, and any version of it that was
//! overwritten, after `RawRetentionDays` (raw moving to Standard-IA after 30 days first). A rule
//! whose prefix no longer matches the code's keys would let that layer grow forever, or expire
//! what it should keep.

use chrono::{TimeZone, Utc};
use collector::curated::curated_key;
use domain::model::Source;
use domain::store::keys::{quarantine_key, raw_key};

/// A lifecycle rule as the template writes it: its `Id`, `Prefix` and the lines of its body.
struct Rule {
    id: String,
    prefix: Option<String>,
    body: Vec<String>,
}

fn rules(template: &str) -> Vec<Rule> {
    let start = template
        .find("LifecycleConfiguration:")
        .expect("the lake bucket's lifecycle");
    let mut out: Vec<Rule> = Vec::new();
    for line in template[start..].lines().skip(2) {
        let t = line.trim();
        if let Some(id) = t.strip_prefix("- Id: ") {
            out.push(Rule {
                id: id.to_string(),
                prefix: None,
                body: Vec::new(),
            });
            continue;
        }
        // The rules end where the bucket's next property begins (6 spaces of indent).
        if !line.starts_with("          ") && !t.is_empty() && !t.starts_with('#') {
            break;
        }
        if let Some(rule) = out.last_mut() {
            if let Some(p) = t.strip_prefix("Prefix: ") {
                rule.prefix = Some(p.to_string());
            }
            rule.body.push(t.to_string());
        }
    }
    out
}

fn problems(template: &str) -> Vec<String> {
    let at = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
    let keys = [
        ("raw", raw_key(Source::EntraSignIns, None, at, "r1", 1)),
        (
            "raw",
            raw_key(Source::M365Activity, Some("Audit.Exchange"), at, "r1", 2),
        ),
        (
            "quarantine",
            quarantine_key(Source::IntuneAudit, at, "r1", 1),
        ),
        (
            "curated",
            curated_key(Source::EntraDirectoryAudits, "2024-05-01", at, "b1"),
        ),
    ];
    let rules = rules(template);
    let mut out = Vec::new();
    for (layer, key) in keys {
        let matching: Vec<&Rule> = rules
            .iter()
            .filter(|r| r.prefix.as_deref().is_some_and(|p| key.starts_with(p)))
            .collect();
        let [rule] = matching[..] else {
            out.push(format!(
                "{key}: {} lifecycle rules match it, not one",
                matching.len()
            ));
            continue;
        };
        let has = |line: &str| rule.body.iter().any(|l| l == line);
        if !has("ExpirationInDays: !Ref RawRetentionDays") {
            out.push(format!(
                "{key} ({}): not expired after RawRetentionDays",
                rule.id
            ));
        }
        if !has("NoncurrentDays: !Ref RawRetentionDays") {
            out.push(format!(
                "{key} ({}): overwritten versions not kept RawRetentionDays",
                rule.id
            ));
        }
        if layer == "raw" && !(has("- StorageClass: STANDARD_IA") && has("TransitionInDays: 30")) {
            out.push(format!(
                "{key} ({}): raw does not move to Standard-IA after 30 days",
                rule.id
            ));
        }
    }
    out
}

#[test]
fn every_layer_the_collector_writes_expires_after_the_raw_retention() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
    let template = std::fs::read_to_string(path).expect("template.yaml");
    let p = problems(&template);
    assert!(p.is_empty(), "{p:#?}");
    // A prefix the code no longer writes under, and a retention cut short, are caught.
    for (from, to, why) in [
        ("Prefix: curated/", "Prefix: parquet/", "0 lifecycle rules"),
        (
            "Prefix: quarantine/\n            ExpirationInDays: !Ref RawRetentionDays",
            "Prefix: quarantine/\n            ExpirationInDays: 30",
            "not expired after",
        ),
    ] {
        let planted = template.replacen(from, to, 1);
        assert_ne!(planted, template, "{from}");
        let p = problems(&planted);
        assert!(p.iter().any(|l| l.contains(why)), "{why}: {p:?}");
    }
}
