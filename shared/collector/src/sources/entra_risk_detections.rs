//! Entra ID Protection risk detections: `GET /v1.0/identityProtection/riskDetections`,
//! windowed on `detectedDateTime`, one-hour chunks, `@odata.nextLink` paging. Needs
//! `IdentityRiskEvent.Read.All` and an Entra ID P2 licence. Microsoft documents 90 days of
//! risk detection history for P2 tenants; `AUDITLAKE_HISTORY_DAYS` changes the edge.
//!
//! Identity Protection's request budget is far below the audit logs' (1 request per second per
//! tenant for all apps together) and its 429s carry no `Retry-After`, so a throttled request
//! is retried on the client's exponential backoff ([`crate::http::ApiClient`]) and the puller
//! paces itself to a small default share (`source_for`).

use chrono::TimeDelta;

use super::graph::{GraphSpec, Query};
use domain::model::Source;
use domain::stream::Stream;

pub struct EntraRiskDetections;

impl GraphSpec for EntraRiskDetections {
    fn source(&self) -> Source {
        Source::EntraRiskDetections
    }

    fn streams(&self) -> Vec<Option<Stream>> {
        vec![None]
    }

    fn query(&self, _stream: Option<Stream>) -> Query {
        Query {
            path: "v1.0/identityProtection/riskDetections".into(),
            extra_filter: None,
        }
    }

    fn time_field(&self) -> &'static str {
        "detectedDateTime"
    }

    fn chunk(&self) -> TimeDelta {
        TimeDelta::hours(1)
    }

    fn history(&self) -> TimeDelta {
        TimeDelta::days(90)
    }

    /// riskDetections pages hold at most 500 records.
    fn max_page_size(&self) -> u32 {
        500
    }
}
