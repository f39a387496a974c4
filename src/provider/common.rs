//! What every provider module shares: the chat call they build from, the
//! stream decoder they implement, and the JSON helpers of their wire code.
//! The dispatch over wire formats is `provider/mod.rs`; nothing here names a
//! provider.

use crate::config::Endpoint;
use crate::error::{GatewayError, Result, UpstreamDetail};
use crate::sse::SseEvent;
use crate::types::{Input, RunOptions, StreamEvent, Usage};

/// Everything a provider needs to build one chat request.
#[derive(Debug, Clone, Copy)]
pub struct ChatCall<'a> {
    pub endpoint: &'a Endpoint,
    pub model: &'a str,
    pub input: &'a Input,
    pub options: &'a RunOptions,
    pub stream: bool,
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

/// The id of a tool call the provider gave no id: `aigw_` and the call's
/// position in the response. Providers' own ids never look like this
/// (OpenAI's start `call_`, Anthropic's `toolu_`), so a generated id cannot
/// collide with an id the provider gave another call of the same response.
pub(crate) fn generated_call_id(i: impl std::fmt::Display) -> String {
    format!("aigw_{i}")
}

/// Name of the synthetic tool that carries JSON output for providers without
/// a native JSON mode (Anthropic).
pub const JSON_TOOL: &str = "json_response";
