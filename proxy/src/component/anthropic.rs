//! Anthropic's Messages API as a front door: `POST /v1/messages` (JSON and
//! SSE with Anthropic's named events) and `POST /v1/messages/count_tokens`,
//! on top of the gateway's `run` / `stream`, so the Anthropic SDKs and
//! Claude Code can point at the proxy (`ANTHROPIC_BASE_URL`).
//!
//! Nothing is dropped (the rule of `crate::params`): every request field is
//! carried to the upstream or refused with a 400 that names it.
//!
//! - Typed, for every upstream: `model`, `max_tokens` (required, as in
//!   Anthropic's API), `system` (string or text blocks; a block's
//!   `cache_control` becomes its system message's cache-control),
//!   `messages` (string or blocks `text`, `tool_use`, `tool_result` with
//!   string or text-block content; `cache_control` on any of them),
//!   `tools` (`name`, `description`, `input_schema`), `tool_choice`
//!   (`auto`, `any`, `tool`, `none`), `stop_sequences`, `temperature`,
//!   `top_p`, `stream`, `metadata.user_id` (the caller for rate limits, and
//!   sent on: `metadata` to Anthropic, `user` to OpenAI-format upstreams).
//! - Anthropic-format upstream: every other field (`top_k`, `thinking`,
//!   `service_tier`, ...) goes into `extra-body` unchanged; tools with more
//!   than the typed keys (`cache_control`, server tools) and
//!   `tool_choice.disable_parallel_tool_use` are sent as given (the
//!   original `tools` / `tool_choice` in `extra-body`); the
//!   `anthropic-beta` header is passed in `run-options.headers`.
//! - Other upstreams: `thinking` {`type: enabled`, `budget_tokens`} maps to
//!   `reasoning-effort`, lossy: < 4096 → low, < 16384 → medium, else high
//!   (the budget itself is not sent; `type: disabled` sends nothing);
//!   anything else, and `anthropic-beta`, is refused.
//! - Typed for every upstream (WIT 0.2): `image` (base64 or URL) and
//!   `document` (base64 PDF) blocks, `thinking` with its `signature` and
//!   `redacted_thinking` in assistant turns (sent back to Anthropic
//!   unchanged; omitted for providers without a field for them),
//!   `tool_choice.disable_parallel_tool_use` (`parallel-tool-calls`),
//!   `metadata.user_id` (`end-user`).
//! - `anthropic-version` is passed to Anthropic upstreams (over the
//!   provider's configured version); other formats have no such header.
//! - Refused everywhere: blocks the gateway's parts have no case for
//!   (`search_result`, server-tool blocks, ...), document sources other
//!   than base64, `tool_result.is_error: true`, `citations`,
//!   `cache_control.ttl`.
//!
//! The answer: a `message` object whose `model` is the requested one,
//! content blocks `thinking` with the provider's `signature` (empty when it
//! gave none), `redacted_thinking`, `text`, `tool_use`; `stop_reason` / `stop_sequence` verbatim from an Anthropic
//! upstream's body, else mapped from the finish reason (`stop_sequence` is
//! then null: OpenAI does not say which sequence matched); usage with
//! Anthropic's uncached `input_tokens`. In a stream, `message_start`'s
//! usage is zeros and `message_delta` carries the whole usage (the gateway
//! reports it at the end; the SDKs take input and cache counts from there).
//!
//! Errors: `{"type":"error","error":{"type","message"},"request_id"}` with
//! Anthropic's statuses; the gateway's own deadline is a 504
//! `timeout_error`, its budget a 402 `billing_error`, an upstream that is
//! unavailable a 529 `overloaded_error`.
//!
//! `count_tokens` through an Anthropic upstream is exact (the gateway's
//! `count-tokens`, Anthropic's own endpoint); through any other it is an
//! estimate: ceil(B / 4), B the UTF-8 bytes of the system and message texts, tool-use
//! names and input JSON, tool-result texts and tool ids, and the tools'
//! names, descriptions and input schemas. The response carries
//! `x-aigw-token-count: estimate`.

use serde_json::{Map, Value, json};

use crate::params::Wire;

use super::bindings::wasi::http::types::ResponseOutparam;
use super::bindings::workkit::ai_gateway::types as w;
use super::openai::{self, ApiError};
use super::{Ctx, config, io, state};

/// Anthropic's error type for an HTTP status.
fn kind_for(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 | 503 => "overloaded_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid(message)
}

/// A 400 about one field.
fn refuse(field: &str, message: impl Into<String>) -> ApiError {
    ApiError {
        param: Some(field.to_owned()),
        ..ApiError::invalid(message)
    }
}

/// The gateway's error with Anthropic's statuses.
pub fn gateway_error(e: &w::GatewayError) -> ApiError {
    let base = openai::api_error(e);
    let status = match e {
        w::GatewayError::Validation(_) => 400,
        w::GatewayError::Auth(_) | w::GatewayError::Internal(_) => 500,
        w::GatewayError::NotFound(_) | w::GatewayError::ModelNotAllowed(_) => 404,
        w::GatewayError::RateLimited(_) => 429,
        w::GatewayError::Timeout(_) => 504,
        w::GatewayError::ServiceUnavailable(_) => 529,
        w::GatewayError::BudgetExceeded(_) => 402,
        w::GatewayError::Upstream(d) => match d.status {
            Some(s @ (400 | 403 | 404 | 413 | 429)) => s,
            Some(s) if (400..500).contains(&s) => 400,
            _ => 500,
        },
    };
    ApiError { status, ..base }
}

