//! The aws crate's integration tests: `template.yaml` (at the repository root) against the code.
//! Every function's IAM statements against the calls in `aws::permissions`, and its environment
//! against `domain::config`'s `PULLER_VARS` and `QUERY_VARS`; the checker itself is proved by
//! broken copies of the template, each of which it must name.

mod cfn;
mod check;
mod mistakes;
mod support;
mod template;
