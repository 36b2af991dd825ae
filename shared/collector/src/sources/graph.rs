//! Paging through a Microsoft Graph collection: `$filter` on the source's time field with `ge`
//! and `le`, `$top`, then `@odata.nextLink` followed verbatim until the last page. The skip token
//! is never persisted: a window cut short is pulled again whole (ARCHITECTURE.md, "Windows, lag and overlap").
//!
//! A next link is followed only on the configured Graph origin (scheme, host and port): the
//! request carries the tenant-wide bearer token, so a page naming any other place (another host,
//! another port, plain http) ends the window with a protocol error in health instead.
//!
//! [`GraphCollection`] is the one [`SourcePuller`] for every Graph source; each source module
//! supplies a [`GraphSpec`] with its API facts (path per stream, time field, chunk, history).

use std::sync::Arc;

use futures::stream;
use serde::Deserialize;
use serde_json::value::RawValue;

use chrono::TimeDelta;

use super::{Page, PageStream, SourceError, SourcePuller};
use crate::http::{ApiClient, ApiError};
use domain::model::{Source, Window, fmt_time};
use domain::stream::Stream;
use runtime::clock::Deadline;

/// Where one stream of a Graph source is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Path under the Graph root, e.g. `v1.0/auditLogs/directoryAudits`.
    pub path: String,
    /// A clause added to the time filter with `and`.
    pub extra_filter: Option<String>,
}

/// The API facts of one Graph source.
pub trait GraphSpec: Send + Sync {
    fn source(&self) -> Source;
    /// The streams this deployment pulls (`None` for a source without streams).
    fn streams(&self) -> Vec<Option<Stream>>;
    /// Where a stream is read from.
    fn query(&self, stream: Option<Stream>) -> Query;
    /// The property windows filter on.
    fn time_field(&self) -> &'static str;
    /// Largest window per query.
    fn chunk(&self) -> TimeDelta;
    /// How far back Microsoft keeps the data.
    fn history(&self) -> TimeDelta;
    /// Largest `$top` Microsoft accepts.
    fn max_page_size(&self) -> u32 {
        1000
    }
}

/// A Graph source: a [`GraphSpec`] read through an [`ApiClient`].
pub struct GraphCollection<S> {
    spec: S,
    client: Arc<ApiClient>,
    root: String,
    page_size: u32,
    history: Option<TimeDelta>,
}

impl<S: GraphSpec> GraphCollection<S> {
    /// `page_size` is capped at the spec's maximum; `history` overrides the spec's edge.
    pub fn new(
        spec: S,
        client: Arc<ApiClient>,
        root: String,
        page_size: u32,
        history: Option<TimeDelta>,
    ) -> Self {
        let page_size = page_size.clamp(1, spec.max_page_size());
        GraphCollection {
            spec,
            client,
            root,
            page_size,
            history,
        }
    }
}

impl<S: GraphSpec> SourcePuller for GraphCollection<S> {
    fn source(&self) -> Source {
        self.spec.source()
    }

    fn streams(&self) -> Vec<Option<Stream>> {
        self.spec.streams()
    }

    fn chunk(&self) -> TimeDelta {
        self.spec.chunk()
    }

    fn history(&self) -> TimeDelta {
        self.history.unwrap_or_else(|| self.spec.history())
    }

    fn pages<'a>(
        &'a self,
        stream: Option<Stream>,
        window: Window,
        deadline: &'a Deadline,
    ) -> PageStream<'a> {
        let q = self.spec.query(stream);
        match window_url(
            &self.root,
            &q.path,
            self.spec.time_field(),
            window,
            q.extra_filter.as_deref(),
            self.page_size,
        ) {
            Ok(url) => pages(self.client.clone(), url, &self.root, deadline),
            Err(e) => Box::pin(futures::stream::once(async move { Err(e) })),
        }
    }
}

