//! Hunting queries over the curated layer, behind one query-engine port.
//!
//! The SQL lives in `infra/athena/queries/<name>.sql` (Athena/Trino dialect, `?` placeholders) and
//! is compiled into the binary; each file's `-- @param <name> <date|integer|varchar>` lines name
//! its placeholders in order (a name may appear more than once). The query API's
//! `run_hunting_query` (`shared/query/src/analytics.rs`) validates the caller's typed parameters
//! against that list and hands the query to a [`QueryEngine`]: `aws::AthenaEngine` (StartQueryExecution with ExecutionParameters, never SQL built
//! from the parameters) or the test kit's `LocalEngine` (the same file, translated by sqlglot and
//! run by DuckDB over local Parquet, through `infra/athena/local_runner.py`).
//!
//! Query API shape (the router's `POST /analytics/{query}` calls `run_hunting_query`):
//!
//! ```text
//! POST /analytics/failed_sign_ins_by_user_country
//! {"start_date": "2024-05-01", "end_date": "2024-05-07", "min_failures": 3}
//! 200 {"query": "...", "columns": [{"name": "user_upn", "type": "varchar"}, ...],
//!      "rows": [["alice@contoso.com", "RU", "4", ...]]}     every value a string or null
//! 404 unknown query (AnalyticsError::NotFound)
//! 400 missing, unknown or malformed parameter, named in the message (AnalyticsError::BadRequest)
//! 504 the query ran past the time limit (AnalyticsError::Timeout); 502 engine failure
//! ```
//!
//! `GET /analytics` can list [`catalog`] (name, description, parameters).

use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;

/// Every hunting query, compiled in: `(name, SQL)`. A test checks this matches the folder.
const QUERIES: &[(&str, &str)] = &[
    (
        "admin_role_assignments",
        include_str!("../../../infra/athena/queries/admin_role_assignments.sql"),
    ),
    (
        "consent_grants",
        include_str!("../../../infra/athena/queries/consent_grants.sql"),
    ),
    (
        "dlp_matches_by_policy",
        include_str!("../../../infra/athena/queries/dlp_matches_by_policy.sql"),
    ),
    (
        "failed_sign_ins_by_user_country",
        include_str!("../../../infra/athena/queries/failed_sign_ins_by_user_country.sql"),
    ),
    (
        "impossible_travel",
        include_str!("../../../infra/athena/queries/impossible_travel.sql"),
    ),
    (
        "inbox_rules_forward_delete",
        include_str!("../../../infra/athena/queries/inbox_rules_forward_delete.sql"),
    ),
    (
        "mass_downloads_or_external_sharing",
        include_str!("../../../infra/athena/queries/mass_downloads_or_external_sharing.sql"),
    ),
    (
        "mfa_method_changes",
        include_str!("../../../infra/athena/queries/mfa_method_changes.sql"),
    ),
    (
        "new_country_sign_ins",
        include_str!("../../../infra/athena/queries/new_country_sign_ins.sql"),
    ),
];

/// The type of one query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// `YYYY-MM-DD`, compared with the `dt` partition (a string), so it prunes partitions.
    Date,
    Integer,
    Varchar,
}

impl ParamType {
    /// The name the catalog and the `-- @param` lines use.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::Date => "date",
            ParamType::Integer => "integer",
            ParamType::Varchar => "varchar",
        }
    }
}

/// A validated parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Date(NaiveDate),
    Integer(i64),
    Varchar(String),
}

impl ParamValue {
    /// The value as an Athena execution parameter: a SQL literal (strings quoted, quotes doubled).
    pub fn athena_literal(&self) -> String {
        match self {
            ParamValue::Date(d) => format!("'{}'", d.format("%Y-%m-%d")),
            ParamValue::Integer(n) => n.to_string(),
            ParamValue::Varchar(s) => format!("'{}'", s.replace('\'', "''")),
        }
    }

    /// The value as a JSON positional parameter for the local runner.
    pub fn json(&self) -> Value {
        match self {
            ParamValue::Date(d) => Value::String(d.format("%Y-%m-%d").to_string()),
            ParamValue::Integer(n) => Value::from(*n),
            ParamValue::Varchar(s) => Value::String(s.clone()),
        }
    }
}

/// One hunting query of the catalog.
#[derive(Debug, Clone, Serialize)]
pub struct QueryDef {
    pub name: &'static str,
    /// The opening comment paragraph.
    pub description: String,
    /// Distinct parameters, in first-use order.
    pub params: Vec<(String, ParamType)>,
    /// One entry per `?`, in order.
    #[serde(skip)]
    pub placeholders: Vec<(String, ParamType)>,
    #[serde(skip)]
    pub sql: &'static str,
}

