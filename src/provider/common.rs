//! What every provider module shares: the chat call they build from, the
//! stream decoder they implement, and the JSON helpers of their wire code.
//! The dispatch over wire formats is `provider/mod.rs`; nothing here names a
//! provider.

use serde::Serialize;

use crate::config::Endpoint;
use crate::error::{GatewayError, Result, UpstreamDetail};
use crate::http::Headers;
use crate::sse::SseEvent;
use crate::types::{Input, RunOptions, StreamEvent, ToolDefinition, Usage};

/// Everything a provider needs to build one chat request.
#[derive(Debug, Clone, Copy)]
pub struct ChatCall<'a> {
    pub endpoint: &'a Endpoint,
    pub model: &'a str,
    pub input: &'a Input,
    pub options: &'a RunOptions,
    pub stream: bool,
}

/// The request a provider builds for one call: its URL, its own headers
/// (auth, API version) and its body, serialized from the provider's typed
/// wire struct. `provider::build_chat` then adds the endpoint's and the
/// call's headers and merges the caller's `extra-body`.
#[derive(Debug)]
pub(crate) struct ProviderRequest {
    pub url: String,
    pub headers: Headers,
    pub body: serde_json::Value,
}

impl ProviderRequest {
    pub(crate) fn new(
        url: String,
        headers: impl Into<Headers>,
        body: &impl Serialize,
    ) -> Result<Self> {
        let body = serde_json::to_value(body).map_err(|e| GatewayError::internal(e.to_string()))?;
        Ok(Self {
            url,
            headers: headers.into(),
            body,
        })
    }
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

/// The first typed option of `options` (WIT name, is it set) that is set,
/// as a `validation` error naming it and the provider: the options the
/// provider's API has no field for.
pub(crate) fn refuse_options(provider: &str, label: &str, options: &[(&str, bool)]) -> Result<()> {
    match options.iter().find(|(_, set)| *set) {
        Some((name, _)) => Err(GatewayError::validation(format!(
            "provider {provider:?} ({label}) does not support the option {name}"
        ))),
        None => Ok(()),
    }
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

/// The caller's tools with their parameter schemas parsed (an empty object
/// schema for a tool that gives none; `validation` naming
/// `tools[i].parameters` for one that is not a JSON object), in order: what
/// every provider maps into its own tool declaration.
pub(crate) fn tool_schemas(
    tools: &[ToolDefinition],
) -> Result<Vec<(&ToolDefinition, serde_json::Value)>> {
    tools
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let schema = caller_json(t.parameters.as_deref(), &format!("tools[{i}].parameters"))?;
            Ok((t, schema))
        })
        .collect()
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
