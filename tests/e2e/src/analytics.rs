//! Analytics on the local stack: copy the curated layer out of (moto's) S3 into a folder laid out
//! like the bucket, where the local query engine (sqlglot + DuckDB) reads it.

use std::path::Path;

use auditlake::curated;
use auditlake::store::RawStore;

/// Copies every object under `curated/` to `<dir>/<key>`; returns how many.
pub async fn mirror_curated(raw: &dyn RawStore, dir: &Path) -> Result<usize, String> {
    let keys = raw.list(curated::PREFIX).await.map_err(|e| e.to_string())?;
    for key in &keys {
        let body = raw.get(key).await.map_err(|e| e.to_string())?;
        let path = dir.join(key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&path, body).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(keys.len())
}
