//! The routes: thin handlers that parse and check input, call the listing engine or a port, and
//! shape the JSON. Every route is documented with `utoipa::path`; [`ApiDoc`] gathers them into
//! the OpenAPI document served at `/openapi.json`, and [`ROUTES`] lists what the router serves
//! (a test holds the two together).

use std::collections::{BTreeMap, HashMap};

use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Extension, Json, Router};
use chrono::{DateTime, DurationRound, NaiveDate, TimeDelta, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::auth::{Principal, Role, effective_role};
use super::cursor::{Cursor, CursorCodec};
use super::error::{ApiError, ErrorBody};
use super::list::{ListParams, Scan, list};
use super::{AUTH_DISABLED_HEADER, MAX_BODY_BYTES, QueryApp};
use domain::model::{AuditEvent, EventResult, Source, fmt_time};
use domain::read::{Comment, EventFilter, TagUpdate};
use domain::store::{Health, StreamKey, keys};
use domain::stream::Stream;

mod alerts;
mod analytics;
mod annotations;
mod rules;
use alerts::{
    __path_get_alert, __path_list_alerts, __path_patch_alert, __path_post_alert_comment,
    AlertDetail, AlertPatch, AlertSchema, AlertsPage, get_alert, list_alerts, patch_alert,
    post_alert_comment,
};
use analytics::{
    __path_analytics_catalog, __path_run_analytics, AnalyticsResult, Catalog, CatalogEntry,
    CatalogParam, ResultColumn, analytics_catalog, run_analytics,
};
use annotations::{
    __path_patch_tags, __path_post_comment, CommentBody, TagsBody, TagsView, patch_tags,
    post_comment,
};
use rules::{
    __path_create_rule, __path_delete_rule, __path_list_rules, __path_replace_rule,
    __path_test_rule, RuleBody, RuleTestBody, RuleTestResult, RuleView, RulesView, create_rule,
    delete_rule, list_rules, replace_rule, test_rule,
};

/// Every `(method, path)` the router serves, as the OpenAPI document names them.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/version"),
    ("get", "/openapi.json"),
    ("get", "/events"),
    ("get", "/events/{id}"),
    ("get", "/filter-options"),
    ("get", "/sources"),
    ("get", "/summary"),
    ("patch", "/events/{id}/tags"),
    ("post", "/events/{id}/comments"),
    ("get", "/analytics"),
    ("post", "/analytics/{query}"),
    ("get", "/alerts"),
    ("get", "/alerts/{id}"),
    ("patch", "/alerts/{id}"),
    ("post", "/alerts/{id}/comments"),
    ("get", "/rules"),
    ("post", "/rules"),
    ("put", "/rules/{id}"),
    ("delete", "/rules/{id}"),
    ("post", "/rules/{id}/test"),
];

/// Default and largest `page_size`.
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 500;
/// A listing without `end` reaches this far past the pin (clock skew between Microsoft and us).
const END_SLACK_MINUTES: i64 = 5;
/// Free text searches `q` over at most this range; without `start`, the last day.
const Q_MAX_DAYS: i64 = 7;
const Q_DEFAULT_HOURS: i64 = 24;
const Q_MAX_CHARS: usize = 200;
/// Tags: how many per event and how long each.
const MAX_TAGS: usize = 50;
const MAX_TAG_CHARS: usize = 64;
const MAX_COMMENT_CHARS: usize = 4000;
/// `days` of `/filter-options` and `/summary`.
const MAX_DAYS: u32 = 366;
/// Values of the filters that name a field exactly (`stream`, `service`, `actor`, `operation`,
/// `ip`): longer ones match nothing, and as index keys DynamoDB would refuse them.
const MAX_FILTER_BYTES: usize = 1024;
/// The JSON of the events of one answer stops growing past this: a Lambda response is at most
/// 6 MB, and the page around the events (cursor, scan, headers) stays far below the rest. A page
/// ends early when the next event would cross it (at least one event is always sent; one stored
/// event is at most 400 KB) and its cursor goes on from there.
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;
/// The rows of a dimension `/filter-options` and `/summary` return, most frequent first.
const TOP_VALUES: usize = 100;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "auditlake query API",
        description = "Search, review and annotate Microsoft 365 / Entra ID audit events; triage the alerts the detection rules raise; manage the tenant's own rules. Bearer tokens from Entra ID; roles auditlake.read, auditlake.annotate, auditlake.admin."
    ),
    modifiers(&BearerScheme),
    paths(
        health, version, openapi, list_events, get_event, filter_options, sources, summary,
        patch_tags, post_comment, analytics_catalog, run_analytics, list_alerts, get_alert,
        patch_alert, post_alert_comment, list_rules, create_rule, replace_rule, delete_rule,
        test_rule
    ),
    components(schemas(
        ErrorBody, Page, Scan, EventView, CommentSchema, TagsBody, TagsView, CommentBody,
        FilterOptions, ValueCount, Summary, SourcesView, SourceHealth, HealthView, VersionView,
        Catalog, CatalogEntry, CatalogParam, AnalyticsResult, ResultColumn, AlertSchema,
        AlertsPage, AlertDetail, AlertPatch, RuleView, RulesView, RuleBody, RuleTestBody,
        RuleTestResult
    ))
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the protected routes name.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
    }
}

