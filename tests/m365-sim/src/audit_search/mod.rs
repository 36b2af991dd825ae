//! Microsoft Graph's audit log query API (`/v1.0/security/auditLog/queries`, v1.0): searches of
//! the unified audit log beyond the Management Activity API's seven days, as a backfill uses them.
//!
//! **The log.** The unified audit log is the Management Activity API's own records: every record
//! of every content type's blobs ([`crate::mgmt`]), own, late and planted, with the same `Id`, so a
//! record both APIs serve is the same record. The log reaches back [`AuditSearchSettings::days`]
//! (180 by default: Audit Standard) before the initial virtual time, further than the Management
//! API's history (`days`); a record is searchable once its blob is created.
//!
//! **Operations** (bearer token for the Graph audience; `audit-search` in `denied_sources` answers
//! 403 `Authorization_RequestDenied`; injected faults as on every Graph route):
//! - `POST /v1.0/security/auditLog/queries` with an `auditLogQuery` (`filterStartDateTime` and
//!   `filterEndDateTime` required, start before end; the optional filters below): **201** and the
//!   query, `status: notStarted`. Limits: at most `max_concurrent` queries not yet ended per
//!   tenant, and (when set) `daily_limit` submissions in any 24 virtual hours; over either, **429**
//!   `TooManyRequests` with a `Retry-After` of the seconds until a slot frees. A refused or faulted
//!   submission creates nothing, so a client may retry it.
//! - `GET /v1.0/security/auditLog/queries` and `GET .../queries/{id}`: the queries and their
//!   status on the virtual clock: `notStarted` for the first quarter of `run_secs`, `running` until
//!   `run_secs`, then `succeeded`, or `failed` for every `fail_every`-th submission.
//! - `GET .../queries/{id}/records[?$top=N][&$skiptoken=T]`: the records of a succeeded query,
//!   oldest first (ties by id), `$top` 1..=1000 (default 1000), `@odata.nextLink` while more
//!   remain. Before the query ends: 400 `BadRequest`; of a failed one: 400 too.
//!
//! **The record limit.** A query that matches more than `record_limit` records serves the first
//! `record_limit` of them and still says `succeeded`; `isRecordCountLimitExceeded` is the only
//! sign (the quirk a backfill must split windows on). `approximateReturnedRecordCount` is what it
//! serves.
//!
//! **Filters**: `recordTypeFilters` (`auditLogRecordType` names, e.g. `exchangeAdmin`; an unknown
//! name is 400), `serviceFilters` (the record's `Workload`), `operationFilters`,
//! `userPrincipalNameFilters`, `ipAddressFilters`, `objectIdFilters` (each case-insensitive, any
//! of the values), `keywordFilter` (a case-insensitive substring of the record's JSON).
//! `administrativeUnitIdFilters` is accepted and matches nothing but records without units (the
//! simulated tenant has none).
//!
//! **Truth**: `GET /_sim/truth/audit-search?start=RFC3339&end=RFC3339[&until=RFC3339]`:
//! `{"source":"audit-search","as_of","start","end","count","ids"}`, every record id the log holds
//! with `CreationTime` in `[start, end)` from blobs created by `until` (default now), uncut by any
//! limit, sorted.
//!
//! Simplifications: no `$filter` or `$select` on records, no DELETE, the workload-scoped
//! permissions (`AuditLogsQuery-Exchange.Read.All`, ...) are not told apart, and the limits are
//! settings of the simulator, not Microsoft's published figures.

mod routes;

use std::sync::{Arc, Mutex};

use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use crate::clock::{NS_PER_SEC, from_ns};
use crate::mgmt::{CONTENT_TYPES, MgmtState};

pub use routes::{routes, truth};

/// The name `denied_sources` and `/_sim/truth` know this API by.
pub const NAME: &str = "audit-search";

/// The collection's path under `/v1.0`.
const PATH: &str = "/v1.0/security/auditLog/queries";

