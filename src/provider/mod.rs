//! Provider wire formats, sans IO: build the HTTP request for a call, parse
//! the response, decode a stream. This file dispatches on the wire format
//! and does what is the same for all (headers of the endpoint and the call,
//! `extra-body`, the body size limit, error bodies sent with a 2xx).
//!
//! The rule: a provider module owns everything it knows about its provider
//! (ADR 0014). Where to look:
//!
//! | what | file |
//! |---|---|
//! | a provider's defaults: base URL, API version, paths, how the key is sent, Cloudflare AI Gateway slug | `<provider>/defaults.rs` (the shape: `defaults.rs`) |
//! | building a chat or embeddings request, parsing its answer | `<provider>/mod.rs` |
//! | its request and response serde types | `<provider>/wire.rs` |
//! | its stream decoder (`OpenAiStream`, `AnthropicStream`, `WorkersAiStream`, `GeminiStream`, `BedrockStream`) | `<provider>/stream.rs`; the pump that drives it is `src/stream.rs`, the SSE framing `src/sse.rs`, AWS's event-stream framing `bedrock/eventstream.rs` |
//! | SigV4 signing (Bedrock) | `bedrock/sigv4.rs`; applied when sent, [`signed`] |
//! | the OpenAI-compatible presets (Groq, Mistral, ...): base URLs, refused options, differences | `presets.rs` |
//! | Azure OpenAI's and Vertex AI's own parts (URLs, keys; Vertex embeddings) | `azure/`, `vertex/` |
//! | the OpenAI chat-completion parser, usage and finish reasons, JSON-mode instruction (shared with Workers AI) | `openai_compat.rs` |
//! | Cloudflare's Universal Endpoint request (`run-fallback`) and `cf-aig-step` | `universal.rs` (the call flow: `engine/universal.rs`) |
//! | error statuses and bodies to error kinds | `error_map.rs` |
//! | the chat call, the stream decoder trait, `ProviderRequest`, JSON helpers | `common.rs` |
//! | resolving a provider's configuration into an `Endpoint` | `config.rs` (`Endpoint::resolve`, which asks `ProviderKind::defaults`) |
//!
//! `<provider>` is `openai/` (OpenAI, Azure OpenAI and every compatible
//! server), `anthropic/` (also Claude on Vertex AI), `workers_ai/`,
//! `gemini/` (also Gemini on Vertex AI) or `bedrock/`; each one's tests sit
//! next to the code (`tests.rs`, `stream/tests.rs`).

pub mod anthropic;
pub mod azure;
pub mod bedrock;
mod common;
pub mod defaults;
mod error_map;
pub mod gemini;
pub mod openai;
mod openai_compat;
pub mod presets;
pub mod universal;
pub mod vertex;
pub mod workers_ai;

#[cfg(test)]
mod fixture_tests;

pub use common::{ChatCall, Embeddings, JSON_TOOL, StreamDecoder};
pub use error_map::{map_error, map_stream_error};

use common::bad_body;

use crate::config::{Endpoint, ProviderKind, WireFormat};
use crate::error::{GatewayError, Result, UpstreamDetail};
use crate::http::{HttpRequest, MAX_REQUEST_BODY, ResponseHead};
use crate::types::{Completion, EmbedOptions};
use crate::validate::check_header;

/// Build the upstream request for a chat call.
pub fn build_chat(call: &ChatCall<'_>) -> Result<HttpRequest> {
    let req = match call.endpoint.wire {
        WireFormat::OpenAi => openai::chat_request(call)?,
        WireFormat::Anthropic => anthropic::chat_request(call)?,
        WireFormat::WorkersAi => workers_ai::chat_request(call)?,
        WireFormat::Gemini => gemini::chat_request(call)?,
        WireFormat::Bedrock => bedrock::chat_request(call)?,
    };
    finish(req, call, call.options.extra_body.as_deref())
}

