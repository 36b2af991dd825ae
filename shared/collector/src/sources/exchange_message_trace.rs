//! Exchange Online message trace through Graph: `GET /v1.0/admin/exchange/tracing/messageTraces`
//! (not the retiring Reporting Web Service), windowed on `receivedDateTime` with both `ge` and
//! `le` as Microsoft requires, at most 10 days per query (auditlake uses one-day chunks, so a
//! first run of a week is seven queries), `$top` up to 5000, 90 days of history. Needs
//! `ExchangeMessageTrace.Read.All`; until the tenant has provisioned the message-trace service
//! principal, Microsoft answers 401, which the client explains.

use chrono::TimeDelta;

use super::graph::{GraphSpec, Query};
use domain::model::Source;
use domain::stream::Stream;

pub struct ExchangeMessageTrace;

impl GraphSpec for ExchangeMessageTrace {
    fn source(&self) -> Source {
        Source::ExchangeMessageTrace
    }

    fn streams(&self) -> Vec<Option<Stream>> {
        vec![None]
    }

    fn query(&self, _stream: Option<Stream>) -> Query {
        Query {
            path: "v1.0/admin/exchange/tracing/messageTraces".into(),
            extra_filter: None,
        }
    }

    fn time_field(&self) -> &'static str {
        "receivedDateTime"
    }

    fn chunk(&self) -> TimeDelta {
        TimeDelta::days(1)
    }

    fn history(&self) -> TimeDelta {
        TimeDelta::days(90)
    }

    fn max_page_size(&self) -> u32 {
        5000
    }
}
