//! The raw store on S3: gzip NDJSON objects, written once, never overwritten.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;

use super::describe;
use crate::store::{RawStore, StoreError};

pub struct S3RawStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3RawStore {
    pub fn new(client: aws_sdk_s3::Client, bucket: String) -> Self {
        S3RawStore { client, bucket }
    }

    fn resource(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

#[async_trait]
impl RawStore for S3RawStore {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/gzip")
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
