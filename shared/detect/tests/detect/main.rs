//! The detect crate's integration tests: the built-in pack against its own cases, thresholds
//! under replays and reordering, and SigmaHQ-style rules through the field mapping.

mod mapping;
mod pack;
mod support;
mod thresholds;
