//! Retry, deadlines, fallback chains and the Cloudflare Universal Endpoint,
//! proven by counting the mock upstream's hits and timing them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use std::time::{Duration, Instant};

use common::{Harness, anthropic_cfg, detail, kind, openai_cfg, workers_cfg};
use host_test::cfg;
use host_test::host::{GatewayHandle, w};
use host_test::mock::{self, Reply};
use serde_json::json;

fn openai_ok(text: &str) -> Reply {
    Reply::json(
        200,
        json!({"model": "gpt-4o", "choices": [{"index": 0, "message": {"content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1}}),
    )
}

fn anthropic_ok(text: &str) -> Reply {
    Reply::json(
        200,
        json!({"model": "claude-sonnet-4-6", "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 1}}),
    )
}

fn err(status: u16) -> Reply {
    Reply::json(
        status,
        json!({"error": {"message": format!("status {status}"), "type": "test_error"}}),
    )
}

async fn gateway(h: &mut Harness, retry: Option<w::RetryPolicy>) -> GatewayHandle {
    let config = w::GatewayConfig {
        retry,
        ..cfg::gateway(
            vec![openai_cfg(h), anthropic_cfg(h), workers_cfg(h)],
            Some("openai"),
        )
    };
    h.open(&config).await
}

fn policy(max_attempts: u32) -> w::RetryPolicy {
    w::RetryPolicy {
        max_attempts,
        retry_on: vec![],
        initial_backoff_ms: 20,
        max_backoff_ms: 200,
        max_retry_after_ms: 10_000,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_429_with_retry_after_1_then_200_two_hits_one_second_apart() {
    let mut h = Harness::new().await;
    let gw = gateway(&mut h, Some(policy(3))).await;
    h.mock.push(err(429).header("retry-after", "1"));
    h.mock.push(openai_ok("finally"));
    let started = Instant::now();
    let out = h
        .run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
        .await
        .expect("succeeds after one retry");
    assert_eq!(out.text, "finally");
    assert_eq!(h.mock.hits(), 2);
    let r = h.mock.requests();
    let gap = r[1].at.duration_since(r[0].at);
    assert!(
        gap >= Duration::from_millis(1000),
        "waited {gap:?}, the server asked for 1 s"
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
    let statuses: Vec<_> = out.attempts.iter().map(|a| (a.status, a.error)).collect();
    assert_eq!(
        statuses,
        [
            (Some(429), Some(w::ErrorKind::RateLimited)),
            (Some(200), None)
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_503_503_200_three_hits() {
    let mut h = Harness::new().await;
    let gw = gateway(&mut h, Some(policy(3))).await;
    for r in [err(503), err(503), openai_ok("ok")] {
        h.mock.push(r);
    }
    let out = h
        .run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
        .await
        .expect("ok");
    assert_eq!(h.mock.hits(), 3);
    assert_eq!(out.attempts.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_never_on_400_or_401_one_hit_each() {
    let mut h = Harness::new().await;
    let gw = gateway(&mut h, Some(policy(5))).await;
    for status in [400, 401] {
        h.mock.reset();
        h.mock.push(err(status));
        h.mock.push(openai_ok("never reached"));
        let e = h
            .run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
            .await
            .expect_err("fails");
        assert_eq!(h.mock.hits(), 1, "{status}");
        assert_eq!(detail(&e).status, Some(status));
        assert_eq!(detail(&e).attempts.len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_exhausted_returns_last_error_with_every_attempt() {
    let mut h = Harness::new().await;
    let gw = gateway(&mut h, Some(policy(4))).await;
    for s in [500, 502, 503, 529] {
        h.mock.push(err(s));
    }
    let e = h
        .run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
        .await
        .expect_err("exhausted");
    assert_eq!(h.mock.hits(), 4);
    assert_eq!(kind(&e), "service-unavailable");
    let d = detail(&e);
    assert_eq!(d.status, Some(529), "the last error is returned");
    let listed: Vec<_> = d.attempts.iter().map(|a| a.status).collect();
    assert_eq!(listed, [Some(500), Some(502), Some(503), Some(529)]);
    assert!(
        d.attempts
            .iter()
            .all(|a| a.provider == "openai" && a.model == "gpt-4o")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_deadline_shorter_than_retry_after_stops_early_without_extra_hit() {
    let mut h = Harness::new().await;
    let gw = gateway(&mut h, Some(policy(3))).await;
    h.mock.push(err(429).header("retry-after", "3"));
    h.mock.push(openai_ok("too late"));
    let started = Instant::now();
    let opts = w::RunOptions {
        timeout_ms: Some(1000),
        ..cfg::options()
    };
    let e = h
        .run(gw, "gpt-4o", &cfg::user("hi"), &opts)
        .await
        .expect_err("deadline");
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "gave up at once instead of sleeping: {:?}",
        started.elapsed()
    );
    assert_eq!(kind(&e), "timeout");
    assert_eq!(h.mock.hits(), 1, "no extra hit");
    match &e {
        w::GatewayError::Timeout(t) => assert_eq!(t.attempts.len(), 1),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_per_call_policy_and_per_attempt_first_byte_timeout() {
    let mut h = Harness::new().await;
    let config = w::GatewayConfig {
        attempt_timeouts: Some(w::AttemptTimeouts {
            connect_ms: Some(1000),
            first_byte_ms: Some(200),
            between_bytes_ms: None,
        }),
        ..cfg::gateway(vec![openai_cfg(&h)], Some("openai"))
    };
    let gw = h.open(&config).await;
    h.mock
        .push(openai_ok("slow").delayed(Duration::from_millis(1500)));
    h.mock.push(openai_ok("fast"));
    let opts = w::RunOptions {
        retry: Some(policy(2)),
        ..cfg::options()
    };
    let started = Instant::now();
    let out = h
        .run(gw, "gpt-4o", &cfg::user("hi"), &opts)
        .await
        .expect("the retry is fast");
    assert_eq!(out.text, "fast");
    assert_eq!(out.attempts[0].error, Some(w::ErrorKind::Timeout));
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deadline_bounds_a_slow_upstream() {
    let mut h = Harness::new().await;
    let gw = gateway(&mut h, None).await;
    h.mock
        .push(openai_ok("slow").delayed(Duration::from_secs(3)));
    let started = Instant::now();
    let opts = w::RunOptions {
        timeout_ms: Some(300),
        ..cfg::options()
    };
    let e = h
        .run(gw, "gpt-4o", &cfg::user("hi"), &opts)
        .await
        .expect_err("deadline");
    assert_eq!(kind(&e), "timeout");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(1500),
        "{took:?}"
    );
}

fn chain(on: Vec<w::ErrorKind>) -> w::FallbackChain {
    w::FallbackChain {
        entries: vec![
            w::FallbackEntry {
                provider: "openai".into(),
                model: "gpt-4o".into(),
            },
            w::FallbackEntry {
                provider: "anthropic".into(),
                model: "claude-sonnet-4-6".into(),
            },
        ],
        on,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fallback_openai_to_anthropic_on_500_not_on_400() {
    let mut h = Harness::new().await;
    let config = w::GatewayConfig {
        chains: vec![w::NamedChain {
            name: "smart".into(),
            chain: chain(vec![]),
        }],
        ..cfg::gateway(vec![openai_cfg(&h), anthropic_cfg(&h)], Some("openai"))
    };
    let gw = h.open(&config).await;
    h.mock.push(err(500));
    h.mock.push(anthropic_ok("from claude"));
    let out = h
        .run(gw, "smart", &cfg::user("hi"), &cfg::options())
        .await
        .expect("falls back");
    assert_eq!(
        (out.provider.as_str(), out.text.as_str()),
        ("anthropic", "from claude")
    );
    let r = h.mock.requests();
    assert_eq!(r.len(), 2);
    assert!(r[0].path.ends_with("/chat/completions") && r[1].path.ends_with("/v1/messages"));
    assert_eq!(r[1].json()["model"], "claude-sonnet-4-6");
    let served: Vec<_> = out
        .attempts
        .iter()
        .map(|a| (a.provider.as_str(), a.status))
        .collect();
    assert_eq!(served, [("openai", Some(500)), ("anthropic", Some(200))]);

    h.mock.reset();
    h.mock.push(err(400));
    h.mock.push(anthropic_ok("never"));
    let e = h
        .run(gw, "smart", &cfg::user("hi"), &cfg::options())
        .await
        .expect_err("no fallback on 400");
    assert_eq!(detail(&e).status, Some(400));
    assert_eq!(h.mock.hits(), 1);

    // A chain that lists `upstream` moves on even for a 400; one given per call works the same.
    h.mock.reset();
    h.mock.push(err(400));
    h.mock.push(anthropic_ok("listed"));
    let opts = w::RunOptions {
        fallback: Some(chain(vec![w::ErrorKind::Upstream])),
        ..cfg::options()
    };
    let out = h
        .run(gw, "ignored", &cfg::user("hi"), &opts)
        .await
        .expect("moves on");
    assert_eq!(out.text, "listed");
}

#[tokio::test(flavor = "multi_thread")]
async fn fallback_chain_entries_each_get_their_retries_and_reach_workers_ai() {
    let mut h = Harness::new().await;
    let config = w::GatewayConfig {
        retry: Some(policy(2)),
        ..cfg::gateway(
            vec![openai_cfg(&h), anthropic_cfg(&h), workers_cfg(&h)],
            Some("openai"),
        )
    };
    let gw = h.open(&config).await;
    let three = w::FallbackChain {
        entries: vec![
            w::FallbackEntry {
                provider: "openai".into(),
                model: "gpt-4o".into(),
            },
            w::FallbackEntry {
                provider: "anthropic".into(),
                model: "claude-sonnet-4-6".into(),
            },
            w::FallbackEntry {
                provider: "workers".into(),
                model: "@cf/meta/llama-3.1-8b-instruct".into(),
            },
        ],
        on: vec![],
    };
    // Each entry has its own two attempts (issue 16): openai 503, 503 ->
    // anthropic 503, 503 -> workers 200.
    for r in [err(503), err(503), err(503), err(503)] {
        h.mock.push(r);
    }
    h.mock.push(mock::workers_json());
    let opts = w::RunOptions {
        fallback: Some(three),
        ..cfg::options()
    };
    let out = h
        .run(gw, "x", &cfg::user("hi"), &opts)
        .await
        .expect("workers serves");
    assert_eq!(out.provider, "workers");
    let seen: Vec<_> = out.attempts.iter().map(|a| a.provider.as_str()).collect();
    assert_eq!(
        seen,
        ["openai", "openai", "anthropic", "anthropic", "workers"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_retries_before_the_first_event_only() {
    let mut h = Harness::new().await;
    let gw = gateway(&mut h, Some(policy(3))).await;
    h.mock.push(err(503));
    h.mock
        .push(Reply::sse(mock::OPENAI_TEXT_SSE, Duration::ZERO));
    let opts = w::RunOptions {
        provider: Some("openai".into()),
        ..cfg::options()
    };
    let s = h
        .inst
        .stream(gw, "gpt-4o", &cfg::user("hi"), Some(&opts))
        .await
        .unwrap()
        .expect("opens after a retry");
    let events = h.inst.collect(s).await.unwrap();
    assert!(matches!(events.last(), Some(w::StreamEvent::Done(_))));
    assert_eq!(h.inst.stream_attempts(s).await.unwrap().len(), 2);
    // After text was delivered a cut is an error event, never a restart.
    h.mock.reset();
    h.mock
        .push(Reply::sse(mock::OPENAI_TEXT_SSE, Duration::from_millis(1)).cut_after(5));
    h.mock
        .push(Reply::sse(mock::OPENAI_TEXT_SSE, Duration::ZERO));
    let s = h
        .inst
        .stream(gw, "gpt-4o", &cfg::user("hi"), Some(&opts))
        .await
        .unwrap()
        .expect("opens");
    let events = h.inst.collect(s).await.unwrap();
    assert!(matches!(events.last(), Some(w::StreamEvent::Error(_))));
    assert_eq!(h.mock.hits(), 1, "no silent restart that would repeat text");
}

fn cf() -> w::CfGatewayConfig {
    w::CfGatewayConfig {
        account_id: "acc1".into(),
        gateway_id: "gw1".into(),
        auth_token: Some("aig-token".into()),
        cache_ttl: None,
        skip_cache: false,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn run_fallback_universal_endpoint_exact_request_and_cf_aig_step() {
    let mut h = Harness::new().await;
    let config = w::GatewayConfig {
        cf_gateway: Some(cf()),
        ..cfg::gateway(
            vec![
                cfg::anthropic("anthropic", "sk-ant-1", None),
                cfg::openai("openai", "sk-oai-1", None),
                workers_cfg(&h),
            ],
            None,
        )
    };
    let gw = h.open(&config).await;
    let entries = vec![
        w::FallbackEntry {
            provider: "anthropic".into(),
            model: "claude-sonnet-4-6".into(),
        },
        w::FallbackEntry {
            provider: "openai".into(),
            model: "gpt-4o".into(),
        },
    ];
    // Cloudflare says step 1 (openai) served.
    h.mock
        .push(openai_ok("served by openai").header("cf-aig-step", "1"));
    let input = w::AiInput::Messages(vec![
        cfg::message(w::Role::System, "Be brief."),
        cfg::message(w::Role::User, "hi"),
    ]);
    let opts = w::RunOptions {
        max_tokens: Some(100),
        ..cfg::options()
    };
    let out = h
        .inst
        .run_fallback(gw, &entries, &input, Some(&opts))
        .await
        .unwrap()
        .expect("ok");
    assert_eq!(out.provider, "openai");
    assert_eq!(out.text, "served by openai");
    let r = h.only_request();
    assert_eq!(r.url(), "https://gateway.ai.cloudflare.com/v1/acc1/gw1");
    assert_eq!(r.header("cf-aig-authorization"), Some("Bearer aig-token"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!([
            {"provider": "anthropic", "endpoint": "v1/messages",
             "headers": {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-1", "content-type": "application/json"},
             "query": {"model": "claude-sonnet-4-6", "max_tokens": 100, "system": "Be brief.", "messages": [{"role": "user", "content": "hi"}]}},
            {"provider": "openai", "endpoint": "chat/completions",
             "headers": {"authorization": "Bearer sk-oai-1", "content-type": "application/json"},
             "query": {"model": "gpt-4o", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}], "max_completion_tokens": 100}}
        ])
    );
    // Step 0 (or no header): the first entry served, parsed as Anthropic.
    h.mock
        .push(anthropic_ok("served by claude").header("cf-aig-step", "0"));
    let out = h
        .inst
        .run_fallback(gw, &entries, &input, None)
        .await
        .unwrap()
        .expect("ok");
    assert_eq!(
        (out.provider.as_str(), out.text.as_str()),
        ("anthropic", "served by claude")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn run_fallback_rejects_workers_ai_entries_and_missing_cf_gateway() {
    let mut h = Harness::new().await;
    let with_cf = w::GatewayConfig {
        cf_gateway: Some(cf()),
        ..cfg::gateway(vec![openai_cfg(&h), workers_cfg(&h)], None)
    };
    let gw = h.open(&with_cf).await;
    let bad = vec![w::FallbackEntry {
        provider: "workers".into(),
        model: "@cf/x".into(),
    }];
    let e = h
        .inst
        .run_fallback(gw, &bad, &cfg::user("hi"), None)
        .await
        .unwrap()
        .expect_err("workers-ai");
    assert_eq!(kind(&e), "validation");
    let no_cf = cfg::gateway(vec![openai_cfg(&h)], None);
    let gw = h.open(&no_cf).await;
    let ok = vec![w::FallbackEntry {
        provider: "openai".into(),
        model: "gpt-4o".into(),
    }];
    let e = h
        .inst
        .run_fallback(gw, &ok, &cfg::user("hi"), None)
        .await
        .unwrap()
        .expect_err("needs cf-gateway");
    assert_eq!(kind(&e), "validation");
    assert_eq!(h.mock.hits(), 0);
}
