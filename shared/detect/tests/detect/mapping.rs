//! Rules written the way SigmaHQ's Azure and Microsoft 365 rules name fields (Sentinel's
//! columns, `Properties.` prefixes, `eventSource`/`eventName`) run on what auditlake stores.
//! The rules here are the project's own, written in that style.

use detect::{Detector, evaluate_all};
use domain::model::Source;
use serde_json::json;

use crate::support::{events, load};

fn raised(
    rules: &str,
    source: Source,
    stream: Option<&str>,
    record: serde_json::Value,
) -> Vec<String> {
    let set = load([("style.yml", rules)]);
    let detector = Detector::new(&set);
    let evs = events(source, stream, &[record]);
    futures::executor::block_on(evaluate_all(
        &detector,
        evs.iter().map(|(e, r)| (e, Some(r))),
    ))
    .into_iter()
    .map(|a| a.rule_id)
    .collect()
}

#[test]
fn sentinel_sign_in_columns() {
    let rules = r#"
title: Wrong password, Sentinel style
id: s-result-type
logsource: {product: azure, service: signinlogs}
detection:
  sel:
    ResultType: 50126
    AppDisplayName: Azure Portal
    Properties.ConditionalAccessStatus: notApplied
    IPAddress: 203.0.113.5
  condition: sel
"#;
    let record = json!({
        "id": "11111111-0000-4000-8000-000000000000",
        "createdDateTime": "2026-11-30T10:00:00Z",
        "appDisplayName": "Azure Portal",
        "conditionalAccessStatus": "notApplied",
        "ipAddress": "203.0.113.5",
        "status": {"errorCode": 50126}
    });
    assert_eq!(
        raised(rules, Source::EntraSignIns, None, record.clone()),
        ["s-result-type"]
    );
    let mut other = record;
    other["status"]["errorCode"] = json!(0);
    assert!(raised(rules, Source::EntraSignIns, None, other).is_empty());
}

#[test]
fn sentinel_audit_columns_and_normalized_fields() {
    let rules = r#"
title: Consent, Sentinel style
id: s-operation-name
logsource: {product: azure, service: auditlogs}
detection:
  sel:
    OperationName: Consent to application
    Result: success
    TargetResources.DisplayName: Contoso Mail Reader
    auditlake.actor.upn: admin@contoso.com
  condition: sel
"#;
    let record = json!({
        "id": "Directory_0001",
        "activityDateTime": "2026-11-30T10:00:00Z",
        "activityDisplayName": "Consent to application",
        "category": "ApplicationManagement",
        "result": "success",
        "initiatedBy": {"user": {"id": "u1", "userPrincipalName": "admin@contoso.com"}},
        "targetResources": [{"id": "sp1", "displayName": "Contoso Mail Reader", "type": "ServicePrincipal"}]
    });
    assert_eq!(
        raised(rules, Source::EntraDirectoryAudits, None, record),
        ["s-operation-name"]
    );
}

#[test]
fn sigmahq_m365_names() {
    let rules = r#"
title: An alert, SigmaHQ m365 style
id: s-event-name
logsource: {product: m365, service: threat_management}
detection:
  sel:
    eventSource: SecurityComplianceCenter
    eventName: Suspicious email sending patterns detected
    status: Succeeded
  condition: sel
"#;
    let record = json!({
        "Id": "2b2b2b2b-0000-4000-8000-000000000000",
        "CreationTime": "2026-11-30T10:00:00",
        "Operation": "AlertTriggered",
        "Workload": "SecurityComplianceCenter",
        "RecordType": 40,
        "ResultStatus": "Succeeded",
        "UserId": "SecurityComplianceAlerts",
        "Name": "Suspicious email sending patterns detected",
        "Severity": "Medium"
    });
    assert_eq!(
        raised(
            rules,
            Source::M365Activity,
            Some("Audit.General"),
            record.clone()
        ),
        ["s-event-name"]
    );
    // The rule is for threat management (Audit.General): an Exchange record does not reach it.
    assert!(raised(rules, Source::M365Activity, Some("Audit.Exchange"), record).is_empty());
}

#[test]
fn a_raw_key_named_auditlake_cannot_pose_as_the_normalized_event() {
    let rules = r#"
title: Normalized operation
id: s-normalized
logsource: {product: azure, service: auditlogs}
detection:
  sel: {auditlake.operation: Delete conditional access policy}
  condition: sel
"#;
    let record = json!({
        "id": "Directory_0002",
        "activityDateTime": "2026-11-30T10:00:00Z",
        "activityDisplayName": "Update user",
        "result": "success",
        "auditlake": {"operation": "Delete conditional access policy"}
    });
    assert!(raised(rules, Source::EntraDirectoryAudits, None, record).is_empty());
}
