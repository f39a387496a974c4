//! Engine behaviour over in-memory ports: the retry / fallback loop,
//! deadlines, the cache and budget paths, and stream accounting.

use super::*;
use crate::config::{GatewayConfig, ProviderConfig, ProviderKind};
use crate::error::ErrorKind;
use crate::testing::{FixedRandom, ManualClock, MemKv, NoLog, Reply, ScriptedHttp};
use crate::types::{FallbackChain, FallbackEntry, Input, RunOptions, StreamEvent};

const OK: &str = r#"{"model":"m","choices":[{"index":0,"message":{"content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":5}}"#;
const ANTHROPIC_OK: &str = r#"{"model":"claude","content":[{"type":"text","text":"from claude"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":2}}"#;

struct World {
    http: ScriptedHttp,
    clock: ManualClock,
    random: FixedRandom,
    kv: MemKv,
    log: NoLog,
}

impl World {
    fn new(replies: Vec<Reply>) -> Self {
        Self {
            http: ScriptedHttp::new(replies),
            clock: ManualClock::default(),
            random: FixedRandom(0),
            kv: MemKv::default(),
            log: NoLog,
        }
    }

    fn env(&self) -> Env<'_, ScriptedHttp> {
        Env {
            http: &self.http,
            clock: &self.clock,
            random: &self.random,
            kv: &self.kv,
            log: &self.log,
        }
    }
}

fn provider(name: &str, kind: ProviderKind) -> ProviderConfig {
    let mut p = ProviderConfig::new(name, kind);
    p.base_url = Some("http://upstream".into());
    p
}

fn gateway(retry: Option<RetryPolicy>) -> Gateway {
    Gateway::open(GatewayConfig {
        providers: vec![
            provider("openai", ProviderKind::OpenAi),
            provider("anthropic", ProviderKind::Anthropic),
        ],
        default_provider: Some("openai".into()),
        retry,
        ..GatewayConfig::default()
    })
    .unwrap()
}

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        retry_on: vec![],
        initial_backoff_ms: 100,
        max_backoff_ms: 1000,
        max_retry_after_ms: 10_000,
    }
}

fn input() -> Input {
    Input::Prompt("hi".into())
}

#[test]
fn retry_429_with_retry_after_waits_server_delay_then_succeeds() {
    let w = World::new(vec![
        Reply::json(429, "{}").with_header("retry-after", "1"),
        Reply::json(200, OK),
    ]);
    let out = gateway(Some(policy(3)))
        .run(&w.env(), "m", &input(), &RunOptions::default())
        .unwrap();
    assert_eq!(w.http.hits(), 2);
    assert_eq!(*w.clock.slept.borrow(), vec![1000]);
    assert_eq!(
        out.attempts.iter().map(|a| a.status).collect::<Vec<_>>(),
        vec![Some(429), Some(200)]
    );
    assert_eq!(out.attempts[0].error, Some(ErrorKind::RateLimited));
}

#[test]
fn retry_503_twice_then_200_uses_jittered_backoff() {
    let w = World {
        random: FixedRandom(u64::MAX),
        ..World::new(vec![
            Reply::json(503, ""),
            Reply::json(503, ""),
            Reply::json(200, OK),
        ])
    };
    gateway(Some(policy(3)))
        .run(&w.env(), "m", &input(), &RunOptions::default())
        .unwrap();
    assert_eq!(w.http.hits(), 3);
    let slept = w.clock.slept.borrow().clone();
    assert_eq!(slept.len(), 2);
    assert!(
        slept[0] <= 100 && slept[1] <= 200,
        "full jitter within the doubling ceiling: {slept:?}"
    );
}

#[test]
fn retry_never_on_400_or_401() {
    for status in [400, 401, 404] {
        let w = World::new(vec![Reply::json(status, "{}"), Reply::json(200, OK)]);
        let e = gateway(Some(policy(5)))
            .run(&w.env(), "m", &input(), &RunOptions::default())
            .unwrap_err();
        assert_eq!(w.http.hits(), 1, "{status}");
        assert_eq!(e.status(), Some(status));
    }
}

#[test]
fn retry_exhausted_returns_last_error() {
    let w = World::new(vec![
        Reply::json(500, "{}"),
        Reply::json(502, ""),
        Reply::json(503, ""),
    ]);
    let e = gateway(Some(policy(3)))
        .run(&w.env(), "m", &input(), &RunOptions::default())
        .unwrap_err();
    assert_eq!(w.http.hits(), 3);
    assert_eq!(e.status(), Some(503));
}

