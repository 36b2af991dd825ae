//! Analytics on the local stack: copy the curated layer out of (moto's) S3 into a folder laid out
//! like the bucket, where the local query engine (sqlglot + DuckDB) reads it.

use std::path::Path;

use collector::curated;
use domain::store::RawStore;

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

/// Runs two hunting queries over the last `days` through the query API's
/// `POST /analytics/{query}` (served with the local engine over a mirror of the curated layer);
/// returns the lines to print (the demo's analytics section).
pub async fn demo_hunts(
    api: &str,
    token: &str,
    now: chrono::DateTime<chrono::Utc>,
    days: u32,
) -> Result<Vec<String>, String> {
    use domain::analytics::{Column, Table};
    let start = (now - chrono::TimeDelta::days(i64::from(days) + 1)).format("%Y-%m-%d");
    let end = now.format("%Y-%m-%d");
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
    let http = reqwest::Client::new();
    let mut lines = Vec::new();
    for (name, params) in queries {
        let resp = http
            .post(format!("{api}/analytics/{name}"))
            .bearer_auth(token)
            .json(&params)
            .timeout(std::time::Duration::from_secs(180))
            .send()
            .await
            .map_err(|e| format!("POST /analytics/{name}: {e}"))?;
        let status = resp.status();
        let body: serde_json::Value = resp
            .json()
            .await
            .map_err(|e| format!("POST /analytics/{name} reply: {e}"))?;
        if !status.is_success() {
            return Err(format!("POST /analytics/{name}: {status} {body}"));
        }
        let table = Table {
            columns: serde_json::from_value::<Vec<Column>>(body["columns"].clone())
                .map_err(|e| format!("POST /analytics/{name} columns: {e}"))?,
            rows: serde_json::from_value(body["rows"].clone())
                .map_err(|e| format!("POST /analytics/{name} rows: {e}"))?,
        };
        lines.push(format!(
            "POST /analytics/{name} {params} ({} ms):",
            body["elapsed_ms"]
        ));
        let rendered = table.render();
        let total = rendered.lines().count();
        lines.extend(rendered.lines().take(12).map(|l| format!("  {l}")));
        if total > 12 {
            lines.push(format!("  ... {} more rows", total - 12));
        }
    }
    Ok(lines)
}
