//! The tenant simulator's integration tests, one binary over HTTP: the Entra token endpoint
//! (client secrets and certificates), Graph's `$filter`/`$top`/`$skiptoken` paging against
//! `/_sim/truth`, each Graph source, Microsoft's request budgets, the virtual clock, fault
//! injection, schema conformance against Microsoft's published v1.0 definitions, the Office 365
//! Management Activity API ([`mgmt`]), the OIDC issuer, the console's authorization-code flow
//! (`authorize`), the planted attack scenarios and their truth (`attacks`), Graph's audit log
//! query API (`audit_search`), and the `m365-sim` binary's flags. One module per area; helpers
//! are in [`support`].
//!
//! Most tests switch request budgets off (see [`support::config`]), since they pull many pages at
//! one virtual instant; the budget tests switch them back on.

mod attacks;
mod audit_search;
mod auth;
mod authorize;
mod budgets;
mod certificates;
mod cli;
mod clock;
mod defender_alerts;
mod faults;
mod graph_paging;
mod hostile;
mod intune;
mod message_trace;
mod mgmt;
mod oidc;
mod risk_provisioning;
mod schema;
mod sign_ins;
mod support;
