//! Source `entra-directory-audits`: Entra ID directory audit records as served by Graph
//! `GET /{v1.0|beta}/auditLogs/directoryAudits`.
//!
//! Records follow the v1.0 `directoryAudit` entity exactly (property names, types, nullability;
//! `initiatedBy.user` is a v1.0 `userIdentity`, so no beta-only `userType`/`homeTenantId`), with
//! every property present as Graph sends it (nulls included). Content is modelled on real
//! records: activities fit their category and logging service (`Update device` by
//! "Intune Compliance Client Prod", `Add member to role` with `Role.*` modified properties and a
//! second `Role` target, conditional access changes carrying the policy JSON, ...);
//! `modifiedProperties` values are JSON text (`"[true]"`, `"\"IsCompliant\""`); about 80% of
//! events are initiated by a user (with an IPv4 or IPv6 address) and the rest by an app, never
//! both; about 5% fail with a reason and a few time out. Ids are `Directory_<correlationId>_
//! <5 uppercase alphanumerics>_<8 digits>` for Core Directory and a plain GUID for the other
//! services, as in real data. Everything is derived from the event seed (see
//! [`crate::sources`]), so a record renders identically every time. The collection draws on
//! Graph's identity and access reports budget, shared with sign-ins (see [`crate::budget`]).

use serde::Serialize;
use serde_json::value::RawValue;

use super::{EventStub, GraphResource, SimSource, SourceApi};
use crate::attacks::PlantRef;
use crate::attacks::plans::{self, AuditPlan};
use crate::budget::IDENTITY_REPORTS;
use crate::clock::graph_datetime;
use crate::rng::Rng;
use crate::tenant::{
    App, Device, Group, ROLES, Role, TENANT_DOMAIN, TENANT_NAME, Tenant, User, random_ip,
};

/// The directory audit source.
#[derive(Debug, Clone, Copy)]
pub struct EntraDirectoryAudits;

/// Who may initiate an activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Init {
    /// An administrator (or, rarely, any user).
    Admin,
    /// The user the activity is about (self-service).
    Own,
    /// A first-party Microsoft service principal with this display name.
    FirstParty(&'static str),
    /// An administrator most of the time, otherwise one of the tenant's own apps.
    AdminOrApp,
}

/// What the record is about; decides targets, modified properties and details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    AddUser,
    UpdateUser,
    DeleteUser,
    ResetPassword,
    ChangePassword,
    SelfServiceReset,
    InviteGuest,
    RedeemInvite,
    SecurityInfo,
    ChangeLicense,
    RefreshTokenTimestamp,
    AddGroup,
    UpdateGroup,
    DeleteGroup,
    AddMember,
    RemoveMember,
    AddOwner,
    AddRoleMember,
    RemoveRoleMember,
    PimActivation,
    Consent,
    AddServicePrincipal,
    AppSecrets,
    AppRoleAssignment,
    AddApplication,
    UpdateApplication,
    DelegatedGrant,
    AddCaPolicy,
    UpdateCaPolicy,
    DeleteCaPolicy,
    UpdatePolicy,
    UpdateDevice,
    RegisterDevice,
    AddDeviceOwner,
    DeleteDevice,
    CompanyInfo,
    AddDomain,
    VerifyDomain,
    SpCredentials,
    DeleteSecurityInfo,
    SetDomainAuthentication,
}

struct Activity {
    name: &'static str,
    category: &'static str,
    service: &'static str,
    op: &'static str,
    init: Init,
    kind: Kind,
    weight: u32,
}

const CORE: &str = "Core Directory";

/// The weight of an activity only planted attacks perform (see [`crate::attacks`]): the pack
/// alerts on every success of it, so the benign baseline never draws it.
const PLANTED_ONLY: u32 = 0;

const fn act(
    name: &'static str,
    category: &'static str,
    service: &'static str,
    op: &'static str,
    init: Init,
    kind: Kind,
    weight: u32,
) -> Activity {
    Activity {
        name,
        category,
        service,
        op,
        init,
        kind,
        weight,
    }
}