pub(super) fn router(app: QueryApp) -> Router {
    let read = Router::new()
        .route("/events", get(list_events))
        .route("/events/{id}", get(get_event))
        .route("/filter-options", get(filter_options))
        .route("/sources", get(sources))
        .route("/summary", get(summary))
        .route("/analytics", get(analytics_catalog))
        .route("/alerts", get(list_alerts))
        .route("/alerts/{id}", get(get_alert))
        .route("/rules", get(list_rules))
        .route_layer(middleware::from_fn_with_state(
            (app.clone(), Role::Read),
            require,
        ));
    let annotate = Router::new()
        .route("/events/{id}/tags", patch(patch_tags))
        .route("/events/{id}/comments", post(post_comment))
        .route("/alerts/{id}", patch(patch_alert))
        .route("/alerts/{id}/comments", post(post_alert_comment))
        .route_layer(middleware::from_fn_with_state(
            (app.clone(), Role::Annotate),
            require,
        ));
    let admin = Router::new()
        .route("/analytics/{query}", post(run_analytics))
        .route("/rules", post(create_rule))
        .route("/rules/{id}", put(replace_rule).delete(delete_rule))
        .route("/rules/{id}/test", post(test_rule))
        .route_layer(middleware::from_fn_with_state(
            (app.clone(), Role::Admin),
            require,
        ));
    let disabled = app.settings.auth_disabled;
    Router::new()
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/openapi.json", get(openapi))
        .merge(read)
        .merge(annotate)
        .merge(admin)
        .merge(crate::console::routes())
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::map_response(
            move |mut resp: Response| async move {
                if disabled {
                    resp.headers_mut()
                        .insert(AUTH_DISABLED_HEADER, HeaderValue::from_static("disabled"));
                }
                resp
            },
        ))
        .with_state(app)
}

/// Authenticates the caller and checks its role; the principal goes into the request.
async fn require(
    State((app, role)): State<(QueryApp, Role)>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let principal = authorize(&app, header, role).await?;
    req.extensions_mut().insert(principal);
    Ok(next.run(req).await)
}

/// Authenticates an `Authorization` header and checks that it grants `role`: 401 without a
/// valid token, 403 without the role. The one check every route and every MCP tool goes through.
pub async fn authorize(
    app: &QueryApp,
    header: Option<&str>,
    role: Role,
) -> Result<Principal, ApiError> {
    let principal = app.ports.auth.authenticate(header).await?;
    let granted = effective_role(&principal, &app.settings.group_roles);
    if granted < Some(role) {
        return Err(ApiError::Forbidden(format!(
            "this needs the app role `{}` (or membership of a group granted it); the token has {}",
            role.as_str(),
            granted.map_or("no auditlake role".to_string(), |r| format!(
                "only `{}`",
                r.as_str()
            ))
        )));
    }
    Ok(principal)
}

/// The request body within the size limit: 413 when larger.
async fn body_bytes<S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<axum::body::Bytes, ApiError> {
    axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(format!(
                    "the request body is larger than {MAX_BODY_BYTES} bytes"
                ))
            } else {
                ApiError::BadRequest {
                    code: "invalid_body",
                    message: format!("the request body could not be read: {e}"),
                }
            }
        })
}

/// A JSON body within the size limit: 413 when larger, 400 naming the problem when malformed.
struct JsonBody<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::BadRequest {
                code: "invalid_body",
                message: format!("the request body is not the expected JSON: {e}"),
            })
    }
}