fn parse_def(name: &'static str, sql: &'static str) -> QueryDef {
    let mut description = Vec::new();
    let mut placeholders = Vec::new();
    for line in sql.lines() {
        let Some(comment) = line.strip_prefix("--") else {
            break;
        };
        let comment = comment.trim();
        if let Some(p) = comment.strip_prefix("@param") {
            let mut parts = p.split_whitespace();
            let pname = parts.next().unwrap_or_default().to_string();
            let ty = match parts.next() {
                Some("date") => ParamType::Date,
                Some("integer") => ParamType::Integer,
                _ => ParamType::Varchar,
            };
            placeholders.push((pname, ty));
        } else {
            description.push(comment);
        }
    }
    let mut params: Vec<(String, ParamType)> = Vec::new();
    for p in &placeholders {
        if !params.iter().any(|(n, _)| n == &p.0) {
            params.push(p.clone());
        }
    }
    QueryDef {
        name,
        description: description.join(" "),
        params,
        placeholders,
        sql,
    }
}

/// The hunting queries, sorted by name.
pub fn catalog() -> Vec<QueryDef> {
    QUERIES.iter().map(|(n, s)| parse_def(n, s)).collect()
}

/// One hunting query by name.
pub fn query(name: &str) -> Option<QueryDef> {
    QUERIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, s)| parse_def(n, s))
}

/// A query bound to its positional parameters, ready for an engine.
#[derive(Debug, Clone)]
pub struct BoundQuery {
    pub name: &'static str,
    pub sql: &'static str,
    pub params: Vec<ParamValue>,
}

/// A column of a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
}

/// A query result: every value as text or null (how Athena returns them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Table {
    /// The index of a column by name.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// One column's values.
    pub fn values(&self, name: &str) -> Vec<Option<String>> {
        match self.col(name) {
            Some(i) => self.rows.iter().map(|r| r[i].clone()).collect(),
            None => Vec::new(),
        }
    }

    /// A plain-text rendering (for the demo and the CLI).
    pub fn render(&self) -> String {
        let cells: Vec<Vec<String>> = std::iter::once(
            self.columns
                .iter()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>(),
        )
        .chain(self.rows.iter().map(|r| {
            r.iter()
                .map(|v| v.clone().unwrap_or_else(|| "NULL".into()))
                .collect()
        }))
        .collect();
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|i| {
                cells
                    .iter()
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for (n, row) in cells.iter().enumerate() {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            out.push_str(line.join(" | ").trim_end());
            out.push('\n');
            if n == 0 {
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                out.push_str(&rule.join("-+-"));
                out.push('\n');
            }
        }
        out
    }
}

/// What an engine can fail with.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the query ran longer than {0:?}")]
    Timeout(Duration),
    #[error("query {query} failed: {message}")]
    Failed { query: String, message: String },
}

/// The query-engine port: runs a bound query, returns columns and rows.
#[async_trait]
pub trait QueryEngine: Send + Sync {
    async fn run(&self, query: &BoundQuery, limit: Duration) -> Result<Table, EngineError>;
}

/// Why a hunting query was not answered (the HTTP status each maps to is [`Self::status`]).
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error("no hunting query named `{0}`")]
    NotFound(String),
    #[error("parameter `{param}`: {reason}")]
    BadRequest { param: String, reason: String },
    #[error("the query ran longer than the {0:?} limit")]
    Timeout(Duration),
    #[error("{0}")]
    Engine(String),
}

impl AnalyticsError {
    /// The HTTP status the query API answers with.
    pub fn status(&self) -> u16 {
        match self {
            AnalyticsError::NotFound(_) => 404,
            AnalyticsError::BadRequest { .. } => 400,
            AnalyticsError::Timeout(_) => 504,
            AnalyticsError::Engine(_) => 502,
        }
    }
}

fn bad(param: &str, reason: impl Into<String>) -> AnalyticsError {
    AnalyticsError::BadRequest {
        param: param.to_string(),
        reason: reason.into(),
    }
}

/// Longest accepted string parameter.
const MAX_VARCHAR: usize = 256;

