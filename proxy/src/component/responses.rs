//! `POST /v1/responses`, `GET` and `DELETE /v1/responses/{id}`: OpenAI's
//! Responses API as a front door, on the gateway's `run` and `stream`.
//!
//! Every request field is read here, carried to the upstream (only the
//! ones that mean the same in Chat Completions, which is what the gateway
//! speaks to OpenAI-format upstreams) or refused with a 400 naming it.
//! Stored responses (`store`, default true) live in a `wasi:keyvalue`
//! bucket with an expiry, keyed by response id and client, so that
//! `previous_response_id` continues a conversation.

use serde_json::{Map, Value, json};

use super::bindings::wasi::http::types::ResponseOutparam;
use super::bindings::wasi::keyvalue::store;
use super::bindings::workkit::ai_gateway::types as w;
use super::openai::{self, ApiError};
use super::{Ctx, State, config, io, now_secs, state};
use crate::params::{self, Wire};
use crate::text;

/// Fields of the Responses API that Chat Completions (what the gateway
/// sends OpenAI-format upstreams) has no equivalent for, with the value
/// that means "off" when there is one.
const RESPONSES_ONLY: &[(&str, &str)] = &[
    ("background", "false"),
    ("conversation", "absent"),
    ("include", "[]"),
    ("truncation", "\"disabled\""),
    ("max_tool_calls", "absent"),
    ("prompt", "absent"),
    ("context_management", "absent"),
];

fn off(name: &str, v: &Value) -> bool {
    match name {
        "background" => v == &Value::Bool(false),
        "include" => v.as_array().is_some_and(Vec::is_empty),
        "truncation" => v.as_str() == Some("disabled"),
        _ => false,
    }
}

fn random_hex(words: usize) -> String {
    (0..words)
        .map(|_| {
            format!(
                "{:016x}",
                super::bindings::wasi::random::random::get_random_u64()
            )
        })
        .collect()
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_hex(2))
}

fn refuse(param: &str, message: String) -> ApiError {
    ApiError::param(param, &message)
}

fn not_supported(param: &str, why: &str) -> ApiError {
    refuse(
        param,
        format!("`{param}` is not supported by this gateway ({why}); the request was not sent"),
    )
}

/// A request, read: what the gateway call needs and what the response
/// object echoes.
struct Parsed {
    model: String,
    stream: bool,
    store: bool,
    previous: Option<String>,
    instructions: Option<String>,
    /// This request's input, as normalized items (see `normalize_item`).
    items: Vec<Value>,
    tools: Vec<Value>,
    tool_choice: Value,
    text: Value,
    reasoning: Value,
    metadata: Value,
    temperature: Option<f64>,
    top_p: Option<f64>,
    max_output_tokens: Option<u32>,
    user: Value,
    parallel_tool_calls: Value,
    extra: Map<String, Value>,
    effort: Option<w::ReasoningEffort>,
    format: Option<w::ResponseFormat>,
    choice: Option<w::ToolChoice>,
    definitions: Vec<w::ToolDefinition>,
    strict_tools: bool,
}

/// Set `key` of a JSON object (a no-op on anything else).
fn set(v: &mut Value, key: &str, value: Value) {
    if let Some(m) = v.as_object_mut() {
        m.insert(key.to_owned(), value);
    }
}

fn field(v: &Value, key: &str) -> Value {
    v.get(key).cloned().unwrap_or(Value::Null)
}

fn take(body: &mut Map<String, Value>, key: &str) -> Option<Value> {
    body.remove(key).filter(|v| !v.is_null())
}

fn as_f64(v: Option<Value>, name: &str) -> Result<Option<f64>, ApiError> {
    v.map(|v| {
        v.as_f64()
            .ok_or_else(|| refuse(name, format!("`{name}` must be a number")))
    })
    .transpose()
}

