//! The shared Microsoft Graph list endpoint: one implementation of Graph's collection
//! conventions for every Graph source (given its [`GraphResource`] and record renderer).
//!
//! A request is checked in this order, each failure answered in Graph's error shape:
//! 1. **Auth**: `Authorization: Bearer <token>` issued by this simulator for the Graph audience
//!    and unexpired on the virtual clock, else 401 `InvalidAuthenticationToken`.
//! 2. **Precondition** of the collection: sign-ins need an Entra ID P1/P2 licence (else 403
//!    `Authentication_RequestFromNonPremiumTenantOrB2CTenant`); message trace needs its service
//!    principal provisioned (else 401 `Unauthorized` naming app id
//!    `8bd644d1-64a1-4d4b-ae52-2e0cbf64e373`).
//! 3. **Request budget** of the collection (see [`crate::budget`]): over it, 429
//!    `TooManyRequests` with `Retry-After`; the refused request is not counted.
//! 4. **Injected faults** (429 with `Retry-After`, 500, 503).
//! 5. **Query**:
//!    - `$filter`: comparisons `<time field> <op> <RFC 3339 value>` with `op` in `ge`, `gt`,
//!      `le`, `lt`, `eq`, joined by ` and ` in any order, each optionally parenthesised; the
//!      value may be single-quoted and carry up to 7 (or 9) fractional digits. A collection with
//!      streams (sign-ins) also takes one `<property>/any(<v>: <v> eq '<stream>')` clause (any
//!      spacing, any lambda variable name, e.g. `signInEventTypes/any(t:t eq 'servicePrincipal')`)
//!      on `/beta`; without it the first stream is served (interactive sign-ins), and `/v1.0`
//!      serves only that one. Anything else is 400 (`Request_UnsupportedQuery` for other
//!      properties, operators, `or` and a second lambda; `BadRequest` for malformed values).
//!    - Collection rules: message trace requires both bounds and a range of at most 10 days
//!      (else 400 `BadRequest` saying so), and serves nothing older than 90 days.
//!    - `$top`: default and maximum per resource (100 and 1000 for directory audits, 1000 and
//!      1000 for sign-ins, 1000 and 5000 for message trace); outside `1..=max` is 400.
//!    - `$orderby`: `<time field> desc` (the default) or `asc`.
//! - **Order**: newest first by time, ties broken by id (descending; ascending with `asc`).
//!   A collection whose records change (`defender-alerts`) filters on the time of each record's
//!   current version but orders and pages by creation time (Graph documents no order for it).
//! - **`$skiptoken`**: opaque; carries the virtual time of the first page (so the page set stays
//!   pinned while the clock moves between pages), the direction and the last `(time, id)` served
//!   (keyset paging: each page costs only the hours it touches).
//! - **Response**: `{"@odata.context", "@odata.nextLink" (absent on the last page), "value"}`;
//!   absolute links are built from the request's `Host` header. Records are rendered for the
//!   request's API version (sign-ins carry beta-only properties on `/beta` only).
//! - **Errors**: `{"error":{"code","message","innerError":{"date","request-id",
//!   "client-request-id"}}}` plus `request-id`/`client-request-id` headers; 429s add
//!   `innerError.code`/`status` = `"429"`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::auth::Audience;
use crate::clock::{NS_PER_SEC, graph_error_date, parse_rfc3339, to_ns};
use crate::faults::Fault;
use crate::server::SimState;
use crate::sources::{
    self, ApiVersion, EventStub, GraphResource, Precondition, SOURCES, SimSource, stream_index,
};
use crate::store::Order;
use crate::wire::{b64_decode, b64url_encode, parse_pairs, percent_encode};

mod query;
use query::QueryError;
pub use query::{Filter, ListQuery, SkipToken, parse_filter, parse_filter_with, parse_query};

