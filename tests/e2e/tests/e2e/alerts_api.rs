//! The alerts table's query side against moto (issue 15): `aws::triage::DynamoTriageStore` over
//! alerts the detection path stored (`DynamoAlertStore`) in two months: the `by_month` listing
//! newest first across months, one alert per page without skipping or repeating, the filters in
//! the FilterExpression, triage updates (the item's status wins over the stored document),
//! comments in their own partition, and the tenant's rules created once, replaced only when
//! present, deleted.

use aws::alerts::DynamoAlertStore;
use aws::triage::DynamoTriageStore;
use domain::alert::{Alert, AlertStore, AlertSummary, Severity, alert_id};
use domain::triage::{AlertChange, AlertFilter, AlertReader, AlertStatus, RuleStore, TenantRule};

use super::*;

fn alert(n: usize, rule: &str) -> Alert {
    Alert {
        id: alert_id(rule, &[&n.to_string()]),
        rule_id: rule.into(),
        title: "t".into(),
        severity: if n.is_multiple_of(2) {
            Severity::High
        } else {
            Severity::Low
        },
        techniques: vec!["T1110".into()],
        event_id: format!("entra-sign-ins:20260101T000000Z-k{n}"),
        record_id: None,
        event_ids: vec![format!("entra-sign-ins:20260101T000000Z-k{n}")],
        group: None,
        summary: AlertSummary {
            actor: Some("a@contoso.com".into()),
            operation: "Sign-in activity".into(),
            targets: vec![],
            source: "entra-sign-ins".into(),
            time: chrono::Utc::now(),
        },
        fields: Default::default(),
    }
}

