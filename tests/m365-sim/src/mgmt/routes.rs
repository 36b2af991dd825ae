//! HTTP handlers of the Management Activity API under `/api/v1.0/{tenant}/activity/feed`.
//!
//! Operations: `POST subscriptions/start?contentType=X`, `POST subscriptions/stop?contentType=X`,
//! `GET subscriptions/list`, `GET subscriptions/content?contentType=X[&startTime&endTime]
//! [&nextPage]` and `GET audit/{contentId}` (the `contentUri`). `PublisherIdentifier` is optional
//! everywhere; requests without it are counted (`missing_publisher`). Query parameter names are
//! matched case-insensitively.
//!
//! Every request is checked in this order, the first failure answering:
//! 1. (listing and fetch) the real `latency_ms` delay;
//! 2. the bearer token: a live token for `https://manage.office.com` (`Audience::Management`),
//!    else **401** `AF10000` with `WWW-Authenticate: Bearer`. Microsoft documents no code for a
//!    bad token; clients act on the 401 (refresh and retry), and `AF10000` is deliberately none
//!    of the documented fatal codes;
//! 3. the URL tenant must be the configured one (case-insensitive), else `AF20010` answered
//!    **401** (Microsoft gives no status; it is an authorization failure, like a wrong token);
//! 4. (with `enforce_budgets`) 2,000 requests per minute per tenant on budget time (see
//!    [`crate::budget`]), else `AF429`;
//! 5. (listing and fetch) injected faults: `AF429` (HTTP 429, or 403 with
//!    `mgmt_af429_status = 403`) with `Retry-After`, or `AF50000` with 500 / 503;
//! 6. the operation's own checks: `AF20001` (contentType missing), `AF20020` (unknown content
//!    type), `AF10001` 401 (content type in `mgmt_denied_content_types`: start, listing and
//!    fetch), `AF20012` (start with `mgmt_audit_disabled`: unified audit logging off; Microsoft
//!    documents no code for it, AF20012 "tenant misconfigured" is the closest), `AF20024`
//!    (already enabled), `AF20022` / `AF20023` (no / disabled subscription), the window rules
//!    (`AF20002`, `AF20030`, `AF20055`), `AF20031` (bad `nextPage`), `AF20052` (malformed
//!    contentId), `AF20050` (unknown or not yet listed), `AF20051` (expired).
//!
//! All errors are `{"error":{"code":"AF…","message":"…"}}`; validation errors are HTTP 400.
//!
//! **Listing window.** `startTime` and `endTime` both or neither (neither: the last 24 h before
//! now), formats `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, `YYYY-MM-DDTHH:MM:SS` with an optional fraction
//! and an optional `Z` (malformed: `AF20002`). Only one of them, start not before end, or a span
//! over 24 h: `AF20030`. Start more than 7 days before now, or after now: `AF20055`. The window
//! applies to `contentCreated` (start inclusive, end exclusive); items are sorted by the instant
//! they were listed, then contentId. A truncated page carries `NextPageUri` (or `NextPageUrl`):
//! the full URL with the same contentType, startTime and endTime (the computed ones when the
//! request had none), the request's `PublisherIdentifier` when it had one, and
//! `&nextPage=<opaque>`; the token names the last item served and the window, so later pages
//! continue after it even if the clock moved. Faults are rolled for listings and fetches only,
//! not for subscription operations.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Value, json};

use super::{CONTENT_TYPES, MgmtState, SubStatus, content_time, content_type_index};
use crate::auth::Audience;
use crate::budget::MGMT_ACTIVITY;
use crate::clock::{NS_PER_SEC, to_ns};
use crate::faults::Fault;
use crate::graph::base_url;
use crate::rng::{hash_str, seed_of};
use crate::server::SimState;
use crate::wire::{b64_decode, b64url_encode, parse_pairs};

/// The feed's root path (after the host).
pub const FEED: &str = "/api/v1.0/{tenant}/activity/feed";

