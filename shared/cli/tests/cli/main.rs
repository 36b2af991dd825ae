//! Integration tests of the `auditlake` binary, run as a process the way an operator runs it:
//! `auditlake normalize` for every source on the hand-written fixtures in `tests/fixtures/`,
//! conformance of every source's normalizer against the shared corpus of published records (read
//! in place, never copied, when present; required when `CI` is set), and `auditlake run` and
//! `auditlake serve` refusing bad configuration; `auditlake detect` over the pack's cases and
//! the corpus; and the crate layering of the workspace
//! ([`layers`]: checked against `cargo metadata` and `cargo tree`).

mod corpus;
mod detect;
mod graph_sources_conformance;
mod layers;
mod m365_activity;
mod mcp;
mod message_trace_exports;
mod normalize;
mod run_command;
mod serve;
mod support;
