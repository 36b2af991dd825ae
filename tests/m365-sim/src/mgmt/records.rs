//! Audit records of the Management Activity API blobs, shaped after Microsoft's schema (the
//! common `AuditRecord` fields plus each workload's extended fields) and real samples.
//!
//! Every record has a unique `Id` (GUID), `RecordType`, `CreationTime` (UTC with no zone suffix,
//! `2024-01-02T03:04:05`), `Operation`, `OrganizationId` (the tenant), `UserType`, `UserKey`,
//! `Workload` and `UserId`, and, where the workload has one, `ClientIP` in its real variants
//! (plain, `ip:port`, `[ipv6]:port`, empty). Users come from the simulated directory
//! ([`crate::tenant`]). The mix per content type:
//!
//! - `Audit.AzureActiveDirectory`: RecordType 15 `UserLoggedIn` / `UserLoginFailed` (70%), 8
//!   `Add member to role.`, `Consent to application.`, `Update user.`.
//! - `Audit.Exchange`: RecordType 1 `New-InboxRule` (moving or marking mail) / `Set-Mailbox`
//!   (retention settings) (15%), 2 `Send` / `HardDelete` (20%), 50 `MailItemsAccessed` (65%).
//! - `Audit.SharePoint`: RecordType 6 `FileAccessed` / `FileDownloaded` / `FileUploaded` on
//!   SharePoint and OneDrive (75%), 14 `SharingSet` / `CompanyLinkCreated` /
//!   `SharingInvitationCreated` inside the organisation.
//! - `Audit.General`: RecordType 25 MicrosoftTeams `TeamCreated` / `MemberAdded`.
//! - `DLP.All`: RecordType 11 (SharePoint) / 13 (Exchange) `DlpRuleMatch` with `PolicyDetails`,
//!   low or medium severity.
//!
//! What the detection pack alerts on (forwarding or deleting inbox rules, mailbox forwarding,
//! audit changes, anonymous or guest sharing, Purview alerts (RecordType 40 `AlertTriggered`,
//! with `Data`, a JSON object in a string), eDiscovery, high-severity DLP, mass downloads) is in
//! no baseline record: [`crate::attacks::activity`] plants it, with the builders here.
//!
//! A few values carry Microsoft's sentinels (`"Not Available"`, `"__NULL__"`), as real feeds do.

use serde_json::{Map, Value, json};

use super::{BlobMeta, CONTENT_TYPES};
use crate::clock::{NS_PER_SEC, from_ns};
use crate::rng::{Rng, hash_str, seed_of};
use crate::tenant::{ROLES, TENANT_DOMAIN, Tenant, User};

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
    "OneDriveMpc-Transform_Thumbnail/1.0",
    "Microsoft SkyDriveSync 24.070.0407.0002 ship; Windows NT 10.0 (19045)",
];

const APPS: &[(&str, &str)] = &[
    (
        "00000002-0000-0ff1-ce00-000000000000",
        "Office 365 Exchange Online",
    ),
    (
        "00000003-0000-0ff1-ce00-000000000000",
        "Office 365 SharePoint Online",
    ),
    ("1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams"),
    ("4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome"),
    ("d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft Office"),
];

const FILES: &[(&str, &str)] = &[
    ("Q3 budget", "xlsx"),
    ("Board deck", "pptx"),
    ("Contract draft", "docx"),
    ("Payroll export", "csv"),
    ("Architecture", "vsdx"),
    ("Scan 0412", "pdf"),
];

const SITES: &[&str] = &["Finance", "HR", "Engineering", "Legal", "Sales"];

/// Alerts Purview raises: (name, category, severity). Planted only (see [`general`]).
pub(crate) const ALERTS: &[(&str, &str, &str)] = &[
    (
        "Creation of forwarding/redirect rule",
        "ThreatManagement",
        "Informational",
    ),
    (
        "Elevation of Exchange admin privilege",
        "AccessGovernance",
        "Low",
    ),
    (
        "Email reported by user as malware or phish",
        "ThreatManagement",
        "Informational",
    ),
    (
        "Suspicious email sending patterns detected",
        "ThreatManagement",
        "Medium",
    ),
    (
        "Unusual external user file activity",
        "DataGovernance",
        "High",
    ),
];

