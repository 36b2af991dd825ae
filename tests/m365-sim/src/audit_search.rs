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

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use crate::clock::{NS_PER_SEC, from_ns, parse_rfc3339, to_ns};
use crate::graph::{self, GRAPH_JSON, GraphCtx, base_url};
use crate::mgmt::{CONTENT_TYPES, MgmtState};
use crate::rng::{Rng, hash_str, seed_of};
use crate::server::SimState;
use crate::wire::{b64_decode, b64url_encode, parse_pairs, percent_encode};

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

/// The API's routes on the simulator's router.
pub fn routes(r: Router<Arc<SimState>>) -> Router<Arc<SimState>> {
    r.route(PATH, get(list_queries).post(create))
        .route(&format!("{PATH}/{{id}}"), get(get_query))
        .route(&format!("{PATH}/{{id}}/records"), get(records))
}

/// Auth, permission and faults, as on every Graph route; the request's context when it passes.
fn gate(state: &SimState, headers: &HeaderMap) -> Result<(GraphCtx, i64), Box<Response>> {
    let now = state.clock.now();
    let ctx = GraphCtx::new(headers, now);
    let now_ns = to_ns(now);
    graph::check_token(state, headers, &ctx, now_ns)?;
    if state.config.denied_sources.iter().any(|d| d == NAME) {
        return Err(Box::new(ctx.error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
            &[],
        )));
    }
    if let Some(fault) = state.faults.roll() {
        return Err(Box::new(graph::fault_response(state, &ctx, fault)));
    }
    Ok((ctx, now_ns))
}

fn graph_json(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(GRAPH_JSON));
    resp
}

/// The query as Graph shows it at `now_ns`.
fn query_json(api: &AuditSearch, q: &Query, now_ns: i64) -> Value {
    let status = api.status(q, now_ns);
    let mut out = q.echo.clone();
    out.insert(
        "@odata.type".into(),
        json!("#microsoft.graph.security.auditLogQuery"),
    );
    out.insert("id".into(), json!(q.id));
    out.insert("displayName".into(), json!(q.display_name));
    out.insert("status".into(), json!(status.as_str()));
    for k in [
        "recordTypeFilters",
        "serviceFilters",
        "operationFilters",
        "userPrincipalNameFilters",
        "ipAddressFilters",
        "objectIdFilters",
        "administrativeUnitIdFilters",
    ] {
        out.entry(k).or_insert(json!([]));
    }
    out.entry("keywordFilter").or_insert(Value::Null);
    let (exceeded, served) = match (&q.records, status) {
        (Some((all, served)), Status::Succeeded) => (
            json!(*all as u64 > api.settings.record_limit),
            json!(served.len()),
        ),
        _ => (json!(false), Value::Null),
    };
    out.insert("isRecordCountLimitExceeded".into(), exceeded);
    out.insert("approximateReturnedRecordCount".into(), served);
    Value::Object(out)
}

/// Reads a list filter: absent or null is empty, else an array of strings.
fn string_list(body: &Map<String, Value>, key: &str) -> Result<Vec<String>, String> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("'{key}' must be an array of strings."))
            })
            .collect(),
        Some(_) => Err(format!("'{key}' must be an array of strings.")),
    }
}

fn parse_filters(body: &Map<String, Value>) -> Result<Filters, String> {
    let time = |k: &str| -> Result<i64, String> {
        body.get(k)
            .and_then(Value::as_str)
            .and_then(parse_rfc3339)
            .map(to_ns)
            .ok_or_else(|| format!("'{k}' is required: an RFC 3339 date and time."))
    };
    let start_ns = time("filterStartDateTime")?;
    let end_ns = time("filterEndDateTime")?;
    if start_ns >= end_ns {
        return Err("'filterStartDateTime' must be before 'filterEndDateTime'.".into());
    }
    let record_types = string_list(body, "recordTypeFilters")?;
    if let Some(bad) = record_types
        .iter()
        .find(|t| !RECORD_TYPES.iter().any(|(_, n)| n.eq_ignore_ascii_case(t)))
    {
        return Err(format!(
            "Requested value '{bad}' was not found in auditLogRecordType."
        ));
    }
    Ok(Filters {
        start_ns,
        end_ns,
        record_types,
        services: string_list(body, "serviceFilters")?,
        operations: string_list(body, "operationFilters")?,
        upns: string_list(body, "userPrincipalNameFilters")?,
        ips: string_list(body, "ipAddressFilters")?,
        object_ids: string_list(body, "objectIdFilters")?,
        admin_units: string_list(body, "administrativeUnitIdFilters")?,
        keyword: body
            .get("keywordFilter")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .map(str::to_string),
    })
}