/// Query parameters checked against the names a route knows; each at most once, empty = absent.
fn params(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    known: &[&str],
) -> Result<HashMap<String, String>, ApiError> {
    let Query(pairs) =
        query.map_err(|e| ApiError::invalid(format!("the query string is malformed: {e}")))?;
    let mut out = HashMap::new();
    for (k, v) in pairs {
        if !known.contains(&k.as_str()) {
            return Err(ApiError::BadRequest {
                code: "unknown_parameter",
                message: format!("unknown parameter `{k}` (known: {})", known.join(", ")),
            });
        }
        if out.contains_key(&k) {
            return Err(ApiError::invalid(format!("`{k}` is given more than once")));
        }
        if !v.trim().is_empty() {
            out.insert(k, v.trim().to_string());
        }
    }
    Ok(out)
}

/// The earliest and latest instants `start` and `end` may name: the Unix epoch, and the last
/// instant nanoseconds since it fit an `i64` (2262-04-11T23:47:16Z), past which time arithmetic
/// in the stores and the SDK overflows and a listing would silently find nothing.
fn instant_bounds() -> (DateTime<Utc>, DateTime<Utc>) {
    (
        DateTime::UNIX_EPOCH,
        DateTime::from_timestamp_nanos(i64::MAX)
            .duration_trunc(TimeDelta::seconds(1))
            .unwrap_or(DateTime::UNIX_EPOCH),
    )
}

fn parse_instant(name: &str, v: &str) -> Result<DateTime<Utc>, ApiError> {
    let t = if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        t.with_timezone(&Utc)
    } else if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        t.and_utc()
    } else {
        return Err(ApiError::invalid(format!(
            "`{name}`: `{}` is not an RFC 3339 time such as 2024-05-01T00:00:00Z, nor a date such as 2024-05-01",
            shown(v)
        )));
    };
    let (first, last) = instant_bounds();
    if t < first || t > last {
        return Err(ApiError::invalid(format!(
            "`{name}` must be from {} to {}",
            fmt_time(first),
            fmt_time(last)
        )));
    }
    Ok(t)
}

/// An input value as an error message may echo it: at most 100 characters.
fn shown(v: &str) -> String {
    match v.char_indices().nth(100) {
        Some((i, _)) => format!("{}…", &v[..i]),
        None => v.to_string(),
    }
}

fn parse_days(p: &HashMap<String, String>, default: u32) -> Result<u32, ApiError> {
    match p.get("days") {
        None => Ok(default),
        Some(v) => match v.parse::<u32>() {
            Ok(n) if (1..=MAX_DAYS).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(format!(
                "`days` must be a whole number from 1 to {MAX_DAYS}, got `{v}`"
            ))),
        },
    }
}

#[derive(Debug, Serialize, ToSchema)]
struct HealthView {
    /// `ok` when every store answered, else `degraded` (with status 503).
    status: String,
    events_store: String,
    state_store: String,
}

/// Whether the API and its stores answer. No token needed.
#[utoipa::path(get, path = "/health", responses(
    (status = 200, description = "Every store answered", body = HealthView),
    (status = 503, description = "A store did not answer (`status`: `degraded`)", body = HealthView)))]
async fn health(State(app): State<QueryApp>) -> Response {
    let probe = StreamKey::new(
        app.settings.tenant_id.clone(),
        Source::EntraDirectoryAudits,
        None,
    );
    let (events, state) = tokio::join!(app.ports.reader.ping(), app.ports.state.health(&probe));
    let word = |ok: bool| if ok { "ok" } else { "unavailable" }.to_string();
    if let Err(e) = &events {
        tracing::error!(error = %e, "Health: the events store did not answer.");
    }
    if let Err(e) = &state {
        tracing::error!(error = %e, "Health: the state store did not answer.");
    }
    let ok = events.is_ok() && state.is_ok();
    let view = HealthView {
        status: if ok { "ok" } else { "degraded" }.into(),
        events_store: word(events.is_ok()),
        state_store: word(state.is_ok()),
    };
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(view)).into_response()
}

#[derive(Debug, Serialize, ToSchema)]
struct VersionView {
    name: String,
    version: String,
}

/// The running version. No token needed.
#[utoipa::path(get, path = "/version", responses(
    (status = 200, description = "The running version", body = VersionView)))]
