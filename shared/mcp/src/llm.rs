//! The chat-completions client: OpenAI's wire format (`POST <base>/chat/completions`, or Azure
//! OpenAI's `<base>/openai/deployments/<d>/chat/completions?api-version=<v>`), with `tools`,
//! the assistant's `tool_calls`, `tool` messages answering them by `tool_call_id`,
//! `finish_reason` and `usage`. Every request goes through `delivery::webhook::Sender`: the
//! base URL's host must be on the allow-list and every address it resolves to public (loopback
//! only on a local stack), the connection is pinned to those addresses, redirects are not
//! followed. The key (from SSM) goes in a header and nowhere else; errors name the host and the
//! status, never the key or the body.

use delivery::webhook::{Retry, SendError, Sender};
use domain::config::AskConfig;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// A chat answer larger than this is refused (an answer to one step is a few KB).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Who speaks a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    System,
    User,
    Assistant,
    Tool,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: ChatRole,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    pub fn system(text: impl Into<String>) -> Self {
        Message {
            role: ChatRole::System,
            content: Some(text.into()),
            tool_calls: None,
            tool_call_id: None,
        }
    }

    pub fn user(text: impl Into<String>) -> Self {
        Message {
            role: ChatRole::User,
            ..Message::system(text)
        }
    }

    /// A tool's answer: the only way record content reaches the model.
    pub fn tool(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Message {
            role: ChatRole::Tool,
            content: Some(content.into()),
            tool_calls: None,
            tool_call_id: Some(call_id.into()),
        }
    }
}

/// A function call the assistant asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_kind() -> String {
    "function".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    /// The arguments as a JSON text (the wire format's choice).
    #[serde(default)]
    pub arguments: String,
}

/// A tool offered to the model.
#[derive(Debug, Clone, Serialize)]
pub struct ToolSpec {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionSpec,
}

#[derive(Debug, Clone, Serialize)]
pub struct FunctionSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub parameters: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub tool_choice: &'static str,
    pub max_tokens: u64,
    pub temperature: f32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other
            .total_tokens
            .max(other.prompt_tokens + other.completion_tokens);
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Choice {
    pub message: Message,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChatResponse {
    #[serde(default)]
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// Why a model request failed.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// Refused before any request: the URL is off the allow-list or resolves to a private
    /// address.
    #[error("the model endpoint is refused: {0}")]
    Refused(domain::destination::Refused),
    #[error("the model endpoint failed: {0}")]
    Failed(String),
    #[error("the model endpoint answered status {0}")]
    Status(u16),
    #[error("the model endpoint's answer is not a chat completion: {0}")]
    Malformed(String),
}

/// Sends chat-completion requests to the configured endpoint.
pub struct ChatClient {
    url: String,
    azure: bool,
    key: Option<SecretString>,
    sender: Sender,
}

impl ChatClient {
    /// `key`: the API key read from SSM (`None` when the endpoint needs none).
    pub fn new(config: &AskConfig, key: Option<SecretString>) -> Result<Self, LlmError> {
        let sender = Sender::new(
            config.outbound.clone(),
            Retry {
                tries: 1,
                first_delay: std::time::Duration::ZERO,
                timeout: config.time_budget,
            },
        )
        .map_err(|e| LlmError::Failed(e.to_string()))?;
        Ok(ChatClient {
            url: config.completions_url(),
            azure: config.azure.is_some(),
            key,
            sender,
        })
    }

    /// One chat completion.
    pub async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let body = serde_json::to_vec(request).map_err(|e| LlmError::Malformed(e.to_string()))?;
        let mut headers = Vec::new();
        if let Some(key) = &self.key {
            if self.azure {
                headers.push(("api-key", key.expose_secret().to_string()));
            } else {
                headers.push(("authorization", format!("Bearer {}", key.expose_secret())));
            }
        }
        let (status, answer) = self
            .sender
            .exchange(&self.url, &headers, body, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| match e {
                SendError::Refused(r) => LlmError::Refused(r),
                other => LlmError::Failed(other.to_string()),
            })?;
        if !(200..300).contains(&status) {
            return Err(LlmError::Status(status));
        }
        serde_json::from_slice(&answer).map_err(|e| LlmError::Malformed(e.to_string()))
    }
}