async fn create(State(state): State<Arc<SimState>>, headers: HeaderMap, body: Bytes) -> Response {
    let (ctx, now_ns) = match gate(&state, &headers) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return ctx.error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The request body must be an auditLogQuery object.",
            &[],
        );
    };
    let filters = match parse_filters(&body) {
        Ok(f) => f,
        Err(msg) => return ctx.error(StatusCode::BAD_REQUEST, "BadRequest", &msg, &[]),
    };
    let api = &state.audit_search;
    let mut queries = lock(&api.queries);
    if let Some(retry_after) = api.refusal(&queries, now_ns) {
        state.stats.over_budget();
        let mut resp = graph::throttled(
            &ctx,
            "Too many audit log queries. Retry after the time given.",
        );
        if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    let seq = queries.len() as u64 + 1;
    let id = Rng::new(seed_of(&[api.seed, hash_str("audit-query"), seq])).guid();
    let mut echo = body.clone();
    echo.remove("@odata.type");
    echo.remove("id");
    echo.remove("status");
    let q = Query {
        id,
        seq,
        created_ns: now_ns,
        display_name: body
            .get("displayName")
            .and_then(Value::as_str)
            .map(str::to_string),
        filters,
        echo,
        records: None,
    };
    let mut out = query_json(api, &q, now_ns);
    if let Value::Object(m) = &mut out {
        m.insert(
            "@odata.context".into(),
            json!("https://graph.microsoft.com/v1.0/$metadata#security/auditLog/queries/$entity"),
        );
    }
    queries.push(q);
    graph_json(StatusCode::CREATED, &out)
}

async fn list_queries(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    let (_, now_ns) = match gate(&state, &headers) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let api = &state.audit_search;
    let queries = lock(&api.queries);
    let value: Vec<Value> = queries.iter().map(|q| query_json(api, q, now_ns)).collect();
    graph_json(
        StatusCode::OK,
        &json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/auditLog/queries",
            "value": value,
        }),
    )
}

fn not_found(ctx: &GraphCtx, id: &str) -> Response {
    ctx.error(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("No audit log query with id '{id}'."),
        &[],
    )
}

async fn get_query(
    State(state): State<Arc<SimState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (ctx, now_ns) = match gate(&state, &headers) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let api = &state.audit_search;
    let mut queries = lock(&api.queries);
    let Some(q) = queries.iter_mut().find(|q| q.id == id) else {
        return not_found(&ctx, &id);
    };
    // A succeeded query knows its count (and so its limit flag) from the first look on.
    if api.status(q, now_ns) == Status::Succeeded && q.records.is_none() {
        q.records = Some(compute(api, &state.mgmt, q));
    }
    graph_json(StatusCode::OK, &query_json(api, q, now_ns))
}

/// The records a query serves: every match in the log at its end, cut at the limit.
fn compute(api: &AuditSearch, mgmt: &MgmtState, q: &Query) -> (usize, Arc<Vec<Value>>) {
    let matched: Vec<Value> = api
        .log_records(mgmt, q.filters.start_ns, q.filters.end_ns, api.ends_ns(q))
        .into_iter()
        .filter(|(_, r)| matches(&q.filters, r))
        .map(|(_, r)| r)
        .collect();
    let all = matched.len();
    let limit = usize::try_from(api.settings.record_limit).unwrap_or(usize::MAX);
    let served: Vec<Value> = matched.iter().take(limit).map(graph_record).collect();
    (all, Arc::new(served))
}

async fn records(
    State(state): State<Arc<SimState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (ctx, now_ns) = match gate(&state, &headers) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let params = parse_pairs(raw.as_deref().unwrap_or(""));
    let param = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    let top = match param("$top") {
        None => MAX_TOP,
        Some(t) => match t.parse::<usize>() {
            Ok(n) if (1..=MAX_TOP).contains(&n) => n,
            _ => {
                return ctx.error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!("Invalid $top value '{t}': use 1 to {MAX_TOP}."),
                    &[],
                );
            }
        },
    };
    let offset = match param("$skiptoken") {
        None => 0,
        Some(t) => match decode_skip(&t, &id) {
            Some(n) => n,
            None => {
                return ctx.error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "The $skiptoken is not valid for this query.",
                    &[],
                );
            }
        },
    };
    let api = &state.audit_search;
    let served = {
        let mut queries = lock(&api.queries);
        let Some(q) = queries.iter_mut().find(|q| q.id == id) else {
            return not_found(&ctx, &id);
        };
        let status = api.status(q, now_ns);
        if status != Status::Succeeded {
            return ctx.error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!(
                    "The audit log query has not succeeded (status {}).",
                    status.as_str()
                ),
                &[],
            );
        }
        if q.records.is_none() {
            q.records = Some(compute(api, &state.mgmt, q));
        }
        q.records.as_ref().map(|(_, r)| Arc::clone(r))
    };
    let served = served.unwrap_or_default();
    let page: Vec<&Value> = served.iter().skip(offset).take(top).collect();
    let next = offset + page.len();
    let mut body = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/auditLog/queries('{id}')/records",
        "value": page,
    });
    if next < served.len() {
        let mut link = format!(
            "{}{PATH}/{id}/records?$skiptoken={}",
            state.paging_base_or(base_url(&headers, &state)),
            percent_encode(&encode_skip(next, &id))
        );
        if param("$top").is_some() {
            link.push_str(&format!("&$top={top}"));
        }
        body["@odata.nextLink"] = json!(link);
    }
    graph_json(StatusCode::OK, &body)
}

