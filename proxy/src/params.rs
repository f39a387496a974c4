//! What the proxy does with each Chat Completions request parameter that
//! the gateway's `run-options` does not type: carried to the upstream
//! unchanged, or refused with a 400 that names it. Nothing is dropped.
//!
//! | parameter | OpenAI-format upstream | Anthropic | Workers AI |
//! |---|---|---|---|
//! | `frequency_penalty`, `presence_penalty`, `logit_bias`, `parallel_tool_calls`, `seed`, `metadata`, `service_tier`, `store`, `prediction`, `prompt_cache_key`, `prompt_cache_retention`, `safety_identifier`, `verbosity`, `web_search_options`, any other key (the SDK's `extra_body`) | forwarded unchanged | refused | refused |
//! | `user` | forwarded (and the caller for rate limits) | sent as `metadata.user_id` | refused |
//! | `logprobs`, `top_logprobs` | refused unless off: the answer cannot carry them yet | same | same |
//! | `n` | refused unless 1 | same | same |
//! | `modalities` | refused unless `["text"]` | same | same |
//! | `audio`, `functions`, `function_call` | refused (use `tools`) | same | same |
//!
//! A parameter given as `null` is absent. The typed ones (`model`,
//! `messages`, `stream`, `stream_options`, `temperature`, `top_p`,
//! `max_tokens`, `max_completion_tokens`, `stop`, `tools`, `tool_choice`,
//! `response_format`, `reasoning_effort`) are read by the proxy itself.

use serde_json::{Map, Value};

/// The wire format of the provider a request resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    OpenAi,
    Anthropic,
    WorkersAi,
    /// A provider whose format is not known: nothing untyped is carried.
    Unknown,
}

impl Wire {
    fn name(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::WorkersAi => "workers-ai",
            Self::Unknown => "unknown",
        }
    }
}

/// Parameters with a neutral value the proxy accepts, and what it is.
const NEUTRAL: &[(&str, &str)] = &[
    ("logprobs", "false"),
    ("top_logprobs", "absent"),
    ("n", "1"),
    ("modalities", "[\"text\"]"),
    ("audio", "absent"),
    ("functions", "absent (use tools)"),
    ("function_call", "absent (use tool_choice)"),
];

fn is_neutral(name: &str, v: &Value) -> bool {
    match name {
        "logprobs" => v == &Value::Bool(false),
        "n" => v.as_u64() == Some(1),
        "modalities" => v
            .as_array()
            .is_some_and(|a| a.iter().all(|m| m.as_str() == Some("text"))),
        _ => false,
    }
}

/// What the untyped parameters become.
#[derive(Debug, Default, PartialEq)]
pub struct Carried {
    /// JSON object text for `run-options.extra-body`.
    pub extra_body: Option<String>,
    /// The request's `user`, for the caller-scoped limits.
    pub user: Option<String>,
}

/// A parameter that cannot be carried: its name and why.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    pub param: String,
    pub message: String,
}

/// Carry or refuse every key of `rest` (the request's keys the proxy does
/// not type) for an upstream of `wire` named `provider`.
pub fn carry(rest: &Map<String, Value>, wire: Wire, provider: &str) -> Result<Carried, Refused> {
    let mut extra = Map::new();
    let mut user = None;
    for (name, value) in rest {
        if value.is_null() {
            continue;
        }
        if let Some((_, neutral)) = NEUTRAL.iter().find(|(n, _)| n == name) {
            if is_neutral(name, value) {
                continue;
            }
            return Err(Refused {
                param: name.clone(),
                message: format!(
                    "parameter `{name}` is not supported by this gateway (accepted: {neutral}); \
                     the request was not sent"
                ),
            });
        }
        if name == "user" {
            let Some(u) = value.as_str() else {
                return Err(Refused {
                    param: name.clone(),
                    message: "parameter `user` must be a string".into(),
                });
            };
            user = Some(u.to_owned());
            match wire {
                Wire::OpenAi => {
                    extra.insert(name.clone(), value.clone());
                }
                Wire::Anthropic => {
                    extra.insert("metadata".into(), serde_json::json!({"user_id": u}));
                }
                Wire::WorkersAi | Wire::Unknown => return Err(unsupported(name, wire, provider)),
            }
            continue;
        }
        match wire {
            Wire::OpenAi => {
                extra.insert(name.clone(), value.clone());
            }
            Wire::Anthropic | Wire::WorkersAi | Wire::Unknown => {
                return Err(unsupported(name, wire, provider));
            }
        }
    }
    Ok(Carried {
        extra_body: (!extra.is_empty()).then(|| Value::Object(extra).to_string()),
        user,
    })
}

fn unsupported(name: &str, wire: Wire, provider: &str) -> Refused {
    Refused {
        param: name.to_owned(),
        message: format!(
            "parameter `{name}` cannot be sent to provider {provider:?} ({} wire format); \
             the request was not sent",
            wire.name()
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code")]
mod tests {
    use super::*;
    use serde_json::json;

    fn rest(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn openai_upstreams_get_every_untyped_parameter_unchanged() {
        let r = rest(
            json!({"seed": 7, "logit_bias": {"50256": -100}, "custom_flag": true,
                            "user": "u-1", "logprobs": false, "n": 1, "top_logprobs": null}),
        );
        let c = carry(&r, Wire::OpenAi, "openai").unwrap();
        let extra: Value = serde_json::from_str(c.extra_body.as_deref().unwrap()).unwrap();
        assert_eq!(
            extra,
            json!({"seed": 7, "logit_bias": {"50256": -100}, "custom_flag": true, "user": "u-1"})
        );
        assert_eq!(c.user.as_deref(), Some("u-1"));
    }

    #[test]
    fn other_upstreams_refuse_what_they_cannot_take_by_name() {
        let e = carry(&rest(json!({"seed": 7})), Wire::Anthropic, "claude").unwrap_err();
        assert_eq!(e.param, "seed");
        assert!(
            e.message.contains("`seed`") && e.message.contains("\"claude\""),
            "{}",
            e.message
        );
        let c = carry(&rest(json!({"user": "u-2"})), Wire::Anthropic, "claude").unwrap();
        assert_eq!(
            c.extra_body.as_deref(),
            Some(r#"{"metadata":{"user_id":"u-2"}}"#)
        );
        assert!(carry(&rest(json!({"user": "u"})), Wire::WorkersAi, "cf").is_err());
    }

    #[test]
    fn parameters_the_answer_cannot_carry_are_refused_unless_neutral() {
        for (k, v) in [
            ("logprobs", json!(true)),
            ("top_logprobs", json!(3)),
            ("n", json!(2)),
            ("modalities", json!(["text", "audio"])),
            ("audio", json!({"voice": "alloy"})),
            ("functions", json!([])),
            ("function_call", json!("auto")),
        ] {
            let e = carry(&rest(json!({k: v})), Wire::OpenAi, "openai").unwrap_err();
            assert_eq!(e.param, k);
            assert!(e.message.contains(&format!("`{k}`")), "{}", e.message);
        }
        let ok = rest(json!({"logprobs": false, "n": 1, "modalities": ["text"]}));
        assert_eq!(
            carry(&ok, Wire::Anthropic, "claude").unwrap(),
            Carried::default()
        );
    }
}