fn parse(mut body: Map<String, Value>) -> Result<Parsed, ApiError> {
    let model = match take(&mut body, "model") {
        Some(Value::String(m)) if !m.is_empty() => m,
        _ => return Err(refuse("model", "`model` is required (a string)".into())),
    };
    let stream = match take(&mut body, "stream") {
        None => false,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(refuse("stream", "`stream` must be a boolean".into())),
    };
    if let Some(o) = take(&mut body, "stream_options") {
        let Some(map) = o.as_object() else {
            return Err(refuse(
                "stream_options",
                "`stream_options` must be an object".into(),
            ));
        };
        for (k, v) in map {
            if !(v.is_null() || (k == "include_obfuscation" && v == &Value::Bool(false))) {
                return Err(not_supported(
                    &format!("stream_options.{k}"),
                    "the proxy writes the events itself and adds no obfuscation",
                ));
            }
        }
    }
    let store = match take(&mut body, "store") {
        None => true,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(refuse("store", "`store` must be a boolean".into())),
    };
    let previous = match take(&mut body, "previous_response_id") {
        None => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            return Err(refuse(
                "previous_response_id",
                "`previous_response_id` must be a string".into(),
            ));
        }
    };
    let instructions = match take(&mut body, "instructions") {
        None => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            return Err(not_supported(
                "instructions",
                "only a string is accepted as instructions",
            ));
        }
    };
    let items = match take(&mut body, "input") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![json!({"type": "message", "role": "user", "content": s})],
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, item)| normalize_item(item, &format!("input[{i}]")))
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(refuse(
                "input",
                "`input` must be a string or a list of items".into(),
            ));
        }
    };
    let metadata = match take(&mut body, "metadata") {
        None => Value::Null,
        Some(Value::Object(m)) if m.values().all(Value::is_string) => Value::Object(m),
        Some(_) => {
            return Err(refuse(
                "metadata",
                "`metadata` must be an object of string values".into(),
            ));
        }
    };
    let temperature = as_f64(take(&mut body, "temperature"), "temperature")?;
    let top_p = as_f64(take(&mut body, "top_p"), "top_p")?;
    let max_output_tokens = match take(&mut body, "max_output_tokens") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    refuse(
                        "max_output_tokens",
                        "`max_output_tokens` must be a positive integer".into(),
                    )
                })?,
        ),
    };

    // Tools.
    let mut tools = Vec::new();
    let mut definitions = Vec::new();
    let mut strict_tools = false;
    match take(&mut body, "tools") {
        None => {}
        Some(Value::Array(a)) => {
            for (i, t) in a.iter().enumerate() {
                let param = format!("tools[{i}]");
                let kind = t.get("type").and_then(Value::as_str).unwrap_or("");
                if kind != "function" {
                    return Err(not_supported(
                        &format!("{param}.type"),
                        &format!(
                            "tool type {kind:?}: only `function` tools can be carried; \
                             OpenAI's built-in tools exist only in its own Responses API"
                        ),
                    ));
                }
                let Some(name) = t.get("name").and_then(Value::as_str) else {
                    return Err(refuse(
                        &format!("{param}.name"),
                        "a function tool needs a `name`".into(),
                    ));
                };
                for k in t.as_object().into_iter().flat_map(Map::keys) {
                    if !matches!(
                        k.as_str(),
                        "type" | "name" | "description" | "parameters" | "strict"
                    ) {
                        return Err(not_supported(&format!("{param}.{k}"), "unknown tool field"));
                    }
                }
                let description = t.get("description").and_then(Value::as_str);
                let parameters = t.get("parameters").filter(|p| !p.is_null());
                let strict = t.get("strict").and_then(Value::as_bool).unwrap_or(false);
                strict_tools |= strict;
                definitions.push(w::ToolDefinition {
                    name: name.to_owned(),
                    description: description.map(str::to_owned),
                    parameters: parameters.map(Value::to_string),
                });
                tools.push(json!({
                    "type": "function", "name": name, "description": description,
                    "parameters": parameters, "strict": t.get("strict").and_then(Value::as_bool),
                }));
            }
        }
        Some(_) => return Err(refuse("tools", "`tools` must be a list".into())),
    }
    let (tool_choice, choice) = match take(&mut body, "tool_choice") {
        None => (json!("auto"), None),
        Some(Value::String(s)) => {
            let c = match s.as_str() {
                "auto" => w::ToolChoice::Auto,
                "none" => w::ToolChoice::None,
                "required" => w::ToolChoice::Required,
                other => {
                    return Err(refuse(
                        "tool_choice",
                        format!("unknown `tool_choice` {other:?}"),
                    ));
                }
            };
            (json!(s), Some(c))
        }
        Some(v) => match (
            v.get("type").and_then(Value::as_str),
            v.get("name").and_then(Value::as_str),
        ) {
            (Some("function"), Some(n)) => (
                json!({"type": "function", "name": n}),
                Some(w::ToolChoice::Named(n.to_owned())),
            ),
            (t, _) => {
                return Err(not_supported(
                    "tool_choice",
                    &format!(
                        "tool_choice of type {:?}: only auto, none, required and \
                         {{\"type\": \"function\", \"name\"}} can be carried",
                        t.unwrap_or("")
                    ),
                ));
            }
        },
    };

    // text: format and verbosity.
    let mut extra = Map::new();
    let mut format = None;
    let mut text_echo = json!({"format": {"type": "text"}});
    if let Some(t) = take(&mut body, "text") {
        let Some(map) = t.as_object() else {
            return Err(refuse("text", "`text` must be an object".into()));
        };
        for (k, v) in map {
            if v.is_null() {
                continue;
            }
            match k.as_str() {
                "format" => {
                    format = Some(text_format(v)?);
                    set(&mut text_echo, "format", v.clone());
                }
                // Chat Completions' `verbosity` means the same.
                "verbosity" => {
                    extra.insert("verbosity".into(), v.clone());
                    set(&mut text_echo, "verbosity", v.clone());
                }
                other => {
                    return Err(not_supported(
                        &format!("text.{other}"),
                        "unknown text option",
                    ));
                }
            }
        }
    }

    // reasoning: effort (and summary "auto": reasoning is returned when the
    // provider returns it).
    let mut effort = None;
    let mut reasoning = json!({"effort": null, "summary": null});
    if let Some(r) = take(&mut body, "reasoning") {
        let Some(map) = r.as_object() else {
            return Err(refuse("reasoning", "`reasoning` must be an object".into()));
        };
        for (k, v) in map {
            if v.is_null() {
                continue;
            }
            match (k.as_str(), v.as_str()) {
                ("effort", Some(e)) => {
                    effort = Some(match e {
                        "low" | "minimal" => w::ReasoningEffort::Low,
                        "medium" => w::ReasoningEffort::Medium,
                        "high" => w::ReasoningEffort::High,
                        other => {
                            return Err(refuse(
                                "reasoning.effort",
                                format!(
                                    "`reasoning.effort` {other:?} is not supported by this gateway (low, minimal, medium, high)"
                                ),
                            ));
                        }
                    });
                    set(&mut reasoning, "effort", v.clone());
                }
                ("summary", Some("auto")) => set(&mut reasoning, "summary", v.clone()),
                _ => {
                    return Err(not_supported(
                        &format!("reasoning.{k}"),
                        "accepted: `effort`, and `summary` = \"auto\"",
                    ));
                }
            }
        }
    }

    // Responses-only fields: refused unless off.
    for (name, neutral) in RESPONSES_ONLY {
        if let Some(v) = take(&mut body, name)
            && !off(name, &v)
        {
            return Err(not_supported(
                name,
                &format!("a Responses-only feature the gateway cannot carry, accepted: {neutral}"),
            ));
        }
    }
    let user = body.get("user").cloned().unwrap_or(Value::Null);
    let parallel_tool_calls = body
        .get("parallel_tool_calls")
        .cloned()
        .unwrap_or(Value::Bool(true));
    // What is left (user, parallel_tool_calls, service_tier,
    // safety_identifier, prompt_cache_key, prompt_cache_retention,
    // top_logprobs, the SDK's extra_body keys) means the same in Chat
    // Completions: `params::carry` forwards or refuses it.
    extra.extend(body);
    Ok(Parsed {
        model,
        stream,
        store,
        previous,
        instructions,
        items,
        tools,
        tool_choice,
        text: text_echo,
        reasoning,
        metadata,
        temperature,
        top_p,
        max_output_tokens,
        user,
        parallel_tool_calls,
        extra,
        effort,
        format,
        choice,
        definitions,
        strict_tools,
    })
}