fn encode_skip(offset: usize, id: &str) -> String {
    b64url_encode(format!("q1|{id}|{offset}").as_bytes())
}

fn decode_skip(token: &str, id: &str) -> Option<usize> {
    let raw = String::from_utf8(b64_decode(token)?).ok()?;
    let mut parts = raw.splitn(3, '|');
    (parts.next()? == "q1" && parts.next()? == id)
        .then(|| parts.next()?.parse().ok())
        .flatten()
}

/// `/_sim/truth/audit-search`: see the module doc.
pub fn truth(state: &SimState, raw: Option<&str>) -> Response {
    let params = parse_pairs(raw.unwrap_or(""));
    let time = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| parse_rfc3339(v).or_else(|| parse_rfc3339(&v.trim().replace(' ', "+"))))
    };
    let bad = |msg: &str| {
        graph_json(
            StatusCode::BAD_REQUEST,
            &json!({"error": {"code": "BadRequest", "message": msg}}),
        )
    };
    let (Some(Some(start)), Some(Some(end))) = (time("start"), time("end")) else {
        return bad("'start' and 'end' are required RFC 3339 timestamps.");
    };
    let until = match time("until") {
        None => state.clock.now(),
        Some(Some(u)) => u,
        Some(None) => return bad("'until' is not an RFC 3339 timestamp."),
    };
    axum::Json(
        state
            .audit_search
            .truth(&state.mgmt, to_ns(start), to_ns(end), to_ns(until)),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_tokens_round_trip_and_bind_to_their_query() {
        let t = encode_skip(1500, "abc");
        assert_eq!(decode_skip(&t, "abc"), Some(1500));
        assert_eq!(decode_skip(&t, "abd"), None);
        assert_eq!(decode_skip("not-a-token", "abc"), None);
    }

    #[test]
    fn records_render_as_graph_audit_log_records() {
        let rec = json!({"Id": "x1", "RecordType": 1, "CreationTime": "2026-01-02T03:04:05",
            "Operation": "New-InboxRule", "UserId": "a@b.c", "UserKey": "k", "UserType": 2,
            "Workload": "Exchange", "ClientIP": "203.0.113.9", "OrganizationId": "o"});
        let g = graph_record(&rec);
        assert_eq!(g["id"], "x1");
        assert_eq!(g["createdDateTime"], "2026-01-02T03:04:05Z");
        assert_eq!(g["auditLogRecordType"], "exchangeAdmin");
        assert_eq!(g["userType"], "admin");
        assert_eq!(g["userPrincipalName"], "a@b.c");
        assert_eq!(g["clientIp"], "203.0.113.9");
        assert_eq!(g["auditData"]["Operation"], "New-InboxRule");
        assert_eq!(record_type_name(9999), "unknownFutureValue");
    }

    #[test]
    fn filters_need_both_bounds_in_order_and_known_record_types() {
        let body = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert!(
            parse_filters(&body(
                json!({"filterStartDateTime": "2026-01-01T00:00:00Z"})
            ))
            .is_err()
        );
        assert!(
            parse_filters(&body(json!({"filterStartDateTime": "2026-01-02T00:00:00Z",
                "filterEndDateTime": "2026-01-01T00:00:00Z"})))
            .is_err()
        );
        let e = parse_filters(&body(json!({"filterStartDateTime": "2026-01-01T00:00:00Z",
            "filterEndDateTime": "2026-01-02T00:00:00Z", "recordTypeFilters": ["nope"]})))
        .unwrap_err();
        assert!(e.contains("nope"), "{e}");
        let f = parse_filters(&body(json!({"filterStartDateTime": "2026-01-01T00:00:00Z",
            "filterEndDateTime": "2026-01-02T00:00:00Z", "recordTypeFilters": ["ExchangeAdmin"],
            "operationFilters": ["new-inboxrule"]})))
        .unwrap();
        let rec = json!({"RecordType": 1, "Operation": "New-InboxRule"});
        assert!(matches(&f, &rec));
        assert!(!matches(
            &f,
            &json!({"RecordType": 2, "Operation": "New-InboxRule"})
        ));
    }
}
