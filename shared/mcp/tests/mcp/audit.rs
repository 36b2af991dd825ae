//! The audit of the auditor: every tool call leaves one `audit="tool_call"` line naming the
//! caller, the transport, the tool, the arguments, the outcome and the answer's size, and never
//! the answer itself; a refused call is logged as refused, with its caller.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::support::*;

/// A log sink the test reads back: one JSON object per line.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink {
    fn audit_lines(&self) -> Vec<Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["fields"]["audit"] == "tool_call")
            .collect()
    }
}

#[tokio::test]
async fn each_tool_call_is_logged_with_caller_tool_arguments_and_size_but_not_its_content() {
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let f = fixture(false).await;
    let r = mcp::router(mcp::McpApp::new(f.query.clone(), None));
    let found = tool(&r, "reader", "search_events", json!({"page_size": 5})).await;
    assert_ne!(found["isError"], true, "{found}");
    let listed = found.to_string();
    assert!(listed.contains("user-1@contoso.com"), "{listed}");
    let refused = tool(
        &r,
        "reader",
        "run_hunting_query",
        json!({"query": "consent_grants", "params": {"start_date": "2024-05-01", "end_date": "2024-05-10"}}),
    )
    .await;
    assert_eq!(refused["isError"], true);

    let lines = sink.audit_lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let (search, hunt) = (&lines[0]["fields"], &lines[1]["fields"]);
    assert_eq!(search["tool"], "search_events");
    assert_eq!(search["via"], "http");
    assert_eq!(search["outcome"], "ok");
    assert_eq!(search["status"], 200);
    assert!(
        search["caller"].as_str().unwrap().contains("u-read"),
        "{search}"
    );
    assert!(
        search["arguments"].as_str().unwrap().contains("page_size"),
        "{search}"
    );
    assert!(search["result_bytes"].as_u64().unwrap() > 0, "{search}");
    assert_eq!(hunt["tool"], "run_hunting_query");
    assert_eq!(hunt["outcome"], "refused");
    assert!(
        hunt["caller"].as_str().unwrap().contains("u-read"),
        "{hunt}"
    );
    // What the tool answered (the events' actors and targets) is not in any log line.
    let all = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(
        !all.contains("user-1@contoso.com"),
        "an answer reached the log"
    );
}
