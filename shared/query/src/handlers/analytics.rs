//! The hunting-query routes: `GET /analytics` (the catalog and whether this deployment runs
//! them) and `POST /analytics/{query}` (one query with typed parameters, within the time limit,
//! its answer capped in rows and bytes).

use super::*;

/// A hunting query's parameter, as the catalog lists it.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CatalogParam {
    name: String,
    /// `date` (`YYYY-MM-DD`), `integer` or `varchar`.
    #[serde(rename = "type")]
    ty: String,
}

/// One hunting query of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CatalogEntry {
    name: String,
    description: String,
    params: Vec<CatalogParam>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Catalog {
    queries: Vec<CatalogEntry>,
    /// Whether this deployment can run them (an Athena workgroup is configured).
    enabled: bool,
    /// The time limit of one run, in seconds.
    time_limit_secs: u64,
}

/// The hunting queries and their parameters.
#[utoipa::path(get, path = "/analytics", responses(
        (status = 200, description = "The hunting queries and whether this deployment runs them", body = Catalog),
        crate::api_doc::Guarded),
    security(("bearer" = [])))]
pub(super) async fn analytics_catalog(State(app): State<QueryApp>) -> Json<Catalog> {
    let queries = domain::analytics::catalog()
        .into_iter()
        .map(|q| CatalogEntry {
            name: q.name.to_string(),
            description: q.description,
            params: q
                .params
                .into_iter()
                .map(|(name, ty)| CatalogParam {
                    name,
                    ty: ty.as_str().to_string(),
                })
                .collect(),
        })
        .collect();
    Json(Catalog {
        queries,
        enabled: app.ports.analytics.is_some(),
        time_limit_secs: app.settings.analytics_limit.as_secs(),
    })
}

/// Largest number of rows one answer carries; more are cut and `truncated` is set.
const MAX_ANALYTICS_ROWS: usize = 5000;

/// The first rows within `max_rows` and `max_bytes` of JSON (a row is never split); `true` when
/// some were cut.
fn cap_rows(
    mut rows: Vec<Vec<Option<String>>>,
    max_rows: usize,
    max_bytes: usize,
) -> (Vec<Vec<Option<String>>>, bool) {
    let mut total = 0usize;
    let mut keep = rows.len().min(max_rows);
    for (i, row) in rows.iter().take(keep).enumerate() {
        total += 1 + serde_json::to_vec(row).map_or(0, |v| v.len());
        if total > max_bytes {
            keep = i;
            break;
        }
    }
    let truncated = keep < rows.len();
    rows.truncate(keep);
    (rows, truncated)
}

/// A column of a hunting query's answer.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ResultColumn {
    name: String,
    /// The engine's type name (`varchar`, `bigint`, `timestamp`, ...).
    #[serde(rename = "type")]
    ty: String,
}

/// A hunting query's answer: every value as text or null.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AnalyticsResult {
    query: String,
    columns: Vec<ResultColumn>,
    #[schema(value_type = Vec<Vec<Option<String>>>)]
    rows: Vec<Vec<Option<String>>>,
    /// More rows were found than the answer carries (at most 5,000 rows and 4 MiB of JSON).
    truncated: bool,
    elapsed_ms: u64,
}

/// The parameters of a hunting query: a JSON object, or an empty body for none.
pub(super) struct ParamsBody(serde_json::Map<String, serde_json::Value>);

impl<S: Send + Sync> FromRequest<S> for ParamsBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(ParamsBody(serde_json::Map::new()));
        }
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(serde_json::Value::Object(m)) => Ok(ParamsBody(m)),
            Ok(_) => Err(ApiError::BadRequest {
                code: "invalid_body",
                message:
                    "the parameters must be a JSON object, e.g. {\"start_date\": \"2024-05-01\"}"
                        .into(),
            }),
            Err(e) => Err(ApiError::BadRequest {
                code: "invalid_body",
                message: format!("the request body is not JSON: {e}"),
            }),
        }
    }
}

/// Runs a hunting query (admin role) with typed parameters, passed to Athena as execution
/// parameters (never spliced into the SQL), within the deployment's time limit.
#[utoipa::path(post, path = "/analytics/{query}",
    params(("query" = String, Path, description = "A hunting query's name (see GET /analytics)")),
    request_body(content = Object, description = "The query's parameters by name, e.g. {\"start_date\": \"2024-05-01\", \"end_date\": \"2024-05-07\", \"min_failures\": 3}; an empty body for none"),
    responses(
        (status = 200, description = "The answer, at most 5000 rows (`truncated` when there were more)", body = AnalyticsResult),
        (status = 400, description = "A body that is not a JSON object, or a parameter missing, unknown or of the wrong type (`invalid_body`, `invalid_parameter`)", body = ErrorBody),
        (status = 404, description = "No hunting query of that name (`not_found`)", body = ErrorBody),
        (status = 413, description = "A body over 64 KiB (`payload_too_large`)", body = ErrorBody),
        (status = 502, description = "The analytics engine could not run the query (`upstream_failed`)", body = ErrorBody),
        (status = 504, description = "The query ran past the deployment's time limit and was stopped (`timeout`)", body = ErrorBody),
        crate::api_doc::Guarded),
    security(("bearer" = [])))]
pub(super) async fn run_analytics(
    State(app): State<QueryApp>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    ParamsBody(params): ParamsBody,
) -> Result<Json<AnalyticsResult>, ApiError> {
    use crate::analytics::run_bound;
    use domain::analytics::{AnalyticsError, bind};
    let bound = bind(&name, &params).map_err(|e| match e {
        AnalyticsError::NotFound(_) => {
            ApiError::NotFound(format!("{e}; GET /analytics lists the hunting queries"))
        }
        other => ApiError::invalid(other.to_string()),
    })?;
    let engine = app.ports.analytics.clone().ok_or_else(|| {
        ApiError::Unavailable(
            "hunting queries are not configured on this deployment (no Athena workgroup)".into(),
        )
    })?;
    let limit = app.settings.analytics_limit;
    let started = std::time::Instant::now();
    let outcome = run_bound(engine.as_ref(), &bound, limit).await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let table = outcome.map_err(|e| {
        tracing::warn!(query = %name, caller = %principal.subject, error = %e, elapsed_ms, "Hunting query failed.");
        match e {
            AnalyticsError::Timeout(_) => ApiError::Timeout(format!(
                "`{name}` ran longer than the {} s limit and was stopped; narrow its dates",
                limit.as_secs()
            )),
            AnalyticsError::NotFound(_) | AnalyticsError::BadRequest { .. } => {
                ApiError::invalid(e.to_string())
            }
            AnalyticsError::Engine(_) => ApiError::BadGateway(format!(
                "the analytics engine could not run `{name}`; the query API's log has the details"
            )),
        }
    })?;
    let (rows, truncated) = cap_rows(table.rows, MAX_ANALYTICS_ROWS, MAX_PAGE_BYTES);
    tracing::info!(query = %name, caller = %principal.subject, rows = rows.len(), truncated, elapsed_ms, "Hunting query answered.");
    Ok(Json(AnalyticsResult {
        query: name,
        columns: table
            .columns
            .into_iter()
            .map(|c| ResultColumn {
                name: c.name,
                ty: c.ty,
            })
            .collect(),
        rows,
        truncated,
        elapsed_ms,
    }))
}