const SENSITIVE: &[(&str, &str)] = &[
    ("50842eb7-edc8-4019-85dd-5a5c1f2bb085", "Credit Card Number"),
    (
        "a44669fe-0d48-453d-a9b1-2cc83f2cba77",
        "U.S. Social Security Number (SSN)",
    ),
    (
        "e7dc4711-11b7-4cb0-b88b-2c394a771f0e",
        "International Banking Account Number (IBAN)",
    ),
];

const ROLE_NAMES: &[&str] = &["Global Administrator", "User Administrator"];

/// Every own record of a blob: `meta.own_count` records 60-90 minutes before its creation, plus
/// (quirk 2) `meta.late_records` records 3-5 days before it, plus the `planted` attack records
/// (with their times) that fall into it (see [`crate::attacks::activity`]). Sorted by
/// `CreationTime` then `Id`, unless `unordered` (quirk 2 on), when they stay in generation order
/// (not time-ordered) with the late and planted ones spread among them.
pub fn generate(
    seed: u64,
    tenant: &Tenant,
    org: &str,
    meta: &BlobMeta,
    unordered: bool,
    planted: Vec<(i64, Value)>,
) -> Vec<Value> {
    let mut rng = Rng::new(seed_of(&[
        seed,
        hash_str("mgmt-records"),
        meta.ct as u64,
        meta.slot as u64,
    ]));
    let mut out: Vec<(i64, Value)> = Vec::with_capacity(meta.own_count + meta.late_records);
    for _ in 0..meta.own_count {
        let secs = rng.range(3600, 5400) as i64;
        let t = meta.created_ns - secs * NS_PER_SEC;
        out.push((t, record(&mut rng, tenant, org, meta.ct, t)));
    }
    for _ in 0..meta.late_records {
        let secs = rng.range(3 * 86_400, 5 * 86_400) as i64;
        let t = meta.created_ns - secs * NS_PER_SEC;
        let rec = record(&mut rng, tenant, org, meta.ct, t);
        let at = rng.range(0, out.len() as u64) as usize;
        out.insert(at.min(out.len()), (t, rec));
    }
    // Planted attack records last, from a generator of their own, so they change no benign
    // draw; unordered blobs get them at drawn places.
    let mut places = Rng::new(seed_of(&[
        seed,
        hash_str("mgmt-planted"),
        meta.ct as u64,
        meta.slot as u64,
    ]));
    for rec in planted {
        let at = if unordered {
            places.range(0, out.len() as u64) as usize
        } else {
            out.len()
        };
        out.insert(at.min(out.len()), rec);
    }
    if !unordered {
        out.sort_by(|a, b| (a.0, a.1["Id"].as_str()).cmp(&(b.0, b.1["Id"].as_str())));
    }
    out.into_iter().map(|(_, v)| v).collect()
}

/// `CreationTime`: UTC, whole seconds, no zone suffix.
pub fn creation_time(ns: i64) -> String {
    from_ns(ns).format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn user<'a>(rng: &mut Rng, tenant: &'a Tenant) -> Option<&'a User> {
    rng.pick(&tenant.users)
}

/// A user's PUID (`10037FFE8D3B8C3A`), stable per user.
pub(crate) fn puid(u: &User) -> String {
    format!("{:016X}", (hash_str(&u.id) >> 4) | 0x1000_0000_0000_0000)
}

pub(crate) fn user_type(u: &User) -> u8 {
    if u.is_admin { 2 } else { 0 }
}

/// `ClientIP` in its real variants: plain (60%), with a port (`ip:port` or `[ipv6]:port`, 35%),
/// empty (5%).
pub(crate) fn client_ip(rng: &mut Rng, u: &User) -> String {
    let x = rng.unit();
    let port = rng.range(1024, 65535);
    if x < 0.05 {
        String::new()
    } else if x < 0.40 {
        if u.home_ip.contains(':') {
            format!("[{}]:{port}", u.home_ip)
        } else {
            format!("{}:{port}", u.home_ip)
        }
    } else {
        u.home_ip.clone()
    }
}