const NO_PUBLISHER: &str = "00000000-0000-0000-0000-000000000000";

/// Adds the Management API routes to `r`.
pub fn routes(r: Router<Arc<SimState>>) -> Router<Arc<SimState>> {
    r.route(&format!("{FEED}/subscriptions/start"), post(start))
        .route(&format!("{FEED}/subscriptions/stop"), post(stop))
        .route(&format!("{FEED}/subscriptions/list"), get(list))
        .route(&format!("{FEED}/subscriptions/content"), get(content))
        .route(&format!("{FEED}/audit/{{content_id}}"), get(fetch))
}

/// `{"error":{"code","message"}}` with `status`.
pub fn af_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn bad(code: &str, message: &str) -> Response {
    af_error(StatusCode::BAD_REQUEST, code, message)
}

/// A request's query, with case-insensitive lookup.
struct Query(Vec<(String, String)>);

impl Query {
    fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
}

/// What the common checks established.
struct Ctx {
    q: Query,
    publisher: Option<String>,
    now_ns: i64,
}

/// Checks 1-5 of the module doc; `data` adds the latency and the fault dice.
async fn gate(
    state: &SimState,
    headers: &HeaderMap,
    tenant: &str,
    raw: Option<&str>,
    method: &str,
    data: bool,
) -> Result<Ctx, Response> {
    let m = &state.mgmt;
    if data {
        let latency = state.faults.latency_ms();
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
    }
    let q = Query(parse_pairs(raw.unwrap_or("")));
    let publisher = q
        .get("PublisherIdentifier")
        .filter(|p| !p.trim().is_empty())
        .map(str::to_string);
    if publisher.is_none() {
        m.stats
            .missing_publisher
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let now_ns = to_ns(state.clock.now());
    if let Err(e) = state.tokens.check(headers, Audience::Management, now_ns) {
        state.stats.unauthorized();
        let mut resp = af_error(
            StatusCode::UNAUTHORIZED,
            "AF10000",
            &format!(
                "Authorization has been denied for this request. {}",
                e.message()
            ),
        );
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"manage.office.com\""),
        );
        return Err(resp);
    }
    if !tenant.eq_ignore_ascii_case(&m.tenant_id) {
        state.stats.unauthorized();
        return Err(af_error(
            StatusCode::UNAUTHORIZED,
            "AF20010",
            &format!(
                "The tenant ID passed in the URL ({tenant}) does not match the tenant ID passed in the access token ({}).",
                m.tenant_id
            ),
        ));
    }
    let pub_id = publisher.as_deref().unwrap_or(NO_PUBLISHER);
    if state.config.enforce_budgets
        && let Err(retry_after) = state.budgets.admit(&MGMT_ACTIVITY, now_ns)
    {
        state.stats.over_budget();
        return Err(af429(state, method, pub_id, retry_after));
    }
    if data && let Some(fault) = state.faults.roll() {
        let retry = state.config.retry_after_secs;
        return Err(match fault {
            Fault::Throttle => {
                state.stats.throttled();
                af429(state, method, pub_id, retry)
            }
            Fault::Internal | Fault::Unavailable => {
                state.stats.server_error();
                let status = if fault == Fault::Internal {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                let mut resp = af_error(
                    status,
                    "AF50000",
                    "An internal error occurred. Retry the request.",
                );
                if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
                resp
            }
        });
    }
    Ok(Ctx {
        q,
        publisher,
        now_ns,
    })
}

