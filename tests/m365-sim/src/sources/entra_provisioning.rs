//! Source `entra-provisioning`: Entra provisioning logs as served by Graph
//! `GET /{v1.0|beta}/auditLogs/provisioning` (the same records from both), windowed on
//! `activityDateTime`.
//!
//! Records follow the v1.0 `provisioningObjectSummary` entity (every property present, nulls
//! included; open `details` objects empty). Each is one object the provisioning service moved
//! from Entra ID to one of the tenant's SaaS apps (ServiceNow, Salesforce, Slack, Zoom) in a
//! scheduled cycle of that app's job (`initiatedBy` the `system`, "Azure AD Provisioning
//! Service"), a few on-demand by an administrator (`user`). Actions are mostly `update`, then
//! `create`, `disable`, `delete`; statuses mostly `success`, about 8% `skipped` (out of scope),
//! 5% `failure` with a SCIM error and 2% `warning`. Steps follow the service's own sequence
//! (import, scoping, matching, processing, export), cut at the step that failed or skipped.
//! Everything is derived from the event seed.
//!
//! The collection needs an Entra ID P1/P2 licence ([`crate::SimConfig::premium`]).

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{EventStub, GraphResource, Precondition, SimSource, SourceApi};
use crate::clock::graph_datetime;
use crate::rng::{Rng, hash_str, seed_of};
use crate::tenant::Tenant;

/// The provisioning logs source.
#[derive(Debug, Clone, Copy)]
pub struct EntraProvisioning;

