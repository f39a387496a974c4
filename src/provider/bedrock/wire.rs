//! Bedrock Runtime Converse wire types (private to the provider): the
//! `converse` request and response, and the `converse-stream` events (each
//! an event-stream message whose `:event-type` names it). Unknown content
//! blocks deserialize with every field empty.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ConverseRequest<'a> {
    pub messages: Vec<ReqMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<ReqBlock<'a>>,
    #[serde(skip_serializing_if = "InferenceConfig::is_empty")]
    pub inference_config: InferenceConfig<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig<'a>>,
    /// Model-specific fields (Claude's `thinking`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_model_request_fields: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<ServiceTier<'a>>,
}

#[derive(Debug, Serialize)]
pub(super) struct ServiceTier<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
}

#[derive(Debug, Serialize)]
pub(super) struct ReqMessage<'a> {
    pub role: &'static str,
    pub content: Vec<ReqBlock<'a>>,
}

/// A content block: one key naming its kind.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) enum ReqBlock<'a> {
    Text(&'a str),
    Image(ReqImage<'a>),
    Document(ReqDocument<'a>),
    ToolUse(ReqToolUse<'a>),
    ToolResult(ReqToolResult<'a>),
    ReasoningContent(ReqReasoning<'a>),
    CachePoint(CachePoint),
}

#[derive(Debug, Serialize)]
pub(super) struct CachePoint {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Serialize)]
pub(super) struct ReqImage<'a> {
    /// `png`, `jpeg`, `gif` or `webp`.
    pub format: &'static str,
    pub source: BytesSource<'a>,
}

#[derive(Debug, Serialize)]
pub(super) struct ReqDocument<'a> {
    pub format: &'static str,
    pub name: Cow<'a, str>,
    pub source: BytesSource<'a>,
}

/// Bytes, base64 in the JSON protocol.
#[derive(Debug, Serialize)]
pub(super) struct BytesSource<'a> {
    pub bytes: Cow<'a, str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReqToolUse<'a> {
    pub tool_use_id: &'a str,
    pub name: &'a str,
    pub input: Value,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReqToolResult<'a> {
    pub tool_use_id: &'a str,
    pub content: Vec<ToolResultContent<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) enum ToolResultContent<'a> {
    Text(Cow<'a, str>),
    Json(Value),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) enum ReqReasoning<'a> {
    ReasoningText {
        text: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        signature: Option<&'a str>,
    },
    RedactedContent(&'a str),
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InferenceConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop_sequences: &'a [String],
}

impl InferenceConfig<'_> {
    fn is_empty(&self) -> bool {
        self.max_tokens.is_none()
            && self.temperature.is_none()
            && self.top_p.is_none()
            && self.stop_sequences.is_empty()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ToolConfig<'a> {
    pub tools: Vec<ReqTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ReqToolChoice<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReqTool<'a> {
    pub tool_spec: ToolSpec<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ToolSpec<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub input_schema: InputSchema,
}

#[derive(Debug, Serialize)]
pub(super) struct InputSchema {
    pub json: Value,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) enum ReqToolChoice<'a> {
    Auto(Empty),
    Any(Empty),
    Tool(ToolName<'a>),
}

#[derive(Debug, Serialize)]
pub(super) struct Empty {}

#[derive(Debug, Serialize)]
pub(super) struct ToolName<'a> {
    pub name: &'a str,
}

// ---------------------------------------------------------------- responses

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct ConverseResponse {
    pub output: Option<Output>,
    pub stop_reason: Option<String>,
    pub usage: Option<WireUsage>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Output {
    pub message: Option<RespMessage>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RespMessage {
    pub content: Vec<RespBlock>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct RespBlock {
    pub text: Option<String>,
    pub tool_use: Option<RespToolUse>,
    pub reasoning_content: Option<RespReasoning>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct RespToolUse {
    pub tool_use_id: String,
    pub name: String,
    pub input: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct RespReasoning {
    pub reasoning_text: Option<ReasoningText>,
    pub redacted_content: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ReasoningText {
    pub text: String,
    pub signature: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct WireUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_write_input_tokens: u64,
}

// ------------------------------------------------------------------ stream

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct BlockStart {
    pub content_block_index: u32,
    pub start: Option<StartKind>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct StartKind {
    pub tool_use: Option<RespToolUse>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct BlockDelta {
    pub content_block_index: u32,
    pub delta: Option<Delta>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct Delta {
    pub text: Option<String>,
    pub tool_use: Option<ToolUseDelta>,
    pub reasoning_content: Option<ReasoningDelta>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ToolUseDelta {
    pub input: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct ReasoningDelta {
    pub text: Option<String>,
    pub signature: Option<String>,
    pub redacted_content: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct BlockStop {
    pub content_block_index: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct MessageStop {
    pub stop_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Metadata {
    pub usage: Option<WireUsage>,
}
