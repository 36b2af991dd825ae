//! Source `intune-audit`: Microsoft Intune audit events as served by Graph
//! `GET /{v1.0|beta}/deviceManagement/auditEvents` (the same records from both versions).
//!
//! Records follow the v1.0 `auditEvent` entity (every property present, nulls included; the
//! v1.0 `auditActor` and `auditResource` have no `type`). Content is modelled on real records:
//! the components an Intune admin works in (`DeviceConfiguration`, `DeviceCompliance`,
//! `Enrollment`, `MobileApps`, `RoleBasedAccessControl`, `Devices`), `activityType` in Intune's
//! `<Operation> <ResourceType>` form (`Patch DeviceCompliancePolicy`, `Wipe ManagedDevice`) with a
//! human `displayName`, `activityOperationType` `Create`/`Patch`/`Delete`/`Action`,
//! `activityResult` `Success` (about 3% `Failure`), `category` equal to the component. Most
//! events are made by administrators through the "Microsoft Intune portal extension" (actor type
//! `ItPro`, permissions `["*"]` or a scoped list), the rest by the tenant's automation apps (actor
//! type `Application`). Resources carry `modifiedProperties` as plain strings (not JSON text);
//! assignments add a second resource for the assignment itself. As in real data, `activity` is
//! usually null, the actor's `ipAddress` mostly null, and about 10% of records carry Intune's
//! literal `"<null>"` string in some string fields (`actor.servicePrincipalName`,
//! `resources[].auditResourceType` or `displayName`, a property value). Resource ids are stable
//! per name. Everything is derived from the event seed.

use serde::Serialize;
use serde_json::value::RawValue;

use super::{EventStub, GraphResource, SimSource, SourceApi};
use crate::attacks::plans;
use crate::clock::graph_datetime;
use crate::rng::{Rng, hash_str, seed_of};
use crate::tenant::Tenant;

/// The Intune audit source.
#[derive(Debug, Clone, Copy)]
pub struct IntuneAudit;

/// What an activity changes; decides its resources and modified properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Props {
    Configuration,
    SettingsCatalog,
    Compliance,
    App,
    Enrollment,
    Autopilot,
    RoleAssignment,
    RoleDefinition,
    ScopeTag,
    Device,
}

struct Activity {
    component: &'static str,
    activity_type: &'static str,
    display_name: &'static str,
    op: &'static str,
    resource_type: &'static str,
    props: Props,
    assign: bool,
    weight: u32,
}

#[allow(clippy::too_many_arguments)]
const fn act(
    component: &'static str,
    activity_type: &'static str,
    display_name: &'static str,
    op: &'static str,
    resource_type: &'static str,
    props: Props,
    assign: bool,
    weight: u32,
) -> Activity {
    Activity {
        component,
        activity_type,
        display_name,
        op,
        resource_type,
        props,
        assign,
        weight,
    }
}

const CONFIG: &str = "DeviceConfiguration";
const COMPLIANCE: &str = "DeviceCompliance";
const ENROLLMENT: &str = "Enrollment";
const APPS: &str = "MobileApps";
const RBAC: &str = "RoleBasedAccessControl";
const DEVICES: &str = "Devices";

/// The weight of an activity only planted attacks perform (see [`crate::attacks`]): the pack
/// alerts on every wipe and retire, so the benign baseline never draws one.
const PLANTED_ONLY: u32 = 0;

