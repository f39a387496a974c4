//! What the proxy does with each Chat Completions request parameter beyond
//! the core ones: typed into the gateway's `run-options` (then the gateway
//! sends it, or refuses it for a provider that cannot honour it, by name),
//! carried to the upstream unchanged, or refused with a 400 that names it.
//! Nothing is dropped.
//!
//! | parameter | OpenAI-format upstream | Anthropic | Workers AI |
//! |---|---|---|---|
//! | `frequency_penalty`, `presence_penalty`, `seed` | typed, sent | refused | typed, sent |
//! | `logit_bias`, `logprobs`, `top_logprobs`, `metadata` | typed, sent (log-probabilities come back, in JSON and in streams) | refused | refused |
//! | `parallel_tool_calls` | typed, sent (with `tools`) | `disable_parallel_tool_use` | refused |
//! | `user` | typed (`end-user`), sent; also the caller for rate limits | `metadata.user_id` | refused |
//! | `service_tier` | typed, sent | `service_tier` | refused |
//! | `store`, `prediction`, `prompt_cache_key`, `prompt_cache_retention`, `safety_identifier`, `verbosity`, `web_search_options`, any other key (the SDK's `extra_body`) | forwarded unchanged | refused | refused |
//! | `n` | refused unless 1 | same | same |
//! | `modalities` | refused unless `["text"]` | same | same |
//! | `audio`, `functions`, `function_call` | refused (use `tools`) | same | same |
//!
//! A parameter given as `null` is absent. The core ones (`model`,
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
    ("n", "1"),
    ("modalities", "[\"text\"]"),
    ("audio", "absent"),
    ("functions", "absent (use tools)"),
    ("function_call", "absent (use tool_choice)"),
];

fn is_neutral(name: &str, v: &Value) -> bool {
    match name {
        "n" => v.as_u64() == Some(1),
        "modalities" => v
            .as_array()
            .is_some_and(|a| a.iter().all(|m| m.as_str() == Some("text"))),
        _ => false,
    }
}

/// The gateway's option for each typed parameter (`run-options` field ->
/// request parameter), longest option name first so a search finds
/// `top-logprobs` before `logprobs`.
pub const OPTION_PARAMS: &[(&str, &str)] = &[
    ("parallel-tool-calls", "parallel_tool_calls"),
    ("frequency-penalty", "frequency_penalty"),
    ("presence-penalty", "presence_penalty"),
    ("top-logprobs", "top_logprobs"),
    ("service-tier", "service_tier"),
    ("logit-bias", "logit_bias"),
    ("end-user", "user"),
    ("logprobs", "logprobs"),
    ("metadata", "metadata"),
    ("seed", "seed"),
];

/// The request parameter a gateway `validation` message is about, when it
/// names one of the typed options.
pub fn param_of(message: &str) -> Option<&'static str> {
    let words: Vec<&str> = message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .collect();
    OPTION_PARAMS
        .iter()
        .find(|(option, _)| words.contains(option))
        .map(|(_, param)| *param)
}

/// The typed parameters, read and checked.
#[derive(Debug, Default, PartialEq)]
pub struct Typed {
    pub frequency_penalty: Option<f64>,
    pub presence_penalty: Option<f64>,
    pub logit_bias: Vec<(u32, i32)>,
    pub parallel_tool_calls: Option<bool>,
    pub seed: Option<i64>,
    pub metadata: Vec<(String, String)>,
    pub service_tier: Option<String>,
    pub user: Option<String>,
    pub logprobs: bool,
    pub top_logprobs: Option<u8>,
}

/// What the parameters beyond the core ones become.
#[derive(Debug, Default, PartialEq)]
pub struct Carried {
    /// JSON object text for `run-options.extra-body`.
    pub extra_body: Option<String>,
    pub typed: Typed,
}

/// A parameter that cannot be carried: its name and why.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    pub param: String,
    pub message: String,
}

fn bad(name: &str, what: &str) -> Refused {
    Refused {
        param: name.to_owned(),
        message: format!("parameter `{name}` must be {what}"),
    }
}