/// Graph's JSON content type.
pub const GRAPH_JSON: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// Per-request identifiers Graph echoes in headers and error bodies.
#[derive(Debug, Clone)]
pub struct GraphCtx {
    /// `request-id`: generated per request.
    pub request_id: String,
    /// `client-request-id`: the client's if it sent one, else equal to a fresh GUID.
    pub client_request_id: String,
    /// Virtual time of the request.
    pub now: DateTime<Utc>,
}

impl GraphCtx {
    /// Identifiers for a request carrying `headers`, at virtual time `now`.
    pub fn new(headers: &HeaderMap, now: DateTime<Utc>) -> Self {
        let request_id = uuid::Uuid::new_v4().to_string();
        let client_request_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 200)
            .map_or_else(|| request_id.clone(), str::to_string);
        Self {
            request_id,
            client_request_id,
            now,
        }
    }

    fn stamp(&self, resp: &mut Response) {
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            h.insert("request-id", v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.client_request_id) {
            h.insert("client-request-id", v);
        }
    }

    /// A Graph error response. `inner` entries are added to `innerError`.
    pub fn error(
        &self,
        status: StatusCode,
        code: &str,
        message: &str,
        inner: &[(&str, &str)],
    ) -> Response {
        let mut inner_map = Map::new();
        for (k, v) in inner {
            inner_map.insert((*k).to_string(), Value::String((*v).to_string()));
        }
        inner_map.insert("date".into(), Value::String(graph_error_date(self.now)));
        inner_map.insert("request-id".into(), Value::String(self.request_id.clone()));
        inner_map.insert(
            "client-request-id".into(),
            Value::String(self.client_request_id.clone()),
        );
        let body = json!({"error": {"code": code, "message": message, "innerError": inner_map}});
        let mut resp = (status, body.to_string()).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(GRAPH_JSON));
        self.stamp(&mut resp);
        resp
    }

    fn bad_request(&self, code: &str, message: &str) -> Response {
        self.error(StatusCode::BAD_REQUEST, code, message, &[])
    }
}

#[derive(Serialize)]
struct Page {
    #[serde(rename = "@odata.context")]
    context: String,
    #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
    next_link: Option<String>,
    value: Vec<Box<RawValue>>,
}

