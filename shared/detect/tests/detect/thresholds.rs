//! Thresholds under what collection does to events: replayed (a retried stream batch), out of
//! order (a late page), and windows that slide past.

use chrono::{Duration, TimeZone, Utc};
use detect::threshold::{MemoryWindows, observe};
use detect::{Detector, RuleSet};
use domain::model::Source;
use serde_json::json;

use crate::support::events;

const RULES: &str = r#"
title: Failed
id: t-failed
name: t_failed
logsource: {product: azure, service: signinlogs}
detection:
  sel: {status.errorCode: 50126}
  condition: sel
---
title: Three failures
id: t-three
correlation:
  type: event_count
  rules: [t_failed]
  group-by: [userPrincipalName]
  timespan: 10m
  condition: {gte: 3}
level: high
fields: [userPrincipalName]
---
title: Two users from one address
id: t-spray
correlation:
  type: value_count
  rules: [t_failed]
  group-by: [ipAddress]
  timespan: 1h
  condition: {field: userPrincipalName, gte: 2}
level: high
fields: [ipAddress]
"#;

fn failure(n: u32, upn: &str, ip: &str, minute: i64) -> serde_json::Value {
    let t = Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap() + Duration::minutes(minute);
    json!({
        "id": format!("00000000-0000-4000-8000-{n:012}"),
        "createdDateTime": domain::model::fmt_time(t),
        "userPrincipalName": upn,
        "userId": "u1",
        "ipAddress": ip,
        "status": {"errorCode": 50126, "failureReason": "Invalid username or password."}
    })
}

fn observe_all(
    detector: &Detector,
    windows: &MemoryWindows,
    records: &[serde_json::Value],
) -> Vec<String> {
    let mut out = Vec::new();
    for (e, raw) in events(Source::EntraSignIns, Some("interactiveUser"), records) {
        let ev = detector.evaluate(&e, Some(&raw));
        assert!(ev.alerts.is_empty(), "the base rule raises nothing itself");
        for o in &ev.observations {
            if let Some(a) = futures::executor::block_on(observe(windows, o)).unwrap() {
                out.push(format!("{} {}", a.rule_id, a.id));
            }
        }
    }
    out
}

#[test]
fn a_threshold_raises_once_and_a_replay_raises_nothing_new() {
    let set = RuleSet::load([("t.yml", RULES)]).unwrap();
    let detector = Detector::new(&set);
    let th = MemoryWindows::default();
    let records: Vec<_> = (0..3)
        .map(|n| failure(n, "alice@contoso.com", "203.0.113.1", n as i64))
        .collect();
    let first = observe_all(&detector, &th, &records);
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0].starts_with("t-three "));
    // The same batch again (a stream retry): the members are known and spent.
    assert!(observe_all(&detector, &th, &records).is_empty());
    // Two more failures are not three new ones; a third is.
    let more: Vec<_> = (3..5)
        .map(|n| failure(n, "ALICE@contoso.com", "203.0.113.1", n as i64))
        .collect();
    assert!(observe_all(&detector, &th, &more).is_empty());
    let last = observe_all(
        &detector,
        &th,
        &[failure(5, "alice@contoso.com", "203.0.113.1", 6)],
    );
    assert_eq!(last.len(), 1, "{last:?}");
    assert_ne!(last[0], first[0]);
}

#[test]
fn the_window_slides_and_late_events_count_at_their_own_time() {
    let set = RuleSet::load([("t.yml", RULES)]).unwrap();
    let detector = Detector::new(&set);
    let th = MemoryWindows::default();
    // Three failures 11 minutes apart never share a 10-minute window.
    let spread: Vec<_> = (0..3)
        .map(|n| failure(n, "bob@contoso.com", "198.51.100.1", 11 * n as i64))
        .collect();
    assert!(observe_all(&detector, &th, &spread).is_empty());
    // A late failure at minute 12 puts two (11 and 12, and 22 later) within ten minutes of 22.
    let late = observe_all(
        &detector,
        &th,
        &[failure(9, "bob@contoso.com", "198.51.100.1", 12)],
    );
    assert!(late.is_empty(), "11 and 12 are two, not three: {late:?}");
    let crossing = observe_all(
        &detector,
        &th,
        &[failure(10, "bob@contoso.com", "198.51.100.1", 20)],
    );
    assert_eq!(
        crossing.len(),
        1,
        "11, 12 and 20 are three within ten minutes: {crossing:?}"
    );
}

#[test]
fn value_count_counts_distinct_values_per_group() {
    let set = RuleSet::load([("t.yml", RULES)]).unwrap();
    let detector = Detector::new(&set);
    let th = MemoryWindows::default();
    // The same user twice from one address: one distinct user.
    let same = [
        failure(0, "carol@contoso.com", "192.0.2.7", 0),
        failure(1, "carol@contoso.com", "192.0.2.7", 1),
    ];
    let got = observe_all(&detector, &th, &same);
    assert!(got.iter().all(|g| !g.starts_with("t-spray")), "{got:?}");
    // A second user from that address: the spray rule.
    let got = observe_all(
        &detector,
        &th,
        &[failure(2, "dave@contoso.com", "192.0.2.7", 2)],
    );
    assert!(got.iter().any(|g| g.starts_with("t-spray")), "{got:?}");
}
