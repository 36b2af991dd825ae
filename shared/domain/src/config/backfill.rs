//! The audit search backfill's configuration (`auditlake backfill` and the backfill function):
//! the puller's variables (credentials, cloud, Graph root, stores) and the backfill's own.

use chrono::TimeDelta;

use super::{ConfigError, PullerConfig, Reader, Var, vars};

/// The backfill's own variables (it reads [`super::PULLER_VARS`] too).
pub const BACKFILL_VARS: &[Var] = &[
    vars::BACKFILL_WINDOW_HOURS,
    vars::BACKFILL_CONCURRENCY,
    vars::BACKFILL_POLL_SECS,
    vars::BACKFILL_MAX_ATTEMPTS,
];

/// How a backfill plans, paces and retries its queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillSettings {
    pub window: TimeDelta,
    pub concurrency: usize,
    pub poll: std::time::Duration,
    pub max_attempts: u32,
}

/// Configuration of the audit search backfill.
#[derive(Debug, Clone)]
pub struct BackfillConfig {
    pub puller: PullerConfig,
    pub settings: BackfillSettings,
}

impl BackfillConfig {
    /// Parses the puller's variables and the backfill's, reporting every problem of both.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let puller = PullerConfig::from_vars(vars.clone());
        let mut r = Reader::new(vars);
        let settings = BackfillSettings {
            window: TimeDelta::hours(r.number(&vars::BACKFILL_WINDOW_HOURS) as i64),
            concurrency: r.number(&vars::BACKFILL_CONCURRENCY) as usize,
            poll: std::time::Duration::from_secs(r.number(&vars::BACKFILL_POLL_SECS)),
            max_attempts: r.number(&vars::BACKFILL_MAX_ATTEMPTS) as u32,
        };
        match (puller, r.finish(settings)) {
            (Ok(puller), Ok(settings)) => Ok(BackfillConfig { puller, settings }),
            (Err(a), Err(b)) => Err(ConfigError {
                problems: a.problems.into_iter().chain(b.problems).collect(),
            }),
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }
}
