//! The MCP server and questions over AWS: the query API of `config` (`query::query_app`) and,
//! when questions are on, the model client with its key read from SSM through the parameters
//! port (never logged, never in an error).

use std::sync::Arc;

use aws::SdkConfig;
use domain::config::{AskConfig, QueryConfig};
use domain::store::{ParameterStore, StoreError};
use runtime::clock::{Clock, SystemClock};

use crate::McpApp;
use crate::ask::Asker;

/// Why the app could not be built.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("questions cannot be set up: {0}")]
    Questions(String),
}

/// The app over the AWS stores of `config`, on the system clock.
pub async fn mcp_app(
    sdk: &SdkConfig,
    config: &QueryConfig,
    ask: Option<&AskConfig>,
) -> Result<McpApp, WiringError> {
    mcp_app_with_clock(sdk, config, ask, Arc::new(SystemClock)).await
}

/// [`mcp_app`] on another clock (the demo's simulator time).
pub async fn mcp_app_with_clock(
    sdk: &SdkConfig,
    config: &QueryConfig,
    ask: Option<&AskConfig>,
    clock: Arc<dyn Clock>,
) -> Result<McpApp, WiringError> {
    let query = query::query_app_with_clock(sdk, config, clock).await?;
    let params = aws::SsmParameters::from_sdk(sdk);
    let asker = match ask {
        Some(a) => Some(asker(a, &params).await?),
        None => None,
    };
    Ok(McpApp::new(query, asker))
}

/// The model client of `config`, its key read from `params`.
pub async fn asker(config: &AskConfig, params: &dyn ParameterStore) -> Result<Asker, WiringError> {
    let key = match &config.key_param {
        Some(name) => {
            let mut values = params.get_secure(std::slice::from_ref(name)).await?;
            Some(values.remove(name).ok_or_else(|| StoreError::NotFound {
                resource: format!("SSM parameter {name}"),
            })?)
        }
        None => None,
    };
    Asker::new(config.clone(), key).map_err(|e| WiringError::Questions(e.to_string()))
}
