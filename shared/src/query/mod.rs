//! The query API: what an analyst or a script uses to find, review and annotate events. This
//! branch holds only its bearer-token authentication ([`auth`]); the router lives beside it.

pub mod auth;
