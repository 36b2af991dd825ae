//! The simulator's Office 365 Management Activity API over HTTP, one module per area:
//! subscriptions, auth and setup switches; every listing window rule and `NextPageUri` paging;
//! blob fetch and expiry on the virtual clock against the ground truth; faults and the request
//! budget; each quirk on and off; the shape of the records.
//!
//! Request budgets are off (see [`crate::support::mgmt::config`]) except in the budget test.

mod blobs;
mod faults;
mod listing;
mod quirks;
mod records;
mod subscriptions;
