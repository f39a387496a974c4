//! The metrics registry of `serve`, and how one gateway log record changes
//! it.
//!
//! Names and labels (every label value comes from configuration or a
//! fixed set, so the series stay bounded):
//!
//! | metric | type | labels | from |
//! |---|---|---|---|
//! | `aigw_http_requests_total` | counter | route, status | host: response head |
//! | `aigw_http_response_seconds` | histogram | route | host: request to last body byte |
//! | `aigw_time_to_first_token_seconds` | histogram | provider, model | host: request to the first SSE frame with content |
//! | `aigw_requests_total` | counter | provider, model, operation | record `request` |
//! | `aigw_responses_total` | counter | provider, model, operation | record `response` |
//! | `aigw_errors_total` | counter | provider, model, kind | record `error` |
//! | `aigw_request_duration_seconds` | histogram | provider, model, outcome | records `response`, `error` |
//! | `aigw_tokens_total` | counter | provider, model, direction | record `response` (not cached) |
//! | `aigw_cost_micro_usd_total` | counter | provider, model | record `response` |
//! | `aigw_cache_hits_total` | counter | provider, model | record `response` with `cached` |
//! | `aigw_retries_total` | counter | provider, model | record `retry` |
//! | `aigw_fallbacks_total` | counter | provider, model | provider changes within one call |
//! | `aigw_budget_refusals_total` | counter | provider, model | record `error` of kind `budget_exceeded` |
//! | `aigw_otlp_spans_total` | counter | outcome (`exported`, `failed`, `dropped`) | the OTLP exporter |
//!
//! `provider` and `model` of a call's metrics are those of its `request`
//! record (the first provider of its plan), so a call's series do not
//! split when it retries elsewhere; `""` when the call had none (it failed
//! before planning).

use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};
use serde::Deserialize;

/// One gateway `log-record` as the component writes it to stderr (WIT
/// `types.log-record`, serialized by the gateway's tracer).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Record {
    pub level: String,
    pub event: String,
    pub timestamp_ms: u64,
    pub operation: String,
    #[serde(default)]
    pub provider: Option<String>,
    pub model: String,
    pub duration_ms: u64,
    #[serde(default)]
    pub usage: Option<RecordUsage>,
    #[serde(default)]
    pub cost_micro_usd: Option<u64>,
    pub attempts: u32,
    pub cached: bool,
    #[serde(default)]
    pub error: Option<String>,
}

/// The usage of a `response` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct RecordUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Record {
    /// A gateway log record, if `line` is one (other stderr lines are not).
    pub fn parse(line: &str) -> Option<Self> {
        let line = line.trim();
        if !line.starts_with('{') {
            return None;
        }
        serde_json::from_str(line).ok()
    }
}

/// The kind of a gateway error, from its message: the gateway writes each
/// `gateway-error` case with its own fixed prefix (src/error.rs), and the
/// kinds are the WIT case names.
pub fn error_kind(message: &str) -> &'static str {
    const KINDS: [(&str, &str); 9] = [
        ("invalid request:", "validation"),
        ("authentication failed:", "auth"),
        ("not found:", "not_found"),
        ("rate limited:", "rate_limited"),
        ("timed out:", "timeout"),
        ("service unavailable:", "service_unavailable"),
        ("upstream error:", "upstream"),
        ("budget exceeded:", "budget_exceeded"),
        ("internal error:", "internal"),
    ];
    for (prefix, kind) in KINDS {
        if message.starts_with(prefix) {
            return kind;
        }
    }
    if message.starts_with("model ") && message.contains(" is not allowed for provider ") {
        return "model_not_allowed";
    }
    "other"
}

/// What the host knows of the call in progress on one instance, from its
/// records so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallInfo {
    /// From the `request` record: the call's provider and model labels.
    pub provider: String,
    pub model: String,
    /// The provider of the last record that named one (fallback detection).
    last_provider: Option<String>,
}

/// Seconds, for histograms.
fn secs(ms: u64) -> f64 {
    Duration::from_millis(ms).as_secs_f64()
}

/// Every metric `serve` exports, in one registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_response: HistogramVec,
    ttft: HistogramVec,
    requests: IntCounterVec,
    responses: IntCounterVec,
    errors: IntCounterVec,
    duration: HistogramVec,
    tokens: IntCounterVec,
    cost: IntCounterVec,
    cache_hits: IntCounterVec,
    retries: IntCounterVec,
    fallbacks: IntCounterVec,
    budget_refusals: IntCounterVec,
    otlp_spans: IntCounterVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Latency buckets, seconds: 5 ms to 2 min.