fn error_json(e: &ApiError) -> Value {
    json!({"type": "error", "error": {"type": kind_for(e.status), "message": e.message}})
}

fn error_response(e: &ApiError, request_id: &str) -> Value {
    json!({"type": "error", "error": {"type": kind_for(e.status), "message": e.message},
           "request_id": request_id})
}

/// Send `e` in Anthropic's shape (whatever shape the proxy built it in).
pub fn send_error(ctx: &Ctx, out: ResponseOutparam, e: &ApiError) {
    let body = error_response(e, &ctx.request_id);
    let retry = e.retry_after_ms.map(|ms| ms.div_ceil(1000).to_string());
    let mut extra = vec![("request-id", ctx.request_id.as_str())];
    if let Some(r) = retry.as_deref() {
        extra.push(("retry-after", r));
    }
    ctx.respond(
        out,
        e.status,
        "application/json",
        body.to_string().as_bytes(),
        &extra,
    );
}

// ------------------------------------------------------------------ request

/// A request converted for the gateway.
pub struct Converted {
    pub messages: Vec<w::Message>,
    pub options: w::RunOptions,
    pub stream: bool,
}

fn get<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a Value> {
    m.get(k).filter(|v| !v.is_null())
}

fn string(v: &Value, field: &str) -> Result<String, ApiError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| refuse(field, format!("`{field}` must be a string")))
}

fn object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>, ApiError> {
    v.as_object()
        .ok_or_else(|| refuse(field, format!("`{field}` must be an object")))
}

fn array<'a>(v: &'a Value, field: &str) -> Result<&'a Vec<Value>, ApiError> {
    v.as_array()
        .ok_or_else(|| refuse(field, format!("`{field}` must be an array")))
}

/// `cache_control` of a block: ephemeral, without a `ttl`.
fn cache_control(b: &Map<String, Value>, at: &str) -> Result<Option<w::CacheControl>, ApiError> {
    let Some(cc) = get(b, "cache_control") else {
        return Ok(None);
    };
    let field = format!("{at}.cache_control");
    let cc = object(cc, &field)?;
    for (k, v) in cc {
        match (k.as_str(), v) {
            ("type", Value::String(t)) if t == "ephemeral" => {}
            (_, Value::Null) => {}
            _ => {
                return Err(refuse(
                    &format!("{field}.{k}"),
                    format!(
                        "`{field}.{k}` = {v} is not supported: the gateway's cache-control is \
                         `{{\"type\": \"ephemeral\"}}` only; the request was not sent"
                    ),
                ));
            }
        }
    }
    Ok(Some(w::CacheControl::Ephemeral))
}

/// Refuse any key of block `b` outside `known`.
fn only(b: &Map<String, Value>, known: &[&str], at: &str) -> Result<(), ApiError> {
    for (k, v) in b {
        if v.is_null() || known.contains(&k.as_str()) {
            continue;
        }
        let field = format!("{at}.{k}");
        return Err(refuse(
            &field,
            format!(
                "`{field}` cannot be carried: the gateway's message model has no place for \
                 it; the request was not sent"
            ),
        ));
    }
    Ok(())
}

fn block_type<'a>(b: &'a Map<String, Value>, at: &str) -> Result<&'a str, ApiError> {
    b.get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| refuse(&format!("{at}.type"), format!("`{at}.type` is missing")))
}

fn unsupported_block(kind: &str, at: &str) -> ApiError {
    refuse(
        &format!("{at}.type"),
        format!(
            "content block type `{kind}` ({at}) cannot be carried: the gateway's message \
             model has no such part; the request was not sent"
        ),
    )
}

fn message(role: w::Role, content: String, cache_control: Option<w::CacheControl>) -> w::Message {
    w::Message {
        role,
        content: w::Content::Text(content),
        cache_control,
        tool_calls: Vec::new(),
        tool_call_id: None,
    }
}

/// A text block's text (and its cache-control).
fn text_block(
    b: &Map<String, Value>,
    at: &str,
) -> Result<(String, Option<w::CacheControl>), ApiError> {
    only(b, &["type", "text", "cache_control"], at)?;
    let t = string(b.get("text").unwrap_or(&Value::Null), &format!("{at}.text"))?;
    Ok((t, cache_control(b, at)?))
}

/// `system`: a string or text blocks, one system message each.
fn system(v: &Value, out: &mut Vec<w::Message>) -> Result<(), ApiError> {
    match v {
        Value::String(s) => out.push(message(w::Role::System, s.clone(), None)),
        Value::Array(blocks) => {
            for (i, b) in blocks.iter().enumerate() {
                let at = format!("system[{i}]");
                let b = object(b, &at)?;
                match block_type(b, &at)? {
                    "text" => {
                        let (t, cc) = text_block(b, &at)?;
                        out.push(message(w::Role::System, t, cc));
                    }
                    other => return Err(unsupported_block(other, &at)),
                }
            }
        }
        _ => {
            return Err(refuse(
                "system",
                "`system` must be a string or an array of text blocks",
            ));
        }
    }
    Ok(())
}

