//! Schema conformance against Microsoft Graph's published v1.0 definitions
//! (`schema/graph-v1.0-audit-schemas.json`): every source's records, v1.0 and beta sign-ins, and
//! the checker itself catching violations.

use std::collections::HashSet;

use chrono::DateTime;
use m365_sim::start;
use serde_json::{Value, json};

use crate::support::*;

struct Schema(Value);

impl Schema {
    /// Properties of an entity or complex type, including those inherited through `base`.
    fn properties(&self, name: &str) -> Option<serde_json::Map<String, Value>> {
        let def = self.0["entities"]
            .get(name)
            .or_else(|| self.0["complex_types"].get(name))?;
        let mut props = match def["base"].as_str() {
            Some(base) => self.properties(base.trim_start_matches("graph."))?,
            None => serde_json::Map::new(),
        };
        for (k, v) in def["properties"].as_object()? {
            props.insert(k.clone(), v.clone());
        }
        Some(props)
    }

    /// Whether `name` is `base` or derives from it.
    fn derives_from(&self, name: &str, base: &str) -> bool {
        name == base
            || self.0["complex_types"][name]["base"]
                .as_str()
                .is_some_and(|b| self.derives_from(b.trim_start_matches("graph."), base))
    }

    fn check_object(&self, type_name: &str, value: &Value, path: &str, errors: &mut Vec<String>) {
        let Some(obj) = value.as_object() else {
            errors.push(format!(
                "{path}: expected object of graph.{type_name}, got {value}"
            ));
            return;
        };
        // A value of a derived type names it (`#microsoft.graph.security.userEvidence`) and is
        // checked as that type, which must derive from the declared one.
        if let Some(named) = obj.get("@odata.type") {
            let derived = named
                .as_str()
                .and_then(|t| t.strip_prefix("#microsoft.graph."))
                .unwrap_or_default();
            if !self.derives_from(derived, type_name) {
                errors.push(format!(
                    "{path}: @odata.type {named} is not graph.{type_name} or derived from it"
                ));
                return;
            }
            let mut rest = obj.clone();
            rest.remove("@odata.type");
            if derived != type_name {
                return self.check_object(derived, &Value::Object(rest), path, errors);
            }
            return self.check_object_fields(type_name, &rest, path, errors);
        }
        self.check_object_fields(type_name, obj, path, errors);
    }

    fn check_object_fields(
        &self,
        type_name: &str,
        obj: &serde_json::Map<String, Value>,
        path: &str,
        errors: &mut Vec<String>,
    ) {
        let Some(props) = self.properties(type_name) else {
            errors.push(format!("{path}: unknown type graph.{type_name}"));
            return;
        };
        for (key, v) in obj {
            match props.get(key) {
                Some(def) => self.check_property(def, v, &format!("{path}.{key}"), errors),
                None => errors.push(format!("{path}.{key}: not a property of graph.{type_name}")),
            }
        }
        for (key, def) in &props {
            match obj.get(key) {
                None => errors.push(format!(
                    "{path}.{key}: missing (Graph sends every property)"
                )),
                Some(Value::Null) if def["nullable"] == false => {
                    errors.push(format!("{path}.{key}: null but not nullable"));
                }
                _ => {}
            }
        }
    }

