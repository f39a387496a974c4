//! Canonical JSON and the cache key. Input: a JSON text.
//!
//! Properties: the canonical text parses back to the same value (floats to
//! within 2 ULP, see `same`) and is a fixed point; reordering object keys or reformatting does not change it
//! nor the cache key; a different value gives a different key.
#![no_main]

use ai_gateway::config::CacheConfig;
use ai_gateway::engine::cache::{canonical_json, key};
use ai_gateway::types::{Input, RunOptions};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

/// The same value with every object's keys in reverse order.
fn reversed(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, inner) in m.iter().rev() {
                out.insert(k.clone(), reversed(inner));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(reversed).collect()),
        scalar => scalar.clone(),
    }
}

/// Equal, except that floats may differ in the last bit or two: serde_json's
/// default float parser (no `float_roundtrip`) is not always exact, so
/// re-parsing the shortest printed form may land on a neighbouring float.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => {
                    x == y || (x.signum() == y.signum() && x.to_bits().abs_diff(y.to_bits()) <= 2)
                }
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(has_float),
        Value::Object(m) => m.values().any(has_float),
        _ => false,
    }
}

fn canon(v: &Value) -> String {
    let mut s = String::new();
    canonical_json(v, &mut s);
    s
}

fn cache_key(extra_body: String) -> String {
    let config = CacheConfig {
        bucket: "b".into(),
        ttl_seconds: 60,
        namespace: None,
        streams: true,
    };
    let options = RunOptions {
        extra_body: Some(extra_body),
        ..RunOptions::default()
    };
    key(
        &config,
        "openai",
        "m",
        &Input::Prompt("hi".into()),
        &options,
    )
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let c = canon(&v);
    let back: Value = serde_json::from_str(&c).expect("canonical JSON parses");
    assert!(same(&back, &v), "round trip of {c}: {back:?} vs {v:?}");
    if !has_float(&v) {
        assert_eq!(back, v);
        assert_eq!(canon(&back), c, "canonical JSON is a fixed point");
    }

    let r = reversed(&v);
    assert_eq!(canon(&r), c);

    let k = cache_key(v.to_string());
    let hex = k.strip_prefix("aigw:cache:").expect("namespace prefix");
    assert!(hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    let pretty = serde_json::to_string_pretty(&r).expect("serializes");
    assert_eq!(
        cache_key(pretty),
        k,
        "key order and whitespace do not matter"
    );
    assert_ne!(cache_key(Value::Array(vec![v]).to_string()), k);
});
