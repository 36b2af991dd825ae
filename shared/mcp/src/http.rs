//! The HTTP side: the query API's router with `/mcp` (the MCP server over streamable HTTP,
//! stateless, JSON answers, so it runs in Lambda behind API Gateway where no session outlives a
//! request), `POST /ask` and `POST /events/{id}/explain`. `/mcp` is behind the routes' own check
//! ([`query::authorize`]): no or an invalid token is a 401 with `WWW-Authenticate: Bearer`, a
//! token without `auditlake.read` a 403; each tool then checks its own role.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use domain::access::Role;
use query::error::{ApiError, ErrorBody, ErrorDetail};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::McpApp;
use crate::ask::{self, AskError};
use crate::audit;
use crate::server::AuditlakeMcp;

/// What `POST /ask` and the `ask` tool answer when no model is configured.
pub const QUESTIONS_OFF: &str = "questions are off in this deployment: set AUDITLAKE_LLM_BASE_URL, AUDITLAKE_LLM_MODEL and AUDITLAKE_LLM_ALLOWLIST (README, \"Questions\")";

/// The query API's routes plus `/mcp`, `POST /ask` and `POST /events/{id}/explain`.
pub fn router(app: McpApp) -> Router {
    let server = AuditlakeMcp::http(app.clone());
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_max_request_body_bytes(query::MAX_BODY_BYTES);
    if !app.query.auth_disabled() {
        // The Host check guards a tokenless local server against DNS rebinding; with bearer
        // tokens required a rebound page has nothing to send, and behind API Gateway the Host
        // is the stack's own domain, which the router cannot know.
        config = config.disable_allowed_hosts();
    }
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    let mcp = Router::new()
        .route_service("/mcp", service)
        .route_layer(middleware::from_fn_with_state(app.clone(), guard));
    let questions = Router::new()
        .route("/ask", post(ask_route))
        .route("/events/{id}/explain", post(explain_route))
        .layer(DefaultBodyLimit::max(query::MAX_BODY_BYTES))
        .with_state(app.clone());
    app.api.clone().merge(mcp).merge(questions)
}

/// Binds `addr` and serves [`router`] in a background task (port 0: any free port).
pub async fn spawn(
    app: McpApp,
    addr: &str,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    query::spawn_router(router(app), addr).await
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// `/mcp`'s gate: the routes' token check with the read role.
async fn guard(State(app): State<McpApp>, req: Request, next: Next) -> Response {
    match query::authorize(&app.query, authorization(req.headers()), Role::Read).await {
        Ok(_) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

impl IntoResponse for AskError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message: self.to_string(),
            },
        };
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            axum::Json(body),
        )
            .into_response()
    }
}

/// Authenticates and checks the read role; the caller as the audit line names it.
async fn caller_of(app: &McpApp, headers: &HeaderMap) -> Result<String, ApiError> {
    let principal = query::authorize(&app.query, authorization(headers), Role::Read).await?;
    Ok(audit::caller(Some(&principal)))
}

/// Answers a question with the read-only tools and cites the events it rests on.
async fn ask_route(State(app): State<McpApp>, headers: HeaderMap, body: Bytes) -> Response {
    let caller = match caller_of(&app, &headers).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let Some(asker) = &app.asker else {
        return ApiError::Unavailable(QUESTIONS_OFF.into()).into_response();
    };
    let question = match serde_json::from_slice::<ask::AskBody>(&body) {
        Ok(b) => b.question,
        Err(e) => {
            return AskError::BadQuestion(format!(
                "the body is not {{\"question\": \"...\"}}: {e}"
            ))
            .into_response();
        }
    };
    match ask::ask(
        &app,
        asker,
        authorization(&headers),
        &caller,
        "http",
        &question,
        None,
    )
    .await
    {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Explains one event: what happened, who did it, and whether it looks suspicious.
async fn explain_route(
    State(app): State<McpApp>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let caller = match caller_of(&app, &headers).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let Some(asker) = &app.asker else {
        return ApiError::Unavailable(QUESTIONS_OFF.into()).into_response();
    };
    if domain::store::keys::parse_event_id(&id).is_none() {
        return ApiError::invalid("not an event id (`<source>:<YYYYMMDDTHHMMSSZ>-<dedupe_key>`)")
            .into_response();
    }
    let question = format!(
        "Explain the audit event {id}: what happened, who did it, to what, and whether it looks suspicious in its security context (other events of the same actor or address around it)."
    );
    match ask::ask(
        &app,
        asker,
        authorization(&headers),
        &caller,
        "explain",
        &question,
        Some(&id),
    )
    .await
    {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(AskError::BadQuestion(m)) if m.starts_with("no event") => {
            ApiError::NotFound(m).into_response()
        }
        Err(e) => e.into_response(),
    }
}
