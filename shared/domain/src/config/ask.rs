//! The configuration of questions (`POST /ask`, `POST /events/{id}/explain`, the MCP `ask`
//! tool): an OpenAI-compatible chat-completions endpoint, its key's SSM parameter, the hosts the
//! client may reach and each question's budgets. Off unless `AUDITLAKE_LLM_BASE_URL` is set. The
//! base URL is checked against its allow-list here, so a URL off the list is a configuration
//! error naming the variable, not a request that leaves the account.

use std::time::Duration;

use super::{ConfigError, Reader, Var, deliver, vars};

/// Every variable questions read (the query API's function, `auditlake serve` and `auditlake
/// mcp`).
pub const ASK_VARS: &[Var] = &[
    vars::LLM_BASE_URL,
    vars::LLM_MODEL,
    vars::LLM_AZURE_DEPLOYMENT,
    vars::LLM_AZURE_API_VERSION,
    vars::LLM_KEY_PARAM,
    vars::LLM_ALLOWLIST,
    vars::LLM_MAX_STEPS,
    vars::LLM_TIME_BUDGET_SECS,
    vars::LLM_TOKEN_BUDGET,
    vars::DESTINATIONS_ALLOW_LOOPBACK,
    vars::DESTINATIONS_CA_FILE,
];

/// Azure OpenAI's addressing: the deployment in the path, the version as a query parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureDeployment {
    pub deployment: String,
    pub api_version: String,
}

/// How questions reach the model, and what one question may spend.
#[derive(Debug, Clone, PartialEq)]
pub struct AskConfig {
    /// Without a trailing `/`.
    pub base_url: String,
    pub model: String,
    pub azure: Option<AzureDeployment>,
    pub key_param: Option<String>,
    pub max_steps: u32,
    pub time_budget: Duration,
    pub token_budget: u64,
    /// The allow-list and the local-only switches (loopback, an extra CA).
    pub outbound: super::Outbound,
}

impl AskConfig {
    /// The chat-completions URL requests go to.
    pub fn completions_url(&self) -> String {
        match &self.azure {
            Some(a) => format!(
                "{}/openai/deployments/{}/chat/completions?api-version={}",
                self.base_url, a.deployment, a.api_version
            ),
            None => format!("{}/chat/completions", self.base_url),
        }
    }

    /// Parses the configuration of questions: `Ok(None)` when they are off (no base URL),
    /// every problem reported together.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Option<Self>, ConfigError> {
        let all: Vec<(String, String)> = vars.into_iter().collect();
        let lambda = deliver::in_lambda(&all);
        let mut r = Reader::new(all);
        let Some(base_url) = r.optional(&vars::LLM_BASE_URL) else {
            return r.finish(None);
        };
        let base_url = base_url.trim_end_matches('/').to_string();
        let model = r.required(&vars::LLM_MODEL);
        let outbound = deliver::outbound_from(&mut r, lambda, &vars::LLM_ALLOWLIST);
        if let Err(e) = outbound.allowlist.check(&base_url) {
            r.problem(&vars::LLM_BASE_URL, e.to_string());
        }
        if base_url.contains('?') || base_url.contains('#') {
            r.problem(
                &vars::LLM_BASE_URL,
                "is a root URL: no query string or fragment",
            );
        }
        let azure = r
            .optional(&vars::LLM_AZURE_DEPLOYMENT)
            .map(|deployment| AzureDeployment {
                deployment,
                api_version: r
                    .optional(&vars::LLM_AZURE_API_VERSION)
                    .or(vars::LLM_AZURE_API_VERSION.default.map(str::to_string))
                    .unwrap_or_default(),
            });
        if let Some(a) = &azure {
            let plain = |s: &str| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            };
            if !plain(&a.deployment) {
                r.problem(
                    &vars::LLM_AZURE_DEPLOYMENT,
                    "is a deployment name: letters, digits, `-`, `_` and `.`",
                );
            }
            if !plain(&a.api_version) {
                r.problem(
                    &vars::LLM_AZURE_API_VERSION,
                    "is a version such as 2024-10-21",
                );
            }
        }
        let key_param = r.optional(&vars::LLM_KEY_PARAM);
        let max_steps = r.number(&vars::LLM_MAX_STEPS) as u32;
        let time_budget = Duration::from_secs(r.number(&vars::LLM_TIME_BUDGET_SECS));
        let token_budget = r.number(&vars::LLM_TOKEN_BUDGET);
        r.finish(Some(AskConfig {
            base_url,
            model,
            azure,
            key_param,
            max_steps,
            time_budget,
            token_budget,
            outbound,
        }))
    }
}
