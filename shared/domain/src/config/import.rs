//! `auditlake import`'s configuration: where imported records go, no Microsoft credentials.

use chrono::TimeDelta;

use super::{ConfigError, Reader, vars};

/// Configuration of `auditlake import`: where records go, no Microsoft credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportConfig {
    pub tenant_id: String,
    pub bucket: String,
    pub events_table: String,
    pub hot_retention: TimeDelta,
    pub write_concurrency: usize,
}

impl ImportConfig {
    /// Parses the variables an import needs, reporting every problem together.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut r = Reader::new(vars);
        let tenant_id = r.tenant_id();
        let bucket = r.required(&vars::BUCKET);
        let events_table = r.required(&vars::EVENTS_TABLE);
        let retention = r.number(&vars::HOT_RETENTION_DAYS);
        let concurrency = r.number(&vars::WRITE_CONCURRENCY);
        let config = ImportConfig {
            tenant_id,
            bucket,
            events_table,
            hot_retention: TimeDelta::days(retention as i64),
            write_concurrency: concurrency as usize,
        };
        r.finish(config)
    }
}