/// Serves `GET /{version}/{resource.path}` for source number `src`.
pub async fn list(
    state: Arc<SimState>,
    src: usize,
    res: GraphResource,
    version: &'static str,
    headers: HeaderMap,
    raw_query: Option<String>,
) -> Response {
    let latency = state.faults.latency_ms();
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let now = state.clock.now();
    let ctx = GraphCtx::new(&headers, now);
    let now_ns = to_ns(now);
    if let Err(resp) = check_token(&state, &headers, &ctx, now_ns) {
        return *resp;
    }
    if SOURCES
        .get(src)
        .is_some_and(|s| state.config.denied_sources.iter().any(|d| d == s.name()))
    {
        return ctx.error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
            &[],
        );
    }
    if let Some(refusal) = precondition_refusal(&state, &ctx, &res) {
        return refusal;
    }
    if state.config.enforce_budgets
        && let Some(spec) = res.budget
        && let Err(retry_after) = state.budgets.admit(&spec, now_ns)
    {
        state.stats.over_budget();
        let mut resp = throttled(&ctx, spec.message);
        if res.throttle_retry_after
            && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    if let Some(fault) = state.faults.roll() {
        let mut resp = fault_response(&state, &ctx, fault);
        if !res.throttle_retry_after && fault == Fault::Throttle {
            resp.headers_mut().remove(header::RETRY_AFTER);
            state.stats.throttled_without_retry_after();
        }
        return resp;
    }
    let q = match parse_query(raw_query.as_deref(), &res) {
        Ok(q) => q,
        Err((code, msg)) => return ctx.bad_request(code, &msg),
    };
    let Some(source) = SOURCES.get(src).copied() else {
        return ctx.error(StatusCode::NOT_FOUND, "NotFound", "Unknown source.", &[]);
    };
    let api_version = if version == "beta" {
        ApiVersion::Beta
    } else {
        ApiVersion::V1
    };
    let stream = match select_stream(source, &res, api_version, q.stream.as_deref()) {
        Ok(s) => s,
        Err((code, msg)) => return ctx.bad_request(code, &msg),
    };
    let as_of_ns = q.skip.as_ref().map_or(now_ns, |s| s.as_of_ns);
    let lo_ns = match res.history_days {
        Some(days) => q
            .lo_ns
            .max(as_of_ns.saturating_sub(i64::from(days).saturating_mul(86_400 * NS_PER_SEC))),
        None => q.lo_ns,
    };
    let after = q
        .skip
        .as_ref()
        .map(|s| (s.last_time_ns, s.last_id.as_str()));
    let tenant = state.store.tenant();
    // A collection whose records change filters on the current version's time, which is at
    // most `changes_within_secs` after the creation time the events are walked by.
    let (walk_lo, change_span) = match res.changes_within_secs {
        Some(secs) => (lo_ns.saturating_sub(secs.saturating_mul(NS_PER_SEC)), true),
        None => (lo_ns, false),
    };
    let mut picked: Vec<(EventStub, usize)> = Vec::with_capacity(q.top + 1);
    state
        .store
        .walk(src, walk_lo, q.hi_ns.min(as_of_ns), q.order, after, |e| {
            if e.visible_ns <= as_of_ns && stream.is_none_or(|k| e.stream == k) {
                if change_span {
                    let (revision, at) = sources::current_revision(source, tenant, e, as_of_ns);
                    if at >= lo_ns && at <= q.hi_ns {
                        picked.push((e.clone(), revision));
                    }
                } else {
                    picked.push((e.clone(), 0));
                }
            }
            picked.len() <= q.top
        });
    let more = picked.len() > q.top;
    picked.truncate(q.top);
    let mut value = Vec::with_capacity(picked.len());
    for (e, revision) in &picked {
        let rendered = if change_span {
            source.render_revision(tenant, e, *revision)
        } else {
            source.render_version(tenant, e, api_version)
        };
        match rendered {
            Ok(v) => value.push(v),
            Err(error) => {
                tracing::error!(%error, id = %e.id, "Record failed to render.");
                return ctx.error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "UnknownError",
                    "Record rendering failed.",
                    &[],
                );
            }
        }
    }
    let base = base_url(&headers, &state);
    let next_link = match (more, picked.last().map(|(e, _)| e)) {
        (true, Some(last)) => {
            let token = SkipToken {
                as_of_ns,
                order: q.order,
                last_time_ns: last.time_ns,
                last_id: last.id.to_string(),
            };
            let mut params = Vec::new();
            if let Some(f) = &q.filter {
                params.push(format!("$filter={}", percent_encode(f)));
            }
            if q.top_given {
                params.push(format!("$top={}", q.top));
            }
            if let Some(o) = &q.orderby {
                params.push(format!("$orderby={}", percent_encode(o)));
            }
            params.push(format!("$skiptoken={}", token.encode()));
            Some(format!(
                "{}/{version}/{}?{}",
                state.paging_base_or(base.clone()),
                res.path,
                params.join("&")
            ))
        }
        _ => None,
    };
    let page = Page {
        context: format!("{base}/{version}/$metadata#{}", res.path),
        next_link,
        value,
    };
    let body = match serde_json::to_string(&page) {
        Ok(b) => b,
        Err(error) => {
            tracing::error!(%error, "Page failed to serialize.");
            return ctx.error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "UnknownError",
                "Serialization failed.",
                &[],
            );
        }
    };
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(GRAPH_JSON));
    ctx.stamp(&mut resp);
    resp
}

/// The Exchange message trace first-party app whose service principal a tenant must provision.
pub const MESSAGE_TRACE_APP_ID: &str = "8bd644d1-64a1-4d4b-ae52-2e0cbf64e373";

