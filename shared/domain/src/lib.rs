//! auditlake's pure core: the data model and its closed enums ([`model`], [`stream`]), the typed
//! configuration ([`config`]), national clouds, keys and health ([`store`]), the ports every
//! adapter implements (raw, event, state and parameter stores, the content ledger, the query
//! API's reader and annotator in [`read`], the analytics engine, the clock, the authenticator in
//! [`access`]), the outbound destinations' allow-list and webhook signature ([`destination`]),
//! the hunting-query catalog, and the normalizers. It does no I/O, reads no
//! environment variables and depends on neither tokio, reqwest nor the AWS SDK:
//! `shared/cli/tests/cli/layers.rs` checks that against Cargo.

pub use async_trait::async_trait;

pub mod access;
pub mod alert;
pub mod analytics;
pub mod backfill;
pub mod clock;
pub mod cloud;
pub mod config;
pub mod delivery;
pub mod destination;
pub mod model;
pub mod normalize;
pub mod read;
pub mod store;
pub mod stream;
pub mod triage;
