//! What a rule sees of an event, and the field mapping.
//!
//! **The document.** The raw record's own fields at the top level, as Microsoft names them
//! (`appDisplayName`, `status.errorCode`, `targetResources.modifiedProperties.displayName`,
//! `Operation`, `Parameters.Name`, ...; an Azure Monitor export's `properties` are lifted to the
//! top, beside the envelope's own keys), and the normalized event under `auditlake`
//! (`auditlake.operation`, `auditlake.result`, `auditlake.actor.upn`, `auditlake.client_ip`,
//! `auditlake.stream`, ...). The normalized block is written last, so a raw key named `auditlake`
//! cannot pose as it.
//!
//! **The mapping.** SigmaHQ's Azure rules name fields as Sentinel's tables do (`ResultType`,
//! `OperationName`, `AppDisplayName`, `Properties.riskState`, `TargetResources`), its Microsoft 365
//! rules as some SIEM exports do (`eventSource`, `eventName`, `status`). For every field a rule
//! names, [`candidates`] lists where auditlake looks, first found wins: the name itself; the
//! source's alias (Sentinel's column for the Graph property, which is not always a case change:
//! `ResultType` is `status.errorCode`, `OperationName` is `activityDisplayName`); the name
//! without a `Properties.` prefix; and each dotted segment with its first letter lowercased
//! (Sentinel's `ConditionalAccessStatus` is Graph's `conditionalAccessStatus`).

use std::collections::HashMap;

use domain::model::{AuditEvent, Source};
use rsigma_eval::event::{Event, EventValue, JsonEvent};
use serde_json::{Map, Value};

/// The key the normalized event sits under in the document.
pub const NORMALIZED: &str = "auditlake";

/// Builds the document a rule is evaluated against; `mapping` (from [`mapping`]) adds each
/// mapped name, as a key of its own, with the value of its first candidate present.
pub fn document(
    event: &AuditEvent,
    raw: Option<&Value>,
    mapping: &HashMap<String, Vec<String>>,
) -> Value {
    let mut doc = Map::new();
    if let Some(Value::Object(raw)) = raw {
        // An Azure Monitor export: the Graph object is under `properties`; its fields win over
        // the envelope's of the same name.
        let lifted = raw
            .get("properties")
            .and_then(Value::as_object)
            .filter(|_| raw.contains_key("category") || raw.contains_key("operationName"));
        for (k, v) in raw {
            doc.insert(k.clone(), v.clone());
        }
        if let Some(props) = lifted {
            for (k, v) in props {
                doc.insert(k.clone(), v.clone());
            }
        }
    }
    doc.insert(NORMALIZED.to_owned(), normalized(event));
    // The engine looks a field up by the rule's name (and prunes rules by the document's keys),
    // so a mapped name is written into the document rather than resolved at lookup.
    let mut doc = Value::Object(doc);
    let mut extra = Vec::new();
    {
        let view = JsonEvent::borrow(&doc);
        for (name, candidates) in mapping {
            if view.get_field(name).is_some() {
                continue;
            }
            if let Some(v) = candidates.iter().skip(1).find_map(|c| view.get_field(c)) {
                extra.push((name.clone(), to_json(&v)));
            }
        }
    }
    if let Value::Object(m) = &mut doc {
        m.extend(extra);
    }
    doc
}

fn to_json(v: &EventValue<'_>) -> Value {
    match v {
        EventValue::Str(s) => Value::String(s.to_string()),
        EventValue::Int(i) => Value::from(*i),
        EventValue::Float(f) => Value::from(*f),
        EventValue::Bool(b) => Value::Bool(*b),
        EventValue::Null => Value::Null,
        EventValue::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        EventValue::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), to_json(v)))
                .collect(),
        ),
    }
}

/// The normalized event's fields, as the event JSON names them, without `raw` and `raw_ref`.
fn normalized(event: &AuditEvent) -> Value {
    let mut v = serde_json::to_value(event).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("raw");
        m.remove("raw_ref");
        m.remove("ingested_at");
    }
    v
}

