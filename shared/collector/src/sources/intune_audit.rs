//! Intune audit events: `GET /v1.0/deviceManagement/auditEvents`, windowed on
//! `activityDateTime`, one-hour chunks. Microsoft documents neither the filter nor the retention;
//! the history edge defaults to 30 days and can be changed with `AUDITLAKE_HISTORY_DAYS`. Needs
//! `DeviceManagementApps.Read.All` and an Intune licence.

use chrono::TimeDelta;

use super::graph::{GraphSpec, Query};
use domain::model::Source;
use domain::stream::Stream;

pub struct IntuneAudit;

impl GraphSpec for IntuneAudit {
    fn source(&self) -> Source {
        Source::IntuneAudit
    }

    fn streams(&self) -> Vec<Option<Stream>> {
        vec![None]
    }

    fn query(&self, _stream: Option<Stream>) -> Query {
        Query {
            path: "v1.0/deviceManagement/auditEvents".into(),
            extra_filter: None,
        }
    }

    fn time_field(&self) -> &'static str {
        "activityDateTime"
    }

    fn chunk(&self) -> TimeDelta {
        TimeDelta::hours(1)
    }

    fn history(&self) -> TimeDelta {
        TimeDelta::days(30)
    }
}