/// A tool result's content: a string or text blocks.
fn tool_result_text(v: Option<&Value>, at: &str) -> Result<String, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(blocks)) => {
            let mut out = String::new();
            for (i, b) in blocks.iter().enumerate() {
                let at = format!("{at}.content[{i}]");
                let b = object(b, &at)?;
                match block_type(b, &at)? {
                    "text" => {
                        only(b, &["type", "text"], &at)?;
                        out.push_str(&string(
                            b.get("text").unwrap_or(&Value::Null),
                            &format!("{at}.text"),
                        )?);
                    }
                    other => return Err(unsupported_block(other, &at)),
                }
            }
            Ok(out)
        }
        Some(_) => Err(refuse(
            &format!("{at}.content"),
            format!("`{at}.content` must be a string or an array of text blocks"),
        )),
    }
}

/// One conversation turn as gateway messages. Each text block is its own
/// message (the gateway merges consecutive turns of one role back into one
/// Anthropic turn, block by block); a block with `cache_control` ends its
/// message, so the hint lands on that block.
fn turn(i: usize, m: &Value, out: &mut Vec<w::Message>) -> Result<(), ApiError> {
    let at = format!("messages[{i}]");
    let m = object(m, &at)?;
    only(m, &["role", "content"], &at)?;
    let role = match m.get("role").and_then(Value::as_str) {
        Some("user") => w::Role::User,
        Some("assistant") => w::Role::Assistant,
        other => {
            return Err(refuse(
                &format!("{at}.role"),
                format!("`{at}.role` must be \"user\" or \"assistant\", not {other:?}"),
            ));
        }
    };
    let blocks = match m.get("content") {
        Some(Value::String(s)) => {
            out.push(message(role, s.clone(), None));
            return Ok(());
        }
        Some(Value::Array(a)) => a,
        _ => {
            return Err(refuse(
                &format!("{at}.content"),
                format!("`{at}.content` must be a string or an array of content blocks"),
            ));
        }
    };
    // The message being built: its parts in order, then (assistant) its
    // tool calls. A part after a tool call starts the next message, and a
    // tool result is a message of its own; the gateway merges consecutive
    // messages of one role back into one Anthropic turn, in order.
    let mut open: Option<w::Message> = None;
    let close = |open: &mut Option<w::Message>, out: &mut Vec<w::Message>| {
        if let Some(m) = open.take() {
            out.push(m);
        }
    };
    let add = |open: &mut Option<w::Message>, out: &mut Vec<w::Message>, part: w::ContentPart| {
        if open.as_ref().is_some_and(|m| !m.tool_calls.is_empty()) {
            close(open, out);
        }
        let m = open.get_or_insert_with(|| w::Message {
            content: w::Content::Parts(Vec::new()),
            ..message(role, String::new(), None)
        });
        match &mut m.content {
            w::Content::Parts(p) => p.push(part),
            w::Content::Text(t) => {
                let text = std::mem::take(t);
                m.content = w::Content::Parts(vec![
                    w::ContentPart::Text(w::TextPart {
                        text,
                        cache_control: None,
                    }),
                    part,
                ]);
            }
        }
    };
    for (j, b) in blocks.iter().enumerate() {
        let at = format!("{at}.content[{j}]");
        let b = object(b, &at)?;
        let kind = block_type(b, &at)?;
        match (kind, role) {
            ("text", _) => {
                let (text, cache_control) = text_block(b, &at)?;
                add(
                    &mut open,
                    out,
                    w::ContentPart::Text(w::TextPart {
                        text,
                        cache_control,
                    }),
                );
            }
            ("image", w::Role::User) => {
                only(b, &["type", "source", "cache_control"], &at)?;
                let part = w::ContentPart::Image(w::ImagePart {
                    source: image_source(b.get("source"), &at)?,
                    detail: None,
                    cache_control: cache_control(b, &at)?,
                });
                add(&mut open, out, part);
            }
            ("document", w::Role::User) => {
                only(b, &["type", "source", "title", "cache_control"], &at)?;
                let (media_type, base64) = base64_source(b.get("source"), &at)?;
                let part = w::ContentPart::Document(w::DocumentPart {
                    document: w::Media { media_type, base64 },
                    title: match get(b, "title") {
                        None => None,
                        Some(t) => Some(string(t, &format!("{at}.title"))?),
                    },
                    cache_control: cache_control(b, &at)?,
                });
                add(&mut open, out, part);
            }
            ("thinking", w::Role::Assistant) => {
                only(b, &["type", "thinking", "signature"], &at)?;
                let text = string(
                    b.get("thinking").unwrap_or(&Value::Null),
                    &format!("{at}.thinking"),
                )?;
                let signature = match get(b, "signature") {
                    None => None,
                    Some(s) => {
                        Some(string(s, &format!("{at}.signature"))?).filter(|s| !s.is_empty())
                    }
                };
                let part = w::ContentPart::Reasoning(w::ReasoningBlock {
                    text,
                    signature,
                    redacted: None,
                });
                add(&mut open, out, part);
            }
            ("redacted_thinking", w::Role::Assistant) => {
                only(b, &["type", "data"], &at)?;
                let data = string(b.get("data").unwrap_or(&Value::Null), &format!("{at}.data"))?;
                let part = w::ContentPart::Reasoning(w::ReasoningBlock {
                    text: String::new(),
                    signature: None,
                    redacted: Some(data),
                });
                add(&mut open, out, part);
            }
            ("tool_use", w::Role::Assistant) => {
                only(b, &["type", "id", "name", "input", "cache_control"], &at)?;
                let id = string(b.get("id").unwrap_or(&Value::Null), &format!("{at}.id"))?;
                let name = string(b.get("name").unwrap_or(&Value::Null), &format!("{at}.name"))?;
                let input = match get(b, "input") {
                    None => "{}".to_owned(),
                    Some(v @ Value::Object(_)) => v.to_string(),
                    Some(_) => {
                        return Err(refuse(
                            &format!("{at}.input"),
                            format!("`{at}.input` must be an object"),
                        ));
                    }
                };
                let cc = cache_control(b, &at)?;
                let m = open.get_or_insert_with(|| message(role, String::new(), None));
                m.tool_calls.push(w::ToolCall {
                    id,
                    name,
                    arguments: input,
                    raw_arguments: None,
                });
                if cc.is_some() {
                    m.cache_control = cc;
                    close(&mut open, out);
                }
            }
            ("tool_result", w::Role::User) => {
                only(
                    b,
                    &[
                        "type",
                        "tool_use_id",
                        "content",
                        "cache_control",
                        "is_error",
                    ],
                    &at,
                )?;
                if let Some(e) = get(b, "is_error")
                    && e != &Value::Bool(false)
                {
                    return Err(refuse(
                        &format!("{at}.is_error"),
                        format!(
                            "`{at}.is_error` = {e} cannot be carried: the gateway's tool \
                             messages have no error flag; send the error as the result text; \
                             the request was not sent"
                        ),
                    ));
                }
                let id = string(
                    b.get("tool_use_id").unwrap_or(&Value::Null),
                    &format!("{at}.tool_use_id"),
                )?;
                close(&mut open, out);
                let mut m = message(
                    w::Role::Tool,
                    tool_result_text(b.get("content"), &at)?,
                    cache_control(b, &at)?,
                );
                m.tool_call_id = Some(id);
                out.push(m);
            }
            ("tool_use" | "tool_result" | "thinking" | "redacted_thinking", _)
            | ("image" | "document", _) => {
                let belongs = if matches!(kind, "tool_result" | "image" | "document") {
                    "user"
                } else {
                    "assistant"
                };
                return Err(refuse(
                    &format!("{at}.type"),
                    format!("`{kind}` blocks belong in {belongs} turns ({at})"),
                ));
            }
            (other, _) => return Err(unsupported_block(other, &at)),
        }
    }
    close(&mut open, out);
    if blocks.is_empty() {
        out.push(message(role, String::new(), None));
    }
    Ok(())
}