/// The common `AuditRecord` fields.
#[allow(clippy::too_many_arguments)]
pub(crate) fn common(
    rng: &mut Rng,
    org: &str,
    t: i64,
    record_type: u16,
    op: &str,
    workload: &str,
    user_id: &str,
    user_key: &str,
    user_type: u8,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("Id".into(), json!(rng.guid()));
    m.insert("RecordType".into(), json!(record_type));
    m.insert("CreationTime".into(), json!(creation_time(t)));
    m.insert("Operation".into(), json!(op));
    m.insert("OrganizationId".into(), json!(org));
    m.insert("UserType".into(), json!(user_type));
    m.insert("UserKey".into(), json!(user_key));
    m.insert("Workload".into(), json!(workload));
    m.insert("UserId".into(), json!(user_id));
    m
}

pub(crate) fn put(m: &mut Map<String, Value>, v: Value) {
    if let Value::Object(o) = v {
        m.extend(o);
    }
}

fn record(rng: &mut Rng, tenant: &Tenant, org: &str, ct: usize, t: i64) -> Value {
    let Some(u) = user(rng, tenant) else {
        return Value::Null;
    };
    let name = CONTENT_TYPES.get(ct).map_or("", |c| c.name);
    let m = match name {
        "Audit.AzureActiveDirectory" => aad(rng, tenant, org, u, t),
        "Audit.Exchange" => exchange(rng, org, u, t),
        "Audit.SharePoint" => sharepoint(rng, tenant, org, u, t),
        "Audit.General" => general(rng, tenant, org, u, t),
        _ => dlp(rng, org, u, t),
    };
    Value::Object(m)
}

fn aad(rng: &mut Rng, tenant: &Tenant, org: &str, u: &User, t: i64) -> Map<String, Value> {
    let ip = client_ip(rng, u);
    if rng.chance(0.7) {
        let failed = rng.chance(0.15);
        let op = if failed {
            "UserLoginFailed"
        } else {
            "UserLoggedIn"
        };
        let (app_id, _) = rng.pick(APPS).copied().unwrap_or(APPS[0]);
        let agent = rng.pick(USER_AGENTS).copied().unwrap_or_default();
        let os = if rng.chance(0.05) {
            "Not Available"
        } else {
            "Windows10"
        };
        let mut m = common(
            rng,
            org,
            t,
            15,
            op,
            "AzureActiveDirectory",
            &u.upn,
            &u.id,
            user_type(u),
        );
        put(
            &mut m,
            json!({
                "ClientIP": ip,
                "ObjectId": app_id,
                "ResultStatus": if failed { "Failure" } else { "Success" },
                "AzureActiveDirectoryEventType": 1,
                "ExtendedProperties": [
                    {"Name": "ResultStatusDetail", "Value": if failed { "Redirect" } else { "Success" }},
                    {"Name": "UserAgent", "Value": agent},
                    {"Name": "RequestType", "Value": "Login:login"},
                ],
                "ModifiedProperties": [],
                "Actor": [{"ID": u.id, "Type": 0}, {"ID": u.upn, "Type": 5}],
                "ActorContextId": org,
                "ActorIpAddress": u.home_ip,
                "InterSystemsId": rng.guid(),
                "IntraSystemsId": rng.guid(),
                "SupportTicketId": "",
                "Target": [{"ID": app_id, "Type": 0}],
                "TargetContextId": org,
                "ApplicationId": app_id,
                "DeviceProperties": [
                    {"Name": "OS", "Value": os},
                    {"Name": "BrowserType", "Value": "Edge"},
                    {"Name": "IsCompliantAndManaged", "Value": "False"},
                    {"Name": "SessionId", "Value": rng.guid()},
                ],
                "ErrorNumber": if failed { "50126" } else { "0" },
                "ErrorCode": if failed { "50126" } else { "0" },
                "LogonError": if failed { "InvalidUserNameOrPassword" } else { "" },
            }),
        );
        return m;
    }
    let actor = tenant
        .users
        .iter()
        .filter(|x| x.is_admin)
        .nth(rng.below(5) as usize)
        .unwrap_or(u);
    let target = u;
    let (op, modified) = match rng.below(3) {
        0 => {
            let wanted = rng.pick(ROLE_NAMES).copied().unwrap_or_default();
            let role = ROLES
                .iter()
                .find(|r| r.display_name == wanted)
                .or(ROLES.first());
            (
                "Add member to role.",
                json!([
                    {"Name": "Role.ObjectID", "NewValue": role.map_or("", |r| r.id), "OldValue": ""},
                    {"Name": "Role.DisplayName", "NewValue": role.map_or("", |r| r.display_name), "OldValue": ""},
                    {"Name": "Role.WellKnownObjectName", "NewValue": role.map_or("", |r| r.well_known), "OldValue": ""},
                ]),
            )
        }
        1 => (
            "Consent to application.",
            json!([
                {"Name": "ConsentContext.IsAdminConsent", "NewValue": "True", "OldValue": ""},
                {"Name": "ConsentContext.OnBehalfOfAll", "NewValue": "True", "OldValue": ""},
                {"Name": "ConsentAction.Permissions", "NewValue": "[] => [[Id: x, ClientId: y, PrincipalId: , ResourceId: z, ConsentType: AllPrincipals, Scope:  Mail.Read User.Read offline_access, CreatedDateTime: , LastModifiedDateTime ]]; ", "OldValue": ""},
            ]),
        ),
        _ => (
            "Update user.",
            json!([
                {"Name": "JobTitle", "NewValue": format!("[\"{}\"]", target.job_title), "OldValue": "[]"},
                {"Name": "Department", "NewValue": format!("[\"{}\"]", target.department), "OldValue": "__NULL__"},
                {"Name": "Included Updated Properties", "NewValue": "JobTitle, Department", "OldValue": ""},
            ]),
        ),
    };
    let mut m = common(
        rng,
        org,
        t,
        8,
        op,
        "AzureActiveDirectory",
        &actor.upn,
        &format!("{}@{TENANT_DOMAIN}", puid(actor)),
        2,
    );
    let ip = if rng.chance(0.3) {
        String::new()
    } else {
        client_ip(rng, actor)
    };
    put(
        &mut m,
        json!({
            "ClientIP": ip,
            "ObjectId": target.upn,
            "ResultStatus": "Success",
            "AzureActiveDirectoryEventType": 1,
            "ExtendedProperties": [
                {"Name": "additionalDetails", "Value": "{}"},
                {"Name": "extendedAuditEventCategory", "Value": "User"},
            ],
            "ModifiedProperties": modified,
            "Actor": [
                {"ID": actor.upn, "Type": 5},
                {"ID": puid(actor), "Type": 3},
                {"ID": format!("User_{}", actor.id), "Type": 2},
            ],
            "ActorContextId": org,
            "InterSystemsId": rng.guid(),
            "IntraSystemsId": rng.guid(),
            "SupportTicketId": "",
            "Target": [
                {"ID": format!("User_{}", target.id), "Type": 2},
                {"ID": target.id, "Type": 2},
                {"ID": "User", "Type": 2},
                {"ID": target.upn, "Type": 5},
                {"ID": puid(target), "Type": 3},
            ],
            "TargetContextId": org,
        }),
    );
    m
}

