//! HTTP handlers of Graph's audit log query API (see the parent module for the operations,
//! limits and truth): the gate every route passes (token, permission, faults), create, list, get,
//! records paging, `/_sim/truth/audit-search` and `/_sim/audit-search/queries`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::{
    AuditSearch, Filters, MAX_TOP, NAME, PATH, Query, RECORD_TYPES, Status, graph_record, lock,
    matches,
};
use crate::clock::{from_ns, parse_rfc3339, rfc3339, to_ns};
use crate::graph::{self, GRAPH_JSON, GraphCtx, base_url};
use crate::mgmt::MgmtState;
use crate::rng::{Rng, hash_str, seed_of};
use crate::server::SimState;
use crate::wire::{b64_decode, b64url_encode, parse_pairs, percent_encode};

/// The API's routes on the simulator's router.
pub fn routes(r: Router<Arc<SimState>>) -> Router<Arc<SimState>> {
    r.route(PATH, get(list_queries).post(create))
        .route(&format!("{PATH}/{{id}}"), get(get_query))
        .route(&format!("{PATH}/{{id}}/records"), get(records))
        .route("/_sim/audit-search/queries", get(sim_queries))
}

/// `GET /_sim/audit-search/queries`: every submission in order, with what Graph does not show
/// (when it was submitted on the virtual clock): `{"queries": [{"seq", "id", "submitted",
/// "start", "end", "status"}]}`, so a test can tell which windows a backfill asked for again.
async fn sim_queries(State(state): State<Arc<SimState>>) -> Response {
    let now_ns = to_ns(state.clock.now());
    let api = &state.audit_search;
    let queries = lock(&api.queries);
    let out: Vec<Value> = queries
        .iter()
        .map(|q| {
            json!({
                "seq": q.seq,
                "id": q.id,
                "submitted": rfc3339(from_ns(q.created_ns)),
                "start": rfc3339(from_ns(q.filters.start_ns)),
                "end": rfc3339(from_ns(q.filters.end_ns)),
                "status": api.status(q, now_ns).as_str(),
            })
        })
        .collect();
    axum::Json(json!({ "queries": out })).into_response()
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
    state.stats.audit_records_served(page.len() as u64);
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
    use super::super::record_type_name;
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
