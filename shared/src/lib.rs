//! auditlake's core: the model and contracts, configuration, Entra authentication, the retrying
//! Microsoft HTTP client, one module per source, normalizers, storage ports with AWS and in-memory
//! adapters, and the pull pipeline. Function crates and the `auditlake` CLI are thin layers over
//! [`app`]. The core reads no environment variables and does not panic on the I/O path.

pub use async_trait::async_trait;

pub mod analytics;
pub mod app;
pub mod auth;
pub mod aws;
pub mod clock;
pub mod cloud;
pub mod config;
pub mod curated;
pub mod doctor;
pub mod http;
pub mod import;
pub mod model;
pub mod normalize;
pub mod permissions;
pub mod pipeline;
pub mod query;
pub mod sources;
pub mod store;
pub mod telemetry;
