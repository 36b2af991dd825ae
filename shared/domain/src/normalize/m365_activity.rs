//! Office 365 Management Activity API records (source `m365-activity`, one stream per content
//! type: `Audit.AzureActiveDirectory`, `Audit.Exchange`, `Audit.SharePoint`, `Audit.General`,
//! `DLP.All`) to [`AuditEvent`].
//!
//! Mapping decisions:
//! - `record_id` is `Id` (the API's dedupe key); `time` is `CreationTime` (zone-less UTC, a
//!   fraction or `Z` also accepted); `operation` is `Operation`; `service` is `Workload`;
//!   `category` is the `RecordType` member name from Microsoft's AuditLogRecordType table
//!   (`RecordType<n>` for a number not in it, never an error).
//! - `result` reads `ResultStatus` case-insensitively (Succeeded/Success/True, Failed/Failure/
//!   False, PartiallySucceeded); an Entra logon carrying `LogonError`, a non-zero `ErrorCode` or a
//!   non-zero `LoginStatus` is a failure whatever `ResultStatus` says (for STS logons Microsoft
//!   documents `ResultStatus` as the HTTP outcome only); `result_reason` is that error.
//! - The actor's kind comes from `UserType` (users: 0, 2, 3, 9, 10; system: 4, 7, 8; apps: 5, 6),
//!   and `UserKey` `DlpAgent` / `SecurityComplianceAlerts` is always the system. `upn` is `UserId`
//!   when it looks like a UPN (otherwise `UserId`, e.g. `NT AUTHORITY\SYSTEM`, is the `name`; an
//!   app is named by `AppAccessContext.ClientAppName`, `ApplicationDisplayName` or `UserId`);
//!   `id` is `UserKey`, or the GUID in an Entra record's `Actor[]` when `UserKey` is not a GUID;
//!   `app_id` is `AppAccessContext.ClientAppId`, `ApplicationId` or `ClientAppId`.
//! - Targets come from what the record carries: Entra `Target[]`, the Exchange mailbox owner and
//!   modified object, the SharePoint file and site, the sharing recipient, the Team and its
//!   members, the DLP file or message, the S&C alert entity; `ObjectId` only when none of those is.
//! - `client_ip` is the first of `ClientIP`, `ClientIPAddress`, `ActorIpAddress` that holds an
//!   address, without port or brackets, and IPv4-mapped IPv6 written as IPv4.
//! - `details` keeps only fields that are present, grouped by what the record carries rather than
//!   by its `RecordType`, so a record type Microsoft adds later still keeps its known parts.
//!
//! A Graph beta `security/auditLog/queries/{id}/records` row (the same record under `auditData`)
//! is read through its `auditData`. Numbers sent as strings and strings sent as numbers are both
//! accepted; unknown fields are ignored; sentinel strings ("", "<null>", "Not Available",
//! "__NULL__", ...) are absent everywhere.

use std::net::IpAddr;

use serde_json::{Map, Value};

use super::{Context, NormalizeError, dedupe_key, field, is_sentinel, result_of, text, text_any};
use crate::model::{Actor, ActorKind, AuditEvent, EventResult, Source, Target, parse_time};
use crate::store::keys;