const ACTIVITIES: &[Activity] = &[
    act(
        CONFIG,
        "Create DeviceConfiguration",
        "Create device configuration",
        "Create",
        "DeviceConfiguration",
        Props::Configuration,
        false,
        6,
    ),
    act(
        CONFIG,
        "Patch DeviceConfiguration",
        "Patch device configuration",
        "Patch",
        "DeviceConfiguration",
        Props::Configuration,
        false,
        14,
    ),
    act(
        CONFIG,
        "Delete DeviceConfiguration",
        "Delete device configuration",
        "Delete",
        "DeviceConfiguration",
        Props::Configuration,
        false,
        2,
    ),
    act(
        CONFIG,
        "Assign DeviceConfiguration",
        "Assign device configuration",
        "Action",
        "DeviceConfiguration",
        Props::Configuration,
        true,
        6,
    ),
    act(
        CONFIG,
        "Patch DeviceManagementConfigurationPolicy",
        "Patch device configuration 2.0 (beta)",
        "Patch",
        "DeviceManagementConfigurationPolicy",
        Props::SettingsCatalog,
        false,
        10,
    ),
    act(
        CONFIG,
        "Create DeviceManagementConfigurationPolicyAssignment",
        "Create device configuration assignment 2.0 (beta)",
        "Create",
        "DeviceManagementConfigurationPolicy",
        Props::SettingsCatalog,
        true,
        6,
    ),
    act(
        COMPLIANCE,
        "Create DeviceCompliancePolicy",
        "Create compliance policy",
        "Create",
        "DeviceCompliancePolicy",
        Props::Compliance,
        false,
        3,
    ),
    act(
        COMPLIANCE,
        "Patch DeviceCompliancePolicy",
        "Patch compliance policy",
        "Patch",
        "DeviceCompliancePolicy",
        Props::Compliance,
        false,
        8,
    ),
    act(
        COMPLIANCE,
        "Assign DeviceCompliancePolicy",
        "Assign compliance policy",
        "Action",
        "DeviceCompliancePolicy",
        Props::Compliance,
        true,
        4,
    ),
    act(
        COMPLIANCE,
        "Delete DeviceCompliancePolicy",
        "Delete compliance policy",
        "Delete",
        "DeviceCompliancePolicy",
        Props::Compliance,
        false,
        1,
    ),
    act(
        ENROLLMENT,
        "Patch DeviceEnrollmentConfiguration",
        "Patch device enrollment configuration",
        "Patch",
        "DeviceEnrollmentPlatformRestrictionsConfiguration",
        Props::Enrollment,
        false,
        4,
    ),
    act(
        ENROLLMENT,
        "Create DeviceEnrollmentConfiguration",
        "Create device enrollment configuration",
        "Create",
        "Windows10EnrollmentCompletionPageConfiguration",
        Props::Enrollment,
        false,
        2,
    ),
    act(
        ENROLLMENT,
        "Create ImportedWindowsAutopilotDeviceIdentity",
        "Import Windows Autopilot device",
        "Create",
        "ImportedWindowsAutopilotDeviceIdentity",
        Props::Autopilot,
        false,
        8,
    ),
    act(
        APPS,
        "Create MobileApp",
        "Create mobile app",
        "Create",
        "MobileApp",
        Props::App,
        false,
        5,
    ),
    act(
        APPS,
        "Patch MobileApp",
        "Patch mobile app",
        "Patch",
        "MobileApp",
        Props::App,
        false,
        10,
    ),
    act(
        APPS,
        "Assign MobileApp",
        "Assign mobile app",
        "Action",
        "MobileApp",
        Props::App,
        true,
        8,
    ),
    act(
        APPS,
        "Delete MobileApp",
        "Delete mobile app",
        "Delete",
        "MobileApp",
        Props::App,
        false,
        2,
    ),
    act(
        RBAC,
        "Create DeviceAndAppManagementRoleAssignment",
        "Create role assignment",
        "Create",
        "DeviceAndAppManagementRoleAssignment",
        Props::RoleAssignment,
        false,
        2,
    ),
    act(
        RBAC,
        "Delete DeviceAndAppManagementRoleAssignment",
        "Delete role assignment",
        "Delete",
        "DeviceAndAppManagementRoleAssignment",
        Props::RoleAssignment,
        false,
        1,
    ),
    act(
        RBAC,
        "Patch RoleDefinition",
        "Patch role definition",
        "Patch",
        "RoleDefinition",
        Props::RoleDefinition,
        false,
        2,
    ),
    act(
        RBAC,
        "Create RoleScopeTag",
        "Create scope tag",
        "Create",
        "RoleScopeTag",
        Props::ScopeTag,
        false,
        1,
    ),
    act(
        DEVICES,
        "Wipe ManagedDevice",
        "Wipe managed device",
        "Action",
        "ManagedDevice",
        Props::Device,
        false,
        PLANTED_ONLY,
    ),
    act(
        DEVICES,
        "Retire ManagedDevice",
        "Retire managed device",
        "Action",
        "ManagedDevice",
        Props::Device,
        false,
        PLANTED_ONLY,
    ),
    act(
        DEVICES,
        "SyncDevice ManagedDevice",
        "Sync managed device",
        "Action",
        "ManagedDevice",
        Props::Device,
        false,
        12,
    ),
    act(
        DEVICES,
        "RebootNow ManagedDevice",
        "Reboot managed device",
        "Action",
        "ManagedDevice",
        Props::Device,
        false,
        3,
    ),
    act(
        DEVICES,
        "Delete ManagedDevice",
        "Delete managed device",
        "Delete",
        "ManagedDevice",
        Props::Device,
        false,
        3,
    ),
];

