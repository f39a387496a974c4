//! Cloudflare Workers AI over its REST API:
//! `POST {base}/accounts/{account}/ai/run/{model}` with a bearer token.
//!
//! Responses come wrapped as `{"result": {...}, "success": true, "errors": []}`.
//! `result.response` is the text (or an object in JSON mode); tool calls are
//! `[{"name", "arguments": {...}}]` (older models) or OpenAI-style
//! `[{"id", "function": {"name", "arguments": "..."}}]`; some newer models
//! return a whole chat-completion object as `result`.

pub mod defaults;
mod stream;
mod wire;

pub use stream::WorkersAiStream;

use serde_json::Value;

use super::common::{
    ChatCall, ProviderRequest, bad_body, caller_json, from_json, generated_call_id, tool_schemas,
};
use super::openai_compat::{self, add_json_instruction};
use crate::config::Endpoint;
use crate::content::unsupported_part;
use crate::error::{GatewayError, Result, UpstreamDetail};
use crate::http::{encode_path, join_url};
use crate::types::{
    Completion, Content, FinishReason, Input, Message, Part, ResponseFormat, Role, RunOptions,
    ToolCall, ToolChoice, Usage,
};
use crate::validate::check_path_model;
use wire::{ReqFunctionCall, ReqMessage, ReqResponseFormat, ReqTool, ReqToolCall, RunRequest};

/// The run URL of `model`. A `custom` provider with this wire format and no
/// account id posts to `{base}/{model}`.
fn run_url(endpoint: &Endpoint, model: &str) -> Result<String> {
    check_path_model(model)?;
    Ok(match &endpoint.account_id {
        Some(acc) => join_url(
            &endpoint.base_url,
            &format!(
                "accounts/{}/ai/run/{}",
                encode_path(acc),
                encode_path(model)
            ),
        ),
        None => join_url(&endpoint.base_url, &encode_path(model)),
    })
}

pub(crate) fn chat_request(call: &ChatCall<'_>) -> Result<ProviderRequest> {
    let opts = call.options;
    let (prompt, messages) = match call.input {
        Input::Prompt(p) if opts.response_format.is_none() => (Some(p.as_str()), None),
        input => {
            let mut messages = input.to_messages();
            add_json_instruction(&mut messages, opts.response_format.as_ref());
            (None, Some(messages))
        }
    };
    // The run API has no tool_choice: `none` drops the tools, `auto` sends
    // them and lets the model decide, and a forced choice is refused rather
    // than silently downgraded to `auto`.
    check_tool_choice(call)?;
    refuse_unsupported(&call.endpoint.name, opts)?;
    if let Some(ms) = &messages {
        check_parts(&call.endpoint.name, ms)?;
    }
    let tools = if opts.tool_choice == Some(ToolChoice::None) {
        Vec::new()
    } else {
        tool_schemas(&opts.tools)?
            .into_iter()
            .map(|(t, schema)| ReqTool {
                name: &t.name,
                description: t.description.as_deref(),
                parameters: schema,
            })
            .collect::<Vec<_>>()
    };
    let response_format = match &opts.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::Json) => Some(ReqResponseFormat::JsonObject),
        Some(ResponseFormat::JsonSchema(s)) => Some(ReqResponseFormat::JsonSchema {
            json_schema: caller_json(Some(&s.schema), "response-format schema")?,
        }),
    };
    let body = RunRequest {
        prompt,
        messages: messages
            .as_deref()
            .map(|ms| ms.iter().map(req_message).collect()),
        max_tokens: opts.max_tokens,
        temperature: opts.temperature,
        top_p: opts.top_p,
        tools,
        response_format,
        presence_penalty: opts.presence_penalty,
        frequency_penalty: opts.frequency_penalty,
        seed: opts.seed,
        stream: call.stream,
    };
    ProviderRequest::new(
        run_url(call.endpoint, call.model)?,
        call.endpoint.auth_headers(defaults::AUTH),
        &body,
    )
}

/// Refuse `tool-choice` `required` or `named`: the Workers AI run API
/// (`/ai/run/{model}`, traditional function calling) documents no
/// `tool_choice`, so the model would be free to answer without the tool.
fn check_tool_choice(call: &ChatCall<'_>) -> Result<()> {
    let choice = match &call.options.tool_choice {
        Some(ToolChoice::Required) => "required".to_owned(),
        Some(ToolChoice::Named(n)) => format!("named({n:?})"),
        Some(ToolChoice::Auto | ToolChoice::None) | None => return Ok(()),
    };
    Err(GatewayError::validation(format!(
        "tool-choice {choice} is not supported by provider {:?} (workers-ai): the Workers AI \
         run API cannot force a tool call; use tool-choice auto or none (a model whose own \
         schema takes `tool_choice` can be given it through extra-body)",
        call.endpoint.name
    )))
}

/// Options the run API has no field for: refused by name.
fn refuse_unsupported(provider: &str, opts: &RunOptions) -> Result<()> {
    super::common::refuse_options(
        provider,
        "workers-ai",
        &[
            ("parallel-tool-calls", opts.parallel_tool_calls.is_some()),
            ("logit-bias", !opts.logit_bias.is_empty()),
            ("logprobs", opts.logprobs),
            ("end-user", opts.end_user.is_some()),
            ("metadata", !opts.metadata.is_empty()),
            ("service-tier", opts.service_tier.is_some()),
        ],
    )
}