/// An image block's `source`: base64 or a URL.
fn image_source(v: Option<&Value>, at: &str) -> Result<w::ImageSource, ApiError> {
    let src = object(v.unwrap_or(&Value::Null), &format!("{at}.source"))?;
    match src.get("type").and_then(Value::as_str) {
        Some("url") => {
            only(src, &["type", "url"], &format!("{at}.source"))?;
            Ok(w::ImageSource::Url(string(
                src.get("url").unwrap_or(&Value::Null),
                &format!("{at}.source.url"),
            )?))
        }
        _ => {
            let (media_type, base64) = base64_source(v, at)?;
            Ok(w::ImageSource::Inline(w::Media { media_type, base64 }))
        }
    }
}

/// A `{"type": "base64", "media_type", "data"}` source.
fn base64_source(v: Option<&Value>, at: &str) -> Result<(String, String), ApiError> {
    let here = format!("{at}.source");
    let src = object(v.unwrap_or(&Value::Null), &here)?;
    match src.get("type").and_then(Value::as_str) {
        Some("base64") => {
            only(src, &["type", "media_type", "data"], &here)?;
            Ok((
                string(
                    src.get("media_type").unwrap_or(&Value::Null),
                    &format!("{here}.media_type"),
                )?,
                string(
                    src.get("data").unwrap_or(&Value::Null),
                    &format!("{here}.data"),
                )?,
            ))
        }
        other => Err(refuse(
            &format!("{here}.type"),
            format!(
                "`{here}.type` {other:?} cannot be carried: the gateway takes base64 sources \
                 (and URLs for images); the request was not sent"
            ),
        )),
    }
}