async fn version() -> Json<VersionView> {
    Json(VersionView {
        name: "auditlake".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// This API's OpenAPI document. No token needed.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "OpenAPI 3.1 document")))]
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// A page of events (the contract's page), with how much was read.
#[derive(Debug, Serialize, ToSchema)]
struct Page {
    /// AuditEvent JSON (the contract), newest first.
    #[schema(value_type = Vec<Object>)]
    events: Vec<AuditEvent>,
    /// Pass as `cursor` with the same filters for the next page; `null` when there is none.
    next_cursor: Option<String>,
    scan: Scan,
}

const EVENT_PARAMS: [&str; 12] = [
    "source",
    "stream",
    "service",
    "actor",
    "operation",
    "result",
    "ip",
    "start",
    "end",
    "q",
    "page_size",
    "cursor",
];

/// Search events, newest first, one page at a time.
#[utoipa::path(get, path = "/events",
    params(
        ("source" = inline(Option<crate::api_doc::SourceName>), Query, description = "Source name"),
        ("stream" = Option<String>, Query, description = "Stream (sign-in kind, content type), exact"),
        ("service" = Option<String>, Query, description = "Service, exact"),
        ("actor" = Option<String>, Query, description = "Actor UPN, object id, display name or app id (ignoring case)"),
        ("operation" = Option<String>, Query, description = "Operation, exact"),
        ("result" = inline(Option<crate::api_doc::ResultName>), Query, description = "The event's outcome"),
        ("ip" = Option<String>, Query, description = "Client IP (ignoring case)"),
        ("start" = Option<String>, Query, pattern = r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))?$",
            description = "Inclusive; RFC 3339 or a date (midnight UTC). Before `end`. Default: the hot retention back from `end` (with `q`: 24 hours)"),
        ("end" = Option<String>, Query, pattern = r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))?$",
            description = "Exclusive; RFC 3339 or a date (midnight UTC), at most 2262-04-11T23:59:59Z (later ones are a 400). Default: now (plus 5 minutes of clock skew)"),
        ("q" = Option<String>, Query, max_length = 200,
            description = "Free text over the normalized fields, details included (ignoring case; the raw record is not in the hot store), at most 200 characters; `end` - `start` at most 7 days"),
        ("page_size" = Option<u32>, Query, minimum = 1, maximum = 500,
            description = "Events per page, 1 to 500, default 50. A page may hold fewer (a byte cap on the answer, or the read budget: see `scan`) and still have a `next_cursor`"),
        ("cursor" = Option<String>, Query,
            description = "`next_cursor` of the previous page, sent with the same filters (another filter, an altered or a foreign cursor is a 400 `invalid_cursor`)"),
    ),
    responses(
        (status = 200, description = "A page, newest first", body = Page),
        (status = 400, description = "An unknown or repeated parameter, a value out of its range (above), `start` not before `end`, `q` over more than 7 days, `end` after 2262-04-11, or a cursor that is altered, foreign or from other filters (`invalid_parameter`, `unknown_parameter`, `invalid_cursor`)", body = ErrorBody),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
async fn list_events(
    State(app): State<QueryApp>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Page>, ApiError> {
    let p = params(query, &EVENT_PARAMS)?;
    for k in ["stream", "service", "actor", "operation", "ip"] {
        if p.get(k).is_some_and(|v| v.len() > MAX_FILTER_BYTES) {
            return Err(ApiError::invalid(format!(
                "`{k}` is longer than {MAX_FILTER_BYTES} bytes"
            )));
        }
    }
    let mut filter = EventFilter {
        source: p
            .get("source")
            .map(|s| s.parse::<Source>())
            .transpose()
            .map_err(|e| ApiError::invalid(format!("`source`: {e}")))?,
        stream: p.get("stream").cloned(),
        service: p.get("service").cloned(),
        actor: p.get("actor").cloned(),
        operation: p.get("operation").cloned(),
        result: p
            .get("result")
            .map(|r| {
                serde_json::from_value::<EventResult>(serde_json::Value::String(r.clone())).map_err(
                    |_| {
                        ApiError::invalid(format!(
                            "`result`: `{r}` is not one of success, failure, partial, unknown"
                        ))
                    },
                )
            })
            .transpose()?,
        ip: p.get("ip").map(|s| s.to_lowercase()),
        q: p.get("q").map(|s| s.to_lowercase()),
        ingested_by: None,
    };
    if filter
        .q
        .as_ref()
        .is_some_and(|q| q.chars().count() > Q_MAX_CHARS)
    {
        return Err(ApiError::invalid(format!(
            "`q` is longer than {Q_MAX_CHARS} characters"
        )));
    }
    let page_size = match p.get("page_size") {
        None => DEFAULT_PAGE_SIZE,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid(format!(
                    "`page_size` must be a whole number from 1 to {MAX_PAGE_SIZE}, got `{v}`"
                )));
            }
        },
    };
    let start = p
        .get("start")
        .map(|v| parse_instant("start", v))
        .transpose()?;
    let end = p.get("end").map(|v| parse_instant("end", v)).transpose()?;
    // The filters as given, canonical: the cursor is bound to them. The encoding is JSON (a list
    // of name and value pairs), so no value can spell another filter: with `name=value` lines, an
    // `operation` of "x\nresult=success" read the same as two filters.
    let canonical: Vec<(&str, String)> = EVENT_PARAMS
        .iter()
        .filter(|k| !matches!(**k, "cursor" | "page_size"))
        .filter_map(|k| {
            let v = match *k {
                "start" => start.map(fmt_time),
                "end" => end.map(fmt_time),
                "actor" | "ip" | "q" => p.get(*k).map(|v| v.to_lowercase()),
                _ => p.get(*k).cloned(),
            }?;
            Some((*k, v))
        })
        .collect();
    let digest = CursorCodec::digest(&serde_json::to_string(&canonical).unwrap_or_default());
    let (cursor, pin) = cursor_and_pin(&app, &p, &digest)?;
    filter.ingested_by = Some(pin);
    let end = end.unwrap_or(pin + TimeDelta::minutes(END_SLACK_MINUTES));
    let start = match (start, &filter.q) {
        (Some(s), _) => s,
        (None, Some(_)) => end - TimeDelta::hours(Q_DEFAULT_HOURS),
        (None, None) => end - app.settings.hot_retention,
    };
    if start >= end {
        return Err(ApiError::invalid(format!(
            "`start` ({}) must be before `end` ({})",
            fmt_time(start),
            fmt_time(end)
        )));
    }
    if filter.q.is_some() && end - start > TimeDelta::days(Q_MAX_DAYS) {
        return Err(ApiError::invalid(format!(
            "`q` searches at most {Q_MAX_DAYS} days; narrow `start` and `end`"
        )));
    }
    let listing = list(
        app.ports.reader.as_ref(),
        &ListParams {
            filter,
            start,
            end,
            page_size,
            before: cursor.map(|c| c.before),
            budget: app.settings.read_budget,
            max_bytes: MAX_PAGE_BYTES,
        },
    )
    .await?;
    let next_cursor = listing.next_before.map(|before| {
        app.cursors.encode(&Cursor {
            filters: digest.clone(),
            pin_ms: pin.timestamp_millis(),
            before,
        })
    });
    Ok(Json(Page {
        events: listing.events,
        next_cursor,
        scan: listing.scan,
    }))
}

