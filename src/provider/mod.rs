//! Provider wire formats, sans IO: build the HTTP request for a call, parse
//! the response, decode a stream. One folder per wire format; `wire.rs` in
//! each holds its private serde types.

pub mod anthropic;
mod error_map;
pub mod openai;
pub mod workers_ai;

#[cfg(test)]
mod fixture_tests;

pub use error_map::{map_error, map_stream_error};

use crate::config::{Endpoint, WireFormat};
use crate::error::{GatewayError, Result, UpstreamDetail};
use crate::http::{HttpRequest, ResponseHead, check_header};
use crate::sse::SseEvent;
use crate::types::{Completion, EmbedOptions, Input, RunOptions, StreamEvent, Usage};

/// Everything a provider needs to build one chat request.
#[derive(Debug, Clone, Copy)]
pub struct ChatCall<'a> {
    pub endpoint: &'a Endpoint,
    pub model: &'a str,
    pub input: &'a Input,
    pub options: &'a RunOptions,
    pub stream: bool,
}

/// Build the upstream request for a chat call.
pub fn build_chat(call: &ChatCall<'_>) -> Result<HttpRequest> {
    let (url, mut headers, body) = match call.endpoint.wire {
        WireFormat::OpenAi => openai::chat_request(call)?,
        WireFormat::Anthropic => anthropic::chat_request(call)?,
        WireFormat::WorkersAi => workers_ai::chat_request(call)?,
    };
    let body = merge_extra_body(body, call.options.extra_body.as_deref())?;
    headers.extend(call.endpoint.headers.iter().cloned());
    for (k, v) in &call.options.headers {
        check_header(k, v)?;
        let k = k.to_ascii_lowercase();
        headers.retain(|(have, _)| *have != k);
        headers.push((k, v.clone()));
    }
    Ok(HttpRequest::post_json(url, headers, &body))
}

/// Parse a successful (2xx) chat response body.
pub fn parse_chat(wire: WireFormat, body: &[u8]) -> Result<Completion> {
    match wire {
        WireFormat::OpenAi => openai::parse_chat(body),
        WireFormat::Anthropic => anthropic::parse_chat(body),
        WireFormat::WorkersAi => workers_ai::parse_chat(body),
    }
}

/// Build an embeddings request.
pub fn build_embed(
    endpoint: &Endpoint,
    model: &str,
    input: &[String],
    options: &EmbedOptions,
) -> Result<HttpRequest> {
    if input.is_empty() {
        return Err(GatewayError::validation("embed input is empty"));
    }
    let (url, mut headers, body) = match endpoint.wire {
        WireFormat::OpenAi => openai::embed_request(endpoint, model, input, options),
        WireFormat::WorkersAi => workers_ai::embed_request(endpoint, model, input),
        WireFormat::Anthropic => {
            return Err(GatewayError::validation(format!(
                "provider {:?} speaks the Anthropic API, which has no embeddings endpoint",
                endpoint.name
            )));
        }
    };
    headers.extend(endpoint.headers.iter().cloned());
    Ok(HttpRequest::post_json(url, headers, &body))
}

/// Parse a successful embeddings response into vectors (in input order)
/// and usage.
pub fn parse_embed(wire: WireFormat, body: &[u8], expected: usize) -> Result<Embeddings> {
    let parsed = match wire {
        WireFormat::OpenAi => openai::parse_embed(body)?,
        WireFormat::WorkersAi => workers_ai::parse_embed(body)?,
        WireFormat::Anthropic => {
            return Err(GatewayError::validation("anthropic has no embeddings"));
        }
    };
    if parsed.0.len() != expected {
        return Err(bad_body(format!(
            "embeddings response has {} vectors for {expected} inputs",
            parsed.0.len()
        )));
    }
    Ok(parsed)
}

/// A decoder from one provider's SSE events to normalized stream events.
pub trait StreamDecoder: std::fmt::Debug {
    /// Handle one SSE event, pushing zero or more events. A pushed terminal
    /// event ends the stream; the caller ignores anything after it.
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>);

    /// The upstream body ended. Push the terminal event: `done` when the
    /// provider had signalled completion, else an error.
    fn on_eof(&mut self, out: &mut Vec<StreamEvent>);
}