    fn check_property(&self, def: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
        if v.is_null() {
            return; // nullability is checked by the caller
        }
        let ty = def["type"].as_str().unwrap_or_default();
        if def["collection"] == true {
            match v.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check_scalar(ty, item, &format!("{path}[{i}]"), errors);
                    }
                }
                None => errors.push(format!("{path}: expected a collection of {ty}")),
            }
        } else {
            self.check_scalar(ty, v, path, errors);
        }
    }

    fn check_scalar(&self, ty: &str, v: &Value, path: &str, errors: &mut Vec<String>) {
        let ok = match ty {
            "Edm.String" => v.is_string(),
            "Edm.Guid" => v.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok()),
            "Edm.DateTimeOffset" => v
                .as_str()
                .is_some_and(|s| DateTime::parse_from_rfc3339(s).is_ok()),
            "Edm.Int32" | "Edm.Int64" => v.is_i64(),
            "Edm.Boolean" => v.is_boolean(),
            "Edm.Double" => v.is_number(),
            graph if graph.starts_with("graph.") => {
                let name = graph.trim_start_matches("graph.");
                if let Some(members) = self.0["enums"][name].as_array() {
                    members.iter().any(|m| m == v)
                } else {
                    self.check_object(name, v, path, errors);
                    true
                }
            }
            other => {
                errors.push(format!(
                    "{path}: schema type {other} not handled by the test"
                ));
                true
            }
        };
        if !ok {
            errors.push(format!("{path}: {v} is not a valid {ty}"));
        }
    }
}

#[tokio::test]
async fn directory_audits_conform_to_the_graph_v1_schema() -> TestResult {
    let Some(schema) = load_schema() else {
        return Ok(());
    };
    assert!(
        schema
            .properties("directoryAudit")
            .is_some_and(|p| p.contains_key("id"))
    );
    // Two days: the whole of the first holds every planted scenario, checked with the rest.
    let sim = start(config(|c| {
        c.days = 2;
        c.events_per_hour = 40;
    }))
    .await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let (records, _) =
        pull_all(&c, &format!("{}{AUDITS}?$top=1000", sim.base_url()), &token).await?;
    assert_planted_among(&c, &sim, "entra-directory-audits", &records, 9).await?;
    assert!(records.len() >= 300, "{}", records.len());
    let mut errors = Vec::new();
    for (i, r) in records.iter().enumerate() {
        schema.check_object("directoryAudit", r, &format!("record[{i}]"), &mut errors);
    }
    errors.truncate(20);
    assert!(
        errors.is_empty(),
        "schema violations:\n{}",
        errors.join("\n")
    );
    // Variety, as in real tenants.
    let categories: HashSet<&str> = records
        .iter()
        .filter_map(|r| r["category"].as_str())
        .collect();
    assert!(categories.len() >= 6, "{categories:?}");
    assert!(records.iter().any(|r| {
        r["id"]
            .as_str()
            .is_some_and(|s| s.starts_with("Directory_"))
    }));
    assert!(records.iter().any(|r| {
        r["id"]
            .as_str()
            .is_some_and(|s| uuid::Uuid::parse_str(s).is_ok())
    }));
    assert!(records.iter().any(|r| r["result"] == "failure"));
    assert!(records.iter().any(|r| {
        r["initiatedBy"]["user"]["ipAddress"]
            .as_str()
            .is_some_and(|ip| ip.contains(':'))
    }));
    assert!(records.iter().any(|r| {
        r["additionalDetails"]
            .as_array()
            .is_some_and(|d| d.iter().any(|kv| kv["key"] == "User-Agent"))
    }));
    for r in &records {
        let by = &r["initiatedBy"];
        assert!(
            by["user"].is_null() != by["app"].is_null(),
            "exactly one initiator: {r}"
        );
    }
    sim.shutdown().await;
    Ok(())
}

/// Every record of the planted scenarios of `source` (at least `scenarios` of them) is among
/// `records`.
async fn assert_planted_among(
    c: &reqwest::Client,
    sim: &m365_sim::RunningSim,
    source: &str,
    records: &[Value],
    scenarios: usize,
) -> TestResult {
    let truth: Value = c
        .get(format!(
            "{}/_sim/truth/attacks?source={source}",
            sim.base_url()
        ))
        .send()
        .await?
        .json()
        .await?;
    let names: HashSet<&str> = truth["attacks"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["scenario"].as_str()).collect())
        .unwrap_or_default();
    assert!(names.len() >= scenarios, "{source}: {names:?}");
    let ids: HashSet<&str> = records.iter().filter_map(|r| r["id"].as_str()).collect();
    for a in truth["attacks"].as_array().cloned().unwrap_or_default() {
        for id in ids_of(&a["record_ids"]) {
            assert!(
                ids.contains(id.as_str()),
                "{source}: planted {id} not checked"
            );
        }
    }
    Ok(())
}

