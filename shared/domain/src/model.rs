//! The data model every other module speaks: the closed [`Source`] enum whose names appear in S3
//! prefixes, DynamoDB keys and metrics; the normalized [`AuditEvent`] of the contract; time
//! windows; and the [`RunSummary`] a pull run returns.
//!
//! Times inside auditlake are `DateTime<Utc>`. On the wire and in keys they are written by
//! [`fmt_time`]: RFC 3339, UTC, `Z`, always exactly three fractional digits, so that the
//! lexicographic order of the strings is their time order (DynamoDB sort keys rely on this) and
//! they match Athena's millisecond timestamps. The original record keeps Microsoft's full precision.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::stream::Stream;

/// Every Microsoft source auditlake knows. The kebab-case names are part of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    EntraDirectoryAudits,
    EntraSignIns,
    IntuneAudit,
    ExchangeMessageTrace,
    EntraRiskDetections,
    EntraProvisioning,
    DefenderAlerts,
    M365Activity,
}

impl Source {
    /// All sources, in the order they are documented.
    pub const ALL: [Source; 8] = [
        Source::EntraDirectoryAudits,
        Source::EntraSignIns,
        Source::IntuneAudit,
        Source::ExchangeMessageTrace,
        Source::EntraRiskDetections,
        Source::EntraProvisioning,
        Source::DefenderAlerts,
        Source::M365Activity,
    ];

