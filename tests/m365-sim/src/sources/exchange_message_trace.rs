//! Source `exchange-message-trace`: Exchange Online message trace records as served by Graph
//! `GET /{v1.0|beta}/admin/exchange/tracing/messageTraces` (the same records from both).
//!
//! The collection's rules (enforced by [`crate::graph`] from the [`GraphResource`] below): a
//! `$filter` must bound `receivedDateTime` on both sides (`ge`/`gt` and `le`/`lt`) and span at
//! most 10 days, else 400; `$top` is 1..=5000 (default 1000); records older than 90 days before
//! the request's virtual time are not returned; the tenant must have provisioned the message
//! trace service principal ([`crate::SimConfig::message_trace_provisioned`], else 401); and the
//! collection has its own budget of 100 requests per rolling 5 minutes per tenant.
//!
//! Records follow the v1.0 `exchangeMessageTrace` entity (every property present). Content is
//! modelled on real traces: about half the mail is inbound (partners, personal addresses,
//! Microsoft notifications such as PIM and SharePoint sharing mails, and some spam), a third
//! internal between the tenant's users, the rest outbound; distribution-group mail is traced as
//! `expanded`; `status` is mostly `delivered`, with spam `filteredAsSpam` or `quarantined` and a
//! few `failed` and `pending`. `messageId`s have the shapes their senders use (Exchange Online's
//! `<...MB....@....prod.outlook.com>`, Azure notification GUIDs, Gmail's `<CA...@mail.gmail.com>`);
//! `fromIP` is the sending server or client, `toIP` the receiving server on outbound mail (null
//! otherwise); sizes range from a few kilobytes to several megabytes with attachments.
//! Everything is derived from the event seed.

use serde::Serialize;
use serde_json::value::RawValue;

use super::{EventStub, GraphResource, Precondition, SimSource, SourceApi};
use crate::budget::MESSAGE_TRACE;
use crate::clock::graph_datetime;
use crate::rng::{Rng, hash_str, seed_of};
use crate::tenant::{TENANT_DOMAIN, Tenant, User, random_ip};

/// The message trace source.
#[derive(Debug, Clone, Copy)]
pub struct ExchangeMessageTrace;

