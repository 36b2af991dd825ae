//! Planted Management Activity API records: built with the same record builders as the benign
//! ones ([`crate::mgmt::records`]), and carried by the blob of their content type that is
//! created at least [`BLOB_AFTER_NS`] after them (a benign record's blob comes 60 to 90 minutes
//! after it; a planted one's 60 minutes to 60 minutes plus one blob interval), so every listing
//! and blob quirk applies to them as to the rest.

use serde_json::{Value, json};

use super::{Feed, PlantedRecord, Schedule, plans};
use crate::clock::NS_PER_SEC;
use crate::mgmt::records::{
    ALERTS, alert_record, cmdlet, common, dlp_record, exchange_server, file_fields,
    inbox_rule_params, put, sharing_record, user_type,
};
use crate::rng::{Rng, seed_of};
use crate::tenant::{TENANT_DOMAIN, Tenant};

/// The least time between a planted record and the creation of the blob that carries it.
pub const BLOB_AFTER_NS: i64 = 3_600 * NS_PER_SEC;

/// The slot of the blob (of blobs `interval_ns` apart) that carries a planted record at `t_ns`.
pub fn slot_of(t_ns: i64, interval_ns: i64) -> i64 {
    let t = t_ns.saturating_add(BLOB_AFTER_NS);
    t.div_euclid(interval_ns) + i64::from(t.rem_euclid(interval_ns) != 0)
}

/// The planted records (with their times) of content type `ct` that the blob at `slot` carries.
pub fn in_blob(
    schedule: &Schedule,
    tenant: &Tenant,
    org: &str,
    ct: usize,
    slot: i64,
    interval_ns: i64,
) -> Vec<(i64, Value)> {
    let created = slot.saturating_mul(interval_ns);
    let hi = created - BLOB_AFTER_NS;
    schedule
        .records_between(Feed::Activity(ct), hi - interval_ns + 1, hi)
        .iter()
        .map(|r| (r.time_ns, record(tenant, org, r)))
        .collect()
}

/// The record `Id` of a planted record.
pub fn record_id(tenant: &Tenant, org: &str, r: &PlantedRecord) -> String {
    record(tenant, org, r)["Id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A planted record, as its blob serves it.
pub fn record(tenant: &Tenant, org: &str, r: &PlantedRecord) -> Value {
    let (who, ip) = plans::activity_actor(tenant, &r.plant);
    let Some(u) = tenant.users.get(who) else {
        return Value::Null;
    };
    // `rng` draws the record's own values; `side` what is shared with benign builders' inputs.
    let mut rng = Rng::new(r.seed);
    let mut side = Rng::new(seed_of(&[r.seed, 0x51de]));
    let t = r.time_ns;
    let server = exchange_server(&mut side);
    let outside = "ap.invoices@fabrikam-billing.example";
    let m = match r.plant.scenario().name {
        "inbox-rule-forward" => {
            let action = json!({"Name": "ForwardTo", "Value": outside});
            let params = inbox_rule_params(".", "invoice;payment;wire", action);
            cmdlet(
                &mut rng,
                org,
                u,
                t,
                "New-InboxRule",
                params,
                &ip,
                true,
                &server,
            )
        }
        "mailbox-forwarding" => {
            let params = json!([
                {"Name": "Identity", "Value": u.upn},
                {"Name": "ForwardingSmtpAddress", "Value": format!("smtp:{outside}")},
                {"Name": "DeliverToMailboxAndForward", "Value": "False"},
            ]);
            cmdlet(
                &mut rng,
                org,
                u,
                t,
                "Set-Mailbox",
                params,
                &ip,
                true,
                &server,
            )
        }
        "unified-audit-disabled" => {
            let params = json!([{"Name": "UnifiedAuditLogIngestionEnabled", "Value": "False"}]);
            let mut m = cmdlet(
                &mut rng,
                org,
                u,
                t,
                "Set-AdminAuditLogConfig",
                params,
                &ip,
                true,
                &server,
            );
            m.insert("ObjectId".into(), json!("Admin Audit Log Settings"));
            m
        }
        "mailbox-audit-bypass" => {
            let target = tenant
                .users
                .iter()
                .find(|x| !x.is_admin)
                .map_or(u.upn.as_str(), |x| x.upn.as_str());
            let params = json!([
                {"Name": "Identity", "Value": target},
                {"Name": "AuditBypassEnabled", "Value": "True"},
            ]);
            cmdlet(
                &mut rng,
                org,
                u,
                t,
                "Set-MailboxAuditBypassAssociation",
                params,
                &ip,
                true,
                &server,
            )
        }
        "mass-download" => {
            let (fields, workload, key) = file_fields(&mut side, u, &ip, Some("Finance"));
            let mut m = common(
                &mut rng,
                org,
                t,
                6,
                "FileDownloaded",
                workload,
                &u.upn,
                &key,
                user_type(u),
            );
            put(&mut m, fields);
            m
        }
        "anonymous-link" | "guest-invitation" => {
            let (fields, workload, key) = file_fields(&mut side, u, &ip, Some("Legal"));
            let (op, target) = if r.plant.scenario().name == "anonymous-link" {
                ("AnonymousLinkCreated", "Anonymous")
            } else {
                ("SharingInvitationCreated", outside)
            };
            sharing_record(
                &mut rng, org, u, t, op, target, "Guest", fields, workload, &key,
            )
        }
        "compliance-alert" => {
            let alert = ALERTS
                .iter()
                .find(|a| a.2 == "High")
                .copied()
                .unwrap_or(ALERTS[0]);
            alert_record(&mut rng, org, u, t, alert)
        }
        "ediscovery-search" => {
            let name = format!("Search {}", side.range(100, 999));
            let mut m = common(
                &mut rng,
                org,
                t,
                18,
                "New-ComplianceSearch",
                "SecurityComplianceCenter",
                &u.upn,
                &u.id,
                2,
            );
            put(
                &mut m,
                json!({
                    "ClientIP": ip,
                    "ObjectId": name,
                    "Parameters": [
                        {"Name": "Name", "Value": name},
                        {"Name": "ExchangeLocation", "Value": "All"},
                        {"Name": "ContentMatchQuery", "Value": "password OR invoice OR wire"},
                    ],
                    "ExternalAccess": false,
                    "OriginatingServer": server,
                    "OrganizationName": TENANT_DOMAIN,
                    "SessionId": side.guid(),
                    "ResultStatus": "True",
                }),
            );
            m
        }
        _ => dlp_record(&mut rng, org, u, t, "High"),
    };
    Value::Object(m)
}
