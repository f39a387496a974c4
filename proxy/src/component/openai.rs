//! OpenAI Chat Completions and Embeddings on the wire ⇄ the gateway's types.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::params::{self, Wire};

use super::bindings::workkit::ai_gateway::types as w;

#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub stream_options: Option<Value>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
    #[serde(default)]
    pub stop: Option<Value>,
    #[serde(default)]
    pub tools: Vec<Tool>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
    #[serde(default)]
    pub response_format: Option<Value>,
    #[serde(default)]
    pub reasoning_effort: Option<String>,
    /// Every other parameter: carried to the upstream or refused by name
    /// (`crate::params`), never dropped.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl ChatRequest {
    /// `stream_options.include_usage`; any other stream option is refused
    /// by name (the proxy writes the chunks itself).
    pub fn include_usage(&self) -> Result<bool, ApiError> {
        let Some(o) = self.stream_options.as_ref().filter(|o| !o.is_null()) else {
            return Ok(false);
        };
        let Some(map) = o.as_object() else {
            return Err(ApiError::param(
                "stream_options",
                "stream_options must be an object",
            ));
        };
        let mut usage = false;
        for (k, v) in map {
            match (k.as_str(), v) {
                ("include_usage", Value::Bool(b)) => usage = *b,
                (_, Value::Null) | ("include_obfuscation", Value::Bool(false)) => {}
                _ => {
                    return Err(ApiError::param(
                        &format!("stream_options.{k}"),
                        &format!("stream option `{k}` = {v} is not supported by this gateway"),
                    ));
                }
            }
        }
        Ok(usage)
    }
}

#[derive(Debug, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<Value>,
    #[serde(default)]
    pub tool_calls: Vec<MessageToolCall>,
    #[serde(default)]
    pub tool_call_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct MessageToolCall {
    pub id: String,
    pub function: FunctionCall,
}

#[derive(Debug, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    #[serde(default)]
    pub arguments: String,
}

#[derive(Debug, Deserialize)]
pub struct Tool {
    pub function: ToolFunction,
}

#[derive(Debug, Deserialize)]
pub struct ToolFunction {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<Value>,
}

/// An error the proxy answers itself, in OpenAI's shape.
#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub kind: &'static str,
    pub code: Option<String>,
    pub message: String,
    pub retry_after_ms: Option<u64>,
    /// The request parameter the error is about.
    pub param: Option<String>,
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            kind: "invalid_request_error",
            code: None,
            message: message.into(),
            retry_after_ms: None,
            param: None,
        }
    }

    /// A 400 about one request parameter.
    pub fn param(param: &str, message: &str) -> Self {
        Self {
            code: Some("unsupported_parameter".into()),
            param: Some(param.to_owned()),
            ..Self::invalid(message)
        }
    }

    pub fn body(&self) -> String {
        json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}).to_string()
    }
}

/// A model `/v1/models` does not list, as OpenAI reports it.
pub fn model_not_found(id: &str) -> ApiError {
    ApiError {
        status: 404,
        code: Some("model_not_found".into()),
        param: Some("model".into()),
        ..ApiError::invalid(format!(
            "The model `{id}` does not exist or you do not have access to it."
        ))
    }
}