/// The `Parameters` of a `New-InboxRule`: its name, the words it looks for and its action.
pub(crate) fn inbox_rule_params(name: &str, words: &str, action: Value) -> Value {
    json!([
        {"Name": "AlwaysDeleteOutlookRulesBlob", "Value": "False"},
        {"Name": "Force", "Value": "False"},
        {"Name": "Name", "Value": name},
        {"Name": "SubjectContainsWords", "Value": words},
        action,
        {"Name": "StopProcessingRules", "Value": "True"},
    ])
}

/// `BN8PR12MB1234 (15.20.6543.021)`: the mailbox server of an Exchange record.
pub(crate) fn exchange_server(rng: &mut Rng) -> String {
    format!(
        "BN8PR12MB{} (15.20.{}.{:03})",
        rng.range(1000, 9999),
        rng.range(6000, 7999),
        rng.below(1000)
    )
}

/// An Exchange admin cmdlet record (RecordType 1, `ExchangeAdmin`) run by `u`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn cmdlet(
    rng: &mut Rng,
    org: &str,
    u: &User,
    t: i64,
    op: &str,
    params: Value,
    ip: &str,
    ok: bool,
    server: &str,
) -> Map<String, Value> {
    let mut m = common(
        rng,
        org,
        t,
        1,
        op,
        "Exchange",
        &u.upn,
        &puid(u),
        user_type(u),
    );
    put(
        &mut m,
        json!({
            "ClientIP": ip,
            "ObjectId": u.upn,
            "ResultStatus": if ok { "True" } else { "False" },
            "Parameters": params,
            "ExternalAccess": false,
            "OriginatingServer": server,
            "OrganizationName": TENANT_DOMAIN,
            "AppId": "",
            "ClientAppId": "",
        }),
    );
    m
}

