//! The aws crate's integration tests: `template.yaml` (at the repository root) against the code.
//! Every function's IAM statements against the calls in `aws::permissions`, and its environment
//! against `domain::config`'s `PULLER_VARS` and `QUERY_VARS`; the checker itself is proved by
//! broken copies of the template, each of which it must name. [`hardening`] holds the template's
//! security settings (Object Lock, versions, access logs, per-route throttling, CORS, encryption).

mod cfn;
mod check;
mod hardening;
mod mistakes;
mod support;
mod template;