/// The gateway's error as the OpenAI API would report it.
pub fn api_error(e: &w::GatewayError) -> ApiError {
    let detail = |d: &w::UpstreamDetail| {
        (
            d.message.clone(),
            d.code.clone(),
            d.retry_after_ms,
            d.status,
        )
    };
    let (status, kind, (message, code, retry, _)) = match e {
        w::GatewayError::Validation(m) => {
            (400, "invalid_request_error", (m.clone(), None, None, None))
        }
        w::GatewayError::Auth(d) => (502, "upstream_auth_error", detail(d)),
        w::GatewayError::NotFound(d) => (404, "not_found_error", detail(d)),
        w::GatewayError::RateLimited(d) => (429, "rate_limit_error", detail(d)),
        w::GatewayError::Timeout(t) => {
            (504, "timeout_error", (t.message.clone(), None, None, None))
        }
        w::GatewayError::ServiceUnavailable(d) => (503, "service_unavailable_error", detail(d)),
        w::GatewayError::Upstream(d) => {
            // A 4xx from the provider is the caller's request: pass the status through.
            let s = d.status.filter(|s| (400..500).contains(s)).unwrap_or(502);
            (
                s,
                if s < 500 {
                    "invalid_request_error"
                } else {
                    "upstream_error"
                },
                detail(d),
            )
        }
        w::GatewayError::BudgetExceeded(b) => (
            429,
            "insufficient_quota",
            (
                if b.spent_micro_usd < b.budget_micro_usd {
                    format!(
                        "budget exceeded: spent {} of {} micro-USD; this request's worst-case \
                         cost does not fit in what is left and what requests in flight hold \
                         (a lower max_tokens reserves less)",
                        b.spent_micro_usd, b.budget_micro_usd
                    )
                } else {
                    format!(
                        "budget exceeded: spent {} of {} micro-USD",
                        b.spent_micro_usd, b.budget_micro_usd
                    )
                },
                Some("insufficient_quota".into()),
                None,
                None,
            ),
        ),
        w::GatewayError::ModelNotAllowed(m) => (
            404,
            "invalid_request_error",
            (
                format!(
                    "The model `{}` does not exist or you do not have access to it.",
                    m.model
                ),
                Some("model_not_found".into()),
                None,
                None,
            ),
        ),
        w::GatewayError::Internal(m) => (
            500,
            "server_error",
            (
                m.clone().unwrap_or_else(|| "internal error".into()),
                None,
                None,
                None,
            ),
        ),
    };
    // A typed option the provider cannot honour: name the request
    // parameter, as the proxy's own refusals do.
    let param = match e {
        w::GatewayError::Validation(m) => params::param_of(m),
        _ => None,
    };
    let message = match param {
        Some(p) => format!("parameter `{p}`: {message}; the request was not sent"),
        None => message,
    };
    ApiError {
        status,
        kind,
        code,
        message,
        retry_after_ms: retry,
        param: param.map(str::to_owned),
    }
}

/// A `data:` URL's media type and base64, or `None` for another URL.
fn data_url(url: &str) -> Option<(&str, &str)> {
    let (head, data) = url.strip_prefix("data:")?.split_once(',')?;
    Some((head.strip_suffix(";base64")?, data))
}