fn load_schema() -> Option<Schema> {
    // Vendored with attribution (schema/README.md), so the check runs in every clone.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schema/graph-v1.0-audit-schemas.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Some(Schema(
        serde_json::from_str(&text).expect("the schema file is JSON"),
    ))
}

#[test]
fn the_schema_checker_itself_catches_violations() {
    let Some(schema) = load_schema() else {
        return;
    };
    let bad = json!({
        "id": "x", "category": "UserManagement", "correlationId": null, "result": "maybe",
        "resultReason": "", "activityDisplayName": "Add user", "activityDateTime": null,
        "loggedByService": "Core Directory", "operationType": "Add",
        "initiatedBy": {"user": {"id": "u", "displayName": null, "userPrincipalName": "a@b", "ipAddress": 5, "userType": null}, "app": null},
        "targetResources": {"id": "t"},
        "additionalDetails": [{"key": "k", "value": "v"}],
        "unknownProperty": 1
    });
    let mut errors = Vec::new();
    schema.check_object("directoryAudit", &bad, "bad", &mut errors);
    let text = errors.join("\n");
    for needle in [
        "bad.result",
        "bad.activityDateTime: null",
        "bad.initiatedBy.user.ipAddress",
        "bad.initiatedBy.user.userType: not a property",
        "bad.targetResources: expected a collection",
        "bad.unknownProperty: not a property",
    ] {
        assert!(text.contains(needle), "{needle} not reported in:\n{text}");
    }
}

// ---- Schema conformance of the other sources ----

fn violations(schema: &Schema, entity: &str, records: &[Value]) -> Vec<String> {
    let mut errors = Vec::new();
    for (i, r) in records.iter().enumerate() {
        schema.check_object(entity, r, &format!("{entity}[{i}]"), &mut errors);
    }
    errors.truncate(20);
    errors
}