/// The activity mix, weighted roughly like a mid-size tenant's audit log.
const ACTIVITIES: &[Activity] = &[
    act(
        "Add user",
        "UserManagement",
        CORE,
        "Add",
        Init::AdminOrApp,
        Kind::AddUser,
        20,
    ),
    act(
        "Update user",
        "UserManagement",
        CORE,
        "Update",
        Init::AdminOrApp,
        Kind::UpdateUser,
        90,
    ),
    act(
        "Delete user",
        "UserManagement",
        CORE,
        "Delete",
        Init::Admin,
        Kind::DeleteUser,
        8,
    ),
    act(
        "Reset user password",
        "UserManagement",
        CORE,
        "Update",
        Init::Admin,
        Kind::ResetPassword,
        18,
    ),
    act(
        "Change user password",
        "UserManagement",
        CORE,
        "Update",
        Init::Own,
        Kind::ChangePassword,
        22,
    ),
    act(
        "Reset password (self-service)",
        "UserManagement",
        "Self-service Password Management",
        "Update",
        Init::Own,
        Kind::SelfServiceReset,
        30,
    ),
    act(
        "Invite external user",
        "UserManagement",
        "Invited Users",
        "Add",
        Init::Admin,
        Kind::InviteGuest,
        10,
    ),
    act(
        "Redeem external user invite",
        "UserManagement",
        "Invited Users",
        "Update",
        Init::Own,
        Kind::RedeemInvite,
        8,
    ),
    act(
        "User registered security info",
        "UserManagement",
        "Authentication Methods",
        "Add",
        Init::Own,
        Kind::SecurityInfo,
        25,
    ),
    act(
        "Change user license",
        "UserManagement",
        CORE,
        "Update",
        Init::FirstParty("Microsoft Azure AD Group-Based Licensing"),
        Kind::ChangeLicense,
        25,
    ),
    act(
        "Update StsRefreshTokenValidFrom Timestamp",
        "UserManagement",
        CORE,
        "Update",
        Init::FirstParty("Microsoft Substrate Management"),
        Kind::RefreshTokenTimestamp,
        20,
    ),
    act(
        "Add group",
        "GroupManagement",
        CORE,
        "Add",
        Init::AdminOrApp,
        Kind::AddGroup,
        10,
    ),
    act(
        "Update group",
        "GroupManagement",
        CORE,
        "Update",
        Init::AdminOrApp,
        Kind::UpdateGroup,
        15,
    ),
    act(
        "Delete group",
        "GroupManagement",
        CORE,
        "Delete",
        Init::Admin,
        Kind::DeleteGroup,
        4,
    ),
    act(
        "Add member to group",
        "GroupManagement",
        CORE,
        "Assign",
        Init::AdminOrApp,
        Kind::AddMember,
        80,
    ),
    act(
        "Remove member from group",
        "GroupManagement",
        CORE,
        "Unassign",
        Init::AdminOrApp,
        Kind::RemoveMember,
        40,
    ),
    act(
        "Add owner to group",
        "GroupManagement",
        CORE,
        "Assign",
        Init::Admin,
        Kind::AddOwner,
        8,
    ),
    act(
        "Add member to role",
        "RoleManagement",
        CORE,
        "Assign",
        Init::Admin,
        Kind::AddRoleMember,
        8,
    ),
    act(
        "Remove member from role",
        "RoleManagement",
        CORE,
        "Unassign",
        Init::Admin,
        Kind::RemoveRoleMember,
        5,
    ),
    act(
        "Add member to role completed (PIM activation)",
        "RoleManagement",
        "PIM",
        "Add",
        Init::Own,
        Kind::PimActivation,
        10,
    ),
    act(
        "Consent to application",
        "ApplicationManagement",
        CORE,
        "Assign",
        Init::Admin,
        Kind::Consent,
        PLANTED_ONLY,
    ),
    act(
        "Add service principal",
        "ApplicationManagement",
        CORE,
        "Add",
        Init::AdminOrApp,
        Kind::AddServicePrincipal,
        6,
    ),
    act(
        "Update application \u{2013} Certificates and secrets management",
        "ApplicationManagement",
        CORE,
        "Update",
        Init::AdminOrApp,
        Kind::AppSecrets,
        PLANTED_ONLY,
    ),
    act(
        "Add app role assignment to service principal",
        "ApplicationManagement",
        CORE,
        "Assign",
        Init::AdminOrApp,
        Kind::AppRoleAssignment,
        6,
    ),
    act(
        "Add application",
        "ApplicationManagement",
        CORE,
        "Add",
        Init::Admin,
        Kind::AddApplication,
        4,
    ),
    act(
        "Update application",
        "ApplicationManagement",
        CORE,
        "Update",
        Init::AdminOrApp,
        Kind::UpdateApplication,
        10,
    ),
    act(
        "Add delegated permission grant",
        "ApplicationManagement",
        CORE,
        "Assign",
        Init::Admin,
        Kind::DelegatedGrant,
        6,
    ),
    act(
        "Add conditional access policy",
        "Policy",
        "Conditional Access",
        "Add",
        Init::Admin,
        Kind::AddCaPolicy,
        2,
    ),
    act(
        "Update conditional access policy",
        "Policy",
        "Conditional Access",
        "Update",
        Init::Admin,
        Kind::UpdateCaPolicy,
        6,
    ),
    act(
        "Delete conditional access policy",
        "Policy",
        "Conditional Access",
        "Delete",
        Init::Admin,
        Kind::DeleteCaPolicy,
        PLANTED_ONLY,
    ),
    act(
        "Update policy",
        "Policy",
        CORE,
        "Update",
        Init::Admin,
        Kind::UpdatePolicy,
        4,
    ),
    act(
        "Update device",
        "Device",
        CORE,
        "Update",
        Init::FirstParty("Intune Compliance Client Prod"),
        Kind::UpdateDevice,
        45,
    ),
    act(
        "Register device",
        "Device",
        "Device Registration Service",
        "Add",
        Init::FirstParty("Device Registration Service"),
        Kind::RegisterDevice,
        12,
    ),
    act(
        "Add registered owner to device",
        "Device",
        CORE,
        "Assign",
        Init::Own,
        Kind::AddDeviceOwner,
        8,
    ),
    act(
        "Delete device",
        "Device",
        CORE,
        "Delete",
        Init::FirstParty("Microsoft Intune"),
        Kind::DeleteDevice,
        3,
    ),
    act(
        "Set Company Information",
        "DirectoryManagement",
        CORE,
        "Update",
        Init::Admin,
        Kind::CompanyInfo,
        2,
    ),
    act(
        "Add unverified domain",
        "DirectoryManagement",
        CORE,
        "Add",
        Init::Admin,
        Kind::AddDomain,
        1,
    ),
    act(
        "Verify domain",
        "DirectoryManagement",
        CORE,
        "Update",
        Init::Admin,
        Kind::VerifyDomain,
        1,
    ),
    act(
        "Add service principal credentials",
        "ApplicationManagement",
        CORE,
        "Update",
        Init::AdminOrApp,
        Kind::SpCredentials,
        PLANTED_ONLY,
    ),
    act(
        "Admin deleted security info",
        "UserManagement",
        "Authentication Methods",
        "Delete",
        Init::Admin,
        Kind::DeleteSecurityInfo,
        PLANTED_ONLY,
    ),
    act(
        "Set domain authentication",
        "DirectoryManagement",
        CORE,
        "Update",
        Init::Admin,
        Kind::SetDomainAuthentication,
        PLANTED_ONLY,
    ),
];

const FAILURE_REASONS: &[&str] = &[
    "Microsoft.Online.Workflows.ObjectAlreadyExistsException",
    "Insufficient privileges to complete the operation.",
    "One or more properties contains invalid values.",
    "Microsoft.Online.DirectoryServices.AuthorizationException",
    "The specified object was not found in the directory.",
    "Another object with the same value for property proxyAddresses already exists.",
];

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
    "PowerShell/7.4.2 Microsoft.Graph/2.19.0",
];

