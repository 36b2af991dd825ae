//! One module per Microsoft source, all behind [`SourcePuller`]: given a stream and a window of
//! event time, a source yields pages of records exactly as Microsoft sent them. Sources know the
//! API; the pipeline knows checkpoints, storage and dedupe.

pub mod entra_directory_audits;
pub mod entra_sign_ins;
pub mod exchange_message_trace;
pub mod graph;
pub mod intune_audit;
pub mod m365_activity;

use chrono::TimeDelta;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde_json::value::RawValue;

use crate::clock::Deadline;
use crate::http::ApiError;
use crate::model::{ErrorInfo, Gap, Source, Window};
use crate::store::ledger::LedgerEntry;

/// One page of records, each kept byte for byte as received.
#[derive(Debug, Default)]
pub struct Page {
    pub records: Vec<Box<RawValue>>,
    /// A content blob this page completes: once the page is durable the pipeline hands it back
    /// through [`SourcePuller::committed`], so the blob is never fetched again.
    pub receipt: Option<LedgerEntry>,
    /// Content Microsoft no longer serves (an expired blob): recorded as gaps in health.
    pub lost: Vec<Gap>,
}

/// Why a source could not deliver a page.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{0}")]
    Protocol(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl SourceError {
    pub fn info(&self) -> ErrorInfo {
        match self {
            SourceError::Api(e) => e.info(),
            SourceError::Protocol(m) => ErrorInfo {
                code: "ProtocolError".into(),
                message: m.clone(),
            },
            SourceError::Store(e) => e.info(),
        }
    }

    /// True when the run merely ran out of time (not a failure of Microsoft or of auditlake).
    pub fn is_deadline(&self) -> bool {
        matches!(self, SourceError::Api(ApiError::Deadline { .. }))
    }
}

/// What a [`SourcePuller::probe`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub count: usize,
    /// What was counted, e.g. "record(s) in the first page".
    pub what: &'static str,
}

pub type PageStream<'a> = BoxStream<'a, Result<Page, SourceError>>;

/// A Microsoft audit source.
pub trait SourcePuller: Send + Sync {
    fn source(&self) -> Source;
    /// The streams this deployment pulls, each with its own checkpoint; `None` for a source
    /// without streams.
    fn streams(&self) -> Vec<Option<String>>;
    /// Largest window one query covers.
    fn chunk(&self) -> TimeDelta;
    /// How far back Microsoft keeps this source's data.
    fn history(&self) -> TimeDelta;
    /// The pages of one window. When the deadline passes, the stream stops asking Microsoft for
    /// more, yields what it already has in flight, and ends with [`ApiError::Deadline`].
    fn pages<'a>(
        &'a self,
        stream: Option<&'a str>,
        window: Window,
        deadline: &'a Deadline,
    ) -> PageStream<'a>;
    /// Called once a page carrying a receipt is durable (the default keeps nothing).
    fn committed<'a>(
        &'a self,
        stream: Option<&'a str>,
        receipt: &'a LedgerEntry,
    ) -> BoxFuture<'a, Result<(), SourceError>> {
        let _ = (stream, receipt);
        Box::pin(async { Ok(()) })
    }
    /// A preflight read of one window for the doctor: how many items Microsoft lists. The
    /// default reads the first page; a source whose pages consume something (a blob that must
    /// then be stored) overrides it with a read that does not.
    fn probe<'a>(
        &'a self,
        stream: Option<&'a str>,
        window: Window,
        deadline: &'a Deadline,
    ) -> BoxFuture<'a, Result<Probe, SourceError>> {
        use futures::StreamExt;
        Box::pin(async move {
            match self.pages(stream, window, deadline).next().await {
                Some(Ok(page)) => Ok(Probe {
                    count: page.records.len(),
                    what: "record(s) in the first page",
                }),
                Some(Err(e)) => Err(e),
                None => Ok(Probe {
                    count: 0,
                    what: "record(s)",
                }),
            }
        })
    }
    /// Whether the source's streams may run at the same time (each has its own lease). Graph
    /// streams share one request budget, so they run one after another.
    fn concurrent_streams(&self) -> bool {
        false
    }
}
