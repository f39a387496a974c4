//! A Spin HTTP app written the way Spin users write apps: with `spin-sdk`
//! (`#[http_component]`, `spin_sdk::variables`), calling the gateway through
//! its `workkit:ai-gateway/api` import. `spin.toml` declares the unchanged
//! `ai-gateway.wasm` as the component dependency that satisfies the import
//! (Spin composes it at load time; tests compose it with `wac plug`).
//!
//! Routes:
//! - `POST /chat` with `{"prompt": "...", "model"?, "system"?, "max_tokens"?}`
//!   answers `{"text", "provider", "model", "cached", "finish_reason", "usage"}`;
//! - `POST /chat/stream` takes the same body and answers server-sent events:
//!   `data: {"text": "..."}` for each piece, then one `data: {"done": {...}}`
//!   or `data: {"error": {...}}`.
//!
//! Settings come from Spin variables: `chat_config` (JSON, see [`ChatConfig`])
//! and, for each provider, the variable its `api_key_variable` names.
//!
//! Everything but the bindings is plain Rust, unit-tested natively.

use serde::{Deserialize, Serialize};

/// The app's settings: the `chat_config` variable, JSON.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    /// The providers; the first one is the default.
    pub providers: Vec<ProviderSetting>,
    /// The model used when a request names none.
    pub model: String,
    /// Response cache in a Spin key-value store (`key_value_stores`).
    #[serde(default)]
    pub cache: Option<CacheSetting>,
    /// Per-call deadline in ms.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// One provider.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSetting {
    /// Name the gateway knows it by.
    pub name: String,
    /// `openai` or `anthropic`.
    pub kind: ProviderKind,
    /// The Spin variable holding the API key.
    pub api_key_variable: String,
    /// Override of the provider's default base URL.
    #[serde(default)]
    pub base_url: Option<String>,
}

/// Provider kinds this app offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// OpenAI Chat Completions.
    Openai,
    /// Anthropic Messages.
    Anthropic,
}

/// The response cache.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSetting {
    /// The key-value store (Spin names them, e.g. `default`).
    pub bucket: String,
    /// Entry lifetime.
    pub ttl_seconds: u32,
}

impl ChatConfig {
    /// Parse and check the `chat_config` variable.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: Self =
            serde_json::from_str(text).map_err(|e| format!("chat_config is not valid: {e}"))?;
        if config.providers.is_empty() {
            return Err("chat_config names no provider".into());
        }
        Ok(config)
    }
}

/// The body of `POST /chat` and `POST /chat/stream`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    /// The user's message.
    pub prompt: String,
    /// Model override.
    #[serde(default)]
    pub model: Option<String>,
    /// A system message.
    #[serde(default)]
    pub system: Option<String>,
    /// Output token limit.
    #[serde(default)]
    pub max_tokens: Option<u32>,
}

impl ChatRequest {
    /// Parse a request body; the error is the message for a 400.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let request: Self = serde_json::from_slice(body)
            .map_err(|e| format!("expected {{\"prompt\": \"...\"}}: {e}"))?;
        if request.prompt.is_empty() {
            return Err("prompt is empty".into());
        }
        Ok(request)
    }
}

/// Token counts in a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
}

/// What a finished call reports (the `/chat` reply without `text`, and the
/// `done` event of a stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The provider that served it.
    pub provider: String,
    /// The model as the provider reported it.
    pub model: String,
    /// Served from the response cache.
    pub cached: bool,
    /// Why the model stopped, when known.
    pub finish_reason: Option<String>,
    /// Token counts, when the provider reported them.
    pub usage: Option<Usage>,
}

/// The `/chat` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatReply {
    /// The model's answer.
    pub text: String,
    /// Everything else.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// A failed call, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    /// The gateway's error kind (`validation`, `auth`, `rate-limited`, ...).
    pub kind: String,
    /// What went wrong.
    pub message: String,
}

impl ErrorBody {
    /// The HTTP status for this error kind.
    pub fn status(&self) -> u16 {
        match self.kind.as_str() {
            "validation" => 400,
            "model-not-allowed" => 403,
            "not-found" => 404,
            "budget-exceeded" | "rate-limited" => 429,
            "timeout" => 504,
            "service-unavailable" => 503,
            "config" | "internal" => 500,
            _ => 502,
        }
    }

    /// `{"error": {...}}`.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "error": self })).unwrap_or_default()
    }
}

/// One server-sent event carrying `{name: value}`.
pub fn sse_event(name: &str, value: &impl Serialize) -> Vec<u8> {
    let data = serde_json::to_string(&serde_json::json!({ name: value })).unwrap_or_default();
    format!("data: {data}\n\n").into_bytes()
}

#[cfg(target_arch = "wasm32")]
#[allow(
    unsafe_code,
    reason = "wit-bindgen's and spin-sdk's generated ABI glue is unsafe by nature"
)]
mod component;

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        reason = "test code: a failed expectation is a failed test"
    )]

    use super::*;

    #[test]
    fn config_parse_manifest_default_is_valid() {
        let manifest = include_str!("../../spin.toml");
        let line = manifest
            .lines()
            .find(|l| l.starts_with("chat_config"))
            .unwrap();
        let json = line
            .split_once("default = '")
            .unwrap()
            .1
            .rsplit_once("' }")
            .unwrap()
            .0;
        let config = ChatConfig::parse(json).unwrap();
        assert_eq!(config.providers[0].kind, ProviderKind::Openai);
        assert_eq!(config.cache.unwrap().bucket, "default");
    }

    #[test]
    fn config_parse_unknown_field_is_an_error() {
        let err = ChatConfig::parse(
            r#"{"providers": [{"name": "o", "kind": "openai", "api_key_variable": "k"}], "model": "m", "modle": 1}"#,
        )
        .unwrap_err();
        assert!(err.contains("modle"), "{err}");
    }

    #[test]
    fn config_parse_no_provider_is_an_error() {
        assert!(ChatConfig::parse(r#"{"providers": [], "model": "m"}"#).is_err());
    }

    #[test]
    fn request_parse_prompt_only_is_valid() {
        let r = ChatRequest::parse(br#"{"prompt": "hi"}"#).unwrap();
        assert_eq!(r.prompt, "hi");
        assert_eq!(r.model, None);
    }

    #[test]
    fn request_parse_empty_or_missing_prompt_is_an_error() {
        assert!(ChatRequest::parse(br#"{"prompt": ""}"#).is_err());
        assert!(ChatRequest::parse(br#"{"text": "hi"}"#).is_err());
        assert!(ChatRequest::parse(b"not json").is_err());
    }

    #[test]
    fn error_status_follows_the_kind() {
        let e = |kind: &str| ErrorBody {
            kind: kind.into(),
            message: String::new(),
        };
        assert_eq!(e("validation").status(), 400);
        assert_eq!(e("rate-limited").status(), 429);
        assert_eq!(e("auth").status(), 502);
        assert_eq!(e("timeout").status(), 504);
    }

    #[test]
    fn sse_event_is_one_data_line() {
        assert_eq!(
            sse_event("text", &"a\nb"),
            b"data: {\"text\":\"a\\nb\"}\n\n"
        );
    }
}
