//! The delivery functions' Lambda loops: configuration, clients and secrets are read once per
//! container; each invocation is one stream batch, answered with Lambda's partial batch
//! response, and logs one summary line (counts only: never an alert's or an event's content).

use std::sync::Arc;

use domain::clock::Clock;
use domain::config::ForwardConfig;
#[cfg(feature = "notify")]
use domain::config::NotifyConfig;
use domain::store::ParameterStore;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use secrecy::SecretString;
use serde_json::Value;

use crate::forward::ForwardApp;
#[cfg(feature = "notify")]
use crate::notify::{NotifyApp, Topic};
use crate::webhook::{Retry, Sender};

/// Reads one SecureString parameter.
async fn secret(sdk: &aws::SdkConfig, name: &str) -> Result<SecretString, Error> {
    let params = aws::SsmParameters::from_sdk(sdk);
    let mut got = params
        .get_secure(&[name.to_owned()])
        .await
        .map_err(|e| Error::from(format!("reading the secret parameter {name}: {e}")))?;
    got.remove(name)
        .ok_or_else(|| Error::from(format!("the secret parameter {name} was not returned")))
}

#[cfg(feature = "notify")]
struct SnsPort(aws::deliveries::SnsTopic);

#[cfg(feature = "notify")]
#[async_trait::async_trait]
impl Topic for SnsPort {
    async fn publish(&self, alert: &Value, subject: &str) -> Result<(), String> {
        let message = serde_json::to_string(alert).map_err(|e| e.to_string())?;
        self.0
            .publish(
                subject,
                &message,
                alert["severity"].as_str().unwrap_or_default(),
                alert["rule_id"].as_str().unwrap_or_default(),
            )
            .await
            .map(|_| ())
    }
}

/// The notifier, built from its configuration and the SDK (also what the demo runs).
#[cfg(feature = "notify")]
pub async fn notifier(
    config: &NotifyConfig,
    sdk: &aws::SdkConfig,
    clock: Arc<dyn Clock>,
) -> Result<NotifyApp, Error> {
    let secret = match &config.webhook_secret_param {
        Some(name) if !config.webhooks.is_empty() => Some(secret(sdk, name).await?),
        _ => None,
    };
    let topic: Option<Arc<dyn Topic>> = config.topic_arn.as_ref().map(|arn| {
        Arc::new(SnsPort(aws::deliveries::SnsTopic::from_sdk(sdk, arn))) as Arc<dyn Topic>
    });
    let sender = Sender::new(config.outbound.clone(), Retry::default()).map_err(Error::from)?;
    let app = NotifyApp::new(
        config.webhooks.clone(),
        secret,
        topic,
        Arc::new(aws::deliveries::DynamoDeliveries::from_sdk(
            sdk,
            &config.alerts_table,
            config.alert_retention_days,
        )),
        sender,
        config.min_severity,
        clock,
    );
    Ok(app)
}

/// The forwarder, built from its configuration and the SDK (also what the demo runs).
pub async fn forwarder(
    config: &ForwardConfig,
    sdk: &aws::SdkConfig,
    clock: Arc<dyn Clock>,
) -> Result<ForwardApp, Error> {
    let secret = secret(sdk, &config.secret_param).await?;
    let sender = Sender::new(config.outbound.clone(), Retry::default()).map_err(Error::from)?;
    Ok(ForwardApp::new(
        config.clone(),
        secret,
        Arc::new(aws::S3RawStore::from_sdk(sdk, &config.bucket)),
        // Forwarding markers are kept a week: the stream keeps records a day.
        Arc::new(aws::deliveries::DynamoDeliveries::from_sdk(
            sdk,
            &config.alerts_table,
            7,
        )),
        sender,
        clock,
    ))
}

/// Runs the notifier until the runtime stops it.
#[cfg(feature = "notify")]
pub async fn run_notifier() -> Result<(), Error> {
    runtime::telemetry::init(std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f == "JSON"));
    let config = NotifyConfig::from_vars(std::env::vars())?;
    let sdk = aws::load_sdk_config().await;
    let app = notifier(&config, &sdk, Arc::new(runtime::clock::SystemClock)).await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let (response, report) = app.handle(&event.payload).await;
        tracing::info!(
            records = report.records,
            alerts = report.alerts,
            below_severity = report.below_severity,
            delivered = report.delivered,
            already_delivered = report.already_delivered,
            refused = report.refused,
            unreadable = report.unreadable,
            failed = report.failed,
            "Notification batch done."
        );
        serde_json::to_value(response).map_err(Error::from)
    }))
    .await
}

/// Runs the forwarder until the runtime stops it.
pub async fn run_forwarder() -> Result<(), Error> {
    runtime::telemetry::init(std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f == "JSON"));
    let config = ForwardConfig::from_vars(std::env::vars())?;
    let sdk = aws::load_sdk_config().await;
    let app = forwarder(&config, &sdk, Arc::new(runtime::clock::SystemClock)).await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let (response, report) = app.handle(&event.payload).await;
        tracing::info!(
            records = report.records,
            events = report.events,
            filtered_out = report.filtered_out,
            forwarded = report.forwarded,
            requests = report.requests,
            already_delivered = report.already_delivered,
            unreadable = report.unreadable,
            failed = report.failed,
            "Forwarding batch done."
        );
        serde_json::to_value(response).map_err(Error::from)
    }))
    .await
}
