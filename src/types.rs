//! Domain types of the gateway. They mirror the WIT records one to one so
//! that `src/component/` converts them mechanically, and they derive serde so
//! the cache can hash a request canonically and store a result.

use serde::{Deserialize, Serialize};

pub use crate::content::{Content, ImageDetail, ImageSource, Media, Part, ReasoningBlock};
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
            m.content.validate(m.role, &format!("messages[{i}]"))?;
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

impl RunOptions {
    /// Check the option values that do not depend on the provider.
    pub fn validate(&self) -> Result<(), GatewayError> {
        if let Some(ResponseFormat::JsonSchema(s)) = &self.response_format {
            if s.name.is_empty() {
                return Err(GatewayError::validation(
                    "response-format json-schema name is empty",
                ));
            }
            parse_json_object(&s.schema, "response-format json-schema schema")?;
        }
        for (i, t) in self.tools.iter().enumerate() {
            if t.name.is_empty() {
                return Err(GatewayError::validation(format!(
                    "tools[{i}] has an empty name"
                )));
            }
            if let Some(p) = &t.parameters {
                parse_json_object(p, &format!("tools[{i}].parameters"))?;
            }
        }
        if let Some(ToolChoice::Named(n)) = &self.tool_choice
            && !self.tools.iter().any(|t| &t.name == n)
        {
            return Err(GatewayError::validation(format!(
                "tool-choice names {n:?}, which is not among the tools"
            )));
        }
        if let Some(ToolChoice::Required | ToolChoice::Named(_)) = &self.tool_choice
            && self.tools.is_empty()
        {
            return Err(GatewayError::validation(
                "tool-choice requires tools, but none were given",
            ));
        }
        if let Some(t) = self.temperature
            && !(t.is_finite() && t >= 0.0)
        {
            return Err(GatewayError::validation(
                "temperature must be a finite number >= 0",
            ));
        }
        if let Some(t) = self.top_p
            && !(t.is_finite() && (0.0..=1.0).contains(&t))
        {
            return Err(GatewayError::validation("top-p must be between 0 and 1"));
        }
        if self.max_tokens == Some(0) {
            return Err(GatewayError::validation("max-tokens must be at least 1"));
        }
        if let Some(e) = &self.extra_body {
            parse_json_object(e, "extra-body")?;
        }
        for (name, v) in [
            ("presence-penalty", self.presence_penalty),
            ("frequency-penalty", self.frequency_penalty),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && (-2.0..=2.0).contains(&v))
            {
                return Err(GatewayError::validation(format!(
                    "{name} must be between -2 and 2"
                )));
            }
        }
        if let Some((t, b)) = self
            .logit_bias
            .iter()
            .find(|(_, b)| !(-100..=100).contains(b))
        {
            return Err(GatewayError::validation(format!(
                "logit-bias for token {t} is {b}; it must be between -100 and 100"
            )));
        }
        if let Some(n) = self.top_logprobs {
            if n > 20 {
                return Err(GatewayError::validation(
                    "top-logprobs must be between 0 and 20",
                ));
            }
            if !self.logprobs {
                return Err(GatewayError::validation(
                    "top-logprobs needs logprobs = true",
                ));
            }
        }
        if self.metadata.len() > 16 {
            return Err(GatewayError::validation("metadata has more than 16 pairs"));
        }

        for (name, value) in &self.headers {
            crate::validate::check_header(name, value)?;
        }
        Ok(())
    }
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

/// WIT `top-logprob`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TopLogprob {
    pub token: String,
    pub logprob: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<Vec<u8>>,
}

/// WIT `token-logprob`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TokenLogprob {
    pub token: String,
    pub logprob: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top: Vec<TopLogprob>,
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

#[cfg(test)]
mod tests {
    #[test]
    fn run_options_debug_redacts_credential_headers() {
        let o = RunOptions {
            headers: vec![
                ("authorization".into(), "Bearer sk-MARKER-1".into()),
                ("x-title".into(), "shown".into()),
            ]
            .into(),
            ..RunOptions::default()
        };
        let shown = format!("{o:?}");
        assert!(
            !shown.contains("MARKER") && shown.contains("shown"),
            "{shown}"
        );
    }

    use super::*;

    #[test]
    fn tool_call_from_raw_arguments_malformed_keeps_raw() {
        let c = ToolCall::from_raw_arguments("a".into(), "f".into(), "{\"city\": \"Par");
        assert_eq!(c.arguments, "{}");
        assert_eq!(c.raw_arguments.as_deref(), Some("{\"city\": \"Par"));
    }

    #[test]
    fn tool_call_from_raw_arguments_empty_is_empty_object() {
        let c = ToolCall::from_raw_arguments("a".into(), "f".into(), "  ");
        assert_eq!(c.arguments, "{}");
        assert_eq!(c.raw_arguments, None);
    }

    #[test]
    fn tool_call_from_raw_arguments_non_object_keeps_raw() {
        let c = ToolCall::from_raw_arguments("a".into(), "f".into(), "[1]");
        assert_eq!(c.arguments, "{}");
        assert_eq!(c.raw_arguments.as_deref(), Some("[1]"));
    }

    #[test]
    fn input_validate_empty_messages_is_validation() {
        let e = Input::Messages(vec![]).validate().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Validation);
    }

    #[test]
    fn input_validate_tool_without_id_is_validation() {
        let e = Input::Messages(vec![Message::new(Role::Tool, "42")])
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("tool-call-id"), "{e}");
    }

    #[test]
    fn options_validate_malformed_schema_is_validation() {
        let o = RunOptions {
            response_format: Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: "x".into(),
                schema: "{not json".into(),
                strict: true,
                description: None,
            })),
            ..RunOptions::default()
        };
        let e = o.validate().unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
    }

    #[test]
    fn options_validate_named_choice_without_tool_is_validation() {
        let o = RunOptions {
            tools: vec![ToolDefinition {
                name: "a".into(),
                description: None,
                parameters: None,
            }],
            tool_choice: Some(ToolChoice::Named("b".into())),
            ..RunOptions::default()
        };
        assert!(o.validate().is_err());
    }

    #[test]
    fn options_validate_nan_temperature_is_validation() {
        let o = RunOptions {
            temperature: Some(f64::NAN),
            ..RunOptions::default()
        };
        assert!(o.validate().is_err());
    }
}