const CONFIG_NAMES: &[&str] = &[
    "Windows 11 - Security Baseline",
    "MacOS Updates",
    "iOS Device Restrictions",
    "BitLocker Encryption",
    "Defender Antivirus - Corporate",
    "Wi-Fi - Contoso Corp",
    "VPN - Always On",
    "Windows Update Ring - Pilot",
    "Edge Browser Settings",
];
const COMPLIANCE_NAMES: &[&str] = &[
    "Windows 10/11 Compliance",
    "iOS Compliance",
    "Android Enterprise Compliance",
    "macOS Compliance",
];
const APP_NAMES: &[(&str, &str)] = &[
    ("Microsoft 365 Apps for enterprise", "Microsoft"),
    ("Company Portal", "Microsoft Corporation"),
    ("7-Zip 24.08", "Igor Pavlov"),
    ("Google Chrome", "Google LLC"),
    ("Zoom Workplace", "Zoom Video Communications, Inc."),
    ("Adobe Acrobat Reader DC", "Adobe Inc."),
    ("Slack", "Slack Technologies"),
    ("Microsoft Authenticator", "Microsoft Corporation"),
];
const ENROLLMENT_NAMES: &[&str] = &[
    "All users and all devices",
    "Enrollment Status Page - Corporate",
    "Block personal Android devices",
    "Windows Hello for Business",
];
const INTUNE_ROLES: &[&str] = &[
    "Help Desk Operator",
    "Endpoint Security Manager",
    "Policy and Profile manager",
    "Application Manager",
    "Read Only Operator",
];
const SCOPE_TAGS: &[&str] = &["EMEA", "US-Field", "Kiosk", "Executives"];

/// Settings an admin flips on a configuration profile: (property, old, new).
const CONFIG_CHANGES: &[(&str, &str, &str)] = &[
    ("PasswordRequired", "False", "True"),
    ("PasswordMinimumLength", "8", "12"),
    ("DefenderScanType", "userDefined", "full"),
    ("FirewallEnabled", "notConfigured", "allowed"),
    ("StorageRequireEncryption", "False", "True"),
    ("BluetoothBlocked", "False", "True"),
];
const COMPLIANCE_CHANGES: &[(&str, &str, &str)] = &[
    ("OsMinimumVersion", "10.0.22621", "10.0.22631"),
    ("PasswordRequired", "False", "True"),
    ("SecureBootEnabled", "False", "True"),
    (
        "ScheduledActionsForRule[0].ScheduledActionConfigurations[0].GracePeriodHours",
        "0",
        "24",
    ),
];
const SCOPED_PERMISSIONS: &[&str] = &[
    "Microsoft.Intune_DeviceConfigurations_Read",
    "Microsoft.Intune_DeviceConfigurations_Update",
    "Microsoft.Intune_DeviceConfigurations_Assign",
    "Microsoft.Intune_ManagedDevices_Read",
    "Microsoft.Intune_RemoteTasks_Wipe",
    "Microsoft.Intune_MobileApps_Assign",
];

