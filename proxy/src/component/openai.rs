//! OpenAI Chat Completions and Embeddings on the wire ⇄ the gateway's types.

use serde::Deserialize;
use serde_json::{Value, json};

use super::bindings::workkit::ai_gateway::types as w;

#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
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
    #[serde(default)]
    pub seed: Option<i64>,
    #[serde(default)]
    pub n: Option<u32>,
    #[serde(default)]
    pub user: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
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
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            kind: "invalid_request_error",
            code: None,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    pub fn body(&self) -> String {
        json!({"error": {"message": self.message, "type": self.kind, "param": null, "code": self.code}}).to_string()
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
    ApiError {
        status,
        kind,
        code,
        message,
        retry_after_ms: retry,
    }
}

fn text_of(content: Option<&Value>) -> Result<String, ApiError> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut out = String::new();
            for p in parts {
                match p.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        out.push_str(p.get("text").and_then(Value::as_str).unwrap_or(""))
                    }
                    Some(other) => {
                        return Err(ApiError::invalid(format!(
                            "content parts of type {other:?} are not supported"
                        )));
                    }
                    None => return Err(ApiError::invalid("a content part has no type")),
                }
            }
            Ok(out)
        }
        Some(_) => Err(ApiError::invalid(
            "content must be a string or an array of parts",
        )),
    }
}

/// The gateway call for a Chat Completions request.
pub fn to_gateway(
    req: &ChatRequest,
    caller: Option<String>,
) -> Result<(w::AiInput, w::RunOptions), ApiError> {
    if req.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("n > 1 is not supported"));
    }
    let mut messages = Vec::with_capacity(req.messages.len());
    for m in &req.messages {
        let role = match m.role.as_str() {
            "system" | "developer" => w::Role::System,
            "user" => w::Role::User,
            "assistant" => w::Role::Assistant,
            "tool" => w::Role::Tool,
            other => return Err(ApiError::invalid(format!("unknown role {other:?}"))),
        };
        messages.push(w::Message {
            role,
            content: text_of(m.content.as_ref())?,
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
        extra_body: req.seed.map(|s| json!({ "seed": s }).to_string()),
        headers: Vec::new(),
        retry: None,
        fallback: None,
        cache: None,
        cache_key: None,
        caller: caller.or_else(|| req.user.clone()),
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

/// A `chat.completion` object.
pub fn completion(id: &str, created: u64, o: &w::AiOutput) -> Value {
    let mut message = json!({
        "role": "assistant",
        "content": if o.text.is_empty() && !o.tool_calls.is_empty() { Value::Null } else { json!(o.text) },
        "refusal": null,
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
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason(o.finish_reason.as_ref())}],
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
}

impl Chunker {
    pub fn new(id: String, created: u64, model: String) -> Self {
        Self {
            id,
            created,
            model,
            tool_index: 0,
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
