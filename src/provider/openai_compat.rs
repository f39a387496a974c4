//! What the OpenAI Chat Completions format shares with the providers that
//! speak some of it (OpenAI-compatible servers through `openai`, and
//! Workers AI, which returns a whole chat-completion object for some
//! models): the completion parser, usage and finish reasons, and the JSON-mode
//! instruction. Names no provider.

use serde::Deserialize;
use serde_json::Value;

use super::common::{bad_body, from_json, generated_call_id};
use crate::error::Result;
use crate::types::{
    Completion, FinishReason, Message, ReasoningBlock, ResponseFormat, Role, TokenLogprob,
    ToolCall, TopLogprob, Usage,
};

/// The system message added in JSON mode when no message mentions JSON
/// (OpenAI rejects `json_object` otherwise).
pub(crate) const JSON_INSTRUCTION: &str = "Respond only with a valid JSON object.";

/// In JSON mode, put [`JSON_INSTRUCTION`] first unless a message already
/// mentions JSON.
pub(crate) fn add_json_instruction(messages: &mut Vec<Message>, format: Option<&ResponseFormat>) {
    if matches!(format, Some(ResponseFormat::Json)) && !mentions_json(messages) {
        messages.insert(0, Message::new(Role::System, JSON_INSTRUCTION));
    }
}

fn mentions_json(messages: &[Message]) -> bool {
    messages
        .iter()
        .any(|m| m.content.text().to_ascii_lowercase().contains("json"))
}

pub(crate) fn finish_reason(s: &str) -> FinishReason {
    match s {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

pub(crate) fn usage(u: &WireUsage) -> Usage {
    let output_tokens = u.completion_tokens.unwrap_or(0);
    Usage {
        input_tokens: u.prompt_tokens.unwrap_or(0),
        output_tokens,
        cache_read_tokens: u
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0),
        cache_write_tokens: 0,
        reasoning_tokens: u
            .completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0)
            // A subset of the output tokens, whatever a server claims.
            .min(output_tokens),
    }
}

/// Text of a message `content`: a string, or the text parts of an array.
fn content_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .concat(),
        _ => String::new(),
    }
}

fn arguments_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub(crate) fn parse_chat(body: &[u8]) -> Result<Completion> {
    let r: ChatResponse = from_json(body, "chat completion")?;
    completion_from(r)
}

/// Parse an already-decoded chat completion object (Workers AI returns this
/// shape for some models inside `result`).
pub(crate) fn parse_chat_value(v: Value) -> Result<Completion> {
    let r: ChatResponse = serde_json::from_value(v)
        .map_err(|e| bad_body(format!("chat completion has an unexpected shape: {e}")))?;
    completion_from(r)
}

fn completion_from(r: ChatResponse) -> Result<Completion> {
    let choice = r
        .choices
        .into_iter()
        .find(|c| c.index.unwrap_or(0) == 0)
        .ok_or_else(|| bad_body("chat completion has no choices".into()))?;
    let msg = match (choice.message, choice.text) {
        (Some(m), _) => m,
        // A text-completion choice (`object: text_completion`), which some
        // Workers AI models return: its text is `text`, not a message.
        (None, Some(text)) => RespMessage {
            content: Some(Value::String(text)),
            ..RespMessage::default()
        },
        (None, None) => {
            return Err(bad_body("chat completion choice has no message".into()));
        }
    };
    let text = content_text(msg.content.as_ref());
    let mut finish = choice.finish_reason.as_deref().map(finish_reason);
    let refusal = msg.refusal.filter(|r| !r.is_empty());
    if refusal.is_some() {
        finish = Some(FinishReason::ContentFilter);
    }
    let logprobs = choice
        .logprobs
        .map(WireLogprobs::into_tokens)
        .unwrap_or_default();
    let tool_calls = msg
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let f = c.function;
            let name = f.as_ref().and_then(|f| f.name.clone()).unwrap_or_default();
            let args = arguments_text(f.as_ref().and_then(|f| f.arguments.as_ref()));
            let id =
                c.id.filter(|id| !id.is_empty())
                    .unwrap_or_else(|| generated_call_id(i));
            ToolCall::from_raw_arguments(id, name, &args)
        })
        .collect();
    let reasoning = msg
        .reasoning_content
        .or(msg.reasoning)
        .filter(|r| !r.is_empty());
    Ok(Completion {
        text,
        reasoning_blocks: reasoning
            .iter()
            .map(|r| ReasoningBlock {
                text: r.clone(),
                ..ReasoningBlock::default()
            })
            .collect(),
        reasoning,
        refusal,
        logprobs,
        tool_calls,
        usage: r.usage.as_ref().map(usage),
        model: r.model.unwrap_or_default(),
        finish_reason: finish,
    })
}

// ------------------------------------------------------------ wire types

#[derive(Debug, Deserialize)]
pub(crate) struct ChatResponse {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Choice {
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(default)]
    pub message: Option<RespMessage>,
    /// The text of a text-completion choice (no `message`).
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub logprobs: Option<WireLogprobs>,
}

/// `choices[].logprobs` (also on stream chunks): per-token log-probabilities
/// of the content, and of a refusal.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireLogprobs {
    #[serde(default)]
    pub content: Option<Vec<WireTokenLogprob>>,
    #[serde(default)]
    pub refusal: Option<Vec<WireTokenLogprob>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireTokenLogprob {
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub logprob: f64,
    #[serde(default)]
    pub bytes: Option<Vec<u8>>,
    #[serde(default)]
    pub top_logprobs: Option<Vec<WireTopLogprob>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireTopLogprob {
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub logprob: f64,
    #[serde(default)]
    pub bytes: Option<Vec<u8>>,
}

impl WireLogprobs {
    /// The tokens of the content, then of the refusal.
    pub(crate) fn into_tokens(self) -> Vec<TokenLogprob> {
        self.content
            .into_iter()
            .chain(self.refusal)
            .flatten()
            .map(|t| TokenLogprob {
                token: t.token,
                logprob: t.logprob,
                bytes: t.bytes,
                top: t
                    .top_logprobs
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| TopLogprob {
                        token: a.token,
                        logprob: a.logprob,
                        bytes: a.bytes,
                    })
                    .collect(),
            })
            .collect()
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RespMessage {
    /// A string, or an array of `{type: text, text}` parts on some servers.
    #[serde(default)]
    pub content: Option<Value>,
    #[serde(default)]
    pub refusal: Option<String>,
    /// DeepSeek, vLLM.
    #[serde(default)]
    pub reasoning_content: Option<String>,
    /// OpenRouter, Ollama, Groq.
    #[serde(default)]
    pub reasoning: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<RespToolCall>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RespToolCall {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: Option<RespFunction>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RespFunction {
    #[serde(default)]
    pub name: Option<String>,
    /// A JSON string per the spec; an object on some compatible servers.
    #[serde(default)]
    pub arguments: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    #[serde(default)]
    pub prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    pub completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PromptDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct CompletionDetails {
    #[serde(default)]
    pub reasoning_tokens: Option<u64>,
}

#[cfg(test)]
mod tests;
