//! Rule test cases: the format of `infra/detections/cases/*.yml`, which a tenant can use for its
//! own rules too. A file names a source and lists cases; each case is records as Microsoft sends
//! them and the rule ids they must raise (an empty list: nothing may be raised).
//!
//! ```yaml
//! source: entra-sign-ins
//! cases:
//!   - name: IMAP sign-in that succeeded
//!     stream: interactiveUser        # optional
//!     raise: [signin-legacy-auth]
//!     records:
//!       - {id: 5f1b..., createdDateTime: "2026-11-30T10:00:00Z", clientAppUsed: IMAP4, ...}
//!   - name: twenty wrong passwords in five minutes
//!     raise: [signin-brute-force]
//!     repeat: 20                     # the records, 20 times: `{n}` in a string is 0, 1, ...
//!     step_seconds: 15               # and the record's time moves on 15 s each time
//!     records: [...]
//! ```

use chrono::Duration;
use domain::model::{Source, fmt_time, parse_time};
use serde::Deserialize;
use serde_json::Value;

/// A case file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    pub source: Source,
    pub cases: Vec<Case>,
}

/// One case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub stream: Option<String>,
    /// The rule ids the records raise, once each (a rule twice: two alerts).
    pub raise: Vec<String>,
    #[serde(default)]
    pub repeat: Option<u32>,
    #[serde(default)]
    pub step_seconds: Option<i64>,
    pub records: Vec<Value>,
}

/// Parses a case file.
pub fn parse(text: &str) -> Result<CaseFile, String> {
    yaml_serde::from_str(text).map_err(|e| e.to_string())
}

/// The field that holds a record's time, per source (for `step_seconds`).
fn time_field(source: Source) -> &'static str {
    match source {
        Source::EntraSignIns => "createdDateTime",
        Source::EntraDirectoryAudits | Source::IntuneAudit | Source::EntraProvisioning => {
            "activityDateTime"
        }
        Source::EntraRiskDetections => "detectedDateTime",
        Source::DefenderAlerts => "createdDateTime",
        Source::ExchangeMessageTrace => "Received",
        Source::M365Activity => "CreationTime",
    }
}

fn substitute(v: &mut Value, n: u32) {
    match v {
        Value::String(s) if s.contains("{n}") => *s = s.replace("{n}", &n.to_string()),
        Value::Array(items) => items.iter_mut().for_each(|i| substitute(i, n)),
        Value::Object(m) => m.values_mut().for_each(|i| substitute(i, n)),
        _ => {}
    }
}

impl Case {
    /// The records with `repeat` and `step_seconds` applied.
    pub fn expand(&self, source: Source) -> Result<Vec<Value>, String> {
        let times = self.repeat.unwrap_or(1);
        let step = Duration::seconds(self.step_seconds.unwrap_or(0));
        let field = time_field(source);
        let mut out = Vec::new();
        for n in 0..times {
            for r in &self.records {
                let mut r = r.clone();
                substitute(&mut r, n);
                if step != Duration::zero()
                    && let Some(Value::String(t)) = r.get_mut(field)
                {
                    let at = parse_time(t).ok_or_else(|| {
                        format!("case `{}`: `{field}` holds `{t}`, not a time", self.name)
                    })?;
                    *t = fmt_time(at + step * i32::try_from(n).unwrap_or(i32::MAX));
                }
                out.push(r);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_substitutes_and_steps_time() {
        let f = parse(
            "source: entra-sign-ins\ncases:\n  - name: x\n    raise: []\n    repeat: 3\n    step_seconds: 10\n    records:\n      - {id: 'a{n}', createdDateTime: '2026-01-01T00:00:00Z', upn: 'u{n}@x'}\n",
        )
        .unwrap();
        let r = f.cases[0].expand(f.source).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[2]["id"], "a2");
        assert_eq!(r[2]["upn"], "u2@x");
        assert_eq!(r[2]["createdDateTime"], "2026-01-01T00:00:20.000Z");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e =
            parse("source: entra-sign-ins\ncases:\n  - name: x\n    rasie: []\n    records: []\n")
                .unwrap_err();
        assert!(e.contains("rasie"), "{e}");
    }
}
