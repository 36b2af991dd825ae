//! Shared helpers: where the repository and its `template.yaml` are, and broken copies of it.

use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn real_template() -> String {
    std::fs::read_to_string(root().join("template.yaml")).unwrap()
}

pub fn functions_dir() -> PathBuf {
    root().join("functions")
}

/// Replaces the first occurrence of `from` (which must exist) in the real template.
pub fn broken(from: &str, to: &str) -> String {
    let t = real_template();
    assert!(
        t.contains(from),
        "fixture text not in template.yaml: {from}"
    );
    t.replacen(from, to, 1)
}