/// A message's `content`: a string, or parts (`text`, `image_url`, `file`
/// with `file_data`). Any other part is refused by name.
fn content_of(content: Option<&Value>, at: &str) -> Result<w::Content, ApiError> {
    let parts = match content {
        None | Some(Value::Null) => return Ok(w::Content::Text(String::new())),
        Some(Value::String(s)) => return Ok(w::Content::Text(s.clone())),
        Some(Value::Array(parts)) => parts,
        Some(_) => {
            return Err(ApiError::invalid(
                "content must be a string or an array of parts",
            ));
        }
    };
    let mut out = Vec::with_capacity(parts.len());
    for (i, p) in parts.iter().enumerate() {
        let here = format!("{at}.content[{i}]");
        let str_at = |v: &Value, key: &str| {
            v.get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| ApiError::param(&here, &format!("`{here}` needs a string `{key}`")))
        };
        out.push(match p.get("type").and_then(Value::as_str) {
            Some("text") => w::ContentPart::Text(w::TextPart {
                text: str_at(p, "text")?,
                cache_control: None,
            }),
            Some("image_url") => {
                let image = p.get("image_url").unwrap_or(&Value::Null);
                let url = str_at(image, "url")?;
                let detail = match image.get("detail").and_then(Value::as_str) {
                    None => None,
                    Some("auto") => Some(w::ImageDetail::Auto),
                    Some("low") => Some(w::ImageDetail::Low),
                    Some("high") => Some(w::ImageDetail::High),
                    Some(other) => {
                        return Err(ApiError::param(
                            &format!("{here}.image_url.detail"),
                            &format!("unknown image detail {other:?} (auto, low or high)"),
                        ));
                    }
                };
                w::ContentPart::Image(w::ImagePart {
                    source: w::ImageSource::Url(url),
                    detail,
                    cache_control: None,
                })
            }
            Some("file") => {
                let file = p.get("file").unwrap_or(&Value::Null);
                if file.get("file_id").is_some_and(|v| !v.is_null()) {
                    return Err(ApiError::param(
                        &format!("{here}.file.file_id"),
                        "`file_id` names a file in OpenAI's file store, which this gateway \
                         cannot reach: send the file inline as `file_data`",
                    ));
                }
                let data = str_at(file, "file_data")?;
                let Some((media_type, base64)) = data_url(&data) else {
                    return Err(ApiError::param(
                        &format!("{here}.file.file_data"),
                        "`file_data` must be a base64 data: URL (data:application/pdf;base64,...)",
                    ));
                };
                w::ContentPart::Document(w::DocumentPart {
                    document: w::Media {
                        media_type: media_type.to_owned(),
                        base64: base64.to_owned(),
                    },
                    title: file
                        .get("filename")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    cache_control: None,
                })
            }
            Some(other) => {
                return Err(ApiError::param(
                    &here,
                    &format!("content parts of type `{other}` are not supported by this gateway"),
                ));
            }
            None => return Err(ApiError::invalid("a content part has no type")),
        });
    }
    Ok(w::Content::Parts(out))
}