#[tokio::test]
async fn every_source_conforms_to_its_graph_v1_schema() -> TestResult {
    let Some(schema) = load_schema() else {
        return Ok(());
    };
    let sim = start(config(|c| {
        c.days = 2;
        c.events_per_hour = 40;
    }))
    .await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let trace_window =
        "receivedDateTime ge 2026-07-16T00:00:00Z and receivedDateTime le 2026-07-17T12:00:00Z";
    for (entity, path, filter, top, least) in [
        ("signIn", SIGN_INS_V1, None, 1000, 300),
        ("auditEvent", INTUNE, None, 1000, 300),
        (
            "exchangeMessageTrace",
            TRACES,
            Some(trace_window),
            1000,
            300,
        ),
        // Risk detections are a tenth of the base volume and pages hold at most 500.
        ("riskDetection", RISK_DETECTIONS, None, 500, 100),
        ("provisioningObjectSummary", PROVISIONING, None, 1000, 300),
        // Alerts are a twentieth of the base volume, their evidence of derived types.
        ("security.alert", ALERTS, None, 1000, 50),
    ] {
        let (records, _) = pull_all(&c, &url_with(&sim, path, filter, Some(top)), &token).await?;
        assert!(records.len() >= least, "{entity}: {}", records.len());
        // Planted attacks are ordinary records: checked with the rest (v1.0 serves the
        // interactive sign-ins, where every planted sign-in is).
        match entity {
            "signIn" => assert_planted_among(&c, &sim, "entra-sign-ins", &records, 6).await?,
            "auditEvent" => assert_planted_among(&c, &sim, "intune-audit", &records, 2).await?,
            _ => {}
        }
        let errors = violations(&schema, entity, &records);
        assert!(
            errors.is_empty(),
            "{entity} schema violations:\n{}",
            errors.join("\n")
        );
    }
    // Beta sign-ins: the v1.0 properties, conforming, plus beta-only ones.
    let v1_props = schema.properties("signIn").unwrap_or_default();
    let beta_only = [
        "signInEventTypes",
        "userType",
        "managedServiceIdentity",
        "authenticationRequirement",
        "mfaDetail",
        "authenticationDetails",
        "authenticationProcessingDetails",
        "authenticationProtocol",
        "incomingTokenType",
        "tokenIssuerType",
        "tokenIssuerName",
        "uniqueTokenIdentifier",
        "originalRequestId",
        "crossTenantAccessType",
        "isTenantRestricted",
        "flaggedForReview",
        "processingTimeInMilliseconds",
        "networkLocationDetails",
        "autonomousSystemNumber",
        "appOwnerTenantId",
    ];
    for kind in KINDS {
        let filter = format!("signInEventTypes/any(t: t eq '{kind}')");
        let (records, _) = pull_all(
            &c,
            &url_with(&sim, SIGN_INS_BETA, Some(&filter), Some(1000)),
            &token,
        )
        .await?;
        assert!(!records.is_empty(), "{kind}");
        let mut v1_part = Vec::new();
        for r in &records {
            let mut obj = r.as_object().cloned().unwrap_or_default();
            for key in beta_only {
                assert!(obj.remove(key).is_some(), "{kind}: beta lacks {key}");
            }
            v1_part.push(Value::Object(obj));
            match kind {
                "servicePrincipal" | "managedIdentity" => {
                    assert!(
                        r["servicePrincipalId"]
                            .as_str()
                            .is_some_and(|s| !s.is_empty())
                    );
                    assert!(r["servicePrincipalName"].is_string());
                    assert_eq!(r["userId"], "");
                }
                _ => {
                    assert!(
                        r["userPrincipalName"]
                            .as_str()
                            .is_some_and(|s| s.contains('@'))
                    );
                }
            }
            let msi = r["managedServiceIdentity"]["msiType"]
                .as_str()
                .unwrap_or_default();
            assert_eq!(msi == "none", kind != "managedIdentity", "{r}");
        }
        let errors = violations(&schema, "signIn", &v1_part);
        assert!(
            errors.is_empty(),
            "beta {kind} v1.0 part:\n{}",
            errors.join("\n")
        );
    }
    // v1.0 records carry exactly the v1.0 properties (checked above) and none of beta's.
    let (v1, _) = pull_all(&c, &url_with(&sim, SIGN_INS_V1, None, Some(1000)), &token).await?;
    for r in &v1 {
        for key in beta_only {
            assert!(r.get(key).is_none(), "v1.0 record has beta-only {key}");
        }
        assert_eq!(r.as_object().map(|o| o.len()), Some(v1_props.len()));
    }
    // Sign-in realism: failures with real codes, CA results, home countries, devices.
    let codes: HashSet<i64> = v1
        .iter()
        .filter_map(|r| r["status"]["errorCode"].as_i64())
        .collect();
    for code in [0, 50126, 50074, 53003] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    let home = v1
        .iter()
        .filter(|r| matches!(r["location"]["countryOrRegion"].as_str(), Some("US" | "GB")))
        .count();
    assert!(home * 10 > v1.len() * 8, "{home} of {}", v1.len());
    assert!(v1.iter().any(|r| r["conditionalAccessStatus"] == "failure"));
    assert!(v1.iter().any(|r| r["conditionalAccessStatus"] == "success"));
    assert!(v1.iter().any(|r| r["clientAppUsed"] == "IMAP4"
        || r["clientAppUsed"] == "Authenticated SMTP"
        || r["clientAppUsed"] == "Exchange ActiveSync"
        || r["clientAppUsed"] == "POP3"));
    assert!(v1.iter().any(|r| r["deviceDetail"]["isManaged"] == true));
    sim.shutdown().await;
    Ok(())
}
