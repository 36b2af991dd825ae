//! Secrets from SSM Parameter Store: SecureString parameters read with decryption. Values go
//! straight into `SecretString`; errors name the parameter, never its value.

use std::collections::HashMap;

use async_trait::async_trait;
use secrecy::SecretString;

use super::describe;
use domain::store::{ParameterStore, StoreError};

pub struct SsmParameters {
    client: aws_sdk_ssm::Client,
}

impl SsmParameters {
    pub fn new(client: aws_sdk_ssm::Client) -> Self {
        SsmParameters { client }
    }

    pub fn from_sdk(sdk: &aws_config::SdkConfig) -> Self {
        SsmParameters::new(aws_sdk_ssm::Client::new(sdk))
    }
}

#[async_trait]
impl ParameterStore for SsmParameters {
    async fn get_secure(
        &self,
        names: &[String],
    ) -> Result<HashMap<String, SecretString>, StoreError> {
        let out = self
            .client
            .get_parameters()
            .set_names(Some(names.to_vec()))
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| {
                StoreError::backend(
                    "GetParameters",
                    format!("SSM {}", names.join(", ")),
                    describe(&e),
                )
            })?;
        if !out.invalid_parameters().is_empty() {
            return Err(StoreError::NotFound {
                resource: format!("SSM parameter {}", out.invalid_parameters().join(", ")),
            });
        }
        Ok(out
            .parameters()
            .iter()
            .filter_map(|p| {
                Some((
                    p.name()?.to_string(),
                    SecretString::from(p.value()?.to_string()),
                ))
            })
            .collect())
    }
}