/// The gateway call for a Chat Completions request to a provider named
/// `provider` of format `wire`.
pub fn to_gateway(
    req: &ChatRequest,
    caller: Option<String>,
    wire: Wire,
    provider: &str,
    request_id: &str,
) -> Result<(w::AiInput, w::RunOptions), ApiError> {
    let carried = params::carry(&req.rest, wire, provider)
        .map_err(|r| ApiError::param(&r.param, &r.message))?;
    let mut messages = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        let role = match m.role.as_str() {
            "system" | "developer" => w::Role::System,
            "user" => w::Role::User,
            "assistant" => w::Role::Assistant,
            "tool" => w::Role::Tool,
            other => return Err(ApiError::invalid(format!("unknown role {other:?}"))),
        };
        messages.push(w::Message {
            role,
            content: content_of(m.content.as_ref(), &format!("messages[{i}]"))?,
            cache_control: None,
            tool_calls: m
                .tool_calls
                .iter()
                .map(|c| w::ToolCall {
                    id: c.id.clone(),
                    name: c.function.name.clone(),
                    arguments: if c.function.arguments.is_empty() {
                        "{}".into()
                    } else {
                        c.function.arguments.clone()
                    },
                    raw_arguments: None,
                })
                .collect(),
            tool_call_id: m.tool_call_id.clone(),
        });
    }
    let stop = match &req.stop {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(_) => {
            return Err(ApiError::invalid(
                "stop must be a string or an array of strings",
            ));
        }
    };
    let tool_choice = match &req.tool_choice {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "auto" => w::ToolChoice::Auto,
            "none" => w::ToolChoice::None,
            "required" => w::ToolChoice::Required,
            other => return Err(ApiError::invalid(format!("unknown tool_choice {other:?}"))),
        }),
        Some(v) => match v.pointer("/function/name").and_then(Value::as_str) {
            Some(n) => Some(w::ToolChoice::Named(n.to_owned())),
            None => return Err(ApiError::invalid("tool_choice object needs function.name")),
        },
    };
    let response_format = match &req.response_format {
        None | Some(Value::Null) => None,
        Some(f) => match f.get("type").and_then(Value::as_str) {
            Some("text") => Some(w::ResponseFormat::Text),
            Some("json_object") => Some(w::ResponseFormat::Json),
            Some("json_schema") => {
                let js = f
                    .get("json_schema")
                    .ok_or_else(|| ApiError::invalid("json_schema is missing"))?;
                Some(w::ResponseFormat::JsonSchema(w::JsonSchemaFormat {
                    name: js
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("response")
                        .to_owned(),
                    schema: js
                        .get("schema")
                        .map(Value::to_string)
                        .unwrap_or_else(|| "{}".into()),
                    strict: js.get("strict").and_then(Value::as_bool).unwrap_or(false),
                    description: js
                        .get("description")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                }))
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown response_format type {other:?}"
                )));
            }
        },
    };
    let reasoning_effort = match req.reasoning_effort.as_deref() {
        None => None,
        Some("low" | "minimal") => Some(w::ReasoningEffort::Low),
        Some("medium") => Some(w::ReasoningEffort::Medium),
        Some("high") => Some(w::ReasoningEffort::High),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "unknown reasoning_effort {other:?}"
            )));
        }
    };
    let options = w::RunOptions {
        provider: None,
        timeout_ms: None,
        response_format,
        tools: req
            .tools
            .iter()
            .map(|t| w::ToolDefinition {
                name: t.function.name.clone(),
                description: t.function.description.clone(),
                parameters: t.function.parameters.as_ref().map(Value::to_string),
            })
            .collect(),
        tool_choice,
        max_tokens: req.max_completion_tokens.or(req.max_tokens),
        temperature: req.temperature,
        top_p: req.top_p,
        stop,
        reasoning_effort,
        extra_body: carried.extra_body,
        headers: Vec::new(),
        retry: None,
        fallback: None,
        cache: None,
        cache_key: None,
        caller: caller.or_else(|| carried.typed.user.clone()),
        parallel_tool_calls: carried.typed.parallel_tool_calls,
        presence_penalty: carried.typed.presence_penalty,
        frequency_penalty: carried.typed.frequency_penalty,
        logit_bias: carried.typed.logit_bias,
        seed: carried.typed.seed,
        logprobs: carried.typed.logprobs.then_some(true),
        top_logprobs: carried.typed.top_logprobs,
        end_user: carried.typed.user,
        metadata: carried.typed.metadata,
        service_tier: carried.typed.service_tier,
        request_id: Some(request_id.to_owned()),
    };
    Ok((w::AiInput::Messages(messages), options))
}

pub fn finish_reason(f: Option<&w::FinishReason>) -> Value {
    match f {
        None => Value::Null,
        Some(w::FinishReason::Stop) => json!("stop"),
        Some(w::FinishReason::Length) => json!("length"),
        Some(w::FinishReason::ToolCalls) => json!("tool_calls"),
        Some(w::FinishReason::ContentFilter) => json!("content_filter"),
        Some(w::FinishReason::Other(_)) => json!("stop"),
    }
}

pub fn usage(u: &w::Usage) -> Value {
    json!({
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens.saturating_add(u.output_tokens),
        "prompt_tokens_details": {"cached_tokens": u.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    })
}

fn tool_call_json(c: &w::ToolCall) -> Value {
    json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}})
}

/// Log-probabilities as OpenAI writes them.
pub fn logprobs_json(tokens: &[w::TokenLogprob]) -> Value {
    let one = |token: &str, logprob: f64, bytes: &Option<Vec<u8>>| json!({"token": token, "logprob": logprob, "bytes": bytes});
    Value::Array(
        tokens
            .iter()
            .map(|t| {
                let top: Vec<Value> = t
                    .top
                    .iter()
                    .map(|a| one(&a.token, a.logprob, &a.bytes))
                    .collect();
                json!({"token": t.token, "logprob": t.logprob, "bytes": t.bytes, "top_logprobs": top})
            })
            .collect(),
    )
}

