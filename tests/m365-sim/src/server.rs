//! Routing, shared state and the `/_sim` control plane.
//!
//! The router is built from [`SOURCES`]: every Graph source gets `GET /v1.0/<path>` and
//! `GET /beta/<path>`. Next to them sit the Management Activity API ([`crate::mgmt::routes`]),
//! the token endpoints and the control plane:
//! - `GET|POST /_sim/clock`: read or move the virtual clock (`{"now"}` or `{"advance_secs"}`;
//!   backwards is 400);
//! - `GET /_sim/sources`: registered source names, in registry order, then `m365-activity`;
//! - `GET /_sim/truth/{source}?until=RFC3339[&stream=NAME][&detail=true]`: ids of every record
//!   visible by `until` (default now) and still within the collection's history (message trace:
//!   90 days before `until`), sorted; `stream` keeps one stream of a source with streams
//!   (`entra-sign-ins`: `interactiveUser`, `nonInteractiveUser`, `servicePrincipal`,
//!   `managedIdentity`; without it, all of them); `detail=true` adds `events` with each id's
//!   time, visibility instant and (for sources with streams) stream, and for a source whose
//!   records change (`defender-alerts`) `updates` (every update instant, served or not yet),
//!   `revision` (how many of them are served at `until`) and `current_time` (that version's
//!   time: `lastUpdateDateTime`); `count=true` answers
//!   `{"source","as_of","count"}` (and `"stream"`) without the ids, for histories of a million
//!   events whose id list a benchmark must not hold in memory (`detail` is then ignored);
//! - `GET /_sim/truth/m365-activity?until=RFC3339[&stream=<content type>][&detail=true]`: the
//!   Management Activity API's truth, `{"source":"m365-activity","as_of","ids","expired_ids"}`
//!   (plus `"stream"` when given). `ids`: every distinct record `Id` in the blobs listed by
//!   `until` (all content types unless `stream`), sorted. `expired_ids`: those ids that were in a
//!   blob that expired by `until` without ever being fetched successfully **and** that appear in
//!   no other blob listed by `until` that is still fetchable at `until` or was fetched (fetches
//!   are counted up to the moment of the request), sorted. `detail=true` adds
//!   `"blobs":[{"content_type","content_id","content_created","listed_at","expiration",
//!   "fetches","records"}]` (times as in the listing, `records` = the number of records the blob
//!   serves) and `"expired_content_ids"` (blobs expired by `until` and never fetched, sorted);
//! - `GET /_sim/truth/attacks?until=RFC3339[&source=NAME]`: the planted attack scenarios (see
//!   [`crate::attacks`]) whose records are all served by `until` (default now): Graph records
//!   visible, Management Activity records in blobs listed by then. `{"source":"attacks","as_of",
//!   "count","attacks":[...]}` (plus `"of_source"` when `source` keeps one source's), oldest
//!   first, each `{"id":"<day>/<scenario>","scenario","rule_id","source","stream","summary",
//!   "time","trigger_time","visible_at","record_ids","trigger_record_id"}` and, for a threshold
//!   rule, `"threshold"`: the rule of the pack it must raise once; `stream` the sign-in kind or
//!   content type (`null` for a source without streams); `time` its first record's event time;
//!   `record_ids` every record of it in time order (`id`, or `Id` for the Management Activity
//!   API); `trigger_record_id` / `trigger_time` the record that raises the alert (for a
//!   threshold, the one whose count reaches `threshold` when the burst is counted alone: a
//!   benign failure of the same group in the window may make an earlier one cross);
//!   `visible_at` when the last of them is first served. With attacks off, `count` is 0;
//! - `GET /_sim/truth/audit-search?start=RFC3339&end=RFC3339[&until=RFC3339]`: the unified audit
//!   log's record ids in a window, as Graph's audit log query API searches it (see
//!   [`crate::audit_search`]); `GET /_sim/audit-search/queries`: every query submitted, with its
//!   window and virtual submission time;
//! - `GET|POST /_sim/paging-base`: where next-page links point (`{"base": URL}`, or `null` for this
//!   simulator, the default): a hostile Graph page or Management API listing whose
//!   `@odata.nextLink` / `NextPageUri` names another host, port or scheme, for the collector's
//!   refusal to carry its token there;
//! - `GET /_sim/hostile`, `GET|POST /_sim/beacon`: the planted hostile values and the beacon a
//!   planted `<script>` would call ([`crate::hostile`]);
//! - `GET /_sim/stats`: counters, with the Management API's under `mgmt`:
//!   `{"listings","blob_fetches","blobs_fetched_twice","expired_fetches",
//!   "subscription_starts":{type:n},"disabled":{type:n},"af429","missing_publisher"}`.
//!
//! A middleware stamps every response with an RFC 7231 `Date` from the virtual clock and counts
//! requests per route. Unknown routes get a 404 in Graph's error shape.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::SimConfig;
use crate::auth::{self, TokenStore};
use crate::budget::Budgets;
use crate::clock::{NS_PER_SEC, VirtualClock, from_ns, http_date, parse_rfc3339, rfc3339, to_ns};
use crate::faults::Faults;
use crate::graph::{self, GraphCtx};
use crate::mgmt::{self, MgmtState};
use crate::sources::{self, EventStub, SOURCES, ScheduleParams, SourceApi};
use crate::stats::Stats;
use crate::store::EventStore;
use crate::store::Order;
use crate::tenant::Tenant;
use crate::wire::parse_pairs;