fn convert(name: &str, ty: ParamType, v: &Value) -> Result<ParamValue, AnalyticsError> {
    match ty {
        ParamType::Date => {
            let s = v
                .as_str()
                .ok_or_else(|| bad(name, "expected a date YYYY-MM-DD"))?;
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .filter(|_| s.len() == 10)
                .map(ParamValue::Date)
                .ok_or_else(|| bad(name, format!("`{s}` is not a date YYYY-MM-DD")))
        }
        ParamType::Integer => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .map(ParamValue::Integer)
            .ok_or_else(|| bad(name, "expected an integer")),
        ParamType::Varchar => {
            let s = v.as_str().ok_or_else(|| bad(name, "expected a string"))?;
            if s.len() > MAX_VARCHAR {
                return Err(bad(name, format!("longer than {MAX_VARCHAR} bytes")));
            }
            Ok(ParamValue::Varchar(s.to_string()))
        }
    }
}

/// Validates `params` (a JSON object) against the query's declared parameters and binds them.
pub fn bind(
    name: &str,
    params: &serde_json::Map<String, Value>,
) -> Result<BoundQuery, AnalyticsError> {
    let def = query(name).ok_or_else(|| AnalyticsError::NotFound(name.to_string()))?;
    if let Some(unknown) = params
        .keys()
        .find(|k| !def.params.iter().any(|(n, _)| n == *k))
    {
        let known: Vec<&str> = def.params.iter().map(|(n, _)| n.as_str()).collect();
        return Err(bad(
            unknown,
            format!("unknown parameter (expected: {})", known.join(", ")),
        ));
    }
    let mut values = Vec::with_capacity(def.params.len());
    for (pname, ty) in &def.params {
        let v = params.get(pname).ok_or_else(|| bad(pname, "missing"))?;
        values.push((pname.clone(), convert(pname, *ty, v)?));
    }
    if let (Some((_, ParamValue::Date(s))), Some((_, ParamValue::Date(e)))) = (
        values.iter().find(|(n, _)| n == "start_date"),
        values.iter().find(|(n, _)| n == "end_date"),
    ) && e < s
    {
        return Err(bad("end_date", "is before start_date"));
    }
    let positional = def
        .placeholders
        .iter()
        .map(|(n, _)| {
            values
                .iter()
                .find(|(v, _)| v == n)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| bad(n, "missing"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(BoundQuery {
        name: def.name,
        sql: def.sql,
        params: positional,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;

    fn obj(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn the_catalog_is_every_file_in_the_queries_folder() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra/athena/queries");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.strip_suffix(".sql").map(str::to_string)
            })
            .collect();
        files.sort();
        let names: Vec<&str> = catalog().iter().map(|d| d.name).collect();
        assert_eq!(names, files);
        for def in catalog() {
            let marks = def.sql.matches('?').count();
            assert_eq!(marks, def.placeholders.len(), "{}: `?` vs @param", def.name);
            assert!(!def.description.is_empty(), "{}", def.name);
            assert_eq!(def.params[0].0, "start_date", "{}", def.name);
        }
    }

    #[test]
    fn parameters_are_validated_and_named() {
        let err = bind("nope", &obj(json!({}))).unwrap_err();
        assert_eq!(err.status(), 404);
        let err = bind("consent_grants", &obj(json!({"start_date": "2024-01-01"}))).unwrap_err();
        assert!(matches!(&err, AnalyticsError::BadRequest { param, .. } if param == "end_date"));
        let err = bind(
            "consent_grants",
            &obj(json!({"start_date": "2024-01-01", "end_date": "2024-1-2"})),
        )
        .unwrap_err();
        assert!(err.to_string().contains("end_date"), "{err}");
        let err = bind(
            "consent_grants",
            &obj(json!({"start_date": "2024-01-01", "end_date": "2024-01-02", "x": 1})),
        )
        .unwrap_err();
        assert!(matches!(&err, AnalyticsError::BadRequest { param, .. } if param == "x"));
        let err = bind(
            "failed_sign_ins_by_user_country",
            &obj(json!({"start_date": "2024-01-01", "end_date": "2024-01-02", "min_failures": "many"})),
        )
        .unwrap_err();
        assert!(
            matches!(&err, AnalyticsError::BadRequest { param, .. } if param == "min_failures")
        );
        let ok = bind(
            "new_country_sign_ins",
            &obj(json!({"start_date": "2024-01-05", "end_date": "2024-01-06", "baseline_start": "2024-01-01"})),
        )
        .unwrap();
        let lits: Vec<String> = ok.params.iter().map(ParamValue::athena_literal).collect();
        assert_eq!(
            lits,
            [
                "'2024-01-05'",
                "'2024-01-06'",
                "'2024-01-01'",
                "'2024-01-01'",
                "'2024-01-05'"
            ]
        );
        assert_eq!(
            ParamValue::Varchar("o'brien".into()).athena_literal(),
            "'o''brien'"
        );
    }
}
