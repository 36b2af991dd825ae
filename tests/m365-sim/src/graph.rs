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
use crate::sources::{ApiVersion, GraphResource, Precondition, SOURCES, SimSource, stream_index};
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
    /// The stream a `<stream property>/any(...)` clause selected, as written.
    pub stream: Option<String>,
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

/// What a `$filter` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Inclusive lower bound on the time field (ns); `i64::MIN` when unbounded.
    pub lo_ns: i64,
    /// Inclusive upper bound on the time field (ns); `i64::MAX` when unbounded.
    pub hi_ns: i64,
    /// A lower bound was given (`ge`, `gt` or `eq`).
    pub has_lo: bool,
    /// An upper bound was given (`le`, `lt` or `eq`).
    pub has_hi: bool,
    /// The stream named by a `<stream property>/any(t: t eq '<name>')` clause, as written.
    pub stream: Option<String>,
}

impl Default for Filter {
    fn default() -> Self {
        Self {
            lo_ns: i64::MIN,
            hi_ns: i64::MAX,
            has_lo: false,
            has_hi: false,
            stream: None,
        }
    }
}

/// Parses a `$filter` over `field` into inclusive ns bounds.
pub fn parse_filter(filter: &str, field: &str) -> Result<(i64, i64), QueryError> {
    parse_filter_with(filter, field, None).map(|f| (f.lo_ns, f.hi_ns))
}

/// Parses a `$filter`: comparisons on `field` and, when `stream_property` is given, at most one
/// `<stream_property>/any(<v>: <v> eq '<name>')` clause, joined by `and` in any order, each
/// optionally parenthesised.
pub fn parse_filter_with(
    filter: &str,
    field: &str,
    stream_property: Option<&str>,
) -> Result<Filter, QueryError> {
    let mut clauses = Vec::new();
    split_clauses(filter, field, &mut clauses)?;
    let mut out = Filter::default();
    for clause in clauses {
        let head = clause
            .split(|c: char| c.is_whitespace() || c == '/' || c == '(')
            .next()
            .unwrap_or("");
        let rest = clause[head.len()..].trim_start();
        if rest.starts_with('/') {
            let Some(prop) = stream_property.filter(|p| p.eq_ignore_ascii_case(head)) else {
                return Err(unsupported(format!(
                    "Unsupported query: filtering on '{head}' is not supported by this simulator; only '{field}' comparisons joined by 'and' are."
                )));
            };
            let value = parse_any_clause(rest, prop)?;
            if out.stream.replace(value).is_some() {
                return Err(unsupported(format!(
                    "Unsupported query: '{prop}/any(...)' may appear only once; query one {prop} value per request."
                )));
            }
        } else {
            comparison(clause, field, &mut out)?;
        }
    }
    Ok(out)
}

/// Splits `s` into its top-level `and` operands, unwrapping parentheses around any of them.
fn split_clauses<'a>(s: &'a str, field: &str, out: &mut Vec<&'a str>) -> Result<(), QueryError> {
    let s = s.trim();
    if s.is_empty() {
        return Err((
            "BadRequest",
            format!(
                "Invalid filter clause: expected '{field} <ge|gt|le|lt|eq> <DateTimeOffset>' joined by 'and'; an operand is empty."
            ),
        ));
    }
    let parts = split_top_level_and(s)?;
    if parts.len() > 1 {
        for part in parts {
            split_clauses(part, field, out)?;
        }
        return Ok(());
    }
    match strip_parens(s) {
        Some(inner) => split_clauses(inner, field, out),
        None => {
            out.push(s);
            Ok(())
        }
    }
}