fn text_format(f: &Value) -> Result<w::ResponseFormat, ApiError> {
    match f.get("type").and_then(Value::as_str) {
        Some("text") => Ok(w::ResponseFormat::Text),
        Some("json_object") => Ok(w::ResponseFormat::Json),
        Some("json_schema") => Ok(w::ResponseFormat::JsonSchema(w::JsonSchemaFormat {
            name: f
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("response")
                .to_owned(),
            schema: f
                .get("schema")
                .map(Value::to_string)
                .unwrap_or_else(|| "{}".into()),
            strict: f.get("strict").and_then(Value::as_bool).unwrap_or(false),
            description: f
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })),
        other => Err(refuse(
            "text.format.type",
            format!("unknown `text.format.type` {other:?} (text, json_object, json_schema)"),
        )),
    }
}

/// A message's content as stored: a string when it is all text, else its
/// parts normalized (`input_text` {text}, `input_image` {image_url,
/// detail}, `input_file` {file_data, filename}).
fn content_norm(content: Option<&Value>, param: &str) -> Result<Value, ApiError> {
    let Some(Value::Array(parts)) = content else {
        return content_text(content, param).map(Value::String);
    };
    let text_only = parts.iter().all(|p| {
        matches!(
            p.get("type").and_then(Value::as_str),
            Some("input_text" | "output_text" | "text")
        )
    });
    if text_only {
        return content_text(content, param).map(Value::String);
    }
    let mut out = Vec::with_capacity(parts.len());
    for (j, p) in parts.iter().enumerate() {
        let at = format!("{param}[{j}]");
        let field = |k: &str| p.get(k).and_then(Value::as_str);
        out.push(match p.get("type").and_then(Value::as_str) {
            Some("input_text" | "output_text" | "text") => {
                json!({"type": "input_text", "text": field("text").unwrap_or("")})
            }
            Some("input_image") => {
                if p.get("file_id").is_some_and(|v| !v.is_null()) {
                    return Err(not_supported(
                        &format!("{at}.file_id"),
                        "`file_id` names a file in OpenAI's file store, which this gateway \
                         cannot reach: send `image_url` (a URL or a data: URL)",
                    ));
                }
                let url = field("image_url").ok_or_else(|| {
                    refuse(
                        &format!("{at}.image_url"),
                        format!("`{at}.image_url` is required (a URL or a data: URL)"),
                    )
                })?;
                let detail = field("detail").unwrap_or("auto");
                if !matches!(detail, "auto" | "low" | "high") {
                    return Err(refuse(
                        &format!("{at}.detail"),
                        format!("`{at}.detail` must be auto, low or high"),
                    ));
                }
                json!({"type": "input_image", "image_url": url, "detail": detail})
            }
            Some("input_file") => {
                let data = field("file_data")
                    .filter(|d| d.starts_with("data:"))
                    .ok_or_else(|| {
                        not_supported(
                            &format!("{at}.file_data"),
                            "files are carried inline only: `file_data` as a base64 data: URL \
                         (`file_id` and `file_url` name files this gateway cannot reach)",
                        )
                    })?;
                json!({"type": "input_file", "file_data": data, "filename": field("filename")})
            }
            other => {
                return Err(not_supported(
                    &format!("{at}.type"),
                    &format!(
                        "content part {:?} cannot be carried (text, input_image, input_file can)",
                        other.unwrap_or("")
                    ),
                ));
            }
        });
    }
    Ok(Value::Array(out))
}

/// A stored content value as the gateway's content.
fn content_of(v: &Value) -> w::Content {
    let Value::Array(parts) = v else {
        return w::Content::Text(v.as_str().unwrap_or("").to_owned());
    };
    let s = |p: &Value, k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    w::Content::Parts(
        parts
            .iter()
            .map(|p| match p.get("type").and_then(Value::as_str) {
                Some("input_image") => w::ContentPart::Image(w::ImagePart {
                    source: w::ImageSource::Url(s(p, "image_url")),
                    detail: match p.get("detail").and_then(Value::as_str) {
                        Some("low") => Some(w::ImageDetail::Low),
                        Some("high") => Some(w::ImageDetail::High),
                        _ => None,
                    },
                    cache_control: None,
                }),
                Some("input_file") => {
                    let data = s(p, "file_data");
                    let (media_type, base64) = data
                        .strip_prefix("data:")
                        .and_then(|r| r.split_once(','))
                        .map(|(h, d)| (h.trim_end_matches(";base64").to_owned(), d.to_owned()))
                        .unwrap_or_default();
                    w::ContentPart::Document(w::DocumentPart {
                        document: w::Media { media_type, base64 },
                        title: p.get("filename").and_then(Value::as_str).map(str::to_owned),
                        cache_control: None,
                    })
                }
                _ => w::ContentPart::Text(w::TextPart {
                    text: s(p, "text"),
                    cache_control: None,
                }),
            })
            .collect(),
    )
}

