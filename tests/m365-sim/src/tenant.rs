//! The simulated tenant's directory: users, service principals, managed identities, groups,
//! devices, roles and policies that events refer to.
//!
//! It is built once per simulator from the seed (so two simulators with the same seed see the
//! same people and objects) and shared by every source, so a later sign-in source and the
//! directory-audit source talk about the same users, apps and IP addresses. Names and addresses
//! are invented; IP addresses come from the documentation ranges (RFC 5737 / RFC 3849) so no real
//! network is ever implied.

use crate::rng::{Rng, hash_str, seed_of};

/// The tenant's initial domain; every member UPN ends with it.
pub const TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
/// The tenant's display name (target of directory-level changes).
pub const TENANT_NAME: &str = "Contoso";

/// A member or guest user.
#[derive(Debug, Clone)]
pub struct User {
    /// Object id (GUID).
    pub id: String,
    /// "Given Surname".
    pub display_name: String,
    /// `given.surname@contoso.onmicrosoft.com` (guests use the `#EXT#` form).
    pub upn: String,
    /// The address this user usually comes from (IPv4 or IPv6).
    pub home_ip: String,
    /// Job title (used in modified properties).
    pub job_title: &'static str,
    /// Department (used in modified properties).
    pub department: &'static str,
    /// True for an administrator (more likely to initiate directory changes).
    pub is_admin: bool,
}

/// A service principal (an app's identity in this tenant).
#[derive(Debug, Clone)]
pub struct App {
    /// The application (client) id; `None` renders as `null` as Graph often does.
    pub app_id: Option<String>,
    /// Display name.
    pub display_name: &'static str,
    /// The service principal's object id.
    pub service_principal_id: String,
    /// True for Microsoft first-party apps (these act on their own, e.g. Intune compliance).
    pub first_party: bool,
}

/// A security or Microsoft 365 group.
#[derive(Debug, Clone)]
pub struct Group {
    /// Object id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// `unifiedGroups` (Microsoft 365) or `azureAD` (security).
    pub group_type: &'static str,
}

/// A registered or joined device.
#[derive(Debug, Clone)]
pub struct Device {
    /// Object id.
    pub id: String,
    /// The device id (distinct from the object id, as in Entra).
    pub device_id: String,
    /// Display name.
    pub display_name: String,
    /// `Windows`, `MacMDM`, `IPhone`, `Android`.
    pub os_type: &'static str,
    /// `AzureAd`, `Workplace` or `ServerAd`.
    pub trust_type: &'static str,
}

/// A managed identity (an Azure resource's identity, which signs in on its own).
#[derive(Debug, Clone)]
pub struct ManagedIdentity {
    /// Display name (the resource's name for system-assigned identities).
    pub display_name: &'static str,
    /// The application (client) id.
    pub app_id: String,
    /// The service principal's object id.
    pub service_principal_id: String,
    /// `systemAssigned` or `userAssigned`.
    pub msi_type: &'static str,
    /// The Azure resource id it belongs to.
    pub resource_id: String,
}

/// A built-in directory role (ids are the well-known template ids).
#[derive(Debug, Clone, Copy)]
pub struct Role {
    /// Role template id.
    pub id: &'static str,
    /// Display name.
    pub display_name: &'static str,
    /// `WellKnownObjectName`.
    pub well_known: &'static str,
    /// It can take over the tenant, and the pack's privileged-role rule alerts on assigning it:
    /// the benign baseline never assigns one (only planted attacks do, see
    /// [`crate::attacks`]).
    pub privileged: bool,
}

/// A conditional access or directory policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Object id.
    pub id: String,
    /// Display name.
    pub display_name: &'static str,
}

/// Everything events can refer to.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The tenant id (GUID) the simulator was started with.
    pub tenant_id: String,
    /// About 40 users; the first few are administrators.
    pub users: Vec<User>,
    /// Service principals: first-party Microsoft apps and the tenant's own apps.
    pub apps: Vec<App>,
    /// Groups.
    pub groups: Vec<Group>,
    /// Devices.
    pub devices: Vec<Device>,
    /// Conditional access policies.
    pub policies: Vec<Policy>,
    /// Managed identities of the tenant's Azure resources.
    pub managed_identities: Vec<ManagedIdentity>,
}

