//! Turning one Microsoft record into the contract's [`AuditEvent`]: one module per source, plus
//! the shared rules (absent-value sentinels, dedupe keys, hashing). Normalizers are pure: the
//! same bytes and context give the same event.

pub mod defender_alerts;
pub mod entra_directory_audits;
pub mod entra_provisioning;
pub mod entra_risk_detections;
pub mod entra_sign_ins;
pub mod exchange_message_trace;
pub mod input;
pub mod intune_audit;
pub mod m365_activity;
mod reader;
pub mod typed;

pub use reader::{Counts, ReaderError, normalize_file, normalize_reader};

use chrono::{DateTime, Utc};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::model::{AuditEvent, Source};

/// What a normalizer needs besides the record.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub tenant_id: &'a str,
    pub stream: Option<&'a str>,
    pub ingested_at: DateTime<Utc>,
}

/// Why a record could not be normalized (it is then quarantined, never dropped).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    #[error("record is not valid JSON: {0}")]
    Json(String),
    #[error("record is not a JSON object")]
    NotAnObject,
    #[error("required field `{0}` is missing or empty")]
    Missing(&'static str),
    #[error("field `{field}` holds `{value}`, which is not a time")]
    BadTime { field: &'static str, value: String },
    #[error("normalizing {0} records is not supported yet")]
    Unsupported(Source),
}

/// Normalizes one record of `source`.
pub fn normalize(
    source: Source,
    raw: &RawValue,
    ctx: Context<'_>,
) -> Result<AuditEvent, NormalizeError> {
    let value: Value =
        serde_json::from_str(raw.get()).map_err(|e| NormalizeError::Json(e.to_string()))?;
    let mut event = match source {
        Source::EntraDirectoryAudits => entra_directory_audits::normalize(&value, ctx)?,
        Source::EntraSignIns => entra_sign_ins::normalize(&value, ctx)?,
        Source::IntuneAudit => intune_audit::normalize(&value, ctx)?,
        Source::ExchangeMessageTrace => exchange_message_trace::normalize(&value, ctx)?,
        Source::EntraRiskDetections => entra_risk_detections::normalize(&value, ctx)?,
        Source::EntraProvisioning => entra_provisioning::normalize(&value, ctx)?,
        Source::DefenderAlerts => defender_alerts::normalize(&value, ctx)?,
        Source::M365Activity => m365_activity::normalize(&value, ctx)?,
    };
    event.raw = Some(raw.to_owned());
    Ok(event)
}

/// The sentinels of [`is_sentinel`]; the longest, `not available`, is [`LONGEST_SENTINEL`] bytes.
const SENTINELS: [&str; 5] = ["<null>", "null", "__null__", "not available", "n/a"];
const LONGEST_SENTINEL: usize = 13;

/// Values Microsoft uses to mean "nothing": empty strings and literal sentinels.
pub fn is_sentinel(s: &str) -> bool {
    let t = s.trim();
    // Most values are longer than any sentinel, and are done here.
    if t.len() > LONGEST_SENTINEL {
        return false;
    }
    t.is_empty() || SENTINELS.iter().any(|x| t.eq_ignore_ascii_case(x))
}

/// Field `key` of an object: the exact spelling, else the first key equal to it ignoring ASCII
/// case (Azure Monitor and some exports lower-case keys: `operationname`, `creationtime`).
pub fn field<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    let map = v.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// What a result word of any of Microsoft's spellings means: `success`, `Succeeded`,
/// `Successful`, `True` are success; `failure`, `Failed`, `False`, `timeout` failure;
/// `PartiallySucceeded`, `partial` partial; a number is a sign-in style error code (0: success,
/// anything else: failure). `None` for a word that is none of these (kept as the reason).
pub fn result_word(word: &str) -> Option<crate::model::EventResult> {
    use crate::model::EventResult;
    let w = word.trim();
    if let Ok(code) = w.parse::<i64>() {
        return Some(if code == 0 {
            EventResult::Success
        } else {
            EventResult::Failure
        });
    }
    let w = w.to_ascii_lowercase();
    match w.as_str() {
        "success" | "succeeded" | "successful" | "true" | "ok" => Some(EventResult::Success),
        "failure" | "failed" | "false" | "timeout" | "fail" => Some(EventResult::Failure),
        "partiallysucceeded" | "partialsuccess" | "partial" | "partiallysuccessful" => {
            Some(EventResult::Partial)
        }
        _ => None,
    }
}

/// A result field read with [`result_word`]: the result, and the word itself as the reason when
/// it means nothing known (so an analyst still sees it).
pub fn result_of(word: Option<&str>) -> (crate::model::EventResult, Option<String>) {
    match word {
        None => (crate::model::EventResult::Unknown, None),
        Some(w) => match result_word(w) {
            Some(r) => (r, None),
            None => (
                crate::model::EventResult::Unknown,
                Some(w.trim().to_string()),
            ),
        },
    }
}

/// A string field, with sentinels read as absent; the key matched as [`field`] does.
pub fn text(v: &Value, key: &str) -> Option<String> {
    match field(v, key)? {
        Value::String(s) if !is_sentinel(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Like [`text`] but tries each key in turn (Microsoft varies the casing of some fields).
pub fn text_any(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| text(v, k))
}

/// True when a string is safe as-is in a URL path segment and a DynamoDB key.
fn url_safe(s: &str) -> bool {
    crate::store::keys::is_dedupe_key(s)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes JSON with object keys sorted at every level, so equal records hash equally whatever
/// order their keys arrived in.
pub fn canonical_json(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(&m[k], out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// The dedupe key: the source's own id when it is URL-safe, a SHA-256 of it when not, and a
/// SHA-256 of the sorted-key JSON when the record has no id.
pub fn dedupe_key(record_id: Option<&str>, record: &Value) -> String {
    match record_id {
        Some(id) => dedupe_key_of_id(id),
        None => format!("h-{}", sha256_hex(canonical_json(record).as_bytes())),
    }
}

/// The dedupe key of a record whose id is `id` ([`dedupe_key`]).
pub fn dedupe_key_of_id(id: &str) -> String {
    if url_safe(id) {
        id.to_string()
    } else {
        format!("h-{}", sha256_hex(id.as_bytes()))
    }
}

/// True when `source`'s Azure Monitor diagnostic-settings export carries the Graph object under
/// `properties` (Entra audit and sign-in logs); Intune's export uses its own schema.
pub fn accepts_envelope(source: Source) -> bool {
    matches!(source, Source::EntraDirectoryAudits | Source::EntraSignIns)
}

/// The sign-in kind an Azure Monitor log category carries.
fn stream_of_category(category: &str) -> Option<&'static str> {
    match category {
        "SignInLogs" => Some("interactiveUser"),
        "NonInteractiveUserSignInLogs" => Some("nonInteractiveUser"),
        "ServicePrincipalSignInLogs" | "MicrosoftServicePrincipalSignInLogs" => {
            Some("servicePrincipal")
        }
        "ManagedIdentitySignInLogs" => Some("managedIdentity"),
        _ => None,
    }
}

/// Normalizes one record of Azure Monitor's diagnostic-settings export (Event Hub or storage
/// blob): the Graph object is under `properties`; the envelope's `tenantId` (when present) is
/// the tenant and its `category` the sign-in kind. `raw` keeps the whole envelope record.
pub fn normalize_envelope(
    source: Source,
    raw: &RawValue,
    ctx: Context<'_>,
) -> Result<AuditEvent, NormalizeError> {
    let env: Value =
        serde_json::from_str(raw.get()).map_err(|e| NormalizeError::Json(e.to_string()))?;
    let mut properties = field(&env, "properties")
        .filter(|p| p.is_object())
        .cloned()
        .ok_or(NormalizeError::Missing("properties"))?;
    let tenant = text(&env, "tenantId");
    let category = text(&env, "category");
    let ctx = Context {
        tenant_id: tenant.as_deref().unwrap_or(ctx.tenant_id),
        stream: ctx
            .stream
            .or_else(|| category.as_deref().and_then(stream_of_category)),
        ingested_at: ctx.ingested_at,
    };
    // Where the inner record lacks them, the envelope's time and operation stand in.
    let (time_field, operation_field) = match source {
        Source::EntraSignIns => ("createdDateTime", None),
        _ => ("activityDateTime", Some("activityDisplayName")),
    };
    let fill = |props: &mut Value, inner: &str, outer: &str| {
        if text(props, inner).is_none()
            && let (Some(value), Some(map)) = (text(&env, outer), props.as_object_mut())
        {
            map.insert(inner.to_string(), Value::String(value));
        }
    };
    fill(&mut properties, time_field, "time");
    if let Some(op) = operation_field {
        fill(&mut properties, op, "operationName");
    }
    let mut event = match source {
        Source::EntraDirectoryAudits => entra_directory_audits::normalize(&properties, ctx),
        Source::EntraSignIns => entra_sign_ins::normalize(&properties, ctx),
        Source::IntuneAudit => intune_audit::normalize(&properties, ctx),
        Source::ExchangeMessageTrace => exchange_message_trace::normalize(&properties, ctx),
        Source::EntraRiskDetections => entra_risk_detections::normalize(&properties, ctx),
        Source::EntraProvisioning => entra_provisioning::normalize(&properties, ctx),
        Source::DefenderAlerts => defender_alerts::normalize(&properties, ctx),
        Source::M365Activity => m365_activity::normalize(&properties, ctx),
    }
    .map_err(|e| match e {
        // The envelope's `time` was tried too.
        NormalizeError::Missing(f) if f == time_field => {
            NormalizeError::Missing(if source == Source::EntraSignIns {
                "properties.createdDateTime (or the envelope's time)"
            } else {
                "properties.activityDateTime (or the envelope's time)"
            })
        }
        other => other,
    })?;
    // A result the inner record does not say: the envelope's `resultType` (a sign-in's error
    // code, or a word) or `resultSignature`.
    if event.result == crate::model::EventResult::Unknown {
        for key in ["resultType", "resultSignature"] {
            if let Some(word) = text(&env, key)
                && let Some(r) = result_word(&word)
            {
                event.result = r;
                if r != crate::model::EventResult::Success && event.result_reason.is_none() {
                    event.result_reason = text(&env, "resultDescription").or(Some(word));
                }
                break;
            }
        }
    }
    event.raw = Some(raw.to_owned());
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_longest_sentinel_is_counted_right() {
        assert_eq!(
            SENTINELS.iter().map(|s| s.len()).max(),
            Some(LONGEST_SENTINEL)
        );
    }

    #[test]
    fn sentinels_are_absent() {
        let v = json!({"a": "<null>", "b": " Not Available ", "c": "", "d": "x", "e": 3});
        assert_eq!(text(&v, "a"), None);
        assert_eq!(text(&v, "b"), None);
        assert_eq!(text(&v, "c"), None);
        assert_eq!(text(&v, "d").as_deref(), Some("x"));
        assert_eq!(text(&v, "e").as_deref(), Some("3"));
        assert_eq!(text(&v, "zz"), None);
    }

    #[test]
    fn dedupe_keys_are_url_safe_and_stable() {
        let rec = json!({"b": 1, "a": {"y": 2, "x": [1, {"q": 1, "p": 2}]}});
        let reordered = json!({"a": {"x": [1, {"p": 2, "q": 1}], "y": 2}, "b": 1});
        assert_eq!(dedupe_key(None, &rec), dedupe_key(None, &reordered));
        assert_eq!(
            dedupe_key(Some("Directory_ab-12_X_9"), &rec),
            "Directory_ab-12_X_9"
        );
        let odd = dedupe_key(Some("a/b c"), &rec);
        assert!(odd.starts_with("h-") && odd.len() == 66, "{odd}");
        assert_ne!(
            dedupe_key(Some("a/b c"), &rec),
            dedupe_key(Some("a/b d"), &rec)
        );
    }
}