const LICENSE_SKUS: &[&str] = &[
    "ENTERPRISEPREMIUM",
    "SPE_E3",
    "EMS",
    "POWER_BI_PRO",
    "VISIOCLIENT",
];

const GRAPH_APP_ROLES: &[(&str, &str, &str)] = &[
    (
        "b0afded3-3588-46d8-8b3d-9842eff778da",
        "AuditLog.Read.All",
        "Read all audit log data",
    ),
    (
        "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
        "Directory.Read.All",
        "Read directory data",
    ),
    (
        "df021288-bdef-4463-88db-98f22de89214",
        "User.Read.All",
        "Read all users' full profiles",
    ),
    (
        "5b567255-7703-4780-807c-7be8301ae99b",
        "Group.Read.All",
        "Read all groups",
    ),
];

const MICROSOFT_GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DirectoryAudit<'a> {
    id: &'a str,
    category: &'static str,
    correlation_id: &'a str,
    result: &'static str,
    result_reason: &'a str,
    activity_display_name: &'static str,
    activity_date_time: String,
    logged_by_service: &'static str,
    operation_type: &'static str,
    initiated_by: Initiator,
    target_resources: Vec<Target>,
    additional_details: Vec<KeyValue>,
}

#[derive(Serialize)]
struct Initiator {
    user: Option<UserIdentity>,
    app: Option<AppIdentity>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserIdentity {
    id: String,
    display_name: Option<String>,
    user_principal_name: String,
    ip_address: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppIdentity {
    app_id: Option<String>,
    display_name: String,
    service_principal_id: String,
    service_principal_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    id: Option<String>,
    display_name: Option<String>,
    #[serde(rename = "type")]
    kind: &'static str,
    user_principal_name: Option<String>,
    group_type: Option<&'static str>,
    modified_properties: Vec<Prop>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Prop {
    display_name: String,
    old_value: Option<String>,
    new_value: Option<String>,
}

#[derive(Serialize)]
struct KeyValue {
    key: String,
    value: String,
}

/// The leading part of every event: activity, correlation id and record id. Both
/// [`SimSource::record_id`] and [`SimSource::render`] run it on a fresh generator, so they agree.
struct Head {
    activity: &'static Activity,
    correlation_id: String,
    id: String,
}

fn head(rng: &mut Rng, forced: Option<&str>) -> Head {
    let idx = match forced.and_then(|name| ACTIVITIES.iter().position(|a| a.name == name)) {
        Some(i) => i,
        None => {
            let weights: Vec<u32> = ACTIVITIES.iter().map(|a| a.weight).collect();
            rng.weighted(&weights).unwrap_or(0)
        }
    };
    let activity = ACTIVITIES.get(idx).unwrap_or(&ACTIVITIES[0]);
    let correlation_id = rng.guid();
    let id = if activity.service == CORE {
        let code = rng.string_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 5);
        let digits = rng.range(10_000_000, 99_999_999);
        format!("Directory_{correlation_id}_{code}_{digits}")
    } else {
        rng.guid()
    };
    Head {
        activity,
        correlation_id,
        id,
    }
}

impl SimSource for EntraDirectoryAudits {
    fn name(&self) -> &'static str {
        "entra-directory-audits"
    }

    fn api(&self) -> SourceApi {
        SourceApi::Graph(GraphResource {
            budget: Some(IDENTITY_REPORTS),
            ..GraphResource::basic("auditLogs/directoryAudits", "activityDateTime", 100, 1000)
        })
    }

    fn record_id(&self, _tenant: &Tenant, seed: u64) -> String {
        head(&mut Rng::new(seed), None).id
    }

    fn planted_record_id(&self, tenant: &Tenant, seed: u64, plant: &PlantRef) -> String {
        let plan = plans::audit(tenant, plant);
        head(&mut Rng::new(seed), Some(plan.activity)).id
    }

    fn render(
        &self,
        tenant: &Tenant,
        event: &EventStub,
    ) -> Result<Box<RawValue>, serde_json::Error> {
        let mut rng = Rng::new(event.seed);
        let plan = event.plant.map(|p| plans::audit(tenant, &p));
        let h = head(&mut rng, plan.as_ref().map(|p| p.activity));
        let a = h.activity;
        let mut b = Builder {
            rng,
            tenant,
            time_ns: event.time_ns,
            targets: Vec::new(),
            details: Vec::new(),
            plan: plan.clone(),
        };
        // The subject user of user-centred activities (also the initiator of self-service ones).
        let subject = match &plan {
            Some(p) => tenant.users.get(p.subject).unwrap_or_else(|| b.user()),
            None => b.user(),
        };
        let initiator = match &plan {
            Some(p) => match tenant.users.get(p.actor) {
                Some(actor) => Initiator {
                    user: Some(b.user_identity(actor)),
                    app: None,
                },
                None => b.initiator(a.init, subject),
            },
            None => b.initiator(a.init, subject),
        };
        let user_initiated = initiator.user.is_some();
        b.fill(a.kind, subject);
        if user_initiated && b.rng.chance(0.4) && !b.details.iter().any(|d| d.key == "User-Agent") {
            let ua = b.rng.pick(USER_AGENTS).copied().unwrap_or("Mozilla/5.0");
            b.details.push(kv("User-Agent", ua));
        }
        let roll = if plan.is_some() { 1.0 } else { b.rng.unit() };
        let (result, reason) = if roll < 0.003 {
            ("timeout", "The operation timed out.".to_string())
        } else if roll < 0.053 {
            let r = b
                .rng
                .pick(FAILURE_REASONS)
                .copied()
                .unwrap_or("Unknown error");
            ("failure", r.to_string())
        } else {
            ("success", success_reason(a.kind).to_string())
        };
        let record = DirectoryAudit {
            id: &h.id,
            category: a.category,
            correlation_id: &h.correlation_id,
            result,
            result_reason: &reason,
            activity_display_name: a.name,
            activity_date_time: graph_datetime(event.time_ns),
            logged_by_service: a.service,
            operation_type: a.op,
            initiated_by: initiator,
            target_resources: b.targets,
            additional_details: b.details,
        };
        serde_json::value::to_raw_value(&record)
    }
}

fn success_reason(kind: Kind) -> &'static str {
    match kind {
        Kind::SelfServiceReset => "Successfully completed reset.",
        Kind::AddMember => "Successfully added member to group",
        _ => "",
    }
}

