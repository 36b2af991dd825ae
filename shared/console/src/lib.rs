//! The web console's assets, embedded at compile time: `web/` holds the sources (plain JavaScript
//! modules, one stylesheet, `index.html`), `npm run build` bundles them with esbuild into
//! `dist/` (committed), and `build.rs` includes every file of `dist/` in the crate. The query API
//! serves them at `/` (`shared/query/src/console.rs`, which sets the security and cache headers);
//! this crate only answers which asset a path names.
//!
//! Asset names under `assets/` carry a hash of their content (`app-<hash>.js`), so they are
//! [`Asset::immutable`] and can be cached for a year; `index.html` names them and must be
//! revalidated on every load. No dependencies: this crate is data.

/// One embedded file of `dist/`.
#[derive(Debug)]
pub struct Asset {
    /// Relative to `dist/`: `index.html`, `assets/app-<hash>.js`.
    pub path: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

impl Asset {
    /// A content-hashed asset (under `assets/`), cacheable for good; `index.html` is not.
    pub fn immutable(&self) -> bool {
        self.path.starts_with("assets/")
    }
}

/// The page at `/`.
pub fn index() -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == "index.html")
}

/// The content-hashed asset `/assets/<name>` names, if any (`name` has no `/`).
pub fn asset(name: &str) -> Option<&'static Asset> {
    if name.is_empty() || name.contains('/') {
        return None;
    }
    ASSETS
        .iter()
        .find(|a| a.path.strip_prefix("assets/") == Some(name))
}

/// Every embedded asset.
pub fn all() -> &'static [Asset] {
    ASSETS
}

/// Bytes of everything the console serves (BENCHMARKS.md, "The console").
pub fn total_bytes() -> usize {
    ASSETS.iter().map(|a| a.bytes.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_every_hashed_asset_and_nothing_else() {
        let index = std::str::from_utf8(index().expect("dist/index.html").bytes).expect("utf-8");
        let hashed: Vec<&Asset> = ASSETS.iter().filter(|a| a.immutable()).collect();
        assert!(hashed.len() >= 2, "a script and a stylesheet");
        for a in &hashed {
            assert!(
                index.contains(&format!("/{}", a.path)),
                "{} not named",
                a.path
            );
            let stem = a.path.rsplit_once('.').map(|(s, _)| s).unwrap_or(a.path);
            let hash = stem.rsplit('-').next().unwrap_or("");
            assert!(
                hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
                "{} carries no content hash",
                a.path
            );
        }
        assert!(!index.contains("@JS@") && !index.contains("@CSS@"));
    }

    #[test]
    fn the_page_has_no_inline_script_or_third_party_origin() {
        let index = std::str::from_utf8(index().expect("index").bytes).expect("utf-8");
        for tag in index.split("<script").skip(1) {
            let head = tag.split('>').next().unwrap_or("");
            assert!(head.contains("src=\"/assets/"), "inline script: {tag}");
        }
        assert!(!index.contains("http://") && !index.contains("https://"));
        assert!(!index.contains("style="));
    }

    #[test]
    fn only_names_under_assets_are_served_by_name() {
        let js = ASSETS
            .iter()
            .find(|a| a.path.ends_with(".js"))
            .expect("a script");
        let name = js.path.trim_start_matches("assets/");
        assert_eq!(asset(name).map(|a| a.path), Some(js.path));
        assert!(asset("index.html").is_none());
        assert!(asset("../index.html").is_none());
        assert!(asset("").is_none());
        assert_eq!(js.content_type, "text/javascript; charset=utf-8");
        assert!(total_bytes() > js.bytes.len());
    }
}
