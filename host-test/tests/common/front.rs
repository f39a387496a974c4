//! The composed proxy served in-process (`host_test::serve::start`), for the
//! front-door tests (Chat Completions, Messages, Responses, the SDK tests):
//! one mock upstream reached as an OpenAI-format provider and as an
//! Anthropic one, each test adding what it needs to the config.

use std::sync::Arc;

use host_test::host::InstanceConfig;
use host_test::kv::KvStore;
use host_test::serve::{ServeConfig, Server, start};
use serde_json::{Value, json};

use super::process::proxy_component;

/// The proxy config over `mock`: `mock-model` goes to the OpenAI-format
/// provider, `claude-*` to the Anthropic one; `extra`'s keys are added at
/// the top level (and win).
pub fn config(mock: &str, extra: &Value) -> Value {
    let mut c = json!({
        "providers": [
            {"name": "mock", "kind": "openai", "base_url": format!("{mock}/v1"), "api_key_variable": "upstream_key"},
            {"name": "mock-anthropic", "kind": "anthropic", "base_url": mock, "api_key_variable": "upstream_key"}
        ],
        "default_provider": "mock",
        "routes": [{"pattern": "claude-*", "provider": "mock-anthropic"}],
        "models": ["mock-model", "claude-mock"],
    });
    if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    c
}

/// Serve the composed proxy on 127.0.0.1 with `gateway_config` = `config`,
/// `upstream_key` and `vars` as its variables, over a fresh store (returned,
/// with the directory that holds it).
pub async fn serve(config: &Value, vars: &[(&str, &str)]) -> (Server, KvStore, tempfile::TempDir) {
    let (kv, dir) = KvStore::temporary().expect("kv opens");
    let mut instance = InstanceConfig::new(kv.clone());
    instance.variables = Arc::new(
        [
            ("gateway_config", config.to_string()),
            ("upstream_key", "sk-upstream-front".to_owned()),
        ]
        .into_iter()
        .chain(vars.iter().map(|(k, v)| (*k, (*v).to_owned())))
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    );
    let server = start(
        proxy_component(),
        ServeConfig {
            addr: "127.0.0.1:0".parse().expect("an address"),
            instance,
            pooling: false,
            max_idle: 8,
            otlp: None,
        },
    )
    .await
    .expect("serve starts");
    (server, kv, dir)
}
