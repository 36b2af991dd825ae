//! The audit lake for AI assistants. [`router`] is the query API's router (`query::router`)
//! with three more routes: `/mcp`, an MCP server over streamable HTTP behind the same Entra ID
//! bearer check as the REST routes, and `POST /ask` and `POST /events/{id}/explain`, questions
//! answered by an OpenAI-compatible model ([`ask`]). [`serve_stdio`] is the same MCP server over
//! stdio (`auditlake mcp`).
//!
//! Every tool ([`tools`]) is a request through the query API's own router, with the caller's own
//! token: the same handlers, the same role checks, the same bounds, so listing is never
//! reimplemented and a tool cannot do what the route would refuse. Tool input schemas are cut
//! from the OpenAPI document the router serves, so the two cannot disagree. Every tool call and
//! every question is logged with caller, tool, arguments and result size, never the content
//! ([`audit`]).

pub mod ask;
pub mod audit;
mod http;
pub mod llm;
mod server;
pub mod tools;
mod wiring;

use std::sync::Arc;

use axum::Router;
use query::QueryApp;

pub use http::{router, spawn};
pub use server::{AuditlakeMcp, serve_stdio};
pub use wiring::{WiringError, mcp_app, mcp_app_with_clock};

/// Everything the MCP server and the questions need; cheap to clone.
#[derive(Clone)]
pub struct McpApp {
    pub(crate) query: QueryApp,
    /// The query API's router, which every tool call goes through.
    pub(crate) api: Router,
    /// `None`: questions are off (`POST /ask` answers 503, the `ask` tool an error).
    pub(crate) asker: Option<Arc<ask::Asker>>,
}

impl McpApp {
    pub fn new(query: QueryApp, asker: Option<ask::Asker>) -> Self {
        McpApp {
            api: query::router(query.clone()),
            query,
            asker: asker.map(Arc::new),
        }
    }
}