const GIVEN: &[&str] = &[
    "Adele",
    "Alex",
    "Allan",
    "Bianca",
    "Brian",
    "Carmen",
    "Chen",
    "Christie",
    "Dana",
    "Diego",
    "Elif",
    "Emily",
    "Enrico",
    "Fatima",
    "Grady",
    "Hana",
    "Henrietta",
    "Isaiah",
    "Joni",
    "Kenji",
    "Lee",
    "Lidia",
    "Lynne",
    "Megan",
    "Miriam",
    "Nestor",
    "Noor",
    "Olga",
    "Patti",
    "Pradeep",
    "Quinn",
    "Rafael",
    "Sanjay",
    "Sofia",
    "Tomasz",
    "Uma",
    "Vivek",
    "Wen",
    "Yara",
    "Zoltan",
];
const SURNAME: &[&str] = &[
    "Vance",
    "Wilber",
    "Deyoung",
    "Adams",
    "Johnson",
    "Ortiz",
    "Wei",
    "Cline",
    "Novak",
    "Ruiz",
    "Yilmaz",
    "Braun",
    "Rossi",
    "Haddad",
    "Archie",
    "Sato",
    "Mueller",
    "Okafor",
    "Sherman",
    "Tanaka",
    "Gu",
    "Holloway",
    "Robbins",
    "Bowen",
    "Garcia",
    "Varga",
    "Khan",
    "Petrova",
    "Fernandez",
    "Iyer",
    "Murphy",
    "Costa",
    "Patel",
    "Lopez",
    "Kowalski",
    "Nair",
    "Sharma",
    "Zhang",
    "Haddad",
    "Nagy",
];
const TITLES: &[&str] = &[
    "Marketing Manager",
    "Software Engineer",
    "IT Administrator",
    "Accountant",
    "Sales Lead",
    "Product Manager",
    "HR Generalist",
    "Security Analyst",
    "Support Engineer",
    "Legal Counsel",
];
const DEPARTMENTS: &[&str] = &[
    "Marketing",
    "Engineering",
    "IT",
    "Finance",
    "Sales",
    "Product",
    "HR",
    "Security",
    "Support",
    "Legal",
];

/// First-party Microsoft service principals seen in real directory audits (display name,
/// application id when Graph fills it in).
const FIRST_PARTY: &[(&str, Option<&str>)] = &[
    (
        "Microsoft Intune",
        Some("0000000a-0000-0000-c000-000000000000"),
    ),
    ("Intune Compliance Client Prod", None),
    (
        "Device Registration Service",
        Some("01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9"),
    ),
    ("Microsoft Azure AD Group-Based Licensing", None),
    ("MS-PIM", Some("01fc33a7-78ba-4d2f-a4b7-768e336e890e")),
    (
        "Office 365 Exchange Online",
        Some("00000002-0000-0ff1-ce00-000000000000"),
    ),
    ("Microsoft Substrate Management", None),
    ("Azure AD Cloud Sync", None),
    (
        "Microsoft Graph",
        Some("00000003-0000-0000-c000-000000000000"),
    ),
];

/// The tenant's own app registrations.
const OWN_APPS: &[&str] = &[
    "auditlake-collector",
    "HR Sync Connector",
    "Contoso Expenses",
    "ServiceNow Integration",
    "Terraform Provisioner",
    "Backup Agent",
];