fn exchange(rng: &mut Rng, org: &str, u: &User, t: i64) -> Map<String, Value> {
    let ip = client_ip(rng, u);
    let x = rng.unit();
    let mailbox_guid = rng.guid();
    let server = exchange_server(rng);
    if x < 0.15 {
        let ok = rng.chance(0.9);
        // Benign rules file and mark mail; forwarding and deleting rules, forwarding mailboxes
        // and audit changes are planted attacks only (see [`crate::attacks`]).
        let (op, params) = if rng.chance(0.6) {
            let (name, words, action) = match rng.below(3) {
                0 => (
                    "Newsletters",
                    "newsletter;digest",
                    json!({"Name": "MoveToFolder", "Value": "Newsletters"}),
                ),
                1 => (
                    "Build mails",
                    "[build];[ci]",
                    json!({"Name": "MarkAsRead", "Value": "True"}),
                ),
                _ => (
                    "RSS",
                    "rss;feed",
                    json!({"Name": "MoveToFolder", "Value": "RSS Subscriptions"}),
                ),
            };
            ("New-InboxRule", inbox_rule_params(name, words, action))
        } else {
            let setting = match rng.below(2) {
                0 => json!({"Name": "RetainDeletedItemsFor", "Value": "30.00:00:00"}),
                _ => json!({"Name": "MessageCopyForSentAsEnabled", "Value": "True"}),
            };
            (
                "Set-Mailbox",
                json!([{"Name": "Identity", "Value": u.upn}, setting]),
            )
        };
        return cmdlet(rng, org, u, t, op, params, &ip, ok, &server);
    }
    let session = rng.guid();
    let sid = format!(
        "S-1-5-21-{}-{}-{}-{}",
        rng.range(1_000_000_000, 3_999_999_999),
        rng.range(1_000_000_000, 3_999_999_999),
        rng.range(1_000_000_000, 3_999_999_999),
        rng.range(1000, 99_999)
    );
    let msg_id = format!(
        "<{}@{}.prod.outlook.com>",
        rng.string_from(b"ABCDEF0123456789", 32),
        server.split(' ').next().unwrap_or("server")
    );
    let item_id = rng.string_from(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        64,
    );
    let folder_id = rng.string_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 48);
    let subject = rng
        .pick(&[
            "Quarterly review",
            "Re: invoice 4471",
            "Lunch?",
            "Offsite agenda",
        ])
        .copied()
        .unwrap_or("Hello");
    let client_info = rng
        .pick(&[
            "Client=OWA;Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
            "Client=MSExchangeRPC",
            "Client=REST;Client=RESTSystem;;",
        ])
        .copied()
        .unwrap_or("Client=MSExchangeRPC");
    let mailbox = json!({
        "ClientIP": ip,
        "ClientIPAddress": u.home_ip,
        "ClientInfoString": client_info,
        "ExternalAccess": false,
        "InternalLogonType": 0,
        "LogonType": 0,
        "LogonUserSid": sid,
        "MailboxGuid": mailbox_guid,
        "MailboxOwnerSid": sid,
        "MailboxOwnerUPN": u.upn,
        "OrganizationName": TENANT_DOMAIN,
        "OriginatingServer": server,
        "SessionId": session,
        "ResultStatus": "Succeeded",
        "ObjectId": u.upn,
    });
    if x < 0.35 {
        let send = rng.chance(0.6);
        let mut m = common(
            rng,
            org,
            t,
            2,
            if send { "Send" } else { "HardDelete" },
            "Exchange",
            &u.upn,
            &puid(u),
            user_type(u),
        );
        put(&mut m, mailbox);
        let size = rng.range(2_000, 900_000);
        if send {
            put(
                &mut m,
                json!({"Item": {
                    "Id": item_id,
                    "Subject": subject,
                    "ParentFolder": {"Id": folder_id, "Path": "\\Sent Items"},
                    "InternetMessageId": msg_id,
                    "SizeInBytes": size,
                }}),
            );
        } else {
            put(
                &mut m,
                json!({
                    "Folder": {"Id": folder_id, "Path": "\\Deleted Items"},
                    "AffectedItems": [{
                        "Id": item_id,
                        "Subject": subject,
                        "ParentFolder": {"Id": folder_id, "Path": "\\Deleted Items"},
                        "InternetMessageId": msg_id,
                    }],
                    "CrossMailboxOperation": false,
                }),
            );
        }
        return m;
    }
    let mut m = common(
        rng,
        org,
        t,
        50,
        "MailItemsAccessed",
        "Exchange",
        &u.upn,
        &puid(u),
        user_type(u),
    );
    put(&mut m, mailbox);
    let logon = rng.weighted(&[80, 15, 5]).unwrap_or(0);
    let count = rng.range(1, 20);
    let access = if rng.chance(0.3) { "Sync" } else { "Bind" };
    let info = if rng.chance(0.04) {
        "Not Available".to_string()
    } else {
        client_info.to_string()
    };
    put(
        &mut m,
        json!({
            "LogonType": logon,
            "InternalLogonType": logon,
            "ClientInfoString": info,
            "OperationCount": count,
            "OperationProperties": [
                {"Name": "MailAccessType", "Value": access},
                {"Name": "IsThrottled", "Value": "False"},
            ],
            "Folders": [{
                "Id": folder_id,
                "Path": "\\Inbox",
                "FolderItems": [{"InternetMessageId": msg_id, "SizeInBytes": rng.range(2_000, 90_000)}],
            }],
            "AppId": APPS[0].0,
            "ClientAppId": "",
        }),
    );
    m
}

