//! One module per Microsoft source, all behind [`SourcePuller`]: given a stream and a window of
//! event time, a source yields pages of records exactly as Microsoft sent them. Sources know the
//! API; the pipeline knows checkpoints, storage and dedupe.

pub mod entra_directory_audits;
pub mod entra_sign_ins;
pub mod exchange_message_trace;
pub mod graph;
pub mod intune_audit;

use chrono::TimeDelta;
use futures::stream::BoxStream;
use serde_json::value::RawValue;

use crate::clock::Deadline;
use crate::http::ApiError;
use crate::model::{ErrorInfo, Source, Window};

/// One page of records, each kept byte for byte as received.
#[derive(Debug, Default)]
pub struct Page {
    pub records: Vec<Box<RawValue>>,
}

/// Why a source could not deliver a page.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{0}")]
    Protocol(String),
}

impl SourceError {
    pub fn info(&self) -> ErrorInfo {
        match self {
            SourceError::Api(e) => e.info(),
            SourceError::Protocol(m) => ErrorInfo {
                code: "ProtocolError".into(),
                message: m.clone(),
            },
        }
    }

    /// True when the run merely ran out of time (not a failure of Microsoft or of auditlake).
    pub fn is_deadline(&self) -> bool {
        matches!(self, SourceError::Api(ApiError::Deadline { .. }))
    }
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
    /// The pages of one window.
    fn pages<'a>(
        &'a self,
        stream: Option<&'a str>,
        window: Window,
        deadline: &'a Deadline,
    ) -> PageStream<'a>;
}
