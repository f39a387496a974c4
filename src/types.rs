//! Domain types of the gateway. They mirror the WIT records one to one so
//! that `src/component/` converts them mechanically, and they derive serde so
//! the cache can hash a request canonically and store a result.

use serde::{Deserialize, Serialize};

pub use crate::content::{
    Content, ImageDetail, ImageSource, Media, Part, ReasoningBlock, TokenLogprob, TopLogprob,
};
pub use crate::error::Attempt;
use crate::error::{ErrorKind, GatewayError};
use crate::http::Headers;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

impl Role {
    /// The WIT name: `system`, `user`, `assistant`, `tool`.
    pub fn name(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Tool => "tool",
        }
    }
}

/// A normalized tool call (WIT `tool-call`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// JSON object text; `{}` when the model sent malformed JSON.
    pub arguments: String,
    /// The model's text when it was not valid JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_arguments: Option<String>,
}

impl ToolCall {
    /// Build a call from argument text as the model produced it: valid JSON
    /// object text is kept (compacted); empty text is `{}`; anything else
    /// becomes `{}` with the raw text kept.
    pub fn from_raw_arguments(id: String, name: String, raw: &str) -> Self {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Self {
                id,
                name,
                arguments: "{}".into(),
                raw_arguments: None,
            };
        }
        match serde_json::from_str::<serde_json::Value>(trimmed) {
            Ok(v @ serde_json::Value::Object(_)) => Self {
                id,
                name,
                arguments: v.to_string(),
                raw_arguments: None,
            },
            _ => Self {
                id,
                name,
                arguments: "{}".into(),
                raw_arguments: Some(raw.to_owned()),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Content,
    #[serde(default)]
    pub cache_control: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    pub fn new(role: Role, content: impl Into<Content>) -> Self {
        Self {
            role,
            content: content.into(),
            cache_control: false,
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

/// WIT `ai-input`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Input {
    Prompt(String),
    Messages(Vec<Message>),
}

impl Input {
    /// The input as a list of messages (a prompt is one user message).
    pub fn to_messages(&self) -> Vec<Message> {
        match self {
            Self::Prompt(p) => vec![Message::new(Role::User, p.clone())],
            Self::Messages(m) => m.clone(),
        }
    }

    /// Reject inputs no provider can serve. Called once per call, before any
    /// provider sees the input.
    pub fn validate(&self) -> Result<(), GatewayError> {
        let msgs = match self {
            Self::Prompt(p) if p.is_empty() => {
                return Err(GatewayError::validation("prompt is empty"));
            }
            Self::Prompt(_) => return Ok(()),
            Self::Messages(m) => m,
        };
        if msgs.is_empty() {
            return Err(GatewayError::validation("messages is empty"));
        }
        if msgs.iter().all(|m| m.role == Role::System) {
            return Err(GatewayError::validation(
                "messages has only system messages; add a user message",
            ));
        }
        for (i, m) in msgs.iter().enumerate() {
            let at = format!("messages[{i}]");
            m.content.validate(&at)?;
            check_part_roles(m, &at)?;
            if m.role == Role::Tool
                && let Content::Parts(parts) = &m.content
                && let Some(p) = parts.iter().find(|p| !matches!(p, Part::Text { .. }))
            {
                return Err(GatewayError::validation(format!(
                    "messages[{i}]: a tool result takes text parts only, not {}",
                    p.name()
                )));
            }
            if m.role == Role::Tool && m.tool_call_id.as_deref().is_none_or(str::is_empty) {
                return Err(GatewayError::validation(format!(
                    "messages[{i}] has role tool but no tool-call-id"
                )));
            }
            if m.role != Role::Assistant && !m.tool_calls.is_empty() {
                return Err(GatewayError::validation(format!(
                    "messages[{i}] carries tool calls but is not an assistant message"
                )));
            }
            for (j, c) in m.tool_calls.iter().enumerate() {
                parse_json_object(
                    &c.arguments,
                    &format!("messages[{i}].tool-calls[{j}].arguments"),
                )?;
            }
        }
        Ok(())
    }
}

/// Images and documents only in user messages, reasoning only in
/// assistant messages (text anywhere).
fn check_part_roles(m: &Message, at: &str) -> Result<(), GatewayError> {
    let Content::Parts(parts) = &m.content else {
        return Ok(());
    };
    for (j, p) in parts.iter().enumerate() {
        let only = match p {
            Part::Text { .. } => continue,
            Part::Image { .. } | Part::Document { .. } => Role::User,
            Part::Reasoning(_) => Role::Assistant,
        };
        if m.role != only {
            return Err(GatewayError::validation(format!(
                "{at}.content[{j}]: a {} part is allowed only in {} messages, not {}",
                p.name(),
                only.name(),
                m.role.name()
            )));
        }
    }
    Ok(())
}

/// Parse `text` as a JSON object, or fail with a validation error naming
/// `what`.
pub fn parse_json_object(text: &str, what: &str) -> Result<serde_json::Value, GatewayError> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v),
        Ok(_) => Err(GatewayError::validation(format!(
            "{what} must be a JSON object"
        ))),
        Err(e) => Err(GatewayError::validation(format!(
            "{what} is not valid JSON: {e}"
        ))),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    pub name: String,
    pub schema: String,
    pub strict: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResponseFormat {
    Text,
    Json,
    JsonSchema(JsonSchemaFormat),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolDefinition {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToolChoice {
    Auto,
    None,
    Required,
    Named(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasoningEffort {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheMode {
    #[default]
    ReadWrite,
    Bypass,
    Refresh,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub retry_on: Vec<ErrorKind>,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    pub max_retry_after_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 1,
            retry_on: Vec::new(),
            initial_backoff_ms: 250,
            max_backoff_ms: 8_000,
            max_retry_after_ms: 60_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FallbackEntry {
    pub provider: String,
    pub model: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FallbackChain {
    pub entries: Vec<FallbackEntry>,
    pub on: Vec<ErrorKind>,
}

/// WIT `run-options`. `temperature`/`top_p` are f64 so they serialize to the
/// exact decimal the caller wrote (an f32 0.7 would go out as 0.699999988).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunOptions {
    pub provider: Option<String>,
    pub timeout_ms: Option<u64>,
    pub response_format: Option<ResponseFormat>,
    pub tools: Vec<ToolDefinition>,
    pub tool_choice: Option<ToolChoice>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub stop: Vec<String>,
    pub reasoning_effort: Option<ReasoningEffort>,
    /// JSON object text merged into the provider request body.
    pub extra_body: Option<String>,
    pub headers: Headers,
    pub retry: Option<RetryPolicy>,
    pub fallback: Option<FallbackChain>,
    pub cache: Option<CacheMode>,
    pub cache_key: Option<String>,
    pub caller: Option<String>,
    pub parallel_tool_calls: Option<bool>,
    pub presence_penalty: Option<f64>,
    pub frequency_penalty: Option<f64>,
    pub logit_bias: Vec<(u32, i32)>,
    pub seed: Option<i64>,
    pub logprobs: bool,
    pub top_logprobs: Option<u8>,
    pub end_user: Option<String>,
    pub metadata: Vec<(String, String)>,
    pub service_tier: Option<String>,
    /// Written in log records only: never part of a cache key.
    #[serde(skip)]
    pub request_id: Option<String>,
}

/// WIT `usage`: `input_tokens` includes cache reads and writes;
/// `reasoning_tokens` is part of `output_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub reasoning_tokens: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }

    pub fn add(&mut self, o: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(o.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(o.output_tokens);
        self.cache_read_tokens = self.cache_read_tokens.saturating_add(o.cache_read_tokens);
        self.cache_write_tokens = self.cache_write_tokens.saturating_add(o.cache_write_tokens);
        self.reasoning_tokens = self.reasoning_tokens.saturating_add(o.reasoning_tokens);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    Other(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogEvent {
    Request,
    Retry,
    Response,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    pub level: LogLevel,
    pub event: LogEvent,
    pub timestamp_ms: u64,
    pub operation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub model: String,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_micro_usd: Option<u64>,
    pub attempts: u32,
    pub cached: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// What a provider's response says, before the engine adds its own fields.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Completion {
    pub text: String,
    pub reasoning: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasoning_blocks: Vec<ReasoningBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logprobs: Vec<TokenLogprob>,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Option<Usage>,
    pub model: String,
    pub finish_reason: Option<FinishReason>,
}

/// WIT `ai-output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub text: String,
    pub reasoning: Option<String>,
    #[serde(default)]
    pub reasoning_blocks: Vec<ReasoningBlock>,
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(default)]
    pub logprobs: Vec<TokenLogprob>,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Option<Usage>,
    pub provider: String,
    pub model: String,
    pub finish_reason: Option<FinishReason>,
    pub raw: Option<String>,
    pub cached: bool,
    pub cost_micro_usd: Option<u64>,
    pub attempts: Vec<Attempt>,
    pub trace: Vec<LogRecord>,
}

impl Output {
    pub fn from_completion(c: Completion, provider: String, raw: Option<String>) -> Self {
        Self {
            text: c.text,
            reasoning: c.reasoning,
            reasoning_blocks: c.reasoning_blocks,
            refusal: c.refusal,
            logprobs: c.logprobs,
            tool_calls: c.tool_calls,
            usage: c.usage,
            provider,
            model: c.model,
            finish_reason: c.finish_reason,
            raw,
            cached: false,
            cost_micro_usd: None,
            attempts: Vec::new(),
            trace: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamDone {
    pub usage: Option<Usage>,
    pub finish_reason: Option<FinishReason>,
    pub provider: String,
    pub model: String,
    pub cached: bool,
    pub cost_micro_usd: Option<u64>,
}

/// WIT `stream-event`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamEvent {
    Text(String),
    Reasoning(String),
    ToolUse(ToolCall),
    ReasoningSignature(String),
    ReasoningRedacted(String),
    Refusal(String),
    Logprobs(Vec<TokenLogprob>),
    Done(StreamDone),
    Error(GatewayError),
}

impl StreamEvent {
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Done(_) | Self::Error(_))
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct EmbedOptions {
    pub provider: Option<String>,
    pub dimensions: Option<u32>,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedOutput {
    pub embeddings: Vec<Vec<f32>>,
    pub usage: Option<Usage>,
    pub provider: String,
    pub model: String,
}

mod options;
#[cfg(test)]
mod tests;
