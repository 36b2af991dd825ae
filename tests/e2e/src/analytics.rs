//! Analytics on the local stack: copy the curated layer out of (moto's) S3 into a folder laid out
//! like the bucket, where the local query engine (sqlglot + DuckDB) reads it.

use std::path::Path;

use auditlake::curated;
use auditlake::store::RawStore;

/// Copies every object under `curated/` to `<dir>/<key>`; returns how many.
pub async fn mirror_curated(raw: &dyn RawStore, dir: &Path) -> Result<usize, String> {
    mirror(raw, curated::PREFIX, dir).await
}

/// Copies every object under `prefix` to `<dir>/<key>`; returns how many.
pub async fn mirror(raw: &dyn RawStore, prefix: &str, dir: &Path) -> Result<usize, String> {
    let keys = raw.list(prefix).await.map_err(|e| e.to_string())?;
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

/// Mirrors the curated layer to a temporary folder and runs two hunting queries over the last
/// `days` with the local engine; returns the lines to print (the demo's analytics section).
pub async fn demo_hunts(
    raw: &dyn RawStore,
    now: chrono::DateTime<chrono::Utc>,
    days: u32,
) -> Result<Vec<String>, String> {
    use auditlake::analytics::{LocalEngine, run_hunting_query};
    let dir = std::env::temp_dir().join(format!("auditlake-demo-curated-{}", std::process::id()));
    let objects = mirror_curated(raw, &dir).await?;
    let engine = LocalEngine::from_repo(&dir);
    let start = (now - chrono::TimeDelta::days(i64::from(days) + 1)).format("%Y-%m-%d");
    let end = now.format("%Y-%m-%d");
    let mut lines = vec![format!(
        "analytics: {objects} curated Parquet objects under curated/, hunting queries run locally (sqlglot + DuckDB):"
    )];
    let queries = [
        (
            "failed_sign_ins_by_user_country",
            serde_json::json!({"start_date": start.to_string(), "end_date": end.to_string(), "min_failures": 2}),
        ),
        (
            "dlp_matches_by_policy",
            serde_json::json!({"start_date": start.to_string(), "end_date": end.to_string()}),
        ),
    ];
    let mut result = Ok(());
    for (name, params) in queries {
        let params = params.as_object().cloned().unwrap_or_default();
        match run_hunting_query(&engine, name, &params, std::time::Duration::from_secs(120)).await {
            Ok(table) => {
                lines.push(format!("{name} {}:", serde_json::Value::Object(params)));
                let rendered = table.render();
                let total = rendered.lines().count();
                lines.extend(rendered.lines().take(12).map(|l| format!("  {l}")));
                if total > 12 {
                    lines.push(format!("  ... {} more rows", total - 12));
                }
            }
            Err(e) => {
                result = Err(format!("{name}: {e}"));
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    result.map(|()| lines)
}