const PARTNER_DOMAINS: &[&str] = &[
    "fabrikam.com",
    "northwindtraders.com",
    "adventure-works.com",
    "tailspintoys.com",
    "wingtiptoys.com",
    "litwareinc.com",
    "woodgrovebank.com",
    "proseware.com",
];
const PERSONAL_DOMAINS: &[&str] = &["gmail.com", "outlook.com", "yahoo.com", "icloud.com"];
const CONTACTS: &[&str] = &[
    "john.smith",
    "maria.garcia",
    "li.wang",
    "ahmed.hassan",
    "anna.kowalska",
    "sam.taylor",
    "priya.nair",
    "lucas.martin",
    "yuki.sato",
    "olu.adeyemi",
    "accounts",
    "sales",
    "support",
];
/// Microsoft notification senders and what they send.
const NOTIFICATIONS: &[(&str, &[&str])] = &[
    (
        "MSSecurity-noreply@microsoft.com",
        &[
            "PIM: A privileged directory role was assigned outside of PIM",
            "PIM: Global Reader role was activated",
            "Microsoft Entra ID Protection Weekly Digest",
        ],
    ),
    (
        "azure-noreply@microsoft.com",
        &[
            "Azure AD Identity Protection: risky user detected",
            "Your Azure invoice is ready",
            "Action required: client secret expires in 30 days",
        ],
    ),
    (
        "no-reply@sharepointonline.com",
        &[
            "Megan Bowen shared the file \"Q3 Forecast.xlsx\" with you",
            "Someone shared a folder with you",
        ],
    ),
    (
        "noreply@email.teams.microsoft.com",
        &[
            "You have been added to a team in Microsoft Teams",
            "You have 3 missed messages in Microsoft Teams",
        ],
    ),
];
const SPAM_DOMAINS: &[&str] = &[
    "secure-verify-login.example",
    "promo-mega-deals.example",
    "invoice-portal.example",
    "docs-review-sign.example",
];
const SPAM_SUBJECTS: &[&str] = &[
    "Action required: your mailbox is almost full",
    "Invoice #INV-48213 overdue",
    "You have (3) pending voice messages",
    "Congratulations! You've won a $500 gift card",
    "Please review and sign: Payroll_Update.pdf",
    "Password expiry notice for your account",
];
const SUBJECTS: &[&str] = &[
    "Q3 forecast review",
    "Project Falcon status",
    "Lunch on Friday?",
    "Updated travel policy",
    "Weekly sync notes",
    "Contract draft v3",
    "Invoice 2026-0714",
    "Interview feedback: Senior Engineer",
    "Customer escalation - ticket 48213",
    "Budget planning FY27",
    "Design review",
    "Purchase order 88412",
    "Onboarding checklist",
    "Quarterly business review deck",
    "Renewal quote",
];
const GROUPS: &[&str] = &["allstaff", "finance-team", "engineering", "sales-emea"];
/// Exchange Online mailbox server prefixes: North America, then Europe.
const NAM_SERVERS: &[&str] = &[
    "SA1PR12", "BY5PR11", "CH3PR12", "DM6PR04", "MW4PR15", "PH7PR19",
];
const EUR_SERVERS: &[&str] = &["AM9PR07", "DB9PR03", "VI1PR08", "PA4PR02"];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageTrace<'a> {
    id: &'a str,
    message_id: String,
    received_date_time: String,
    sender_address: String,
    recipient_address: String,
    subject: String,
    size: i32,
    #[serde(rename = "fromIP")]
    from_ip: Option<String>,
    #[serde(rename = "toIP")]
    to_ip: Option<String>,
    status: &'static str,
}

/// The record id: the first draw of the event's generator.
fn head(rng: &mut Rng) -> String {
    rng.guid()
}

/// A stable server address for a domain.
fn server_ip(domain: &str) -> String {
    random_ip(&mut Rng::new(seed_of(&[hash_str(domain), hash_str("mx")])))
}

fn exo_message_id(rng: &mut Rng, europe: bool) -> String {
    let (servers, region) = if europe {
        (EUR_SERVERS, "eurprd")
    } else {
        (NAM_SERVERS, "namprd")
    };
    let server = rng.pick(servers).copied().unwrap_or("SA1PR12");
    let mb = rng.range(1000, 9999);
    let tail = rng.string_from(b"0123456789ABCDEF", 24);
    let prd = &server[5..7];
    format!("<{server}MB{mb}{tail}@{server}MB{mb}.{region}{prd}.prod.outlook.com>")
}

fn pick<'a>(rng: &mut Rng, items: &'a [&'a str]) -> &'a str {
    rng.pick(items).copied().unwrap_or("")
}

fn user<'a>(rng: &mut Rng, tenant: &'a Tenant) -> Option<&'a User> {
    tenant
        .users
        .get(rng.below(tenant.users.len().max(1) as u64) as usize)
}

/// Whether a user's mailbox lives in Europe (the tenant's UK staff).
fn in_europe(tenant: &Tenant, u: &User) -> bool {
    tenant
        .users
        .iter()
        .position(|x| x.id == u.id)
        .is_some_and(|i| i % 10 >= 7)
}

fn chat_subject(rng: &mut Rng) -> String {
    let s = pick(rng, SUBJECTS);
    match rng.below(10) {
        0..=3 => format!("RE: {s}"),
        4 => format!("FW: {s}"),
        _ => s.to_string(),
    }
}