#[test]
fn retry_deadline_shorter_than_retry_after_stops_without_extra_hit() {
    let w = World::new(vec![
        Reply::json(429, "{}").with_header("retry-after", "5"),
        Reply::json(200, OK),
    ]);
    let opts = RunOptions {
        timeout_ms: Some(2000),
        ..RunOptions::default()
    };
    let e = gateway(Some(policy(3)))
        .run(&w.env(), "m", &input(), &opts)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(w.http.hits(), 1);
    assert!(
        w.clock.slept.borrow().is_empty(),
        "did not sleep into a deadline it would miss"
    );
}

#[test]
fn retry_connection_error_is_retried() {
    let w = World::new(vec![
        Reply::Transport(crate::ports::TransportError::Connection("refused".into())),
        Reply::json(200, OK),
    ]);
    let out = gateway(Some(policy(2)))
        .run(&w.env(), "m", &input(), &RunOptions::default())
        .unwrap();
    assert_eq!(out.attempts[0].status, None);
    assert_eq!(out.attempts[0].error, Some(ErrorKind::ServiceUnavailable));
}

/// A chain of openai `gpt-4o`, then anthropic `claude`.
fn openai_then_anthropic() -> FallbackChain {
    let entry = |provider: &str, model: &str| FallbackEntry {
        provider: provider.into(),
        model: model.into(),
    };
    FallbackChain {
        entries: vec![entry("openai", "gpt-4o"), entry("anthropic", "claude")],
        on: vec![],
    }
}

#[test]
fn fallback_moves_on_500_not_on_400() {
    let chain = openai_then_anthropic();
    let opts = RunOptions {
        fallback: Some(chain),
        ..RunOptions::default()
    };
    let w = World::new(vec![Reply::json(500, "{}"), Reply::json(200, ANTHROPIC_OK)]);
    let out = gateway(None)
        .run(&w.env(), "ignored", &input(), &opts)
        .unwrap();
    assert_eq!(out.provider, "anthropic");
    assert_eq!(out.text, "from claude");
    assert_eq!(out.attempts.len(), 2);
    assert_eq!(
        (out.attempts[0].provider.as_str(), out.attempts[0].status),
        ("openai", Some(500))
    );

    let w = World::new(vec![Reply::json(400, "{}"), Reply::json(200, ANTHROPIC_OK)]);
    let e = gateway(None)
        .run(&w.env(), "ignored", &input(), &opts)
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert_eq!(w.http.hits(), 1);
}

#[test]
fn fallback_each_entry_gets_its_own_retries_within_the_deadline() {
    let chain = openai_then_anthropic();
    let opts = RunOptions {
        fallback: Some(chain),
        ..RunOptions::default()
    };
    // The first entry uses both of its attempts; the second still has two.
    let w = World::new(vec![
        Reply::json(500, "{}"),
        Reply::json(500, "{}"),
        Reply::json(503, "{}"),
        Reply::json(200, ANTHROPIC_OK),
    ]);
    let out = gateway(Some(policy(2)))
        .run(&w.env(), "ignored", &input(), &opts)
        .unwrap();
    assert_eq!(out.provider, "anthropic");
    let seen: Vec<_> = out
        .attempts
        .iter()
        .map(|a| (a.provider.as_str(), a.status))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("openai", Some(500)),
            ("openai", Some(500)),
            ("anthropic", Some(503)),
            ("anthropic", Some(200)),
        ]
    );
    // The chain's one deadline still bounds every entry's retries: a 78 ms
    // backoff (full jitter of 100 ms) cannot fit in a 1 ms call.
    let w = World {
        random: FixedRandom(u64::MAX),
        ..World::new(vec![Reply::json(500, "{}"), Reply::json(200, OK)])
    };
    let tight = RunOptions {
        timeout_ms: Some(1),
        ..opts.clone()
    };
    let e = gateway(Some(policy(2)))
        .run(&w.env(), "ignored", &input(), &tight)
        .unwrap_err();
    assert_eq!(w.http.hits(), 1);
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
}

fn budgeted(budget: u64) -> Gateway {
    Gateway::open(GatewayConfig {
        providers: vec![provider("openai", ProviderKind::OpenAi)],
        default_provider: Some("openai".into()),
        cost: Some(crate::config::CostConfig {
            pricing: vec![crate::config::ModelPricing {
                model: "m".into(),
                input: 1_000_000,
                output: 1_000_000,
                cache_read: None,
                cache_write: None,
                reasoning: None,
            }],
            budget_micro_usd: Some(budget),
            bucket: None,
            key_prefix: None,
        }),
        ..GatewayConfig::default()
    })
    .unwrap()
}

