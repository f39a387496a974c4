//! State and policy over `wasi:keyvalue`: the response cache, cost and
//! budgets shared by two instances, rate limits, logging, the allowlist
//! (in the gateway and as its own component), routing, embeddings.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use std::time::Duration;

use common::{Harness, anthropic_cfg, kind, openai_cfg, pricing, workers_cfg};
use host_test::cfg;
use host_test::host::{
    GatewayHandle, InstanceConfig, Redirect, allowlist_bindings, allowlist_wasm, w, wa,
};
use host_test::mock::{self, Reply};
use serde_json::json;

fn cache_cfg(ttl_seconds: u32) -> w::CacheConfig {
    w::CacheConfig {
        bucket: "cache".into(),
        ttl_seconds,
        namespace: Some("test".into()),
        streams: true,
    }
}

async fn cached_gateway(h: &mut Harness, ttl: u32) -> GatewayHandle {
    let config = w::GatewayConfig {
        cache: Some(cache_cfg(ttl)),
        ..cfg::gateway(vec![openai_cfg(h), anthropic_cfg(h)], Some("openai"))
    };
    h.open(&config).await
}

fn tool(name: &str) -> w::ToolDefinition {
    w::ToolDefinition {
        name: name.into(),
        description: None,
        parameters: Some(r#"{"type":"object"}"#.into()),
    }
}

fn schema(s: &str) -> w::RunOptions {
    w::RunOptions {
        response_format: Some(w::ResponseFormat::JsonSchema(w::JsonSchemaFormat {
            name: "s".into(),
            schema: s.into(),
            strict: true,
            description: None,
        })),
        ..cfg::options()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_second_identical_call_is_served_without_upstream_hit() {
    let mut h = Harness::new().await;
    let gw = cached_gateway(&mut h, 60).await;
    let first = h
        .run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
        .await
        .unwrap();
    assert!(!first.cached);
    let second = h
        .run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
        .await
        .unwrap();
    assert_eq!(h.mock.hits(), 1, "the second call came from the cache");
    assert!(second.cached);
    assert_eq!(second.text, first.text);
    assert_eq!(second.usage, first.usage);
    assert!(second.attempts.is_empty());
    // Options that do not change the output share the entry.
    let same = w::RunOptions {
        timeout_ms: Some(5000),
        caller: Some("u1".into()),
        ..cfg::options()
    };
    assert!(
        h.run(gw, "gpt-4o", &cfg::user("hi"), &same)
            .await
            .unwrap()
            .cached
    );
    assert_eq!(h.mock.hits(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_changing_only_tools_or_schema_misses() {
    let mut h = Harness::new().await;
    let gw = cached_gateway(&mut h, 60).await;
    let variants = [
        cfg::options(),
        w::RunOptions {
            tools: vec![tool("a")],
            ..cfg::options()
        },
        w::RunOptions {
            tools: vec![tool("b")],
            ..cfg::options()
        },
        schema(r#"{"type":"object","properties":{"x":{"type":"string"}}}"#),
        schema(r#"{"type":"object","properties":{"y":{"type":"string"}}}"#),
        w::RunOptions {
            temperature: Some(0.1),
            ..cfg::options()
        },
        w::RunOptions {
            max_tokens: Some(7),
            ..cfg::options()
        },
    ];
    for (i, o) in variants.iter().enumerate() {
        h.run(gw, "gpt-4o", &cfg::user("hi"), o).await.unwrap();
        assert_eq!(h.mock.hits(), i + 1, "variant {i} must miss");
    }
    for o in &variants {
        assert!(
            h.run(gw, "gpt-4o", &cfg::user("hi"), o)
                .await
                .unwrap()
                .cached
        );
    }
    assert_eq!(h.mock.hits(), variants.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_expired_entry_misses() {
    let mut h = Harness::new().await;
    let gw = cached_gateway(&mut h, 1).await;
    h.run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
        .await
        .unwrap();
    assert!(
        h.run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
            .await
            .unwrap()
            .cached
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(!h.is_cached(gw, "gpt-4o", &cfg::user("hi"), None).await);
    let again = h
        .run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
        .await
        .unwrap();
    assert!(!again.cached);
    assert_eq!(h.mock.hits(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_never_stores_a_failure() {
    let mut h = Harness::new().await;
    let gw = cached_gateway(&mut h, 60).await;
    h.mock
        .push(Reply::json(500, json!({"error": {"message": "boom"}})));
    assert!(
        h.run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
            .await
            .is_err()
    );
    assert!(!h.is_cached(gw, "gpt-4o", &cfg::user("hi"), None).await);
    let ok = h
        .run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
        .await
        .unwrap();
    assert!(!ok.cached);
    assert_eq!(h.mock.hits(), 2);
    assert_eq!(
        h.kv.list_keys("cache", None, 100).unwrap().0.len(),
        1,
        "one entry, for the success"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_invalidate_and_modes() {
    let mut h = Harness::new().await;
    let gw = cached_gateway(&mut h, 60).await;
    h.run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
        .await
        .unwrap();
    assert!(h.is_cached(gw, "gpt-4o", &cfg::user("hi"), None).await);
    assert!(
        h.inst
            .invalidate(gw, "gpt-4o", &cfg::user("hi"), None)
            .await
            .unwrap()
            .unwrap()
    );
    assert!(!h.is_cached(gw, "gpt-4o", &cfg::user("hi"), None).await);
    assert!(
        !h.inst
            .invalidate(gw, "gpt-4o", &cfg::user("hi"), None)
            .await
            .unwrap()
            .unwrap()
    );
    h.run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
        .await
        .unwrap();
    assert_eq!(h.mock.hits(), 2);
    let bypass = w::RunOptions {
        cache: Some(w::CacheMode::Bypass),
        ..cfg::options()
    };
    assert!(
        !h.run(gw, "gpt-4o", &cfg::user("hi"), &bypass)
            .await
            .unwrap()
            .cached
    );
    let refresh = w::RunOptions {
        cache: Some(w::CacheMode::Refresh),
        ..cfg::options()
    };
    assert!(
        !h.run(gw, "gpt-4o", &cfg::user("hi"), &refresh)
            .await
            .unwrap()
            .cached
    );
    assert_eq!(h.mock.hits(), 4);
    // A custom key ignores the request's contents.
    let keyed = w::RunOptions {
        cache_key: Some("faq-7".into()),
        ..cfg::options()
    };
    h.run(gw, "gpt-4o", &cfg::user("question A"), &keyed)
        .await
        .unwrap();
    assert!(
        h.run(gw, "gpt-4o", &cfg::user("question B"), &keyed)
            .await
            .unwrap()
            .cached
    );
    assert!(h.kv.get("cache", "test:cache:k:faq-7").unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_garbage_value_is_a_miss_and_is_overwritten() {
    let mut h = Harness::new().await;
    let gw = cached_gateway(&mut h, 60).await;
    h.run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
        .await
        .unwrap();
    let (keys, _) = h.kv.list_keys("cache", None, 10).unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].starts_with("test:cache:"), "{}", keys[0]);
    h.kv.set("cache", &keys[0], b"\xff\xfe not json at all")
        .unwrap();
    let out = h
        .run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
        .await
        .expect("a corrupt entry is not an error");
    assert!(!out.cached);
    assert_eq!(h.mock.hits(), 2);
    assert!(
        h.run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
            .await
            .unwrap()
            .cached,
        "overwritten with a good entry"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_stream_hit_replays_text_tools_done() {
    let mut h = Harness::new().await;
    let gw = cached_gateway(&mut h, 60).await;
    h.mock
        .push(Reply::sse(mock::OPENAI_TOOL_SSE, Duration::ZERO));
    let opts = w::RunOptions {
        tools: vec![tool("get_weather")],
        ..cfg::options()
    };
    let live = h
        .stream_all(gw, "gpt-4o", &cfg::user("weather?"), Some(&opts))
        .await;
    let replay = h
        .stream_all(gw, "gpt-4o", &cfg::user("weather?"), Some(&opts))
        .await;
    assert_eq!(h.mock.hits(), 1);
    let tools = |ev: &[w::StreamEvent]| {
        ev.iter()
            .filter(|e| matches!(e, w::StreamEvent::ToolUse(_)))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(tools(&live), tools(&replay));
    match (live.last(), replay.last()) {
        (Some(w::StreamEvent::Done(a)), Some(w::StreamEvent::Done(b))) => {
            assert!(!a.cached && b.cached);
            assert_eq!(a.usage, b.usage);
            assert_eq!(a.finish_reason, b.finish_reason);
        }
        other => panic!("{other:?}"),
    }
    // A non-streamed call for the same request is a hit too.
    assert!(
        h.run(gw, "gpt-4o", &cfg::user("weather?"), &opts)
            .await
            .unwrap()
            .cached
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cost_two_instances_share_one_exact_total() {
    let mut h = Harness::new().await;
    let config = w::GatewayConfig {
        cost: Some(pricing()),
        ..cfg::gateway(vec![openai_cfg(&h)], Some("openai"))
    };
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let mut inst = Harness::instance_for(&h.mock, &h.kv).await;
        let config = config.clone();
        tasks.push(tokio::spawn(async move {
            let gw = inst.open(&config).await.unwrap().unwrap();
            for _ in 0..25 {
                let out = inst
                    .run(gw, "gpt-4o", &cfg::user("hi"), None)
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(out.cost_micro_usd, Some(120));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let gw = h.open(&config).await;
    let totals = h.costs(gw).await;
    assert_eq!(totals.requests, 50);
    assert_eq!(totals.cost_micro_usd, 50 * 120);
    assert_eq!(totals.usage.input_tokens, 50 * 12);
    assert_eq!(totals.by_model.len(), 1);
    assert_eq!(totals.by_model[0].model, "gpt-4o");
    assert_eq!(h.mock.hits(), 50);
    h.inst.reset_costs(gw).await.unwrap().unwrap();
    assert_eq!(h.costs(gw).await.requests, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn budget_shared_by_two_instances_refuses_calls_whose_worst_case_does_not_fit() {
    let mut h = Harness::new().await;
    // Each call costs 120 and reserves its worst case first: a one-byte
    // prompt is at most 1 + 32 + 16 = 49 input tokens (122.5 micro-USD),
    // and max-tokens 9 caps the output (90): 213. Three calls fit in
    // 2 * 120 + 213 = 453; a fourth would need 360 + 213.
    let config = w::GatewayConfig {
        cost: Some(w::CostConfig {
            budget_micro_usd: Some(453),
            ..pricing()
        }),
        ..cfg::gateway(vec![openai_cfg(&h)], Some("openai"))
    };
    let opts = w::RunOptions {
        max_tokens: Some(9),
        ..cfg::options()
    };
    let gw_a = h.open(&config).await;
    let mut b = Harness::instance_for(&h.mock, &h.kv).await;
    let gw_b = b.open(&config).await.unwrap().unwrap();
    h.run(gw_a, "gpt-4o", &cfg::user("1"), &opts).await.unwrap();
    b.run(gw_b, "gpt-4o", &cfg::user("2"), Some(&opts))
        .await
        .unwrap()
        .unwrap();
    h.run(gw_a, "gpt-4o", &cfg::user("3"), &opts).await.unwrap();
    let e = b
        .run(gw_b, "gpt-4o", &cfg::user("4"), Some(&opts))
        .await
        .unwrap()
        .expect_err("its worst case does not fit");
    match e {
        w::GatewayError::BudgetExceeded(d) => {
            assert_eq!((d.spent_micro_usd, d.budget_micro_usd), (360, 453))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        h.mock.hits(),
        3,
        "the refused call never reached the upstream"
    );
    let status = h.inst.budget(gw_a).await.unwrap().unwrap();
    assert_eq!(
        (status.spent_micro_usd, status.remaining_micro_usd),
        (360, 93)
    );
    assert!(!status.exceeded, "spent stays within the budget");
}

#[tokio::test(flavor = "multi_thread")]
async fn cost_streams_are_recorded_once_on_done() {
    let mut h = Harness::new().await;
    let config = w::GatewayConfig {
        cost: Some(pricing()),
        ..cfg::gateway(vec![openai_cfg(&h)], Some("openai"))
    };
    let gw = h.open(&config).await;
    // The fixture reports 79 input and 14 output tokens: 79*2.5 + 14*10 = 337.5 -> 338.
    h.mock
        .push(Reply::sse(mock::OPENAI_TEXT_SSE, Duration::ZERO));
    let ev = h.stream_all(gw, "gpt-4o", &cfg::user("hi"), None).await;
    match ev.last() {
        Some(w::StreamEvent::Done(d)) => assert_eq!(d.cost_micro_usd, Some(338)),
        other => panic!("{other:?}"),
    }
    // A cut stream costs nothing and is not recorded.
    h.mock
        .push(Reply::sse(mock::OPENAI_TEXT_SSE, Duration::from_millis(1)).cut_after(3));
    h.stream_all(gw, "gpt-4o", &cfg::user("hi"), None).await;
    let t = h.costs(gw).await;
    assert_eq!((t.requests, t.cost_micro_usd), (1, 338));
}

#[tokio::test(flavor = "multi_thread")]
async fn cost_tracker_interface_standalone_matches_table() {
    let mut h = Harness::new().await;
    let sonnet = w::ModelPricing {
        model: "claude-sonnet-4-6".into(),
        input: 3_000_000,
        output: 15_000_000,
        cache_read: Some(300_000),
        cache_write: Some(3_750_000),
        reasoning: None,
    };
    let usage = w::Usage {
        input_tokens: 12_377,
        output_tokens: 65,
        cache_read_tokens: 10_000,
        cache_write_tokens: 2_000,
        reasoning_tokens: 0,
    };
    assert_eq!(h.inst.price(&sonnet, usage).await.unwrap(), 12_606);
    let tracker_cfg = w::CostConfig {
        pricing: vec![sonnet],
        budget_micro_usd: None,
        bucket: None,
        key_prefix: None,
    };
    let t = h.inst.open_tracker(&tracker_cfg).await.unwrap().unwrap();
    assert_eq!(
        h.inst
            .record_usage(t, "claude-sonnet-4-6", usage)
            .await
            .unwrap()
            .unwrap(),
        12_606
    );
    assert_eq!(
        h.inst
            .record_usage(t, "unpriced", usage)
            .await
            .unwrap()
            .unwrap(),
        0
    );
    let totals = h.inst.tracker_totals(t).await.unwrap().unwrap();
    assert_eq!((totals.requests, totals.cost_micro_usd), (2, 12_606));
    let b = h.inst.check_budget(t, 10_000).await.unwrap().unwrap();
    assert!(b.exceeded);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_per_caller_refuses_with_retry_after() {
    let mut h = Harness::new().await;
    let config = w::GatewayConfig {
        rate_limits: Some(w::RateLimitConfig {
            bucket: "limits".into(),
            limits: vec![w::RateLimit {
                name: "per-user".into(),
                scope: w::RateLimitScope::Caller,
                window_seconds: 60,
                max_requests: Some(2),
                max_tokens: None,
            }],
        }),
        ..cfg::gateway(vec![openai_cfg(&h)], Some("openai"))
    };
    let gw = h.open(&config).await;
    let alice = w::RunOptions {
        caller: Some("alice".into()),
        ..cfg::options()
    };
    let bob = w::RunOptions {
        caller: Some("bob".into()),
        ..cfg::options()
    };
    h.run(gw, "gpt-4o", &cfg::user("1"), &alice).await.unwrap();
    h.run(gw, "gpt-4o", &cfg::user("2"), &alice).await.unwrap();
    let e = h
        .run(gw, "gpt-4o", &cfg::user("3"), &alice)
        .await
        .expect_err("third call in the window");
    assert_eq!(kind(&e), "rate-limited");
    let d = common::detail(&e);
    assert!(
        d.retry_after_ms.is_some_and(|ms| ms > 0 && ms <= 60_000),
        "{:?}",
        d.retry_after_ms
    );
    assert_eq!(d.code.as_deref(), Some("gateway_rate_limit"));
    h.run(gw, "gpt-4o", &cfg::user("4"), &bob)
        .await
        .expect("bob has his own window");
    assert_eq!(h.mock.hits(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_tokens_per_model() {
    let mut h = Harness::new().await;
    let config = w::GatewayConfig {
        rate_limits: Some(w::RateLimitConfig {
            bucket: "limits".into(),
            limits: vec![w::RateLimit {
                name: "tpm".into(),
                scope: w::RateLimitScope::Model,
                window_seconds: 60,
                max_requests: None,
                max_tokens: Some(100),
            }],
        }),
        ..cfg::gateway(vec![openai_cfg(&h)], Some("openai"))
    };
    let gw = h.open(&config).await;
    // Each call holds its worst case while in flight (49 input + 9 output
    // tokens), then counts the 21 the mock's answer used: three calls fit
    // (0 + 58, 21 + 58, 42 + 58 <= 100); a fourth would pass 100.
    let opts = w::RunOptions {
        max_tokens: Some(9),
        ..cfg::options()
    };
    for i in 1..=3 {
        h.run(gw, "gpt-4o", &cfg::user(&i.to_string()), &opts)
            .await
            .unwrap();
    }
    let e = h
        .run(gw, "gpt-4o", &cfg::user("4"), &opts)
        .await
        .expect_err("63 used + 58 held would pass 100");
    assert_eq!(kind(&e), "rate-limited");
    assert_eq!(h.mock.hits(), 3);
    h.run(gw, "gpt-4o-mini", &cfg::user("5"), &opts)
        .await
        .expect("another model has its own counter");
}

#[tokio::test(flavor = "multi_thread")]
async fn logging_trace_and_stderr_json_lines_without_secrets() {
    let h = Harness::new().await;
    let pipe = wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(1 << 20);
    let ic = InstanceConfig {
        redirect: Some(Redirect {
            authority: h.mock.authority(),
        }),
        stderr: Some(pipe.clone()),
        ..InstanceConfig::new(h.kv.clone())
    };
    let mut inst = common::runtime().instance(&ic).await.unwrap();
    let logging = |include_prompts| w::LoggingConfig {
        level: w::LogLevel::Info,
        stderr: true,
        include_prompts,
    };
    let config = w::GatewayConfig {
        logging: Some(logging(false)),
        retry: Some(cfg::retry(2)),
        cost: Some(pricing()),
        ..cfg::gateway(vec![openai_cfg(&h)], Some("openai"))
    };
    let gw = inst.open(&config).await.unwrap().unwrap();
    h.mock
        .push(Reply::json(503, json!({"error": {"message": "busy"}})));
    let out = inst
        .run(gw, "gpt-4o", &cfg::user("a secret prompt"), None)
        .await
        .unwrap()
        .unwrap();
    let events: Vec<_> = out.trace.iter().map(|r| r.event).collect();
    assert_eq!(
        events,
        [
            w::LogEvent::Request,
            w::LogEvent::Retry,
            w::LogEvent::Response
        ]
    );
    let resp = &out.trace[2];
    assert_eq!(
        (resp.attempts, resp.cost_micro_usd, resp.cached),
        (2, Some(120), false)
    );
    assert_eq!(resp.usage.map(|u| u.output_tokens), Some(9));
    assert!(out.trace.iter().all(|r| r.prompt.is_none()));
    // A failed call writes an error record.
    h.mock.push(Reply::json(
        401,
        json!({"error": {"message": "bad key sk-test-openai"}}),
    ));
    assert!(
        inst.run(gw, "gpt-4o", &cfg::user("x"), None)
            .await
            .unwrap()
            .is_err()
    );
    let stderr = String::from_utf8(pipe.contents().to_vec()).unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let names: Vec<_> = lines
        .iter()
        .map(|l| l["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["request", "retry", "response", "request", "error"]);
    assert_eq!(lines[2]["level"], "info");
    assert_eq!(lines[4]["level"], "error");
    assert!(
        !stderr.contains("sk-test-openai"),
        "API keys never reach the logs: {stderr}"
    );
    assert!(!stderr.contains("a secret prompt"));
    // Prompts only when asked for.
    let config = w::GatewayConfig {
        logging: Some(logging(true)),
        ..config
    };
    let gw = inst.open(&config).await.unwrap().unwrap();
    let out = inst
        .run(gw, "gpt-4o", &cfg::user("show me"), None)
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.trace[0]
            .prompt
            .as_deref()
            .is_some_and(|p| p.contains("show me"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn allowlist_in_gateway_refuses_other_models() {
    let mut h = Harness::new().await;
    let config = w::GatewayConfig {
        allowlist: Some(vec![
            wa::ProviderModels {
                provider: "openai".into(),
                models: vec![
                    wa::ModelMatcher::Exact("gpt-4o".into()),
                    wa::ModelMatcher::Prefix("gpt-4o-mini".into()),
                ],
            },
            wa::ProviderModels {
                provider: "anthropic".into(),
                models: vec![],
            },
        ]),
        ..cfg::gateway(vec![openai_cfg(&h), anthropic_cfg(&h)], Some("openai"))
    };
    let gw = h.open(&config).await;
    h.run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
        .await
        .expect("allowed exactly");
    h.run(gw, "gpt-4o-mini-2024", &cfg::user("hi"), &cfg::options())
        .await
        .expect("allowed by prefix");
    for (model, provider) in [("gpt-4", "openai"), ("claude-sonnet-4-6", "anthropic")] {
        let opts = w::RunOptions {
            provider: Some(provider.into()),
            ..cfg::options()
        };
        let e = h
            .run(gw, model, &cfg::user("hi"), &opts)
            .await
            .expect_err("not allowed");
        match e {
            w::GatewayError::ModelNotAllowed(m) => {
                assert_eq!((m.provider.as_str(), m.model.as_str()), (provider, model))
            }
            other => panic!("{other:?}"),
        }
    }
    let e = h
        .inst
        .stream(gw, "gpt-4", &cfg::user("hi"), None)
        .await
        .unwrap()
        .expect_err("streams too");
    assert_eq!(kind(&e), "model-not-allowed");
    assert_eq!(h.mock.hits(), 2);
    // The functional form, exported by the gateway.
    let rules = vec![wa::ProviderModels {
        provider: "groq".into(),
        models: vec![wa::ModelMatcher::Prefix("llama-3.1-".into())],
    }];
    assert!(
        h.inst
            .is_allowed_model(&rules, "groq", "llama-3.1-8b")
            .await
            .unwrap()
    );
    assert!(
        !h.inst
            .is_allowed_model(&rules, "groq", "llama-3.2-1b")
            .await
            .unwrap()
    );
    assert!(
        !h.inst
            .is_allowed_model(&rules, "openai", "llama-3.1-8b")
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn allowlist_component_runs_in_wasmtime() {
    let engine = host_test::host::engine(false, None).unwrap();
    let component = wasmtime::component::Component::from_file(&engine, allowlist_wasm()).unwrap();
    let linker = wasmtime::component::Linker::<()>::new(&engine);
    let mut store = wasmtime::Store::new(&engine, ());
    let al = allowlist_bindings::Allowlist::instantiate_async(&mut store, &component, &linker)
        .await
        .unwrap();
    let api = al.workkit_ai_gateway_model_allowlist();
    use allowlist_bindings::exports::workkit::ai_gateway::model_allowlist as m;
    let config = vec![
        m::ProviderModels {
            provider: "anthropic".into(),
            models: vec![
                m::ModelMatcher::Exact("claude-opus-4-7".into()),
                m::ModelMatcher::Exact("claude-sonnet-4-6".into()),
            ],
        },
        m::ProviderModels {
            provider: "openai".into(),
            models: vec![
                m::ModelMatcher::Exact("gpt-4o".into()),
                m::ModelMatcher::Exact("gpt-4o-mini".into()),
            ],
        },
        m::ProviderModels {
            provider: "groq".into(),
            models: vec![m::ModelMatcher::Prefix("llama-3.1-".into())],
        },
        m::ProviderModels {
            provider: "none".into(),
            models: vec![],
        },
    ];
    let cases = [
        ("anthropic", "claude-sonnet-4-6", true),
        ("anthropic", "claude-sonnet-4-6-20260101", false),
        ("openai", "gpt-4o-mini", true),
        ("groq", "llama-3.1-70b", true),
        ("groq", "llama-3.2-1b", false),
        ("mistral", "mistral-large", false),
        ("none", "anything", false),
    ];
    let compiled = api
        .call_create_model_allowlist(&mut store, &config)
        .await
        .unwrap();
    for (provider, model, want) in cases {
        assert_eq!(
            api.call_is_allowed_model(&mut store, &config, provider, model)
                .await
                .unwrap(),
            want,
            "{provider} {model}"
        );
        assert_eq!(
            api.allowlist()
                .call_is_allowed(&mut store, compiled, provider, model)
                .await
                .unwrap(),
            want,
            "{provider} {model}"
        );
    }
    compiled.resource_drop_async(&mut store).await.unwrap();
    println!(
        "allowlist component: {} bytes",
        std::fs::metadata(allowlist_wasm()).unwrap().len()
    );
}

/// An empty prefix can decide nothing, so it allows nothing: in
/// `gateway-config.allowlist`, in the gateway's exported matcher and in the
/// standalone allowlist component (one crate serves all three).
#[tokio::test(flavor = "multi_thread")]
async fn allowlist_empty_prefix_refuses_everything_on_every_path() {
    let mut h = Harness::new().await;
    let rules = vec![wa::ProviderModels {
        provider: "openai".into(),
        models: vec![wa::ModelMatcher::Prefix(String::new())],
    }];
    let config = w::GatewayConfig {
        allowlist: Some(rules.clone()),
        ..cfg::gateway(vec![openai_cfg(&h)], Some("openai"))
    };
    let gw = h.open(&config).await;
    let e = h
        .run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
        .await
        .expect_err("an empty prefix allows nothing");
    assert_eq!(kind(&e), "model-not-allowed");
    assert_eq!(h.mock.hits(), 0);
    assert!(
        !h.inst
            .is_allowed_model(&rules, "openai", "gpt-4o")
            .await
            .unwrap()
    );

    let engine = host_test::host::engine(false, None).unwrap();
    let component = wasmtime::component::Component::from_file(&engine, allowlist_wasm()).unwrap();
    let linker = wasmtime::component::Linker::<()>::new(&engine);
    let mut store = wasmtime::Store::new(&engine, ());
    let al = allowlist_bindings::Allowlist::instantiate_async(&mut store, &component, &linker)
        .await
        .unwrap();
    let api = al.workkit_ai_gateway_model_allowlist();
    use allowlist_bindings::exports::workkit::ai_gateway::model_allowlist as m;
    let config = vec![m::ProviderModels {
        provider: "openai".into(),
        models: vec![m::ModelMatcher::Prefix(String::new())],
    }];
    for model in ["gpt-4o", ""] {
        assert!(
            !api.call_is_allowed_model(&mut store, &config, "openai", model)
                .await
                .unwrap()
        );
    }
    let compiled = api
        .call_create_model_allowlist(&mut store, &config)
        .await
        .unwrap();
    assert!(
        !api.allowlist()
            .call_is_allowed(&mut store, compiled, "openai", "gpt-4o")
            .await
            .unwrap()
    );
    compiled.resource_drop_async(&mut store).await.unwrap();
}

/// Routes match model ids in either case, and a router never names an
/// empty provider (it would later resolve to `""`).
#[tokio::test(flavor = "multi_thread")]
async fn router_matches_either_case_and_refuses_an_empty_provider() {
    let mut h = Harness::new().await;
    let rc = w::RouterConfig {
        routes: vec![w::Route {
            pattern: "GPT-*".into(),
            provider: "openai".into(),
        }],
        fallback: None,
    };
    let r = h.inst.create_router(&rc).await.unwrap().unwrap();
    assert_eq!(
        h.inst.route(r, "gpt-4o").await.unwrap().as_deref(),
        Some("openai")
    );
    let config = w::GatewayConfig {
        router: Some(rc),
        ..cfg::gateway(vec![openai_cfg(&h)], None)
    };
    let gw = h.open(&config).await;
    h.run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
        .await
        .expect("GPT-* routes gpt-4o");
    for bad in [
        w::RouterConfig {
            routes: vec![w::Route {
                pattern: "gpt-*".into(),
                provider: String::new(),
            }],
            fallback: None,
        },
        w::RouterConfig {
            routes: Vec::new(),
            fallback: Some(String::new()),
        },
    ] {
        let e = h
            .inst
            .create_router(&bad)
            .await
            .unwrap()
            .expect_err("empty provider");
        assert_eq!(kind(&e), "validation");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn router_standalone_and_explicit_provider_wins() {
    let mut h = Harness::new().await;
    let rc = w::RouterConfig {
        routes: vec![
            w::Route {
                pattern: "gpt-*".into(),
                provider: "openai".into(),
            },
            w::Route {
                pattern: "@cf/*".into(),
                provider: "workers".into(),
            },
        ],
        fallback: Some("anthropic".into()),
    };
    let r = h.inst.create_router(&rc).await.unwrap().unwrap();
    assert_eq!(
        h.inst.route(r, "gpt-4o").await.unwrap().as_deref(),
        Some("openai")
    );
    assert_eq!(
        h.inst.route(r, "@cf/meta/llama").await.unwrap().as_deref(),
        Some("workers")
    );
    assert_eq!(
        h.inst.route(r, "mistral").await.unwrap().as_deref(),
        Some("anthropic")
    );
    let bad = w::RouterConfig {
        routes: vec![w::Route {
            pattern: String::new(),
            provider: "x".into(),
        }],
        fallback: None,
    };
    assert_eq!(
        kind(
            &h.inst
                .create_router(&bad)
                .await
                .unwrap()
                .expect_err("empty pattern")
        ),
        "validation"
    );
    let config = w::GatewayConfig {
        router: Some(rc),
        ..cfg::gateway(
            vec![openai_cfg(&h), anthropic_cfg(&h), workers_cfg(&h)],
            None,
        )
    };
    let gw = h.open(&config).await;
    let out = h
        .run(
            gw,
            "gpt-4o",
            &cfg::user("hi"),
            &w::RunOptions {
                provider: Some("anthropic".into()),
                ..cfg::options()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        out.provider, "anthropic",
        "an explicit provider wins over routes"
    );
    let out = h
        .run(
            gw,
            "@cf/meta/llama-3.1-8b-instruct",
            &cfg::user("hi"),
            &cfg::options(),
        )
        .await
        .unwrap();
    assert_eq!(out.provider, "workers");
}

#[tokio::test(flavor = "multi_thread")]
async fn embed_openai_and_workers_keep_order_anthropic_is_validation() {
    let mut h = Harness::new().await;
    let config = cfg::gateway(
        vec![openai_cfg(&h), anthropic_cfg(&h), workers_cfg(&h)],
        Some("openai"),
    );
    let gw = h.open(&config).await;
    let input: Vec<String> = ["a", "b", "c"].iter().map(|s| (*s).to_owned()).collect();
    // OpenAI answers out of order; the gateway sorts by index.
    h.mock.push(Reply::json(200, json!({"data": [
        {"index": 2, "embedding": [2.0]}, {"index": 0, "embedding": [0.0]}, {"index": 1, "embedding": [1.0]}],
        "model": "text-embedding-3-small", "usage": {"prompt_tokens": 3, "total_tokens": 3}})));
    let opts = w::EmbedOptions {
        provider: None,
        dimensions: Some(256),
        timeout_ms: None,
    };
    let out = h
        .inst
        .embed(gw, "text-embedding-3-small", &input, Some(&opts))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.embeddings, vec![vec![0.0], vec![1.0], vec![2.0]]);
    assert_eq!(out.usage.map(|u| u.input_tokens), Some(3));
    let req = h.mock.last().unwrap();
    assert!(req.path.ends_with("/v1/embeddings"));
    assert_eq!(
        req.json(),
        json!({"model": "text-embedding-3-small", "input": ["a", "b", "c"], "encoding_format": "float", "dimensions": 256})
    );

    let wopts = w::EmbedOptions {
        provider: Some("workers".into()),
        dimensions: None,
        timeout_ms: None,
    };
    let out = h
        .inst
        .embed(gw, "@cf/baai/bge-small-en-v1.5", &input, Some(&wopts))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.embeddings.len(), 3);
    assert_eq!(out.embeddings[2][0], 2.0);
    assert_eq!(
        h.mock.last().unwrap().json(),
        json!({"text": ["a", "b", "c"]})
    );

    let aopts = w::EmbedOptions {
        provider: Some("anthropic".into()),
        dimensions: None,
        timeout_ms: None,
    };
    let e = h
        .inst
        .embed(gw, "claude", &input, Some(&aopts))
        .await
        .unwrap()
        .expect_err("no embeddings API");
    assert_eq!(kind(&e), "validation");
    let e = h
        .inst
        .embed(gw, "m", &[], None)
        .await
        .unwrap()
        .expect_err("empty input");
    assert_eq!(kind(&e), "validation");
}
