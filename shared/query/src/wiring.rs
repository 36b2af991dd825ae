//! The query API over AWS: the adapters of `config` (DynamoDB events, state and alerts tables,
//! the raw layer, Athena) built by the `aws` crate, the cursor key, the token check and the clock.

use std::sync::Arc;

use aws::{AwsQueryStores, SdkConfig};
use domain::analytics::QueryEngine;
use domain::config::QueryConfig;
use domain::store::{ParameterStore, RawStore, StoreError};
use runtime::clock::{Clock, SystemClock};
use secrecy::ExposeSecret;

use crate::{QueryApp, QueryPorts, QuerySettings, authenticator};

/// The query API over the AWS stores of `config` (the Lambda and `auditlake serve`): DynamoDB
/// events and state tables, the cursor key from SSM (or, without
/// `AUDITLAKE_CURSOR_KEY_PARAM`, a key made for this process, with a warning), the token check
/// for the configuration, Athena for hunting queries when `AUDITLAKE_ATHENA_WORKGROUP` is set,
/// and the system clock.
pub async fn query_app(sdk: &SdkConfig, config: &QueryConfig) -> Result<QueryApp, StoreError> {
    query_app_with_clock(sdk, config, Arc::new(SystemClock)).await
}

/// [`query_app`] on another clock (the demo's, which follows the simulator's virtual time, so
/// tokens the simulator issues are current and the paging pin matches the pullers' stamps).
pub async fn query_app_with_clock(
    sdk: &SdkConfig,
    config: &QueryConfig,
    clock: Arc<dyn Clock>,
) -> Result<QueryApp, StoreError> {
    let stores = AwsQueryStores::new(
        sdk,
        &config.events_table,
        &config.state_table,
        config.bucket.as_deref(),
        config
            .athena
            .as_ref()
            .map(|t| (t.workgroup.as_str(), t.database.as_str())),
        config.alerts_table.as_deref(),
    );
    let cursor_key: Vec<u8> = match &config.cursor_key_param {
        Some(name) => {
            let mut values = stores.params.get_secure(std::slice::from_ref(name)).await?;
            let secret = values.remove(name).ok_or_else(|| StoreError::NotFound {
                resource: format!("SSM parameter {name}"),
            })?;
            secret.expose_secret().as_bytes().to_vec()
        }
        None => {
            tracing::warn!(
                "AUDITLAKE_CURSOR_KEY_PARAM is not set: paging cursors are signed with a key made for this process and do not survive it."
            );
            let mut key = uuid::Uuid::new_v4().as_bytes().to_vec();
            key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
            key
        }
    };
    let ports = QueryPorts {
        reader: stores.events.clone(),
        annotator: stores.events,
        backfills: Some(stores.state.clone() as Arc<dyn domain::backfill::BackfillStore>),
        state: stores.state,
        auth: authenticator(config, clock.clone()),
        clock,
        raw: stores.raw.map(|r| r as Arc<dyn RawStore>),
        analytics: stores.athena.map(|a| a as Arc<dyn QueryEngine>),
        alerts: stores
            .alerts
            .clone()
            .map(|a| a as Arc<dyn domain::triage::AlertReader>),
        rules: stores
            .alerts
            .map(|a| a as Arc<dyn domain::triage::RuleStore>),
        deliveries: stores
            .deliveries
            .map(|d| d as Arc<dyn domain::delivery::DeliveryHealthReader>),
    };
    Ok(
        QueryApp::new(ports, QuerySettings::from_config(config), &cursor_key)
            .with_console(config.console.clone()),
    )
}