/// The member name of an AuditLogRecordType value (Microsoft's Management Activity API schema
/// table; 261 and 295 from the Graph `auditLogRecordType` names of the same records).
pub fn record_type_name(n: i64) -> Option<&'static str> {
    Some(match n {
        1 => "ExchangeAdmin",
        2 => "ExchangeItem",
        3 => "ExchangeItemGroup",
        4 => "SharePoint",
        6 => "SharePointFileOperation",
        7 => "OneDrive",
        8 => "AzureActiveDirectory",
        9 => "AzureActiveDirectoryAccountLogon",
        10 => "DataCenterSecurityCmdlet",
        11 => "ComplianceDLPSharePoint",
        13 => "ComplianceDLPExchange",
        14 => "SharePointSharingOperation",
        15 => "AzureActiveDirectoryStsLogon",
        16 => "SkypeForBusinessPSTNUsage",
        17 => "SkypeForBusinessUsersBlocked",
        18 => "SecurityComplianceCenterEOPCmdlet",
        19 => "ExchangeAggregatedOperation",
        20 => "PowerBIAudit",
        21 => "CRM",
        22 => "Yammer",
        23 => "SkypeForBusinessCmdlets",
        24 => "Discovery",
        25 => "MicrosoftTeams",
        28 => "ThreatIntelligence",
        29 => "MailSubmission",
        30 => "MicrosoftFlow",
        31 => "AeD",
        32 => "MicrosoftStream",
        33 => "ComplianceDLPSharePointClassification",
        34 => "ThreatFinder",
        35 => "Project",
        36 => "SharePointListOperation",
        37 => "SharePointCommentOperation",
        38 => "DataGovernance",
        39 => "Kaizala",
        40 => "SecurityComplianceAlerts",
        41 => "ThreatIntelligenceUrl",
        42 => "SecurityComplianceInsights",
        43 => "MIPLabel",
        44 => "WorkplaceAnalytics",
        45 => "PowerAppsApp",
        46 => "PowerAppsPlan",
        47 => "ThreatIntelligenceAtpContent",
        48 => "LabelContentExplorer",
        49 => "TeamsHealthcare",
        50 => "ExchangeItemAggregated",
        51 => "HygieneEvent",
        52 => "DataInsightsRestApiAudit",
        53 => "InformationBarrierPolicyApplication",
        54 => "SharePointListItemOperation",
        55 => "SharePointContentTypeOperation",
        56 => "SharePointFieldOperation",
        57 => "MicrosoftTeamsAdmin",
        58 => "HRSignal",
        59 => "MicrosoftTeamsDevice",
        60 => "MicrosoftTeamsAnalytics",
        61 => "InformationWorkerProtection",
        62 => "Campaign",
        63 => "DLPEndpoint",
        64 => "AirInvestigation",
        65 => "Quarantine",
        66 => "MicrosoftForms",
        67 => "ApplicationAudit",
        68 => "ComplianceSupervisionExchange",
        69 => "CustomerKeyServiceEncryption",
        70 => "OfficeNative",
        71 => "MipAutoLabelSharePointItem",
        72 => "MipAutoLabelSharePointPolicyLocation",
        73 => "MicrosoftTeamsShifts",
        75 => "MipAutoLabelExchangeItem",
        76 => "CortanaBriefing",
        78 => "WDATPAlerts",
        82 => "SensitivityLabelPolicyMatch",
        83 => "SensitivityLabelAction",
        84 => "SensitivityLabeledFileAction",
        85 => "AttackSim",
        86 => "AirManualInvestigation",
        87 => "SecurityComplianceRBAC",
        88 => "UserTraining",
        89 => "AirAdminActionInvestigation",
        90 => "MSTIC",
        91 => "PhysicalBadgingSignal",
        93 => "AipDiscover",
        94 => "AipSensitivityLabelAction",
        95 => "AipProtectionAction",
        96 => "AipFileDeleted",
        97 => "AipHeartBeat",
        98 => "MCASAlerts",
        99 => "OnPremisesFileShareScannerDlp",
        100 => "OnPremisesSharePointScannerDlp",
        101 => "ExchangeSearch",
        102 => "SharePointSearch",
        103 => "PrivacyInsights",
        105 => "MyAnalyticsSettings",
        106 => "SecurityComplianceUserChange",
        107 => "ComplianceDLPExchangeClassification",
        109 => "MipExactDataMatch",
        113 => "MS365DCustomDetection",
        147 => "CoreReportingSettings",
        148 => "ComplianceConnector",
        154 => "OMEPortal",
        174 => "DataShareOperation",
        181 => "EduDataLakeDownloadOperation",
        183 => "MicrosoftGraphDataConnectOperation",
        186 => "PowerPagesSite",
        188 => "PlannerPlan",
        189 => "PlannerCopyPlan",
        190 => "PlannerTask",
        191 => "PlannerRoster",
        192 => "PlannerPlanList",
        193 => "PlannerTaskList",
        194 => "PlannerTenantSettings",
        195 => "ProjectForTheWebProject",
        196 => "ProjectForTheWebTask",
        197 => "ProjectForTheWebRoadmap",
        198 => "ProjectForTheWebRoadmapItem",
        199 => "ProjectForTheWebProjectSettings",
        200 => "ProjectForTheWebRoadmapSettings",
        216 => "VivaGoals",
        217 => "MicrosoftGraphDataConnectConsent",
        230 => "TeamsUpdates",
        231 => "PlannerRosterSensitivityLabel",
        261 => "CopilotInteraction",
        295 => "AuditSearch",
        _ => return None,
    })
}