fn af429(state: &SimState, method: &str, publisher: &str, retry_after: u64) -> Response {
    state
        .mgmt
        .stats
        .af429
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut resp = af_error(
        state.mgmt.settings.af429_status,
        "AF429",
        &format!("Too many requests. Method={method}, PublisherId={publisher}"),
    );
    if let Ok(v) = HeaderValue::from_str(&retry_after.max(1).to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// `contentType`: present and known, else AF20001 / AF20020.
fn content_type(q: &Query) -> Result<usize, Box<Response>> {
    let Some(name) = q.get("contentType").filter(|s| !s.is_empty()) else {
        return Err(Box::new(bad("AF20001", "Missing parameter: contentType.")));
    };
    content_type_index(name).ok_or_else(|| {
        Box::new(bad(
            "AF20020",
            &format!(
                "The specified content type is not valid: {name}. Valid content types are {}.",
                CONTENT_TYPES
                    .iter()
                    .map(|c| c.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    })
}

/// AF10001 when the app lacks the permission for `ct`.
fn permission(state: &SimState, ct: usize) -> Result<(), Box<Response>> {
    let Some(c) = CONTENT_TYPES.get(ct) else {
        return Ok(());
    };
    if state
        .config
        .mgmt_denied_content_types
        .iter()
        .any(|d| d.eq_ignore_ascii_case(c.name))
    {
        state.stats.unauthorized();
        return Err(Box::new(af_error(
            StatusCode::UNAUTHORIZED,
            "AF10001",
            &format!(
                "The permission set sent in the request does not include the expected permission: the application does not have the required permissions: {} (content type {}).",
                c.permission, c.name
            ),
        )));
    }
    Ok(())
}

fn sub_json(ct: usize, status: SubStatus) -> Value {
    json!({
        "contentType": CONTENT_TYPES.get(ct).map_or("", |c| c.name),
        "status": if status == SubStatus::Enabled { "enabled" } else { "disabled" },
        "webhook": null,
    })
}

async fn start(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = match gate(
        &state,
        &headers,
        &tenant,
        raw.as_deref(),
        "StartSubscription",
        false,
    )
    .await
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    let ct = match content_type(&ctx.q).and_then(|ct| permission(&state, ct).map(|()| ct)) {
        Ok(ct) => ct,
        Err(r) => return *r,
    };
    if state.config.mgmt_audit_disabled {
        return bad(
            "AF20012",
            &format!(
                "Tenant {} is misconfigured: unified audit logging is not enabled for this tenant. Turn on auditing in the Microsoft Purview portal, then start the subscription again.",
                state.mgmt.tenant_id
            ),
        );
    }
    if !state.mgmt.start(ct) {
        return bad(
            "AF20024",
            "The subscription is already enabled. No property change.",
        );
    }
    axum::Json(sub_json(ct, SubStatus::Enabled)).into_response()
}

async fn stop(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = match gate(
        &state,
        &headers,
        &tenant,
        raw.as_deref(),
        "StopSubscription",
        false,
    )
    .await
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    let ct = match content_type(&ctx.q) {
        Ok(ct) => ct,
        Err(r) => return *r,
    };
    if !state.mgmt.stop(ct) {
        return no_subscription();
    }
    StatusCode::OK.into_response()
}

fn no_subscription() -> Response {
    bad(
        "AF20022",
        "No subscription found for the specified content type.",
    )
}

async fn list(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(r) = gate(
        &state,
        &headers,
        &tenant,
        raw.as_deref(),
        "ListSubscriptions",
        false,
    )
    .await
    {
        return r;
    }
    let subs: Vec<Value> = state
        .mgmt
        .subscriptions()
        .into_iter()
        .map(|(ct, s)| sub_json(ct, s))
        .collect();
    axum::Json(subs).into_response()
}

/// Parses a listing time: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, `YYYY-MM-DDTHH:MM:SS[.fff][Z]`, UTC.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix('z'))
        .unwrap_or(s);
    let t = if s.len() == 10 {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?
    } else if s.len() == 16 {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").ok()?
    } else if s.len() == 19 {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").ok()?
    } else if s.len() > 20 && s.as_bytes().get(19) == Some(&b'.') {
        let frac = s.get(20..)?;
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok()?
    } else {
        return None;
    };
    t.and_utc().timestamp_nanos_opt()
}

/// Percent-encodes what cannot stand in a query value (keeps `:` for readable times).
fn q_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn window_check(ct: usize, lo: i64, hi: i64) -> u64 {
    seed_of(&[hash_str("mgmt-page"), ct as u64, lo as u64, hi as u64])
}

fn encode_page(ct: usize, lo: i64, hi: i64, listed_ns: i64, content_id: &str) -> String {
    b64url_encode(format!("{:016x}.{listed_ns}.{content_id}", window_check(ct, lo, hi)).as_bytes())
}

fn decode_page(token: &str, ct: usize, lo: i64, hi: i64) -> Option<(i64, String)> {
    let bytes = b64_decode(token)?;
    let s = String::from_utf8(bytes).ok()?;
    let mut parts = s.splitn(3, '.');
    let check = u64::from_str_radix(parts.next()?, 16).ok()?;
    let listed = parts.next()?.parse::<i64>().ok()?;
    let id = parts.next()?.to_string();
    (check == window_check(ct, lo, hi) && MgmtState::well_formed(&id)).then_some((listed, id))
}

const WINDOW_MSG: &str = "Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time prior to end time.";

async fn content(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = match gate(
        &state,
        &headers,
        &tenant,
        raw.as_deref(),
        "ListContent",
        true,
    )
    .await
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    let ct = match content_type(&ctx.q).and_then(|ct| permission(&state, ct).map(|()| ct)) {
        Ok(ct) => ct,
        Err(r) => return *r,
    };
    match state.mgmt.subscription(ct) {
        None => return no_subscription(),
        Some(SubStatus::Disabled) => {
            return bad(
                "AF20023",
                "The subscription was disabled by a tenant administrator or by the service.",
            );
        }
        Some(SubStatus::Enabled) => {}
    }
    let now = ctx.now_ns;
    let day = 86_400 * NS_PER_SEC;
    let (start_raw, end_raw) = (ctx.q.get("startTime"), ctx.q.get("endTime"));
    let (lo, hi, start_s, end_s) = match (start_raw, end_raw) {
        (None, None) => (now - day, now, content_time(now - day), content_time(now)),
        (Some(s), Some(e)) => {
            let (Some(lo), Some(hi)) = (parse_time(s), parse_time(e)) else {
                let which = if parse_time(s).is_none() { s } else { e };
                return bad(
                    "AF20002",
                    &format!(
                        "Invalid parameter type: '{which}' is not a valid datetime. Expected YYYY-MM-DD, YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS (UTC)."
                    ),
                );
            };
            (lo, hi, s.to_string(), e.to_string())
        }
        _ => return bad("AF20030", WINDOW_MSG),
    };
    if lo >= hi || hi.saturating_sub(lo) > day {
        return bad("AF20030", WINDOW_MSG);
    }
    if lo < now - super::RETENTION_NS || lo > now {
        return bad(
            "AF20055",
            "Start time cannot be more than 7 days in the past and cannot be later than the current time.",
        );
    }
    let after = match ctx.q.get("nextPage") {
        None => None,
        Some(p) => match decode_page(p, ct, lo, hi) {
            Some(k) => Some(k),
            None => return bad("AF20031", &format!("Invalid nextPage Input: {p}.")),
        },
    };
    let m = &state.mgmt;
    let all = m.listing(ct, lo, hi, now);
    let rest: Vec<_> = all
        .into_iter()
        .filter(|e| {
            after
                .as_ref()
                .is_none_or(|(l, id)| (e.listed_ns, &e.content_id) > (*l, id))
        })
        .collect();
    let page_size = m.settings.page_size;
    let base = base_url(&headers, &state);
    let feed = format!("{base}/api/v1.0/{}/activity/feed", m.tenant_id);
    let items: Vec<Value> = rest
        .iter()
        .take(page_size)
        .map(|e| {
            json!({
                "contentType": CONTENT_TYPES.get(e.ct).map_or("", |c| c.name),
                "contentId": e.content_id,
                "contentUri": format!("{feed}/audit/{}", e.content_id),
                "contentCreated": content_time(e.created_ns),
                "contentExpiration": content_time(e.expiration_ns),
            })
        })
        .collect();
    let mut resp = axum::Json(items).into_response();
    if rest.len() > page_size
        && let Some(last) = rest.get(page_size - 1)
    {
        let token = encode_page(ct, lo, hi, last.listed_ns, &last.content_id);
        let publisher = ctx
            .publisher
            .as_deref()
            .map(|p| format!("&PublisherIdentifier={}", q_encode(p)))
            .unwrap_or_default();
        let next_feed = format!(
            "{}/api/v1.0/{}/activity/feed",
            state.paging_base_or(base.clone()),
            m.tenant_id
        );
        let url = format!(
            "{next_feed}/subscriptions/content?contentType={}&startTime={}&endTime={}{publisher}&nextPage={token}",
            CONTENT_TYPES.get(ct).map_or("", |c| c.name),
            q_encode(&start_s),
            q_encode(&end_s),
        );
        if let (Ok(name), Ok(v)) = (
            header::HeaderName::from_bytes(m.settings.next_page_header.as_bytes()),
            HeaderValue::from_str(&url),
        ) {
            resp.headers_mut().insert(name, v);
        }
    }
    m.listed();
    resp
}

async fn fetch(
    State(state): State<Arc<SimState>>,
    Path((tenant, content_id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = match gate(&state, &headers, &tenant, raw.as_deref(), "GetBlob", true).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let m = &state.mgmt;
    if !MgmtState::well_formed(&content_id) {
        return bad(
            "AF20052",
            &format!("The content ID {content_id} in the request is invalid."),
        );
    }
    let Some(meta) = m.find(&content_id, ctx.now_ns) else {
        return bad(
            "AF20050",
            &format!("The content requested with the key {content_id} does not exist."),
        );
    };
    if let Err(r) = permission(&state, meta.ct) {
        return *r;
    }
    if ctx.now_ns >= meta.expiration_ns {
        m.stats
            .expired_fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return bad(
            "AF20051",
            &format!(
                "Content requested with the key {content_id} has already expired. Content older than 7 days cannot be retrieved."
            ),
        );
    }
    let records = m.blob_records(&meta);
    m.fetched(&content_id);
    axum::Json(records).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_times_parse_in_every_documented_form() {
        let base = parse_time("2026-07-17").unwrap_or_default();
        assert_eq!(base % (86_400 * NS_PER_SEC), 0);
        assert_eq!(parse_time("2026-07-17T00:00"), Some(base));
        assert_eq!(parse_time("2026-07-17T00:00:00"), Some(base));
        assert_eq!(parse_time("2026-07-17T00:00:00Z"), Some(base));
        assert_eq!(
            parse_time("2026-07-17T00:00:00.250Z"),
            Some(base + 250_000_000)
        );
        assert_eq!(
            parse_time("2026-07-17T00:01Z"),
            Some(base + 60 * NS_PER_SEC)
        );
        for bad in [
            "",
            "2026-7-17",
            "yesterday",
            "2026-07-17T00:00:00+02:00",
            "2026-07-17 00:00:00",
            "2026-07-17T00:00:00.",
            "2026-13-01",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn page_tokens_round_trip_and_bind_to_the_window() {
        let id =
            "20260717120000000000001$20260717121000000000002$audit_exchange$Audit_Exchange$na0001";
        let t = encode_page(1, 10, 20, 15, id);
        assert_eq!(decode_page(&t, 1, 10, 20), Some((15, id.to_string())));
        assert_eq!(decode_page(&t, 1, 10, 21), None);
        assert_eq!(decode_page(&t, 2, 10, 20), None);
        assert_eq!(decode_page("garbage!", 1, 10, 20), None);
        assert_eq!(decode_page("", 1, 10, 20), None);
    }
}