    /// The contract name (`entra-directory-audits`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Source::EntraDirectoryAudits => "entra-directory-audits",
            Source::EntraSignIns => "entra-sign-ins",
            Source::IntuneAudit => "intune-audit",
            Source::ExchangeMessageTrace => "exchange-message-trace",
            Source::EntraRiskDetections => "entra-risk-detections",
            Source::EntraProvisioning => "entra-provisioning",
            Source::DefenderAlerts => "defender-alerts",
            Source::M365Activity => "m365-activity",
        }
    }

    /// The metric/log friendly CamelCase name (`EntraDirectoryAudits`).
    pub const fn metric_name(self) -> &'static str {
        match self {
            Source::EntraDirectoryAudits => "EntraDirectoryAudits",
            Source::EntraSignIns => "EntraSignIns",
            Source::IntuneAudit => "IntuneAudit",
            Source::ExchangeMessageTrace => "ExchangeMessageTrace",
            Source::EntraRiskDetections => "EntraRiskDetections",
            Source::EntraProvisioning => "EntraProvisioning",
            Source::DefenderAlerts => "DefenderAlerts",
            Source::M365Activity => "M365Activity",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A source name that is not one of [`Source::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown source `{0}` (known: entra-directory-audits, entra-sign-ins, intune-audit, exchange-message-trace, entra-risk-detections, entra-provisioning, defender-alerts, m365-activity)"
)]
pub struct UnknownSource(pub String);

impl FromStr for Source {
    type Err = UnknownSource;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Source::ALL
            .into_iter()
            .find(|src| src.name() == s)
            .ok_or_else(|| UnknownSource(s.to_string()))
    }
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Formats a time the one way auditlake writes times: `2024-01-02T03:04:05.678Z`.
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses the time formats Microsoft's records and exports carry, read as UTC: RFC 3339 with `Z`
/// or any offset (`+01:00`, `+0100`), or no zone at all (the Management API's
/// `2015-06-29T20:03:19`), with 0 to 9 fractional digits, and a space instead of `T` (Azure
/// Monitor and Log Analytics exports: `2024-09-23 14:33:09.049661100`).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    // `T` and a space both separate date and time; one spelling is parsed below.
    let spaced;
    let s = if s.len() > 10 && s.as_bytes()[10] == b' ' && s.is_char_boundary(11) {
        spaced = format!("{}T{}", &s[..10], s[11..].trim_start());
        spaced.as_str()
    } else {
        s
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f %z",
        "%Y-%m-%dT%H:%M%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    // `Z` after a zone-less form chrono's RFC 3339 parser refused (no seconds: `...T10:15Z`).
    if let Some(bare) = s.strip_suffix(['Z', 'z'])
        && let Ok(t) = NaiveDateTime::parse_from_str(bare, "%Y-%m-%dT%H:%M")
    {
        return Some(t.and_utc());
    }
    None
}

/// Serde helpers for `DateTime<Utc>` written with [`fmt_time`].
pub mod time_format {
    use super::*;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&fmt_time(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        parse_time(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid time `{s}`")))
    }
}

/// Outcome of the audited operation, mapped from each source's own vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventResult {
    Success,
    Failure,
    Partial,
    Unknown,
}

impl EventResult {
    pub const fn as_str(self) -> &'static str {
        match self {
            EventResult::Success => "success",
            EventResult::Failure => "failure",
            EventResult::Partial => "partial",
            EventResult::Unknown => "unknown",
        }
    }
}

/// Who performed the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    User,
    App,
    System,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<String>,
    pub upn: Option<String>,
    pub name: Option<String>,
    pub app_id: Option<String>,
}

impl Actor {
    pub fn system() -> Self {
        Actor {
            kind: ActorKind::System,
            id: None,
            upn: None,
            name: None,
            app_id: None,
        }
    }

    /// The value the actor index is keyed on: the UPN (lowercased) when known, else the object
    /// id, else the application id.
    pub fn index_value(&self) -> Option<String> {
        self.upn
            .as_deref()
            .or(self.id.as_deref())
            .or(self.app_id.as_deref())
            .map(str::to_lowercase)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub kind: Option<String>,
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Location {
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// Where the original record lives when it is too large to keep inline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawRef {
    pub key: String,
    pub line: u64,
}

/// The normalized event of the contract (snake_case JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditEvent {
    /// `<source>:<YYYYMMDDTHHMMSSZ>-<dedupe_key>` (event time to the second), URL-safe.
    pub id: String,
    pub record_id: Option<String>,
    pub source: Source,
    pub stream: Option<String>,
    pub tenant_id: String,
    #[serde(with = "time_format")]
    pub time: DateTime<Utc>,
    pub service: Option<String>,
    pub category: Option<String>,
    pub operation: String,
    pub result: EventResult,
    pub result_reason: Option<String>,
    pub actor: Actor,
    pub targets: Vec<Target>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub location: Option<Location>,
    pub details: serde_json::Map<String, serde_json::Value>,
    pub dedupe_key: String,
    #[serde(with = "time_format")]
    pub ingested_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_ref: Option<RawRef>,
}

/// A half-open interval of event time, `[start, end)` for planning; Graph queries send it as
/// `ge start and le end` and let dedupe absorb the boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Window { start, end }
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Cuts the window into consecutive chunks of at most `size`.
    pub fn chunks(&self, size: TimeDelta) -> Vec<Window> {
        let mut out = Vec::new();
        let mut start = self.start;
        while start < self.end {
            let end = (start + size).min(self.end);
            out.push(Window { start, end });
            start = end;
        }
        out
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", fmt_time(self.start), fmt_time(self.end))
    }
}

/// A Microsoft or AWS error carried into the run summary and health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    pub code: String,
    pub message: String,
}

/// Why a run ran: a scheduled tick moves the watermark; a backfill of an explicit window never
/// does (ARCHITECTURE.md, "Invariants").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    Scheduled,
    Backfill,
}

impl RunMode {
    /// `scheduled` or `backfill`, as in the run summary.
    pub const fn name(self) -> &'static str {
        match self {
            RunMode::Scheduled => "scheduled",
            RunMode::Backfill => "backfill",
        }
    }
}

impl fmt::Display for RunMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one run of one stream did (the contract's run summary).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunSummary {
    pub source: Source,
    pub stream: Option<Stream>,
    pub run_id: String,
    pub mode: RunMode,
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    pub windows: u32,
    pub pulled: u64,
    pub new: u64,
    pub duplicates: u64,
    pub quarantined: u64,
    pub raw_objects: u64,
    pub raw_bytes: u64,
    pub lag_secs: Option<i64>,
    pub complete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<Gap>,
    /// Content Microsoft no longer served when the run asked for it (expired blobs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<Gap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    pub duration_ms: u64,
}

/// History that could not be collected: a span behind the source's retention edge, or (with
/// `content_id`) one Management API content blob that expired before it could be fetched, whose
/// `from`/`to` are the blob's `contentCreated` and `contentExpiration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    pub from: String,
    pub to: String,
    pub secs: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
    /// Microsoft's code for the loss (`AF20051`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn source_names_round_trip() {
        for s in Source::ALL {
            assert_eq!(s.name().parse::<Source>().unwrap(), s);
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.name()));
        }
        assert!("entra".parse::<Source>().is_err());
    }

    #[test]
    fn times_are_fixed_width_and_sort_as_strings() {
        let a = Utc.with_ymd_and_hms(2024, 1, 1, 10, 0, 0).unwrap();
        let b = a + TimeDelta::milliseconds(500);
        assert_eq!(fmt_time(a), "2024-01-01T10:00:00.000Z");
        assert!(fmt_time(a) < fmt_time(b));
    }

    #[test]
    fn parses_microsoft_time_variants() {
        let want = Utc.with_ymd_and_hms(2019, 10, 18, 15, 30, 51).unwrap();
        for s in [
            "2019-10-18T15:30:51Z",
            "2019-10-18T15:30:51+00:00",
            "2019-10-18T15:30:51",
            "2019-10-18T17:30:51+02:00",
        ] {
            assert_eq!(parse_time(s), Some(want), "{s}");
        }
        let graph = parse_time("2018-01-09T21:20:02.7215374Z").unwrap();
        assert_eq!(fmt_time(graph), "2018-01-09T21:20:02.721Z");
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn windows_chunk_without_gaps() {
        let s = Utc.with_ymd_and_hms(2024, 1, 1, 0, 30, 0).unwrap();
        let w = Window::new(s, s + TimeDelta::minutes(150));
        let c = w.chunks(TimeDelta::hours(1));
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].start, w.start);
        assert_eq!(c[2].end, w.end);
        for pair in c.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        assert!(Window::new(s, s).chunks(TimeDelta::hours(1)).is_empty());
    }
}