/// The clock refuses to move past 2200-01-01T00:00:00Z (nanosecond instants end in 2262, and
/// nothing sensible needs more).
const LATEST_NS: i64 = 7_258_118_400 * NS_PER_SEC;

/// Everything the handlers share.
pub struct SimState {
    /// The configuration the simulator was started with.
    pub config: SimConfig,
    /// The bound port (fallback for absolute URLs).
    pub port: u16,
    /// The virtual clock.
    pub clock: VirtualClock,
    /// Generated events.
    pub store: EventStore,
    /// Issued tokens.
    pub tokens: TokenStore,
    /// Fault dice.
    pub faults: Faults,
    /// Request budget windows.
    pub budgets: Budgets,
    /// Counters.
    pub stats: Stats,
    /// The Office 365 Management Activity API.
    pub mgmt: MgmtState,
    /// Where next-page links point when set (`/_sim/paging-base`); `None`: this simulator.
    pub paging_base: std::sync::Mutex<Option<String>>,
    /// The schedule of planted attacks, when there are any.
    pub attacks: Option<crate::attacks::Schedule>,
    /// Graph's audit log query API (`/v1.0/security/auditLog/queries`).
    pub audit_search: crate::audit_search::AuditSearch,
    /// Authorization codes waiting for their redemption (the console's sign-in).
    pub codes: crate::authorize::Codes,
    /// Calls of the hostile payloads' beacon (`/_sim/beacon`).
    pub beacon: crate::hostile::Beacon,
}

impl SimState {
    /// State for `config`, serving on `port`.
    pub fn new(config: SimConfig, port: u16) -> Self {
        let now = config.initial_now();
        let start_ns =
            to_ns(now).saturating_sub(i64::from(config.days).saturating_mul(86_400 * NS_PER_SEC));
        let mut tenant = Tenant::generate(config.seed, &config.tenant);
        if config.hostile {
            let beacon = config.hostile_beacon.as_deref().unwrap_or_default();
            crate::hostile::plant(&mut tenant, beacon.trim_end_matches('/'));
        }
        let tenant = Arc::new(tenant);
        let params = ScheduleParams {
            seed: config.seed,
            events_per_hour: config.events_per_hour,
            ingest_delay_secs: config.ingest_delay_secs,
            attacks_from_ns: config.attacks.then_some(start_ns),
        };
        Self {
            port,
            clock: VirtualClock::new(now),
            mgmt: MgmtState::new(&config, Arc::clone(&tenant), start_ns),
            store: EventStore::new(params, tenant, start_ns),
            tokens: TokenStore::default(),
            faults: {
                let f = Faults::new(config.seed, config.fault_429, config.fault_5xx);
                f.set_latency_ms(config.latency_ms);
                f
            },
            budgets: Budgets::new(),
            stats: Stats::default(),
            paging_base: std::sync::Mutex::new(None),
            attacks: crate::attacks::Schedule::of(&params),
            audit_search: crate::audit_search::AuditSearch::new(
                config.audit_search.clone(),
                config.seed,
                to_ns(now),
            ),
            codes: Default::default(),
            beacon: Default::default(),
            config,
        }
    }

