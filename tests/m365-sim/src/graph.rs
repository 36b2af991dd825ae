//! The shared Microsoft Graph list endpoint: one implementation of Graph's collection
//! conventions for every Graph source (given its [`GraphResource`] and record renderer).
//!
//! - **Auth**: `Authorization: Bearer <token>` issued by this simulator for the Graph audience and
//!   unexpired on the virtual clock, else 401 `InvalidAuthenticationToken`.
//! - **`$filter`**: comparisons `<time field> <op> <RFC 3339 value>` with `op` in `ge`, `gt`,
//!   `le`, `lt`, `eq`, joined by ` and ` in any order; the value may be single-quoted and carry up
//!   to 7 (or 9) fractional digits. Anything else is 400 (`Request_UnsupportedQuery` for other
//!   properties, operators and keywords; `BadRequest` for malformed values).
//! - **`$top`**: default and maximum per resource (100 and 1000 for directory audits); outside
//!   `1..=max` is 400.
//! - **`$orderby`**: `<time field> desc` (the default) or `asc`.
//! - **Order**: newest first by time, ties broken by id (descending; ascending with `asc`).
//! - **`$skiptoken`**: opaque; carries the virtual time of the first page (so the page set stays
//!   pinned while the clock moves between pages), the direction and the last `(time, id)` served
//!   (keyset paging: each page costs only the hours it touches).
//! - **Response**: `{"@odata.context", "@odata.nextLink" (absent on the last page), "value"}`;
//!   absolute links are built from the request's `Host` header.
//! - **Errors**: `{"error":{"code","message","innerError":{"date","request-id",
//!   "client-request-id"}}}` plus `request-id`/`client-request-id` headers; injected faults
//!   (429 with `Retry-After`, 500, 503) use the same shape.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::auth::Audience;
use crate::clock::{graph_error_date, parse_rfc3339, to_ns};
use crate::faults::Fault;
use crate::server::SimState;
use crate::sources::{GraphResource, SOURCES};
use crate::store::Order;
use crate::wire::{b64_decode, b64url_encode, parse_pairs, percent_encode};

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

/// The bounds and order a list request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Inclusive lower bound on the time field (ns).
    pub lo_ns: i64,
    /// Inclusive upper bound on the time field (ns).
    pub hi_ns: i64,
    /// The raw `$filter` (echoed into nextLink).
    pub filter: Option<String>,
    /// Page size.
    pub top: usize,
    /// Whether `$top` was given (echoed into nextLink only then).
    pub top_given: bool,
    /// The raw `$orderby` (echoed into nextLink).
    pub orderby: Option<String>,
    /// Direction.
    pub order: Order,
    /// Continuation.
    pub skip: Option<SkipToken>,
}

/// The continuation state inside `$skiptoken`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkipToken {
    /// Virtual time (ns) the page set is pinned to.
    pub as_of_ns: i64,
    /// Direction of the walk.
    pub order: Order,
    /// Time (ns) of the last record served.
    pub last_time_ns: i64,
    /// Id of the last record served.
    pub last_id: String,
}

impl SkipToken {
    /// The opaque wire form.
    pub fn encode(&self) -> String {
        let dir = if self.order == Order::Asc { "a" } else { "d" };
        b64url_encode(
            format!(
                "s1|{}|{dir}|{}|{}",
                self.as_of_ns, self.last_time_ns, self.last_id
            )
            .as_bytes(),
        )
    }

    /// Parses the wire form; `None` if it is not one of ours.
    pub fn decode(s: &str) -> Option<Self> {
        let raw = String::from_utf8(b64_decode(s)?).ok()?;
        let mut parts = raw.splitn(5, '|');
        if parts.next()? != "s1" {
            return None;
        }
        let as_of_ns = parts.next()?.parse().ok()?;
        let order = match parts.next()? {
            "a" => Order::Asc,
            "d" => Order::Desc,
            _ => return None,
        };
        let last_time_ns = parts.next()?.parse().ok()?;
        let last_id = parts.next()?.to_string();
        Some(Self {
            as_of_ns,
            order,
            last_time_ns,
            last_id,
        })
    }
}