/// The text of a message's content (a string or text parts).
fn content_text(content: Option<&Value>, param: &str) -> Result<String, ApiError> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut out = String::new();
            for (j, p) in parts.iter().enumerate() {
                match p.get("type").and_then(Value::as_str) {
                    Some("input_text" | "output_text" | "text") => {
                        out.push_str(p.get("text").and_then(Value::as_str).unwrap_or(""));
                    }
                    other => {
                        return Err(not_supported(
                            &format!("{param}[{j}].type"),
                            &format!(
                                "content part {:?}: only text parts can be carried here",
                                other.unwrap_or("")
                            ),
                        ));
                    }
                }
            }
            Ok(out)
        }
        Some(_) => Err(refuse(
            param,
            format!("`{param}` must be a string or a list of parts"),
        )),
    }
}

fn str_field<'a>(item: &'a Value, key: &str, param: &str) -> Result<&'a str, ApiError> {
    item.get(key).and_then(Value::as_str).ok_or_else(|| {
        refuse(
            &format!("{param}.{key}"),
            format!("`{param}.{key}` is required (a string)"),
        )
    })
}

/// One input item, validated, as the proxy stores it: `message` with
/// `role` and string `content`, `function_call` with `call_id`, `name`,
/// `arguments`, `function_call_output` with `call_id` and string `output`.
fn normalize_item(item: &Value, param: &str) -> Result<Value, ApiError> {
    let kind = item
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    match kind {
        "message" => {
            let role = str_field(item, "role", param)?;
            if !matches!(role, "user" | "assistant" | "system" | "developer") {
                return Err(refuse(
                    &format!("{param}.role"),
                    format!(
                        "`{param}.role` {role:?} is not a role (user, assistant, system, developer)"
                    ),
                ));
            }
            let content = content_norm(item.get("content"), &format!("{param}.content"))?;
            Ok(json!({"type": "message", "role": role, "content": content}))
        }
        "function_call" => Ok(json!({
            "type": "function_call",
            "call_id": str_field(item, "call_id", param)?,
            "name": str_field(item, "name", param)?,
            "arguments": item.get("arguments").and_then(Value::as_str).unwrap_or("{}"),
        })),
        "function_call_output" => {
            let output = match item.get("output") {
                Some(Value::String(s)) => s.clone(),
                o @ Some(Value::Array(_)) => content_text(o, &format!("{param}.output"))?,
                _ => {
                    return Err(refuse(
                        &format!("{param}.output"),
                        format!("`{param}.output` is required (a string or text parts)"),
                    ));
                }
            };
            Ok(json!({
                "type": "function_call_output",
                "call_id": str_field(item, "call_id", param)?,
                "output": output,
            }))
        }
        other => Err(not_supported(
            &format!("{param}.type"),
            &format!(
                "input item {other:?}: the gateway carries messages, function_call and \
                 function_call_output items"
            ),
        )),
    }
}

/// The gateway messages of a conversation of normalized items.
fn messages(instructions: Option<&str>, items: &[Value]) -> Vec<w::Message> {
    let msg = |role, content: w::Content| w::Message {
        role,
        content,
        cache_control: None,
        tool_calls: Vec::new(),
        tool_call_id: None,
    };
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let mut out: Vec<w::Message> = Vec::new();
    if let Some(i) = instructions {
        out.push(msg(w::Role::System, w::Content::Text(i.to_owned())));
    }
    for item in items {
        match item.get("type").and_then(Value::as_str) {
            Some("function_call") => {
                let call = w::ToolCall {
                    id: s(item, "call_id"),
                    name: s(item, "name"),
                    arguments: s(item, "arguments"),
                    raw_arguments: None,
                };
                // Calls of one turn are one assistant message (with the
                // text before them, if any).
                match out.last_mut() {
                    Some(m) if m.role == w::Role::Assistant => m.tool_calls.push(call),
                    _ => {
                        let mut m = msg(w::Role::Assistant, w::Content::Text(String::new()));
                        m.tool_calls.push(call);
                        out.push(m);
                    }
                }
            }
            Some("function_call_output") => {
                let mut m = msg(w::Role::Tool, w::Content::Text(s(item, "output")));
                m.tool_call_id = Some(s(item, "call_id"));
                out.push(m);
            }
            _ => {
                let role = match item.get("role").and_then(Value::as_str) {
                    Some("assistant") => w::Role::Assistant,
                    Some("system" | "developer") => w::Role::System,
                    _ => w::Role::User,
                };
                out.push(msg(
                    role,
                    content_of(item.get("content").unwrap_or(&Value::Null)),
                ));
            }
        }
    }
    out
}

fn run_options(
    p: &Parsed,
    caller: Option<String>,
    wire: Wire,
    provider: &str,
) -> Result<w::RunOptions, ApiError> {
    let carried = params::carry(&p.extra, wire, provider)
        .map_err(|r| ApiError::param(&r.param, &r.message))?;
    let mut extra: Map<String, Value> = carried
        .extra_body
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default();
    if p.strict_tools {
        if wire != Wire::OpenAi {
            return Err(not_supported(
                "tools.strict",
                &format!(
                    "strict function tools can only be sent to OpenAI-format upstreams, not {provider:?}"
                ),
            ));
        }
        // The gateway's tool definitions have no `strict`; the upstream's
        // `tools` are given whole (extra-body keys win).
        let tools: Vec<Value> = p
            .tools
            .iter()
            .map(|t| {
                let mut f = json!({"name": field(t, "name")});
                for k in ["description", "parameters", "strict"] {
                    if let Some(v) = t.get(k).filter(|v| !v.is_null()) {
                        set(&mut f, k, v.clone());
                    }
                }
                json!({"type": "function", "function": f})
            })
            .collect();
        extra.insert("tools".into(), Value::Array(tools));
    }
    let t = carried.typed;
    Ok(w::RunOptions {
        response_format: p.format.clone(),
        tools: p.definitions.clone(),
        tool_choice: p.choice.clone(),
        max_tokens: p.max_output_tokens,
        temperature: p.temperature,
        top_p: p.top_p,
        reasoning_effort: p.effort,
        extra_body: (!extra.is_empty()).then(|| Value::Object(extra).to_string()),
        caller: caller.or_else(|| t.user.clone()),
        // Responses takes it without tools too, where it does nothing (Chat
        // Completions and the gateway refuse it there): not sent then.
        parallel_tool_calls: t.parallel_tool_calls.filter(|_| !p.definitions.is_empty()),
        presence_penalty: t.presence_penalty,
        frequency_penalty: t.frequency_penalty,
        logit_bias: t.logit_bias,
        seed: t.seed,
        logprobs: t.logprobs.then_some(true),
        top_logprobs: t.top_logprobs,
        end_user: t.user,
        metadata: t.metadata,
        service_tier: t.service_tier,
        ..super::blank_options()
    })
}