/// A `chat.completion` object.
pub fn completion(id: &str, created: u64, o: &w::AiOutput) -> Value {
    let empty = o.text.is_empty() && (!o.tool_calls.is_empty() || o.refusal.is_some());
    let mut message = json!({
        "role": "assistant",
        "content": if empty { Value::Null } else { json!(o.text) },
        "refusal": o.refusal,
    });
    if !o.tool_calls.is_empty()
        && let Some(m) = message.as_object_mut()
    {
        m.insert(
            "tool_calls".into(),
            Value::Array(o.tool_calls.iter().map(tool_call_json).collect()),
        );
    }
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": o.model,
        "choices": [{"index": 0, "message": message,
                     "logprobs": if o.logprobs.is_empty() { Value::Null } else if o.refusal.is_some() {
                         json!({"content": null, "refusal": logprobs_json(&o.logprobs)})
                     } else {
                         json!({"content": logprobs_json(&o.logprobs), "refusal": null})
                     },
                     "finish_reason": finish_reason(o.finish_reason.as_ref())}],
        "usage": o.usage.as_ref().map(usage),
        "system_fingerprint": null,
    })
}

/// Builds `chat.completion.chunk` objects for one stream.
pub struct Chunker {
    pub id: String,
    pub created: u64,
    pub model: String,
    tool_index: u32,
    /// The model is refusing: log-probabilities belong to the refusal.
    refusing: bool,
}

impl Chunker {
    pub fn new(id: String, created: u64, model: String) -> Self {
        Self {
            id,
            created,
            model,
            tool_index: 0,
            refusing: false,
        }
    }

    pub fn chunk(&self, delta: Value, finish: Value) -> Value {
        json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "system_fingerprint": null,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        })
    }

    pub fn role(&self) -> Value {
        self.chunk(json!({"role": "assistant", "content": ""}), Value::Null)
    }

    pub fn text(&self, t: &str) -> Value {
        self.chunk(json!({"content": t}), Value::Null)
    }

    pub fn reasoning(&self, t: &str) -> Value {
        self.chunk(json!({"reasoning_content": t}), Value::Null)
    }

    pub fn refusal(&mut self, t: &str) -> Value {
        self.refusing = true;
        self.chunk(json!({"refusal": t}), Value::Null)
    }

    /// The log-probabilities of the text (or refusal) just sent.
    pub fn logprobs(&self, tokens: &[w::TokenLogprob]) -> Value {
        let field = if self.refusing { "refusal" } else { "content" };
        json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "system_fingerprint": null,
            "choices": [{"index": 0, "delta": {}, "logprobs": { field: logprobs_json(tokens) }, "finish_reason": null}],
        })
    }

    pub fn tool(&mut self, c: &w::ToolCall) -> Value {
        let index = self.tool_index;
        self.tool_index += 1;
        self.chunk(
            json!({"tool_calls": [{"index": index, "id": c.id, "type": "function",
                                   "function": {"name": c.name, "arguments": c.arguments}}]}),
            Value::Null,
        )
    }

    pub fn usage(&self, u: &w::Usage) -> Value {
        json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "system_fingerprint": null, "choices": [], "usage": usage(u),
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct EmbeddingsRequest {
    pub model: String,
    pub input: Value,
    #[serde(default)]
    pub dimensions: Option<u32>,
    #[serde(default)]
    pub encoding_format: Option<String>,
}

pub fn embed_input(v: &Value) -> Result<Vec<String>, ApiError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) if a.iter().all(Value::is_string) => Ok(a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()),
        _ => Err(ApiError::invalid(
            "input must be a string or an array of strings (token arrays are not supported)",
        )),
    }
}

pub fn embeddings(out: &w::EmbedOutput, base64: bool) -> Value {
    let data: Vec<Value> = out
        .embeddings
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let embedding = if base64 {
                json!(crate::text::f32_base64(e))
            } else {
                json!(e)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let tokens = out.usage.as_ref().map_or(0, |u| u.input_tokens);
    json!({"object": "list", "data": data, "model": out.model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
}