/// Read one typed parameter into `t`; `false` when `name` is not typed.
fn read_typed(t: &mut Typed, name: &str, v: &Value) -> Result<bool, Refused> {
    match name {
        "frequency_penalty" => {
            t.frequency_penalty = Some(v.as_f64().ok_or_else(|| bad(name, "a number"))?);
        }
        "presence_penalty" => {
            t.presence_penalty = Some(v.as_f64().ok_or_else(|| bad(name, "a number"))?);
        }
        "seed" => t.seed = Some(v.as_i64().ok_or_else(|| bad(name, "an integer"))?),
        "parallel_tool_calls" => {
            t.parallel_tool_calls = Some(v.as_bool().ok_or_else(|| bad(name, "a boolean"))?);
        }
        "logprobs" => t.logprobs = v.as_bool().ok_or_else(|| bad(name, "a boolean"))?,
        "top_logprobs" => {
            let n = v
                .as_u64()
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(|| bad(name, "an integer from 0 to 20"))?;
            t.top_logprobs = Some(n);
        }
        "user" => t.user = Some(v.as_str().ok_or_else(|| bad(name, "a string"))?.to_owned()),
        "service_tier" => {
            t.service_tier = Some(v.as_str().ok_or_else(|| bad(name, "a string"))?.to_owned());
        }
        "logit_bias" => {
            let map = v
                .as_object()
                .ok_or_else(|| bad(name, "an object of token id -> bias"))?;
            for (token, bias) in map {
                let id = token
                    .parse::<u32>()
                    .map_err(|_| bad(name, "keyed by token ids (integers)"))?;
                let b = bias
                    .as_f64()
                    .filter(|b| b.fract() == 0.0 && (-100.0..=100.0).contains(b))
                    .ok_or_else(|| bad(name, "integer biases from -100 to 100"))?;
                #[allow(
                    clippy::cast_possible_truncation,
                    reason = "checked: an integer in -100..=100"
                )]
                t.logit_bias.push((id, b as i32));
            }
        }
        "metadata" => {
            let map = v
                .as_object()
                .ok_or_else(|| bad(name, "an object of string values"))?;
            for (k, val) in map {
                let val = val
                    .as_str()
                    .ok_or_else(|| bad(name, "an object of string values"))?;
                t.metadata.push((k.clone(), val.to_owned()));
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Type, carry or refuse every key of `rest` (the request's keys beyond the
/// core ones) for an upstream of `wire` named `provider`.
pub fn carry(rest: &Map<String, Value>, wire: Wire, provider: &str) -> Result<Carried, Refused> {
    let mut extra = Map::new();
    let mut typed = Typed::default();
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
        if read_typed(&mut typed, name, value)? {
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
        typed,
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
    fn typed_parameters_are_read_and_the_rest_forwarded_to_openai_upstreams() {
        let r = rest(
            json!({"seed": 7, "logit_bias": {"50256": -100}, "custom_flag": true,
                            "user": "u-1", "logprobs": true, "top_logprobs": 2, "n": 1,
                            "metadata": {"team": "a"}, "store": false}),
        );
        let c = carry(&r, Wire::OpenAi, "openai").unwrap();
        let extra: Value = serde_json::from_str(c.extra_body.as_deref().unwrap()).unwrap();
        assert_eq!(extra, json!({"custom_flag": true, "store": false}));
        assert_eq!(c.typed.seed, Some(7));
        assert_eq!(c.typed.logit_bias, vec![(50256, -100)]);
        assert_eq!(c.typed.user.as_deref(), Some("u-1"));
        assert!(c.typed.logprobs);
        assert_eq!(c.typed.top_logprobs, Some(2));
        assert_eq!(c.typed.metadata, vec![("team".into(), "a".into())]);
    }

    #[test]
    fn other_upstreams_refuse_untyped_parameters_by_name() {
        let e = carry(&rest(json!({"store": true})), Wire::Anthropic, "claude").unwrap_err();
        assert_eq!(e.param, "store");
        assert!(
            e.message.contains("`store`") && e.message.contains("\"claude\""),
            "{}",
            e.message
        );
        // Typed ones reach the gateway, which decides per provider.
        let c = carry(&rest(json!({"seed": 3})), Wire::Anthropic, "claude").unwrap();
        assert_eq!(c.typed.seed, Some(3));
    }

    #[test]
    fn malformed_typed_parameters_are_refused_by_name() {
        for (k, v) in [
            ("seed", json!("x")),
            ("logit_bias", json!({"abc": 1})),
            ("logit_bias", json!({"1": 101})),
            ("top_logprobs", json!(300)),
            ("metadata", json!({"a": 1})),
            ("parallel_tool_calls", json!("yes")),
        ] {
            let e = carry(&rest(json!({k: v})), Wire::OpenAi, "openai").unwrap_err();
            assert_eq!(e.param, k);
            assert!(e.message.contains(&format!("`{k}`")), "{}", e.message);
        }
    }

    #[test]
    fn parameters_the_answer_cannot_carry_are_refused_unless_neutral() {
        for (k, v) in [
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
        let ok = rest(json!({"n": 1, "modalities": ["text"]}));
        assert_eq!(
            carry(&ok, Wire::Anthropic, "claude").unwrap(),
            Carried::default()
        );
    }

    #[test]
    fn gateway_messages_map_back_to_the_parameter() {
        assert_eq!(
            param_of("anthropic does not support the option presence-penalty"),
            Some("presence_penalty")
        );
        assert_eq!(
            param_of("top-logprobs needs logprobs = true"),
            Some("top_logprobs")
        );
        assert_eq!(
            param_of("provider \"cf\" (workers-ai) does not support the option end-user"),
            Some("user")
        );
        assert_eq!(param_of("messages is empty"), None);
    }
}