/// `tools`: the typed definitions, and whether any tool has more than the
/// typed keys (then the original array must go to the upstream as given).
fn tools(v: &Value) -> Result<(Vec<w::ToolDefinition>, Option<String>), ApiError> {
    let mut typed = Vec::new();
    let mut untyped = None;
    for (i, t) in array(v, "tools")?.iter().enumerate() {
        let at = format!("tools[{i}]");
        let t = object(t, &at)?;
        let custom = matches!(t.get("type").and_then(Value::as_str), None | Some("custom"));
        if let Some((k, _)) = t.iter().find(|(k, v)| {
            let typed = matches!(k.as_str(), "name" | "description" | "input_schema")
                || (k.as_str() == "type" && custom);
            !v.is_null() && !typed
        }) {
            untyped.get_or_insert_with(|| format!("{at}.{k}"));
        }
        if !custom {
            continue;
        }
        let name = string(t.get("name").unwrap_or(&Value::Null), &format!("{at}.name"))?;
        let description = get(t, "description")
            .map(|d| string(d, &format!("{at}.description")))
            .transpose()?;
        let schema = get(t, "input_schema").ok_or_else(|| {
            refuse(
                &format!("{at}.input_schema"),
                format!("`{at}.input_schema` is required"),
            )
        })?;
        object(schema, &format!("{at}.input_schema"))?;
        typed.push(w::ToolDefinition {
            name,
            description,
            parameters: Some(schema.to_string()),
        });
    }
    Ok((typed, untyped))
}

fn tool_choice(v: &Value) -> Result<(w::ToolChoice, bool), ApiError> {
    let c = object(v, "tool_choice")?;
    only(
        c,
        &["type", "name", "disable_parallel_tool_use"],
        "tool_choice",
    )?;
    let choice = match c.get("type").and_then(Value::as_str) {
        Some("auto") => w::ToolChoice::Auto,
        Some("any") => w::ToolChoice::Required,
        Some("none") => w::ToolChoice::None,
        Some("tool") => w::ToolChoice::Named(string(
            c.get("name").unwrap_or(&Value::Null),
            "tool_choice.name",
        )?),
        other => {
            return Err(refuse(
                "tool_choice.type",
                format!("unknown tool_choice type {other:?} (auto, any, tool, none)"),
            ));
        }
    };
    let serial = match get(c, "disable_parallel_tool_use") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(refuse(
                "tool_choice.disable_parallel_tool_use",
                "`tool_choice.disable_parallel_tool_use` must be a boolean",
            ));
        }
    };
    Ok((choice, serial))
}

/// `thinking` for an upstream that is not Anthropic: a reasoning effort
/// (lossy, see the module docs).
fn thinking_effort(v: &Value) -> Result<Option<w::ReasoningEffort>, ApiError> {
    let t = object(v, "thinking")?;
    match t.get("type").and_then(Value::as_str) {
        Some("disabled") => Ok(None),
        Some("enabled") => {
            let budget = t
                .get("budget_tokens")
                .and_then(Value::as_u64)
                .ok_or_else(|| {
                    refuse(
                        "thinking.budget_tokens",
                        "`thinking.budget_tokens` must be a positive integer",
                    )
                })?;
            only(t, &["type", "budget_tokens"], "thinking")?;
            Ok(Some(match budget {
                0..4096 => w::ReasoningEffort::Low,
                4096..16384 => w::ReasoningEffort::Medium,
                _ => w::ReasoningEffort::High,
            }))
        }
        other => Err(refuse(
            "thinking.type",
            format!(
                "`thinking.type` {other:?} cannot be sent to this provider: only \"enabled\" \
                 (mapped to reasoning-effort) or \"disabled\""
            ),
        )),
    }
}

fn cannot_send(field: &str, wire: Wire, provider: &str) -> ApiError {
    refuse(
        field,
        format!(
            "`{field}` cannot be sent to provider {provider:?} ({} wire format): only \
             Anthropic-format upstreams take it; the request was not sent",
            wire_name(wire)
        ),
    )
}

fn wire_name(w: Wire) -> &'static str {
    match w {
        Wire::OpenAi => "openai",
        Wire::Anthropic => "anthropic",
        Wire::WorkersAi => "workers-ai",
        Wire::Unknown => "unknown",
    }
}

