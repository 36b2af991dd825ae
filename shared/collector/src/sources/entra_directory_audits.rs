//! Entra ID directory audits: `GET /v1.0/auditLogs/directoryAudits`, windowed on
//! `activityDateTime`, one-hour chunks, 30 days of history (7 on Entra ID Free, where older
//! windows simply come back empty). Needs `AuditLog.Read.All`.

use chrono::TimeDelta;

use super::graph::{GraphSpec, Query};
use domain::model::Source;
use domain::stream::Stream;

pub struct EntraDirectoryAudits;

impl GraphSpec for EntraDirectoryAudits {
    fn source(&self) -> Source {
        Source::EntraDirectoryAudits
    }

    fn streams(&self) -> Vec<Option<Stream>> {
        vec![None]
    }

    fn query(&self, _stream: Option<Stream>) -> Query {
        Query {
            path: "v1.0/auditLogs/directoryAudits".into(),
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
