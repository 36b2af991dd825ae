//! The Athena adapter of [`domain::analytics::QueryEngine`]: StartQueryExecution with the query's
//! own text and its parameters as ExecutionParameters (never SQL built from parameter values), in
//! the stack's workgroup and database; poll GetQueryExecution until it finishes or the time limit
//! passes (then StopQueryExecution); page GetQueryResults.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState};

use super::describe;
use domain::analytics::{BoundQuery, Column, EngineError, ParamValue, QueryEngine, Table};

pub struct AthenaEngine {
    client: aws_sdk_athena::Client,
    workgroup: String,
    database: String,
    poll: Duration,
}

impl AthenaEngine {
    pub fn new(sdk: &aws_config::SdkConfig, workgroup: &str, database: &str) -> Self {
        AthenaEngine {
            client: aws_sdk_athena::Client::new(sdk),
            workgroup: workgroup.to_string(),
            database: database.to_string(),
            poll: Duration::from_millis(500),
        }
    }

    /// Sets how often GetQueryExecution is called.
    pub fn with_poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }
}

#[async_trait]
impl QueryEngine for AthenaEngine {
    async fn run(&self, query: &BoundQuery, limit: Duration) -> Result<Table, EngineError> {
        let failed = |message: String| EngineError::Failed {
            query: query.name.to_string(),
            message,
        };
        let started = Instant::now();
        let params: Vec<String> = query
            .params
            .iter()
            .map(ParamValue::athena_literal)
            .collect();
        let start = self
            .client
            .start_query_execution()
            .query_string(query.sql)
            .work_group(&self.workgroup)
            .query_execution_context(
                QueryExecutionContext::builder()
                    .database(&self.database)
                    .build(),
            )
            .set_execution_parameters((!params.is_empty()).then_some(params))
            .send()
            .await
            .map_err(|e| failed(format!("StartQueryExecution: {}", describe(&e))))?;
        let id = start
            .query_execution_id()
            .ok_or_else(|| failed("StartQueryExecution returned no id".into()))?
            .to_string();
        loop {
            let exec = self
                .client
                .get_query_execution()
                .query_execution_id(&id)
                .send()
                .await
                .map_err(|e| failed(format!("GetQueryExecution: {}", describe(&e))))?;
            let status = exec.query_execution().and_then(|q| q.status());
            match status.and_then(|s| s.state()) {
                Some(QueryExecutionState::Succeeded) => break,
                Some(QueryExecutionState::Failed) | Some(QueryExecutionState::Cancelled) => {
                    let reason = status
                        .and_then(|s| s.state_change_reason())
                        .unwrap_or("no reason given");
                    return Err(failed(format!("execution {id}: {reason}")));
                }
                _ => {}
            }
            if started.elapsed() + self.poll > limit {
                let _ = self
                    .client
                    .stop_query_execution()
                    .query_execution_id(&id)
                    .send()
                    .await;
                return Err(EngineError::Timeout(limit));
            }
            tokio::time::sleep(self.poll).await;
        }
        let mut columns: Vec<Column> = Vec::new();
        let mut rows = Vec::new();
        let mut token: Option<String> = None;
        let mut first_page = true;
        loop {
            let page = self
                .client
                .get_query_results()
                .query_execution_id(&id)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| failed(format!("GetQueryResults: {}", describe(&e))))?;
            let Some(set) = page.result_set() else { break };
            if columns.is_empty()
                && let Some(meta) = set.result_set_metadata()
            {
                columns = meta
                    .column_info()
                    .iter()
                    .map(|c| Column {
                        name: c.name().to_string(),
                        ty: c.r#type().to_string(),
                    })
                    .collect();
            }
            for (n, row) in set.rows().iter().enumerate() {
                let values: Vec<Option<String>> = row
                    .data()
                    .iter()
                    .map(|d| d.var_char_value().map(str::to_string))
                    .collect();
                // A SELECT's first row is its header.
                let header = first_page
                    && n == 0
                    && values.len() == columns.len()
                    && values
                        .iter()
                        .zip(&columns)
                        .all(|(v, c)| v.as_deref() == Some(c.name.as_str()));
                if !header {
                    rows.push(values);
                }
            }
            first_page = false;
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(Table { columns, rows })
    }
}
