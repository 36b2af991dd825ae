//! Integration tests of the `collector` crate, one binary with one module per area: pull-pipeline
//! scenarios on the in-memory ports with a fake Graph source (exact counts, raw bytes in S3,
//! watermarks, leases, backfills, history gaps, quarantine, health), the Lambda payload contract,
//! the Management Activity API's documented answers through the puller's parsers, and the curated
//! layer queried through the local DuckDB engine, and the bucket's lifecycle rules against the keys
//! the collector writes.

mod analytics;
mod invocation;
mod lifecycle;
mod mgmt_api_conformance;
mod pipeline;
mod pipeline_windows;
mod support;