/// The `cursor` parameter checked against the listing's filter digest, and the pin: the cursor's,
/// or now for a first page.
fn cursor_and_pin(
    app: &QueryApp,
    p: &HashMap<String, String>,
    digest: &str,
) -> Result<(Option<Cursor>, DateTime<Utc>), ApiError> {
    let cursor = p
        .get("cursor")
        .map(|c| app.cursors.decode(c, digest))
        .transpose()
        .map_err(|e| ApiError::BadRequest {
            code: "invalid_cursor",
            message: e.to_string(),
        })?;
    let pin = match &cursor {
        Some(c) => {
            DateTime::from_timestamp_millis(c.pin_ms).ok_or_else(|| ApiError::BadRequest {
                code: "invalid_cursor",
                message: "`cursor` holds an impossible time".into(),
            })?
        }
        None => app.ports.clock.now(),
    };
    Ok((cursor, pin))
}

/// One event with its annotations.
#[derive(Debug, Serialize, ToSchema)]
struct EventView {
    /// The AuditEvent JSON with `raw`, the record as Microsoft sent it, read from the raw layer
    /// by the reference the hot store keeps; `raw_ref` (where it is) takes `raw`'s place only
    /// when it cannot be read or the API has no bucket.
    #[schema(value_type = Object)]
    event: AuditEvent,
    tags: Vec<String>,
    /// Oldest first.
    #[schema(value_type = Vec<CommentSchema>)]
    comments: Vec<Comment>,
}