/// The licence or provisioning error for `res`, when the tenant lacks what it needs.
fn precondition_refusal(state: &SimState, ctx: &GraphCtx, res: &GraphResource) -> Option<Response> {
    match res.precondition {
        Precondition::None => None,
        Precondition::PremiumLicence if state.config.premium => None,
        Precondition::PremiumLicence => Some(ctx.error(
            StatusCode::FORBIDDEN,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
            &[],
        )),
        Precondition::PremiumP2Licence if state.config.premium && state.config.premium_p2 => None,
        Precondition::PremiumP2Licence => Some(ctx.error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "The tenant does not have a valid Microsoft Entra ID P2 license, which Identity Protection requires.",
            &[],
        )),
        Precondition::MessageTraceServicePrincipal if state.config.message_trace_provisioned => {
            None
        }
        Precondition::MessageTraceServicePrincipal => {
            state.stats.unauthorized();
            Some(ctx.error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                &format!(
                    "Service principal-less authentication failed: The service principal for App ID {MESSAGE_TRACE_APP_ID} was not found. The Exchange message trace service principal (app id {MESSAGE_TRACE_APP_ID}) is not provisioned in tenant {}: create it (New-MgServicePrincipal -AppId {MESSAGE_TRACE_APP_ID}); provisioning may take several hours to complete.",
                    state.config.tenant
                ),
                &[],
            ))
        }
    }
}

/// Which stream a request reads: `None` for a source without streams, else the stream its
/// `<stream property>/any(...)` clause names (beta only) or, without one, the first stream.
fn select_stream(
    source: &dyn SimSource,
    res: &GraphResource,
    version: ApiVersion,
    asked: Option<&str>,
) -> Result<Option<u8>, QueryError> {
    let streams = source.streams();
    if streams.is_empty() {
        return Ok(None);
    }
    let Some(name) = asked else {
        return Ok(Some(0));
    };
    let prop = res.stream_property.unwrap_or("stream");
    if version == ApiVersion::V1 {
        return Err((
            "BadRequest",
            format!(
                "Could not find a property named '{prop}' on type 'microsoft.graph.signIn'. The /v1.0 endpoint serves interactive user sign-ins only; use /beta with '{prop}/any(t: t eq '<type>')' for the other kinds."
            ),
        ));
    }
    stream_index(source, name).map(Some).ok_or_else(|| {
        let names: Vec<&str> = streams.iter().map(|s| s.name).collect();
        (
            "BadRequest",
            format!(
                "Invalid {prop} value '{name}': use one of {}.",
                names.join(", ")
            ),
        )
    })
}

/// Step 1 of the module doc: a live Graph token, else the 401 Graph answers.
pub(crate) fn check_token(
    state: &SimState,
    headers: &HeaderMap,
    ctx: &GraphCtx,
    now_ns: i64,
) -> Result<(), Box<Response>> {
    let Err(e) = state.tokens.check(headers, Audience::Graph, now_ns) else {
        return Ok(());
    };
    state.stats.unauthorized();
    let mut resp = ctx.error(
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
        e.message(),
        &[],
    );
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
        ),
    );
    Err(Box::new(resp))
}

pub(crate) fn throttled(ctx: &GraphCtx, message: &str) -> Response {
    ctx.error(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        message,
        &[
            ("code", "429"),
            ("status", "429"),
            ("message", "Please retry after"),
        ],
    )
}

pub(crate) fn fault_response(state: &SimState, ctx: &GraphCtx, fault: Fault) -> Response {
    let retry_after = state.config.retry_after_secs.to_string();
    let mut resp = match fault {
        Fault::Throttle => {
            state.stats.throttled();
            throttled(ctx, "Too many requests.")
        }
        Fault::Internal => {
            state.stats.server_error();
            return ctx.error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "UnknownError",
                "An unexpected error occurred. Please retry.",
                &[],
            );
        }
        Fault::Unavailable => {
            state.stats.server_error();
            ctx.error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The service is temporarily unavailable. Please retry.",
                &[],
            )
        }
    };
    if let Ok(v) = HeaderValue::from_str(&retry_after) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// `http://<Host>` of the request, or the bound address when there is no usable `Host`.
pub fn base_url(headers: &HeaderMap, state: &SimState) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(
            || format!("http://127.0.0.1:{}", state.port),
            |h| format!("http://{h}"),
        )
}
