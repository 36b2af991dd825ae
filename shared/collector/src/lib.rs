//! The collection layer: Entra ID client authentication ([`auth`]), the retrying, paced Microsoft
//! HTTP client ([`http`]), one module per source ([`sources`]), the pull [`pipeline`], the curated
//! Parquet writer ([`curated`]), operator [`import`]s, the preflight [`doctor`], and the wiring
//! from configuration and ports to a runnable puller ([`app`], [`lambda`]). The Lambda mains of
//! `functions/pull-*` are one call to [`lambda::run_puller`].

pub mod app;
pub mod auth;
pub mod backfill;
pub mod curated;
pub mod doctor;
pub mod http;
pub mod import;
pub mod lambda;
pub mod pipeline;
pub mod sources;
