//! The local query engine: the hunting queries' own Athena SQL, translated by sqlglot and run by
//! DuckDB over a folder laid out like the bucket, through `infra/athena/local_runner.py`. It runs
//! the exact-answer tests, the demo and `auditlake-lake-size`; never deployed.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use domain::analytics::{BoundQuery, EngineError, ParamValue, QueryEngine, Table};
use serde_json::Value;

/// The local engine: `python infra/athena/local_runner.py` (sqlglot, then DuckDB) over a folder
/// laid out like the bucket (`<data>/curated/source=<s>/dt=<d>/*.parquet`).
#[derive(Debug, Clone)]
pub struct LocalEngine {
    /// The Python with duckdb and sqlglot (`.venv/bin/python`).
    pub python: PathBuf,
    /// `infra/athena/local_runner.py`.
    pub runner: PathBuf,
    pub data: PathBuf,
}

impl LocalEngine {
    /// Uses the repository's `.venv` and runner, found from this crate's folder (`shared/testkit`).
    pub fn from_repo(data: impl Into<PathBuf>) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        LocalEngine {
            python: root.join(".venv/bin/python"),
            runner: root.join("infra/athena/local_runner.py"),
            data: data.into(),
        }
    }

    fn run_blocking(&self, query: &BoundQuery, limit: Duration) -> Result<Table, EngineError> {
        let failed = |message: String| EngineError::Failed {
            query: query.name.to_string(),
            message,
        };
        let params = Value::Array(query.params.iter().map(ParamValue::json).collect());
        let mut child = Command::new(&self.python)
            .arg(&self.runner)
            .arg("--data")
            .arg(&self.data)
            .arg("--query")
            .arg(query.name)
            .arg("--params")
            .arg(params.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| failed(format!("cannot start {}: {e}", self.python.display())))?;
        let mut stdout = child.stdout.take();
        let reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(s) = stdout.as_mut() {
                let _ = s.read_to_end(&mut out);
            }
            out
        });
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() > limit => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(EngineError::Timeout(limit));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(failed(e.to_string())),
            }
        };
        let out = reader.join().unwrap_or_default();
        if !status.success() {
            let mut err = String::new();
            if let Some(mut s) = child.stderr.take() {
                let _ = s.read_to_string(&mut err);
            }
            return Err(failed(err.trim().to_string()));
        }
        serde_json::from_slice(&out).map_err(|e| failed(format!("unreadable runner output: {e}")))
    }
}

#[async_trait]
impl QueryEngine for LocalEngine {
    async fn run(&self, query: &BoundQuery, limit: Duration) -> Result<Table, EngineError> {
        let me = self.clone();
        let q = query.clone();
        tokio::task::spawn_blocking(move || me.run_blocking(&q, limit))
            .await
            .map_err(|e| EngineError::Failed {
                query: query.name.to_string(),
                message: e.to_string(),
            })?
    }
}