/// The run API takes text only: images and documents are refused by name;
/// reasoning parts are omitted (a hint, as the WIT documents).
fn check_parts(provider: &str, messages: &[Message]) -> Result<()> {
    for (i, m) in messages.iter().enumerate() {
        if let Content::Parts(parts) = &m.content
            && let Some((j, p)) = parts
                .iter()
                .enumerate()
                .find(|(_, p)| matches!(p, Part::Image { .. } | Part::Document { .. }))
        {
            return Err(unsupported_part(
                &format!("provider {provider:?} (workers-ai)"),
                &format!("messages[{i}].content[{j}]"),
                p,
            ));
        }
    }
    Ok(())
}

fn req_message(m: &Message) -> ReqMessage<'_> {
    let role = match m.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    ReqMessage {
        role,
        content: m.content.text(),
        tool_calls: m
            .tool_calls
            .iter()
            .map(|c| ReqToolCall {
                id: &c.id,
                kind: "function",
                function: ReqFunctionCall {
                    name: &c.name,
                    arguments: &c.arguments,
                },
            })
            .collect(),
        tool_call_id: match m.role {
            Role::Tool => m.tool_call_id.as_deref(),
            _ => None,
        },
    }
}

fn usage(u: &wire::WireUsage) -> Usage {
    let output_tokens = u.completion_tokens.unwrap_or(0);
    Usage {
        input_tokens: u.prompt_tokens.unwrap_or(0),
        output_tokens,
        // A subset of the output tokens, whatever the provider claims.
        reasoning_tokens: u
            .completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0)
            .min(output_tokens),
        ..Usage::default()
    }
}

/// The envelope's `result`, or the error it reports.
fn unwrap_envelope(env: wire::Envelope) -> Result<Value> {
    if env.success == Some(false) || env.result.is_none() {
        let first = env.errors.first();
        let message = first
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("Workers AI reported failure without a result")
            .to_owned();
        let code = first.and_then(|e| e.get("code")).map(|c| match c {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        return Err(GatewayError::Upstream(UpstreamDetail {
            message,
            code,
            ..UpstreamDetail::default()
        }));
    }
    env.result
        .ok_or_else(|| bad_body("Workers AI response has no result".into()))
}

/// The id the provider gave a tool call, if any.
fn provider_call_id(v: &Value) -> Option<&str> {
    v.get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A tool call from one `tool_calls` entry; `i` is its position in the
/// response, used for a generated id when the provider gave none (see
/// [`generated_call_id`]).
fn tool_call(i: usize, v: &Value) -> ToolCall {
    let id = provider_call_id(v).map_or_else(|| generated_call_id(i), str::to_owned);
    let f = v.get("function").unwrap_or(v);
    let name = f
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let args = match f.get("arguments") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    ToolCall::from_raw_arguments(id, name, &args)
}

/// A `response` or `text` value as text: `None` when absent, null or empty.
fn result_text(v: Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::Null | Value::String(_)) | None => None,
        Some(other) => Some(other.to_string()), // JSON mode returns an object
    }
}

fn text_completion(text: String) -> Completion {
    Completion {
        text,
        reasoning: None,
        reasoning_blocks: Vec::new(),
        refusal: None,
        logprobs: Vec::new(),
        tool_calls: Vec::new(),
        usage: None,
        model: String::new(),
        finish_reason: Some(FinishReason::Stop),
    }
}

pub(crate) fn parse_chat(body: &[u8]) -> Result<Completion> {
    let env: wire::Envelope = from_json(body, "Workers AI response")?;
    let result = unwrap_envelope(env)?;
    if result.get("choices").is_some() {
        return openai_compat::parse_chat_value(result);
    }
    // Some models' documented output is a bare string.
    if let Value::String(s) = result {
        return Ok(text_completion(s));
    }
    let r: wire::RunResult = serde_json::from_value(result)
        .map_err(|e| bad_body(format!("Workers AI result has an unexpected shape: {e}")))?;
    let text = result_text(r.response)
        .or_else(|| result_text(r.text))
        .unwrap_or_default();
    let tool_calls: Vec<ToolCall> = r
        .tool_calls
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, v)| tool_call(i, v))
        .collect();
    let finish = if tool_calls.is_empty() {
        FinishReason::Stop
    } else {
        FinishReason::ToolCalls
    };
    Ok(Completion {
        text,
        reasoning: None,
        reasoning_blocks: Vec::new(),
        refusal: None,
        logprobs: Vec::new(),
        tool_calls,
        usage: r.usage.as_ref().map(usage),
        model: String::new(),
        finish_reason: Some(finish),
    })
}

pub(crate) fn embed_request(
    endpoint: &Endpoint,
    model: &str,
    input: &[String],
) -> Result<ProviderRequest> {
    ProviderRequest::new(
        run_url(endpoint, model)?,
        endpoint.auth_headers(defaults::AUTH),
        &wire::EmbedRequest { text: input },
    )
}

pub(crate) fn parse_embed(body: &[u8]) -> Result<super::common::Embeddings> {
    let env: wire::Envelope = from_json(body, "Workers AI response")?;
    let result = unwrap_envelope(env)?;
    let r: wire::EmbedResult = serde_json::from_value(result).map_err(|e| {
        bad_body(format!(
            "Workers AI embedding result has an unexpected shape: {e}"
        ))
    })?;
    Ok((r.data, r.usage.as_ref().map(usage), None))
}

#[cfg(test)]
mod tests;