/// A comment on an event: the OpenAPI schema of `domain::read::Comment`, which the core defines
/// without a schema derive. Field for field the same; the OpenAPI test checks the two agree.
#[derive(ToSchema)]
#[schema(as = Comment)]
#[allow(dead_code)]
struct CommentSchema {
    id: String,
    /// The token's subject (object id).
    author: String,
    /// The token's display name or UPN, when it carries one.
    author_name: Option<String>,
    text: String,
    created_at: String,
}

fn check_id(id: &str) -> Result<(), ApiError> {
    keys::parse_event_id(id).map(|_| ()).ok_or_else(|| {
        ApiError::invalid(format!(
            "`{}` is not an event id (`<source>:<YYYYMMDDTHHMMSSZ>-<dedupe_key>`, the key 1 to {} letters, digits or - . _ ~; e.g. entra-directory-audits:20240304T050607Z-abc)",
            shown(id),
            keys::MAX_DEDUPE_KEY_BYTES
        ))
    })
}

fn no_event(id: &str) -> ApiError {
    ApiError::NotFound(format!("no event `{id}`"))
}

/// One event: the normalized event with its raw record (read from the raw layer by its reference), tags and comments.
#[utoipa::path(get, path = "/events/{id}",
    params(("id" = String, Path, max_length = 2048, pattern = r"^(entra-directory-audits|entra-sign-ins|intune-audit|exchange-message-trace|m365-activity):.+$",
        description = "Event id, `<source>:<YYYYMMDDTHHMMSSZ>-<dedupe_key>` (the event time to the second), at most 2048 bytes (DynamoDB's partition key limit)")),
    responses(
        (status = 200, description = "The event with its raw record, tags and comments", body = EventView),
        (status = 400, description = "Not an event id: no known source before the `:`, nothing after it, or longer than 2048 bytes (`invalid_parameter`)", body = ErrorBody),
        (status = 404, description = "No such event (`not_found`)", body = ErrorBody),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
async fn get_event(
    State(app): State<QueryApp>,
    Path(id): Path<String>,
) -> Result<Json<EventView>, ApiError> {
    check_id(&id)?;
    let mut record = app
        .ports
        .reader
        .record(&id)
        .await?
        .ok_or_else(|| no_event(&id))?;
    if record.event.raw.is_none()
        && let (Some(reference), Some(raw)) = (&record.event.raw_ref, &app.ports.raw)
    {
        // A record over the inline limit: its raw JSON is line `line` of a raw object. When it
        // cannot be read the event is still answered, with the reference, and the log says why.
        // The contract's AuditEvent carries `raw` or `raw_ref`, never both.
        match raw_line(raw.as_ref(), reference).await {
            Ok(value) => {
                record.event.raw = Some(value);
                record.event.raw_ref = None;
            }
            Err(problem) => {
                tracing::warn!(event = %id, key = %reference.key, line = reference.line, %problem, "Could not read the raw record of an event kept by reference.")
            }
        }
    }
    Ok(Json(EventView {
        event: record.event,
        tags: record.tags,
        comments: record.comments,
    }))
}

/// Line `reference.line` (1-based) of the gzip NDJSON raw object `reference.key`, as JSON.
async fn raw_line(
    raw: &dyn domain::store::RawStore,
    reference: &domain::model::RawRef,
) -> Result<Box<serde_json::value::RawValue>, String> {
    use std::io::BufRead;
    if !reference.key.starts_with("raw/") || reference.line == 0 {
        return Err("not a raw-layer reference".into());
    }
    let body = raw.get(&reference.key).await.map_err(|e| e.to_string())?;
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(&body[..]));
    let line = reader
        .lines()
        .nth((reference.line - 1) as usize)
        .ok_or_else(|| format!("the object has fewer than {} lines", reference.line))?
        .map_err(|e| format!("not gzip text: {e}"))?;
    serde_json::value::RawValue::from_string(line).map_err(|e| format!("not JSON: {e}"))
}

#[derive(Debug, Serialize, ToSchema)]
struct ValueCount {
    value: String,
    count: u64,
}

/// Distinct values seen, with approximate counts, most frequent first.
#[derive(Debug, Serialize, ToSchema)]
struct FilterOptions {
    /// First and last day counted (event time, UTC).
    from: String,
    to: String,
    /// Always true: counters are bumped on insert, not recounted.
    approximate: bool,
    /// True when the read budget ran out before every day was counted: `from` is then the
    /// oldest day counted. Ask for fewer days for a whole answer.
    partial: bool,
    /// Each list: the 100 most frequent values.
    sources: Vec<ValueCount>,
    services: Vec<ValueCount>,
    operations: Vec<ValueCount>,
    results: Vec<ValueCount>,
    actors: Vec<ValueCount>,
}