/// The fields every SharePoint and OneDrive file record carries, for a file of `u`'s OneDrive
/// or (with `site`) of a team site: `(fields, workload, UserKey)`.
pub(crate) fn file_fields(
    rng: &mut Rng,
    u: &User,
    ip: &str,
    site: Option<&str>,
) -> (Value, &'static str, String) {
    let onedrive = site.is_none();
    let local = u.upn.replace(['.', '@'], "_");
    let site_url = match site {
        None => format!("https://contoso-my.sharepoint.com/personal/{local}/"),
        Some(site) => format!("https://contoso.sharepoint.com/sites/{site}/"),
    };
    let (stem, ext) = rng.pick(FILES).copied().unwrap_or(FILES[0]);
    let file = format!("{stem}.{ext}");
    let folder = if onedrive {
        "Documents"
    } else {
        "Shared Documents"
    };
    let agent = if rng.chance(0.03) {
        "Not Available"
    } else {
        rng.pick(USER_AGENTS).copied().unwrap_or_default()
    };
    let workload = if onedrive { "OneDrive" } else { "SharePoint" };
    let user_key = format!(
        "i:0h.f|membership|{}@live.com",
        puid(u).to_ascii_lowercase()
    );
    let fields = json!({
        "ClientIP": ip,
        "ObjectId": format!("{site_url}{folder}/{file}"),
        "CorrelationId": rng.guid(),
        "EventSource": "SharePoint",
        "ItemType": "File",
        "ListId": rng.guid(),
        "ListItemUniqueId": rng.guid(),
        "Site": rng.guid(),
        "WebId": rng.guid(),
        "SiteUrl": site_url,
        "SourceRelativeUrl": folder,
        "SourceFileName": file,
        "SourceFileExtension": ext,
        "UserAgent": agent,
        "ApplicationId": APPS[1].0,
    });
    (fields, workload, user_key)
}

/// A sharing record (RecordType 14) of `u`: who the file was shared with and as what.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sharing_record(
    rng: &mut Rng,
    org: &str,
    u: &User,
    t: i64,
    op: &str,
    target: &str,
    kind: &str,
    fields: Value,
    workload: &str,
    user_key: &str,
) -> Map<String, Value> {
    let mut m = common(
        rng,
        org,
        t,
        14,
        op,
        workload,
        &u.upn,
        user_key,
        user_type(u),
    );
    put(&mut m, fields);
    put(
        &mut m,
        json!({
            "TargetUserOrGroupName": target,
            "TargetUserOrGroupType": kind,
            "EventData": "<PermissionsGranted>Read</PermissionsGranted>",
            "UniqueSharingId": rng.guid(),
        }),
    );
    m
}