    /// The base of next-page links: the override of `/_sim/paging-base`, else `own`.
    pub fn paging_base_or(&self, own: String) -> String {
        self.paging_base
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or(own)
    }
}

/// The whole HTTP surface.
pub fn router(state: Arc<SimState>) -> Router {
    let mut r = Router::new()
        .merge(crate::oidc::routes())
        .merge(crate::hostile::routes())
        .route(
            "/{tenant}/oauth2/v2.0/token",
            post(auth::token_v2).options(crate::authorize::token_preflight),
        )
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(crate::authorize::authorize),
        )
        .route("/{tenant}/oauth2/token", post(auth::token_v1))
        .route("/_sim/clock", get(clock_get).post(clock_post))
        .route("/_sim/sources", get(list_sources))
        .route("/_sim/truth/{source}", get(truth))
        .route("/_sim/stats", get(stats))
        .route("/_sim/faults", get(faults_get).post(faults_post))
        .route(
            "/_sim/paging-base",
            get(paging_base_get).post(paging_base_post),
        );
    for (i, source) in SOURCES.iter().enumerate() {
        match source.api() {
            SourceApi::Graph(res) => {
                for version in ["v1.0", "beta"] {
                    let path = format!("/{version}/{}", res.path);
                    r = r.route(
                        &path,
                        get(
                            move |State(st): State<Arc<SimState>>,
                                  headers: HeaderMap,
                                  RawQuery(q): RawQuery| {
                                graph::list(st, i, res, version, headers, q)
                            },
                        ),
                    );
                }
            }
        }
    }
    r = mgmt::routes::routes(r);
    r = crate::audit_search::routes(r);
    r.route_layer(middleware::from_fn_with_state(
        Arc::clone(&state),
        count_route,
    ))
    .fallback(fallback)
    .method_not_allowed_fallback(method_not_allowed)
    .layer(middleware::from_fn_with_state(
        Arc::clone(&state),
        date_header,
    ))
    .with_state(state)
}

async fn count_route(State(state): State<Arc<SimState>>, req: Request, next: Next) -> Response {
    let label = match req.extensions().get::<MatchedPath>() {
        Some(p) => format!("{} {}", req.method(), p.as_str()),
        None => "unmatched".to_string(),
    };
    state.stats.request(&label);
    next.run(req).await
}

async fn date_header(State(state): State<Arc<SimState>>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&http_date(state.clock.now())) {
        resp.headers_mut().insert(header::DATE, v);
    }
    resp
}

/// Unknown routes: Graph paths in another letter case are served (Graph's paths are
/// case-insensitive); everything else is a Graph-shaped 404.
async fn fallback(
    State(state): State<Arc<SimState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path();
    if method == Method::GET {
        for (i, source) in SOURCES.iter().enumerate() {
            let Some(res) = source.api().graph() else {
                continue;
            };
            for version in ["v1.0", "beta"] {
                if path.eq_ignore_ascii_case(&format!("/{version}/{}", res.path)) {
                    state.stats.request(&format!("GET /{version}/{}", res.path));
                    let q = uri.query().map(str::to_string);
                    return graph::list(Arc::clone(&state), i, res, version, headers, q).await;
                }
            }
        }
    }
    state.stats.request("unmatched");
    let ctx = GraphCtx::new(&headers, state.clock.now());
    ctx.error(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!(
            "Resource not found for the segment '{}' ({method} {path}).",
            path.trim_start_matches('/')
        ),
        &[],
    )
}