/// Convert a Messages request for a provider named `provider` of format
/// `wire`. `count` = a count_tokens request (no `max_tokens` needed).
pub fn to_gateway(
    req: &Map<String, Value>,
    headers: &io::Request,
    caller: Option<String>,
    wire: Wire,
    provider: &str,
    count: bool,
) -> Result<Converted, ApiError> {
    let anthropic = wire == Wire::Anthropic;
    let mut extra = Map::new();
    let mut messages = Vec::new();
    let mut options = w::RunOptions {
        caller,
        ..super::blank_options()
    };
    let mut stream = false;
    let mut user = None;
    if let Some(s) = get(req, "system") {
        system(s, &mut messages)?;
    }
    match get(req, "messages") {
        Some(Value::Array(ms)) if !ms.is_empty() => {
            for (i, m) in ms.iter().enumerate() {
                turn(i, m, &mut messages)?;
            }
        }
        _ => {
            return Err(refuse(
                "messages",
                "`messages` is required: a non-empty array",
            ));
        }
    }
    for (k, v) in req {
        if v.is_null() {
            continue;
        }
        match k.as_str() {
            "model" | "system" | "messages" => {}
            "max_tokens" => {
                let n = v
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        refuse("max_tokens", "`max_tokens` must be a non-negative integer")
                    })?;
                options.max_tokens = Some(n);
            }
            "stream" => {
                stream = v
                    .as_bool()
                    .ok_or_else(|| refuse("stream", "`stream` must be a boolean"))?;
            }
            "temperature" | "top_p" => {
                let f = v
                    .as_f64()
                    .ok_or_else(|| refuse(k, format!("`{k}` must be a number")))?;
                if k == "temperature" {
                    options.temperature = Some(f);
                } else {
                    options.top_p = Some(f);
                }
            }
            "stop_sequences" => {
                for (i, s) in array(v, k)?.iter().enumerate() {
                    options
                        .stop
                        .push(string(s, &format!("stop_sequences[{i}]"))?);
                }
            }
            "tools" => {
                let (typed, untyped) = tools(v)?;
                options.tools = typed;
                if let Some(field) = untyped {
                    if !anthropic {
                        return Err(cannot_send(&field, wire, provider));
                    }
                    extra.insert("tools".into(), v.clone());
                }
            }
            "tool_choice" => {
                let (choice, serial) = tool_choice(v)?;
                options.tool_choice = Some(choice);
                if serial {
                    // Typed: the gateway sends it to each provider its own
                    // way, or refuses it by name.
                    options.parallel_tool_calls = Some(false);
                }
            }
            "metadata" => {
                let m = object(v, "metadata")?;
                if let Some(u) = get(m, "user_id") {
                    user = Some(string(u, "metadata.user_id")?);
                }
                // `user_id` is typed (`end-user`: Anthropic's
                // `metadata.user_id`, OpenAI's `user`); other keys only an
                // Anthropic upstream can take, as given.
                if let Some((k, _)) = m.iter().find(|(k, v)| *k != "user_id" && !v.is_null()) {
                    if !anthropic {
                        return Err(cannot_send(&format!("metadata.{k}"), wire, provider));
                    }
                    extra.insert("metadata".into(), v.clone());
                } else {
                    options.end_user.clone_from(&user);
                }
            }
            _ if anthropic => {
                extra.insert(k.clone(), v.clone());
            }
            "thinking" => options.reasoning_effort = thinking_effort(v)?,
            _ => return Err(cannot_send(k, wire, provider)),
        }
    }
    if options.max_tokens.is_none() && !count {
        return Err(refuse("max_tokens", "`max_tokens` is required"));
    }
    if let Some(beta) = headers.header("anthropic-beta") {
        if !anthropic {
            return Err(cannot_send("anthropic-beta", wire, provider));
        }
        options
            .headers
            .push(("anthropic-beta".into(), beta.to_owned()));
    }
    // The client's API version goes to an Anthropic upstream (it wins over
    // the provider's configured one); other formats have none to set.
    if anthropic && let Some(version) = headers.header("anthropic-version") {
        options
            .headers
            .push(("anthropic-version".into(), version.to_owned()));
    }
    options.caller = options.caller.take().or(user);
    options.extra_body = (!extra.is_empty()).then(|| Value::Object(extra).to_string());
    Ok(Converted {
        messages,
        options,
        stream,
    })
}

/// Bytes of a message's content the estimate counts: text, reasoning and
/// the base64 of inline media.
fn content_bytes(c: &w::Content) -> usize {
    match c {
        w::Content::Text(t) => t.len(),
        w::Content::Parts(parts) => parts
            .iter()
            .map(|p| match p {
                w::ContentPart::Text(t) => t.text.len(),
                w::ContentPart::Image(i) => match &i.source {
                    w::ImageSource::Url(u) => u.len(),
                    w::ImageSource::Inline(m) => m.base64.len(),
                },
                w::ContentPart::Document(d) => d.document.base64.len(),
                w::ContentPart::Reasoning(r) => r.text.len(),
            })
            .sum(),
    }
}

/// The count_tokens estimate: ceil(bytes / 4) of what the model reads.
pub fn estimate(c: &Converted) -> u64 {
    let mut bytes = 0usize;
    for m in &c.messages {
        bytes += content_bytes(&m.content);
        bytes += m.tool_call_id.as_ref().map_or(0, String::len);
        for t in &m.tool_calls {
            bytes += t.id.len() + t.name.len() + t.arguments.len();
        }
    }
    for t in &c.options.tools {
        bytes += t.name.len();
        bytes += t.description.as_ref().map_or(0, String::len);
        bytes += t.parameters.as_ref().map_or(0, String::len);
    }
    (bytes as u64).div_ceil(4)
}

// ------------------------------------------------------------------ answer

pub fn message_id() -> String {
    let r = super::bindings::wasi::random::random::get_random_bytes(12);
    let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
    format!("msg_{hex}")
}

/// Anthropic's usage: `input_tokens` without the cached ones.
pub fn usage(u: Option<&w::Usage>) -> Value {
    let (input, output, read, write) = u.map_or((0, 0, 0, 0), |u| {
        (
            u.input_tokens,
            u.output_tokens,
            u.cache_read_tokens,
            u.cache_write_tokens,
        )
    });
    json!({
        "input_tokens": input.saturating_sub(read).saturating_sub(write),
        "output_tokens": output,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": write,
    })
}

const STOP_REASONS: &[&str] = &[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
];

pub fn stop_reason(f: Option<&w::FinishReason>, tool_calls: bool) -> &'static str {
    match f {
        Some(w::FinishReason::Length) => "max_tokens",
        Some(w::FinishReason::ToolCalls) => "tool_use",
        Some(w::FinishReason::ContentFilter) => "refusal",
        Some(w::FinishReason::Other(s)) => STOP_REASONS
            .iter()
            .find(|r| **r == s.as_str())
            .copied()
            .unwrap_or("end_turn"),
        Some(w::FinishReason::Stop) => "end_turn",
        None if tool_calls => "tool_use",
        None => "end_turn",
    }
}