/// 1 µ$ per token. The prompt "hi" is at most 2 + 32 + 16 = 50 input
/// tokens and `max-tokens` 5 caps the output, so each call reserves 55;
/// it costs 15 (10 in, 5 out).
fn five_tokens() -> RunOptions {
    RunOptions {
        max_tokens: Some(5),
        ..RunOptions::default()
    }
}

#[test]
fn budget_reserves_the_worst_case_and_records_each_success_once() {
    let gw = budgeted(70);
    let w = World::new(vec![
        Reply::json(200, OK),
        Reply::json(500, "{}"),
        Reply::json(200, OK),
        Reply::json(200, OK),
    ]);
    let opts = five_tokens();
    assert_eq!(
        gw.run(&w.env(), "m", &input(), &opts)
            .unwrap()
            .cost_micro_usd,
        Some(15)
    );
    assert!(
        gw.run(&w.env(), "m", &input(), &opts).is_err(),
        "the 500 costs nothing, and gives its reservation back"
    );
    gw.run(&w.env(), "m", &input(), &opts).unwrap();
    // 30 spent + 55 reserved would pass 70: refused before it is sent.
    let e = gw.run(&w.env(), "m", &input(), &opts).unwrap_err();
    assert_eq!(
        e,
        GatewayError::BudgetExceeded {
            spent_micro_usd: 30,
            budget_micro_usd: 70
        }
    );
    assert_eq!(w.http.hits(), 3);
    let tracker = gw.cost_tracker().unwrap();
    assert_eq!(tracker.totals(&w.kv).unwrap().requests, 2);
    assert_eq!(tracker.reserved(&w.kv).unwrap(), 0, "nothing stays held");
}

/// With a budget, a call without `max-tokens` is sent the ceiling its
/// reservation assumed; without one, the request is unchanged.
#[test]
fn budget_sends_the_output_ceiling_it_reserved_for() {
    let body = |gw: &Gateway| {
        let w = World::new(vec![Reply::json(200, OK)]);
        gw.run(&w.env(), "m", &input(), &RunOptions::default())
            .unwrap();
        let req = w.http.requests.borrow()[0].clone();
        serde_json::from_slice::<serde_json::Value>(&req.body).unwrap()
    };
    assert_eq!(body(&budgeted(1_000_000))["max_tokens"], 4096);
    assert!(body(&gateway(None)).get("max_tokens").is_none());
}

/// A stream holds its reservation until its terminal event; dropping it
/// early gives it back.
#[test]
fn budget_stream_holds_its_reservation_until_it_ends() {
    let sse = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5}}\n\ndata: [DONE]\n\n";
    let gw = budgeted(100);
    let w = World::new(vec![
        Reply::json(200, sse).with_header("content-type", "text/event-stream"),
        Reply::json(200, sse).with_header("content-type", "text/event-stream"),
        Reply::json(200, OK),
    ]);
    let opts = five_tokens();
    let tracker = gw.cost_tracker().unwrap();
    let mut first = gw.stream(&w.env(), "m", &input(), &opts).unwrap();
    assert_eq!(tracker.reserved(&w.kv).unwrap(), 55);
    // 55 held + 55 more fits in 100 only once the first settles.
    let e = gw.run(&w.env(), "m", &input(), &opts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BudgetExceeded);
    while first.next(&gw, &w.env()).is_some() {}
    assert_eq!(tracker.reserved(&w.kv).unwrap(), 0);
    assert_eq!(tracker.spent(&w.kv).unwrap(), 15);
    let mut second = gw.stream(&w.env(), "m", &input(), &opts).unwrap();
    assert_eq!(tracker.reserved(&w.kv).unwrap(), 55);
    second.abandon(&gw, &w.env());
    assert_eq!(tracker.reserved(&w.kv).unwrap(), 0, "abandoned: given back");
    assert_eq!(tracker.spent(&w.kv).unwrap(), 15, "and costs nothing");
    gw.run(&w.env(), "m", &input(), &opts).unwrap();
}

#[test]
fn stream_retries_before_first_event_and_records_cost_on_done() {
    let sse = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n";
    let w = World::new(vec![Reply::json(503, ""), Reply::json(200, sse)]);
    let gw = gateway(Some(policy(2)));
    let mut s = gw
        .stream(&w.env(), "m", &input(), &RunOptions::default())
        .unwrap();
    let mut events = Vec::new();
    while let Some(e) = s.next(&gw, &w.env()) {
        events.push(e);
    }
    assert_eq!(w.http.hits(), 2);
    assert_eq!(events.first(), Some(&StreamEvent::Text("a".into())));
    assert!(matches!(events.last(), Some(StreamEvent::Done(d)) if d.provider == "openai"));
    assert_eq!(s.attempts().len(), 2);
    assert!(s.next(&gw, &w.env()).is_none());
}

