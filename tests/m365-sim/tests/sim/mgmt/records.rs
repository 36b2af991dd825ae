//! The records in blobs: they parse, and each workload's records carry its fields. The benign
//! baseline only (attacks off): the planted records are checked in `attacks.rs`.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::DateTime;
use serde_json::Value;

use crate::support::mgmt::*;
use crate::support::{TENANT, TestResult, t};

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

fn has(r: &Value, fields: &[&str]) -> bool {
    fields.iter().all(|f| !r[*f].is_null())
}

fn props(r: &Value, key: &str) -> Vec<String> {
    r[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["Name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn blob_records_parse_and_carry_each_workloads_fields() -> TestResult {
    let api = Api::new(config(|c| {
        c.now = Some(t(NOW_OFF));
        c.events_per_hour = 240;
        c.attacks = false;
    }))
    .await?;
    api.start_all().await?;
    let mut ids = HashSet::new();
    let mut ops: BTreeMap<&str, BTreeSet<(u64, String)>> = BTreeMap::new();
    let mut ip_kinds = BTreeSet::new();
    let mut text = String::new();
    let mut upns = HashSet::new();
    for ct in TYPES {
        let blobs = api.pull(ct, 1).await?;
        let volume = match ct {
            "Audit.AzureActiveDirectory" => 0.8,
            "Audit.General" => 0.3,
            "DLP.All" => 0.1,
            _ => 1.0,
        };
        let mean = 240.0 * volume * 600.0 / 3600.0;
        let total: usize = blobs.iter().map(|b| b.1.len()).sum();
        let avg = total as f64 / blobs.len() as f64;
        assert!(
            (avg - mean).abs() <= mean * 0.15 + 0.2,
            "{ct}: {avg} vs {mean}"
        );
        for (_, records) in &blobs {
            assert!(
                (records.len() as f64) >= (mean * 0.5).floor()
                    && (records.len() as f64) <= (mean * 1.5).ceil(),
                "{ct}: {} records",
                records.len()
            );
            for r in records {
                text.push_str(&r.to_string());
                let id = r["Id"].as_str().unwrap_or_default();
                assert!(is_guid(id), "{r}");
                assert!(ids.insert(id.to_string()), "duplicate Id {id}");
                assert!(r["RecordType"].is_u64(), "{r}");
                assert!(r["UserType"].is_u64(), "{r}");
                let created = r["CreationTime"].as_str().unwrap_or_default();
                assert_eq!(created.len(), 19, "{created}");
                assert!(DateTime::parse_from_rfc3339(&format!("{created}Z")).is_ok());
                assert_eq!(r["OrganizationId"], TENANT);
                assert!(
                    has(r, &["Operation", "UserKey", "Workload", "UserId"]),
                    "{r}"
                );
                if let Some(ip) = r["ClientIP"].as_str() {
                    ip_kinds.insert(if ip.is_empty() {
                        "empty"
                    } else if ip.starts_with('[') && ip.contains("]:") {
                        "[v6]:port"
                    } else if ip.contains('.') && ip.contains(':') {
                        "v4:port"
                    } else if ip.contains(':') {
                        "v6"
                    } else {
                        "v4"
                    });
                }
                let user = r["UserId"].as_str().unwrap_or_default();
                if user.contains('@') {
                    upns.insert(user.to_string());
                }
                let op = r["Operation"].as_str().unwrap_or_default().to_string();
                let rt = r["RecordType"].as_u64().unwrap_or_default();
                ops.entry(ct).or_default().insert((rt, op.clone()));
                match (rt, op.as_str()) {
                    (15, "UserLoggedIn" | "UserLoginFailed") => {
                        assert!(
                            has(
                                r,
                                &[
                                    "ResultStatus",
                                    "ErrorCode",
                                    "LogonError",
                                    "DeviceProperties",
                                    "ActorIpAddress",
                                    "ApplicationId"
                                ]
                            ),
                            "{r}"
                        );
                        assert!(props(r, "ExtendedProperties").contains(&"UserAgent".to_string()));
                        let want = if op == "UserLoggedIn" {
                            "Success"
                        } else {
                            "Failure"
                        };
                        assert_eq!(r["ResultStatus"], want);
                    }
                    (8, _) => {
                        assert!(has(r, &["Actor", "Target", "ModifiedProperties"]), "{r}");
                        assert!(
                            r["ModifiedProperties"]
                                .as_array()
                                .is_some_and(|a| !a.is_empty())
                        );
                    }
                    (1, "New-InboxRule") => {
                        let p = props(r, "Parameters");
                        assert!(
                            ["MoveToFolder", "MarkAsRead"]
                                .iter()
                                .any(|k| p.contains(&k.to_string())),
                            "{r}"
                        );
                        // Forwarding and deleting rules are planted attacks only.
                        assert!(
                            !["ForwardTo", "RedirectTo", "DeleteMessage"]
                                .iter()
                                .any(|k| p.contains(&k.to_string())),
                            "{r}"
                        );
                        assert!(matches!(r["ResultStatus"].as_str(), Some("True" | "False")));
                    }
                    (1, "Set-Mailbox") => {
                        let p = props(r, "Parameters");
                        assert!(p.contains(&"Identity".to_string()), "{r}");
                        assert!(!p.contains(&"ForwardingSmtpAddress".to_string()), "{r}");
                    }
                    (2, "Send" | "HardDelete") => {
                        assert!(
                            has(r, &["MailboxOwnerUPN", "LogonType", "MailboxGuid"]),
                            "{r}"
                        );
                    }
                    (50, "MailItemsAccessed") => {
                        assert!(
                            has(
                                r,
                                &[
                                    "OperationCount",
                                    "ClientInfoString",
                                    "MailboxOwnerUPN",
                                    "LogonType"
                                ]
                            ),
                            "{r}"
                        );
                    }
                    (6, "FileAccessed" | "FileDownloaded" | "FileUploaded") => {
                        assert!(
                            has(
                                r,
                                &[
                                    "SiteUrl",
                                    "SourceFileName",
                                    "SourceFileExtension",
                                    "UserAgent"
                                ]
                            ),
                            "{r}"
                        );
                    }
                    (14, "SharingSet" | "CompanyLinkCreated" | "SharingInvitationCreated") => {
                        assert!(has(r, &["TargetUserOrGroupName", "SiteUrl"]), "{r}");
                        // Inside the organisation: guests and anonymous links are planted.
                        assert!(matches!(
                            r["TargetUserOrGroupType"].as_str(),
                            Some("Member" | "SharePointGroup")
                        ));
                    }
                    (25, "TeamCreated" | "MemberAdded") => {
                        assert_eq!(r["Workload"], "MicrosoftTeams");
                        assert!(r["Members"].as_array().is_some_and(
                            |m| !m.is_empty() && m.iter().all(|x| has(x, &["UPN", "Role"]))
                        ));
                    }
                    (11 | 13, "DlpRuleMatch") => {
                        assert_eq!(r["SensitiveInfoDetectionIsIncluded"], true);
                        let rule = &r["PolicyDetails"][0]["Rules"][0];
                        assert!(has(&r["PolicyDetails"][0], &["PolicyId", "PolicyName"]));
                        assert!(has(rule, &["RuleName", "Severity", "Actions"]), "{r}");
                        assert_ne!(rule["Severity"], "High", "high ones are planted: {r}");
                        assert!(has(
                            &rule["ConditionsMatched"]["SensitiveInformation"][0],
                            &["SensitiveType", "Count", "Confidence"]
                        ));
                        let meta = if rt == 11 {
                            "SharePointMetaData"
                        } else {
                            "ExchangeMetaData"
                        };
                        assert!(r[meta].is_object(), "{r}");
                    }
                    other => panic!("{ct}: unexpected record {other:?}"),
                }
            }
        }
    }
    let seen = |ct: &str| -> BTreeSet<String> {
        ops.get(ct)
            .map(|s| s.iter().map(|(rt, op)| format!("{rt} {op}")).collect())
            .unwrap_or_default()
    };
    let want = |v: &[&str]| -> BTreeSet<String> { v.iter().map(|s| s.to_string()).collect() };
    assert_eq!(
        seen("Audit.AzureActiveDirectory"),
        want(&[
            "15 UserLoggedIn",
            "15 UserLoginFailed",
            "8 Add member to role.",
            "8 Consent to application.",
            "8 Update user."
        ])
    );
    assert_eq!(
        seen(EXCHANGE),
        want(&[
            "1 New-InboxRule",
            "1 Set-Mailbox",
            "2 Send",
            "2 HardDelete",
            "50 MailItemsAccessed"
        ])
    );
    assert_eq!(
        seen("Audit.SharePoint"),
        want(&[
            "6 FileAccessed",
            "6 FileDownloaded",
            "6 FileUploaded",
            "14 SharingSet",
            "14 CompanyLinkCreated",
            "14 SharingInvitationCreated"
        ])
    );
    assert_eq!(
        seen("Audit.General"),
        want(&["25 TeamCreated", "25 MemberAdded"])
    );
    assert_eq!(
        seen("DLP.All"),
        want(&["11 DlpRuleMatch", "13 DlpRuleMatch"])
    );
    assert_eq!(
        ip_kinds,
        ["empty", "[v6]:port", "v4:port", "v4", "v6"]
            .into_iter()
            .collect()
    );
    for needle in [
        "\"Not Available\"",
        "\"__NULL__\"",
        "\"OneDrive\"",
        "\"SharePoint\"",
    ] {
        assert!(text.contains(needle), "{needle} never appears");
    }
    // Users come from the simulated directory.
    assert!(
        upns.iter().all(|u| u.ends_with("@contoso.onmicrosoft.com")),
        "{upns:?}"
    );
    assert!(upns.len() >= 20);
    Ok(())
}
