//! Entra ID directory audits: `GET /v1.0/auditLogs/directoryAudits`, windowed on
//! `activityDateTime`, one-hour chunks, 30 days of history (7 on Entra ID Free, where older
//! windows simply come back empty). Needs `AuditLog.Read.All`.

use std::sync::Arc;

use chrono::TimeDelta;

use super::{PageStream, SourcePuller, graph};
use crate::clock::Deadline;
use crate::http::ApiClient;
use crate::model::{Source, Window};

pub struct EntraDirectoryAudits {
    client: Arc<ApiClient>,
    graph_root: String,
    page_size: u32,
}

impl EntraDirectoryAudits {
    /// `page_size` is the `$top` asked for (at most 1000, Graph's largest audit-log page).
    pub fn new(client: Arc<ApiClient>, graph_root: String, page_size: u32) -> Self {
        EntraDirectoryAudits {
            client,
            graph_root,
            page_size,
        }
    }
}

impl SourcePuller for EntraDirectoryAudits {
    fn source(&self) -> Source {
        Source::EntraDirectoryAudits
    }

    fn streams(&self) -> Vec<Option<String>> {
        vec![None]
    }

    fn chunk(&self) -> TimeDelta {
        TimeDelta::hours(1)
    }

    fn history(&self) -> TimeDelta {
        TimeDelta::days(30)
    }

    fn pages<'a>(
        &'a self,
        _stream: Option<&'a str>,
        window: Window,
        deadline: &'a Deadline,
    ) -> PageStream<'a> {
        match graph::window_url(
            &self.graph_root,
            "v1.0/auditLogs/directoryAudits",
            "activityDateTime",
            window,
            None,
            self.page_size,
        ) {
            Ok(url) => graph::pages(self.client.clone(), url, deadline),
            Err(e) => Box::pin(futures::stream::once(async move { Err(e) })),
        }
    }
}