/// The per-dimension totals of the last `days` days (today included), newest first, as far as
/// the read budget reaches.
struct Counted {
    /// The oldest day counted whole, and today.
    from: NaiveDate,
    to: NaiveDate,
    /// Fewer days than asked were counted: the read budget ran out.
    partial: bool,
    /// Per dimension, the [`TOP_VALUES`] most frequent values.
    dims: BTreeMap<String, Vec<ValueCount>>,
}

async fn counted(app: &QueryApp, days: u32) -> Result<Counted, ApiError> {
    use domain::read::PRESENCE_DAYS;
    let today = app.ports.clock.now().date_naive();
    let oldest = today
        .checked_sub_days(chrono::Days::new(u64::from(days.saturating_sub(1))))
        .unwrap_or(today);
    // Newest first, PRESENCE_DAYS at a time: one request for the presence markers of the span
    // (days without a marker hold no event, so no counter), then the counters of the days that
    // have one. `covered` is the oldest day up to which the answer is whole.
    let mut budget = app.settings.read_budget;
    let mut rows = Vec::new();
    let mut covered = None;
    let mut partial = false;
    let mut last = today;
    'spans: while last >= oldest {
        let first = last
            .checked_sub_days(chrono::Days::new((PRESENCE_DAYS - 1) as u64))
            .unwrap_or(oldest)
            .max(oldest);
        if budget == 0 {
            partial = true;
            break;
        }
        let (found, requests) = app.ports.reader.presence(first, last).await?;
        budget = budget.saturating_sub(requests.max(1));
        let mut present: Vec<NaiveDate> = found.into_iter().map(|(d, _)| d).collect();
        present.sort_unstable_by(|a, b| b.cmp(a));
        present.dedup();
        if !present.is_empty() {
            let read = app.ports.reader.aggregates(&present, budget).await?;
            budget = budget.saturating_sub(read.requests);
            rows.extend(read.rows);
            if read.days_read < present.len() {
                // Whole down to the oldest day read (or, with none read, nothing of this span).
                covered = read
                    .days_read
                    .checked_sub(1)
                    .map(|k| present[k])
                    .or(covered);
                partial = true;
                break 'spans;
            }
        }
        covered = Some(first);
        match first.pred_opt() {
            Some(d) => last = d,
            None => break,
        }
    }
    let mut sums: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for r in rows {
        *sums.entry(r.dim).or_default().entry(r.value).or_insert(0) += r.count;
    }
    let dims = sums
        .into_iter()
        .map(|(dim, values)| {
            let mut v: Vec<ValueCount> = values
                .into_iter()
                .map(|(value, count)| ValueCount { value, count })
                .collect();
            v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            v.truncate(TOP_VALUES);
            (dim, v)
        })
        .collect();
    if partial {
        tracing::info!(days, "Counters read partly: the read budget ran out.");
    }
    let from = covered.unwrap_or(today);
    Ok(Counted {
        from,
        to: today,
        partial,
        dims,
    })
}