/// A known path with the wrong method: Graph-shaped 405.
async fn method_not_allowed(
    State(state): State<Arc<SimState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    state.stats.request("unmatched");
    let ctx = GraphCtx::new(&headers, state.clock.now());
    ctx.error(
        StatusCode::METHOD_NOT_ALLOWED,
        "Request_BadRequest",
        &format!(
            "The HTTP method '{method}' is not allowed on '{}'.",
            uri.path()
        ),
        &[],
    )
}

fn sim_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn clock_json(state: &SimState) -> Response {
    axum::Json(json!({"now": rfc3339(state.clock.now())})).into_response()
}

async fn clock_get(State(state): State<Arc<SimState>>) -> Response {
    clock_json(&state)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockMove {
    now: Option<String>,
    advance_secs: Option<f64>,
}

#[derive(Deserialize)]
struct FaultRates {
    fault_429: f64,
    fault_5xx: f64,
    /// Unchanged when absent.
    latency_ms: Option<u64>,
}

#[derive(serde::Deserialize)]
struct PagingBase {
    base: Option<String>,
}

/// `GET /_sim/paging-base`: `{"base": URL or null}`.
async fn paging_base_get(State(state): State<Arc<SimState>>) -> Response {
    let base = state
        .paging_base
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    axum::Json(serde_json::json!({ "base": base })).into_response()
}

/// `POST /_sim/paging-base` with `{"base": URL}` or `{"base": null}`.
async fn paging_base_post(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    match serde_json::from_slice::<PagingBase>(&body) {
        Ok(PagingBase { base }) => {
            *state.paging_base.lock().unwrap_or_else(|p| p.into_inner()) =
                base.map(|b| b.trim_end_matches('/').to_string());
            paging_base_get(State(state)).await
        }
        Err(e) => sim_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Body must be {{\"base\": URL or null}}: {e}"),
        ),
    }
}

/// `GET /_sim/faults`: the current fault probabilities.
async fn faults_get(State(state): State<Arc<SimState>>) -> Response {
    let (fault_429, fault_5xx) = state.faults.rates();
    let latency_ms = state.faults.latency_ms();
    axum::Json(serde_json::json!({"fault_429": fault_429, "fault_5xx": fault_5xx, "latency_ms": latency_ms}))
        .into_response()
}

/// `POST /_sim/faults` with `{"fault_429": p, "fault_5xx": q, "latency_ms": n}`: changes the fault
/// probabilities and (when given) the delay of every data response.
async fn faults_post(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultRates>(&body) {
        Ok(r)
            if (0.0..=1.0).contains(&r.fault_429)
                && (0.0..=1.0).contains(&r.fault_5xx)
                && r.fault_429 + r.fault_5xx <= 1.0 =>
        {
            state.faults.set(r.fault_429, r.fault_5xx);
            if let Some(ms) = r.latency_ms {
                state.faults.set_latency_ms(ms.min(60_000));
            }
            faults_get(State(state)).await
        }
        _ => sim_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Body must be {\"fault_429\": p, \"fault_5xx\": q} with probabilities in [0, 1] summing to at most 1.",
        ),
    }
}

async fn clock_post(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    let req: ClockMove = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return sim_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("Body must be {{\"now\": RFC3339}} or {{\"advance_secs\": N}}: {e}"),
            );
        }
    };
    let moved = match (req.now, req.advance_secs) {
        (Some(now), None) => match parse_rfc3339(&now) {
            Some(t) if to_ns(t) > LATEST_NS => return too_late(),
            Some(t) => state.clock.set(t),
            None => {
                return sim_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!("'now' is not an RFC 3339 timestamp: '{now}'."),
                );
            }
        },
        (None, Some(secs)) if (0.0..1e10).contains(&secs) => {
            let ns = (secs * NS_PER_SEC as f64).round() as i64;
            if to_ns(state.clock.now()).saturating_add(ns) > LATEST_NS {
                return too_late();
            }
            state.clock.advance_ns(ns)
        }
        (None, Some(secs)) => {
            return sim_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!(
                    "'advance_secs' must be a non-negative number of seconds, got {secs}; the clock never moves backwards."
                ),
            );
        }
        _ => {
            return sim_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Give exactly one of 'now' (RFC 3339) or 'advance_secs'.",
            );
        }
    };
    match moved {
        Ok(_) => clock_json(&state),
        Err(e) => sim_error(
            StatusCode::BAD_REQUEST,
            "ClockBackwards",
            &format!(
                "The virtual clock never moves backwards: it is {} and {} was requested.",
                rfc3339(e.current),
                rfc3339(e.requested)
            ),
        ),
    }
}