fn sharepoint(rng: &mut Rng, tenant: &Tenant, org: &str, u: &User, t: i64) -> Map<String, Value> {
    let ip = client_ip(rng, u);
    let site = (!rng.chance(0.35)).then(|| rng.pick(SITES).copied().unwrap_or("Finance"));
    let (fields, workload, user_key) = file_fields(rng, u, &ip, site);
    if rng.chance(0.75) {
        let op = rng
            .pick(&["FileAccessed", "FileDownloaded", "FileUploaded"])
            .copied()
            .unwrap_or("FileAccessed");
        let mut m = common(
            rng,
            org,
            t,
            6,
            op,
            workload,
            &u.upn,
            &user_key,
            user_type(u),
        );
        put(&mut m, fields);
        return m;
    }
    // Sharing inside the organisation; anonymous links and guests are planted attacks only.
    let (op, target, kind) = match rng.below(3) {
        0 => {
            let member = rng.pick(&tenant.users).unwrap_or(u);
            ("SharingSet", member.upn.clone(), "Member")
        }
        1 => (
            "CompanyLinkCreated",
            format!("SharingLinks.{}.OrganizationView", rng.guid()),
            "SharePointGroup",
        ),
        _ => {
            let member = rng.pick(&tenant.users).unwrap_or(u);
            ("SharingInvitationCreated", member.upn.clone(), "Member")
        }
    };
    sharing_record(
        rng, org, u, t, op, &target, kind, fields, workload, &user_key,
    )
}

/// Teams activity. Security & Compliance alerts are planted attacks only (see
/// [`crate::attacks`]): the pack passes every one through.
fn general(rng: &mut Rng, tenant: &Tenant, org: &str, u: &User, t: i64) -> Map<String, Value> {
    let ip = client_ip(rng, u);
    let created = rng.chance(0.3);
    let team = rng.pick(SITES).copied().unwrap_or("Finance");
    let thread = rng.string_from(b"abcdef0123456789", 32);
    let members: Vec<Value> = (0..rng.range(1, 3))
        .filter_map(|_| rng.pick(&tenant.users))
        .map(|m| json!({"UPN": m.upn, "Role": if created { 2 } else { 1 }, "DisplayName": m.display_name}))
        .collect();
    let mut m = common(
        rng,
        org,
        t,
        25,
        if created {
            "TeamCreated"
        } else {
            "MemberAdded"
        },
        "MicrosoftTeams",
        &u.upn,
        &u.id,
        user_type(u),
    );
    put(
        &mut m,
        json!({
            "ClientIP": ip,
            "ObjectId": format!("{team} team"),
            "TeamName": format!("{team} team"),
            "TeamGuid": format!("19:{thread}@thread.tacv2"),
            "AADGroupId": rng.guid(),
            "CommunicationType": "Team",
            "Members": members,
            "ResultStatus": "Succeeded",
        }),
    );
    m
}

/// A Security & Compliance Center alert (RecordType 40 `AlertTriggered`) about `u`.
pub(crate) fn alert_record(
    rng: &mut Rng,
    org: &str,
    u: &User,
    t: i64,
    (name, category, severity): (&str, &str, &str),
) -> Map<String, Value> {
    let alert_id = rng.guid();
    let policy_id = rng.guid();
    let mut m = common(
        rng,
        org,
        t,
        40,
        "AlertTriggered",
        "SecurityComplianceCenter",
        "SecurityComplianceAlerts",
        "SecurityComplianceAlerts",
        4,
    );
    let stamp = format!("{}.0000000Z", creation_time(t));
    let data = json!({
        "f3u": u.upn,
        "ts": stamp,
        "te": stamp,
        "wl": "Exchange",
        "tid": org,
        "tdc": "1",
        "cid": policy_id,
        "an": name,
        "sev": severity,
    })
    .to_string();
    put(
        &mut m,
        json!({
            "ObjectId": alert_id,
            "AlertId": alert_id,
            "AlertType": "System",
            "Name": name,
            "Severity": severity,
            "Category": category,
            "Status": "Active",
            "Source": "Office 365 Security & Compliance",
            "Comments": "New alert",
            "PolicyId": policy_id,
            "Data": data,
            "AlertLinks": [],
            "ResultStatus": "Succeeded",
        }),
    );
    m
}