#[test]
fn configured_secrets_never_leave_in_errors_whatever_the_upstream_echoes() {
    const KEY: &str = "sk-MARKER-0123456789abcdef";
    const HDR: &str = "hdr-MARKER-secret-value";
    let mut p = provider("openai", ProviderKind::OpenAi);
    p.api_key = Some(crate::config::ApiKey::new(KEY));
    p.headers = vec![("x-portkey-api-key".into(), HDR.into())].into();
    let gw = Gateway::open(GatewayConfig {
        providers: vec![p],
        default_provider: Some("openai".into()),
        retry: Some(policy(2)),
        ..GatewayConfig::default()
    })
    .unwrap();
    let echo = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {KEY} ({HDR})","code":"{KEY}"}}}}"#
    );
    for replies in [
        // A retryable error that echoes, then a 2xx that is not JSON but echoes.
        vec![
            Reply::json(503, &echo),
            Reply::json(200, &format!("oops {KEY} {HDR}")),
        ],
        vec![Reply::json(401, &echo)],
    ] {
        let w = World::new(replies);
        let e = gw
            .run(&w.env(), "gpt-4o", &input(), &RunOptions::default())
            .unwrap_err();
        let shown = format!("{e:?} {e}");
        assert!(!shown.contains("MARKER"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }
    // A credential given with the call is scrubbed too.
    let w = World::new(vec![Reply::json(
        401,
        r#"{"error":{"message":"bad key call-MARKER-987654321"}}"#,
    )]);
    let opts = RunOptions {
        headers: vec![(
            "authorization".into(),
            "Bearer call-MARKER-987654321".into(),
        )]
        .into(),
        ..RunOptions::default()
    };
    let e = gw.run(&w.env(), "gpt-4o", &input(), &opts).unwrap_err();
    assert!(!format!("{e:?}").contains("MARKER"), "{e:?}");
}

#[test]
fn a_calls_own_credential_is_scrubbed_from_a_mid_stream_error_event() {
    let sse = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"revoked key call-MARKER-55555555\"}}\n\n";
    let w = World::new(vec![Reply::json(200, sse)]);
    let gw = gateway(None);
    let opts = RunOptions {
        headers: vec![("authorization".into(), "Bearer call-MARKER-55555555".into())].into(),
        ..RunOptions::default()
    };
    let mut s = gw.stream(&w.env(), "m", &input(), &opts).unwrap();
    let mut events = Vec::new();
    while let Some(e) = s.next(&gw, &w.env()) {
        events.push(e);
    }
    assert!(
        matches!(events.last(), Some(StreamEvent::Error(_))),
        "{events:?}"
    );
    let shown = format!("{events:?}");
    assert!(
        !shown.contains("MARKER") && shown.contains("***"),
        "{shown}"
    );
}

#[test]
fn embed_identical_calls_are_cached_and_failures_are_not() {
    const EMB: &str = r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.25,-0.5]}],"model":"e","usage":{"prompt_tokens":2,"total_tokens":2}}"#;
    let gw = Gateway::open(GatewayConfig {
        providers: vec![provider("openai", ProviderKind::OpenAi)],
        default_provider: Some("openai".into()),
        cache: Some(CacheConfig {
            bucket: "c".into(),
            ttl_seconds: 60,
            namespace: None,
            streams: false,
        }),
        ..GatewayConfig::default()
    })
    .unwrap();
    let w = World::new(vec![
        Reply::json(500, "{}"),
        Reply::json(200, EMB),
        Reply::json(200, EMB),
    ]);
    let input = vec!["hello".to_owned()];
    let opts = crate::types::EmbedOptions::default();
    assert!(gw.embed(&w.env(), "e", &input, &opts).is_err());
    let first = gw.embed(&w.env(), "e", &input, &opts).unwrap();
    let again = gw.embed(&w.env(), "e", &input, &opts).unwrap();
    assert_eq!(first, again);
    assert_eq!(again.embeddings, vec![vec![0.25, -0.5]]);
    assert_eq!(
        w.http.hits(),
        2,
        "the failure wrote nothing; the repeat hit the cache"
    );
    let other = crate::types::EmbedOptions {
        dimensions: Some(2),
        ..opts
    };
    gw.embed(&w.env(), "e", &input, &other).unwrap();
    assert_eq!(w.http.hits(), 3, "other dimensions are another entry");
}

mod wit02;
