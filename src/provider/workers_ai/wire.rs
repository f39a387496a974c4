//! Workers AI REST wire types (private to the provider).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The body of `POST .../ai/run/{model}` for a chat: a `prompt`, or
/// `messages`.
#[derive(Debug, Serialize)]
pub(super) struct RunRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<ReqMessage<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ReqTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ReqResponseFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
}

#[derive(Debug, Serialize)]
pub(super) struct ReqMessage<'a> {
    pub role: &'static str,
    /// Always a string, also for an assistant turn with only tool calls.
    pub content: std::borrow::Cow<'a, str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ReqToolCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub(super) struct ReqToolCall<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: ReqFunctionCall<'a>,
}

#[derive(Debug, Serialize)]
pub(super) struct ReqFunctionCall<'a> {
    pub name: &'a str,
    /// The arguments as a JSON string.
    pub arguments: &'a str,
}

/// A tool in traditional function calling: `{name, description, parameters}`
/// (no `{type: function, function: ...}` wrapper).
#[derive(Debug, Serialize)]
pub(super) struct ReqTool<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    /// The caller's JSON Schema, parsed (key order kept).
    pub parameters: Value,
}

/// `{"type": "json_object"}`, or `{"type": "json_schema", "json_schema":
/// schema}` (the schema itself, unlike OpenAI's named wrapper).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ReqResponseFormat {
    JsonObject,
    JsonSchema { json_schema: Value },
}

/// The body of an embeddings run.
#[derive(Debug, Serialize)]
pub(super) struct EmbedRequest<'a> {
    pub text: &'a [String],
}

// ---------------------------------------------------------------- responses

#[derive(Debug, Deserialize)]
pub(super) struct Envelope {
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(default)]
    pub errors: Vec<Value>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RunResult {
    /// Text, or an object in JSON mode.
    #[serde(default)]
    pub response: Option<Value>,
    /// Where some models put their text instead of `response`.
    #[serde(default)]
    pub text: Option<Value>,
    #[serde(default)]
    pub tool_calls: Option<Vec<Value>>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct WireUsage {
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    /// OpenAI's shape, which some Workers AI models report.
    #[serde(default)]
    pub completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct CompletionDetails {
    #[serde(default)]
    pub reasoning_tokens: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(super) struct EmbedResult {
    #[serde(default)]
    pub data: Vec<Vec<f32>>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
pub(super) struct StreamChunk {
    #[serde(default)]
    pub response: Option<Value>,
    #[serde(default)]
    pub tool_calls: Option<Vec<Value>>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default)]
    pub errors: Option<Vec<Value>>,
}
