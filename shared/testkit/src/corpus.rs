//! The shared corpus of real public sample events, kept beside the repository (`../shared/corpus`
//! from its root, with its own PROVENANCE.md) and read in place by conformance tests, never
//! copied in.

use std::path::{Path, PathBuf};

/// The corpus folder (it may be absent on a developer's machine).
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

/// Called when the corpus folder `dir` is absent: with `CI` set this fails the test (a CI run
/// must check conformance); elsewhere it prints a note and the test returns early.
pub fn corpus_missing(dir: &Path, what: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "corpus not found at {}: CI is set, so {what} must be checked",
        dir.display()
    );
    eprintln!(
        "note: corpus not found at {}; {what} not checked on this machine",
        dir.display()
    );
}
