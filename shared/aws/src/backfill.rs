//! Audit search backfill jobs in the state table (see [`domain::backfill`]): one item per job,
//! `pk = <tenant>#backfill`, `sk = job#<id>`, the job as JSON in `doc`, `version` counting its
//! writes. Every save is conditional on the version read before it (or on the item not existing),
//! so two invocations can never both advance a job: the second one's save fails and it stops.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::describe;
use crate::DynamoStateStore;
use crate::items::get_s;
use domain::backfill::{BackfillJob, BackfillStore};
use domain::store::{StateError, StoreError};

/// Sort-key prefix of job items.
pub const JOB_SK_PREFIX: &str = "job#";

/// Partition key of a tenant's jobs.
pub fn jobs_pk(tenant: &str) -> String {
    format!("{tenant}#backfill")
}

fn decode(
    item: &HashMap<String, AttributeValue>,
    table: &str,
) -> Result<(BackfillJob, u64), StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        resource: format!("backfill job in {table}"),
        message,
    };
    let doc = get_s(item, "doc").ok_or_else(|| corrupt("no `doc`".into()))?;
    let job: BackfillJob = serde_json::from_str(doc).map_err(|e| corrupt(e.to_string()))?;
    let version = item
        .get("version")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| corrupt("no `version`".into()))?;
    Ok((job, version))
}

#[async_trait]
impl BackfillStore for DynamoStateStore {
    async fn load(&self, tenant: &str, id: &str) -> Result<Option<(BackfillJob, u64)>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(jobs_pk(tenant)))
            .key("sk", AttributeValue::S(format!("{JOB_SK_PREFIX}{id}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::backend("GetItem", &self.table, describe(&e)))?;
        out.item.map(|i| decode(&i, &self.table)).transpose()
    }

    async fn list(&self, tenant: &str) -> Result<Vec<BackfillJob>, StoreError> {
        let mut jobs = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :p AND begins_with(sk, :j)")
                .expression_attribute_values(":p", AttributeValue::S(jobs_pk(tenant)))
                .expression_attribute_values(":j", AttributeValue::S(JOB_SK_PREFIX.into()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::backend("Query", &self.table, describe(&e)))?;
            for item in out.items() {
                jobs.push(decode(item, &self.table)?.0);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        jobs.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(jobs)
    }

    async fn save(
        &self,
        tenant: &str,
        job: &BackfillJob,
        expected: u64,
    ) -> Result<u64, StateError> {
        let doc = serde_json::to_string(job).map_err(|e| {
            StateError::Store(StoreError::Corrupt {
                resource: format!("backfill job {}", job.id),
                message: e.to_string(),
            })
        })?;
        let next = expected + 1;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(jobs_pk(tenant)))
            .item(
                "sk",
                AttributeValue::S(format!("{JOB_SK_PREFIX}{}", job.id)),
            )
            .item("doc", AttributeValue::S(doc))
            .item("status", AttributeValue::S(job.progress().status.into()))
            .item("version", AttributeValue::N(next.to_string()));
        put = if expected == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(expected.to_string()))
        };
        match put.send().await {
            Ok(_) => Ok(next),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StateError::LeaseLost { expected })
            }
            Err(e) => Err(StateError::Store(StoreError::backend(
                "PutItem",
                &self.table,
                describe(&e),
            ))),
        }
    }
}
