//! The object store on S3: raw and quarantined pages (gzip NDJSON) and curated Parquet files,
//! written once, never overwritten, each labelled with its media type.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;

use super::describe;
use domain::store::{RawStore, StoreError};

pub struct S3RawStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3RawStore {
    pub fn new(client: aws_sdk_s3::Client, bucket: String) -> Self {
        S3RawStore { client, bucket }
    }

    /// The raw store of `bucket`, with a client built from `sdk` (path-style on a local stack).
    pub fn from_sdk(sdk: &aws_config::SdkConfig, bucket: &str) -> Self {
        S3RawStore::new(crate::s3_client(sdk), bucket.to_owned())
    }

    fn resource(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

/// The media type of an object, from its key's extension.
fn content_type(key: &str) -> &'static str {
    if key.ends_with(".parquet") {
        "application/vnd.apache.parquet"
    } else if key.ends_with(".gz") {
        "application/gzip"
    } else {
        "application/octet-stream"
    }
}

#[async_trait]
impl RawStore for S3RawStore {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type(key))
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| StoreError::backend("PutObject", self.resource(key), describe(&e)))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                    StoreError::NotFound {
                        resource: self.resource(key),
                    }
                } else {
                    StoreError::backend("GetObject", self.resource(key), describe(&e))
                }
            })?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::backend("GetObject", self.resource(key), e))?;
        Ok(bytes.into_bytes().to_vec())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                StoreError::backend("ListObjectsV2", self.resource(prefix), describe(&e))
            })?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn objects_are_labelled_by_what_they_hold() {
        use super::content_type;
        assert_eq!(
            content_type("curated/source=m365-activity/dt=2024-05-01/a.parquet"),
            "application/vnd.apache.parquet"
        );
        assert_eq!(
            content_type("raw/source=entra-sign-ins/dt=2024-05-01/b.json.gz"),
            "application/gzip"
        );
        assert_eq!(content_type("other"), "application/octet-stream");
    }
}