/// A refused query: Graph error code and message.
type QueryError = (&'static str, String);

fn unsupported(msg: String) -> QueryError {
    ("Request_UnsupportedQuery", msg)
}

/// Parses a `$filter` over `field` into inclusive ns bounds.
pub fn parse_filter(filter: &str, field: &str) -> Result<(i64, i64), QueryError> {
    let tokens: Vec<&str> = filter.split_whitespace().collect();
    if tokens.is_empty() {
        return Err((
            "BadRequest",
            "Invalid filter clause: the $filter expression is empty.".into(),
        ));
    }
    let (mut lo, mut hi) = (i64::MIN, i64::MAX);
    let mut i = 0;
    loop {
        let clause = tokens.get(i..i + 3).ok_or_else(|| {
            (
                "BadRequest",
                format!("Invalid filter clause: expected '{field} <ge|gt|le|lt|eq> <DateTimeOffset>' in '{filter}'."),
            )
        })?;
        let name = clause[0].trim_start_matches('(');
        let op = clause[1];
        let value = clause[2].trim_end_matches(')');
        if !name.eq_ignore_ascii_case(field) {
            return Err(unsupported(format!(
                "Unsupported query: filtering on '{name}' is not supported by this simulator; only '{field}' comparisons joined by 'and' are."
            )));
        }
        let value = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .unwrap_or(value);
        let t = parse_rfc3339(value).map(to_ns).ok_or_else(|| {
            (
                "BadRequest",
                format!(
                    "The DateTimeOffset text '{value}' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid range."
                ),
            )
        })?;
        match op.to_ascii_lowercase().as_str() {
            "ge" => lo = lo.max(t),
            "gt" => lo = lo.max(t.saturating_add(1)),
            "le" => hi = hi.min(t),
            "lt" => hi = hi.min(t.saturating_sub(1)),
            "eq" => {
                lo = lo.max(t);
                hi = hi.min(t);
            }
            other => {
                return Err(unsupported(format!(
                    "Unsupported query: operator '{other}' is not supported on '{field}'; use ge, gt, le, lt or eq."
                )));
            }
        }
        i += 3;
        match tokens.get(i) {
            None => break,
            Some(t) if t.eq_ignore_ascii_case("and") => i += 1,
            Some(t) => {
                return Err(unsupported(format!(
                    "Unsupported query: '{t}' is not supported in $filter; combine '{field}' comparisons with 'and'."
                )));
            }
        }
    }
    Ok((lo, hi))
}

/// Parses the query string of a list request.
pub fn parse_query(raw: Option<&str>, res: &GraphResource) -> Result<ListQuery, QueryError> {
    let mut filter = None;
    let mut top = None;
    let mut skip = None;
    let mut orderby = None;
    for (key, value) in parse_pairs(raw.unwrap_or("")) {
        let name = key.trim().trim_start_matches('$').to_ascii_lowercase();
        let slot = match name.as_str() {
            "filter" => &mut filter,
            "top" => &mut top,
            "skiptoken" => &mut skip,
            "orderby" => &mut orderby,
            "select" | "expand" | "count" | "search" | "skip" | "format" | "apply" | "compute" => {
                return Err(unsupported(format!(
                    "Unsupported query option '${name}' on {}: this simulator supports $filter, $top, $orderby and $skiptoken.",
                    res.path
                )));
            }
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err((
                "BadRequest",
                format!(
                    "Query option '${name}' was specified more than once, but it must be specified at most once."
                ),
            ));
        }
    }
    let (lo_ns, hi_ns) = match &filter {
        Some(f) => parse_filter(f, res.time_field)?,
        None => (i64::MIN, i64::MAX),
    };
    let top_given = top.is_some();
    let top = match top {
        None => res.default_top,
        Some(t) => {
            let n: i64 = t.trim().parse().map_err(|_| {
                (
                    "BadRequest",
                    format!("Invalid value '{t}' for $top query option found. The $top query option requires a non-negative integer value."),
                )
            })?;
            if n < 1 || n > res.max_top as i64 {
                return Err((
                    "BadRequest",
                    format!(
                        "Invalid page size specified: '{n}'. Must be between 1 and {} inclusive.",
                        res.max_top
                    ),
                ));
            }
            n as usize
        }
    };
    let order = match orderby.as_deref().map(str::trim) {
        None => Order::Desc,
        Some(o) => {
            let mut parts = o.split_whitespace();
            let field = parts.next().unwrap_or("");
            let dir = parts.next().unwrap_or("asc").to_ascii_lowercase();
            if !field.eq_ignore_ascii_case(res.time_field) || parts.next().is_some() {
                return Err(unsupported(format!(
                    "Unsupported query: $orderby supports only '{} asc' or '{} desc'.",
                    res.time_field, res.time_field
                )));
            }
            match dir.as_str() {
                "asc" => Order::Asc,
                "desc" => Order::Desc,
                _ => {
                    return Err(unsupported(format!(
                        "Unsupported query: unknown $orderby direction '{dir}'."
                    )));
                }
            }
        }
    };
    let skip = match skip {
        None => None,
        Some(s) => {
            let token = SkipToken::decode(s.trim())
                .filter(|t| t.order == order)
                .ok_or_else(|| {
                    (
                        "BadRequest",
                        "Invalid $skiptoken: it was not issued for this query.".to_string(),
                    )
                })?;
            Some(token)
        }
    };
    Ok(ListQuery {
        lo_ns,
        hi_ns,
        filter,
        top,
        top_given,
        orderby,
        order,
        skip,
    })
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
    if let Err(e) = state.tokens.check(&headers, Audience::Graph, now_ns) {
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
        return resp;
    }
    if let Some(fault) = state.faults.roll() {
        return fault_response(&state, &ctx, fault);
    }
    let q = match parse_query(raw_query.as_deref(), &res) {
        Ok(q) => q,
        Err((code, msg)) => return ctx.bad_request(code, &msg),
    };
    let Some(source) = SOURCES.get(src) else {
        return ctx.error(StatusCode::NOT_FOUND, "NotFound", "Unknown source.", &[]);
    };
    let as_of_ns = q.skip.as_ref().map_or(now_ns, |s| s.as_of_ns);
    let after = q
        .skip
        .as_ref()
        .map(|s| (s.last_time_ns, s.last_id.as_str()));
    let mut picked = Vec::with_capacity(q.top + 1);
    state
        .store
        .walk(src, q.lo_ns, q.hi_ns.min(as_of_ns), q.order, after, |e| {
            if e.visible_ns <= as_of_ns {
                picked.push(e.clone());
            }
            picked.len() <= q.top
        });
    let more = picked.len() > q.top;
    picked.truncate(q.top);
    let mut value = Vec::with_capacity(picked.len());
    for e in &picked {
        match source.render(state.store.tenant(), e) {
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
    let next_link = match (more, picked.last()) {
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
                "{base}/{version}/{}?{}",
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

fn fault_response(state: &SimState, ctx: &GraphCtx, fault: Fault) -> Response {
    let retry_after = state.config.retry_after_secs.to_string();
    let mut resp = match fault {
        Fault::Throttle => {
            state.stats.throttled();
            ctx.error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests.",
                &[
                    ("code", "429"),
                    ("status", "429"),
                    ("message", "Please retry after"),
                ],
            )
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

#[cfg(test)]
mod tests {
    use super::*;

    const RES: GraphResource = GraphResource {
        path: "auditLogs/directoryAudits",
        time_field: "activityDateTime",
        default_top: 100,
        max_top: 1000,
    };

    fn ns(s: &str) -> i64 {
        parse_rfc3339(s).map(to_ns).unwrap_or(0)
    }

    #[test]
    fn filters_parse_in_any_order_with_quotes_and_fractions() {
        let f = "activityDateTime le 2026-07-17T14:00:00.1234567Z and activityDateTime ge '2026-07-17T13:00:00Z'";
        assert_eq!(
            parse_filter(f, "activityDateTime"),
            Ok((
                ns("2026-07-17T13:00:00Z"),
                ns("2026-07-17T14:00:00.1234567Z")
            ))
        );
        let f =
            "activityDateTime gt 2026-07-17T13:00:00Z and activityDateTime lt 2026-07-17T14:00:00Z";
        assert_eq!(
            parse_filter(f, "activityDateTime"),
            Ok((
                ns("2026-07-17T13:00:00Z") + 1,
                ns("2026-07-17T14:00:00Z") - 1
            ))
        );
        let f = "(activityDateTime ge 2026-07-17T13:00:00Z) AND (activityDateTime eq 2026-07-17T13:30:00Z)";
        let t = ns("2026-07-17T13:30:00Z");
        assert_eq!(parse_filter(f, "activityDateTime"), Ok((t, t)));
    }

    #[test]
    fn bad_filters_are_refused_with_graph_codes() {
        let cases = [
            (
                "activityDisplayName eq 'Add user'",
                "Request_UnsupportedQuery",
            ),
            (
                "activityDateTime ne 2026-07-17T13:00:00Z",
                "Request_UnsupportedQuery",
            ),
            (
                "activityDateTime ge 2026-07-17T13:00:00Z or activityDateTime le 2026-07-17T14:00:00Z",
                "Request_UnsupportedQuery",
            ),
            ("activityDateTime ge yesterday", "BadRequest"),
            ("activityDateTime ge", "BadRequest"),
            ("", "BadRequest"),
        ];
        for (f, code) in cases {
            assert_eq!(
                parse_filter(f, "activityDateTime").map_err(|e| e.0),
                Err(code),
                "{f}"
            );
        }
    }

    #[test]
    fn top_bounds_and_duplicates() {
        assert_eq!(
            parse_query(Some("$top=1000"), &RES).map(|q| q.top),
            Ok(1000)
        );
        assert_eq!(parse_query(None, &RES).map(|q| q.top), Ok(100));
        assert!(parse_query(Some("$top=1001"), &RES).is_err());
        assert!(parse_query(Some("$top=0"), &RES).is_err());
        assert!(parse_query(Some("$top=abc"), &RES).is_err());
        assert!(parse_query(Some("$top=5&$top=6"), &RES).is_err());
        assert!(parse_query(Some("$select=id"), &RES).is_err());
        assert_eq!(
            parse_query(Some("$orderby=activityDateTime%20asc"), &RES).map(|q| q.order),
            Ok(Order::Asc)
        );
    }

    #[test]
    fn skiptokens_round_trip_and_reject_junk() {
        let t = SkipToken {
            as_of_ns: 42,
            order: Order::Desc,
            last_time_ns: -7,
            last_id: "Directory_x|y_ABCDE_12345678".into(),
        };
        assert_eq!(SkipToken::decode(&t.encode()), Some(t));
        assert_eq!(SkipToken::decode("garbage!"), None);
        assert_eq!(SkipToken::decode("Zm9v"), None);
    }
}