/// Sentinel's and SigmaHQ's names for a source's fields, where the Graph or Management API
/// property is not the name with its first letter lowercased.
fn alias(source: Source, field: &str) -> Option<&'static [&'static str]> {
    let hit: &'static [&'static str] = match (source, field) {
        (Source::EntraSignIns, "ResultType") => &["status.errorCode"],
        (Source::EntraSignIns, "ResultDescription" | "ResultSignature") => {
            &["status.failureReason"]
        }
        (Source::EntraSignIns, "Status") => &["status"],
        (Source::EntraSignIns, "IPAddress") => &["ipAddress"],
        (Source::EntraSignIns, "Location") => &["location.countryOrRegion"],
        (Source::EntraSignIns, "LocationDetails") => &["location"],
        (Source::EntraSignIns, "Identity" | "UserName" | "Username") => &["userPrincipalName"],
        (Source::EntraSignIns, "ClientApp") => &["clientAppUsed"],
        (Source::EntraSignIns, "OperationName") => &["auditlake.operation"],
        (Source::EntraDirectoryAudits, "OperationName" | "operationName") => {
            &["activityDisplayName"]
        }
        (Source::EntraDirectoryAudits, "ResultDescription") => &["resultReason"],
        (Source::EntraDirectoryAudits, "Identity") => &[
            "initiatedBy.user.userPrincipalName",
            "initiatedBy.app.displayName",
        ],
        (Source::EntraDirectoryAudits, "TimeGenerated") => &["activityDateTime"],
        (Source::M365Activity, "eventSource") => &["Workload"],
        // A Security & Compliance alert's name is `Name`; every other record's event is its
        // `Operation`.
        (Source::M365Activity, "eventName") => &["Name", "Operation"],
        (Source::M365Activity, "status") => &["ResultStatus"],
        (Source::IntuneAudit, "OperationName") => &["activityType", "activity"],
        _ => return None,
    };
    Some(hit)
}

fn lower_first(segment: &str) -> String {
    let mut chars = segment.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Where auditlake looks for `field` in a `source` document, in order (see the module doc).
pub fn candidates(source: Source, field: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |c: String| {
        if !out.contains(&c) {
            out.push(c);
        }
    };
    push(field.to_owned());
    if let Some(list) = alias(source, field) {
        list.iter().for_each(|a| push((*a).to_owned()));
    }
    let bare = field
        .strip_prefix("Properties.")
        .or_else(|| field.strip_prefix("properties."))
        .unwrap_or(field);
    if bare != field {
        push(bare.to_owned());
        if let Some(list) = alias(source, bare) {
            list.iter().for_each(|a| push((*a).to_owned()));
        }
    }
    if !bare.starts_with(NORMALIZED) {
        push(
            bare.split('.')
                .map(lower_first)
                .collect::<Vec<_>>()
                .join("."),
        );
    }
    out
}

/// The mapping for a set of field names (name -> candidates, the name first): only names with a
/// candidate besides themselves are listed.
pub fn mapping<'a>(
    source: Source,
    fields: impl IntoIterator<Item = &'a str>,
) -> HashMap<String, Vec<String>> {
    fields
        .into_iter()
        .filter_map(|f| {
            let c = candidates(source, f);
            (c.len() > 1).then(|| (f.to_owned(), c))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_names_reach_graph_properties() {
        let c = candidates(Source::EntraSignIns, "ResultType");
        assert_eq!(c, ["ResultType", "status.errorCode", "resultType"]);
        let c = candidates(Source::EntraSignIns, "Properties.ConditionalAccessStatus");
        assert_eq!(c.last().unwrap(), "conditionalAccessStatus");
        let c = candidates(Source::EntraDirectoryAudits, "OperationName");
        assert_eq!(c[1], "activityDisplayName");
        let c = candidates(
            Source::EntraDirectoryAudits,
            "TargetResources.ModifiedProperties",
        );
        assert_eq!(c.last().unwrap(), "targetResources.modifiedProperties");
        // A name that is already right maps to nothing else.
        assert_eq!(candidates(Source::EntraSignIns, "appId"), ["appId"]);
        assert_eq!(
            candidates(Source::EntraSignIns, "auditlake.actor.upn"),
            ["auditlake.actor.upn"]
        );
    }
}
