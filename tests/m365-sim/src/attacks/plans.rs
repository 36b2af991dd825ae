//! What each planted Graph record is: the choices a source's renderer forces for it (the
//! activity, who did it to whom, from where, with what outcome), everything else drawn as for
//! any record. A plan is a pure function of the tenant and the record's [`PlantRef`]; the
//! scenario-wide choices (victim, actor, attacker address) come from the scenario's seed, so
//! every record of a burst agrees on them.

use super::PlantRef;
use crate::rng::{Rng, seed_of};
use crate::tenant::Tenant;

/// The people and address of one scenario.
struct Cast {
    /// A user who is not an administrator (victim of sign-in attacks, target of changes).
    victim: usize,
    /// An administrator whose account the attacker holds.
    admin: usize,
    /// The attacker's address: IPv6 documentation space no benign record uses.
    ip: String,
    /// Index into the sign-in source's foreign places that no policy blocks.
    abroad: usize,
    /// A permutation of every user, for sprays.
    users: Vec<usize>,
}

fn cast(tenant: &Tenant, plant: &PlantRef) -> Cast {
    let mut rng = Rng::new(seed_of(&[plant.seed, 0xca57]));
    let plain: Vec<usize> = (0..tenant.users.len())
        .filter(|i| !tenant.users[*i].is_admin)
        .collect();
    let admins: Vec<usize> = (0..tenant.users.len())
        .filter(|i| tenant.users[*i].is_admin)
        .collect();
    let victim = rng.pick(&plain).copied().unwrap_or(0);
    let admin = rng.pick(&admins).copied().unwrap_or(0);
    let ip = format!(
        "2001:db8:7e57:{:x}::{:x}",
        rng.range(1, 0xffff),
        rng.range(1, 0xffff)
    );
    let abroad = rng.below(6) as usize;
    // Fisher-Yates over every user.
    let mut users: Vec<usize> = (0..tenant.users.len()).collect();
    for i in (1..users.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        users.swap(i, j);
    }
    Cast {
        victim,
        admin,
        ip,
        abroad,
        users,
    }
}

/// A planted directory audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPlan {
    /// `activityDisplayName` of the activity (one of the source's activities).
    pub activity: &'static str,
    /// Index of the initiating user (an administrator's account).
    pub actor: usize,
    /// Index of the user the activity is about.
    pub subject: usize,
    /// The role assigned, by display name.
    pub role: Option<&'static str>,
    /// The role goes to a service principal rather than to the subject.
    pub to_service_principal: bool,
}

/// The plan of a planted `entra-directory-audits` record. The activity always succeeds.
pub fn audit(tenant: &Tenant, plant: &PlantRef) -> AuditPlan {
    let c = cast(tenant, plant);
    let (activity, role, to_service_principal) = match plant.scenario().name {
        "global-admin-assigned" => ("Add member to role", Some("Global Administrator"), false),
        "privileged-role-admin-assigned" => (
            "Add member to role",
            Some("Privileged Role Administrator"),
            true,
        ),
        "admin-consent" => ("Consent to application", None, false),
        "app-secret-added" => (
            "Update application \u{2013} Certificates and secrets management",
            None,
            false,
        ),
        "service-principal-credentials" => ("Add service principal credentials", None, false),
        "ca-policy-disabled" => ("Update conditional access policy", None, false),
        "ca-policy-deleted" => ("Delete conditional access policy", None, false),
        "mfa-method-deleted" => ("Admin deleted security info", None, false),
        _ => ("Set domain authentication", None, false),
    };
    AuditPlan {
        activity,
        actor: c.admin,
        subject: c.victim,
        role,
        to_service_principal,
    }
}

/// How a planted sign-in signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInWay {
    /// Basic authentication over a legacy protocol (`clientAppUsed`).
    Legacy(&'static str),
    /// The resource-owner password credentials flow from a script.
    Ropc,
    /// The device code flow, completed by the victim in a browser.
    DeviceCode,
    /// An ordinary browser sign-in.
    Browser,
}

/// A planted interactive sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInPlan {
    /// Index of the user signing in (or being tried).
    pub user: usize,
    /// The client address.
    pub ip: String,
    /// Index into the sign-in source's foreign places that no policy blocks.
    pub abroad: usize,
    /// The protocol and client.
    pub way: SignInWay,
    /// The error code: `None` for a success (50126 wrong password, 50053 locked).
    pub error: Option<i32>,
    /// Entra ID Protection rates it high risk.
    pub high_risk: bool,
}

/// The plan of a planted `entra-sign-ins` record (interactive).
pub fn sign_in(tenant: &Tenant, plant: &PlantRef) -> SignInPlan {
    let c = cast(tenant, plant);
    let step = usize::from(plant.step);
    let base = SignInPlan {
        user: c.victim,
        ip: c.ip.clone(),
        abroad: c.abroad,
        way: SignInWay::Browser,
        error: None,
        high_risk: false,
    };
    match plant.scenario().name {
        "legacy-auth-success" => SignInPlan {
            way: SignInWay::Legacy("IMAP4"),
            ..base
        },
        "ropc-single-factor" => SignInPlan {
            way: SignInWay::Ropc,
            ..base
        },
        "device-code-phish" => SignInPlan {
            way: SignInWay::DeviceCode,
            ..base
        },
        "brute-force" => SignInPlan {
            way: SignInWay::Legacy("Authenticated SMTP"),
            // Smart Lockout locks the account after the twentieth wrong password.
            error: Some(if step < 20 { 50126 } else { 50053 }),
            ..base
        },
        "password-spray" => SignInPlan {
            user: c.users.get(step).copied().unwrap_or(c.victim),
            way: SignInWay::Legacy("IMAP4"),
            error: Some(50126),
            ..base
        },
        _ => SignInPlan {
            high_risk: true,
            ..base
        },
    }
}

/// A planted Intune audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntunePlan {
    /// `activityType` of the activity (one of the source's activities).
    pub activity_type: &'static str,
    /// Index of the administrator who does it.
    pub actor: usize,
}

/// The plan of a planted `intune-audit` record. It always succeeds.
pub fn intune(tenant: &Tenant, plant: &PlantRef) -> IntunePlan {
    let c = cast(tenant, plant);
    IntunePlan {
        activity_type: if plant.scenario().name == "device-retired" {
            "Retire ManagedDevice"
        } else {
            "Wipe ManagedDevice"
        },
        actor: c.admin,
    }
}

/// The user and address of a planted Management Activity record: `(user index, client IP)`.
pub fn activity_actor(tenant: &Tenant, plant: &PlantRef) -> (usize, String) {
    let c = cast(tenant, plant);
    let admin_ops = matches!(
        plant.scenario().name,
        "unified-audit-disabled" | "mailbox-audit-bypass" | "ediscovery-search"
    );
    (if admin_ops { c.admin } else { c.victim }, c.ip)
}
