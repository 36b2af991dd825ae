//! The aws crate's integration tests: `template.yaml` (at the repository root) against the code.
//! Every function's IAM statements against the calls in `aws::permissions`, and its environment
//! against `domain::config`'s `PULLER_VARS` and `QUERY_VARS`; the checker itself is proved by
//! broken copies of the template, each of which it must name. [`environment`] resolves each
//! function's environment as a documented deploy gives it and parses it. [`hardening`] holds the template's
//! security settings (Object Lock, versions, access logs, per-route throttling, CORS, encryption).

mod cfn;
mod check;
mod environment;
mod hardening;
mod mistakes;
mod support;
mod template;