fn too_late() -> Response {
    sim_error(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        "The virtual clock cannot move past 2200-01-01T00:00:00Z.",
    )
}

async fn list_sources() -> Response {
    let mut names: Vec<&str> = SOURCES.iter().map(|s| s.name()).collect();
    names.push(mgmt::SOURCE_NAME);
    axum::Json(names).into_response()
}

async fn truth(
    State(state): State<Arc<SimState>>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    if name == mgmt::SOURCE_NAME {
        return mgmt_truth(&state, q.as_deref());
    }
    if name == "attacks" {
        return attacks_truth(&state, q.as_deref());
    }
    if name == crate::audit_search::NAME {
        return crate::audit_search::truth(&state, q.as_deref());
    }
    let Some((idx, source)) = sources::find(&name) else {
        return sim_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("Unknown source '{name}'. See /_sim/sources."),
        );
    };
    let (params, until) = match truth_query(&state, q.as_deref()) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let detail = param(&params, "detail").is_some_and(|d| d == "true" || d == "1");
    let count_only = param(&params, "count").is_some_and(|d| d == "true" || d == "1");
    let streams = source.streams();
    let stream = match param(&params, "stream") {
        None => None,
        Some(s) => match sources::stream_index(source, &s) {
            Some(k) => Some(k),
            None => {
                let names: Vec<&str> = streams.iter().map(|s| s.name).collect();
                let msg = if names.is_empty() {
                    format!("Source '{name}' has no streams; drop 'stream'.")
                } else {
                    format!(
                        "Unknown stream '{s}' of source '{name}'; use one of {}.",
                        names.join(", ")
                    )
                };
                return sim_error(StatusCode::BAD_REQUEST, "BadRequest", &msg);
            }
        },
    };
    let until_ns = to_ns(until);
    let history_from = source
        .api()
        .graph()
        .and_then(|res| res.history_days)
        .map_or(i64::MIN, |days| {
            until_ns.saturating_sub(i64::from(days).saturating_mul(86_400 * NS_PER_SEC))
        });
    let visible = |e: &EventStub| e.visible_ns <= until_ns && stream.is_none_or(|k| e.stream == k);
    let lo_ns = history_from.max(state.store.start_ns());
    if count_only {
        let mut count = 0u64;
        state
            .store
            .walk(idx, lo_ns, until_ns, Order::Asc, None, |e| {
                count += u64::from(visible(e));
                true
            });
        let mut body = json!({"source": source.name(), "as_of": rfc3339(until), "count": count});
        if let Some(k) = stream {
            body["stream"] = json!(streams.get(usize::from(k)).map(|s| s.name));
        }
        return axum::Json(body).into_response();
    }
    let mut events = Vec::new();
    state
        .store
        .walk(idx, lo_ns, until_ns, Order::Asc, None, |e| {
            if visible(e) {
                events.push(e.clone());
            }
            true
        });
    events.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let ids: Vec<&str> = events.iter().map(|e| &*e.id).collect();
    let mut body = json!({
        "source": source.name(),
        "as_of": rfc3339(until),
        "ids": ids,
        "expired_ids": [],
    });
    if let Some(k) = stream {
        body["stream"] = json!(streams.get(usize::from(k)).map(|s| s.name));
    }
    if detail {
        let changes = source
            .api()
            .graph()
            .is_some_and(|res| res.changes_within_secs.is_some());
        let list: Vec<_> = events
            .iter()
            .map(|e| {
                let mut item = json!({
                    "id": &*e.id,
                    "time": rfc3339(from_ns(e.time_ns)),
                    "visible_at": rfc3339(from_ns(e.visible_ns)),
                });
                if let Some(s) = streams.get(usize::from(e.stream)) {
                    item["stream"] = json!(s.name);
                }
                // A record that changes: every update it will have, and the one served now.
                if changes {
                    let tenant = state.store.tenant();
                    let (revision, at) = sources::current_revision(source, tenant, e, until_ns);
                    let updates: Vec<String> = source
                        .updates(tenant, e)
                        .into_iter()
                        .map(|u| rfc3339(from_ns(u)))
                        .collect();
                    item["updates"] = json!(updates);
                    item["revision"] = json!(revision);
                    item["current_time"] = json!(rfc3339(from_ns(at)));
                }
                item
            })
            .collect();
        body["events"] = serde_json::Value::Array(list);
    }
    axum::Json(body).into_response()
}