// ------------------------------------------------------------ storage

/// The stored responses of one client.
struct Store {
    bucket: store::Bucket,
    client: String,
    ttl: u64,
}

fn store_error(e: &store::Error) -> ApiError {
    let m = match e {
        store::Error::NoSuchStore => "no such store".to_owned(),
        store::Error::AccessDenied => "access denied".to_owned(),
        store::Error::Other(m) => m.clone(),
    };
    ApiError {
        status: 500,
        kind: "server_error",
        code: Some("response_store".into()),
        ..ApiError::invalid(format!("the response store failed: {m}"))
    }
}

fn not_found(id: &str, param: Option<&str>) -> ApiError {
    let what = if param.is_some() {
        "Previous response"
    } else {
        "Response"
    };
    ApiError {
        status: 404,
        code: param.map(|_| "previous_response_not_found".to_owned()),
        param: param.map(str::to_owned),
        ..ApiError::invalid(format!("{what} with id '{id}' not found."))
    }
}

/// Our ids only: anything else cannot be stored, and never reaches a key.
fn valid_id(id: &str) -> bool {
    id.strip_prefix("resp_")
        .is_some_and(|h| !h.is_empty() && h.len() <= 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Store {
    fn open(s: &State, client: Option<&str>) -> Result<Self, ApiError> {
        let (bucket, ttl) = config::responses_store(&s.config);
        let bucket = store::open(&bucket).map_err(|e| store_error(&e))?;
        Ok(Self {
            bucket,
            client: client.unwrap_or("").to_owned(),
            ttl,
        })
    }

    fn key(&self, id: &str) -> String {
        format!("aigw:resp:{id}:{}", self.client)
    }

    /// The live entry for `id`, if any; an expired one is deleted.
    fn get(&self, id: &str) -> Result<Option<Value>, ApiError> {
        if !valid_id(id) {
            return Ok(None);
        }
        let key = self.key(id);
        let Some(bytes) = self.bucket.get(&key).map_err(|e| store_error(&e))? else {
            return Ok(None);
        };
        let entry: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let live = entry
            .get("expires_at")
            .and_then(Value::as_u64)
            .is_some_and(|t| t > now_secs());
        if !live {
            let _ = self.bucket.delete(&key);
            return Ok(None);
        }
        Ok(Some(entry))
    }

    fn put(
        &self,
        id: &str,
        response: &Value,
        items: &[Value],
        conversation: Vec<Value>,
    ) -> Result<(), ApiError> {
        let entry = json!({
            "expires_at": now_secs().saturating_add(self.ttl),
            "response": response,
            "input_items": items.iter().map(listed_item).collect::<Vec<_>>(),
            "conversation": conversation,
        });
        self.bucket
            .set(&self.key(id), entry.to_string().as_bytes())
            .map_err(|e| store_error(&e))
    }

    fn delete(&self, id: &str) -> Result<bool, ApiError> {
        if self.get(id)?.is_none() {
            return Ok(false);
        }
        self.bucket
            .delete(&self.key(id))
            .map_err(|e| store_error(&e))?;
        Ok(true)
    }
}

/// A normalized input item as `GET /v1/responses/{id}/input_items` lists it.
fn listed_item(item: &Value) -> Value {
    let kind = item
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    let mut v = item.clone();
    let id = match kind {
        "function_call" => new_id("fc"),
        "function_call_output" => new_id("fco"),
        _ => {
            let role = item.get("role").and_then(Value::as_str).unwrap_or("user");
            let text = field(item, "content");
            let part = if role == "assistant" {
                json!({"type": "output_text", "text": text, "annotations": []})
            } else {
                json!({"type": "input_text", "text": text})
            };
            set(&mut v, "content", json!([part]));
            new_id("msg")
        }
    };
    set(&mut v, "id", json!(id));
    set(&mut v, "status", json!("completed"));
    v
}

/// One page of a stored response's input items, by the list parameters
/// `limit` (1–100, default 20), `order` (`desc`, the default, or `asc`)
/// and `after` (an item id).
fn items_page(entry: &Value, query: &[(String, String)]) -> Result<Value, ApiError> {
    let mut items: Vec<Value> = entry
        .get("input_items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let (mut limit, mut after) = (20usize, None);
    for (k, v) in query {
        match k.as_str() {
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| refuse("limit", "`limit` must be 1 to 100".into()))?;
            }
            "order" => match v.as_str() {
                "desc" => {}
                "asc" => {}
                _ => return Err(refuse("order", "`order` must be asc or desc".into())),
            },
            "after" => after = Some(v.clone()),
            other => return Err(not_supported(other, "accepted: limit, order, after")),
        }
    }
    // Stored oldest first; `desc` (the default) is newest first.
    if !query.iter().any(|(k, v)| k == "order" && v == "asc") {
        items.reverse();
    }
    if let Some(a) = after {
        let at = items
            .iter()
            .position(|i| i.get("id").and_then(Value::as_str) == Some(a.as_str()))
            .ok_or_else(|| refuse("after", format!("no input item {a:?} in this response")))?;
        items.drain(..=at);
    }
    let has_more = items.len() > limit;
    items.truncate(limit);
    let id = |i: Option<&Value>| i.and_then(|i| i.get("id")).cloned().unwrap_or(Value::Null);
    Ok(json!({
        "object": "list",
        "data": items,
        "first_id": id(items.first()),
        "last_id": id(items.last()),
        "has_more": has_more,
    }))
}

/// The conversation a stored response continues: its input and output.
fn conversation_after(items: &[Value], output: &[Value]) -> Vec<Value> {
    let mut c = items.to_vec();
    for o in output {
        match o.get("type").and_then(Value::as_str) {
            Some("message") => {
                let text: String = o
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect();
                // An empty answer is no turn (Anthropic refuses empty content).
                if !text.is_empty() {
                    c.push(json!({"type": "message", "role": "assistant", "content": text}));
                }
            }
            Some("function_call") => c.push(json!({
                "type": "function_call", "call_id": field(o, "call_id"), "name": field(o, "name"), "arguments": field(o, "arguments"),
            })),
            // Reasoning is not sent back (the gateway's messages cannot carry it).
            _ => {}
        }
    }
    c
}

// ------------------------------------------------------------ the response object

fn usage(u: &w::Usage) -> Value {
    json!({
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cache_read_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.input_tokens.saturating_add(u.output_tokens),
    })
}

/// `status` and `incomplete_details` for a finish reason.
fn outcome(f: Option<&w::FinishReason>) -> (&'static str, Value) {
    match f {
        Some(w::FinishReason::Length) => ("incomplete", json!({"reason": "max_output_tokens"})),
        Some(w::FinishReason::ContentFilter) => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    }
}

struct Head<'a> {
    p: &'a Parsed,
    id: String,
    created: u64,
    stored: bool,
}