/// The tenant's provisioned apps: (display name, job template, target identity type).
const APPS: &[(&str, &str, &str)] = &[
    ("ServiceNow", "ServiceNowOutDelta", "sys_user"),
    ("Salesforce", "salesforceOutDelta", "User"),
    (
        "Slack",
        "slackOutDelta",
        "urn:ietf:params:scim:schemas:core:2.0:User",
    ),
    (
        "Zoom",
        "zoomOutDelta",
        "urn:ietf:params:scim:schemas:core:2.0:User",
    ),
];
/// (provisioningAction, weight).
const ACTIONS: &[(&str, u32)] = &[
    ("update", 60),
    ("create", 20),
    ("disable", 10),
    ("delete", 6),
    ("other", 4),
];
/// Failures: (errorCode, errorCategory, reason, recommended action).
const ERRORS: &[(&str, &str, &str, &str)] = &[
    (
        "SystemForCrossDomainIdentityManagementServiceIncompatible",
        "nonServiceFailure",
        "The SCIM endpoint of the target application rejected the request with HTTP 400.",
        "Check the attribute mappings of the application's provisioning configuration.",
    ),
    (
        "DuplicateTargetEntries",
        "nonServiceFailure",
        "More than one object in the target application matched the matching attribute.",
        "Make the matching attribute unique in the target application.",
    ),
    (
        "HybridSynchronizationActiveDirectoryInvalidCredentials",
        "failure",
        "The credentials for the target application are invalid or expired.",
        "Update the admin credentials under Provisioning and test the connection.",
    ),
];
const STEPS: &[(&str, &str)] = &[
    ("import", "EntryImport"),
    ("scoping", "EntryEligibility"),
    ("matching", "EntryMatching"),
    ("processing", "EntryProcessing"),
    ("export", "EntryExport"),
];
const DEPARTMENTS: &[&str] = &["Sales", "Finance", "Engineering", "Marketing", "Support"];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary<'a> {
    id: &'a str,
    activity_date_time: String,
    change_id: String,
    cycle_id: String,
    duration_in_milliseconds: u64,
    initiated_by: Initiator,
    job_id: String,
    modified_properties: Vec<Prop>,
    provisioning_action: &'static str,
    provisioning_status_info: StatusInfo,
    provisioning_steps: Vec<Step>,
    service_principal: Named,
    source_identity: Identity,
    source_system: System,
    target_identity: Identity,
    target_system: System,
    tenant_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Initiator {
    id: String,
    display_name: String,
    initiator_type: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Named {
    id: String,
    display_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct System {
    id: String,
    display_name: String,
    details: Map<String, Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Identity {
    id: String,
    display_name: String,
    identity_type: &'static str,
    details: Map<String, Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Prop {
    display_name: &'static str,
    old_value: Option<String>,
    new_value: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusInfo {
    status: &'static str,
    error_information: Option<ErrorInfo>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorInfo {
    error_code: &'static str,
    error_category: &'static str,
    reason: &'static str,
    additional_details: Option<String>,
    recommended_action: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Step {
    description: String,
    details: Map<String, Value>,
    name: &'static str,
    provisioning_step_type: &'static str,
    status: &'static str,
}

/// A stable id of the tenant for `what` (an app's service principal, a job).
fn stable(tenant: &Tenant, what: &str) -> Rng {
    Rng::new(seed_of(&[hash_str(&tenant.tenant_id), hash_str(what)]))
}

fn head(rng: &mut Rng) -> String {
    rng.guid()
}

fn render_event(tenant: &Tenant, event: &EventStub) -> Result<Box<RawValue>, serde_json::Error> {
    let mut rng = Rng::new(event.seed);
    let id = head(&mut rng);
    let &(app, template, target_type) = rng.pick(APPS).unwrap_or(&APPS[0]);
    let user = tenant
        .users
        .get(rng.below(tenant.users.len().max(1) as u64) as usize);
    let weights: Vec<u32> = ACTIONS.iter().map(|a| a.1).collect();
    let action = ACTIONS[rng.weighted(&weights).unwrap_or(0)].0;
    let roll = rng.unit();
    let status = if roll < 0.05 {
        "failure"
    } else if roll < 0.13 {
        "skipped"
    } else if roll < 0.15 {
        "warning"
    } else {
        "success"
    };
    let error = (status == "failure").then(|| {
        let &(error_code, error_category, reason, recommended_action) =
            rng.pick(ERRORS).unwrap_or(&ERRORS[0]);
        ErrorInfo {
            error_code,
            error_category,
            reason,
            additional_details: None,
            recommended_action,
        }
    });
    // Steps run in order up to the one that skipped (scoping) or failed (export).
    let last = match status {
        "skipped" => 1,
        _ => STEPS.len() - 1,
    };
    let upn = user.map_or_else(String::new, |u| u.upn.clone());
    let steps = STEPS[..=last]
        .iter()
        .enumerate()
        .map(|(i, &(kind, name))| Step {
            description: format!("{name} for {upn}"),
            details: Map::new(),
            name,
            provisioning_step_type: kind,
            status: if i < last {
                "success"
            } else {
                match status {
                    "warning" => "warning",
                    other => other,
                }
            },
        })
        .collect();
    let on_demand = rng.chance(0.03);
    let admin = tenant.users.iter().find(|u| u.is_admin);
    let initiated_by = match (on_demand, admin) {
        (true, Some(a)) => Initiator {
            id: a.id.clone(),
            display_name: a.display_name.clone(),
            initiator_type: "user",
        },
        _ => Initiator {
            id: String::new(),
            display_name: "Azure AD Provisioning Service".into(),
            initiator_type: "system",
        },
    };
    let mut modified = Vec::new();
    if action == "update" || action == "create" {
        let dept = rng.pick(DEPARTMENTS).copied().unwrap_or("Sales");
        modified.push(Prop {
            display_name: "department",
            old_value: (action == "update").then(|| "Sales".to_string()),
            new_value: Some(dept.to_string()),
        });
    }
    if action == "disable" {
        modified.push(Prop {
            display_name: "active",
            old_value: Some("True".into()),
            new_value: Some("False".into()),
        });
    }
    let sp_id = stable(tenant, app).guid();
    let job_hex = stable(tenant, template).string_from(b"0123456789abcdef", 32);
    // One cycle per app and 40 minutes (the service's default interval).
    let cycle = event.time_ns.div_euclid(40 * 60 * 1_000_000_000);
    let cycle_id = Rng::new(seed_of(&[hash_str(app), cycle as u64])).guid();
    let record = Summary {
        id: &id,
        activity_date_time: graph_datetime(event.time_ns),
        change_id: rng.guid(),
        cycle_id,
        duration_in_milliseconds: rng.range(120, 9000),
        initiated_by,
        job_id: format!("{template}.{job_hex}.{}", tenant.tenant_id),
        modified_properties: modified,
        provisioning_action: action,
        provisioning_status_info: StatusInfo {
            status,
            error_information: error,
        },
        provisioning_steps: steps,
        service_principal: Named {
            id: sp_id,
            display_name: app.to_string(),
        },
        source_identity: Identity {
            id: user.map_or_else(String::new, |u| u.id.clone()),
            display_name: user.map_or_else(String::new, |u| u.display_name.clone()),
            identity_type: "User",
            details: Map::new(),
        },
        source_system: System {
            id: stable(tenant, "source-system").guid(),
            display_name: "Azure Active Directory".into(),
            details: Map::new(),
        },
        target_identity: Identity {
            id: if action == "create" && status != "success" {
                String::new()
            } else {
                stable(tenant, &format!("{app}/{upn}")).string_from(b"0123456789abcdef", 32)
            },
            display_name: upn.clone(),
            identity_type: target_type,
            details: Map::new(),
        },
        target_system: System {
            id: stable(tenant, &format!("{app}-system")).guid(),
            display_name: app.to_string(),
            details: Map::new(),
        },
        tenant_id: tenant.tenant_id.clone(),
    };
    serde_json::value::to_raw_value(&record)
}

impl SimSource for EntraProvisioning {
    fn name(&self) -> &'static str {
        "entra-provisioning"
    }

    fn api(&self) -> SourceApi {
        SourceApi::Graph(GraphResource {
            precondition: Precondition::PremiumLicence,
            ..GraphResource::basic("auditLogs/provisioning", "activityDateTime", 100, 1000)
        })
    }

    fn volume(&self) -> f64 {
        0.5
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

    #[test]
    fn summaries_look_like_provisioning_cycles() {
        let tenant = Tenant::generate(4, "t");
        let n = 1000;
        let mut statuses = std::collections::BTreeMap::new();
        for seed in 0..n {
            let ev = EventStub {
                time_ns: 1_780_000_000_000_000_000,
                visible_ns: 1_780_000_000_000_000_000,
                seed,
                stream: 0,
                id: EntraProvisioning.record_id(&tenant, seed).into_boxed_str(),
                plant: None,
            };
            let raw = EntraProvisioning
                .render(&tenant, &ev)
                .map(|r| r.get().to_string())
                .unwrap_or_default();
            let v: Value = serde_json::from_str(&raw).unwrap_or_default();
            assert_eq!(v["id"].as_str(), Some(&*ev.id));
            let status = v["provisioningStatusInfo"]["status"]
                .as_str()
                .unwrap_or("")
                .to_string();
            assert_eq!(
                v["provisioningStatusInfo"]["errorInformation"].is_object(),
                status == "failure"
            );
            let steps = v["provisioningSteps"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert_eq!(
                steps.len(),
                if status == "skipped" { 2 } else { 5 },
                "{raw}"
            );
            assert_eq!(
                steps.last().map(|s| s["status"].clone()),
                Some(Value::from(status.clone()))
            );
            assert_eq!(
                v["targetSystem"]["displayName"],
                v["servicePrincipal"]["displayName"]
            );
            *statuses.entry(status).or_insert(0) += 1;
        }
        assert_eq!(statuses.len(), 4, "{statuses:?}");
        assert!(statuses["success"] > 800, "{statuses:?}");
    }
}