fn tool_input(c: &w::ToolCall) -> Value {
    serde_json::from_str::<Value>(&c.arguments)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}))
}

/// The `message` object for a `run` output.
pub fn message_json(id: &str, model: &str, o: &w::AiOutput, wire: Wire) -> Value {
    let mut content = Vec::new();
    for b in &o.reasoning_blocks {
        content.push(match &b.redacted {
            Some(data) => json!({"type": "redacted_thinking", "data": data}),
            None => json!({"type": "thinking", "thinking": b.text,
                           "signature": b.signature.as_deref().unwrap_or("")}),
        });
    }
    if o.reasoning_blocks.is_empty()
        && let Some(r) = o.reasoning.as_deref().filter(|r| !r.is_empty())
    {
        content.push(json!({"type": "thinking", "thinking": r, "signature": ""}));
    }
    if let Some(r) = o.refusal.as_deref().filter(|r| !r.is_empty()) {
        // Anthropic writes a refusal as text (with `stop_reason: refusal`).
        content.push(json!({"type": "text", "text": r}));
    }
    if !o.text.is_empty() {
        content.push(json!({"type": "text", "text": o.text}));
    }
    for c in &o.tool_calls {
        content
            .push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": tool_input(c)}));
    }
    let mut stop = json!(stop_reason(
        o.finish_reason.as_ref(),
        !o.tool_calls.is_empty()
    ));
    let mut sequence = Value::Null;
    // An Anthropic upstream's own stop reason and sequence, verbatim.
    if wire == Wire::Anthropic
        && let Some(raw) = o
            .raw
            .as_deref()
            .and_then(|r| serde_json::from_str::<Value>(r).ok())
    {
        if let Some(s) = raw.get("stop_reason").filter(|s| s.is_string()) {
            stop = s.clone();
        }
        if let Some(s) = raw.get("stop_sequence").filter(|s| s.is_string()) {
            sequence = s.clone();
        }
    }
    json!({
        "id": id, "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": stop, "stop_sequence": sequence,
        "usage": usage(o.usage.as_ref()),
    })
}

fn event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
}

/// Anthropic's stream events for one gateway stream.
pub struct Events {
    index: u32,
    open: Option<Open>,
    tool_calls: bool,
}

impl Events {
    pub fn new() -> Self {
        Self {
            index: 0,
            open: None,
            tool_calls: false,
        }
    }

    /// `message_start` and a `ping`.
    pub fn start(id: &str, model: &str) -> String {
        let mut s = event(
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
                "stop_reason": null, "stop_sequence": null, "usage": usage(None)}}),
        );
        s.push_str(&event("ping", &json!({"type": "ping"})));
        s
    }

    fn close(&mut self, out: &mut String) {
        if self.open.take().is_some() {
            out.push_str(&event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": self.index}),
            ));
            self.index += 1;
        }
    }

    fn delta(&mut self, kind: Open, piece: &str) -> String {
        let mut out = String::new();
        if self.open != Some(kind) {
            self.close(&mut out);
            let block = match kind {
                Open::Text => json!({"type": "text", "text": ""}),
                Open::Thinking => json!({"type": "thinking", "thinking": "", "signature": ""}),
            };
            out.push_str(&event(
                "content_block_start",
                &json!({"type": "content_block_start", "index": self.index, "content_block": block}),
            ));
            self.open = Some(kind);
        }
        let delta = match kind {
            Open::Text => json!({"type": "text_delta", "text": piece}),
            Open::Thinking => json!({"type": "thinking_delta", "thinking": piece}),
        };
        out.push_str(&event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": self.index, "delta": delta}),
        ));
        out
    }

    pub fn text(&mut self, t: &str) -> String {
        self.delta(Open::Text, t)
    }

    pub fn thinking(&mut self, t: &str) -> String {
        self.delta(Open::Thinking, t)
    }

    /// The signature that closes the thinking block streamed so far.
    pub fn signature(&mut self, sig: &str) -> String {
        let mut out = String::new();
        if self.open != Some(Open::Thinking) {
            // A block with no text (the provider sent only its signature).
            out.push_str(&self.delta(Open::Thinking, ""));
        }
        out.push_str(&event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": self.index,
                    "delta": {"type": "signature_delta", "signature": sig}}),
        ));
        self.close(&mut out);
        out
    }

    /// A redacted thinking block, whole.
    pub fn redacted(&mut self, data: &str) -> String {
        let mut out = String::new();
        self.close(&mut out);
        out.push_str(&event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": self.index,
                    "content_block": {"type": "redacted_thinking", "data": data}}),
        ));
        out.push_str(&event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": self.index}),
        ));
        self.index += 1;
        out
    }

    pub fn tool(&mut self, c: &w::ToolCall) -> String {
        let mut out = String::new();
        self.close(&mut out);
        self.tool_calls = true;
        let i = self.index;
        out.push_str(&event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": i,
                    "content_block": {"type": "tool_use", "id": c.id, "name": c.name, "input": {}}}),
        ));
        out.push_str(&event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": i,
                    "delta": {"type": "input_json_delta", "partial_json": tool_input(c).to_string()}}),
        ));
        out.push_str(&event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": i}),
        ));
        self.index += 1;
        out
    }

    /// `message_delta` and `message_stop`.
    pub fn done(&mut self, d: &w::StreamDone) -> String {
        let mut out = String::new();
        self.close(&mut out);
        out.push_str(&event(
            "message_delta",
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": stop_reason(d.finish_reason.as_ref(), self.tool_calls), "stop_sequence": null},
                    "usage": usage(d.usage.as_ref())}),
        ));
        out.push_str(&event("message_stop", &json!({"type": "message_stop"})));
        out
    }

    pub fn error(e: &w::GatewayError) -> String {
        event("error", &error_json(&gateway_error(e)))
    }
}

