//! Embeds `dist/` (the console's built assets, committed) into the crate: writes
//! `$OUT_DIR/assets.rs`, one `Asset` per file with its bytes through `include_bytes!`, so the
//! binary carries the console and no file is read at run time. Cargo reruns this when `dist/`
//! changes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let dist = root.join("dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut found = Vec::new();
    files(&dist, &mut found);
    let mut code = String::from("pub static ASSETS: &[Asset] = &[\n");
    for p in &found {
        println!("cargo:rerun-if-changed={}", p.display());
        let rel = p
            .strip_prefix(&dist)
            .expect("under dist/")
            .to_string_lossy()
            .replace('\\', "/");
        let _ = writeln!(
            code,
            "    Asset {{ path: {rel:?}, content_type: {ct:?}, bytes: include_bytes!({abs:?}) }},",
            ct = content_type(&rel),
            abs = p.display().to_string(),
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("assets.rs");
    std::fs::write(out, code).expect("write assets.rs");
}