fn render_trace(tenant: &Tenant, event: &EventStub) -> Result<Box<RawValue>, serde_json::Error> {
    let mut rng = Rng::new(event.seed);
    let id = head(&mut rng);
    let me = user(&mut rng, tenant);
    let upn = me.map_or_else(|| format!("user@{TENANT_DOMAIN}"), |u| u.upn.clone());
    let my_ip = me.map(|u| u.home_ip.clone());
    let europe = me.is_some_and(|u| in_europe(tenant, u));
    let group = rng.chance(0.05);
    let group_addr = format!("{}@{TENANT_DOMAIN}", pick(&mut rng, GROUPS));
    let roll = rng.unit();
    let (message_id, sender, recipient, subject, size, from_ip, to_ip, status);
    if roll < 0.5 {
        // Inbound.
        recipient = if group { group_addr } else { upn };
        let source = rng.unit();
        if source < 0.1 {
            let domain = pick(&mut rng, SPAM_DOMAINS);
            let local = rng.string_from(b"abcdefghijklmnopqrstuvwxyz0123456789", 9);
            sender = format!("{local}@{domain}");
            message_id = format!(
                "<{}.{}@{domain}>",
                rng.range(100_000_000, 999_999_999),
                rng.string_from(b"0123456789abcdef", 16)
            );
            subject = pick(&mut rng, SPAM_SUBJECTS).to_string();
            size = rng.range(4_000, 40_000);
            from_ip = Some(random_ip(&mut rng));
            status = if rng.chance(0.6) {
                "filteredAsSpam"
            } else {
                "quarantined"
            };
        } else if source < 0.3 {
            let (from, subjects) = rng.pick(NOTIFICATIONS).copied().unwrap_or(NOTIFICATIONS[0]);
            sender = from.to_string();
            let region = pick(&mut rng, &["westus2", "uksouth", "northeurope", "eastus"]);
            message_id = format!("<{}@az.{region}.production.microsoft.com>", rng.guid());
            subject = pick(&mut rng, subjects).to_string();
            size = rng.range(30_000, 180_000);
            from_ip = Some(server_ip(from));
            status = if group { "expanded" } else { "delivered" };
        } else {
            let personal = rng.chance(0.25);
            let domain = if personal {
                pick(&mut rng, PERSONAL_DOMAINS)
            } else {
                pick(&mut rng, PARTNER_DOMAINS)
            };
            sender = format!("{}@{domain}", pick(&mut rng, CONTACTS));
            message_id = if domain == "gmail.com" {
                format!(
                    "<CA{}@mail.gmail.com>",
                    rng.string_from(
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+_=-",
                        42
                    )
                )
            } else {
                let europe = rng.chance(0.3);
                exo_message_id(&mut rng, europe)
            };
            subject = chat_subject(&mut rng);
            size = attachment_size(&mut rng);
            from_ip = Some(server_ip(domain));
            let s = rng.unit();
            status = if group {
                "expanded"
            } else if s < 0.02 {
                "failed"
            } else if s < 0.03 {
                "pending"
            } else if s < 0.04 {
                "quarantined"
            } else {
                "delivered"
            };
        }
        to_ip = None;
    } else if roll < 0.8 {
        // Internal.
        sender = upn;
        recipient = if group {
            group_addr
        } else {
            user(&mut rng, tenant)
                .map_or_else(|| format!("user@{TENANT_DOMAIN}"), |u| u.upn.clone())
        };
        message_id = exo_message_id(&mut rng, europe);
        subject = chat_subject(&mut rng);
        size = attachment_size(&mut rng);
        from_ip = my_ip;
        to_ip = None;
        status = if group {
            "expanded"
        } else if rng.chance(0.01) {
            "failed"
        } else {
            "delivered"
        };
    } else {
        // Outbound.
        sender = upn;
        let domain = if rng.chance(0.2) {
            pick(&mut rng, PERSONAL_DOMAINS)
        } else {
            pick(&mut rng, PARTNER_DOMAINS)
        };
        recipient = format!("{}@{domain}", pick(&mut rng, CONTACTS));
        message_id = exo_message_id(&mut rng, europe);
        subject = chat_subject(&mut rng);
        size = attachment_size(&mut rng);
        from_ip = my_ip;
        to_ip = Some(server_ip(domain));
        let s = rng.unit();
        status = if s < 0.04 {
            "failed"
        } else if s < 0.08 {
            "pending"
        } else {
            "delivered"
        };
    }
    let record = MessageTrace {
        id: &id,
        message_id,
        received_date_time: graph_datetime(event.time_ns),
        sender_address: sender,
        recipient_address: recipient,
        subject,
        size: i32::try_from(size).unwrap_or(i32::MAX),
        from_ip,
        to_ip,
        status,
    };
    serde_json::value::to_raw_value(&record)
}

