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

mod aggregates;
mod alerts;
mod analytics;
mod annotations;
mod events;
mod rules;
use aggregates::{
    __path_filter_options, __path_sources, __path_summary, FilterOptions, SourceHealth,
    SourcesView, Summary, ValueCount, filter_options, sources, summary,
};
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
use events::{
    __path_get_event, __path_list_events, CommentSchema, EventView, Page, check_id, cursor_and_pin,
    get_event, list_events, no_event,
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
