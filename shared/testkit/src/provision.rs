//! Creates the bucket and tables a local stack needs (the demo and the tests; in AWS the SAM
//! template creates them). The table definitions mirror template.yaml; both follow
//! [`domain::store::keys`]. Every call is idempotent: what exists is left as it is.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use aws::{describe, s3_client};
use domain::store::{StoreError, keys};

fn attr(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| StoreError::backend("CreateTable", name, e))
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|e| StoreError::backend("CreateTable", name, e))
}

fn index(
    name: &str,
    pk: &str,
    projection: ProjectionType,
) -> Result<GlobalSecondaryIndex, StoreError> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(pk, KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .projection(Projection::builder().projection_type(projection).build())
        .build()
        .map_err(|e| StoreError::backend("CreateTable", name, e))
}

/// Creates the S3 bucket unless it exists.
pub async fn ensure_bucket(sdk: &SdkConfig, bucket: &str) -> Result<(), StoreError> {
    let s3 = s3_client(sdk);
    match s3.create_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()
            }) =>
        {
            Ok(())
        }
        Err(e) => Err(StoreError::backend("CreateBucket", bucket, describe(&e))),
    }
}

/// Creates the events table (layout 2: keyed by time, keys-only actor and IP indexes; TTL) unless
/// it exists.
pub async fn ensure_events_table(sdk: &SdkConfig, table: &str) -> Result<(), StoreError> {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let res = ddb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk")?)
        .attribute_definitions(attr("sk")?)
        .attribute_definitions(attr("apk")?)
        .attribute_definitions(attr("ipk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .global_secondary_indexes(index(keys::ACTOR_INDEX, "apk", ProjectionType::KeysOnly)?)
        .global_secondary_indexes(index(keys::IP_INDEX, "ipk", ProjectionType::KeysOnly)?)
        .send()
        .await;
    if created(res, table)? {
        enable_ttl(&ddb, table).await?;
    }
    Ok(())
}

/// Whether a CreateTable created the table (false: it exists already).
fn created<T>(
    res: Result<
        T,
        aws_sdk_dynamodb::error::SdkError<
            aws_sdk_dynamodb::operation::create_table::CreateTableError,
        >,
    >,
    table: &str,
) -> Result<bool, StoreError> {
    match res {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(StoreError::backend("CreateTable", table, describe(&e))),
    }
}

/// Turns on DynamoDB TTL on `expires_at`.
async fn enable_ttl(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), StoreError> {
    let ttl = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name("expires_at")
        .build()
        .map_err(|e| StoreError::backend("UpdateTimeToLive", table, e))?;
    ddb.update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| StoreError::backend("UpdateTimeToLive", table, describe(&e)))?;
    Ok(())
}

/// Creates the state table unless it exists.
pub async fn ensure_state_table(sdk: &SdkConfig, table: &str) -> Result<(), StoreError> {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let res = ddb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk")?)
        .attribute_definitions(attr("sk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .send()
        .await;
    match res {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            return Ok(());
        }
        Err(e) => return Err(StoreError::backend("CreateTable", table, describe(&e))),
    }
    // Content-ledger entries (and nothing else) carry `expires_at`.
    enable_ttl(&ddb, table).await
}

/// Creates the alerts table unless it exists: keys `pk`, `sk`, the listing index `by_month`
/// (`month`, `ts`, everything projected) and TTL on `expires_at` (alerts, their comments and
/// threshold-window members expire), as `template.yaml` declares it.
pub async fn ensure_alerts_table(sdk: &SdkConfig, table: &str) -> Result<(), StoreError> {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let listing = GlobalSecondaryIndex::builder()
        .index_name(aws::alerts::LIST_INDEX)
        .key_schema(key("month", KeyType::Hash)?)
        .key_schema(key("ts", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| StoreError::backend("CreateTable", table, e))?;
    let res = ddb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk")?)
        .attribute_definitions(attr("sk")?)
        .attribute_definitions(attr("month")?)
        .attribute_definitions(attr("ts")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .global_secondary_indexes(listing)
        .send()
        .await;
    if created(res, table)? {
        enable_ttl(&ddb, table).await?;
    }
    Ok(())
}

/// Stores a SecureString parameter (local stacks; `scripts/deploy` does this in AWS).
pub async fn put_secure_parameter(
    sdk: &SdkConfig,
    name: &str,
    value: &secrecy::SecretString,
) -> Result<(), StoreError> {
    use secrecy::ExposeSecret;
    aws_sdk_ssm::Client::new(sdk)
        .put_parameter()
        .name(name)
        .value(value.expose_secret())
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .map_err(|e| StoreError::backend("PutParameter", name, describe(&e)))?;
    Ok(())
}

/// Creates the alert topic (idempotent: SNS returns the existing topic's ARN) and, with
/// `subscriber`, an HTTP subscription that moto confirms at once and posts every message to.
pub async fn ensure_alert_topic(
    sdk: &SdkConfig,
    name: &str,
    subscriber: Option<&str>,
) -> Result<String, StoreError> {
    let sns = aws_sdk_sns::Client::new(sdk);
    let arn = sns
        .create_topic()
        .name(name)
        .send()
        .await
        .map_err(|e| StoreError::backend("CreateTopic", name, describe(&e)))?
        .topic_arn
        .unwrap_or_default();
    if let Some(endpoint) = subscriber {
        sns.subscribe()
            .topic_arn(&arn)
            .protocol("http")
            .endpoint(endpoint)
            .send()
            .await
            .map_err(|e| StoreError::backend("Subscribe", name, describe(&e)))?;
    }
    Ok(arn)
}
