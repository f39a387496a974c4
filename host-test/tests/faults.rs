//! The fault matrix: every upstream fault the mock can inject, for `run` and
//! `stream` on each wire format (OpenAI-compatible, Anthropic, Workers AI).
//! Each call must end in a typed error or the correct result, never a trap;
//! a stream ends with exactly one terminal event; with cost tracking and the
//! response cache on, a success is costed exactly once and cached, a failure
//! is neither costed nor cached. `docs/fault-matrix.md` lists every test
//! here (checked by `fault_matrix_doc_lists_every_test`).

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
use host_test::mock::canned::{error_body, json_answer, sse_events};
use host_test::mock::{self, MockBody, Reply, Step};
use serde_json::json;

// ------------------------------------------------------------------ harness

/// The SSE wire formats: provider name, model. (Bedrock's event stream has
/// its own rows, `fault_bedrock_*`.)
const PROVIDERS: [(&str, &str); 4] = [
    ("openai", "gpt-4o"),
    ("anthropic", "claude-sonnet-4-6"),
    ("workers", "@cf/meta/llama-3.1-8b-instruct"),
    ("gemini", "gemini-2.5-flash"),
];

fn gemini_cfg(base: &str) -> w::ProviderConfig {
    w::ProviderConfig {
        api_key: Some("goog-test".into()),
        base_url: Some(format!("{base}/v1beta")),
        ..cfg::provider("gemini", w::ProviderKind::Gemini)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Run,
    Stream,
}

const MODES: [Mode; 2] = [Mode::Run, Mode::Stream];

fn price(model: &str) -> w::ModelPricing {
    w::ModelPricing {
        model: model.into(),
        input: 1_000_000,
        output: 2_000_000,
        cache_read: None,
        cache_write: None,
        reasoning: None,
    }
}

fn config(h: &Harness, timeouts: Option<w::AttemptTimeouts>) -> w::GatewayConfig {
    w::GatewayConfig {
        // One attempt: every fault is seen exactly once per call.
        retry: Some(cfg::retry(1)),
        cost: Some(w::CostConfig {
            pricing: PROVIDERS.iter().map(|(_, m)| price(m)).collect(),
            budget_micro_usd: None,
            bucket: Some("costs".into()),
            key_prefix: None,
        }),
        cache: Some(w::CacheConfig {
            bucket: "cache".into(),
            ttl_seconds: 600,
            namespace: Some("faults".into()),
            streams: true,
        }),
        attempt_timeouts: timeouts,
        ..cfg::gateway(
            vec![
                openai_cfg(h),
                anthropic_cfg(h),
                workers_cfg(h),
                gemini_cfg(&h.base()),
            ],
            Some("openai"),
        )
    }
}

fn on(provider: &str) -> w::RunOptions {
    w::RunOptions {
        provider: Some(provider.into()),
        ..cfg::options()
    }
}

/// A prompt unique to one call, so cache entries never mix.
fn prompt(case: &str, provider: &str, mode: Mode) -> w::AiInput {
    cfg::user(&format!("{case} via {provider} ({mode:?})"))
}

/// What one call came to.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per test call; boxing would only add noise"
)]
enum Outcome {
    Run(Result<w::AiOutput, w::GatewayError>),
    /// `stream` itself failed (before any event).
    OpenFailed(w::GatewayError),
    /// The stream opened; its events (exactly one terminal, last).
    Events(Vec<w::StreamEvent>),
}

impl Outcome {
    /// The error, wherever it surfaced.
    fn error(&self) -> Option<&w::GatewayError> {
        match self {
            Self::Run(Err(e)) | Self::OpenFailed(e) => Some(e),
            Self::Events(ev) => match ev.last() {
                Some(w::StreamEvent::Error(e)) => Some(e),
                _ => None,
            },
            Self::Run(Ok(_)) => None,
        }
    }

