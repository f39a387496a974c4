//! Worst-case size of a call before it is sent, for reservations against
//! the budget and the token rate limits.
//!
//! Input: every tokenizer the providers use (byte-level BPE, SentencePiece
//! with byte fallback) spends at least one byte of text per token, so the
//! bytes of everything the model reads bound its text tokens. What the
//! provider adds around them is bounded by a fixed overhead per message and
//! per call, and a larger one when tools or a schema are given (Anthropic
//! adds a tool-use system prompt of a few hundred tokens).
//!
//! Output: the `max-tokens` the provider receives (when a reservation
//! applies and the caller gave none, the gateway sends
//! [`OUTPUT_CEILING`]), raised to what reasoning may add, and the largest
//! output limit or choice count in `extra-body`.

use std::borrow::Cow;

use crate::provider::anthropic::thinking_budget;
use crate::types::{Input, ResponseFormat, RunOptions};

/// `max-tokens` sent for a call a reservation covers when it gives none.
pub const OUTPUT_CEILING: u32 = 4096;

/// Tokens a provider may add per call (reply priming, special tokens).
const PER_CALL: u64 = 32;
/// Tokens a provider may add per message (role markers, separators).
const PER_MESSAGE: u64 = 16;
/// Tokens a provider may add when tools or a schema are given.
const TOOLS: u64 = 1024;

/// The most input tokens `input` with `opts` can be.
pub fn input_tokens(input: &Input, opts: &RunOptions) -> u64 {
    let mut bytes = 0usize;
    let mut messages = 1u64;
    match input {
        Input::Prompt(p) => bytes += p.len(),
        Input::Messages(ms) => {
            messages = ms.len() as u64;
            for m in ms {
                bytes += m.content.estimate_bytes();
                bytes += m.tool_call_id.as_ref().map_or(0, String::len);
                for c in &m.tool_calls {
                    bytes += c.id.len() + c.name.len() + c.arguments.len();
                }
            }
        }
    }
    let mut extra = 0;
    for t in &opts.tools {
        bytes += t.name.len();
        bytes += t.description.as_ref().map_or(0, String::len);
        bytes += t.parameters.as_ref().map_or(0, String::len);
    }
    if let Some(ResponseFormat::JsonSchema(s)) = &opts.response_format {
        bytes += s.name.len() + s.schema.len();
        bytes += s.description.as_ref().map_or(0, String::len);
    }
    if !opts.tools.is_empty() || opts.response_format.is_some() {
        extra += TOOLS;
    }
    bytes += opts.stop.iter().map(String::len).sum::<usize>();
    (bytes as u64)
        .saturating_add(PER_CALL + extra)
        .saturating_add(messages.saturating_mul(PER_MESSAGE))
}

/// The most input tokens an embedding of `inputs` can be.
pub fn embed_tokens(inputs: &[String]) -> u64 {
    let bytes: usize = inputs.iter().map(String::len).sum();
    (bytes as u64).saturating_add((inputs.len() as u64).saturating_mul(PER_MESSAGE))
}

/// The most output tokens a call with `opts` can produce. `opts` must be
/// [`bounded`], so `max-tokens` is set.
pub fn output_tokens(opts: &RunOptions) -> u64 {
    let mut limit = u64::from(opts.max_tokens.unwrap_or(OUTPUT_CEILING));
    if let Some(e) = opts.reasoning_effort {
        // Anthropic raises max_tokens above the thinking budget.
        limit = limit.max(u64::from(thinking_budget(e)) + 1024);
    }
    let mut choices = 1;
    if let Some(extra) = opts
        .extra_body
        .as_deref()
        .and_then(|e| serde_json::from_str::<serde_json::Value>(e).ok())
    {
        for key in ["max_tokens", "max_completion_tokens", "max_output_tokens"] {
            if let Some(n) = extra.get(key).and_then(serde_json::Value::as_u64) {
                limit = limit.max(n);
            }
        }
        if let Some(n) = extra.get("n").and_then(serde_json::Value::as_u64) {
            choices = n.max(1);
        }
    }
    limit.saturating_mul(choices)
}

/// `opts` with `max-tokens` set to [`OUTPUT_CEILING`] when `reserve` and
/// the caller set none, so the reservation is a true ceiling.
pub fn bounded(opts: &RunOptions, reserve: bool) -> Cow<'_, RunOptions> {
    if reserve && opts.max_tokens.is_none() {
        let mut o = opts.clone();
        o.max_tokens = Some(OUTPUT_CEILING);
        Cow::Owned(o)
    } else {
        Cow::Borrowed(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Message, Role, ToolDefinition};

    #[test]
    fn input_bound_counts_every_text_byte_and_the_overheads() {
        let input = Input::Messages(vec![
            Message::new(Role::System, "be brief"),
            Message::new(Role::User, "héllo"),
        ]);
        // 8 + 6 bytes, 2 messages.
        assert_eq!(
            input_tokens(&input, &RunOptions::default()),
            14 + 32 + 2 * 16
        );
        let opts = RunOptions {
            tools: vec![ToolDefinition {
                name: "f".into(),
                description: None,
                parameters: Some("{}".into()),
            }],
            ..RunOptions::default()
        };
        assert_eq!(input_tokens(&input, &opts), 14 + 3 + 32 + 1024 + 2 * 16);
        assert_eq!(
            input_tokens(&Input::Prompt("abc".into()), &RunOptions::default()),
            3 + 32 + 16
        );
    }

    #[test]
    fn output_bound_is_the_largest_limit_the_provider_may_honour() {
        let plain = RunOptions {
            max_tokens: Some(100),
            ..RunOptions::default()
        };
        assert_eq!(output_tokens(&plain), 100);
        let thinking = RunOptions {
            reasoning_effort: Some(crate::types::ReasoningEffort::Low),
            ..plain.clone()
        };
        assert_eq!(output_tokens(&thinking), 1024 + 1024);
        let extra = RunOptions {
            extra_body: Some(r#"{"max_completion_tokens": 500, "n": 3}"#.into()),
            ..plain.clone()
        };
        assert_eq!(output_tokens(&extra), 1500);
        assert_eq!(output_tokens(&RunOptions::default()), 4096);
    }

    #[test]
    fn bounded_sets_the_ceiling_only_when_a_reservation_needs_it() {
        let none = RunOptions::default();
        assert_eq!(bounded(&none, false).max_tokens, None);
        assert_eq!(bounded(&none, true).max_tokens, Some(OUTPUT_CEILING));
        let given = RunOptions {
            max_tokens: Some(7),
            ..RunOptions::default()
        };
        assert!(matches!(bounded(&given, true), Cow::Borrowed(_)));
    }
}