/// Largest and default `$top` of a records page.
const MAX_TOP: usize = 1000;

/// How the audit log query API behaves (all settings of the simulator).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditSearchSettings {
    /// Days of unified audit log before the initial virtual time (180: Audit Standard).
    pub days: u32,
    /// Virtual seconds from a query's submission to its end.
    pub run_secs: u64,
    /// Records a query serves at most; past it `isRecordCountLimitExceeded` is set.
    pub record_limit: u64,
    /// Queries not yet ended a tenant may have at once.
    pub max_concurrent: u32,
    /// Submissions in any 24 virtual hours (0: no limit).
    pub daily_limit: u32,
    /// Every this-many-th submission fails (0: none do).
    pub fail_every: u32,
}

impl Default for AuditSearchSettings {
    fn default() -> Self {
        Self {
            days: 180,
            run_secs: 120,
            record_limit: 50_000,
            max_concurrent: 10,
            daily_limit: 0,
            fail_every: 0,
        }
    }
}

impl AuditSearchSettings {
    /// Rejects settings that make no sense.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=3650).contains(&self.days) {
            return Err(format!(
                "audit_search.days must be in 1..=3650, got {}",
                self.days
            ));
        }
        if self.run_secs == 0 || self.run_secs > 86_400 {
            return Err(format!(
                "audit_search.run_secs must be in 1..=86400, got {}",
                self.run_secs
            ));
        }
        if self.record_limit == 0 || self.max_concurrent == 0 {
            return Err("audit_search.record_limit and max_concurrent must be positive".into());
        }
        Ok(())
    }
}

/// What a query asks for.
#[derive(Debug, Clone, Default, PartialEq)]
struct Filters {
    start_ns: i64,
    end_ns: i64,
    record_types: Vec<String>,
    services: Vec<String>,
    operations: Vec<String>,
    upns: Vec<String>,
    ips: Vec<String>,
    object_ids: Vec<String>,
    admin_units: Vec<String>,
    keyword: Option<String>,
}

/// One submitted query.
#[derive(Debug)]
struct Query {
    id: String,
    /// 1-based submission number.
    seq: u64,
    created_ns: i64,
    display_name: Option<String>,
    filters: Filters,
    /// The body as submitted (echoed back, filters as given).
    echo: Map<String, Value>,
    /// The records it serves, computed when first read after it succeeded: (matched in all,
    /// served).
    records: Option<(usize, Arc<Vec<Value>>)>,
}

/// A query's status at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    NotStarted,
    Running,
    Succeeded,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::NotStarted => "notStarted",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
        }
    }
}