impl Head<'_> {
    fn response(
        &self,
        status: &str,
        output: Vec<Value>,
        usage: Value,
        incomplete: Value,
        error: Value,
    ) -> Value {
        let p = self.p;
        json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "background": false,
            "error": error,
            "incomplete_details": incomplete,
            "instructions": p.instructions,
            "max_output_tokens": p.max_output_tokens,
            "max_tool_calls": null,
            "model": p.model,
            "output": output,
            "parallel_tool_calls": p.parallel_tool_calls,
            "previous_response_id": p.previous,
            "reasoning": p.reasoning,
            "service_tier": p.extra.get("service_tier").cloned().unwrap_or(json!("default")),
            "store": self.stored,
            "temperature": p.temperature,
            "text": p.text,
            "tool_choice": p.tool_choice,
            "tools": p.tools,
            "top_logprobs": 0,
            "top_p": p.top_p,
            "truncation": "disabled",
            "usage": usage,
            "user": p.user,
            "metadata": if p.metadata.is_null() { json!({}) } else { p.metadata.clone() },
        })
    }
}

fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({"id": id, "type": "message", "status": status, "role": "assistant",
           "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]})
}

fn reasoning_item(id: &str, text: &str) -> Value {
    json!({"id": id, "type": "reasoning", "summary": [{"type": "summary_text", "text": text}]})
}

fn call_item(id: &str, c: &w::ToolCall, status: &str, arguments: &str) -> Value {
    json!({"id": id, "type": "function_call", "status": status, "call_id": c.id, "name": c.name, "arguments": arguments})
}

fn output_of(o: &w::AiOutput, status: &str) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(r) = o.reasoning.as_deref().filter(|r| !r.is_empty()) {
        out.push(reasoning_item(&new_id("rs"), r));
    }
    // A refusal is the output text, as it was before the gateway typed it.
    let text = match (&o.refusal, o.text.is_empty()) {
        (Some(r), true) => r.as_str(),
        _ => o.text.as_str(),
    };
    if !text.is_empty() || o.tool_calls.is_empty() {
        let s = if status == "completed" {
            "completed"
        } else {
            "incomplete"
        };
        out.push(message_item(&new_id("msg"), text, s));
    }
    for c in &o.tool_calls {
        out.push(call_item(&new_id("fc"), c, "completed", &c.arguments));
    }
    out
}

/// The `error` of a failed response.
fn failure(e: &ApiError) -> Value {
    let code = match e.status {
        429 => "rate_limit_exceeded",
        _ => "server_error",
    };
    json!({"code": code, "message": e.message})
}

// ------------------------------------------------------------ handlers