/// Built-in roles with their real template ids.
pub const ROLES: &[Role] = &[
    Role {
        id: "62e90394-69f5-4237-9190-012177145e10",
        display_name: "Global Administrator",
        well_known: "TenantAdmins",
        privileged: true,
    },
    Role {
        id: "fe930be7-5e62-47db-91af-98c3a49a38b1",
        display_name: "User Administrator",
        well_known: "UserAccountAdmins",
        privileged: true,
    },
    Role {
        id: "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
        display_name: "SharePoint Administrator",
        well_known: "SharePointServiceAdmins",
        privileged: true,
    },
    Role {
        id: "29232cdf-9323-42fd-ade2-1d097af3e4de",
        display_name: "Exchange Administrator",
        well_known: "ExchangeServiceAdmins",
        privileged: true,
    },
    Role {
        id: "5d6b6bb7-de71-4623-b4af-96380a352509",
        display_name: "Security Reader",
        well_known: "SecurityReader",
        privileged: false,
    },
    Role {
        id: "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        display_name: "Helpdesk Administrator",
        well_known: "HelpdeskAdmins",
        privileged: false,
    },
    Role {
        id: "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        display_name: "Application Administrator",
        well_known: "ApplicationAdministrator",
        privileged: true,
    },
    Role {
        id: "4a5d8f65-41da-4de4-8968-e035b65339cf",
        display_name: "Reports Reader",
        well_known: "ReportsReader",
        privileged: false,
    },
    Role {
        id: "e8611ab8-c189-46e8-94e1-60213ab1f814",
        display_name: "Privileged Role Administrator",
        well_known: "PrivilegedRoleAdmins",
        privileged: true,
    },
    Role {
        id: "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
        display_name: "Global Reader",
        well_known: "GlobalReaders",
        privileged: false,
    },
    Role {
        id: "69091246-20e8-4a56-aa4d-066075b2a7a8",
        display_name: "Teams Administrator",
        well_known: "TeamsServiceAdmins",
        privileged: false,
    },
    Role {
        id: "4d6ac14f-3453-41d0-bef9-a3e0c569773a",
        display_name: "License Administrator",
        well_known: "LicenseAdministrators",
        privileged: false,
    },
];

const GROUP_NAMES: &[(&str, &str)] = &[
    ("All Staff", "unifiedGroups"),
    ("Engineering", "unifiedGroups"),
    ("Finance Team", "unifiedGroups"),
    ("Sales EMEA", "unifiedGroups"),
    ("Project Falcon", "unifiedGroups"),
    ("SG-VPN-Users", "azureAD"),
    ("SG-Intune-Pilot", "azureAD"),
    ("SG-MFA-Exclusions", "azureAD"),
    ("SG-Licensing-E5", "azureAD"),
    ("SG-Privileged-Access", "azureAD"),
    ("SG-BYOD", "azureAD"),
    ("SG-Finance-Apps", "azureAD"),
];

const POLICY_NAMES: &[&str] = &[
    "Require MFA for admins",
    "Block legacy authentication",
    "Require compliant device for Office 365",
    "Require MFA for Azure management",
    "Block access from untrusted countries",
    "Sign-in risk policy",
];

const DEVICE_KINDS: &[(&str, &str, &str)] = &[
    ("DESKTOP-", "Windows", "AzureAd"),
    ("LAPTOP-", "Windows", "AzureAd"),
    ("WKS-", "Windows", "ServerAd"),
    ("MacBook Pro ", "MacMDM", "AzureAd"),
    ("iPhone ", "IPhone", "Workplace"),
    ("Galaxy S24 ", "Android", "Workplace"),
];

/// Managed identities: (name, type, resource provider path, resource group).
const MANAGED_IDENTITIES: &[(&str, &str, &str, &str)] = &[
    (
        "func-invoice-processor",
        "systemAssigned",
        "Microsoft.Web/sites",
        "rg-finance-prod",
    ),
    (
        "vm-build-agent-01",
        "systemAssigned",
        "Microsoft.Compute/virtualMachines",
        "rg-devops",
    ),
    (
        "id-aks-prod-kubelet",
        "userAssigned",
        "Microsoft.ManagedIdentity/userAssignedIdentities",
        "rg-aks-prod",
    ),
    (
        "logic-hr-onboarding",
        "systemAssigned",
        "Microsoft.Logic/workflows",
        "rg-hr-automation",
    ),
    (
        "id-backup-automation",
        "userAssigned",
        "Microsoft.ManagedIdentity/userAssignedIdentities",
        "rg-backup",
    ),
];

/// IPv4 documentation ranges standing in for the offices and home networks users come from.
const V4_PREFIXES: &[&str] = &["203.0.113.", "198.51.100.", "192.0.2."];
/// IPv6 documentation prefixes.
const V6_PREFIXES: &[&str] = &["2001:db8:4a7c:1200:", "2001:db8:85a3:8d3:"];

