//! Microsoft Defender XDR alerts: `GET /v1.0/security/alerts_v2` (`microsoft.graph.security.alert`),
//! windowed on `lastUpdateDateTime`, one-day chunks, `@odata.nextLink` paging. Needs
//! `SecurityAlert.Read.All`; Defender XDR keeps alerts 180 days.
//!
//! An alert changes after it is created (its status, classification, determination, comments
//! and evidence), and each change moves its `lastUpdateDateTime`. Windows on that property
//! therefore see every change once the change is visible: a window already pulled is never
//! pulled again, and a changed alert falls into a later window. Raw keeps every version read;
//! the events table keeps the latest (`domain::store::keys::event_version`), so the query API
//! and detections see an alert as it stands (ARCHITECTURE.md, "Sources").

use chrono::TimeDelta;

use super::graph::{GraphSpec, Query};
use domain::model::Source;
use domain::stream::Stream;

pub struct DefenderAlerts;

impl GraphSpec for DefenderAlerts {
    fn source(&self) -> Source {
        Source::DefenderAlerts
    }

    fn streams(&self) -> Vec<Option<Stream>> {
        vec![None]
    }

    fn query(&self, _stream: Option<Stream>) -> Query {
        Query {
            path: "v1.0/security/alerts_v2".into(),
            extra_filter: None,
        }
    }

    fn time_field(&self) -> &'static str {
        "lastUpdateDateTime"
    }

    /// Alerts are few (tens a day on a busy tenant), so a day per query keeps a first run's
    /// 180 days to 180 queries.
    fn chunk(&self) -> TimeDelta {
        TimeDelta::days(1)
    }

    fn history(&self) -> TimeDelta {
        TimeDelta::days(180)
    }
}