#[derive(Deserialize)]
struct GraphPage {
    #[serde(default)]
    value: Vec<Box<RawValue>>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

/// The first URL of a windowed Graph query.
pub fn window_url(
    root: &str,
    path: &str,
    time_field: &str,
    window: Window,
    extra_filter: Option<&str>,
    top: u32,
) -> Result<String, SourceError> {
    let mut url = reqwest::Url::parse(&format!("{root}/{path}"))
        .map_err(|e| SourceError::Protocol(format!("bad Graph URL {root}/{path}: {e}")))?;
    let mut filter = format!(
        "{time_field} ge {} and {time_field} le {}",
        fmt_time(window.start),
        fmt_time(window.end)
    );
    if let Some(extra) = extra_filter {
        filter.push_str(" and ");
        filter.push_str(extra);
    }
    url.query_pairs_mut()
        .append_pair("$filter", &filter)
        .append_pair("$top", &top.to_string());
    Ok(url.to_string())
}

/// `next`, a page's `@odata.nextLink`, when it is on `root`'s origin; a protocol error naming
/// where it pointed otherwise.
pub fn checked_next_link(root: &reqwest::Url, next: &str) -> Result<String, SourceError> {
    let refuse = |why: String| {
        SourceError::Api(ApiError::Protocol {
            service: "Microsoft Graph",
            message: format!(
                "refusing to follow @odata.nextLink {why}; only {} is trusted with the token",
                root.origin().ascii_serialization()
            ),
        })
    };
    let url = reqwest::Url::parse(next).map_err(|e| refuse(format!("that is not a URL ({e})")))?;
    if url.origin() != root.origin() {
        return Err(refuse(format!(
            "to another origin ({})",
            url.origin().ascii_serialization()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("carrying credentials in the URL".into()));
    }
    Ok(url.to_string())
}

/// Streams the pages starting at `first_url`, following next links only on `root`'s origin.
pub fn pages<'a>(
    client: Arc<ApiClient>,
    first_url: String,
    root: &str,
    deadline: &'a Deadline,
) -> PageStream<'a> {
    let root = match reqwest::Url::parse(root) {
        Ok(r) => r,
        Err(e) => {
            let e = SourceError::Protocol(format!("bad Graph root {root}: {e}"));
            return Box::pin(futures::stream::once(async move { Err(e) }));
        }
    };
    Box::pin(stream::try_unfold(Next::Url(first_url), move |next| {
        let root = root.clone();
        let client = client.clone();
        async move {
            let url = match next {
                Next::Url(url) => url,
                Next::Done => return Ok(None),
                Next::Refused(e) => return Err(e),
            };
            if deadline.passed() {
                return Err(SourceError::Api(ApiError::Deadline {
                    waiting_for: "the next page".into(),
                }));
            }
            let resp = client.get(&url, deadline).await?;
            let page: GraphPage = serde_json::from_slice(&resp.body).map_err(|e| {
                SourceError::Api(ApiError::Protocol {
                    service: "Microsoft Graph",
                    message: format!("page is not a Graph collection: {e}"),
                })
            })?;
            // The page itself came from Graph and is kept; a refused next link fails the window
            // after it.
            let next = match page.next_link {
                None => Next::Done,
                Some(n) => match checked_next_link(&root, &n) {
                    Ok(url) => Next::Url(url),
                    Err(e) => Next::Refused(e),
                },
            };
            Ok(Some((
                Page {
                    records: page.value,
                    ..Page::default()
                },
                next,
            )))
        }
    }))
}

/// Where paging goes after a page.
enum Next {
    Url(String),
    Done,
    Refused(SourceError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn next_links_are_followed_only_on_the_configured_origin() {
        let root = reqwest::Url::parse("https://graph.microsoft.com").unwrap();
        let ok = "https://graph.microsoft.com/v1.0/auditLogs/signIns?$skiptoken=abc";
        assert_eq!(checked_next_link(&root, ok).unwrap(), ok);
        for bad in [
            "http://graph.microsoft.com/v1.0/auditLogs/signIns?$skiptoken=abc",
            "https://graph.microsoft.com:8443/v1.0/x",
            "https://graph.microsoft.com.evil.example/v1.0/x",
            "https://evil.example/v1.0/x",
            "https://user:pw@graph.microsoft.com/v1.0/x",
            "//evil.example/x",
            "/v1.0/x",
            "file:///etc/passwd",
        ] {
            let err = checked_next_link(&root, bad).unwrap_err().to_string();
            assert!(
                err.contains("refusing to follow @odata.nextLink"),
                "{bad}: {err}"
            );
        }
        // The simulator's origin is a loopback port over http; another port is another origin.
        let sim = reqwest::Url::parse("http://127.0.0.1:8080").unwrap();
        assert!(checked_next_link(&sim, "http://127.0.0.1:8080/v1.0/x?p=2").is_ok());
        assert!(checked_next_link(&sim, "http://127.0.0.1:8081/v1.0/x?p=2").is_err());
    }

    #[test]
    fn window_urls_use_ge_and_le() {
        let s = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let w = Window::new(s, s + chrono::TimeDelta::hours(1));
        let url = window_url(
            "https://graph.microsoft.com",
            "v1.0/auditLogs/directoryAudits",
            "activityDateTime",
            w,
            None,
            1000,
        )
        .unwrap();
        let parsed = reqwest::Url::parse(&url).unwrap();
        let q: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert_eq!(
            q[0].1,
            "activityDateTime ge 2024-01-01T00:00:00.000Z and activityDateTime le 2024-01-01T01:00:00.000Z"
        );
        assert_eq!(q[1], ("$top".into(), "1000".into()));
    }
}
