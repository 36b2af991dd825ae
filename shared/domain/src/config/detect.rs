//! The detection function's configuration (the events table's stream).

use super::{ConfigError, Reader, Var, vars};

/// Configuration of the detection function (the events table's stream).
#[derive(Debug, Clone, PartialEq)]
pub struct DetectConfig {
    /// The raw layer's bucket: rules match the raw record's own fields.
    pub bucket: String,
    pub alerts_table: String,
    pub alert_retention_days: u32,
}

/// Every variable the detection function reads.
pub const DETECT_VARS: &[Var] = &[vars::BUCKET, vars::ALERTS_TABLE, vars::ALERT_RETENTION_DAYS];

impl DetectConfig {
    /// Parses the detection function's configuration, reporting every problem together.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut r = Reader::new(vars);
        let bucket = r.required(&vars::BUCKET);
        let alerts_table = r.required(&vars::ALERTS_TABLE);
        let retention = r.number(&vars::ALERT_RETENTION_DAYS);
        let config = DetectConfig {
            bucket,
            alerts_table,
            alert_retention_days: retention as u32,
        };
        r.finish(config)
    }
}