/// JSON text of a string: `"x"` -> `"\"x\""`.
fn jstr(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// JSON text of a one-element string array: `"x"` -> `"[\"x\"]"`.
fn jarr(s: &str) -> String {
    serde_json::to_string(&[s]).unwrap_or_default()
}

fn prop(name: &str, old: Option<String>, new: Option<String>) -> Prop {
    Prop {
        display_name: name.to_string(),
        old_value: old,
        new_value: new,
    }
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: value.to_string(),
    }
}

fn included(names: &[&str]) -> Prop {
    prop(
        "Included Updated Properties",
        None,
        Some(jstr(&names.join(", "))),
    )
}

struct Builder<'t> {
    rng: Rng,
    tenant: &'t Tenant,
    time_ns: i64,
    targets: Vec<Target>,
    details: Vec<KeyValue>,
    /// A planted record's forced choices.
    plan: Option<AuditPlan>,
}

impl<'t> Builder<'t> {
    fn user(&mut self) -> &'t User {
        let users = &self.tenant.users;
        let i = self.rng.below(users.len() as u64) as usize;
        &users[i.min(users.len().saturating_sub(1))]
    }

    fn admin(&mut self) -> &'t User {
        let admins: Vec<&'t User> = self.tenant.users.iter().filter(|u| u.is_admin).collect();
        if self.rng.chance(0.9)
            && let Some(a) = self.rng.pick(&admins)
        {
            return a;
        }
        self.user()
    }

    fn app_named(&mut self, name: &str) -> &'t App {
        let apps = &self.tenant.apps;
        apps.iter()
            .find(|a| a.display_name == name)
            .unwrap_or_else(|| {
                &apps[self.rng.below(apps.len() as u64) as usize % apps.len().max(1)]
            })
    }

    fn own_app(&mut self) -> &'t App {
        let own: Vec<&'t App> = self.tenant.apps.iter().filter(|a| !a.first_party).collect();
        match self.rng.pick(&own) {
            Some(a) => a,
            None => &self.tenant.apps[0],
        }
    }

    fn group(&mut self) -> &'t Group {
        let g = &self.tenant.groups;
        &g[self.rng.below(g.len() as u64) as usize % g.len().max(1)]
    }

    fn device(&mut self) -> &'t Device {
        let d = &self.tenant.devices;
        &d[self.rng.below(d.len() as u64) as usize % d.len().max(1)]
    }

    /// Any role (removals, PIM activations of an eligibility).
    fn role(&mut self) -> &'static Role {
        if let Some(r) = self.planned_role() {
            return r;
        }
        self.rng.pick(ROLES).unwrap_or(&ROLES[0])
    }

    /// A role to assign: never a privileged one in the baseline (the pack alerts on those).
    fn assigned_role(&mut self) -> &'static Role {
        if let Some(r) = self.planned_role() {
            return r;
        }
        let plain: Vec<&'static Role> = ROLES.iter().filter(|r| !r.privileged).collect();
        self.rng.pick(&plain).copied().unwrap_or(&ROLES[0])
    }

    fn planned_role(&self) -> Option<&'static Role> {
        let name = self.plan.as_ref()?.role?;
        ROLES.iter().find(|r| r.display_name == name)
    }

    fn ip_for(&mut self, user: &User) -> String {
        if self.rng.chance(0.85) {
            user.home_ip.clone()
        } else {
            random_ip(&mut self.rng)
        }
    }

    fn user_identity(&mut self, user: &User) -> UserIdentity {
        UserIdentity {
            id: user.id.clone(),
            display_name: if self.rng.chance(0.7) {
                Some(user.display_name.clone())
            } else {
                None
            },
            user_principal_name: user.upn.clone(),
            ip_address: self.ip_for(user),
        }
    }

    fn app_identity(app: &App) -> AppIdentity {
        AppIdentity {
            app_id: app.app_id.clone(),
            display_name: app.display_name.to_string(),
            service_principal_id: app.service_principal_id.clone(),
            service_principal_name: None,
        }
    }

    fn initiator(&mut self, init: Init, subject: &'t User) -> Initiator {
        let user = match init {
            Init::Own => Some(subject),
            Init::Admin => Some(self.admin()),
            Init::AdminOrApp => {
                if self.rng.chance(0.92) {
                    Some(self.admin())
                } else {
                    None
                }
            }
            Init::FirstParty(_) => None,
        };
        match (user, init) {
            (Some(u), _) => Initiator {
                user: Some(self.user_identity(u)),
                app: None,
            },
            (None, Init::FirstParty(name)) => {
                let app = self.app_named(name);
                Initiator {
                    user: None,
                    app: Some(Self::app_identity(app)),
                }
            }
            (None, _) => {
                let app = self.own_app();
                Initiator {
                    user: None,
                    app: Some(Self::app_identity(app)),
                }
            }
        }
    }

    fn user_target(&self, user: &User, props: Vec<Prop>) -> Target {
        Target {
            id: Some(user.id.clone()),
            display_name: None,
            kind: "User",
            user_principal_name: Some(user.upn.clone()),
            group_type: None,
            modified_properties: props,
        }
    }

    fn target(id: &str, name: Option<&str>, kind: &'static str, props: Vec<Prop>) -> Target {
        Target {
            id: Some(id.to_string()),
            display_name: name.map(str::to_string),
            kind,
            user_principal_name: None,
            group_type: None,
            modified_properties: props,
        }
    }

    fn group_target(g: &Group, props: Vec<Prop>) -> Target {
        Target {
            id: Some(g.id.clone()),
            display_name: Some(g.display_name.clone()),
            kind: "Group",
            user_principal_name: None,
            group_type: Some(g.group_type),
            modified_properties: props,
        }
    }

    fn device_details(&mut self, d: &Device) {
        self.details.push(kv("DeviceId", &d.device_id));
        self.details.push(kv("DeviceOSType", d.os_type));
        self.details.push(kv("DeviceTrustType", d.trust_type));
    }

    fn fill(&mut self, kind: Kind, subject: &User) {
        match kind {
            Kind::AddUser => {
                let other = self.user().clone();
                let given = subject.display_name.split(' ').next().unwrap_or("New");
                let surname = other.display_name.split(' ').nth(1).unwrap_or("User");
                let upn = format!(
                    "{}.{}{}@{TENANT_DOMAIN}",
                    given.to_lowercase(),
                    surname.to_lowercase(),
                    self.rng.range(2, 99)
                );
                let name = format!("{given} {surname}");
                let new_user = User {
                    id: self.rng.guid(),
                    display_name: name.clone(),
                    upn: upn.clone(),
                    home_ip: String::new(),
                    job_title: other.job_title,
                    department: other.department,
                    is_admin: false,
                };
                let props = vec![
                    prop("AccountEnabled", Some("[]".into()), Some("[true]".into())),
                    prop("DisplayName", Some("[]".into()), Some(jarr(&name))),
                    prop("UserPrincipalName", Some("[]".into()), Some(jarr(&upn))),
                    prop("UserType", Some("[]".into()), Some(jarr("Member"))),
                    included(&[
                        "AccountEnabled",
                        "DisplayName",
                        "UserPrincipalName",
                        "UserType",
                    ]),
                ];
                let t = self.user_target(&new_user, props);
                self.targets.push(t);
                self.details.push(kv("UserType", "Member"));
            }
            Kind::UpdateUser => {
                let other = self.user();
                let (name, old, new) = match self.rng.below(4) {
                    0 => ("JobTitle", jarr(subject.job_title), jarr(other.job_title)),
                    1 => (
                        "Department",
                        jarr(subject.department),
                        jarr(other.department),
                    ),
                    2 => (
                        "TelephoneNumber",
                        "[]".to_string(),
                        jarr(&format!("+1 425 555 {:04}", self.rng.below(10_000))),
                    ),
                    _ => (
                        "AccountEnabled",
                        "[true]".to_string(),
                        "[false]".to_string(),
                    ),
                };
                let props = vec![prop(name, Some(old), Some(new)), included(&[name])];
                let t = self.user_target(subject, props);
                self.targets.push(t);
                self.details.push(kv("UserType", "Member"));
            }
            Kind::DeleteUser | Kind::ResetPassword | Kind::ChangePassword => {
                let t = self.user_target(subject, Vec::new());
                self.targets.push(t);
                self.details.push(kv("UserType", "Member"));
            }
            Kind::SelfServiceReset => {
                let t = self.user_target(subject, Vec::new());
                self.targets.push(t);
            }
            Kind::InviteGuest | Kind::RedeemInvite => {
                let domain = ["fabrikam.com", "adatum.com", "northwindtraders.com"]
                    [self.rng.below(3) as usize];
                let local = subject.display_name.replace(' ', ".").to_lowercase();
                let guest = User {
                    id: self.rng.guid(),
                    display_name: subject.display_name.clone(),
                    upn: format!("{local}_{domain}#EXT#@{TENANT_DOMAIN}"),
                    home_ip: random_ip(&mut self.rng),
                    job_title: "",
                    department: "",
                    is_admin: false,
                };
                let mut t = self.user_target(&guest, Vec::new());
                t.display_name = Some(guest.display_name.clone());
                self.targets.push(t);
                self.details
                    .push(kv("invitedUserEmailAddress", &format!("{local}@{domain}")));
            }
            Kind::SecurityInfo => {
                let t = self.user_target(subject, Vec::new());
                self.targets.push(t);
                let method = ["Microsoft Authenticator App", "Phone", "FIDO2 security key"]
                    [self.rng.below(3) as usize];
                self.details.push(kv("Method", method));
            }
            Kind::ChangeLicense => {
                let sku = self.rng.pick(LICENSE_SKUS).copied().unwrap_or("SPE_E3");
                let props = vec![
                    prop(
                        "AssignedLicense",
                        Some("[]".into()),
                        Some(jarr(&format!(
                            "[SkuName={sku}, AccountId={}, SkuId={}, DisabledPlans=[]]",
                            self.tenant.tenant_id,
                            self.rng.guid()
                        ))),
                    ),
                    included(&["AssignedLicense", "AssignedPlan"]),
                ];
                let t = self.user_target(subject, props);
                self.targets.push(t);
            }
            Kind::RefreshTokenTimestamp => {
                let now = graph_datetime(self.time_ns);
                let props = vec![
                    prop(
                        "StsRefreshTokensValidFrom",
                        Some(jarr(&graph_datetime(
                            self.time_ns - 86_400_000_000_000 * 30,
                        ))),
                        Some(jarr(&now)),
                    ),
                    included(&["StsRefreshTokensValidFrom"]),
                ];
                let t = self.user_target(subject, props);
                self.targets.push(t);
            }
            Kind::AddGroup | Kind::UpdateGroup | Kind::DeleteGroup => {
                let g = self.group();
                let props = match kind {
                    Kind::AddGroup => vec![
                        prop(
                            "DisplayName",
                            Some("[]".into()),
                            Some(jarr(&g.display_name)),
                        ),
                        prop(
                            "MailEnabled",
                            Some("[]".into()),
                            Some(format!("[{}]", g.group_type == "unifiedGroups")),
                        ),
                        prop("SecurityEnabled", Some("[]".into()), Some("[true]".into())),
                        included(&["DisplayName", "MailEnabled", "SecurityEnabled"]),
                    ],
                    Kind::UpdateGroup => vec![
                        prop(
                            "Description",
                            Some(jarr(&format!("{} members", g.display_name))),
                            Some(jarr(&format!("{} (managed by IT)", g.display_name))),
                        ),
                        included(&["Description"]),
                    ],
                    _ => Vec::new(),
                };
                self.targets.push(Self::group_target(g, props));
                self.details.push(kv(
                    "GroupType",
                    if g.group_type == "unifiedGroups" {
                        "Unified"
                    } else {
                        "Security"
                    },
                ));
            }
            Kind::AddMember | Kind::RemoveMember | Kind::AddOwner => {
                let g = self.group();
                let (old, new) = if kind == Kind::RemoveMember {
                    (
                        (Some(jstr(&g.id)), None),
                        (Some(jstr(&g.display_name)), None),
                    )
                } else {
                    (
                        (None, Some(jstr(&g.id))),
                        (None, Some(jstr(&g.display_name))),
                    )
                };
                let props = vec![
                    prop("Group.ObjectID", old.0, old.1),
                    prop("Group.DisplayName", new.0, new.1),
                ];
                let t = self.user_target(subject, props);
                self.targets.push(t);
                self.targets.push(Self::group_target(g, Vec::new()));
            }
            Kind::AddRoleMember | Kind::RemoveRoleMember | Kind::PimActivation => {
                let role = if kind == Kind::AddRoleMember {
                    self.assigned_role()
                } else {
                    self.role()
                };
                let set = |v: String| -> (Option<String>, Option<String>) {
                    if kind == Kind::RemoveRoleMember {
                        (Some(v), None)
                    } else {
                        (None, Some(v))
                    }
                };
                let mk = |name: &str, v: String| {
                    let (o, n) = set(v);
                    prop(name, o, n)
                };
                let props = vec![
                    mk("Role.ObjectID", jstr(role.id)),
                    mk("Role.DisplayName", jstr(role.display_name)),
                    mk("Role.TemplateId", jstr(role.id)),
                    mk("Role.WellKnownObjectName", jstr(role.well_known)),
                ];
                let to_app = self.rng.chance(0.25);
                let to_app = match &self.plan {
                    Some(p) => p.to_service_principal,
                    None => to_app,
                };
                if kind != Kind::PimActivation && to_app {
                    let app = self.own_app();
                    let mut p = props;
                    p.push(prop(
                        "TargetId.ServicePrincipalNames",
                        None,
                        Some(jstr(app.app_id.as_deref().unwrap_or(""))),
                    ));
                    self.targets.push(Self::target(
                        &app.service_principal_id,
                        Some(app.display_name),
                        "ServicePrincipal",
                        p,
                    ));
                } else {
                    let t = self.user_target(subject, props);
                    self.targets.push(t);
                }
                self.targets
                    .push(Self::target(role.id, None, "Role", Vec::new()));
                if kind == Kind::PimActivation {
                    self.details.push(kv("RoleDefinitionOriginId", role.id));
                    self.details
                        .push(kv("Justification", "Scheduled maintenance"));
                }
            }
            Kind::Consent => {
                let app = self.own_app();
                let admin = self.rng.chance(0.6) || self.plan.is_some();
                let scopes = [
                    "User.Read",
                    "User.Read Mail.Read",
                    "openid profile offline_access",
                ][self.rng.below(3) as usize];
                let props = vec![
                    prop(
                        "ConsentContext.IsAdminConsent",
                        None,
                        Some(jstr(if admin { "True" } else { "False" })),
                    ),
                    prop("ConsentContext.IsAppOnly", None, Some(jstr("False"))),
                    prop(
                        "ConsentContext.OnBehalfOfAll",
                        None,
                        Some(jstr(if admin { "True" } else { "False" })),
                    ),
                    prop(
                        "ConsentAction.Permissions",
                        None,
                        Some(jstr(&format!(
                            "[] => [[Id: {}, ClientId: {}, PrincipalId: , ResourceId: {}, ConsentType: {}, Scope: {scopes}, ]]; ",
                            self.rng.string_from(
                                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                                43
                            ),
                            app.service_principal_id,
                            self.rng.guid(),
                            if admin { "AllPrincipals" } else { "Principal" },
                        ))),
                    ),
                    prop(
                        "TargetId.ServicePrincipalNames",
                        None,
                        Some(jstr(app.app_id.as_deref().unwrap_or(""))),
                    ),
                ];
                self.targets.push(Self::target(
                    &app.service_principal_id,
                    Some(app.display_name),
                    "ServicePrincipal",
                    props,
                ));
                let ua = self.rng.pick(USER_AGENTS).copied().unwrap_or("Mozilla/5.0");
                self.details.push(kv("User-Agent", ua));
                self.details
                    .push(kv("AppId", app.app_id.as_deref().unwrap_or("")));
            }
            Kind::AddServicePrincipal => {
                let app = self.own_app();
                let app_id = app.app_id.clone().unwrap_or_default();
                let props = vec![
                    prop("AccountEnabled", Some("[]".into()), Some("[true]".into())),
                    prop("AppPrincipalId", Some("[]".into()), Some(jarr(&app_id))),
                    prop(
                        "DisplayName",
                        Some("[]".into()),
                        Some(jarr(app.display_name)),
                    ),
                    prop(
                        "ServicePrincipalName",
                        Some("[]".into()),
                        Some(jarr(&app_id)),
                    ),
                    included(&[
                        "AccountEnabled",
                        "AppPrincipalId",
                        "DisplayName",
                        "ServicePrincipalName",
                    ]),
                ];
                self.targets.push(Self::target(
                    &app.service_principal_id,
                    Some(app.display_name),
                    "ServicePrincipal",
                    props,
                ));
                self.details.push(kv("AppId", &app_id));
            }
            Kind::AppSecrets | Kind::AddApplication | Kind::UpdateApplication => {
                let app = self.own_app();
                let object_id = self.rng.guid();
                let props = match kind {
                    Kind::AppSecrets => {
                        let key = format!(
                            "[KeyIdentifier={}, KeyType=Password, KeyUsage=Verify, DisplayName={}]",
                            self.rng.guid(),
                            ["collector secret", "CI deploy", "rotation-2026"]
                                [self.rng.below(3) as usize]
                        );
                        vec![
                            prop("KeyDescription", Some("[]".into()), Some(jarr(&key))),
                            included(&["KeyDescription"]),
                        ]
                    }
                    Kind::AddApplication => vec![
                        prop(
                            "AppId",
                            Some("[]".into()),
                            Some(jarr(app.app_id.as_deref().unwrap_or(""))),
                        ),
                        prop(
                            "DisplayName",
                            Some("[]".into()),
                            Some(jarr(app.display_name)),
                        ),
                        included(&["AppId", "DisplayName"]),
                    ],
                    _ => vec![
                        prop(
                            "AppAddress",
                            Some("[]".into()),
                            Some(jarr(&format!(
                                "[AddressType=0, Address=https://{}.contoso.com/signin-oidc, ReplyAddressClientType=1, ReplyAddressIndex=, IsReplyAddressDefault=False]",
                                app.display_name.replace(' ', "-").to_lowercase()
                            ))),
                        ),
                        included(&["AppAddress"]),
                    ],
                };
                self.targets.push(Self::target(
                    &object_id,
                    Some(app.display_name),
                    "Application",
                    props,
                ));
                self.details
                    .push(kv("AppId", app.app_id.as_deref().unwrap_or("")));
            }
            Kind::AppRoleAssignment | Kind::DelegatedGrant => {
                let app = self.own_app();
                let graph_sp = self.app_named("Microsoft Graph");
                let props = if kind == Kind::AppRoleAssignment {
                    let (role_id, value, name) = self
                        .rng
                        .pick(GRAPH_APP_ROLES)
                        .copied()
                        .unwrap_or(GRAPH_APP_ROLES[0]);
                    vec![
                        prop("AppRole.Id", None, Some(jstr(role_id))),
                        prop("AppRole.Value", None, Some(jstr(value))),
                        prop("AppRole.DisplayName", None, Some(jstr(name))),
                        prop(
                            "AppRoleAssignment.CreatedDateTime",
                            None,
                            Some(jstr(&graph_datetime(self.time_ns - 64_000_000))),
                        ),
                        prop(
                            "ServicePrincipal.DisplayName",
                            None,
                            Some(jstr(app.display_name)),
                        ),
                        prop(
                            "ServicePrincipal.AppId",
                            None,
                            Some(jstr(app.app_id.as_deref().unwrap_or(""))),
                        ),
                    ]
                } else {
                    vec![
                        prop(
                            "DelegatedPermissionGrant.Scope",
                            None,
                            Some(jstr(" User.Read Mail.Read")),
                        ),
                        prop(
                            "DelegatedPermissionGrant.ConsentType",
                            None,
                            Some(jstr("AllPrincipals")),
                        ),
                        prop(
                            "ServicePrincipal.ObjectID",
                            None,
                            Some(jstr(&app.service_principal_id)),
                        ),
                    ]
                };
                self.targets.push(Self::target(
                    &graph_sp.service_principal_id,
                    Some("Microsoft Graph"),
                    "ServicePrincipal",
                    props,
                ));
                if kind == Kind::DelegatedGrant {
                    self.details.push(kv("AppId", MICROSOFT_GRAPH_APP_ID));
                }
            }
            Kind::AddCaPolicy | Kind::UpdateCaPolicy | Kind::DeleteCaPolicy => {
                let policies = &self.tenant.policies;
                let p = &policies
                    [self.rng.below(policies.len() as u64) as usize % policies.len().max(1)];
                // The baseline enables report-only policies or edits enabled ones; only a
                // planted attack disables (or deletes) one.
                let state_old = if self.rng.chance(0.5) || self.plan.is_some() {
                    "enabled"
                } else {
                    "enabledForReportingButNotEnforced"
                };
                let state_new = if self.plan.is_some() {
                    "disabled"
                } else {
                    "enabled"
                };
                let policy_json = |state: &str| {
                    serde_json::json!({
                        "id": p.id,
                        "displayName": p.display_name,
                        "createdDateTime": "2025-11-04T09:12:44.1234567+00:00",
                        "state": state,
                        "conditions": {
                            "applications": {"includeApplications": ["All"]},
                            "users": {"includeUsers": ["All"], "excludeGroups": []},
                            "clientAppTypes": ["all"]
                        },
                        "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}
                    })
                    .to_string()
                };
                let (old, new) = match kind {
                    Kind::AddCaPolicy => (None, Some(policy_json(state_old))),
                    Kind::DeleteCaPolicy => (Some(policy_json(state_old)), None),
                    _ => (Some(policy_json(state_old)), Some(policy_json(state_new))),
                };
                let props = vec![prop("Conditional Access policy", old, new)];
                self.targets
                    .push(Self::target(&p.id, Some(p.display_name), "Policy", props));
            }
            Kind::UpdatePolicy => {
                let id = self.rng.guid();
                let props = vec![
                    prop(
                        "PolicyDetail",
                        Some(jarr("{\"Version\":1,\"AllowInvitesFrom\":\"everyone\"}")),
                        Some(jarr(
                            "{\"Version\":1,\"AllowInvitesFrom\":\"adminsAndGuestInviters\"}",
                        )),
                    ),
                    included(&["PolicyDetail"]),
                ];
                self.targets
                    .push(Self::target(&id, Some("Default Policy"), "Policy", props));
            }
            Kind::UpdateDevice => {
                let d = self.device();
                let (name, old, new) = if self.rng.chance(0.7) {
                    ("IsCompliant", "[false]", "[true]")
                } else {
                    ("IsManaged", "[false]", "[true]")
                };
                let props = vec![
                    prop(name, Some(old.into()), Some(new.into())),
                    prop("Included Updated Properties", None, Some(jstr(name))),
                    prop("TargetId.DeviceId", None, Some(jstr(&d.device_id))),
                    prop("TargetId.DeviceOSType", None, Some(jstr(d.os_type))),
                    prop("TargetId.DeviceTrustType", None, Some(jstr(d.trust_type))),
                ];
                self.targets
                    .push(Self::target(&d.id, Some(&d.display_name), "Device", props));
                self.device_details(d);
            }
            Kind::RegisterDevice | Kind::DeleteDevice => {
                let d = self.device();
                let props = if kind == Kind::RegisterDevice {
                    vec![
                        prop(
                            "CloudAccountEnabled",
                            Some("[]".into()),
                            Some("[true]".into()),
                        ),
                        prop(
                            "CloudDeviceOSType",
                            Some("[]".into()),
                            Some(jarr(d.os_type)),
                        ),
                        prop(
                            "CloudDisplayName",
                            Some("[]".into()),
                            Some(jarr(&d.display_name)),
                        ),
                        included(&[
                            "CloudAccountEnabled",
                            "CloudDeviceOSType",
                            "CloudDisplayName",
                        ]),
                    ]
                } else {
                    Vec::new()
                };
                self.targets
                    .push(Self::target(&d.id, Some(&d.display_name), "Device", props));
                self.device_details(d);
            }
            Kind::AddDeviceOwner => {
                let d = self.device();
                let props = vec![
                    prop("Device.ObjectID", None, Some(jstr(&d.id))),
                    prop("Device.DisplayName", None, Some(jstr(&d.display_name))),
                ];
                self.targets
                    .push(Self::target(&d.id, Some(&d.display_name), "Device", props));
                let t = self.user_target(subject, Vec::new());
                self.targets.push(t);
            }
            Kind::CompanyInfo => {
                let props = vec![
                    prop(
                        "TechnicalNotificationMails",
                        Some(jarr(&format!("it@{TENANT_DOMAIN}"))),
                        Some(jarr(&format!("secops@{TENANT_DOMAIN}"))),
                    ),
                    included(&["TechnicalNotificationMails"]),
                ];
                let id = self.tenant.tenant_id.clone();
                self.targets
                    .push(Self::target(&id, Some(TENANT_NAME), "Directory", props));
            }
            Kind::AddDomain | Kind::VerifyDomain => {
                let domain = ["contoso.com", "contoso.co.uk", "mail.contoso.com"]
                    [self.rng.below(3) as usize];
                let props = if kind == Kind::VerifyDomain {
                    vec![prop(
                        "Verified",
                        Some("[false]".into()),
                        Some("[true]".into()),
                    )]
                } else {
                    Vec::new()
                };
                let mut t = Self::target(&self.tenant.tenant_id, Some(domain), "Directory", props);
                t.id = None;
                self.targets.push(t);
            }
            Kind::SpCredentials => {
                let app = self.own_app();
                let key = format!(
                    "[KeyIdentifier={}, KeyType=Password, KeyUsage=Verify, DisplayName=]",
                    self.rng.guid()
                );
                let props = vec![
                    prop("KeyDescription", Some("[]".into()), Some(jarr(&key))),
                    included(&["KeyDescription"]),
                ];
                self.targets.push(Self::target(
                    &app.service_principal_id,
                    Some(app.display_name),
                    "ServicePrincipal",
                    props,
                ));
                self.details
                    .push(kv("AppId", app.app_id.as_deref().unwrap_or("")));
            }
            Kind::DeleteSecurityInfo => {
                let t = self.user_target(subject, Vec::new());
                self.targets.push(t);
                let method = ["Microsoft Authenticator App", "Phone", "FIDO2 security key"]
                    [self.rng.below(3) as usize];
                self.details.push(kv("Method", method));
            }
            Kind::SetDomainAuthentication => {
                let domain = ["contoso.com", "contoso.co.uk"][self.rng.below(2) as usize];
                let props = vec![
                    prop("LiveType", Some(jarr("Managed")), Some(jarr("Federated"))),
                    included(&["LiveType"]),
                ];
                let mut t = Self::target(&self.tenant.tenant_id, Some(domain), "Directory", props);
                t.id = None;
                self.targets.push(t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stub(seed: u64) -> EventStub {
        EventStub {
            time_ns: 1_780_000_000_000_000_000,
            visible_ns: 1_780_000_000_000_000_000,
            seed,
            stream: 0,
            id: head(&mut Rng::new(seed), None).id.into_boxed_str(),
            plant: None,
        }
    }

    #[test]
    fn record_ids_match_rendered_ids_and_shape_holds() {
        let tenant = Tenant::generate(1, "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35");
        let src = EntraDirectoryAudits;
        let mut users = 0;
        let mut failures = 0;
        let n = 4000;
        for seed in 0..n {
            let ev = stub(seed);
            let raw = src
                .render(&tenant, &ev)
                .map(|r| r.get().to_string())
                .unwrap_or_default();
            let v: serde_json::Value = serde_json::from_str(&raw).unwrap_or_default();
            assert_eq!(v["id"].as_str(), Some(&*ev.id));
            assert_eq!(src.record_id(&tenant, seed), &*ev.id);
            let by = &v["initiatedBy"];
            assert!(by["user"].is_null() != by["app"].is_null(), "{raw}");
            if !by["user"].is_null() {
                users += 1;
                assert!(
                    by["user"]["ipAddress"]
                        .as_str()
                        .is_some_and(|s| !s.is_empty())
                );
            }
            if v["result"] == "failure" {
                failures += 1;
                assert!(v["resultReason"].as_str().is_some_and(|s| !s.is_empty()));
            }
            let targets = v["targetResources"].as_array().map_or(0, Vec::len);
            assert!((1..=2).contains(&targets), "{raw}");
        }
        let user_share = f64::from(users) / n as f64;
        let failure_share = f64::from(failures) / n as f64;
        assert!(
            (0.72..0.88).contains(&user_share),
            "user share {user_share}"
        );
        assert!(
            (0.03..0.07).contains(&failure_share),
            "failure share {failure_share}"
        );
    }
}