/// Build the upstream request that counts a chat call's input tokens. Only
/// Anthropic's Messages API has a counting endpoint; another wire format is
/// `validation`. Of `extra-body` only the keys that endpoint takes are
/// merged (`anthropic::COUNT_EXTRA_KEYS`).
pub fn build_count(call: &ChatCall<'_>) -> Result<HttpRequest> {
    if call.endpoint.wire != WireFormat::Anthropic {
        return Err(GatewayError::validation(format!(
            "provider {:?} cannot count tokens: only the Anthropic Messages API has a \
             counting endpoint",
            call.endpoint.name
        )));
    }
    let req = anthropic::count_request(call)?;
    let extra = match call.options.extra_body.as_deref() {
        None => None,
        Some(e) => {
            let mut e = crate::types::parse_json_object(e, "extra-body")?;
            if let Some(map) = e.as_object_mut() {
                map.retain(|k, _| anthropic::COUNT_EXTRA_KEYS.contains(&k.as_str()));
            }
            Some(e.to_string())
        }
    };
    finish(req, call, extra.as_deref())
}

/// A provider's request as sent: `extra` merged into the body, the
/// endpoint's headers, then the call's (which win), and the size bound.
fn finish(
    req: common::ProviderRequest,
    call: &ChatCall<'_>,
    extra: Option<&str>,
) -> Result<HttpRequest> {
    let body = merge_extra_body(req.body, extra)?;
    let mut headers = req.headers.into_vec();
    headers.extend(call.endpoint.headers.iter().cloned());
    for (k, v) in &call.options.headers {
        check_header(k, v)?;
        let k = k.to_ascii_lowercase();
        headers.retain(|(have, _)| *have != k);
        headers.push((k, v.clone()));
    }
    bounded(HttpRequest::post_json(req.url, headers, &body))
}

/// Parse a successful count response: `{"input_tokens": n}`.
pub fn parse_count(body: &[u8]) -> Result<u64> {
    anthropic::parse_count(body)
}

/// Refuse a request body over [`MAX_REQUEST_BODY`] before it is sent.
fn bounded(req: HttpRequest) -> Result<HttpRequest> {
    if req.body.len() > MAX_REQUEST_BODY {
        return Err(GatewayError::validation(format!(
            "the request body is {} bytes; the limit is {MAX_REQUEST_BODY}",
            req.body.len()
        )));
    }
    Ok(req)
}

/// Parse a successful (2xx) chat response body.
pub fn parse_chat(wire: WireFormat, body: &[u8]) -> Result<Completion> {
    match wire {
        WireFormat::OpenAi => openai_compat::parse_chat(body),
        WireFormat::Anthropic => anthropic::parse_chat(body),
        WireFormat::WorkersAi => workers_ai::parse_chat(body),
        WireFormat::Gemini => gemini::parse_chat(body),
        WireFormat::Bedrock => bedrock::parse_chat(body),
    }
}

/// `req` as it is sent to `endpoint` at `now_ms`: signed with SigV4 when
/// the endpoint signs (Bedrock with AWS credentials), else `None` (send it
/// as it is).
pub fn signed(endpoint: &Endpoint, req: &HttpRequest, now_ms: u64) -> Result<Option<HttpRequest>> {
    match endpoint.wire {
        WireFormat::Bedrock => bedrock::signed(endpoint, req, now_ms),
        _ => Ok(None),
    }
}

/// Parse a 2xx chat response as the gateway received it. An HTML page or
/// an event stream where JSON was expected is an error naming the
/// content type; a body that is the provider's error object (some servers
/// send errors with 200) is that error, typed by its type or code.
pub fn parse_chat_reply(
    endpoint: &Endpoint,
    head: &ResponseHead,
    body: &[u8],
) -> Result<Completion> {
    unexpected_content_type(head, body, &["text/html", "text/event-stream"])?;
    match parse_chat(endpoint.wire, body) {
        Err(e) => Err(error_in_body(body, &endpoint.name).unwrap_or(e)),
        // An error object can parse as an empty answer (Anthropic's
        // `{"type": "error", ...}` has no required fields missing).
        Ok(c) if c.text.is_empty() && c.tool_calls.is_empty() && c.finish_reason.is_none() => {
            match error_in_body(body, &endpoint.name) {
                Some(e) => Err(e),
                None => Ok(c),
            }
        }
        Ok(c) => Ok(c),
    }
}

