//! The one HTTPS client every AWS SDK client of a process shares. Left to itself, each service
//! client (S3, DynamoDB, SSM) builds its own default client, and at construction (its
//! `validate_base_client_config`) builds a throwaway connector that parses the system's trust
//! store into a root store, then parses it again for the connector of its first request: six
//! parses for a puller's three clients, three of them in the Lambda's init. Here one client is
//! built with the same connector as the SDK's default (rustls over aws-lc, the SDK's cipher
//! suites, `HTTP(S)_PROXY`/`NO_PROXY` from the environment, as behaviour versions from
//! 2025-08-07 do), it is shared through the `SdkConfig`, and its connector, cached per
//! connector settings, is built when the first request needs it: one parse per process, none
//! at init. Certificates are verified exactly as before; only when the trust store is read
//! moves (measured in BENCHMARKS.md, "Cold start").

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;

/// The SDK's default HTTPS client without the connector it builds at each client's
/// construction (the trait's default `validate_base_client_config` does nothing).
#[derive(Debug)]
struct ConnectOnFirstRequest(SharedHttpClient);

impl HttpClient for ConnectOnFirstRequest {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// The HTTPS client [`crate::load_sdk_config`] puts in the `SdkConfig`.
pub fn shared_https_client() -> SharedHttpClient {
    let client = Builder::new().build_with_connector_fn(|settings, components| {
        let mut conn =
            ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    });
    ConnectOnFirstRequest(client).into_shared()
}