const LATENCY: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

impl Metrics {
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| -> anyhow::Result<IntCounterVec> {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| -> anyhow::Result<HistogramVec> {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(LATENCY.to_vec()),
                labels,
            )?;
            registry.register(Box::new(h.clone()))?;
            Ok(h)
        };
        let pm = ["provider", "model"];
        Ok(Self {
            http_requests: counter(
                "aigw_http_requests_total",
                "HTTP requests served, by route and status (counted at the response head).",
                &["route", "status"],
            )?,
            http_response: histogram(
                "aigw_http_response_seconds",
                "Time from a request's arrival to the last byte of its response body.",
                &["route"],
            )?,
            ttft: histogram(
                "aigw_time_to_first_token_seconds",
                "Streams: time from the request's arrival to the first SSE frame with content.",
                &pm,
            )?,
            requests: counter(
                "aigw_requests_total",
                "Gateway calls started (log record `request`).",
                &["provider", "model", "operation"],
            )?,
            responses: counter(
                "aigw_responses_total",
                "Gateway calls that succeeded, from the cache or upstream (record `response`).",
                &["provider", "model", "operation"],
            )?,
            errors: counter(
                "aigw_errors_total",
                "Gateway calls that failed, by error kind (record `error`).",
                &["provider", "model", "kind"],
            )?,
            duration: histogram(
                "aigw_request_duration_seconds",
                "Gateway call duration as the gateway measured it (records `response`, `error`).",
                &["provider", "model", "outcome"],
            )?,
            tokens: counter(
                "aigw_tokens_total",
                "Tokens of upstream responses (cache hits excluded), by direction.",
                &["provider", "model", "direction"],
            )?,
            cost: counter(
                "aigw_cost_micro_usd_total",
                "Cost of upstream responses in micro-USD, for priced models.",
                &pm,
            )?,
            cache_hits: counter(
                "aigw_cache_hits_total",
                "Gateway calls answered from the response cache.",
                &pm,
            )?,
            retries: counter(
                "aigw_retries_total",
                "Failed attempts that were retried or fell back (record `retry`).",
                &pm,
            )?,
            fallbacks: counter(
                "aigw_fallbacks_total",
                "Moves from one provider to another within a call.",
                &pm,
            )?,
            budget_refusals: counter(
                "aigw_budget_refusals_total",
                "Gateway calls refused because the budget was spent.",
                &pm,
            )?,
            otlp_spans: counter(
                "aigw_otlp_spans_total",
                "OpenTelemetry spans by outcome: exported, failed (the collector did not take them), dropped (the queue was full).",
                &["outcome"],
            )?,
            registry,
        })
    }

    /// The text exposition format 0.0.4.
    pub fn encode(&self) -> anyhow::Result<String> {
        Ok(TextEncoder::new().encode_to_string(&self.registry.gather())?)
    }

    /// `text/plain; version=0.0.4; charset=utf-8`
    pub fn content_type() -> &'static str {
        "text/plain; version=0.0.4; charset=utf-8"
    }

    fn inc(c: &IntCounterVec, labels: &[&str], by: u64) {
        if let Ok(c) = c.get_metric_with_label_values(labels) {
            c.inc_by(by);
        }
    }

    fn observe(h: &HistogramVec, labels: &[&str], seconds: f64) {
        if let Ok(h) = h.get_metric_with_label_values(labels) {
            h.observe(seconds);
        }
    }

    /// `n` spans were exported, failed or dropped (`outcome`).
    pub fn otlp_spans(&self, outcome: &str, n: u64) {
        Self::inc(&self.otlp_spans, &[outcome], n);
    }

    /// A response head left for `route` with `status`.
    pub fn http_request(&self, route: &str, status: u16) {
        Self::inc(&self.http_requests, &[route, &status.to_string()], 1);
    }

    /// A response body for `route` ended (or was dropped) after `elapsed`.
    pub fn http_response(&self, route: &str, elapsed: Duration) {
        Self::observe(&self.http_response, &[route], elapsed.as_secs_f64());
    }

    /// The first frame with content of a stream left after `elapsed`.
    pub fn first_token(&self, call: &CallInfo, elapsed: Duration) {
        Self::observe(
            &self.ttft,
            &[&call.provider, &call.model],
            elapsed.as_secs_f64(),
        );
    }

    /// One gateway log record, in the context of its instance's call.
    pub fn record(&self, r: &Record, call: &mut CallInfo) {
        if r.event == "request" {
            *call = CallInfo {
                provider: r.provider.clone().unwrap_or_default(),
                model: r.model.clone(),
                last_provider: r.provider.clone(),
            };
            Self::inc(
                &self.requests,
                &[&call.provider, &call.model, &r.operation],
                1,
            );
            return;
        }
        let (p, m) = (call.provider.as_str(), call.model.as_str());
        if let Some(now) = &r.provider {
            if call
                .last_provider
                .as_ref()
                .is_some_and(|before| before != now)
            {
                Self::inc(&self.fallbacks, &[p, m], 1);
            }
            call.last_provider = Some(now.clone());
        }
        match r.event.as_str() {
            "retry" => Self::inc(&self.retries, &[p, m], 1),
            "response" => {
                Self::inc(&self.responses, &[p, m, &r.operation], 1);
                Self::observe(&self.duration, &[p, m, "success"], secs(r.duration_ms));
                if r.cached {
                    Self::inc(&self.cache_hits, &[p, m], 1);
                } else if let Some(u) = r.usage {
                    Self::inc(&self.tokens, &[p, m, "input"], u.input_tokens);
                    Self::inc(&self.tokens, &[p, m, "output"], u.output_tokens);
                }
                if let Some(c) = r.cost_micro_usd {
                    Self::inc(&self.cost, &[p, m], c);
                }
            }
            "error" => {
                let kind = error_kind(r.error.as_deref().unwrap_or(""));
                Self::inc(&self.errors, &[p, m, kind], 1);
                Self::observe(&self.duration, &[p, m, "error"], secs(r.duration_ms));
                if kind == "budget_exceeded" {
                    Self::inc(&self.budget_refusals, &[p, m], 1);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn error_kind_covers_every_gateway_error_prefix() {
        let cases = [
            ("invalid request: model is empty", "validation"),
            ("authentication failed: bad key", "auth"),
            ("not found: no model", "not_found"),
            ("rate limited: slow down", "rate_limited"),
            ("timed out: deadline", "timeout"),
            ("service unavailable: 503", "service_unavailable"),
            ("upstream error: 500", "upstream"),
            (
                "budget exceeded: spent 300 of 300 micro-USD",
                "budget_exceeded",
            ),
            (
                "model \"x\" is not allowed for provider \"mock\"",
                "model_not_allowed",
            ),
            ("internal error: unknown", "internal"),
            ("something else", "other"),
        ];
        for (message, kind) in cases {
            assert_eq!(error_kind(message), kind, "{message}");
        }
    }

    #[test]
    fn record_parse_reads_gateway_lines_only() {
        let line = r#"{"level":"info","event":"response","timestamp_ms":1,"operation":"run","provider":"mock","model":"m","duration_ms":12,"usage":{"input_tokens":12,"output_tokens":9,"cache_read_tokens":0,"cache_write_tokens":0,"reasoning_tokens":0},"cost_micro_usd":150,"attempts":1,"cached":false}"#;
        let r = Record::parse(line).unwrap();
        assert_eq!(r.cost_micro_usd, Some(150));
        assert_eq!(r.usage.unwrap().output_tokens, 9);
        assert!(Record::parse("thread 'main' panicked").is_none());
        assert!(Record::parse(r#"{"other": "json"}"#).is_none());
    }

    #[test]
    fn metrics_count_a_fallback_once_per_provider_change() {
        let m = Metrics::new().unwrap();
        let mut call = CallInfo::default();
        let rec = |event: &str, provider: &str| Record {
            level: "info".into(),
            event: event.into(),
            timestamp_ms: 0,
            operation: "run".into(),
            provider: Some(provider.into()),
            model: "m".into(),
            duration_ms: 5,
            usage: None,
            cost_micro_usd: None,
            attempts: 1,
            cached: false,
            error: Some("upstream error: 500".into()),
        };
        for (e, p) in [
            ("request", "a"),
            ("retry", "a"),
            ("retry", "b"),
            ("response", "b"),
        ] {
            m.record(&rec(e, p), &mut call);
        }
        let text = m.encode().unwrap();
        assert!(
            text.contains(r#"aigw_fallbacks_total{model="m",provider="a"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"aigw_retries_total{model="m",provider="a"} 2"#),
            "{text}"
        );
    }
}