/// The media type of a response, lowercase, without parameters.
pub fn media_type(head: &ResponseHead) -> Option<String> {
    head.header("content-type").map(|v| {
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    })
}

/// An `upstream` error when the response's media type is one of `refused`.
pub(crate) fn unexpected_content_type(
    head: &ResponseHead,
    body: &[u8],
    refused: &[&str],
) -> Result<()> {
    match media_type(head) {
        Some(t) if refused.contains(&t.as_str()) => {
            let page = if t == "text/html" {
                " (an HTML page)"
            } else {
                ""
            };
            Err(GatewayError::Upstream(UpstreamDetail {
                message: format!(
                    "expected a JSON response, got content-type {t}{page} with status {}",
                    head.status
                ),
                status: Some(head.status),
                body: crate::http::truncate_body(body, crate::http::ERROR_BODY_LIMIT),
                ..UpstreamDetail::default()
            }))
        }
        _ => Ok(()),
    }
}

/// The provider's error object in a 2xx body (`{"error": ...}`,
/// `{"type": "error", ...}`, Cloudflare's `{"success": false, "errors":
/// [...]}`), mapped as an error inside a stream would be.
pub(crate) fn error_in_body(body: &[u8], provider: &str) -> Option<GatewayError> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let is_error = match v.get("error") {
        Some(serde_json::Value::Object(_) | serde_json::Value::String(_)) => true,
        _ => {
            v.get("success") == Some(&serde_json::Value::Bool(false))
                && v.get("errors")
                    .and_then(serde_json::Value::as_array)
                    .is_some_and(|a| !a.is_empty())
        }
    };
    if !is_error {
        return None;
    }
    let value = match v.get("errors").and_then(serde_json::Value::as_array) {
        Some(errors) if v.get("error").is_none() => {
            serde_json::json!({ "error": errors.first().cloned().unwrap_or_default() })
        }
        _ => v,
    };
    Some(map_stream_error(Some(provider), &value))
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
    let req = match endpoint.wire {
        WireFormat::OpenAi => openai::embed_request(endpoint, model, input, options)?,
        WireFormat::WorkersAi => workers_ai::embed_request(endpoint, model, input)?,
        WireFormat::Gemini if endpoint.kind == ProviderKind::Vertex => {
            vertex::embed_request(endpoint, model, input, options)?
        }
        WireFormat::Gemini => gemini::embed_request(endpoint, model, input, options)?,
        WireFormat::Anthropic | WireFormat::Bedrock => {
            let api = match endpoint.wire {
                WireFormat::Bedrock => "Bedrock Converse API",
                _ => "Anthropic API",
            };
            return Err(GatewayError::validation(format!(
                "provider {:?} speaks the {api}, which has no embeddings endpoint",
                endpoint.name
            )));
        }
    };
    let mut headers = req.headers;
    headers.extend(endpoint.headers.iter().cloned());
    bounded(HttpRequest::post_json(req.url, headers, &req.body))
}