/// Distinct sources, services, operations, results and actors (for filter pickers), from the
/// per-day counters kept on insert; approximate.
#[utoipa::path(get, path = "/filter-options",
    params(("days" = Option<u32>, Query, minimum = 1, maximum = 366, description = "Days back, today included: 1 to 366, default 30")),
    responses(
        (status = 200, description = "Distinct values with counts; `partial` when the read budget ran out first", body = FilterOptions),
        (status = 400, description = "An unknown or repeated parameter, or `days` not a whole number from 1 to 366 (`invalid_parameter`, `unknown_parameter`)", body = ErrorBody),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
async fn filter_options(
    State(app): State<QueryApp>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<FilterOptions>, ApiError> {
    let p = params(query, &["days"])?;
    let days = parse_days(&p, 30)?;
    let Counted {
        from,
        to,
        partial,
        mut dims,
    } = counted(&app, days).await?;
    let mut take = |d: &str| dims.remove(d).unwrap_or_default();
    Ok(Json(FilterOptions {
        from: from.to_string(),
        to: to.to_string(),
        approximate: true,
        partial,
        sources: take("source"),
        services: take("service"),
        operations: take("operation"),
        results: take("result"),
        actors: take("actor"),
    }))
}

/// Counts over the last `days` days by source, service, operation, result and actor.
#[derive(Debug, Serialize, ToSchema)]
struct Summary {
    days: u32,
    from: String,
    to: String,
    /// Always true: exact answers come from Athena.
    approximate: bool,
    /// True when the read budget ran out before every day was counted: `from` is then the
    /// oldest day counted, and `total` covers `from` to `to`.
    partial: bool,
    /// Events from `from` to `to`, every source.
    total: u64,
    by_source: Vec<ValueCount>,
    by_service: Vec<ValueCount>,
    by_operation: Vec<ValueCount>,
    by_result: Vec<ValueCount>,
    /// Each `by_` list: the 100 most frequent values; `by_actor` the most active actors.
    by_actor: Vec<ValueCount>,
}

/// Event counts over the last N days, from the per-day counters; approximate.
#[utoipa::path(get, path = "/summary",
    params(("days" = Option<u32>, Query, minimum = 1, maximum = 366, description = "Days back, today included: 1 to 366, default 7")),
    responses(
        (status = 200, description = "Counts; `partial` when the read budget ran out first", body = Summary),
        (status = 400, description = "An unknown or repeated parameter, or `days` not a whole number from 1 to 366 (`invalid_parameter`, `unknown_parameter`)", body = ErrorBody),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
async fn summary(
    State(app): State<QueryApp>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Summary>, ApiError> {
    let p = params(query, &["days"])?;
    let days = parse_days(&p, 7)?;
    let Counted {
        from,
        to,
        partial,
        mut dims,
    } = counted(&app, days).await?;
    let mut take = |d: &str| dims.remove(d).unwrap_or_default();
    let by_source = take("source");
    let by_actor = take("actor");
    Ok(Json(Summary {
        days,
        from: from.to_string(),
        to: to.to_string(),
        approximate: true,
        partial,
        total: by_source.iter().map(|v| v.count).sum(),
        by_source,
        by_service: take("service"),
        by_operation: take("operation"),
        by_result: take("result"),
        by_actor,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
struct SourceHealth {
    source: String,
    stream: Option<String>,
    /// The stream's health record (last run, last success, lag, totals, last error with
    /// Microsoft's code, gaps, doctor findings); `null` when it never ran.
    #[schema(value_type = Option<Object>)]
    health: Option<Health>,
}

#[derive(Debug, Serialize, ToSchema)]
struct SourcesView {
    sources: Vec<SourceHealth>,
    /// Each notification and forwarding channel that has delivered or failed: `channel`
    /// (`topic`, `webhook:<name>`, `forward`), `last_success`, `last_failure`, `last_error`,
    /// `delivered`, `failed`, `refused`, `consecutive_failures` (0 is healthy).
    #[schema(value_type = Vec<Object>)]
    deliveries: Vec<domain::delivery::DeliveryHealth>,
}

/// Each source and stream's health, from the state table.
#[utoipa::path(get, path = "/sources",
    responses(
        (status = 200, description = "Every source and stream, with its health record or null", body = SourcesView),
        crate::api_doc::Guarded, crate::api_doc::StoreFailed),
    security(("bearer" = [])))]
async fn sources(State(app): State<QueryApp>) -> Result<Json<SourcesView>, ApiError> {
    let mut keys = Vec::new();
    for source in Source::ALL {
        let streams: Vec<Option<Stream>> = match source {
            Source::EntraSignIns => app
                .settings
                .signin_kinds
                .iter()
                .map(|&k| Some(Stream::SignIn(k)))
                .collect(),
            Source::M365Activity => app
                .settings
                .content_types
                .iter()
                .map(|&c| Some(Stream::Content(c)))
                .collect(),
            _ => vec![None],
        };
        for stream in streams {
            keys.push(StreamKey::new(
                app.settings.tenant_id.clone(),
                source,
                stream,
            ));
        }
    }
    let healths =
        futures::future::try_join_all(keys.iter().map(|k| app.ports.state.health(k))).await?;
    let deliveries = match &app.ports.deliveries {
        Some(d) => d.deliveries().await?,
        None => Vec::new(),
    };
    Ok(Json(SourcesView {
        deliveries,
        sources: keys
            .into_iter()
            .zip(healths)
            .map(|(k, health)| SourceHealth {
                source: k.source.name().to_string(),
                stream: k.stream.map(|s| s.name().to_string()),
                health,
            })
            .collect(),
    }))
}