/// An integer field sent as a number or as a numeric string.
fn int(v: &Value, key: &str) -> Option<i64> {
    match field(v, key)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A boolean field sent as a boolean or as `"True"`/`"False"`.
fn boolean(v: &Value, key: &str) -> Option<bool> {
    match field(v, key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn array<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    field(v, key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn object<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    field(v, key).filter(|o| o.is_object())
}

fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn looks_like_upn(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// An address without port or brackets (`1.2.3.4:5678`, `[2001:db8::1]:443`), IPv4-mapped IPv6
/// written as IPv4; sentinels are absent. A value that is not an address is kept as given.
pub fn clean_ip(s: &str) -> Option<String> {
    let s = s.trim();
    if is_sentinel(s) {
        return None;
    }
    let host = if let Some(rest) = s.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else if s.matches(':').count() == 1 {
        s.split(':').next().unwrap_or(s)
    } else {
        s
    };
    let host = host.trim();
    if is_sentinel(host) {
        return None;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => Some(match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        }),
        Ok(ip) => Some(ip.to_string()),
        Err(_) => Some(host.to_string()),
    }
}

/// `[{Name, Value}]` as a `{name: value}` map (absent values as null); `None` when empty.
fn name_values(v: &Value, key: &str) -> Option<Value> {
    let mut map = Map::new();
    for kv in array(v, key) {
        if let Some(name) = text(kv, "Name") {
            map.insert(name, text(kv, "Value").map_or(Value::Null, Value::String));
        }
    }
    (!map.is_empty()).then_some(Value::Object(map))
}

/// The value of one `{Name, Value}` entry, compared case-insensitively.
fn name_value(v: &Value, key: &str, name: &str) -> Option<String> {
    array(v, key)
        .find(|kv| text(kv, "Name").is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .and_then(|kv| text(kv, "Value"))
}

/// An object of the present entries only; `None` when none is.
fn present(pairs: Vec<(&str, Option<Value>)>) -> Option<Value> {
    let map: Map<String, Value> = pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect();
    (!map.is_empty()).then_some(Value::Object(map))
}

fn s(v: Option<String>) -> Option<Value> {
    v.map(Value::String)
}

fn n(v: Option<i64>) -> Option<Value> {
    v.map(Value::from)
}

/// `Folder` and `ParentFolder` are objects with a `Path`; some exports send the path alone.
fn folder_path(v: &Value, key: &str) -> Option<String> {
    match field(v, key)? {
        o @ Value::Object(_) => text(o, "Path").or_else(|| text(o, "Name")),
        _ => text(v, key),
    }
}

fn is_aad(record_type: Option<i64>, v: &Value) -> bool {
    matches!(record_type, Some(8 | 9 | 15))
        || text(v, "Workload").is_some_and(|w| w.eq_ignore_ascii_case("AzureActiveDirectory"))
}

/// A non-zero error code, as text (numbers and numeric strings alike).
fn nonzero(v: &Value, key: &str) -> Option<String> {
    match int(v, key) {
        Some(0) => None,
        Some(code) => Some(code.to_string()),
        None => text(v, key).filter(|t| t.trim() != "0"),
    }
}

fn result(v: &Value, aad: bool) -> (EventResult, Option<String>) {
    if aad {
        let reason = text(v, "LogonError")
            .or_else(|| nonzero(v, "ErrorCode"))
            .or_else(|| {
                nonzero(v, "LoginStatus")
                    .map(|code| name_value(v, "ExtendedProperties", "LoginError").unwrap_or(code))
            });
        if reason.is_some() {
            return (EventResult::Failure, reason);
        }
    }
    result_of(text(v, "ResultStatus").as_deref())
}

/// `UserType` as a number; Graph's audit-log rows name it instead.
fn user_type(v: &Value) -> Option<i64> {
    int(v, "UserType").or_else(|| {
        let name = text(v, "UserType")?;
        [
            "Regular",
            "Reserved",
            "Admin",
            "DcAdmin",
            "System",
            "Application",
            "ServicePrincipal",
            "CustomPolicy",
            "SystemPolicy",
            "PartnerTechnician",
            "Guest",
        ]
        .iter()
        .position(|x| x.eq_ignore_ascii_case(&name))
        .map(|i| i as i64)
    })
}

fn app_id(v: &Value) -> Option<String> {
    object(v, "AppAccessContext")
        .and_then(|c| text(c, "ClientAppId"))
        .or_else(|| text_any(v, &["ApplicationId", "ClientAppId"]))
}

fn actor(v: &Value, aad: bool) -> Actor {
    let user_id = text(v, "UserId");
    let user_key = text(v, "UserKey");
    let system_key = |k: &Option<String>| {
        k.as_deref().is_some_and(|k| {
            k.eq_ignore_ascii_case("DlpAgent") || k.eq_ignore_ascii_case("SecurityComplianceAlerts")
        })
    };
    // SharePoint's own app (`app@sharepoint`, user key `i:0i.t|ms.sp.ext|...|app@sharepoint`)
    // is an app whatever `UserType` says; Windows' local system account is the system.
    let is = |k: &Option<String>, f: &dyn Fn(&str) -> bool| k.as_deref().is_some_and(f);
    let sharepoint_app = is(&user_id, &|u| u.eq_ignore_ascii_case("app@sharepoint"))
        || is(&user_key, &|k| {
            k.to_ascii_lowercase().ends_with("|app@sharepoint")
        });
    let local_system = |s: &str| {
        s.eq_ignore_ascii_case("S-1-5-18")
            || s.to_ascii_uppercase().starts_with("NT AUTHORITY\\SYSTEM")
    };
    let kind = if system_key(&user_key)
        || system_key(&user_id)
        || is(&user_id, &local_system)
        || is(&user_key, &local_system)
    {
        ActorKind::System
    } else if sharepoint_app {
        ActorKind::App
    } else {
        match user_type(v) {
            Some(0 | 2 | 3 | 9 | 10) => ActorKind::User,
            Some(4 | 7 | 8) => ActorKind::System,
            Some(5 | 6) => ActorKind::App,
            _ if user_id.is_some() || user_key.is_some() => ActorKind::User,
            _ => ActorKind::System,
        }
    };
    let actor_guid = || {
        array(v, "Actor")
            .filter_map(|a| text(a, "ID"))
            .find(|id| is_guid(id))
    };
    let id = match &user_key {
        Some(k) if is_guid(k) => Some(k.clone()),
        _ if aad => actor_guid().or(user_key),
        _ => user_key,
    };
    // An application's `UserId` (`app@sharepoint`, `Application`) names it; it is not a UPN.
    let (upn, name) = match user_id {
        _ if kind == ActorKind::App => (
            None,
            object(v, "AppAccessContext")
                .and_then(|c| text(c, "ClientAppName"))
                .or_else(|| text(v, "ApplicationDisplayName"))
                .or(user_id),
        ),
        Some(u) if looks_like_upn(&u) => (Some(u), None),
        other => (None, other),
    };
    Actor {
        kind,
        id,
        upn,
        name,
        app_id: app_id(v),
    }
}

fn target(kind: &str, id: Option<String>, name: Option<String>) -> Option<Target> {
    (id.is_some() || name.is_some()).then(|| Target {
        kind: Some(kind.to_string()),
        id,
        name,
    })
}

fn targets(v: &Value, aad: bool) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    if aad {
        for t in array(v, "Target") {
            if let Some(id) = text(t, "ID") {
                let kind = if looks_like_upn(&id) {
                    "user"
                } else if is_guid(&id) {
                    "object"
                } else {
                    "identifier"
                };
                out.extend(target(kind, Some(id), None));
            }
        }
    }
    // Exchange mailbox and admin.
    out.extend(target(
        "mailbox",
        text(v, "MailboxGuid"),
        text(v, "MailboxOwnerUPN"),
    ));
    out.extend(target(
        "object",
        None,
        text(v, "ModifiedObjectResolvedName"),
    ));
    // SharePoint and OneDrive files and sharing.
    if let Some(file) = text(v, "SourceFileName") {
        out.extend(target("file", text(v, "ObjectId"), Some(file)));
        out.extend(target("site", text(v, "Site"), text(v, "SiteUrl")));
    }
    if let Some(who) = text(v, "TargetUserOrGroupName") {
        let kind = text(v, "TargetUserOrGroupType").unwrap_or_else(|| "user_or_group".into());
        out.push(Target {
            kind: Some(kind),
            id: None,
            name: Some(who),
        });
    }
    // Teams.
    out.extend(target("team", text(v, "TeamGuid"), text(v, "TeamName")));
    for m in array(v, "Members") {
        out.extend(target("member", text(m, "UPN"), text(m, "DisplayName")));
    }
    // DLP.
    if let Some(sp) = object(v, "SharePointMetaData") {
        out.extend(target(
            "file",
            text_any(sp, &["FilePathUrl", "UniqueId"]),
            text(sp, "FileName"),
        ));
    }
    if let Some(ex) = object(v, "ExchangeMetaData") {
        out.extend(target(
            "message",
            text(ex, "MessageID"),
            text(ex, "Subject"),
        ));
    }
    if let Some(ep) = object(v, "EndpointMetaData") {
        out.extend(target(
            "file",
            None,
            text_any(ep, &["TargetFilePath", "SourceFilePath", "FileName"])
                .or_else(|| text(v, "ObjectId")),
        ));
    }
    // S&C alerts.
    if text(v, "AlertId").is_some() {
        out.extend(target(
            &text(v, "EntityType").unwrap_or_else(|| "alert_entity".into()),
            None,
            text(v, "AlertEntityId"),
        ));
    }
    if out.is_empty() {
        out.extend(target("object", text(v, "ObjectId"), None));
    }
    out
}

fn client_ip(v: &Value) -> Option<String> {
    ["ClientIP", "ClientIPAddress", "ActorIpAddress"]
        .iter()
        .find_map(|k| match field(v, k)? {
            Value::String(s) => clean_ip(s),
            _ => None,
        })
}

fn user_agent(v: &Value) -> Option<String> {
    text(v, "UserAgent")
        .or_else(|| name_value(v, "ExtendedProperties", "UserAgent"))
        .or_else(|| text(v, "ClientInfoString"))
}

fn dlp_policies(v: &Value) -> (Vec<Value>, Vec<Value>) {
    let mut policies = Vec::new();
    let mut sensitive = Vec::new();
    for p in array(v, "PolicyDetails") {
        let mut rules = Vec::new();
        for r in array(p, "Rules") {
            let actions: Vec<Value> = array(r, "Actions")
                .filter_map(|a| match a {
                    Value::String(s) if !is_sentinel(s) => Some(Value::String(s.clone())),
                    _ => None,
                })
                .collect();
            if let Some(cm) = object(r, "ConditionsMatched") {
                for si in array(cm, "SensitiveInformation") {
                    sensitive.extend(present(vec![
                        ("type", s(text(si, "SensitiveType"))),
                        (
                            "name",
                            s(text_any(si, &["SensitiveInformationTypeName", "Name"])),
                        ),
                        ("count", n(int(si, "Count"))),
                        ("confidence", n(int(si, "Confidence"))),
                    ]));
                }
            }
            rules.extend(present(vec![
                ("id", s(text(r, "RuleId"))),
                ("name", s(text(r, "RuleName"))),
                ("severity", s(text(r, "Severity"))),
                ("mode", s(text(r, "RuleMode"))),
                (
                    "actions",
                    (!actions.is_empty()).then_some(Value::Array(actions)),
                ),
            ]));
        }
        policies.extend(present(vec![
            ("id", s(text(p, "PolicyId"))),
            ("name", s(text(p, "PolicyName"))),
            ("rules", (!rules.is_empty()).then_some(Value::Array(rules))),
        ]));
    }
    (policies, sensitive)
}

fn details(v: &Value, record_type: Option<i64>, aad: bool) -> Map<String, Value> {
    let mut d = Map::new();
    let mut put = |k: &str, val: Option<Value>| {
        if let Some(val) = val {
            d.insert(k.to_string(), val);
        }
    };
    // Common.
    put("record_type", n(record_type));
    put(
        "record_type_name",
        s(record_type.and_then(record_type_name).map(str::to_string)),
    );
    put("user_type", n(user_type(v)));
    put("organization_id", s(text(v, "OrganizationId")));
    put("object_id", s(text(v, "ObjectId")));
    put("client_app_id", s(app_id(v)));
    put(
        "correlation_id",
        s(text(v, "CorrelationId")
            .or_else(|| object(v, "AppAccessContext").and_then(|c| text(c, "CorrelationId")))),
    );

    // Azure AD.
    if aad {
        put(
            "azure_ad_event_type",
            n(int(v, "AzureActiveDirectoryEventType")),
        );
        put("error_code", s(text(v, "ErrorCode")));
        put("error_number", s(text(v, "ErrorNumber")));
        put("logon_error", s(text(v, "LogonError")));
        put("login_status", n(int(v, "LoginStatus")));
        put("user_domain", s(text(v, "UserDomain")));
        put("client", s(text(v, "Client")));
        put("application_id", s(text(v, "ApplicationId")));
        put("actor_context_id", s(text(v, "ActorContextId")));
        put("target_context_id", s(text(v, "TargetContextId")));
        put("extended_properties", name_values(v, "ExtendedProperties"));
        put("device_properties", name_values(v, "DeviceProperties"));
    }
    let modified: Vec<Value> = array(v, "ModifiedProperties")
        .filter_map(|p| {
            present(vec![
                ("name", s(text(p, "Name"))),
                ("old_value", s(text(p, "OldValue"))),
                ("new_value", s(text(p, "NewValue"))),
            ])
        })
        .collect();
    put(
        "modified_properties",
        (!modified.is_empty()).then_some(Value::Array(modified)),
    );

    // Exchange admin.
    put("parameters", name_values(v, "Parameters"));
    put(
        "external_access",
        boolean(v, "ExternalAccess").map(Value::Bool),
    );
    put(
        "modified_object_resolved_name",
        s(text(v, "ModifiedObjectResolvedName")),
    );
    put("originating_server", s(text(v, "OriginatingServer")));

    // Exchange mailbox.
    put("logon_type", n(int(v, "LogonType")));
    put("internal_logon_type", n(int(v, "InternalLogonType")));
    put("mailbox_owner_upn", s(text(v, "MailboxOwnerUPN")));
    put("mailbox_guid", s(text(v, "MailboxGuid")));
    put("client_info", s(text(v, "ClientInfoString")));
    put("client_ip_address", s(text(v, "ClientIPAddress")));
    put("session_id", s(text(v, "SessionId")));
    put("operation_count", n(int(v, "OperationCount")));
    if let Some(item) = object(v, "Item") {
        put("item_subject", s(text(item, "Subject")));
        put("item_folder", s(folder_path(item, "ParentFolder")));
        put("item_id", s(text(item, "Id")));
        put("internet_message_id", s(text(item, "InternetMessageId")));
        put("item_size", n(int(item, "SizeInBytes")));
    }
    put("folder", s(folder_path(v, "Folder")));
    put("dest_folder", s(folder_path(v, "DestFolder")));
    let affected: Vec<Value> = array(v, "AffectedItems")
        .filter_map(|i| {
            present(vec![
                ("id", s(text(i, "Id"))),
                ("subject", s(text(i, "Subject"))),
                ("folder", s(folder_path(i, "ParentFolder"))),
                ("internet_message_id", s(text(i, "InternetMessageId"))),
            ])
        })
        .collect();
    put(
        "affected_items",
        (!affected.is_empty()).then_some(Value::Array(affected)),
    );

    // SharePoint and OneDrive.
    let sharepoint = text(v, "Workload").is_some_and(|w| {
        w.eq_ignore_ascii_case("SharePoint") || w.eq_ignore_ascii_case("OneDrive")
    });
    put("site_url", s(text(v, "SiteUrl")));
    put("site_id", s(text(v, "Site")));
    put("file_name", s(text(v, "SourceFileName")));
    put("file_extension", s(text(v, "SourceFileExtension")));
    put("source_relative_url", s(text(v, "SourceRelativeUrl")));
    put("destination_file_name", s(text(v, "DestinationFileName")));
    put(
        "destination_relative_url",
        s(text(v, "DestinationRelativeUrl")),
    );
    if sharepoint || text(v, "SiteUrl").is_some() {
        put("object_url", s(text(v, "ObjectId")));
    }
    put("event_source", s(text(v, "EventSource")));
    put("item_type", s(text(v, "ItemType")));
    put("list_id", s(text(v, "ListId")));
    put("list_item_id", s(text(v, "ListItemUniqueId")));
    put(
        "target_user_or_group_name",
        s(text(v, "TargetUserOrGroupName")),
    );
    put(
        "target_user_or_group_type",
        s(text(v, "TargetUserOrGroupType")),
    );
    put("event_data", s(text(v, "EventData")));
    put("unique_sharing_id", s(text(v, "UniqueSharingId")));

    // Teams.
    put("team_name", s(text(v, "TeamName")));
    put("team_id", s(text(v, "TeamGuid")));
    put("channel_name", s(text(v, "ChannelName")));
    put("channel_id", s(text(v, "ChannelGuid")));
    let members: Vec<Value> = array(v, "Members")
        .filter_map(|m| {
            present(vec![
                ("upn", s(text(m, "UPN"))),
                ("display_name", s(text(m, "DisplayName"))),
                ("role", n(int(m, "Role"))),
            ])
        })
        .collect();
    put(
        "members",
        (!members.is_empty()).then_some(Value::Array(members)),
    );
    put("add_on_name", s(text(v, "AddOnName")));
    put("message_id", s(text(v, "MessageId")));

    // DLP.
    let (policies, sensitive) = dlp_policies(v);
    put(
        "policies",
        (!policies.is_empty()).then_some(Value::Array(policies)),
    );
    put(
        "sensitive_types",
        (!sensitive.is_empty()).then_some(Value::Array(sensitive)),
    );
    put(
        "sensitive_info_detection_is_included",
        boolean(v, "SensitiveInfoDetectionIsIncluded").map(Value::Bool),
    );
    if let Some(sp) = object(v, "SharePointMetaData") {
        put(
            "file",
            present(vec![
                ("file_name", s(text(sp, "FileName"))),
                ("file_path_url", s(text(sp, "FilePathUrl"))),
                ("site_collection_url", s(text(sp, "SiteCollectionUrl"))),
                ("file_owner", s(text(sp, "FileOwner"))),
                ("unique_id", s(text(sp, "UniqueId"))),
            ]),
        );
    }
    if let Some(ex) = object(v, "ExchangeMetaData") {
        let list = |k: &str| {
            let xs: Vec<Value> = array(ex, k)
                .filter_map(|x| match x {
                    Value::String(t) if !is_sentinel(t) => Some(Value::String(t.clone())),
                    _ => None,
                })
                .collect();
            (!xs.is_empty()).then_some(Value::Array(xs))
        };
        put(
            "message",
            present(vec![
                ("message_id", s(text(ex, "MessageID"))),
                ("from", s(text(ex, "From"))),
                ("to", list("To")),
                ("cc", list("CC")),
                ("bcc", list("BCC")),
                ("subject", s(text(ex, "Subject"))),
                ("sent", s(text(ex, "Sent"))),
                ("recipient_count", n(int(ex, "RecipientCount"))),
            ]),
        );
    }
    if let Some(ep) = object(v, "EndpointMetaData") {
        put(
            "endpoint",
            present(vec![
                ("device_name", s(text(ep, "DeviceName"))),
                ("file_type", s(text(ep, "FileType"))),
                ("enforcement_mode", s(text(ep, "EnforcementMode"))),
                ("target_file_path", s(text(ep, "TargetFilePath"))),
                ("source_file_path", s(text(ep, "SourceFilePath"))),
            ]),
        );
    }

    // S&C alerts.
    if text(v, "AlertId").is_some() || record_type == Some(40) {
        put("alert_id", s(text(v, "AlertId")));
        put("alert_type", s(text(v, "AlertType")));
        put("name", s(text(v, "Name")));
        put("severity", s(text(v, "Severity")));
        put("category", s(text(v, "Category")));
        put("status", s(text(v, "Status")));
        put("policy_id", s(text(v, "PolicyId")));
        put("alert_entity_id", s(text(v, "AlertEntityId")));
        put("entity_type", s(text(v, "EntityType")));
        put("alert_source", s(text(v, "Source")));
    }
    put(
        "data",
        match field(v, "Data") {
            Some(Value::String(t)) if !is_sentinel(t) => Some(
                serde_json::from_str::<Value>(t)
                    .ok()
                    .filter(|p| p.is_object() || p.is_array())
                    .unwrap_or_else(|| Value::String(t.clone())),
            ),
            Some(o @ (Value::Object(_) | Value::Array(_))) => Some(o.clone()),
            _ => None,
        },
    );
    d
}

/// The Management API record itself: the record, or the `auditData` of a Graph audit-log row.
fn record(v: &Value) -> &Value {
    match object(v, "auditData") {
        Some(inner) if field(v, "CreationTime").is_none() => inner,
        _ => v,
    }
}

pub fn normalize(v: &Value, ctx: Context<'_>) -> Result<AuditEvent, NormalizeError> {
    if !v.is_object() {
        return Err(NormalizeError::NotAnObject);
    }
    let v = record(v);
    let raw_time = text(v, "CreationTime").ok_or(NormalizeError::Missing("CreationTime"))?;
    let time = parse_time(&raw_time).ok_or(NormalizeError::BadTime {
        field: "CreationTime",
        value: raw_time,
    })?;
    let operation = text(v, "Operation").ok_or(NormalizeError::Missing("Operation"))?;
    let record_id = text(v, "Id");
    let dedupe_key = dedupe_key(record_id.as_deref(), v);
    let record_type = int(v, "RecordType");
    let category = match record_type {
        Some(n) => Some(
            record_type_name(n)
                .map(str::to_string)
                .unwrap_or_else(|| format!("RecordType{n}")),
        ),
        // A record type sent by name (Graph rows) is kept as given.
        None => text(v, "RecordType"),
    };
    let aad = is_aad(record_type, v);
    let (result, result_reason) = result(v, aad);

    Ok(AuditEvent {
        id: keys::event_id(Source::M365Activity, time, &dedupe_key),
        record_id,
        source: Source::M365Activity,
        stream: ctx.stream.map(str::to_string),
        tenant_id: ctx.tenant_id.to_string(),
        time,
        service: text(v, "Workload"),
        category,
        operation,
        result,
        result_reason,
        actor: actor(v, aad),
        targets: targets(v, aad),
        client_ip: client_ip(v),
        user_agent: user_agent(v),
        location: None,
        details: details(v, record_type, aad),
        dedupe_key,
        ingested_at: ctx.ingested_at,
        raw: None,
        raw_ref: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ips_lose_ports_brackets_and_the_v4_mapping() {
        for (given, want) in [
            ("1.2.3.4:5678", Some("1.2.3.4")),
            ("[2001:db8::1]:443", Some("2001:db8::1")),
            ("[2001:db8::1]", Some("2001:db8::1")),
            ("::ffff:1.2.3.4", Some("1.2.3.4")),
            ("2001:db8::1", Some("2001:db8::1")),
            (" 198.51.100.9 ", Some("198.51.100.9")),
            ("::1", Some("::1")),
            ("", None),
            ("<null>", None),
            ("Not Available", None),
            ("[]:443", None),
            ("not-an-ip", Some("not-an-ip")),
        ] {
            assert_eq!(clean_ip(given).as_deref(), want, "{given}");
        }
    }

    #[test]
    fn record_type_names_and_guids() {
        assert_eq!(record_type_name(1), Some("ExchangeAdmin"));
        assert_eq!(record_type_name(261), Some("CopilotInteraction"));
        assert_eq!(record_type_name(5), None);
        assert!(is_guid("0b8f6d3c-aaaa-4bbb-8ccc-0d1e2f3a4b5c"));
        assert!(!is_guid("1003BFFD8EC47CA6"));
        assert!(looks_like_upn("ada@contoso.example"));
        assert!(!looks_like_upn("NT AUTHORITY\\SYSTEM"));
        assert!(!looks_like_upn("@x"));
    }

    #[test]
    fn the_content_type_is_the_stream_and_graph_rows_are_read_through_audit_data() {
        let record = json!({"CreationTime": "2024-01-01T00:00:00", "Id": "r1", "Operation": "Send",
                            "RecordType": 2, "Workload": "Exchange", "UserType": 0,
                            "UserId": "a@contoso.example"});
        let raw = serde_json::value::RawValue::from_string(record.to_string()).unwrap();
        let ctx = Context {
            tenant_id: "t",
            stream: Some("Audit.Exchange"),
            ingested_at: chrono::Utc::now(),
        };
        let e = super::super::normalize(Source::M365Activity, &raw, ctx).unwrap();
        assert_eq!(e.stream.as_deref(), Some("Audit.Exchange"));
        assert_eq!(e.id, "m365-activity:20240101T000000Z-r1");
        assert_eq!(e.raw.as_ref().map(|r| r.get()), Some(raw.get()));

        let row = json!({"id": "r1", "createdDateTime": "2024-01-01T00:00:00Z",
                         "operation": "Send", "auditData": record});
        let from_row = normalize(&row, ctx).unwrap();
        assert_eq!(from_row.dedupe_key, e.dedupe_key);
        assert_eq!(from_row.category.as_deref(), Some("ExchangeItem"));
        assert_eq!(from_row.actor.upn.as_deref(), Some("a@contoso.example"));
    }

    #[test]
    fn odd_shapes_never_panic() {
        let ctx = Context {
            tenant_id: "t",
            stream: None,
            ingested_at: chrono::Utc::now(),
        };
        for v in [
            json!({"CreationTime": "2024-01-01T00:00:00", "Operation": "x", "RecordType": [1],
                   "UserType": {"a": 1}, "Actor": "nope", "Target": [1, null, {"ID": 3}],
                   "Parameters": {"Name": "x"}, "Members": [null], "PolicyDetails": [{"Rules": 1}],
                   "Item": "x", "ClientIP": 7, "Data": "{broken", "ExtendedProperties": [[]]}),
            json!({"CreationTime": "2024-01-01T00:00:00", "Operation": "x", "RecordType": 1e300,
                   "UserType": "-1", "LogonError": "", "ErrorCode": "abc"}),
        ] {
            let e = normalize(&v, ctx).unwrap();
            assert_eq!(e.operation, "x");
        }
    }
}