/// The queries of the tenant.
#[derive(Debug)]
pub struct AuditSearch {
    settings: AuditSearchSettings,
    seed: u64,
    /// The oldest instant the log holds.
    from_ns: i64,
    queries: Mutex<Vec<Query>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AuditSearch {
    /// The API for `settings`, whose log starts `settings.days` before `initial_now_ns`.
    pub fn new(settings: AuditSearchSettings, seed: u64, initial_now_ns: i64) -> Self {
        let from_ns = initial_now_ns.saturating_sub(i64::from(settings.days) * 86_400 * NS_PER_SEC);
        Self {
            settings,
            seed,
            from_ns,
            queries: Mutex::new(Vec::new()),
        }
    }

    fn ends_ns(&self, q: &Query) -> i64 {
        q.created_ns + i64::try_from(self.settings.run_secs).unwrap_or(120) * NS_PER_SEC
    }

    fn status(&self, q: &Query, now_ns: i64) -> Status {
        let run = self.ends_ns(q) - q.created_ns;
        if now_ns < q.created_ns + run / 4 {
            Status::NotStarted
        } else if now_ns < self.ends_ns(q) {
            Status::Running
        } else if self.settings.fail_every > 0
            && q.seq.is_multiple_of(u64::from(self.settings.fail_every))
        {
            Status::Failed
        } else {
            Status::Succeeded
        }
    }

    /// Seconds until a submission would be admitted, or `None` when it is now.
    fn refusal(&self, queries: &[Query], now_ns: i64) -> Option<u64> {
        let secs = |ns: i64| u64::try_from((ns - now_ns).max(0) / NS_PER_SEC + 1).unwrap_or(1);
        let open: Vec<i64> = queries
            .iter()
            .filter(|q| self.ends_ns(q) > now_ns)
            .map(|q| self.ends_ns(q))
            .collect();
        if open.len() >= self.settings.max_concurrent as usize {
            return open.iter().min().map(|&t| secs(t));
        }
        if self.settings.daily_limit > 0 {
            let day = 86_400 * NS_PER_SEC;
            let recent: Vec<i64> = queries
                .iter()
                .filter(|q| q.created_ns > now_ns - day)
                .map(|q| q.created_ns)
                .collect();
            if recent.len() >= self.settings.daily_limit as usize {
                return recent.iter().min().map(|&t| secs(t + day));
            }
        }
        None
    }

    /// Every record of the log with `CreationTime` in `[start_ns, end_ns)` from blobs created by
    /// `until_ns`, oldest first (ties by id), each once.
    fn log_records(
        &self,
        mgmt: &MgmtState,
        start_ns: i64,
        end_ns: i64,
        until_ns: i64,
    ) -> Vec<(i64, Value)> {
        let iv = mgmt.settings.interval_ns;
        let start_ns = start_ns.max(self.from_ns);
        if start_ns >= end_ns {
            return Vec::new();
        }
        // A blob's records are 60 to 90 minutes older than the blob (planted ones 60 minutes
        // plus an interval), late ones 3 to 5 days: the slots that can hold the window.
        let late = if mgmt.settings.late_records {
            5 * 86_400 * NS_PER_SEC
        } else {
            0
        };
        let first = (start_ns + 3600 * NS_PER_SEC).div_euclid(iv) - 1;
        let last = (end_ns + 5400 * NS_PER_SEC + iv + late)
            .min(until_ns)
            .div_euclid(iv);
        let first_slot = self.from_ns.div_euclid(iv);
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for ct in 0..CONTENT_TYPES.len() {
            for slot in first.max(first_slot)..=last {
                let meta = mgmt.meta(ct, slot);
                if meta.created_ns > until_ns {
                    continue;
                }
                for rec in mgmt.blob_records(&meta) {
                    let Some(t) = rec["CreationTime"].as_str().and_then(creation_ns) else {
                        continue;
                    };
                    let id = rec["Id"].as_str().unwrap_or_default().to_string();
                    if t >= start_ns && t < end_ns && seen.insert(id) {
                        out.push((t, rec));
                    }
                }
            }
        }
        out.sort_by(|a, b| (a.0, a.1["Id"].as_str()).cmp(&(b.0, b.1["Id"].as_str())));
        out
    }

    /// The truth of `/_sim/truth/audit-search`.
    pub fn truth(&self, mgmt: &MgmtState, start_ns: i64, end_ns: i64, until_ns: i64) -> Value {
        let mut ids: Vec<String> = self
            .log_records(mgmt, start_ns, end_ns, until_ns)
            .iter()
            .map(|(_, r)| r["Id"].as_str().unwrap_or_default().to_string())
            .collect();
        ids.sort();
        json!({
            "source": NAME,
            "as_of": crate::clock::rfc3339(from_ns(until_ns)),
            "start": crate::clock::rfc3339(from_ns(start_ns)),
            "end": crate::clock::rfc3339(from_ns(end_ns)),
            "count": ids.len(),
            "ids": ids,
        })
    }
}

/// `CreationTime` (UTC, no zone suffix) as ns.
fn creation_ns(s: &str) -> Option<i64> {
    let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").ok()?;
    t.and_utc().timestamp().checked_mul(NS_PER_SEC)
}

/// `auditLogRecordType` of a Management API `RecordType` (those the simulator writes and their
/// neighbours; Microsoft's enum has some 200 members).
const RECORD_TYPES: &[(u64, &str)] = &[
    (1, "exchangeAdmin"),
    (2, "exchangeItem"),
    (3, "exchangeItemGroup"),
    (4, "sharePoint"),
    (6, "sharePointFileOperation"),
    (7, "oneDrive"),
    (8, "azureActiveDirectory"),
    (9, "azureActiveDirectoryAccountLogon"),
    (10, "dataCenterSecurityCmdlet"),
    (11, "complianceDLPSharePoint"),
    (13, "complianceDLPExchange"),
    (14, "sharePointSharingOperation"),
    (15, "azureActiveDirectoryStsLogon"),
    (18, "securityComplianceCenterEXOCmdlet"),
    (20, "powerBIAudit"),
    (25, "microsoftTeams"),
    (28, "threatIntelligence"),
    (40, "securityComplianceAlerts"),
];

fn record_type_name(n: u64) -> &'static str {
    RECORD_TYPES
        .iter()
        .find(|(k, _)| *k == n)
        .map_or("unknownFutureValue", |(_, v)| v)
}

