//! The query API's integration tests, over its axum router with the in-memory stores, a manual
//! clock and `StaticTokens` (no network, no AWS): every filter of the listing, paging with signed
//! cursors while events arrive, the read budget, every bad input, 401 against 403, annotations
//! surviving re-ingest, the aggregates, hunting queries, what a hostile caller could do (response
//! size, read budgets, inputs DynamoDB refuses, cursor rebinding), the OpenAPI document against
//! the routes and the pinned validator, the stack's CORS methods against the routes, alert triage and
//! the tenant's rules.

mod aggregates;
mod alerts;
mod analytics;
mod annotations;
mod auth;
mod bad_input;
mod console;
mod cors;
mod hardening;
mod listing;
mod openapi;
mod paging;
mod rules;
mod support;