/// The Intune admin portal's client.
const PORTAL: (&str, &str) = (
    "5926fc8e-304e-4f59-8bed-58ca97cc39a4",
    "Microsoft Intune portal extension",
);
/// Microsoft Graph PowerShell.
const GRAPH_POWERSHELL: (&str, &str) = (
    "14d82eec-204b-4c2f-b7e8-296a70dab67e",
    "Microsoft Graph Command Line Tools",
);

/// Intune's literal placeholder for a missing value.
const NULL_TEXT: &str = "<null>";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditEvent<'a> {
    id: &'a str,
    display_name: &'static str,
    component_name: &'static str,
    actor: Actor,
    activity: Option<&'static str>,
    activity_date_time: String,
    activity_type: &'static str,
    activity_operation_type: &'static str,
    activity_result: &'static str,
    correlation_id: String,
    resources: Vec<Resource>,
    category: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Actor {
    audit_actor_type: &'static str,
    user_permissions: Vec<&'static str>,
    application_id: Option<String>,
    application_display_name: Option<String>,
    user_principal_name: Option<String>,
    service_principal_name: Option<String>,
    ip_address: Option<String>,
    user_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Resource {
    display_name: Option<String>,
    modified_properties: Vec<Prop>,
    audit_resource_type: String,
    resource_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Prop {
    display_name: String,
    old_value: Option<String>,
    new_value: Option<String>,
}

fn prop(name: &str, old: Option<&str>, new: Option<&str>) -> Prop {
    Prop {
        display_name: name.to_string(),
        old_value: old.map(str::to_string),
        new_value: new.map(str::to_string),
    }
}

/// A stable id for a named Intune object of the tenant.
fn object_id(tenant: &Tenant, kind: &str, name: &str) -> String {
    Rng::new(seed_of(&[
        hash_str(&tenant.tenant_id),
        hash_str(kind),
        hash_str(name),
    ]))
    .guid()
}

/// The record id: the first draw of the event's generator.
fn head(rng: &mut Rng) -> String {
    rng.guid()
}

fn pick<'a>(rng: &mut Rng, items: &'a [&'a str]) -> &'a str {
    rng.pick(items).copied().unwrap_or("")
}

fn render_event(tenant: &Tenant, event: &EventStub) -> Result<Box<RawValue>, serde_json::Error> {
    let mut rng = Rng::new(event.seed);
    let id = head(&mut rng);
    let correlation_id = rng.guid();
    let plan = event.plant.map(|p| plans::intune(tenant, &p));
    let weights: Vec<u32> = ACTIVITIES.iter().map(|a| a.weight).collect();
    let drawn = rng.weighted(&weights).unwrap_or(0);
    let a = match &plan {
        Some(p) => ACTIVITIES
            .iter()
            .find(|a| a.activity_type == p.activity_type)
            .unwrap_or(&ACTIVITIES[0]),
        None => &ACTIVITIES[drawn.min(ACTIVITIES.len() - 1)],
    };
    let odd = rng.chance(0.1);
    // The actor.
    // The tenant's automation apps (not the read-only audit collector).
    let own_apps: Vec<_> = tenant
        .apps
        .iter()
        .filter(|x| !x.first_party && x.display_name != "auditlake-collector")
        .collect();
    let admins: Vec<_> = tenant.users.iter().filter(|u| u.is_admin).collect();
    let by_app = rng.chance(0.15) && plan.is_none();
    let actor = if by_app && !own_apps.is_empty() {
        let app = own_apps[rng.below(own_apps.len() as u64) as usize];
        Actor {
            audit_actor_type: "Application",
            user_permissions: Vec::new(),
            application_id: app.app_id.clone(),
            application_display_name: Some(app.display_name.to_string()),
            user_principal_name: None,
            service_principal_name: Some(if odd {
                NULL_TEXT.to_string()
            } else {
                app.display_name.to_string()
            }),
            ip_address: None,
            user_id: None,
        }
    } else {
        let pool = if admins.is_empty() {
            tenant.users.iter().collect()
        } else {
            admins
        };
        let drawn = pool.get(rng.below(pool.len() as u64) as usize).copied();
        let user = match &plan {
            Some(p) => tenant.users.get(p.actor).or(drawn),
            None => drawn,
        };
        let (client_id, client_name) = if rng.chance(0.8) {
            PORTAL
        } else {
            GRAPH_POWERSHELL
        };
        let permissions = if rng.chance(0.75) {
            vec!["*"]
        } else {
            let n = rng.range(2, 4) as usize;
            let start = rng.below(SCOPED_PERMISSIONS.len() as u64) as usize;
            (0..n)
                .map(|k| SCOPED_PERMISSIONS[(start + k) % SCOPED_PERMISSIONS.len()])
                .collect()
        };
        let ip = rng
            .chance(0.1)
            .then(|| user.map(|u| u.home_ip.clone()))
            .flatten();
        Actor {
            audit_actor_type: "ItPro",
            user_permissions: permissions,
            application_id: Some(client_id.to_string()),
            application_display_name: Some(client_name.to_string()),
            user_principal_name: user.map(|u| u.upn.clone()),
            service_principal_name: odd.then(|| NULL_TEXT.to_string()),
            ip_address: ip,
            user_id: user.map(|u| u.id.clone()),
        }
    };
    // The resource and what changed.
    let (name, kind_names): (String, &str) = match a.props {
        Props::Configuration | Props::SettingsCatalog => {
            (pick(&mut rng, CONFIG_NAMES).into(), "config")
        }
        Props::Compliance => (pick(&mut rng, COMPLIANCE_NAMES).into(), "compliance"),
        Props::App => {
            let (n, _) = rng.pick(APP_NAMES).copied().unwrap_or(APP_NAMES[0]);
            (n.into(), "app")
        }
        Props::Enrollment => (pick(&mut rng, ENROLLMENT_NAMES).into(), "enrollment"),
        Props::Autopilot => (
            rng.string_from(b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ", 12),
            "autopilot",
        ),
        Props::RoleAssignment | Props::RoleDefinition => {
            (pick(&mut rng, INTUNE_ROLES).into(), "role")
        }
        Props::ScopeTag => (pick(&mut rng, SCOPE_TAGS).into(), "scope-tag"),
        Props::Device => {
            let d = tenant
                .devices
                .get(rng.below(tenant.devices.len().max(1) as u64) as usize);
            (
                d.map_or_else(|| "DESKTOP-UNKNOWN".to_string(), |d| d.display_name.clone()),
                "device",
            )
        }
    };
    let resource_id = object_id(tenant, kind_names, &name);
    let mut props = Vec::new();
    if a.op != "Delete" && !a.assign {
        match (a.props, a.op) {
            (
                Props::Configuration
                | Props::SettingsCatalog
                | Props::Compliance
                | Props::App
                | Props::Enrollment,
                "Create",
            ) => {
                props.push(prop("DisplayName", None, Some(&name)));
                props.push(prop("Description", None, Some("")));
                props.push(prop("RoleScopeTagIds", None, Some("0")));
                props.push(prop("Id", None, Some(&resource_id)));
                if a.props == Props::App {
                    let publisher = APP_NAMES
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map_or("", |(_, p)| *p);
                    props.push(prop("Publisher", None, Some(publisher)));
                }
            }
            (Props::Configuration | Props::Compliance, _) => {
                let table = if a.props == Props::Compliance {
                    COMPLIANCE_CHANGES
                } else {
                    CONFIG_CHANGES
                };
                let (p, old, new) = rng.pick(table).copied().unwrap_or(table[0]);
                props.push(prop(p, Some(old), Some(new)));
                let v = rng.range(1, 12);
                props.push(prop(
                    "Version",
                    Some(&v.to_string()),
                    Some(&(v + 1).to_string()),
                ));
            }
            (Props::SettingsCatalog, _) => {
                let setting = [
                    "device_vendor_msft_policy_config_defender_allowrealtimemonitoring",
                    "device_vendor_msft_bitlocker_requiredeviceencryption",
                    "com.apple.softwareupdate_automaticallyinstallosupdates",
                ][rng.below(3) as usize];
                props.push(prop(
                    "Settings[0].SettingInstance.SettingDefinitionId",
                    Some(setting),
                    Some(setting),
                ));
                props.push(prop(
                    "Settings[0].SettingInstance.ChoiceSettingValue.Value",
                    Some(&format!("{setting}_0")),
                    Some(&format!("{setting}_1")),
                ));
            }
            (Props::App, _) => {
                props.push(prop("IsFeatured", Some("False"), Some("True")));
            }
            (Props::Enrollment, _) => {
                let p = rng.range(1, 4);
                props.push(prop(
                    "Priority",
                    Some(&p.to_string()),
                    Some(&(p + 1).to_string()),
                ));
                props.push(prop(
                    "PlatformRestriction.PersonalDeviceEnrollmentBlocked",
                    Some("False"),
                    Some("True"),
                ));
            }
            (Props::Autopilot, _) => {
                props.push(prop("SerialNumber", None, Some(&name)));
                props.push(prop(
                    "GroupTag",
                    None,
                    Some(["Corporate", "Kiosk", "Shared"][rng.below(3) as usize]),
                ));
                props.push(prop("State.DeviceImportStatus", None, Some("complete")));
            }
            (Props::RoleAssignment, _) => {
                let g = tenant
                    .groups
                    .get(rng.below(tenant.groups.len().max(1) as u64) as usize);
                let gid = g.map_or(String::new(), |g| g.id.clone());
                props.push(prop("DisplayName", None, Some(&name)));
                props.push(prop("Members", None, Some(&format!("[\"{gid}\"]"))));
                props.push(prop("ScopeType", None, Some("allDevicesAndLicensedUsers")));
            }
            (Props::RoleDefinition, _) => {
                props.push(prop(
                    "RolePermissions[0].ResourceActions[0].AllowedResourceActions",
                    Some("[\"Microsoft.Intune_ManagedDevices_Read\"]"),
                    Some("[\"Microsoft.Intune_ManagedDevices_Read\",\"Microsoft.Intune_RemoteTasks_RebootNow\"]"),
                ));
            }
            (Props::ScopeTag, _) => {
                props.push(prop("DisplayName", None, Some(&name)));
                props.push(prop("Description", None, Some("")));
            }
            (Props::Device, _) => {
                if a.activity_type.starts_with("Wipe") {
                    props.push(prop("KeepEnrollmentData", None, Some("False")));
                    props.push(prop("KeepUserData", None, Some("False")));
                }
            }
        }
    }
    let mut resources = vec![Resource {
        display_name: Some(name.clone()),
        modified_properties: props,
        audit_resource_type: a.resource_type.to_string(),
        resource_id: resource_id.clone(),
    }];
    if a.assign {
        let g = tenant
            .groups
            .get(rng.below(tenant.groups.len().max(1) as u64) as usize);
        let gid = g.map_or(String::new(), |g| g.id.clone());
        let all_devices = rng.chance(0.3);
        let mut aprops = vec![prop(
            "Target.Type",
            None,
            Some(if all_devices {
                "AllDevicesAssignmentTarget"
            } else {
                "GroupAssignmentTarget"
            }),
        )];
        if !all_devices {
            aprops.push(prop("Target.GroupId", None, Some(&gid)));
        }
        aprops.push(prop(
            "Target.DeviceAndAppManagementAssignmentFilterType",
            None,
            Some("None"),
        ));
        if a.props == Props::App {
            aprops.push(prop(
                "Intent",
                None,
                Some(if rng.chance(0.6) {
                    "required"
                } else {
                    "available"
                }),
            ));
        }
        aprops.push(prop("Source", None, Some("Direct")));
        aprops.push(prop("SourceId", None, Some(&resource_id)));
        let assignment_id = if all_devices {
            format!("{resource_id}_adadadad-808e-44e2-905a-0b7873a8a531")
        } else {
            format!("{resource_id}_{gid}")
        };
        resources.push(Resource {
            display_name: odd.then(|| NULL_TEXT.to_string()),
            modified_properties: aprops,
            audit_resource_type: format!("{}Assignment", a.resource_type),
            resource_id: assignment_id,
        });
    }
    if odd {
        // Intune's "<null>" placeholder in a string field or two.
        match rng.below(3) {
            0 => {
                if let Some(r) = resources.last_mut() {
                    r.audit_resource_type = NULL_TEXT.to_string();
                }
            }
            1 => {
                if let Some(p) = resources
                    .iter_mut()
                    .flat_map(|r| r.modified_properties.iter_mut())
                    .next()
                {
                    p.new_value = Some(NULL_TEXT.to_string());
                }
            }
            _ => {}
        }
    }
    let record = AuditEvent {
        id: &id,
        display_name: a.display_name,
        component_name: a.component,
        actor,
        activity: (!rng.chance(0.7)).then_some(a.display_name),
        activity_date_time: graph_datetime(event.time_ns),
        activity_type: a.activity_type,
        activity_operation_type: a.op,
        activity_result: if rng.chance(0.03) && plan.is_none() {
            "Failure"
        } else {
            "Success"
        },
        correlation_id,
        resources,
        category: a.component,
    };
    serde_json::value::to_raw_value(&record)
}

impl SimSource for IntuneAudit {
    fn name(&self) -> &'static str {
        "intune-audit"
    }

    fn api(&self) -> SourceApi {
        SourceApi::Graph(GraphResource::basic(
            "deviceManagement/auditEvents",
            "activityDateTime",
            100,
            1000,
        ))
    }

    fn record_id(&self, _tenant: &Tenant, seed: u64) -> String {
        head(&mut Rng::new(seed))
    }

    fn render(
        &self,
        tenant: &Tenant,
        event: &EventStub,
    ) -> Result<Box<RawValue>, serde_json::Error> {
        render_event(tenant, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn records_look_like_intune_with_its_null_placeholders() {
        let tenant = Tenant::generate(4, "t");
        let n = 2000;
        let (mut odd, mut apps, mut failures) = (0, 0, 0);
        let mut components = std::collections::BTreeSet::new();
        let mut ops = std::collections::BTreeSet::new();
        for seed in 0..n {
            let ev = EventStub {
                time_ns: 1_780_000_000_000_000_000,
                visible_ns: 1_780_000_000_000_000_000,
                seed,
                stream: 0,
                id: IntuneAudit.record_id(&tenant, seed).into_boxed_str(),
                plant: None,
            };
            let raw = IntuneAudit
                .render(&tenant, &ev)
                .map(|r| r.get().to_string())
                .unwrap_or_default();
            let v: Value = serde_json::from_str(&raw).unwrap_or_default();
            assert_eq!(v["id"].as_str(), Some(&*ev.id));
            assert_eq!(v["category"], v["componentName"]);
            assert!(v["resources"].as_array().is_some_and(|r| !r.is_empty()));
            components.insert(v["componentName"].as_str().unwrap_or("").to_string());
            ops.insert(
                v["activityOperationType"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            );
            if raw.contains("\"<null>\"") {
                odd += 1;
            }
            if v["actor"]["auditActorType"] == "Application" {
                apps += 1;
                assert!(v["actor"]["userPrincipalName"].is_null());
            } else {
                assert!(v["actor"]["userPrincipalName"].is_string());
            }
            if v["activityResult"] == "Failure" {
                failures += 1;
            }
        }
        assert!(components.len() >= 6, "{components:?}");
        assert_eq!(ops.len(), 4, "{ops:?}");
        let share = |x: i32| f64::from(x) / n as f64;
        assert!((0.06..0.14).contains(&share(odd)), "{}", share(odd));
        assert!((0.10..0.20).contains(&share(apps)), "{}", share(apps));
        assert!(
            (0.01..0.06).contains(&share(failures)),
            "{}",
            share(failures)
        );
    }
}