    fn text(&self) -> Option<String> {
        match self {
            Self::Run(Ok(o)) => Some(o.text.clone()),
            Self::Events(ev) if matches!(ev.last(), Some(w::StreamEvent::Done(_))) => Some(
                ev.iter()
                    .filter_map(|e| match e {
                        w::StreamEvent::Text(t) => Some(t.as_str()),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Text events delivered before the terminal event.
    fn streamed_text(&self) -> String {
        match self {
            Self::Events(ev) => ev
                .iter()
                .filter_map(|e| match e {
                    w::StreamEvent::Text(t) => Some(t.as_str()),
                    _ => None,
                })
                .collect(),
            _ => String::new(),
        }
    }
}

fn assert_one_terminal(events: &[w::StreamEvent]) {
    let terminals = events
        .iter()
        .filter(|e| matches!(e, w::StreamEvent::Done(_) | w::StreamEvent::Error(_)))
        .count();
    assert_eq!(terminals, 1, "exactly one terminal event: {events:?}");
    assert!(
        matches!(
            events.last(),
            Some(w::StreamEvent::Done(_) | w::StreamEvent::Error(_))
        ),
        "the terminal event is last: {events:?}"
    );
}

/// The state a call leaves behind: requests costed, cache entries.
async fn ledger(h: &mut Harness, gw: GatewayHandle) -> (u64, usize) {
    let costs = h.costs(gw).await;
    let cached = h.kv.list_keys("cache", None, 10_000).expect("kv").0.len();
    (costs.requests, cached)
}

/// Make one call (`run`, or `stream` read to its end) and check the
/// invariants every call keeps, whatever the fault: no trap, one terminal
/// event, a success costed once and cached, a failure neither.
async fn call_with(
    h: &mut Harness,
    gw: GatewayHandle,
    model: &str,
    mode: Mode,
    input: &w::AiInput,
    opts: &w::RunOptions,
) -> Outcome {
    let (costed_before, cached_before) = ledger(h, gw).await;
    let outcome = match mode {
        Mode::Run => Outcome::Run(h.run(gw, model, input, opts).await),
        Mode::Stream => match h
            .inst
            .stream(gw, model, input, Some(opts))
            .await
            .expect("no trap")
        {
            Err(e) => Outcome::OpenFailed(e),
            Ok(s) => {
                let events = h.inst.collect(s).await.expect("no trap");
                assert_one_terminal(&events);
                assert_eq!(
                    h.inst.next(s).await.expect("no trap"),
                    None,
                    "nothing after the terminal event"
                );
                Outcome::Events(events)
            }
        },
    };
    let (costed, cached) = ledger(h, gw).await;
    let is_cached = h.is_cached(gw, model, input, Some(opts)).await;
    if outcome.error().is_some() {
        assert_eq!(
            costed, costed_before,
            "a failure is not costed: {outcome:?}"
        );
        assert_eq!(
            cached, cached_before,
            "a failure is not cached: {outcome:?}"
        );
        assert!(!is_cached, "a failure is not cached: {outcome:?}");
    } else {
        assert_eq!(
            costed,
            costed_before + 1,
            "a success is costed exactly once: {outcome:?}"
        );
        let cost = match &outcome {
            Outcome::Run(Ok(o)) => o.cost_micro_usd,
            Outcome::Events(ev) => match ev.last() {
                Some(w::StreamEvent::Done(d)) => d.cost_micro_usd,
                _ => None,
            },
            _ => None,
        };
        assert!(
            cost.is_some_and(|c| c > 0),
            "the cost is reported: {outcome:?}"
        );
        assert_eq!(cached, cached_before + 1, "a success is cached once");
        assert!(is_cached);
    }
    outcome
}

/// Expect a typed error of `want` kind; returns it.
fn expect_error<'a>(o: &'a Outcome, want: &str, what: &str) -> &'a w::GatewayError {
    let e = o
        .error()
        .unwrap_or_else(|| panic!("{what}: expected a {want} error, got {o:?}"));
    assert_eq!(kind(e), want, "{what}: {e:?}");
    e
}

fn expect_text(o: &Outcome, want: &str, what: &str) {
    assert_eq!(o.text().as_deref(), Some(want), "{what}: {o:?}");
}

// ------------------------------------------------------------ wire bodies

/// The first text-carrying SSE event for `text` alone (the provider's
/// preamble events before it are included), then the rest.
fn sse_split_after_first_text(provider: &str, parts: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let events = sse_events(provider, parts);
    // Anthropic: message_start, content_block_start, first delta.
    let first = if provider == "anthropic" { 3 } else { 1 };
    let (a, b) = events.split_at(first);
    (a.concat(), b.concat())
}

/// An answer cut in two for `mode`, and its content type: run gets a JSON
/// answer split in the middle, stream the events up to the first text
/// (`parts[0]`) and the rest.
fn halves(provider: &str, mode: Mode, parts: &[&str]) -> (Vec<u8>, Vec<u8>, &'static str) {
    match mode {
        Mode::Run => {
            let b = json_answer(provider, &parts.concat());
            let (a, r) = b.split_at(b.len() / 2);
            (a.to_vec(), r.to_vec(), "application/json")
        }
        Mode::Stream => {
            let (a, r) = sse_split_after_first_text(provider, parts);
            (a, r, "text/event-stream")
        }
    }
}

fn answer(provider: &str, mode: Mode, text: &str) -> Reply {
    match mode {
        Mode::Run => Reply::raw(200, "application/json", json_answer(provider, text)),
        Mode::Stream => Reply::chunks(
            200,
            "text/event-stream",
            sse_events(provider, &[text]),
            Duration::ZERO,
        ),
    }
}

// ------------------------------------------------------------- the runner

/// One call of a [`Case`], as its check sees it.
struct Seen<'p> {
    /// Case, provider and mode, for messages.
    what: String,
    provider: &'p str,
    mode: Mode,
    o: Outcome,
    /// From just before the call to its last event.
    elapsed: Duration,
    /// Upstream requests the call made.
    hits: usize,
}

type Replies<'a> = Box<dyn Fn(&str, Mode) -> Vec<Reply> + 'a>;

/// One row of the matrix: what the upstream does for each provider and
/// mode, and what every call must come to. [`run_case`] drives them all.
struct Case<'a> {
    /// Names the prompts (each call caches under its own key).
    name: &'a str,
    config: Box<dyn Fn(&Harness) -> w::GatewayConfig + 'a>,
    /// Queued on the mock before each call.
    replies: Replies<'a>,
    opts: Box<dyn Fn(&str) -> w::RunOptions + 'a>,
    check: Box<dyn Fn(&Seen<'_>) + 'a>,
    /// Checked once every call was made.
    after: Box<dyn Fn(&Harness) + 'a>,
}

impl<'a> Case<'a> {
    /// A case on the default configuration and options.
    fn new(
        name: &'a str,
        replies: impl Fn(&str, Mode) -> Vec<Reply> + 'a,
        check: impl Fn(&Seen<'_>) + 'a,
    ) -> Self {
        Self {
            name,
            config: Box::new(|h| config(h, None)),
            replies: Box::new(replies),
            opts: Box::new(on),
            check: Box::new(check),
            after: Box::new(|_| {}),
        }
    }

    fn config(mut self, f: impl Fn(&Harness) -> w::GatewayConfig + 'a) -> Self {
        self.config = Box::new(f);
        self
    }

    /// The default configuration with these attempt timeouts.
    fn timeouts(self, connect: u64, first_byte: u64, between: Option<u64>) -> Self {
        self.config(move |h| {
            config(
                h,
                Some(w::AttemptTimeouts {
                    connect_ms: Some(connect),
                    first_byte_ms: Some(first_byte),
                    between_bytes_ms: between,
                }),
            )
        })
    }

    fn opts(mut self, f: impl Fn(&str) -> w::RunOptions + 'a) -> Self {
        self.opts = Box::new(f);
        self
    }

    fn after(mut self, f: impl Fn(&Harness) + 'a) -> Self {
        self.after = Box::new(f);
        self
    }
}

/// The one loop: a fresh harness and gateway per case, then for every
/// provider and mode: reset the mock, queue the case's replies, call (with
/// the invariants [`call_with`] checks), and check the outcome.
async fn run_case(case: Case<'_>) {
    let mut h = Harness::new().await;
    let c = (case.config)(&h);
    let gw = h.open(&c).await;
    for (provider, model) in PROVIDERS {
        for mode in MODES {
            h.mock.reset();
            for r in (case.replies)(provider, mode) {
                h.mock.push(r);
            }
            let input = prompt(case.name, provider, mode);
            let opts = (case.opts)(provider);
            let started = Instant::now();
            let o = call_with(&mut h, gw, model, mode, &input, &opts).await;
            (case.check)(&Seen {
                what: format!("{} {provider} {mode:?}", case.name),
                provider,
                mode,
                o,
                elapsed: started.elapsed(),
                hits: h.mock.hits(),
            });
        }
    }
    (case.after)(&h);
}

/// The call failed before any stream event.
fn assert_failed_early(s: &Seen<'_>, why: &str) {
    assert!(
        matches!(s.o, Outcome::Run(_) | Outcome::OpenFailed(_)),
        "{}: {why}: {:?}",
        s.what,
        s.o
    );
}

fn content_type(mode: Mode) -> &'static str {
    match mode {
        Mode::Run => "application/json",
        Mode::Stream => "text/event-stream",
    }
}

/// Providers whose every URL points at `dead` (nothing answers there).
fn dead_providers(dead: &str) -> Vec<w::ProviderConfig> {
    vec![
        cfg::openai("openai", "sk-test", Some(&format!("{dead}/v1"))),
        cfg::anthropic("anthropic", "sk-ant", Some(dead)),
        cfg::workers_ai("workers", "cf", "acc", Some(&format!("{dead}/client/v4"))),
        gemini_cfg(dead),
    ]
}

// ------------------------------------------------------------ status codes

fn status_case(
    status: u16,
    retry_after: Option<&'static str>,
    want: &'static str,
) -> Case<'static> {
    Case::new(
        "status",
        move |provider, _| {
            let mut r = Reply::raw(status, "application/json", error_body(provider, status));
            if let Some(ra) = retry_after {
                r = r.header("retry-after", ra);
            }
            vec![r]
        },
        move |s| {
            let what = &s.what;
            assert_failed_early(s, "an error status fails the call before any event");
            let e = expect_error(&s.o, want, what);
            let d = detail(e);
            assert_eq!(d.status, Some(status), "{what}");
            assert_eq!(d.provider.as_deref(), Some(s.provider), "{what}");
            assert!(d.retryable, "{what}: {status} is retryable");
            assert_eq!(d.message, format!("mock {status}"), "{what}");
            assert_eq!(
                d.retry_after_ms,
                retry_after.map(|s| s.parse::<u64>().unwrap() * 1000),
                "{what}"
            );
            assert_eq!(d.attempts.len(), 1, "{what}: retries are off");
            assert_eq!(s.hits, 1, "{what}");
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_429_with_retry_after() {
    run_case(status_case(429, Some("7"), "rate-limited")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_429_without_retry_after() {
    run_case(status_case(429, None, "rate-limited")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_500_internal_server_error() {
    run_case(status_case(500, None, "upstream")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_502_bad_gateway() {
    run_case(status_case(502, None, "service-unavailable")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_503_service_unavailable() {
    run_case(status_case(503, None, "service-unavailable")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_529_overloaded() {
    run_case(status_case(529, None, "service-unavailable")).await;
}

/// With retries on, a 429 (retry-after-ms 50) then a 200: one result,
/// costed and cached once, two upstream hits.
fn retried_429_case() -> Case<'static> {
    Case::new(
        "429 retried",
        |provider, mode| {
            vec![
                Reply::raw(429, "application/json", error_body(provider, 429))
                    .header("retry-after-ms", "50"),
                answer(provider, mode, "after the wait"),
            ]
        },
        |s| {
            expect_text(&s.o, "after the wait", &s.what);
            assert_eq!(s.hits, 2, "{}", s.what);
        },
    )
    .config(|h| w::GatewayConfig {
        retry: Some(cfg::retry(2)),
        ..config(h, None)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_429_retried_then_served_costs_once() {
    run_case(retried_429_case()).await;
}

// ------------------------------------------------------- below HTTP: TCP

fn refused_case() -> Case<'static> {
    let dead = format!("http://{}", mock::refused_addr().unwrap());
    Case::new(
        "refused",
        |_, _| Vec::new(),
        |s| {
            let what = &s.what;
            assert_failed_early(s, "no connection");
            let e = expect_error(&s.o, "service-unavailable", what);
            assert_eq!(detail(e).status, None, "{what}: no response");
            assert!(detail(e).retryable, "{what}");
            assert!(s.elapsed < Duration::from_secs(2), "{what}");
            assert_eq!(s.hits, 0, "{what}");
        },
    )
    .config(move |h| w::GatewayConfig {
        providers: dead_providers(&dead),
        ..config(h, None)
    })
    .after(|h| assert_eq!(h.mock.hits(), 0))
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_connection_refused() {
    run_case(refused_case()).await;
}

/// The SYN is never answered: the connect timeout fires.
fn stall_before_connect_case() -> Case<'static> {
    let hole = mock::BlackHole::new().unwrap();
    let dead = format!("http://{}", hole.addr());
    Case::new(
        "connect",
        |_, _| Vec::new(),
        |s| {
            assert_failed_early(s, "no connection");
            expect_error(&s.o, "timeout", &s.what);
            assert!(
                s.elapsed < Duration::from_millis(1500),
                "{}: gave up at the connect timeout: {:?}",
                s.what,
                s.elapsed
            );
        },
    )
    .config(move |h| {
        // The black hole lives as long as the case.
        let _open = &hole;
        w::GatewayConfig {
            providers: dead_providers(&dead),
            ..config(
                h,
                Some(w::AttemptTimeouts {
                    connect_ms: Some(150),
                    first_byte_ms: Some(5000),
                    between_bytes_ms: None,
                }),
            )
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_stall_before_connect() {
    run_case(stall_before_connect_case()).await;
}

fn reset_before_headers_case() -> Case<'static> {
    Case::new(
        "reset before head",
        |_, _| vec![Reply::reset_before_head()],
        |s| {
            let what = &s.what;
            assert_failed_early(s, "no response head");
            let e = expect_error(&s.o, "service-unavailable", what);
            assert_eq!(detail(e).status, None, "{what}: no status line arrived");
            assert_eq!(s.hits, 1, "{what}");
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_reset_before_headers() {
    run_case(reset_before_headers_case()).await;
}

fn reset_mid_body_case() -> Case<'static> {
    Case::new(
        "reset mid body",
        |provider, mode| {
            let (first, rest, ct) = halves(provider, mode, &["partial ", "never"]);
            vec![Reply::steps(
                200,
                ct,
                vec![
                    Step::Bytes(first),
                    Step::Pause(Duration::from_millis(30)),
                    Step::Reset,
                    Step::Bytes(rest),
                ],
            )]
        },
        |s| {
            let what = &s.what;
            let e = expect_error(&s.o, "service-unavailable", what);
            assert!(detail(e).retryable, "{what}");
            if s.mode == Mode::Stream {
                assert!(
                    matches!(s.o, Outcome::Events(_)),
                    "{what}: the reset came after the first event: {:?}",
                    s.o
                );
                assert_eq!(s.o.streamed_text(), "partial ", "{what}");
            }
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_reset_mid_body() {
    run_case(reset_mid_body_case()).await;
}

// ------------------------------------------------------------------ stalls

fn stall_before_first_byte_case() -> Case<'static> {
    Case::new(
        "first byte",
        |provider, mode| {
            vec![answer(provider, mode, "too late").delayed(Duration::from_millis(800))]
        },
        |s| {
            assert_failed_early(s, "nothing arrived");
            expect_error(&s.o, "timeout", &s.what);
            assert!(
                s.elapsed < Duration::from_millis(700),
                "{}: gave up at the first-byte timeout, not the reply: {:?}",
                s.what,
                s.elapsed
            );
        },
    )
    .timeouts(1000, 150, None)
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_stall_before_first_byte() {
    run_case(stall_before_first_byte_case()).await;
}

/// The first half of an answer, then a stall of `pause` before the rest.
fn stalled(provider: &str, mode: Mode, pause: Duration) -> Vec<Reply> {
    let (first, rest, ct) = halves(provider, mode, &["before ", "after"]);
    vec![Reply::steps(
        200,
        ct,
        vec![Step::Bytes(first), Step::Pause(pause), Step::Bytes(rest)],
    )]
}

fn stall_between_bytes_case() -> Case<'static> {
    Case::new(
        "between bytes",
        |provider, mode| stalled(provider, mode, Duration::from_millis(900)),
        |s| {
            let what = &s.what;
            expect_error(&s.o, "timeout", what);
            assert!(
                s.elapsed < Duration::from_millis(800),
                "{what}: {:?}",
                s.elapsed
            );
            if s.mode == Mode::Stream {
                assert!(matches!(s.o, Outcome::Events(_)), "{what}: {:?}", s.o);
                assert_eq!(s.o.streamed_text(), "before ", "{what}");
            }
        },
    )
    .timeouts(1000, 1000, Some(150))
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_stall_between_bytes() {
    run_case(stall_between_bytes_case()).await;
}

fn stall_past_call_deadline_case() -> Case<'static> {
    Case::new(
        "deadline",
        |provider, mode| stalled(provider, mode, Duration::from_secs(3)),
        |s| {
            expect_error(&s.o, "timeout", &s.what);
            let took = s.elapsed;
            assert!(
                took >= Duration::from_millis(250) && took < Duration::from_millis(1500),
                "{}: {took:?}",
                s.what
            );
        },
    )
    .opts(|provider| w::RunOptions {
        timeout_ms: Some(300),
        ..on(provider)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_stall_past_call_deadline() {
    run_case(stall_past_call_deadline_case()).await;
}

// ----------------------------------------------------- truncated bodies

/// The body ends cleanly (no transport error) but its JSON is cut.
fn truncated_json_case() -> Case<'static> {
    Case::new(
        "truncated json",
        |provider, mode| match mode {
            Mode::Run => {
                let b = json_answer(provider, "cut short");
                vec![Reply::raw(
                    200,
                    "application/json",
                    b[..b.len() / 2].to_vec(),
                )]
            }
            Mode::Stream => {
                let mut events = sse_events(provider, &["whole ", "cut"]);
                let at = if provider == "anthropic" { 3 } else { 1 };
                // The second text event's JSON is cut; the event still ends.
                let cut = events[at].clone();
                let json_end = cut.len() - 2;
                events[at] = [&cut[..json_end / 2], b"\n\n".as_slice()].concat();
                vec![Reply::chunks(
                    200,
                    "text/event-stream",
                    events,
                    Duration::ZERO,
                )]
            }
        },
        |s| {
            let what = &s.what;
            let e = expect_error(&s.o, "upstream", what);
            assert!(
                detail(e).message.contains("JSON"),
                "{what}: says what is wrong: {e:?}"
            );
            if s.mode == Mode::Stream {
                assert_eq!(s.o.streamed_text(), "whole ", "{what}");
            }
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_truncated_json() {
    run_case(truncated_json_case()).await;
}

/// run: the body stops short of its content-length (the connection
/// closes); stream: the body ends cleanly in the middle of an event, with
/// no end marker.
fn truncated_sse_case() -> Case<'static> {
    Case::new(
        "truncated sse",
        |provider, mode| match mode {
            Mode::Run => {
                let b = json_answer(provider, "short of its length");
                vec![Reply {
                    status: 200,
                    headers: vec![("content-type".into(), "application/json".into())],
                    body: MockBody::Sse {
                        chunks: vec![b[..b.len() / 2].to_vec(), b[b.len() / 2..].to_vec()],
                        delay: Duration::ZERO,
                        cut_after: Some(1),
                    },
                    delay: Duration::ZERO,
                }]
            }
            Mode::Stream => {
                let (first, rest) = sse_split_after_first_text(provider, &["some ", "more"]);
                // Cut inside the event that carries "more".
                let at = rest.windows(4).position(|w| w == b"more").unwrap();
                vec![Reply::chunks(
                    200,
                    "text/event-stream",
                    vec![first, rest[..at].to_vec()],
                    Duration::from_millis(10),
                )]
            }
        },
        |s| {
            let what = &s.what;
            match s.mode {
                Mode::Run => {
                    expect_error(&s.o, "service-unavailable", what);
                }
                Mode::Stream => {
                    expect_error(&s.o, "upstream", what);
                    assert!(matches!(s.o, Outcome::Events(_)), "{what}");
                    assert_eq!(s.o.streamed_text(), "some ", "{what}");
                }
            }
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_truncated_sse() {
    run_case(truncated_sse_case()).await;
}

/// stream: one `data:` line longer than the SSE line limit (1 MiB) is a
/// typed error, not unbounded growth; run: the same long text in a JSON
/// body (no line limit, under the body limit) is served.
fn sse_line_over_limit_case() -> Case<'static> {
    let long = "x".repeat((1 << 20) + 1024);
    let len = long.len();
    Case::new(
        "long line",
        move |provider, mode| vec![answer(provider, mode, &long)],
        move |s| {
            let what = &s.what;
            match s.mode {
                Mode::Run => assert_eq!(s.o.text().map(|t| t.len()), Some(len), "{what}"),
                Mode::Stream => {
                    let e = expect_error(&s.o, "upstream", what);
                    assert!(detail(e).message.contains("line longer"), "{what}: {e:?}");
                    assert!(
                        !detail(e).retryable,
                        "{what}: the same answer would fail again"
                    );
                }
            }
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_sse_line_over_limit() {
    run_case(sse_line_over_limit_case()).await;
}

/// A whole answer with `text`, as one body.
fn body_of(provider: &str, mode: Mode, parts: &[&str]) -> Vec<u8> {
    match mode {
        Mode::Run => json_answer(provider, &parts.concat()),
        Mode::Stream => sse_events(provider, parts).concat(),
    }
}

const UTF8_TEXT: &str = "héllo wörld 🌍 ✓";

/// Multi-byte characters split between two TCP writes decode whole.
fn utf8_split_case() -> Case<'static> {
    Case::new(
        "utf8 split",
        |provider, mode| {
            let body = body_of(provider, mode, &[UTF8_TEXT]);
            // Split inside the 4-byte globe (after its first two bytes).
            let globe = "🌍".as_bytes();
            let at = body
                .windows(globe.len())
                .position(|w| w == globe)
                .expect("the globe is in the body")
                + 2;
            vec![Reply::chunks(
                200,
                content_type(mode),
                vec![body[..at].to_vec(), body[at..].to_vec()],
                Duration::from_millis(30),
            )]
        },
        |s| expect_text(&s.o, UTF8_TEXT, &s.what),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_utf8_split_across_reads() {
    run_case(utf8_split_case()).await;
}

/// Bytes that are not UTF-8 at all (0xff 0xfe) inside the text: a typed
/// error, never replacement characters passed on as the model's words.
fn invalid_utf8_case() -> Case<'static> {
    Case::new(
        "invalid utf8",
        |provider, mode| {
            let marker = "BROKEN";
            let body = match mode {
                Mode::Run => json_answer(provider, marker),
                Mode::Stream => sse_events(provider, &["fine ", marker]).concat(),
            };
            let at = body
                .windows(marker.len())
                .position(|w| w == marker.as_bytes())
                .unwrap();
            let body = [
                &body[..at],
                b"\xff\xfe".as_slice(),
                &body[at + marker.len()..],
            ]
            .concat();
            vec![Reply::chunks(
                200,
                content_type(mode),
                vec![body[..at + 1].to_vec(), body[at + 1..].to_vec()],
                Duration::from_millis(20),
            )]
        },
        |s| {
            let what = &s.what;
            let e = expect_error(&s.o, "upstream", what);
            assert!(
                !detail(e).retryable,
                "{what}: the same bytes would fail again"
            );
            if s.mode == Mode::Stream {
                assert_eq!(s.o.streamed_text(), "fine ", "{what}");
            }
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_invalid_utf8() {
    run_case(invalid_utf8_case()).await;
}

// ------------------------------------------------ bodies that lie or bloat

/// A provider's error object, and the kind it maps to.
fn error_object(provider: &str) -> (serde_json::Value, &'static str) {
    match provider {
        "openai" => (
            json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}),
            "rate-limited",
        ),
        "anthropic" => (
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            "service-unavailable",
        ),
        "gemini" => (
            json!({"error": {"code": 429, "message": "Rate limit reached", "status": "RESOURCE_EXHAUSTED"}}),
            "rate-limited",
        ),
        _ => (
            json!({"result": null, "success": false, "errors": [{"code": 5007, "message": "No such model"}], "messages": []}),
            "upstream",
        ),
    }
}

/// A 200 whose body is the provider's error object is that error, typed
/// by its type/code (to a stream request too, sent as JSON).
fn error_body_200_case() -> Case<'static> {
    Case::new(
        "200 error",
        |provider, _| vec![Reply::json(200, error_object(provider).0)],
        |s| {
            let what = &s.what;
            assert_failed_early(s, "an error object");
            let e = expect_error(&s.o, error_object(s.provider).1, what);
            assert_eq!(detail(e).provider.as_deref(), Some(s.provider), "{what}");
            assert!(
                ["Rate limit reached", "Overloaded", "No such model"]
                    .contains(&detail(e).message.as_str()),
                "{what}: the provider's message: {e:?}"
            );
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_200_with_error_body() {
    run_case(error_body_200_case()).await;
}

/// An HTML page with 200 is a typed error that says so, to run and stream.
fn html_case() -> Case<'static> {
    let page = "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>checking your browser</body></html>";
    Case::new(
        "html",
        move |_, _| vec![Reply::raw(200, "text/html; charset=utf-8", page)],
        |s| {
            let what = &s.what;
            assert_failed_early(s, "not an answer");
            let e = expect_error(&s.o, "upstream", what);
            assert!(
                detail(e).message.contains("text/html"),
                "{what}: names the content type: {e:?}"
            );
            assert_eq!(detail(e).status, Some(200), "{what}");
        },
    )
}

/// stream: a JSON completion (a server that ignored `stream: true`) is
/// served as events; run: an event stream is a typed error.
fn other_format_case() -> Case<'static> {
    Case::new(
        "other format",
        |provider, mode| match mode {
            Mode::Stream => vec![Reply::raw(
                200,
                "application/json",
                json_answer(provider, "not streamed"),
            )],
            Mode::Run => vec![Reply::chunks(
                200,
                "text/event-stream",
                sse_events(provider, &["streamed"]),
                Duration::ZERO,
            )],
        },
        |s| {
            let what = &s.what;
            match s.mode {
                Mode::Stream => expect_text(&s.o, "not streamed", what),
                Mode::Run => {
                    let e = expect_error(&s.o, "upstream", what);
                    assert!(
                        detail(e).message.contains("text/event-stream"),
                        "{what}: {e:?}"
                    );
                }
            }
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_wrong_content_type() {
    run_case(html_case()).await;
    run_case(other_format_case()).await;
}

/// run: a body just over the 32 MiB limit (engine::MAX_BODY) is a typed,
/// non-retryable error; stream: one SSE event over the 4 MiB event limit
/// (in lines under the 1 MiB line limit) likewise. Guest memory stays
/// bounded by the limits.
fn huge_body_case() -> Case<'static> {
    const MAX_BODY: usize = 32 << 20;
    Case::new(
        "huge",
        |provider, mode| {
            let reply = match mode {
                Mode::Run => {
                    let chunk = vec![b' '; 1 << 20];
                    let head = json_answer(provider, "huge");
                    Reply {
                        status: 200,
                        headers: vec![("content-type".into(), "application/json".into())],
                        body: MockBody::Repeat {
                            head,
                            chunk,
                            count: MAX_BODY / (1 << 20) + 1,
                            tail: Vec::new(),
                            delay: Duration::ZERO,
                        },
                        delay: Duration::ZERO,
                    }
                }
                Mode::Stream => {
                    let (first, _) = sse_split_after_first_text(provider, &["start "]);
                    let line = format!("data: {}\n", "y".repeat(512 << 10));
                    Reply {
                        status: 200,
                        headers: vec![("content-type".into(), "text/event-stream".into())],
                        body: MockBody::Repeat {
                            head: first,
                            chunk: line.into_bytes(),
                            count: 10,
                            tail: b"\n".to_vec(),
                            delay: Duration::ZERO,
                        },
                        delay: Duration::ZERO,
                    }
                }
            };
            vec![reply]
        },
        |s| {
            let what = &s.what;
            let e = expect_error(&s.o, "upstream", what);
            assert!(
                detail(e).message.contains("larger than"),
                "{what}: says why: {e:?}"
            );
            assert!(!detail(e).retryable, "{what}");
        },
    )
    .after(|h| {
        // Bounded by the limit (a 32 MiB buffer and the allocator's
        // fragmentation over six calls), not by what the upstream sends.
        let peak = h.inst.peak_memory();
        assert!(peak < 160 << 20, "guest memory {peak} bytes");
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_huge_body() {
    run_case(huge_body_case()).await;
}

// -------------------------------------------------------------------- gzip

/// `content-encoding: gzip` is decoded transparently, for a JSON body and
/// for an event stream inflated across reads.
fn gzip_body_case() -> Case<'static> {
    Case::new(
        "gzip",
        |provider, mode| {
            let reply = match mode {
                Mode::Run => answer(provider, mode, "compressed ✓"),
                Mode::Stream => Reply::chunks(
                    200,
                    "text/event-stream",
                    sse_events(provider, &["compressed ", "✓"]),
                    Duration::from_millis(2),
                ),
            };
            vec![reply.gzip()]
        },
        |s| expect_text(&s.o, "compressed ✓", &s.what),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_gzip_body() {
    run_case(gzip_body_case()).await;
}

/// A host that already decoded the body but kept the header (Workers'
/// `fetch` does): the bytes do not start with the gzip magic, so they are
/// used as they are.
fn gzip_header_only_case() -> Case<'static> {
    Case::new(
        "gzip header only",
        |provider, mode| vec![answer(provider, mode, "plain").header("content-encoding", "gzip")],
        |s| expect_text(&s.o, "plain", &s.what),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_gzip_header_on_plain_body() {
    run_case(gzip_header_only_case()).await;
}

/// A small gzip body that inflates past the limits: a typed error after
/// at most the limit, not 48 MiB in guest memory.
fn gzip_bomb_case() -> Case<'static> {
    let run_bomb = mock::gzip(&[json_answer("openai", "x"), vec![b' '; 48 << 20]].concat());
    let stream_bomb = mock::gzip(&[b"data: ".as_slice(), &vec![b'z'; 48 << 20]].concat());
    assert!(run_bomb.len() < 200_000 && stream_bomb.len() < 200_000);
    Case::new(
        "gzip bomb",
        move |_, mode| {
            let body = match mode {
                Mode::Run => run_bomb.clone(),
                Mode::Stream => stream_bomb.clone(),
            };
            vec![Reply::raw(200, content_type(mode), body).header("content-encoding", "gzip")]
        },
        |s| {
            let what = &s.what;
            let e = expect_error(&s.o, "upstream", what);
            assert!(
                detail(e).message.contains("larger than")
                    || detail(e).message.contains("longer than"),
                "{what}: {e:?}"
            );
            assert!(!detail(e).retryable, "{what}");
        },
    )
    .after(|h| {
        let peak = h.inst.peak_memory();
        assert!(peak < 96 << 20, "guest memory {peak} bytes");
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_gzip_bomb() {
    run_case(gzip_bomb_case()).await;
}

/// The gzip magic, then garbage: a typed error, not a trap.
fn gzip_corrupt_case() -> Case<'static> {
    Case::new(
        "gzip corrupt",
        |provider, mode| {
            let plain = body_of(
                provider,
                mode,
                &["a perfectly fine answer ", "that gets corrupted"],
            );
            let mut body = mock::gzip(&plain);
            let mid = body.len() / 2;
            for b in &mut body[12..mid] {
                *b ^= 0x5a;
            }
            vec![Reply::raw(200, content_type(mode), body).header("content-encoding", "gzip")]
        },
        |s| {
            let e = expect_error(&s.o, "upstream", &s.what);
            assert!(detail(e).message.contains("gzip"), "{}: {e:?}", s.what);
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_gzip_corrupt() {
    run_case(gzip_corrupt_case()).await;
}

// ---------------------------------------------------------- the doc table

#[test]
fn fault_matrix_doc_lists_every_test() {
    let doc = include_str!("../../docs/fault-matrix.md");
    let src = include_str!("faults.rs");
    let tests: std::collections::BTreeSet<&str> = src
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("async fn fault_")
                .or_else(|| l.trim().strip_prefix("fn fault_"))
        })
        .filter_map(|rest| rest.split('(').next())
        .collect();
    assert!(tests.len() > 10, "found the tests: {tests:?}");
    let rows: std::collections::BTreeSet<&str> = doc
        .lines()
        .filter_map(|l| l.trim().strip_prefix("| `fault_"))
        .filter_map(|rest| rest.split('`').next())
        .collect();
    let missing: Vec<_> = tests.difference(&rows).collect();
    let stale: Vec<_> = rows.difference(&tests).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "docs/fault-matrix.md is out of date: tests without a row {missing:?}, rows without a test {stale:?}"
    );
}

// ------------------------------------------- Bedrock's binary event stream

const BEDROCK_MODEL: &str = "anthropic.claude-sonnet-4-20250514-v1:0";

/// The fault harness's gateway plus a Bedrock provider (an API key, the
/// mock's URL).
async fn bedrock_gateway() -> (Harness, GatewayHandle) {
    let mut h = Harness::new().await;
    let mut c = config(&h, None);
    c.providers.push(w::ProviderConfig {
        api_key: Some("bedrock-key".into()),
        base_url: Some(h.base()),
        region: Some("us-east-1".into()),
        ..cfg::provider("bedrock", w::ProviderKind::Bedrock)
    });
    if let Some(cost) = c.cost.as_mut() {
        cost.pricing.push(price(BEDROCK_MODEL));
    }
    let gw = h.open(&c).await;
    (h, gw)
}

/// One call to Bedrock (with [`call_with`]'s invariants: one terminal
/// event, a failure neither costed nor cached).
async fn bedrock_call(
    h: &mut Harness,
    gw: GatewayHandle,
    case: &str,
    mode: Mode,
    reply: Reply,
) -> Outcome {
    h.mock.reset();
    h.mock.push(reply);
    let input = prompt(case, "bedrock", mode);
    call_with(h, gw, BEDROCK_MODEL, mode, &input, &on("bedrock")).await
}

fn frames(texts: &[&str]) -> Vec<Vec<u8>> {
    sse_events("bedrock", texts)
}

fn text_before_error(o: &Outcome, want_text: &str, want_kind: &str, what: &str) -> w::GatewayError {
    let Outcome::Events(ev) = o else {
        panic!("{what}: the stream opens: {o:?}")
    };
    let text: String = ev
        .iter()
        .filter_map(|e| match e {
            w::StreamEvent::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, want_text, "{what}");
    expect_error(o, want_kind, what).clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_bedrock_error_type_header() {
    let (mut h, gw) = bedrock_gateway().await;
    for mode in MODES {
        for (status, ty, want, retryable) in [
            (429, "ThrottlingException", "rate-limited", true),
            (400, "ValidationException", "upstream", false),
        ] {
            let reply = Reply::raw(status, "application/json", error_body("bedrock", status))
                .header(
                    "x-amzn-errortype",
                    &format!("{ty}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
                );
            let o = bedrock_call(&mut h, gw, "error type", mode, reply).await;
            let what = format!("{status} {mode:?}");
            assert!(
                matches!(o, Outcome::Run(_) | Outcome::OpenFailed(_)),
                "{what}: {o:?}"
            );
            let e = expect_error(&o, want, &what);
            assert_eq!(detail(e).code.as_deref(), Some(ty), "{what}");
            assert_eq!(detail(e).retryable, retryable, "{what}");
            assert_eq!(detail(e).message, format!("mock {status}"), "{what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_bedrock_exception_frame_mid_stream() {
    let (mut h, gw) = bedrock_gateway().await;
    let mut f = frames(&["Hel", "lo"]);
    f.truncate(2);
    // AWS's spelling inside the stream: lower camel case.
    f.push(mock::canned::bedrock_exception(
        "throttlingException",
        "Too many tokens, please wait before trying again.",
    ));
    let o = bedrock_call(
        &mut h,
        gw,
        "exception frame",
        Mode::Stream,
        mock::canned::eventstream(f),
    )
    .await;
    let e = text_before_error(&o, "Hel", "rate-limited", "exception frame");
    assert!(detail(&e).message.contains("Too many tokens"), "{e:?}");
    assert_eq!(detail(&e).code.as_deref(), Some("ThrottlingException"));
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_bedrock_frame_crc_mismatch() {
    let (mut h, gw) = bedrock_gateway().await;
    let mut f = frames(&["Hel", "lo"]);
    // Flip a payload byte of the second text frame: its message CRC fails.
    let bad = &mut f[2];
    let at = bad.len() - 8;
    bad[at] ^= 0x20;
    let o = bedrock_call(
        &mut h,
        gw,
        "crc",
        Mode::Stream,
        mock::canned::eventstream(f),
    )
    .await;
    let e = text_before_error(&o, "Hel", "upstream", "crc");
    assert!(detail(&e).message.to_lowercase().contains("crc"), "{e:?}");
    assert!(
        !detail(&e).retryable,
        "a corrupt frame is not a cut connection"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_bedrock_truncated_frame() {
    let (mut h, gw) = bedrock_gateway().await;
    let mut f = frames(&["Hel", "lo"]);
    f.truncate(3);
    let last = f.last_mut().unwrap();
    last.truncate(last.len() / 2);
    let o = bedrock_call(
        &mut h,
        gw,
        "truncated",
        Mode::Stream,
        mock::canned::eventstream(f),
    )
    .await;
    text_before_error(&o, "Hel", "upstream", "truncated");
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_bedrock_oversized_frame() {
    let (mut h, gw) = bedrock_gateway().await;
    // A valid prelude announcing a 32 MiB message, then nothing of it: it
    // is refused on its 12 bytes, nothing buffered.
    let total: u32 = 32 << 20;
    let mut prelude = Vec::new();
    prelude.extend_from_slice(&total.to_be_bytes());
    prelude.extend_from_slice(&0u32.to_be_bytes());
    let crc = crc32(&prelude);
    prelude.extend_from_slice(&crc.to_be_bytes());
    let mut f = frames(&["Hel"]);
    f.truncate(2);
    f.push(prelude);
    let o = bedrock_call(
        &mut h,
        gw,
        "oversized",
        Mode::Stream,
        mock::canned::eventstream(f),
    )
    .await;
    let e = text_before_error(&o, "Hel", "upstream", "oversized");
    assert!(
        detail(&e).message.contains("too large") || detail(&e).message.contains("limit"),
        "{e:?}"
    );
}

/// CRC-32 (IEEE), bit by bit: the test's own, independent of the decoder's.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