/// `POST /v1/responses`.
pub(super) fn create(ctx: &Ctx, req: io::Request, out: ResponseOutparam) {
    let prepared = (|| {
        let s = state()?;
        let client = s.authenticate(&req)?;
        let body: Map<String, Value> = serde_json::from_slice(&req.body)
            .map_err(|e| ApiError::invalid(format!("invalid request body: {e}")))?;
        let p = parse(body)?;
        // Without a store to read from, a continuation fails; a response
        // that cannot be stored is answered with `"store": false`.
        let store = match (p.previous.is_some(), p.store) {
            (true, _) => Some(Store::open(&s, client.as_deref())?),
            (false, true) => Store::open(&s, client.as_deref()).ok(),
            (false, false) => None,
        };
        // The stored conversation this request continues.
        let mut conversation = Vec::new();
        if let (Some(prev), Some(st)) = (&p.previous, &store) {
            let entry = st
                .get(prev)?
                .ok_or_else(|| not_found(prev, Some("previous_response_id")))?;
            if let Some(c) = entry.get("conversation").and_then(Value::as_array) {
                conversation.clone_from(c);
            }
        }
        conversation.extend(p.items.iter().cloned());
        let msgs = messages(p.instructions.as_deref(), &conversation);
        if msgs.is_empty() {
            return Err(refuse("input", "`input` is required".into()));
        }
        let gateway = s.gateway(client.as_deref())?;
        let provider = gateway
            .resolve_provider(&p.model, None)
            .map_err(|e| openai::api_error(&e))?;
        let wire = config::wire_of(&s.config, &provider);
        let options = run_options(&p, client.clone(), wire, &provider)?;
        let store = if p.store { store } else { None };
        Ok::<_, ApiError>((
            gateway,
            p,
            w::AiInput::Messages(msgs),
            options,
            store,
            conversation,
        ))
    })();
    let (gateway, p, input, options, store, conversation) = match prepared {
        Ok(x) => x,
        Err(e) => return ctx.send_error(out, &e),
    };
    let mut head = Head {
        p: &p,
        id: new_id("resp"),
        created: now_secs(),
        stored: store.is_some(),
    };
    if !p.stream {
        let o = match gateway.run(&p.model, &input, Some(&options)) {
            Ok(o) => o,
            Err(e) => return ctx.send_error(out, &openai::api_error(&e)),
        };
        let (status, incomplete) = outcome(o.finish_reason.as_ref());
        let output = output_of(&o, status);
        let mut response = head.response(
            status,
            output.clone(),
            o.usage.as_ref().map_or(Value::Null, usage),
            incomplete,
            Value::Null,
        );
        if let Some(st) = &store
            && st
                .put(
                    &head.id,
                    &response,
                    &p.items,
                    conversation_after(&conversation, &output),
                )
                .is_err()
        {
            // The answer is not lost for a failed write; it says it was not stored.
            head.stored = false;
            set(&mut response, "store", json!(false));
        }
        return ctx.send_json(out, &response);
    }
    let stream = match gateway.stream(&p.model, &input, Some(&options)) {
        Ok(s) => s,
        Err(e) => return ctx.send_error(out, &openai::api_error(&e)),
    };
    let Some(mut wr) = ctx.start(
        out,
        200,
        &[
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
        ],
    ) else {
        return;
    };
    let mut ev = Events::new();
    let start = head.response(
        "in_progress",
        Vec::new(),
        Value::Null,
        Value::Null,
        Value::Null,
    );
    let mut alive = wr.write(
        ev.event("response.created", json!({"response": start}))
            .as_bytes(),
    ) && wr.write(
        ev.event("response.in_progress", json!({"response": start}))
            .as_bytes(),
    );
    while alive {
        let Some(event) = stream.next() else { break };
        let frames = match &event {
            w::StreamEvent::Text(t) => ev.text(t),
            w::StreamEvent::Reasoning(r) => ev.reasoning(r),
            w::StreamEvent::ToolUse(c) => ev.tool(c),
            // As in the JSON answer: a refusal is the output text.
            w::StreamEvent::Refusal(r) => ev.text(r),
            // Not asked for: `top_logprobs` alone is refused (the gateway
            // needs `logprobs`), and Responses has no reasoning signatures.
            w::StreamEvent::Logprobs(_)
            | w::StreamEvent::ReasoningSignature(_)
            | w::StreamEvent::ReasoningRedacted(_) => continue,
            w::StreamEvent::Done(d) => {
                let (status, incomplete) = outcome(d.finish_reason.as_ref());
                let mut frames = ev.finish(status);
                let output = ev.output.clone();
                let mut response = head.response(
                    status,
                    output.clone(),
                    d.usage.as_ref().map_or(Value::Null, usage),
                    incomplete,
                    Value::Null,
                );
                if let Some(st) = &store
                    && st
                        .put(
                            &head.id,
                            &response,
                            &p.items,
                            conversation_after(&conversation, &output),
                        )
                        .is_err()
                {
                    head.stored = false;
                    set(&mut response, "store", json!(false));
                }
                let kind = if status == "completed" {
                    "response.completed"
                } else {
                    "response.incomplete"
                };
                frames.push_str(&ev.event(kind, json!({"response": response})));
                wr.write(frames.as_bytes());
                break;
            }
            w::StreamEvent::Error(e) => {
                let e = openai::api_error(e);
                let output = ev.output.clone();
                let response =
                    head.response("failed", output, Value::Null, Value::Null, failure(&e));
                wr.write(
                    ev.event("response.failed", json!({"response": response}))
                        .as_bytes(),
                );
                break;
            }
        };
        alive = wr.write(frames.as_bytes());
    }
    // Dropping the stream closes the upstream connection if the client left.
    drop(stream);
    wr.finish();
}

/// What is open in a stream.
enum Open {
    Nothing,
    Message { id: String, text: String },
    Reasoning { id: String, text: String },
}

/// Writes the semantic events of one stream and keeps its output.
struct Events {
    seq: u64,
    output: Vec<Value>,
    open: Open,
}

impl Events {
    fn new() -> Self {
        Self {
            seq: 0,
            output: Vec::new(),
            open: Open::Nothing,
        }
    }

    fn event(&mut self, kind: &str, fields: Value) -> String {
        let mut v = json!({"type": kind});
        if let (Some(m), Value::Object(f)) = (v.as_object_mut(), fields) {
            m.extend(f);
            m.insert("sequence_number".into(), json!(self.seq));
        }
        self.seq += 1;
        format!("event: {kind}\ndata: {v}\n\n")
    }

    fn index(&self) -> usize {
        self.output.len()
    }

