//! Backfill jobs in memory, with `aws::backfill`'s semantics: each save is conditional on the
//! version read before it, so tests see the same conflicts a second invocation would.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use domain::backfill::{BackfillJob, BackfillStore};
use domain::store::{StateError, StoreError};

use crate::memory::lock;

#[derive(Default)]
pub struct MemoryBackfills {
    jobs: Mutex<BTreeMap<(String, String), (BackfillJob, u64)>>,
}

impl MemoryBackfills {
    /// How many saves the job has had (its version).
    pub fn version(&self, tenant: &str, id: &str) -> u64 {
        lock(&self.jobs)
            .get(&(tenant.to_string(), id.to_string()))
            .map_or(0, |(_, v)| *v)
    }
}

#[async_trait]
impl BackfillStore for MemoryBackfills {
    async fn load(&self, tenant: &str, id: &str) -> Result<Option<(BackfillJob, u64)>, StoreError> {
        Ok(lock(&self.jobs)
            .get(&(tenant.to_string(), id.to_string()))
            .cloned())
    }

    async fn list(&self, tenant: &str) -> Result<Vec<BackfillJob>, StoreError> {
        let mut jobs: Vec<BackfillJob> = lock(&self.jobs)
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, (j, _))| j.clone())
            .collect();
        jobs.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(jobs)
    }

    async fn save(
        &self,
        tenant: &str,
        job: &BackfillJob,
        expected: u64,
    ) -> Result<u64, StateError> {
        let mut jobs = lock(&self.jobs);
        let key = (tenant.to_string(), job.id.clone());
        let current = jobs.get(&key).map_or(0, |(_, v)| *v);
        if current != expected {
            return Err(StateError::LeaseLost { expected });
        }
        jobs.insert(key, (job.clone(), expected + 1));
        Ok(expected + 1)
    }
}
