//! Entra provisioning logs: `GET /v1.0/auditLogs/provisioning` (`provisioningObjectSummary`),
//! windowed on `activityDateTime`, one-hour chunks. Needs `AuditLog.Read.All` and an Entra ID
//! P1 or P2 licence; Microsoft keeps 30 days.

use chrono::TimeDelta;

use super::graph::{GraphSpec, Query};
use domain::model::Source;
use domain::stream::Stream;

pub struct EntraProvisioning;

impl GraphSpec for EntraProvisioning {
    fn source(&self) -> Source {
        Source::EntraProvisioning
    }

    fn streams(&self) -> Vec<Option<Stream>> {
        vec![None]
    }

    fn query(&self, _stream: Option<Stream>) -> Query {
        Query {
            path: "v1.0/auditLogs/provisioning".into(),
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