/// The stream decoder for a wire format. `model` is the requested model,
/// used when the provider does not name one.
pub fn stream_decoder(wire: WireFormat, model: &str) -> Box<dyn StreamDecoder + Send> {
    match wire {
        WireFormat::OpenAi => Box::new(openai::StreamState::new(model)),
        WireFormat::Anthropic => Box::new(anthropic::StreamState::new(model)),
        WireFormat::WorkersAi => Box::new(workers_ai::StreamState::new(model)),
    }
}

/// Map a non-success response to the error variant. Re-exported wrapper
/// that also scrubs the endpoint's secrets from what the provider echoed.
pub fn error_for(
    endpoint: &Endpoint,
    head: &ResponseHead,
    body: &[u8],
    now_ms: u64,
) -> GatewayError {
    let mut secrets: Vec<&str> = Vec::new();
    if let Some(k) = &endpoint.api_key {
        secrets.push(k.expose());
    }
    map_error(&endpoint.name, head, body, now_ms, &secrets)
}

/// An error for a 2xx body the gateway cannot understand.
pub(crate) fn bad_body(message: String) -> GatewayError {
    GatewayError::Upstream(UpstreamDetail {
        message,
        ..UpstreamDetail::default()
    })
}

/// Parse a JSON body into `T`, or a typed error quoting the serde message.
pub(crate) fn from_json<'a, T: serde::Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        let mut d = UpstreamDetail::message(format!("{what} is not valid JSON: {e}"));
        d.body = crate::http::truncate_body(body, crate::http::ERROR_BODY_LIMIT);
        GatewayError::Upstream(d)
    })
}

/// Merge `extra` (a JSON object text) into the request body, its keys
/// winning.
fn merge_extra_body(body: serde_json::Value, extra: Option<&str>) -> Result<serde_json::Value> {
    let Some(extra) = extra else { return Ok(body) };
    let extra = crate::types::parse_json_object(extra, "extra-body")?;
    match (body, extra) {
        (serde_json::Value::Object(mut b), serde_json::Value::Object(e)) => {
            for (k, v) in e {
                b.insert(k, v);
            }
            Ok(serde_json::Value::Object(b))
        }
        (b, _) => Ok(b),
    }
}

/// Parse a JSON text the caller gave (schema, tool parameters) into a value,
/// keeping its key order.
pub(crate) fn caller_json(text: Option<&str>, what: &str) -> Result<serde_json::Value> {
    match text {
        Some(t) => crate::types::parse_json_object(t, what),
        None => Ok(serde_json::json!({"type": "object", "properties": {}})),
    }
}

/// Vectors in input order, usage, and the model the provider reported.
pub type Embeddings = (Vec<Vec<f32>>, Option<Usage>, Option<String>);

/// Set `key` on a JSON object (no-op on anything else; never panics, unlike
/// `value[key] = ...`).
pub(crate) fn set_field(v: &mut serde_json::Value, key: &str, value: serde_json::Value) {
    if let Some(obj) = v.as_object_mut() {
        obj.insert(key.to_owned(), value);
    }
}

/// Name of the synthetic tool that carries JSON output for providers without
/// a native JSON mode (Anthropic).
pub const JSON_TOOL: &str = "json_response";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ProviderConfig, ProviderKind};

    #[test]
    fn build_chat_extra_body_overrides_and_call_headers_win() {
        let mut p = ProviderConfig::new("o", ProviderKind::OpenAi);
        p.headers = vec![("x-team".into(), "a".into())];
        let ep = Endpoint::resolve(&p, None).unwrap();
        let opts = RunOptions {
            extra_body: Some(r#"{"seed": 7, "model": "override"}"#.into()),
            headers: vec![("X-Team".into(), "b".into())],
            ..RunOptions::default()
        };
        let input = Input::Prompt("hi".into());
        let req = build_chat(&ChatCall {
            endpoint: &ep,
            model: "m",
            input: &input,
            options: &opts,
            stream: false,
        })
        .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(body["seed"], 7);
        assert_eq!(body["model"], "override");
        assert_eq!(req.header("x-team"), Some("b"));
        assert_eq!(req.headers.iter().filter(|(k, _)| k == "x-team").count(), 1);
    }

    #[test]
    fn build_embed_anthropic_is_validation() {
        let ep =
            Endpoint::resolve(&ProviderConfig::new("a", ProviderKind::Anthropic), None).unwrap();
        let e = build_embed(&ep, "m", &["x".into()], &EmbedOptions::default()).unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Validation);
    }
}
