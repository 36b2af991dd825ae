//! Lambda entry point of the query API behind API Gateway's HTTP API: configuration, AWS clients
//! and the cursor key are read once per container, then `lambda_http` feeds each request to the
//! same axum router `auditlake serve` runs locally (`mcp::router`: the query API with `/mcp` and
//! the questions). The HTTP API's JWT authorizer checks tokens first; the router checks them
//! again, with roles and groups.

use domain::config::{AskConfig, QueryConfig};
use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::telemetry::init(std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f == "JSON"));
    let config = QueryConfig::from_vars(std::env::vars())?;
    let ask = AskConfig::from_vars(std::env::vars())?;
    let sdk = aws::load_sdk_config().await;
    let app = mcp::mcp_app(&sdk, &config, ask.as_ref()).await?;
    lambda_http::run(mcp::router(app)).await
}
