//! Response cache over a key-value bucket.
//!
//! The key is a SHA-256 over canonical JSON (object keys sorted, JSON texts
//! the caller passed parsed and re-canonicalized) of the provider, the
//! model, the input and every option that changes the output: tools, tool
//! choice, response format and schema, temperature, top-p, max tokens, stop,
//! reasoning effort, extra body and extra headers. (The TypeScript library
//! `@workkit/ai-gateway` hashed only the model and the input, so a call with
//! different tools or schema got the wrong cached answer.)
//!
//! An entry stores its own expiry, checked against the wall clock, because
//! `wasi:keyvalue` has no TTL. Anything unreadable is a miss, and is
//! overwritten by the next successful call.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::CacheConfig;
use crate::error::Result;
use crate::ports::Kv;
use crate::types::{
    EmbedOutput, Input, Output, ResponseFormat, RunOptions, StreamDone, StreamEvent,
};

const ENTRY_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    v: u32,
    expires_at_ms: u64,
    output: Output,
}

/// Write `v` as canonical JSON: objects with keys sorted, no whitespace.
pub fn canonical_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(inner) = map.get(k) {
                    canonical_json(inner, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A JSON text the caller gave, as a value (so formatting does not change
/// the key); text that does not parse is kept as a string.
fn json_text(t: &str) -> Value {
    serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_owned()))
}

/// The parts of the options that change what the model returns.
fn output_options(o: &RunOptions) -> Value {
    let format = match &o.response_format {
        None | Some(ResponseFormat::Text) => Value::Null,
        Some(ResponseFormat::Json) => Value::String("json".into()),
        Some(ResponseFormat::JsonSchema(s)) => serde_json::json!({
            "name": s.name, "schema": json_text(&s.schema), "strict": s.strict,
            "description": s.description,
        }),
    };
    let tools: Vec<Value> = o
        .tools
        .iter()
        .map(|t| {
            serde_json::json!({
                "name": t.name, "description": t.description,
                "parameters": t.parameters.as_deref().map(json_text),
            })
        })
        .collect();
    serde_json::json!({
        "format": format,
        "tools": tools,
        "tool_choice": o.tool_choice,
        "max_tokens": o.max_tokens,
        "temperature": o.temperature,
        "top_p": o.top_p,
        "stop": o.stop,
        "reasoning_effort": o.reasoning_effort,
        "extra_body": o.extra_body.as_deref().map(json_text),
        "headers": o.headers,
    })
}

/// The cache key of a call. `target` names what serves it: the provider
/// name, or a chain's entries.
pub fn key(
    config: &CacheConfig,
    target: &str,
    model: &str,
    input: &Input,
    options: &RunOptions,
) -> String {
    let ns = config.namespace.as_deref().unwrap_or("aigw");
    if let Some(custom) = &options.cache_key {
        return format!("{ns}:cache:k:{custom}");
    }
    let material = serde_json::json!({
        "v": ENTRY_VERSION,
        "target": target,
        "model": model,
        "input": input,
        "options": output_options(options),
    });
    format!("{ns}:cache:{}", digest(&material))
}

/// SHA-256 of `material`'s canonical JSON, in hex.
fn digest(material: &Value) -> String {
    let mut canon = String::new();
    canonical_json(material, &mut canon);
    let digest = Sha256::digest(canon.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// The cache key of an embedding call: what serves it, the model, every
/// input in order and the dimensions (all that changes the vectors).
pub fn embed_key(
    config: &CacheConfig,
    target: &str,
    model: &str,
    input: &[String],
    dimensions: Option<u32>,
) -> String {
    let ns = config.namespace.as_deref().unwrap_or("aigw");
    let material = serde_json::json!({
        "v": ENTRY_VERSION,
        "op": "embed",
        "target": target,
        "model": model,
        "input": input,
        "dimensions": dimensions,
    });
    format!("{ns}:cache:embed:{}", digest(&material))
}

#[derive(Debug, Serialize, Deserialize)]
struct EmbedEntry {
    v: u32,
    expires_at_ms: u64,
    output: EmbedOutput,
}

/// A fresh embedding entry, or `None` (missing, expired, unreadable, or a
/// store error: the cache must never fail a call).
pub fn get_embed(kv: &dyn Kv, config: &CacheConfig, key: &str, now_ms: u64) -> Option<EmbedOutput> {
    let bytes = kv.get(&config.bucket, key).ok()??;
    let entry: EmbedEntry = serde_json::from_slice(&bytes).ok()?;
    (entry.v == ENTRY_VERSION && now_ms < entry.expires_at_ms).then_some(entry.output)
}

/// Store a successful embedding output.
pub fn put_embed(
    kv: &dyn Kv,
    config: &CacheConfig,
    key: &str,
    output: &EmbedOutput,
    now_ms: u64,
) -> Result<()> {
    let entry = EmbedEntry {
        v: ENTRY_VERSION,
        expires_at_ms: expiry(config, now_ms),
        output: output.clone(),
    };
    store(kv, config, key, &entry)
}

/// A fresh entry, or `None` (missing, expired, unreadable). A store error
/// is also a miss: the cache must never fail a call.
pub fn get(kv: &dyn Kv, config: &CacheConfig, key: &str, now_ms: u64) -> Option<Output> {
    let bytes = kv.get(&config.bucket, key).ok()??;
    let entry: Entry = serde_json::from_slice(&bytes).ok()?;
    (entry.v == ENTRY_VERSION && now_ms < entry.expires_at_ms).then_some(entry.output)
}

/// Store a successful output (without its per-call attempts and trace).
pub fn put(
    kv: &dyn Kv,
    config: &CacheConfig,
    key: &str,
    output: &Output,
    now_ms: u64,
) -> Result<()> {
    let mut stored = output.clone();
    stored.attempts.clear();
    stored.trace.clear();
    stored.cached = false;
    stored.cost_micro_usd = None;
    let entry = Entry {
        v: ENTRY_VERSION,
        expires_at_ms: expiry(config, now_ms),
        output: stored,
    };
    store(kv, config, key, &entry)
}

/// When an entry written now expires.
fn expiry(config: &CacheConfig, now_ms: u64) -> u64 {
    now_ms.saturating_add(u64::from(config.ttl_seconds).saturating_mul(1000))
}

/// Write an entry as JSON.
fn store(kv: &dyn Kv, config: &CacheConfig, key: &str, entry: &impl Serialize) -> Result<()> {
    let bytes = serde_json::to_vec(entry)
        .map_err(|e| crate::error::GatewayError::internal(e.to_string()))?;
    kv.set(&config.bucket, key, &bytes)?;
    Ok(())
}

/// Remove an entry; returns whether a fresh one existed.
pub fn invalidate(kv: &dyn Kv, config: &CacheConfig, key: &str, now_ms: u64) -> Result<bool> {
    let existed = get(kv, config, key, now_ms).is_some();
    kv.delete(&config.bucket, key)?;
    Ok(existed)
}

/// The event sequence a stream of `output` yields: reasoning (block by
/// block, each with its signature), refusal, text, its log-probabilities,
/// tool uses, then `done`.
pub fn replay_events(output: &Output) -> Vec<StreamEvent> {
    let mut events = Vec::new();
    if output.reasoning_blocks.is_empty()
        && let Some(r) = output.reasoning.as_ref().filter(|r| !r.is_empty())
    {
        events.push(StreamEvent::Reasoning(r.clone()));
    }
    for b in &output.reasoning_blocks {
        if let Some(d) = &b.redacted {
            events.push(StreamEvent::ReasoningRedacted(d.clone()));
            continue;
        }
        if !b.text.is_empty() {
            events.push(StreamEvent::Reasoning(b.text.clone()));
        }
        if let Some(s) = &b.signature {
            events.push(StreamEvent::ReasoningSignature(s.clone()));
        }
    }
    if let Some(r) = output.refusal.as_ref().filter(|r| !r.is_empty()) {
        events.push(StreamEvent::Refusal(r.clone()));
    }
    if !output.text.is_empty() {
        events.push(StreamEvent::Text(output.text.clone()));
    }
    if !output.logprobs.is_empty() {
        events.push(StreamEvent::Logprobs(output.logprobs.clone()));
    }
    events.extend(output.tool_calls.iter().cloned().map(StreamEvent::ToolUse));
    events.push(StreamEvent::Done(StreamDone {
        usage: output.usage,
        finish_reason: output.finish_reason.clone(),
        provider: output.provider.clone(),
        model: output.model.clone(),
        cached: true,
        cost_micro_usd: None,
    }));
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemKv;
    use crate::types::{JsonSchemaFormat, ToolChoice, ToolDefinition};

    fn cfg() -> CacheConfig {
        CacheConfig {
            bucket: "c".into(),
            ttl_seconds: 60,
            namespace: None,
            streams: true,
        }
    }

    fn k(o: &RunOptions) -> String {
        key(&cfg(), "openai", "gpt-4o", &Input::Prompt("hi".into()), o)
    }

    #[test]
    fn embed_key_covers_provider_model_inputs_order_and_dimensions() {
        let c = cfg();
        let input = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let base = embed_key(&c, "openai", "e", &input(&["a", "b"]), None);
        assert_eq!(
            base,
            embed_key(&c, "openai", "e", &input(&["a", "b"]), None)
        );
        for other in [
            embed_key(&c, "workers", "e", &input(&["a", "b"]), None),
            embed_key(&c, "openai", "e2", &input(&["a", "b"]), None),
            embed_key(&c, "openai", "e", &input(&["b", "a"]), None),
            embed_key(&c, "openai", "e", &input(&["ab"]), None),
            embed_key(&c, "openai", "e", &input(&["a", "b"]), Some(256)),
        ] {
            assert_ne!(base, other);
        }
        assert!(base.starts_with("aigw:cache:embed:"), "{base}");
        assert_ne!(base, k(&RunOptions::default()));
    }

    #[test]
    fn embed_entry_round_trips_and_expires() {
        let kv = MemKv::default();
        let c = cfg();
        let out = EmbedOutput {
            embeddings: vec![vec![0.1, -2.5e-7, 3.0]],
            usage: None,
            provider: "openai".into(),
            model: "e".into(),
        };
        put_embed(&kv, &c, "k", &out, 1_000).unwrap();
        assert_eq!(get_embed(&kv, &c, "k", 1_001), Some(out));
        assert_eq!(get_embed(&kv, &c, "k", 1_000 + 60_000), None);
    }

    #[test]
    fn cache_key_changes_with_every_output_option() {
        let base = RunOptions::default();
        let tool = ToolDefinition {
            name: "t".into(),
            description: None,
            parameters: None,
        };
        let variants = [
            RunOptions {
                tools: vec![tool.clone()],
                ..base.clone()
            },
            RunOptions {
                tools: vec![tool],
                tool_choice: Some(ToolChoice::Required),
                ..base.clone()
            },
            RunOptions {
                response_format: Some(ResponseFormat::Json),
                ..base.clone()
            },
            RunOptions {
                response_format: Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
                    name: "s".into(),
                    schema: r#"{"type":"object"}"#.into(),
                    strict: true,
                    description: None,
                })),
                ..base.clone()
            },
            RunOptions {
                temperature: Some(0.2),
                ..base.clone()
            },
            RunOptions {
                top_p: Some(0.5),
                ..base.clone()
            },
            RunOptions {
                max_tokens: Some(10),
                ..base.clone()
            },
            RunOptions {
                stop: vec!["x".into()],
                ..base.clone()
            },
            RunOptions {
                extra_body: Some(r#"{"seed":1}"#.into()),
                ..base.clone()
            },
        ];
        let mut keys = vec![k(&base)];
        for v in &variants {
            let kv = k(v);
            assert!(!keys.contains(&kv), "{v:?} collides");
            keys.push(kv);
        }
    }

    #[test]
    fn cache_key_ignores_options_that_do_not_change_output() {
        let a = RunOptions::default();
        let b = RunOptions {
            timeout_ms: Some(5),
            caller: Some("u".into()),
            ..RunOptions::default()
        };
        assert_eq!(k(&a), k(&b));
    }

    #[test]
    fn cache_key_ignores_json_formatting_of_schema() {
        let mk = |schema: &str| RunOptions {
            response_format: Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: "s".into(),
                schema: schema.into(),
                strict: true,
                description: None,
            })),
            ..RunOptions::default()
        };
        assert_eq!(k(&mk(r#"{"b":1,"a":2}"#)), k(&mk(r#"{ "a": 2, "b": 1 }"#)));
    }

    #[test]
    fn cache_key_custom_and_namespace() {
        let mut c = cfg();
        c.namespace = Some("tenant1".into());
        let o = RunOptions {
            cache_key: Some("faq-1".into()),
            ..RunOptions::default()
        };
        assert_eq!(
            key(&c, "p", "m", &Input::Prompt("x".into()), &o),
            "tenant1:cache:k:faq-1"
        );
    }

    fn output() -> Output {
        Output::from_completion(
            crate::types::Completion {
                text: "hello".into(),
                model: "gpt-4o".into(),
                ..Default::default()
            },
            "openai".into(),
            None,
        )
    }

    #[test]
    fn cache_get_expired_and_garbage_are_misses() {
        let kv = MemKv::default();
        put(&kv, &cfg(), "k", &output(), 1_000).unwrap();
        assert!(get(&kv, &cfg(), "k", 60_999).is_some());
        assert!(get(&kv, &cfg(), "k", 61_000).is_none());
        kv.set("c", "k", b"\xff\x00garbage").unwrap();
        assert!(get(&kv, &cfg(), "k", 2_000).is_none());
    }

    #[test]
    fn cache_replay_is_text_tools_done() {
        let mut o = output();
        o.tool_calls.push(crate::types::ToolCall {
            id: "1".into(),
            name: "f".into(),
            arguments: "{}".into(),
            raw_arguments: None,
        });
        let ev = replay_events(&o);
        assert_eq!(ev.len(), 3);
        assert!(matches!(&ev[2], StreamEvent::Done(d) if d.cached));
    }

    #[test]
    fn canonical_json_sorts_nested_keys() {
        let v: Value =
            serde_json::from_str(r#"{"b":{"d":1,"c":[{"z":1,"y":2}]},"a":"x"}"#).unwrap();
        let mut s = String::new();
        canonical_json(&v, &mut s);
        assert_eq!(s, r#"{"a":"x","b":{"c":[{"y":2,"z":1}],"d":1}}"#);
    }
}