/// Parse a successful embeddings response into vectors (in input order)
/// and usage.
pub fn parse_embed(endpoint: &Endpoint, body: &[u8], expected: usize) -> Result<Embeddings> {
    let parsed = match endpoint.wire {
        WireFormat::OpenAi => openai::parse_embed(body)?,
        WireFormat::WorkersAi => workers_ai::parse_embed(body)?,
        WireFormat::Gemini if endpoint.kind == ProviderKind::Vertex => vertex::parse_embed(body)?,
        WireFormat::Gemini => gemini::parse_embed(body)?,
        WireFormat::Anthropic | WireFormat::Bedrock => {
            return Err(GatewayError::validation(
                "this wire format has no embeddings",
            ));
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

/// Map a non-success response of `endpoint` to the error variant.
pub fn error_for(
    endpoint: &Endpoint,
    head: &ResponseHead,
    body: &[u8],
    now_ms: u64,
) -> GatewayError {
    map_error(&endpoint.name, head, body, now_ms)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderConfig;
    use crate::types::{Input, RunOptions};

    #[test]
    fn build_chat_extra_body_overrides_and_call_headers_win() {
        let mut p = ProviderConfig::new("o", ProviderKind::OpenAi);
        p.headers = vec![("x-team".into(), "a".into())].into();
        let ep = Endpoint::resolve(&p, None).unwrap();
        let opts = RunOptions {
            extra_body: Some(r#"{"seed": 7, "model": "override"}"#.into()),
            headers: vec![("X-Team".into(), "b".into())].into(),
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

    fn head(status: u16, content_type: &str) -> ResponseHead {
        ResponseHead {
            status,
            headers: vec![("content-type".into(), content_type.into())].into(),
        }
    }

    #[test]
    fn parse_chat_reply_error_object_with_200_is_typed() {
        let ep = Endpoint::resolve(&ProviderConfig::new("o", ProviderKind::OpenAi), None).unwrap();
        let body = br#"{"error": {"message": "slow down", "code": "rate_limit_exceeded"}}"#;
        let e = parse_chat_reply(&ep, &head(200, "application/json"), body).unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::RateLimited);
        assert_eq!(e.detail().unwrap().message, "slow down");
        assert_eq!(e.detail().unwrap().provider.as_deref(), Some("o"));
        let mut w = ProviderConfig::new("w", ProviderKind::WorkersAi);
        w.account_id = Some("acc".into());
        let wa = Endpoint::resolve(&w, None).unwrap();
        let body = br#"{"result": null, "success": false, "errors": [{"code": 5007, "message": "No such model"}]}"#;
        let e = parse_chat_reply(&wa, &head(200, "application/json"), body).unwrap_err();
        assert_eq!(e.detail().unwrap().message, "No such model");
        assert_eq!(e.detail().unwrap().code.as_deref(), Some("5007"));
    }

    #[test]
    fn parse_chat_reply_anthropic_error_object_with_200_is_not_an_empty_answer() {
        let ep =
            Endpoint::resolve(&ProviderConfig::new("a", ProviderKind::Anthropic), None).unwrap();
        let body =
            br#"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#;
        let e = parse_chat_reply(&ep, &head(200, "application/json"), body).unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::ServiceUnavailable);
    }

    #[test]
    fn parse_chat_reply_html_or_event_stream_names_the_content_type() {
        let ep = Endpoint::resolve(&ProviderConfig::new("o", ProviderKind::OpenAi), None).unwrap();
        for ct in ["text/html; charset=utf-8", "text/event-stream"] {
            let e = parse_chat_reply(&ep, &head(200, ct), b"<html></html>").unwrap_err();
            let d = e.detail().unwrap();
            assert!(d.message.contains(ct.split(';').next().unwrap()), "{d:?}");
            assert_eq!(d.status, Some(200));
        }
        // A JSON body without a content type still parses.
        let ok = br#"{"choices": [{"index": 0, "message": {"content": "hi"}}]}"#;
        let c = parse_chat_reply(
            &ep,
            &ResponseHead {
                status: 200,
                headers: vec![].into(),
            },
            ok,
        )
        .unwrap();
        assert_eq!(c.text, "hi");
    }

    #[test]
    fn build_embed_anthropic_is_validation() {
        let ep =
            Endpoint::resolve(&ProviderConfig::new("a", ProviderKind::Anthropic), None).unwrap();
        let e = build_embed(&ep, "m", &["x".into()], &EmbedOptions::default()).unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Validation);
    }
}