// ------------------------------------------------------------------ handlers

/// Authenticate, parse, resolve the provider, convert.
fn prepare(
    req: &io::Request,
    count: bool,
) -> Result<(std::rc::Rc<super::api::Gateway>, String, Converted, Wire), ApiError> {
    let s = state()?;
    let client = s.authenticate(req)?;
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|e| invalid(format!("invalid request body: {e}")))?;
    let Value::Object(body) = body else {
        return Err(invalid("the request body must be a JSON object"));
    };
    let model = match get(&body, "model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        _ => return Err(refuse("model", "`model` is required: a string")),
    };
    let gateway = s.gateway(client.as_deref())?;
    let provider = gateway
        .resolve_provider(&model, None)
        .map_err(|e| gateway_error(&e))?;
    let wire = config::wire_of(&s.config, &provider);
    let converted = to_gateway(&body, req, client, wire, &provider, count)?;
    Ok((gateway, model, converted, wire))
}

/// Exact through an Anthropic upstream (the gateway's `count-tokens`), an
/// estimate otherwise; `x-aigw-token-count` says which.
pub fn count_tokens(ctx: &Ctx, req: io::Request, out: ResponseOutparam) {
    let (gateway, model, mut c, wire) = match prepare(&req, true) {
        Ok(p) => p,
        Err(e) => return send_error(ctx, out, &e),
    };
    let (tokens, how) = if wire == Wire::Anthropic {
        c.options.request_id = Some(ctx.request_id.clone());
        let input = w::AiInput::Messages(std::mem::take(&mut c.messages));
        match gateway.count_tokens(&model, &input, Some(&c.options)) {
            Ok(n) => (n, "exact"),
            Err(e) => return send_error(ctx, out, &gateway_error(&e)),
        }
    } else {
        (estimate(&c), "estimate")
    };
    ctx.respond(
        out,
        200,
        "application/json",
        json!({"input_tokens": tokens}).to_string().as_bytes(),
        &[
            ("request-id", ctx.request_id.as_str()),
            ("x-aigw-token-count", how),
        ],
    );
}

pub fn messages(ctx: &Ctx, req: io::Request, out: ResponseOutparam) {
    let (gateway, model, mut c, wire) = match prepare(&req, false) {
        Ok(p) => p,
        Err(e) => return send_error(ctx, out, &e),
    };
    c.options.request_id = Some(ctx.request_id.clone());
    let input = w::AiInput::Messages(c.messages);
    let id = message_id();
    if !c.stream {
        match gateway.run(&model, &input, Some(&c.options)) {
            Ok(o) => ctx.respond(
                out,
                200,
                "application/json",
                message_json(&id, &model, &o, wire).to_string().as_bytes(),
                &[("request-id", ctx.request_id.as_str())],
            ),
            Err(e) => send_error(ctx, out, &gateway_error(&e)),
        }
        return;
    }
    // Errors before the first event are plain HTTP errors.
    let stream = match gateway.stream(&model, &input, Some(&c.options)) {
        Ok(s) => s,
        Err(e) => return send_error(ctx, out, &gateway_error(&e)),
    };
    let Some(mut w) = ctx.start(
        out,
        200,
        &[
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
            ("request-id", ctx.request_id.as_str()),
        ],
    ) else {
        return;
    };
    let mut events = Events::new();
    let mut alive = w.write(Events::start(&id, &model).as_bytes());
    while alive {
        let Some(event) = stream.next() else { break };
        let frames = match &event {
            w::StreamEvent::Text(t) => events.text(t),
            w::StreamEvent::Reasoning(r) => events.thinking(r),
            w::StreamEvent::ReasoningSignature(s) => events.signature(s),
            w::StreamEvent::ReasoningRedacted(d) => events.redacted(d),
            w::StreamEvent::ToolUse(c) => events.tool(c),
            // A refusal is text in Anthropic's format (stop_reason says it).
            w::StreamEvent::Refusal(r) => events.text(r),
            // The Messages API has no log-probabilities; the request could
            // not ask for them (`logprobs` is not one of its fields).
            w::StreamEvent::Logprobs(_) => continue,
            w::StreamEvent::Done(d) => {
                w.write(events.done(d).as_bytes());
                break;
            }
            w::StreamEvent::Error(e) => {
                w.write(Events::error(e).as_bytes());
                break;
            }
        };
        alive = w.write(frames.as_bytes());
    }
    // Dropping the stream closes the upstream connection if the client left.
    drop(stream);
    w.finish();
}