    /// Close what is open; its item joins the output.
    fn close(&mut self, status: &str) -> String {
        let i = self.index();
        match std::mem::replace(&mut self.open, Open::Nothing) {
            Open::Nothing => String::new(),
            Open::Message { id, text } => {
                let part =
                    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []});
                let item = message_item(&id, &text, status);
                let mut s = self.event("response.output_text.done", json!({"item_id": id, "output_index": i, "content_index": 0, "text": text, "logprobs": []}));
                s.push_str(&self.event(
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": i, "content_index": 0, "part": part}),
                ));
                s.push_str(&self.event(
                    "response.output_item.done",
                    json!({"output_index": i, "item": item}),
                ));
                self.output.push(item);
                s
            }
            Open::Reasoning { id, text } => {
                let part = json!({"type": "summary_text", "text": text});
                let item = reasoning_item(&id, &text);
                let mut s = self.event(
                    "response.reasoning_summary_text.done",
                    json!({"item_id": id, "output_index": i, "summary_index": 0, "text": text}),
                );
                s.push_str(&self.event(
                    "response.reasoning_summary_part.done",
                    json!({"item_id": id, "output_index": i, "summary_index": 0, "part": part}),
                ));
                s.push_str(&self.event(
                    "response.output_item.done",
                    json!({"output_index": i, "item": item}),
                ));
                self.output.push(item);
                s
            }
        }
    }

    fn open_message(&mut self) -> String {
        let id = new_id("msg");
        let i = self.index();
        let item = json!({"id": id, "type": "message", "status": "in_progress", "role": "assistant", "content": []});
        let mut s = self.event(
            "response.output_item.added",
            json!({"output_index": i, "item": item}),
        );
        s.push_str(&self.event(
            "response.content_part.added",
            json!({"item_id": id, "output_index": i, "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}}),
        ));
        self.open = Open::Message {
            id,
            text: String::new(),
        };
        s
    }

    fn text(&mut self, t: &str) -> String {
        let mut s = String::new();
        if !matches!(self.open, Open::Message { .. }) {
            s.push_str(&self.close("completed"));
            s.push_str(&self.open_message());
        }
        let i = self.index();
        if let Open::Message { id, text } = &mut self.open {
            text.push_str(t);
            let id = id.clone();
            s.push_str(&self.event("response.output_text.delta", json!({"item_id": id, "output_index": i, "content_index": 0, "delta": t, "logprobs": []})));
        }
        s
    }

    fn reasoning(&mut self, r: &str) -> String {
        let mut s = String::new();
        if !matches!(self.open, Open::Reasoning { .. }) {
            s.push_str(&self.close("completed"));
            let id = new_id("rs");
            let i = self.index();
            s.push_str(&self.event(
                "response.output_item.added",
                json!({"output_index": i, "item": {"id": id, "type": "reasoning", "summary": []}}),
            ));
            s.push_str(&self.event("response.reasoning_summary_part.added", json!({"item_id": id, "output_index": i, "summary_index": 0, "part": {"type": "summary_text", "text": ""}})));
            self.open = Open::Reasoning {
                id,
                text: String::new(),
            };
        }
        let i = self.index();
        if let Open::Reasoning { id, text } = &mut self.open {
            text.push_str(r);
            let id = id.clone();
            s.push_str(&self.event(
                "response.reasoning_summary_text.delta",
                json!({"item_id": id, "output_index": i, "summary_index": 0, "delta": r}),
            ));
        }
        s
    }

    fn tool(&mut self, c: &w::ToolCall) -> String {
        let mut s = self.close("completed");
        let id = new_id("fc");
        let i = self.index();
        s.push_str(&self.event(
            "response.output_item.added",
            json!({"output_index": i, "item": call_item(&id, c, "in_progress", "")}),
        ));
        s.push_str(&self.event(
            "response.function_call_arguments.delta",
            json!({"item_id": id, "output_index": i, "delta": c.arguments}),
        ));
        s.push_str(&self.event(
            "response.function_call_arguments.done",
            json!({"item_id": id, "output_index": i, "name": c.name, "arguments": c.arguments}),
        ));
        let item = call_item(&id, c, "completed", &c.arguments);
        s.push_str(&self.event(
            "response.output_item.done",
            json!({"output_index": i, "item": item}),
        ));
        self.output.push(item);
        s
    }

    /// Close the last item; an answer with no output at all gets an empty
    /// message, as the non-streaming one does.
    fn finish(&mut self, status: &str) -> String {
        let item_status = if status == "completed" {
            "completed"
        } else {
            "incomplete"
        };
        let mut s = String::new();
        if self.output.is_empty() && matches!(self.open, Open::Nothing) {
            s.push_str(&self.open_message());
        }
        s.push_str(&self.close(item_status));
        s
    }
}

/// `GET /v1/responses/{id}`, `GET /v1/responses/{id}/input_items` and
/// `DELETE /v1/responses/{id}`.
pub(super) fn by_id(ctx: &Ctx, req: &io::Request, out: ResponseOutparam, delete: bool) {
    let result = (|| {
        let s = state()?;
        let client = s.authenticate(req)?;
        let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
        let query: Vec<(String, String)> = query
            .split('&')
            .filter(|q| !q.is_empty())
            .map(|q| {
                let (k, v) = q.split_once('=').unwrap_or((q, ""));
                (text::percent_decode(k), text::percent_decode(v))
            })
            .collect();
        let rest = path.get("/v1/responses/".len()..).unwrap_or("");
        let (id, items) = match rest.strip_suffix("/input_items") {
            Some(id) if !delete => (text::percent_decode(id), true),
            _ => (text::percent_decode(rest), false),
        };
        if !items && let Some((k, _)) = query.first() {
            return Err(not_supported(k, "query parameters are not supported here"));
        }
        let st = Store::open(&s, client.as_deref())?;
        if delete {
            if st.delete(&id)? {
                return Ok(json!({"id": id, "object": "response", "deleted": true}));
            }
            return Err(not_found(&id, None));
        }
        let entry = st.get(&id)?.ok_or_else(|| not_found(&id, None))?;
        if items {
            return items_page(&entry, &query);
        }
        entry
            .get("response")
            .cloned()
            .ok_or_else(|| not_found(&id, None))
    })();
    match result {
        Ok(v) => ctx.send_json(out, &v),
        Err(e) => ctx.send_error(out, &e),
    }
}