/// Splits at every ` and ` (any case, any whitespace) outside parentheses and quotes.
fn split_top_level_and(s: &str) -> Result<Vec<&str>, QueryError> {
    let bytes = s.as_bytes();
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut from) = (0i32, false, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => {
                depth -= 1;
                if depth < 0 {
                    return Err(unbalanced(s));
                }
            }
            b if !quoted && depth == 0 && b.is_ascii_whitespace() => {
                if let Some(word) = bytes.get(i + 1..i + 4)
                    && word.eq_ignore_ascii_case(b"and")
                    && bytes.get(i + 4).is_some_and(u8::is_ascii_whitespace)
                {
                    parts.push(&s[from..i]);
                    from = i + 4;
                    i += 4;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    if depth != 0 || quoted {
        return Err(unbalanced(s));
    }
    parts.push(&s[from..]);
    Ok(parts)
}

fn unbalanced(s: &str) -> QueryError {
    (
        "BadRequest",
        format!("Invalid filter clause: unbalanced parentheses or quotes in '{s}'."),
    )
}

/// `(x)` -> `x` when the first parenthesis closes at the very end.
fn strip_parens(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('(')?;
    let mut depth = 1;
    let mut quoted = false;
    for (i, c) in inner.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth == 0 {
                    return (i + 1 == inner.len()).then(|| &inner[..i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// One `<field> <op> <value>` comparison, folded into `out`.
fn comparison(clause: &str, field: &str, out: &mut Filter) -> Result<(), QueryError> {
    let tokens: Vec<&str> = clause.split_whitespace().collect();
    let name = tokens.first().copied().unwrap_or("");
    if !name.eq_ignore_ascii_case(field) {
        return Err(unsupported(format!(
            "Unsupported query: filtering on '{name}' is not supported by this simulator; only '{field}' comparisons joined by 'and' are."
        )));
    }
    let (Some(op), Some(value)) = (tokens.get(1), tokens.get(2)) else {
        return Err((
            "BadRequest",
            format!(
                "Invalid filter clause: expected '{field} <ge|gt|le|lt|eq> <DateTimeOffset>' in '{clause}'."
            ),
        ));
    };
    if let Some(extra) = tokens.get(3) {
        return Err(unsupported(format!(
            "Unsupported query: '{extra}' is not supported in $filter; combine '{field}' comparisons with 'and'."
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
        "ge" => out.lo_ns = out.lo_ns.max(t),
        "gt" => out.lo_ns = out.lo_ns.max(t.saturating_add(1)),
        "le" => out.hi_ns = out.hi_ns.min(t),
        "lt" => out.hi_ns = out.hi_ns.min(t.saturating_sub(1)),
        "eq" => {
            out.lo_ns = out.lo_ns.max(t);
            out.hi_ns = out.hi_ns.min(t);
        }
        other => {
            return Err(unsupported(format!(
                "Unsupported query: operator '{other}' is not supported on '{field}'; use ge, gt, le, lt or eq."
            )));
        }
    }
    match op.to_ascii_lowercase().as_str() {
        "ge" | "gt" => out.has_lo = true,
        "le" | "lt" => out.has_hi = true,
        _ => {
            out.has_lo = true;
            out.has_hi = true;
        }
    }
    Ok(())
}

/// Parses `/any(<v>: <v> eq '<value>')` (the text after the property name) into `value`.
fn parse_any_clause(rest: &str, prop: &str) -> Result<String, QueryError> {
    let shape = || {
        unsupported(format!(
            "Unsupported query: use '{prop}/any(t: t eq '<value>')' with exactly one value; query one {prop} value per request."
        ))
    };
    let mut c = Cursor(rest);
    c.eat("/").ok_or_else(shape)?;
    c.skip_ws();
    c.eat_ci("any").ok_or_else(shape)?;
    c.skip_ws();
    c.eat("(").ok_or_else(shape)?;
    c.skip_ws();
    let var = c.ident().ok_or_else(shape)?;
    c.skip_ws();
    c.eat(":").ok_or_else(shape)?;
    c.skip_ws();
    let var2 = c.ident().ok_or_else(shape)?;
    if var2 != var {
        return Err(shape());
    }
    if !c.skip_ws() {
        return Err(shape());
    }
    c.eat_ci("eq").ok_or_else(shape)?;
    if !c.skip_ws() {
        return Err(shape());
    }
    let value = c.quoted().ok_or_else(shape)?;
    c.skip_ws();
    c.eat(")").ok_or_else(shape)?;
    c.skip_ws();
    if !c.0.is_empty() {
        return Err(shape());
    }
    Ok(value)
}

/// A tiny forward-only reader over a clause.
struct Cursor<'a>(&'a str);

impl Cursor<'_> {
    /// Skips whitespace; true if there was any.
    fn skip_ws(&mut self) -> bool {
        let trimmed = self.0.trim_start();
        let skipped = trimmed.len() != self.0.len();
        self.0 = trimmed;
        skipped
    }

    fn eat(&mut self, lit: &str) -> Option<()> {
        self.0 = self.0.strip_prefix(lit)?;
        Some(())
    }

    fn eat_ci(&mut self, lit: &str) -> Option<()> {
        let head = self.0.get(..lit.len())?;
        if !head.eq_ignore_ascii_case(lit) {
            return None;
        }
        self.0 = &self.0[lit.len()..];
        Some(())
    }

    fn ident(&mut self) -> Option<String> {
        let n = self
            .0
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.0.len());
        if n == 0 {
            return None;
        }
        let (id, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(id.to_string())
    }

    /// A single-quoted OData string (`''` is a quote).
    fn quoted(&mut self) -> Option<String> {
        let mut rest = self.0.strip_prefix('\'')?;
        let mut value = String::new();
        loop {
            let end = rest.find('\'')?;
            value.push_str(&rest[..end]);
            rest = &rest[end + 1..];
            match rest.strip_prefix('\'') {
                Some(more) => {
                    value.push('\'');
                    rest = more;
                }
                None => break,
            }
        }
        self.0 = rest;
        Some(value)
    }
}

fn fmt_days(secs: i64) -> String {
    if secs % 86_400 == 0 {
        (secs / 86_400).to_string()
    } else {
        format!("{:.2}", secs as f64 / 86_400.0)
    }
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
    let parsed = match &filter {
        Some(f) => parse_filter_with(f, res.time_field, res.stream_property)?,
        None => Filter::default(),
    };
    let field = res.time_field;
    if res.require_bounds && !(parsed.has_lo && parsed.has_hi) {
        return Err((
            "BadRequest",
            format!(
                "The $filter must bound {field} on both sides, e.g. '{field} ge 2026-07-10T00:00:00Z and {field} le 2026-07-11T00:00:00Z'."
            ),
        ));
    }
    if let Some(max) = res.max_range_secs
        && parsed.has_lo
        && parsed.has_hi
        && parsed.hi_ns.saturating_sub(parsed.lo_ns) > max.saturating_mul(NS_PER_SEC)
    {
        let days =
            parsed.hi_ns.saturating_sub(parsed.lo_ns) as f64 / (86_400.0 * NS_PER_SEC as f64);
        return Err((
            "BadRequest",
            format!(
                "The {field} range of the query spans {days:.2} days, but a query may span at most {} days; split it into windows of at most {} days.",
                fmt_days(max),
                fmt_days(max)
            ),
        ));
    }
    let (lo_ns, hi_ns) = (parsed.lo_ns, parsed.hi_ns);
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
        stream: parsed.stream,
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
        if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    if let Some(fault) = state.faults.roll() {
        return fault_response(&state, &ctx, fault);
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
    let mut picked = Vec::with_capacity(q.top + 1);
    state
        .store
        .walk(src, lo_ns, q.hi_ns.min(as_of_ns), q.order, after, |e| {
            if e.visible_ns <= as_of_ns && stream.is_none_or(|k| e.stream == k) {
                picked.push(e.clone());
            }
            picked.len() <= q.top
        });
    let more = picked.len() > q.top;
    picked.truncate(q.top);
    let mut value = Vec::with_capacity(picked.len());
    for e in &picked {
        match source.render_version(state.store.tenant(), e, api_version) {
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

#[cfg(test)]
mod tests {
    use super::*;

    const RES: GraphResource =
        GraphResource::basic("auditLogs/directoryAudits", "activityDateTime", 100, 1000);

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
    fn sign_in_event_type_clauses_parse_in_any_form_and_order() {
        let lo = "2026-07-17T10:00:00Z";
        let hi = "2026-07-17T11:00:00Z";
        let forms = [
            format!(
                "createdDateTime ge {lo} and createdDateTime le {hi} and signInEventTypes/any(t: t eq 'nonInteractiveUser')"
            ),
            format!(
                "signInEventTypes/any(t:t eq 'nonInteractiveUser') and createdDateTime ge {lo} and createdDateTime le {hi}"
            ),
            format!(
                "createdDateTime le {hi} AND signInEventTypes/any( x :  x   eq 'nonInteractiveUser' ) and createdDateTime ge {lo}"
            ),
            format!(
                "(createdDateTime ge {lo} and createdDateTime le {hi}) and (signInEventTypes/any(evt: evt eq 'nonInteractiveUser'))"
            ),
            format!(
                "signineventtypes/ANY(t: t EQ 'nonInteractiveUser') and createdDateTime ge '{lo}' and createdDateTime le {hi}"
            ),
        ];
        for f in &forms {
            let parsed = parse_filter_with(f, "createdDateTime", Some("signInEventTypes"));
            assert_eq!(
                parsed,
                Ok(Filter {
                    lo_ns: ns(lo),
                    hi_ns: ns(hi),
                    has_lo: true,
                    has_hi: true,
                    stream: Some("nonInteractiveUser".into()),
                }),
                "{f}"
            );
        }
        let bad = [
            "signInEventTypes/any(t: x eq 'servicePrincipal')",
            "signInEventTypes/any(t: t eq 'servicePrincipal' or t eq 'managedIdentity')",
            "signInEventTypes/any(t: t ne 'servicePrincipal')",
            "signInEventTypes/any(t: t eq servicePrincipal)",
            "signInEventTypes/any(t: t eq 'a') and signInEventTypes/any(t: t eq 'b')",
            "signInEventTypes/all(t: t eq 'servicePrincipal')",
            "appId/any(t: t eq 'x')",
        ];
        for f in bad {
            assert_eq!(
                parse_filter_with(f, "createdDateTime", Some("signInEventTypes")).map_err(|e| e.0),
                Err("Request_UnsupportedQuery"),
                "{f}"
            );
        }
        // Without a stream property the clause is an unsupported property.
        assert!(
            parse_filter_with("signInEventTypes/any(t: t eq 'x')", "createdDateTime", None)
                .is_err()
        );
        assert!(
            parse_filter(
                "(activityDateTime ge 2026-07-17T13:00:00Z",
                "activityDateTime"
            )
            .is_err()
        );
    }

    #[test]
    fn collections_can_require_both_bounds_and_a_short_range() {
        let res = GraphResource {
            require_bounds: true,
            max_range_secs: Some(10 * 86_400),
            ..GraphResource::basic(
                "admin/exchange/tracing/messageTraces",
                "receivedDateTime",
                1000,
                5000,
            )
        };
        let q = |f: &str| {
            parse_query(
                Some(&format!("$filter={}", crate::wire::percent_encode(f))),
                &res,
            )
        };
        assert!(q("receivedDateTime ge 2026-07-01T00:00:00Z and receivedDateTime le 2026-07-11T00:00:00Z").is_ok());
        assert!(q("receivedDateTime gt 2026-07-01T00:00:00Z and receivedDateTime lt 2026-07-02T00:00:00Z").is_ok());
        let too_long = q(
            "receivedDateTime ge 2026-07-01T00:00:00Z and receivedDateTime le 2026-07-11T00:00:00.0000001Z",
        );
        assert!(
            too_long
                .as_ref()
                .is_err_and(|e| e.0 == "BadRequest" && e.1.contains("at most 10 days")),
            "{too_long:?}"
        );
        for one_sided in [
            "receivedDateTime ge 2026-07-01T00:00:00Z",
            "receivedDateTime le 2026-07-01T00:00:00Z",
        ] {
            assert!(
                q(one_sided).is_err_and(|e| e.1.contains("both sides")),
                "{one_sided}"
            );
        }
        assert!(parse_query(None, &res).is_err());
        assert_eq!(
            parse_query(
                Some("$top=5000&$filter=receivedDateTime%20eq%202026-07-01T00:00:00Z"),
                &res
            )
            .map(|q| q.top),
            Ok(5000)
        );
        assert!(
            parse_query(
                Some("$top=5001&$filter=receivedDateTime%20eq%202026-07-01T00:00:00Z"),
                &res
            )
            .is_err()
        );
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
