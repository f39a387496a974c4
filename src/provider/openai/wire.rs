//! OpenAI Chat Completions wire types (private to the provider). Responses
//! tolerate unknown fields and `null` where a value is optional.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::provider::openai_compat::WireUsage;

#[derive(Debug, Serialize)]
pub(super) struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<ReqMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ReqTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ReqToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ReqResponseFormat<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Token ids as strings, as the API has them.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub logit_bias: std::collections::BTreeMap<String, i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Mistral's name for `seed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub random_seed: Option<i64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub logprobs: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metadata: std::collections::BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
}

#[derive(Debug, Serialize)]
pub(super) struct StreamOptions {
    pub include_usage: bool,
}

#[derive(Debug, Serialize)]
pub(super) struct ReqMessage<'a> {
    pub role: &'static str,
    /// `null` for an assistant message that only carries tool calls.
    pub content: Option<ReqContent<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ReqToolCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<&'a str>,
}

/// A string, or content parts (user messages with images or files).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum ReqContent<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<ReqPart<'a>>),
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ReqPart<'a> {
    Text { text: &'a str },
    ImageUrl { image_url: ReqImageUrl<'a> },
    File { file: ReqFile<'a> },
}

#[derive(Debug, Serialize)]
pub(super) struct ReqImageUrl<'a> {
    pub url: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub(super) struct ReqFile<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<&'a str>,
    /// `data:application/pdf;base64,...`
    pub file_data: String,
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
    /// OpenAI wants the arguments as a JSON string.
    pub arguments: &'a str,
}

#[derive(Debug, Serialize)]
pub(super) struct ReqTool<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: ReqFunction<'a>,
}

#[derive(Debug, Serialize)]
pub(super) struct ReqFunction<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub parameters: Value,
}

/// `"auto"`, `"none"`, `"required"`, or one function by name.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum ReqToolChoice<'a> {
    Mode(&'static str),
    Function {
        #[serde(rename = "type")]
        kind: &'static str,
        function: ReqFunctionName<'a>,
    },
}

#[derive(Debug, Serialize)]
pub(super) struct ReqFunctionName<'a> {
    pub name: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ReqResponseFormat<'a> {
    JsonObject,
    JsonSchema { json_schema: ReqJsonSchema<'a> },
}

#[derive(Debug, Serialize)]
pub(super) struct ReqJsonSchema<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    /// The caller's JSON Schema, parsed (key order kept).
    pub schema: Value,
    pub strict: bool,
}

#[derive(Debug, Serialize)]
pub(super) struct EmbedRequest<'a> {
    pub model: &'a str,
    pub input: &'a [String],
    pub encoding_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
}

// ---------------------------------------------------------------- responses

// Stream chunks borrow their short strings from the event text (no
// allocation per chunk for model, ids, names and argument pieces); text
// deltas are owned because they become events.
#[derive(Debug, Deserialize)]
pub(super) struct Chunk<'a> {
    #[serde(default, borrow)]
    pub model: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub choices: Vec<ChunkChoice<'a>>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ChunkChoice<'a> {
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(default, borrow)]
    pub delta: Option<Delta<'a>>,
    #[serde(default, borrow)]
    pub finish_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    pub logprobs: Option<crate::provider::openai_compat::WireLogprobs>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Delta<'a> {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(default)]
    pub reasoning_content: Option<String>,
    #[serde(default)]
    pub reasoning: Option<String>,
    #[serde(default, borrow)]
    pub tool_calls: Option<Vec<DeltaToolCall<'a>>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct DeltaToolCall<'a> {
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(default, borrow)]
    pub id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub function: Option<DeltaFunction<'a>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct DeltaFunction<'a> {
    #[serde(default, borrow)]
    pub name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub arguments: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct EmbedResponse {
    #[serde(default)]
    pub data: Vec<EmbedItem>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
pub(super) struct EmbedItem {
    #[serde(default)]
    pub index: Option<usize>,
    pub embedding: Vec<f32>,
}