impl Tenant {
    /// Builds the directory for `seed` and `tenant_id`.
    pub fn generate(seed: u64, tenant_id: &str) -> Self {
        let mut rng = Rng::new(seed_of(&[seed, hash_str("tenant-directory")]));
        let mut users = Vec::with_capacity(GIVEN.len());
        for (i, given) in GIVEN.iter().enumerate() {
            let surname = SURNAME.get(i).copied().unwrap_or("Smith");
            let title_idx = rng.below(TITLES.len() as u64) as usize;
            users.push(User {
                id: rng.guid(),
                display_name: format!("{given} {surname}"),
                upn: format!(
                    "{}.{}@{TENANT_DOMAIN}",
                    given.to_lowercase(),
                    surname.to_lowercase()
                ),
                home_ip: random_ip(&mut rng),
                job_title: TITLES.get(title_idx).copied().unwrap_or("Analyst"),
                department: DEPARTMENTS.get(title_idx).copied().unwrap_or("IT"),
                is_admin: i < 5,
            });
        }
        let mut apps = Vec::new();
        for (name, app_id) in FIRST_PARTY {
            apps.push(App {
                app_id: app_id.map(str::to_string),
                display_name: name,
                service_principal_id: rng.guid(),
                first_party: true,
            });
        }
        for name in OWN_APPS {
            apps.push(App {
                app_id: Some(rng.guid()),
                display_name: name,
                service_principal_id: rng.guid(),
                first_party: false,
            });
        }
        let groups = GROUP_NAMES
            .iter()
            .map(|(name, kind)| Group {
                id: rng.guid(),
                display_name: (*name).to_string(),
                group_type: kind,
            })
            .collect();
        let mut devices = Vec::new();
        for (i, user) in users.iter().enumerate().take(30) {
            let (prefix, os, trust) = DEVICE_KINDS
                .get(i % DEVICE_KINDS.len())
                .copied()
                .unwrap_or(("PC-", "Windows", "AzureAd"));
            let first = user.display_name.split(' ').next().unwrap_or("User");
            let display_name = if prefix.ends_with('-') {
                format!(
                    "{prefix}{}",
                    rng.string_from(b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", 7)
                )
            } else {
                format!("{first}\u{2019}s {}", prefix.trim_end())
            };
            devices.push(Device {
                id: rng.guid(),
                device_id: rng.guid(),
                display_name,
                os_type: os,
                trust_type: trust,
            });
        }
        let policies = POLICY_NAMES
            .iter()
            .map(|name| Policy {
                id: rng.guid(),
                display_name: name,
            })
            .collect();
        // Drawn last, so adding them changed nothing generated before.
        let subscription = rng.guid();
        let managed_identities = MANAGED_IDENTITIES
            .iter()
            .map(|(name, msi_type, provider, group)| ManagedIdentity {
                display_name: name,
                app_id: rng.guid(),
                service_principal_id: rng.guid(),
                msi_type,
                resource_id: format!(
                    "/subscriptions/{subscription}/resourceGroups/{group}/providers/{provider}/{name}"
                ),
            })
            .collect();
        Self {
            tenant_id: tenant_id.to_string(),
            users,
            apps,
            groups,
            devices,
            policies,
            managed_identities,
        }
    }
}

/// An address from the documentation ranges (about 15% IPv6).
pub fn random_ip(rng: &mut Rng) -> String {
    if rng.chance(0.15) {
        let prefix = rng.pick(V6_PREFIXES).copied().unwrap_or("2001:db8::");
        format!(
            "{prefix}{:x}:{:x}:{:x}:{:x}",
            rng.below(0x10000),
            rng.below(0x10000),
            rng.below(0x10000),
            rng.below(0x10000)
        )
    } else {
        let prefix = rng.pick(V4_PREFIXES).copied().unwrap_or("192.0.2.");
        format!("{prefix}{}", rng.range(1, 254))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_is_deterministic_and_sized() {
        let a = Tenant::generate(7, "t");
        let b = Tenant::generate(7, "t");
        let c = Tenant::generate(8, "t");
        assert_eq!(a.users.len(), 40);
        assert_eq!(a.users[3].id, b.users[3].id);
        assert_ne!(a.users[3].id, c.users[3].id);
        assert!(a.users.iter().all(|u| u.upn.ends_with(TENANT_DOMAIN)));
        assert!(a.apps.len() >= 10);
    }
}