#[tokio::test]
async fn the_alerts_table_lists_across_months_triages_and_keeps_rules() {
    let moto = Moto::start().await.expect("moto");
    let sdk = local_sdk_config(&moto.endpoint).await;
    let names = StackNames::default();
    provision(&sdk, &names, "s").await.unwrap();
    let db = aws_sdk_dynamodb::Client::new(&sdk);
    let writer = DynamoAlertStore::new(db.clone(), names.alerts_table.clone(), 365);
    let store = DynamoTriageStore::new(db, names.alerts_table.clone());
    let t = |s: &str| domain::model::parse_time(s).unwrap();
    // Five alerts: three in January, two in February; n = 4 is the newest.
    let times = [
        "2026-01-05T10:00:00Z",
        "2026-01-20T10:00:00Z",
        "2026-01-31T23:59:59Z",
        "2026-02-01T00:00:00Z",
        "2026-02-10T08:00:00Z",
    ];
    let mut ids = Vec::new();
    for (n, at) in times.iter().enumerate() {
        let a = alert(n, if n < 3 { "r-jan" } else { "r-feb" });
        assert!(writer.put_new(&a, t(at)).await.unwrap());
        assert!(!writer.put_new(&a, t(at)).await.unwrap(), "stored once");
        ids.push(a.id);
    }
    let pin = t("2026-03-01T00:00:00Z");
    let all = AlertFilter {
        rule: None,
        severity: None,
        status: None,
        start: t("2025-12-01T00:00:00Z"),
        end: pin,
    };
    // One per page, newest first, across the month boundary.
    let mut seen = Vec::new();
    let mut before: Option<String> = None;
    for _ in 0..10 {
        let page = store
            .list(&all, before.as_deref(), pin, 1, 40)
            .await
            .unwrap();
        seen.extend(page.alerts.iter().map(|a| a.alert.id.clone()));
        match page.resume {
            Some(r) => before = Some(r),
            None => break,
        }
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);
    let page = store.list(&all, None, pin, 50, 40).await.unwrap();
    assert_eq!(page.alerts.len(), 5);
    assert!(page.resume.is_none());
    // Filters: rule, severity, a range inside January.
    let jan = AlertFilter {
        rule: Some("r-jan".into()),
        ..all.clone()
    };
    assert_eq!(
        store
            .list(&jan, None, pin, 50, 40)
            .await
            .unwrap()
            .alerts
            .len(),
        3
    );
    let high = AlertFilter {
        severity: Some(Severity::High),
        ..all.clone()
    };
    let high_ids: Vec<String> = store
        .list(&high, None, pin, 50, 40)
        .await
        .unwrap()
        .alerts
        .iter()
        .map(|a| a.alert.id.clone())
        .collect();
    assert_eq!(high_ids, [ids[4].clone(), ids[2].clone(), ids[0].clone()]);
    let range = AlertFilter {
        start: t("2026-01-20T10:00:00Z"),
        end: t("2026-02-01T00:00:00Z"),
        ..all.clone()
    };
    let in_range: Vec<String> = store
        .list(&range, None, pin, 50, 40)
        .await
        .unwrap()
        .alerts
        .iter()
        .map(|a| a.alert.id.clone())
        .collect();
    assert_eq!(
        in_range,
        [ids[2].clone(), ids[1].clone()],
        "start inclusive, end exclusive"
    );

    // Triage.
    let change = AlertChange {
        status: Some(AlertStatus::Acknowledged),
        assignee: Some(Some("soc@contoso.com".into())),
        by: "u1".into(),
        at: pin,
    };
    let after = store.update(&ids[1], &change).await.unwrap().unwrap();
    assert_eq!(after.status, AlertStatus::Acknowledged);
    assert_eq!(after.assignee.as_deref(), Some("soc@contoso.com"));
    let unassign = AlertChange {
        status: None,
        assignee: Some(None),
        ..change.clone()
    };
    let after = store.update(&ids[1], &unassign).await.unwrap().unwrap();
    assert_eq!(
        (after.status, after.assignee),
        (AlertStatus::Acknowledged, None)
    );
    assert!(
        store
            .update(&alert_id("none", &[]), &change)
            .await
            .unwrap()
            .is_none()
    );
    let acked = AlertFilter {
        status: Some(AlertStatus::Acknowledged),
        ..all.clone()
    };
    let listed = store.list(&acked, None, pin, 50, 40).await.unwrap().alerts;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].alert.id, ids[1]);

    // Comments, oldest first, beside the alert.
    for (i, text) in ["first", "second"].iter().enumerate() {
        let c = domain::read::Comment {
            id: format!("c{i}"),
            author: "u1".into(),
            author_name: None,
            text: (*text).into(),
            created_at: fmt_time(pin + TimeDelta::seconds(i as i64)),
        };
        assert!(store.add_comment(&ids[1], &c).await.unwrap());
    }
    let (one, comments) = store.get(&ids[1]).await.unwrap().unwrap();
    assert_eq!(one.status, AlertStatus::Acknowledged);
    let texts: Vec<&str> = comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["first", "second"]);
    assert!(store.get(&alert_id("none", &[])).await.unwrap().is_none());
    let orphan = domain::read::Comment {
        id: "x".into(),
        author: "u".into(),
        author_name: None,
        text: "x".into(),
        created_at: fmt_time(pin),
    };
    assert!(
        !store
            .add_comment(&alert_id("none", &[]), &orphan)
            .await
            .unwrap()
    );

    // The tenant's rules.
    let rule = TenantRule {
        id: "tenant-a".into(),
        yaml: "title: a".into(),
        updated_at: fmt_time(pin),
        updated_by: "u1".into(),
    };
    assert!(
        !store.put_rule(&rule, false).await.unwrap(),
        "no rule to replace yet"
    );
    assert!(store.put_rule(&rule, true).await.unwrap());
    assert!(!store.put_rule(&rule, true).await.unwrap(), "created once");
    let edited = TenantRule {
        yaml: "title: b".into(),
        ..rule.clone()
    };
    assert!(store.put_rule(&edited, false).await.unwrap());
    assert_eq!(store.list_rules().await.unwrap(), vec![edited]);
    assert!(store.delete_rule("tenant-a").await.unwrap());
    assert!(!store.delete_rule("tenant-a").await.unwrap());
    assert!(store.list_rules().await.unwrap().is_empty());
}
