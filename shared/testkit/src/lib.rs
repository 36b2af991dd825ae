//! Test support for every crate's tests, the end-to-end harness and the demo; never a production
//! dependency (`shared/cli/tests/cli/layers.rs` checks that no function or library crate has it
//! as a normal dependency). In-memory adapters of the storage and query ports ([`memory`],
//! [`memory_read`]), stores that only count what they are given ([`counting`], for benchmarks of
//! the puller's own memory), a [`clock::ManualClock`], [`tokens::StaticTokens`] for the query
//! API's auth paths, provisioning of a local stack's tables, bucket and parameters
//! ([`provision`]), the local DuckDB engine of the hunting queries ([`local_engine`]), where
//! the shared corpus of sample events is ([`corpus`]), delivery markers in memory ([`memory_deliveries`]), an HTTPS webhook [`receiver`] and a
//! chat-completions stand-in for the questions' tests ([`llm_sim`]).

pub mod clock;
pub mod corpus;
pub mod counting;
pub mod llm_sim;
pub mod local_engine;
pub mod memory;
pub mod memory_alerts;
pub mod memory_backfill;
pub mod memory_deliveries;
pub mod memory_read;
pub mod provision;
pub mod receiver;
pub mod tokens;