/// A DLP match in the baseline: low or medium severity (high ones are planted attacks).
fn dlp(rng: &mut Rng, org: &str, u: &User, t: i64) -> Map<String, Value> {
    let severity = rng.pick(&["Low", "Medium"]).copied().unwrap_or("Low");
    dlp_record(rng, org, u, t, severity)
}

/// A `DlpRuleMatch` of `u`'s mail (RecordType 13) or file (11) with a rule of `severity`.
pub(crate) fn dlp_record(
    rng: &mut Rng,
    org: &str,
    u: &User,
    t: i64,
    severity: &str,
) -> Map<String, Value> {
    let exchange = rng.chance(0.5);
    let (sens_id, sens_name) = rng.pick(SENSITIVE).copied().unwrap_or(SENSITIVE[0]);
    let count = rng.range(1, 40);
    let rule = json!({
        "RuleId": rng.guid(),
        "RuleName": format!("{sens_name} shared externally"),
        "Actions": if rng.chance(0.5) { json!(["NotifyUser"]) } else { json!(["NotifyUser", "BlockAccess"]) },
        "OverriddenActions": [],
        "Severity": severity,
        "RuleMode": "Enable",
        "ManagementRuleId": rng.guid(),
        "ConditionsMatched": {
            "SensitiveInformation": [{
                "SensitiveType": sens_id,
                "SensitiveInformationTypeName": sens_name,
                "Count": count,
                "Confidence": rng.pick(&[75, 85, 95]).copied().unwrap_or(85),
                "UniqueCount": count.min(rng.range(1, 10)),
                "Location": null,
            }],
            "DocumentProperties": [],
            "OtherConditions": [],
        },
    });
    let policy = json!([{
        "PolicyId": rng.guid(),
        "PolicyName": "Contoso financial data",
        "Rules": [rule],
    }]);
    let mut m = common(
        rng,
        org,
        t,
        if exchange { 13 } else { 11 },
        "DlpRuleMatch",
        if exchange { "Exchange" } else { "SharePoint" },
        &u.upn,
        "DlpAgent",
        4,
    );
    let incident = rng.guid();
    put(
        &mut m,
        json!({
            "PolicyDetails": policy,
            "SensitiveInfoDetectionIsIncluded": true,
            "IncidentId": incident,
        }),
    );
    if exchange {
        let msg = format!(
            "<{}@contoso.onmicrosoft.com>",
            rng.string_from(b"abcdef0123456789", 24)
        );
        put(
            &mut m,
            json!({
                "ObjectId": msg,
                "ExchangeMetaData": {
                    "MessageID": msg,
                    "From": u.upn,
                    "To": ["partner@fabrikam.example"],
                    "CC": [],
                    "BCC": [],
                    "Subject": "Customer list",
                    "Sent": format!("{}", creation_time(t)),
                    "RecipientCount": 1,
                    "UniqueID": rng.guid(),
                },
            }),
        );
    } else {
        let local = u.upn.replace(['.', '@'], "_");
        let (stem, ext) = rng.pick(FILES).copied().unwrap_or(FILES[0]);
        let url =
            format!("https://contoso-my.sharepoint.com/personal/{local}/Documents/{stem}.{ext}");
        put(
            &mut m,
            json!({
                "ObjectId": url,
                "SharePointMetaData": {
                    "SiteCollectionUrl": format!("https://contoso-my.sharepoint.com/personal/{local}"),
                    "SiteCollectionGuid": rng.guid(),
                    "FileName": format!("{stem}.{ext}"),
                    "FileOwner": u.display_name,
                    "FilePathUrl": url,
                    "UniqueId": rng.guid(),
                    "From": u.upn,
                    "ItemCreationTime": creation_time(t - 86_400 * NS_PER_SEC),
                    "ItemLastModifiedTime": creation_time(t),
                    "IsViewableByExternalUsers": false,
                },
            }),
        );
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puids_are_sixteen_hex_digits() {
        let tenant = Tenant::generate(1, "t");
        let p = puid(&tenant.users[0]);
        assert_eq!(p.len(), 16);
        assert!(p.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(creation_time(0), "1970-01-01T00:00:00");
    }
}
