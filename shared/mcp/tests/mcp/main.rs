//! The MCP server and the questions, through the router the Lambda and `auditlake serve` run:
//! the `/mcp` route's auth, each tool against the REST route it calls, the schemas against the
//! OpenAPI document, the audit line of each tool call, and questions against the chat-completions stand-in
//! (`testkit::llm_sim`).

mod ask;
mod audit;
mod server;
mod support;