/// Mail size in bytes: mostly small, a fifth with attachments up to 8 MB.
fn attachment_size(rng: &mut Rng) -> u64 {
    if rng.chance(0.2) {
        rng.range(200_000, 8_000_000)
    } else {
        rng.range(6_000, 120_000)
    }
}

impl SimSource for ExchangeMessageTrace {
    fn name(&self) -> &'static str {
        "exchange-message-trace"
    }

    fn api(&self) -> SourceApi {
        SourceApi::Graph(GraphResource {
            require_bounds: true,
            max_range_secs: Some(10 * 86_400),
            history_days: Some(90),
            precondition: Precondition::MessageTraceServicePrincipal,
            budget: Some(MESSAGE_TRACE),
            ..GraphResource::basic(
                "admin/exchange/tracing/messageTraces",
                "receivedDateTime",
                1000,
                5000,
            )
        })
    }

    fn volume(&self) -> f64 {
        2.0
    }

    fn record_id(&self, _tenant: &Tenant, seed: u64) -> String {
        head(&mut Rng::new(seed))
    }

    fn render(
        &self,
        tenant: &Tenant,
        event: &EventStub,
    ) -> Result<Box<RawValue>, serde_json::Error> {
        render_trace(tenant, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::BTreeMap;

    #[test]
    fn traces_mix_directions_and_statuses() {
        let tenant = Tenant::generate(6, "t");
        let n = 4000;
        let mut statuses: BTreeMap<String, u32> = BTreeMap::new();
        let (mut inbound, mut outbound) = (0, 0);
        for seed in 0..n {
            let ev = EventStub {
                time_ns: 1_780_000_000_000_000_000,
                visible_ns: 1_780_000_000_000_000_000,
                seed,
                stream: 0,
                id: ExchangeMessageTrace
                    .record_id(&tenant, seed)
                    .into_boxed_str(),
                plant: None,
            };
            let raw = ExchangeMessageTrace
                .render(&tenant, &ev)
                .map(|r| r.get().to_string())
                .unwrap_or_default();
            let v: Value = serde_json::from_str(&raw).unwrap_or_default();
            assert_eq!(v["id"].as_str(), Some(&*ev.id));
            let mid = v["messageId"].as_str().unwrap_or_default();
            assert!(
                mid.starts_with('<') && mid.ends_with('>') && mid.contains('@'),
                "{mid}"
            );
            assert!(v["size"].as_i64().is_some_and(|s| s > 0));
            *statuses
                .entry(v["status"].as_str().unwrap_or_default().to_string())
                .or_default() += 1;
            let internal = |k: &str| {
                v[k].as_str()
                    .is_some_and(|a| a.ends_with(&format!("@{TENANT_DOMAIN}")))
            };
            if !internal("senderAddress") {
                inbound += 1;
            }
            if !internal("recipientAddress") {
                outbound += 1;
            }
        }
        let share = |x: u32| f64::from(x) / n as f64;
        let delivered = statuses.get("delivered").copied().unwrap_or(0);
        assert!((0.78..0.92).contains(&share(delivered)), "{statuses:?}");
        for s in [
            "filteredAsSpam",
            "quarantined",
            "failed",
            "expanded",
            "pending",
        ] {
            assert!(
                statuses.get(s).copied().unwrap_or(0) > 0,
                "{s}: {statuses:?}"
            );
        }
        assert!((0.42..0.58).contains(&share(inbound)), "{}", share(inbound));
        assert!(
            (0.14..0.26).contains(&share(outbound)),
            "{}",
            share(outbound)
        );
    }
}
