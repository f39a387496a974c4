//! Shared harness for the integration tests: the component is compiled once
//! per test binary; each test gets its own mock upstream, key-value store
//! and instance, with every `https://` provider host redirected to the mock.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

pub mod front;
pub mod process;

use std::sync::OnceLock;

use host_test::cfg;
use host_test::host::{GatewayHandle, Instance, InstanceConfig, Redirect, Runtime, w};
use host_test::kv::KvStore;
use host_test::mock::MockServer;
use serde_json::Value;

pub fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::default_gateway().expect("the gateway component compiles"))
}

pub struct Harness {
    pub mock: MockServer,
    pub kv: KvStore,
    pub inst: Instance,
    _dir: tempfile::TempDir,
}

impl Harness {
    pub async fn new() -> Self {
        let mock = MockServer::start().await.expect("mock starts");
        let (kv, dir) = KvStore::temporary().expect("kv opens");
        let inst = Self::instance_for(&mock, &kv).await;
        Self {
            mock,
            kv,
            inst,
            _dir: dir,
        }
    }

    /// Another instance sharing this harness's mock and key-value store.
    pub async fn instance_for(mock: &MockServer, kv: &KvStore) -> Instance {
        let ic = InstanceConfig {
            redirect: Some(Redirect {
                authority: mock.authority(),
            }),
            ..InstanceConfig::new(kv.clone())
        };
        runtime().instance(&ic).await.expect("instance")
    }

    pub async fn open(&mut self, config: &w::GatewayConfig) -> GatewayHandle {
        self.inst
            .open(config)
            .await
            .expect("no trap")
            .expect("config is valid")
    }

    pub async fn open_err(&mut self, config: &w::GatewayConfig) -> w::GatewayError {
        match self.inst.open(config).await.expect("no trap") {
            Ok(_) => panic!("expected the config to be rejected"),
            Err(e) => e,
        }
    }

    pub async fn run(
        &mut self,
        gw: GatewayHandle,
        model: &str,
        input: &w::AiInput,
        opts: &w::RunOptions,
    ) -> Result<w::AiOutput, w::GatewayError> {
        self.inst
            .run(gw, model, input, Some(opts))
            .await
            .expect("no trap")
    }

    /// `stream` read to its end; the call must open.
    pub async fn stream_all(
        &mut self,
        gw: GatewayHandle,
        model: &str,
        input: &w::AiInput,
        opts: Option<&w::RunOptions>,
    ) -> Vec<w::StreamEvent> {
        let s = self
            .inst
            .stream(gw, model, input, opts)
            .await
            .expect("no trap")
            .expect("the stream opens");
        self.inst.collect(s).await.expect("no trap")
    }

    /// Whether `is-cached` says this call would be served from the cache.
    pub async fn is_cached(
        &mut self,
        gw: GatewayHandle,
        model: &str,
        input: &w::AiInput,
        opts: Option<&w::RunOptions>,
    ) -> bool {
        self.inst
            .is_cached(gw, model, input, opts)
            .await
            .expect("no trap")
            .expect("is-cached")
    }

    /// The gateway's cost totals.
    pub async fn costs(&mut self, gw: GatewayHandle) -> w::CostTotals {
        self.inst
            .costs(gw)
            .await
            .expect("no trap")
            .expect("cost totals")
    }

    pub fn base(&self) -> String {
        self.mock.base_url()
    }

    /// The one request the mock received since the last reset.
    pub fn only_request(&self) -> host_test::mock::Recorded {
        let r = self.mock.requests();
        assert_eq!(
            r.len(),
            1,
            "expected exactly one upstream request, got {}",
            r.len()
        );
        r.into_iter().next().expect("one request")
    }
}

pub fn openai_cfg(h: &Harness) -> w::ProviderConfig {
    cfg::openai(
        "openai",
        "sk-test-openai",
        Some(&format!("{}/v1", h.base())),
    )
}

pub fn anthropic_cfg(h: &Harness) -> w::ProviderConfig {
    cfg::anthropic("anthropic", "sk-ant-test", Some(&h.base()))
}

pub fn workers_cfg(h: &Harness) -> w::ProviderConfig {
    cfg::workers_ai(
        "workers",
        "cf-test-token",
        "acc123",
        Some(&format!("{}/client/v4", h.base())),
    )
}

pub fn detail(e: &w::GatewayError) -> &w::UpstreamDetail {
    match e {
        w::GatewayError::Auth(d)
        | w::GatewayError::NotFound(d)
        | w::GatewayError::RateLimited(d)
        | w::GatewayError::ServiceUnavailable(d)
        | w::GatewayError::Upstream(d) => d,
        other => panic!("expected an upstream error, got {other:?}"),
    }
}

pub fn kind(e: &w::GatewayError) -> &'static str {
    match e {
        w::GatewayError::Validation(_) => "validation",
        w::GatewayError::Auth(_) => "auth",
        w::GatewayError::NotFound(_) => "not-found",
        w::GatewayError::RateLimited(_) => "rate-limited",
        w::GatewayError::Timeout(_) => "timeout",
        w::GatewayError::ServiceUnavailable(_) => "service-unavailable",
        w::GatewayError::Upstream(_) => "upstream",
        w::GatewayError::BudgetExceeded(_) => "budget-exceeded",
        w::GatewayError::ModelNotAllowed(_) => "model-not-allowed",
        w::GatewayError::Internal(_) => "internal",
    }
}

/// Parse JSON text from an output.
pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Costs for `gpt-4o`, kept in the `costs` bucket.
pub fn pricing() -> w::CostConfig {
    w::CostConfig {
        // The mock's answer uses 12 input + 9 output tokens:
        // 12 * 2.5 + 9 * 10 = 120 micro-USD per call.
        pricing: vec![w::ModelPricing {
            model: "gpt-4o".into(),
            input: 2_500_000,
            output: 10_000_000,
            cache_read: None,
            cache_write: None,
            reasoning: None,
        }],
        budget_micro_usd: None,
        bucket: Some("costs".into()),
        key_prefix: None,
    }
}