async fn stats(State(state): State<Arc<SimState>>) -> Response {
    let mut v = serde_json::to_value(state.stats.snapshot()).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        // Requests that came back before the Retry-After of a budget refusal had passed.
        obj.insert("early_retries".into(), state.budgets.early_retries().into());
        obj.insert("mgmt".into(), state.mgmt.stats_json());
    }
    axum::Json(v).into_response()
}

/// A truth route's query: a lookup of its parameters, and `until` (default: now; a bad one is a
/// 400).
fn truth_query(state: &SimState, q: Option<&str>) -> Result<TruthQuery, Box<Response>> {
    let params = parse_pairs(q.unwrap_or(""));
    let until = match param(&params, "until") {
        None => state.clock.now(),
        // An unencoded '+' offset arrives as a space; take it back.
        Some(u) => parse_rfc3339(&u)
            .or_else(|| parse_rfc3339(&u.trim().replace(' ', "+")))
            .ok_or_else(|| {
                Box::new(sim_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!("'until' is not an RFC 3339 timestamp: '{u}'."),
                ))
            })?,
    };
    Ok((params, until))
}

/// A truth route's parameters and its `until`.
type TruthQuery = (Vec<(String, String)>, chrono::DateTime<chrono::Utc>);

/// The value of query parameter `k`.
fn param(params: &[(String, String)], k: &str) -> Option<String> {
    params
        .iter()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v.clone())
}

/// `/_sim/truth/attacks`: see [`crate::attacks::truth`] and the module doc.
fn attacks_truth(state: &SimState, q: Option<&str>) -> Response {
    let (params, until) = match truth_query(state, q) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let source = param(&params, "source");
    if let Some(s) = &source
        && sources::find(s).is_none()
        && s != mgmt::SOURCE_NAME
    {
        return sim_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Unknown source '{s}'. See /_sim/sources."),
        );
    }
    axum::Json(crate::attacks::truth::truth(
        state.attacks.as_ref(),
        state.store.tenant(),
        &state.mgmt,
        to_ns(until),
        source.as_deref(),
    ))
    .into_response()
}

/// `/_sim/truth/m365-activity`: see [`MgmtState::truth`] and the module doc.
fn mgmt_truth(state: &SimState, q: Option<&str>) -> Response {
    let (params, until) = match truth_query(state, q) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let stream = match param(&params, "stream") {
        None => None,
        Some(s) => match mgmt::content_type_index(&s) {
            Some(k) => Some(k),
            None => {
                let names: Vec<&str> = mgmt::CONTENT_TYPES.iter().map(|c| c.name).collect();
                return sim_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!(
                        "Unknown stream '{s}' of source '{}'; use one of {}.",
                        mgmt::SOURCE_NAME,
                        names.join(", ")
                    ),
                );
            }
        },
    };
    let detail = param(&params, "detail").is_some_and(|d| d == "true" || d == "1");
    axum::Json(state.mgmt.truth(to_ns(until), stream, detail)).into_response()
}