/// `auditLogUserType` of a Management API `UserType`.
fn user_type_name(n: u64) -> &'static str {
    const NAMES: [&str; 9] = [
        "regular",
        "reserved",
        "admin",
        "dcAdmin",
        "system",
        "application",
        "servicePrincipal",
        "customPolicy",
        "systemPolicy",
    ];
    usize::try_from(n)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("unknownFutureValue")
}

/// A Management API record as Graph's `auditLogRecord`: the record itself is its `auditData`.
pub fn graph_record(rec: &Value) -> Value {
    let s = |k: &str| rec.get(k).cloned().unwrap_or(Value::Null);
    let mut data = rec.as_object().cloned().unwrap_or_default();
    data.insert(
        "@odata.type".into(),
        json!("#microsoft.graph.security.auditData"),
    );
    json!({
        "@odata.type": "#microsoft.graph.security.auditLogRecord",
        "id": s("Id"),
        "createdDateTime": rec["CreationTime"].as_str().map(|t| format!("{t}Z")),
        "auditLogRecordType": record_type_name(rec["RecordType"].as_u64().unwrap_or(0)),
        "operation": s("Operation"),
        "organizationId": s("OrganizationId"),
        "userType": user_type_name(rec["UserType"].as_u64().unwrap_or(99)),
        "userId": s("UserKey"),
        "service": s("Workload"),
        "objectId": s("ObjectId"),
        "userPrincipalName": s("UserId"),
        "clientIp": rec.get("ClientIP").or_else(|| rec.get("ActorIpAddress")).cloned(),
        "administrativeUnits": [],
        "auditData": data,
    })
}

fn matches(f: &Filters, rec: &Value) -> bool {
    let any = |list: &[String], v: Option<&str>| {
        list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x.eq_ignore_ascii_case(v)))
    };
    let record_type = record_type_name(rec["RecordType"].as_u64().unwrap_or(0));
    let ip = rec["ClientIP"]
        .as_str()
        .or_else(|| rec["ActorIpAddress"].as_str());
    any(&f.record_types, Some(record_type))
        && any(&f.services, rec["Workload"].as_str())
        && any(&f.operations, rec["Operation"].as_str())
        && any(&f.upns, rec["UserId"].as_str())
        && any(&f.ips, ip)
        && any(&f.object_ids, rec["ObjectId"].as_str())
        && f.admin_units.is_empty()
        && f.keyword.as_ref().is_none_or(|k| {
            rec.to_string()
                .to_ascii_lowercase()
                .contains(&k.to_ascii_lowercase())
        })
}
