//! OpenTelemetry spans of `serve` over OTLP/HTTP (protobuf), following the
//! GenAI semantic conventions (docs/adr/0012-otlp-spans.md).
//!
//! - One `SERVER` span per HTTP request the component answers
//!   ([`HttpSpan`], from the host's view), and one `CLIENT` span per gateway
//!   call as its child ([`CallSpan`], from the gateway's log records through
//!   the [`LogTap`](super::LogTap)): `chat gpt-4o-mini`, with `gen_ai.*`
//!   attributes, usage, `error.type` and our `ai_gateway.*` attributes.
//! - An incoming W3C `traceparent` header is honoured: the spans join the
//!   caller's trace (and are not exported when the caller did not sample).
//! - [`Exporter`]: a bounded queue and one background task that posts
//!   batches to the collector. Recording a span never blocks and never
//!   waits: when the queue is full the span is dropped and counted
//!   (`aigw_otlp_spans_total{outcome="dropped"}`).
//!
//! Spans carry no secrets: no headers, no prompts, no keys; the error text
//! of a failed call is the gateway's message, which the gateway scrubs of
//! every configured secret before it logs it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message as _;
use tokio::sync::{mpsc, oneshot};

use super::metrics::{Metrics, Record, error_kind};

/// The instrumentation scope of every span.
const SCOPE: &str = "ai-gateway/host-test";
/// Longest status message kept (the rest is cut at a char boundary).
const MAX_MESSAGE: usize = 512;
/// `Span.flags`: the W3C sampled flag, and whether the parent is remote
/// (OTLP `SpanFlags`).
const SAMPLED: u32 = 0x1;
const SPAN_FLAGS_HAS_IS_REMOTE: u32 = 0x100;
const SPAN_FLAGS_IS_REMOTE: u32 = 0x200;

/// Where and how spans are exported.
#[derive(Debug, Clone)]
pub struct OtlpConfig {
    /// The traces endpoint, e.g. `http://127.0.0.1:4318/v1/traces`.
    pub endpoint: http::Uri,
    /// `service.name` of the resource.
    pub service_name: String,
    /// Longest wait before a batch is sent (`OTEL_BSP_SCHEDULE_DELAY`).
    pub delay: Duration,
    /// Spans kept while the exporter is busy (`OTEL_BSP_MAX_QUEUE_SIZE`).
    pub max_queue: usize,
    /// Most spans per request (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
    pub max_batch: usize,
    /// Deadline of one export request (`OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`).
    pub timeout: Duration,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_number(name: &str) -> anyhow::Result<Option<u64>> {
    env(name)
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|e| anyhow::anyhow!("{name}={v:?}: {e}"))
        })
        .transpose()
}

impl OtlpConfig {
    /// From `--otlp-endpoint` (a full traces URL), else
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (a full URL), else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL: `/v1/traces` is
    /// appended); `None` when none is set. `OTEL_SERVICE_NAME` overrides
    /// the service name `ai-gateway`, and the standard batch settings
    /// (`OTEL_BSP_*`, `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`) apply.
    pub fn from_env(flag: Option<&str>) -> anyhow::Result<Option<Self>> {
        let endpoint = match (flag, env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
            (Some(f), _) => f.to_owned(),
            (None, Some(t)) => t,
            (None, None) => match env("OTEL_EXPORTER_OTLP_ENDPOINT") {
                Some(base) => format!("{}/v1/traces", base.trim_end_matches('/')),
                None => return Ok(None),
            },
        };
        let mut cfg = Self::new(&endpoint)?;
        if let Some(name) = env("OTEL_SERVICE_NAME") {
            cfg.service_name = name;
        }
        if let Some(ms) = env_number("OTEL_BSP_SCHEDULE_DELAY")? {
            cfg.delay = Duration::from_millis(ms.max(1));
        }
        if let Some(n) = env_number("OTEL_BSP_MAX_QUEUE_SIZE")? {
            cfg.max_queue = usize::try_from(n).unwrap_or(usize::MAX).max(1);
        }
        if let Some(n) = env_number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")? {
            cfg.max_batch = usize::try_from(n).unwrap_or(usize::MAX).max(1);
        }
        if let Some(ms) = env_number("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")? {
            cfg.timeout = Duration::from_millis(ms.max(1));
        }
        Ok(Some(cfg))
    }

    /// Defaults (those of the OpenTelemetry batch span processor) for
    /// `endpoint`, which must be an `http://` URL.
    pub fn new(endpoint: &str) -> anyhow::Result<Self> {
        let uri: http::Uri = endpoint
            .parse()
            .map_err(|e| anyhow::anyhow!("OTLP endpoint {endpoint:?}: {e}"))?;
        anyhow::ensure!(
            uri.scheme_str() == Some("http") && uri.authority().is_some(),
            "OTLP endpoint {endpoint:?}: only http:// URLs are supported \
             (run a collector next to serve for TLS)"
        );
        Ok(Self {
            endpoint: uri,
            service_name: "ai-gateway".into(),
            delay: Duration::from_millis(5000),
            max_queue: 2048,
            max_batch: 512,
            timeout: Duration::from_secs(10),
        })
    }
}

/// The trace a call belongs to: the trace id and the span it is a child
/// of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    pub parent_span_id: Option<[u8; 8]>,
    /// The caller's sampling decision (W3C `trace-flags` bit 0); spans of an
    /// unsampled trace are not exported.
    pub sampled: bool,
}

impl TraceContext {
    /// A new root trace.
    pub fn root() -> Self {
        Self {
            trace_id: new_trace_id(),
            parent_span_id: None,
            sampled: true,
        }
    }

    /// A W3C `traceparent` value (`00-<trace-id>-<parent-id>-<flags>`), if
    /// it is a valid one.
    pub fn from_traceparent(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let version = parts.next()?;
        let (trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?);
        if version.len() != 2 || version == "ff" || (version == "00" && parts.next().is_some()) {
            return None;
        }
        let trace_id: [u8; 16] = hex(trace)?;
        let parent: [u8; 8] = hex(parent)?;
        let [flags]: [u8; 1] = hex(flags)?;
        if trace_id == [0; 16] || parent == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            parent_span_id: Some(parent),
            sampled: flags & 1 == 1,
        })
    }
}

fn hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != N.checked_mul(2)? || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        let pair = s.get(i.checked_mul(2)?..i.checked_mul(2)?.checked_add(2)?)?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

fn new_trace_id() -> [u8; 16] {
    loop {
        let id = fastrand::u128(..).to_be_bytes();
        if id != [0; 16] {
            return id;
        }
    }
}

fn new_span_id() -> [u8; 8] {
    loop {
        let id = fastrand::u64(..).to_be_bytes();
        if id != [0; 8] {
            return id;
        }
    }
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn ms_to_nanos(ms: u64) -> u64 {
    ms.saturating_mul(1_000_000)
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn string(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.to_owned()))
}

fn int(key: &str, value: u64) -> KeyValue {
    kv(
        key,
        any_value::Value::IntValue(i64::try_from(value).unwrap_or(i64::MAX)),
    )
}

fn boolean(key: &str, value: bool) -> KeyValue {
    kv(key, any_value::Value::BoolValue(value))
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !s.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        s.truncate(end);
    }
    s
}

/// `gen_ai.operation.name` of a gateway operation.
pub fn genai_operation(operation: &str) -> &str {
    match operation {
        "run" | "stream" | "run-fallback" => "chat",
        "embed" => "embeddings",
        other => other,
    }
}

/// A gateway call in progress, from its `request` record.
#[derive(Debug, Clone)]
pub struct CallSpan {
    ctx: TraceContext,
    span_id: [u8; 8],
    start_ms: u64,
    operation: String,
    provider: Option<String>,
    model: String,
    events: Vec<Event>,
}

impl CallSpan {
    /// The span a `request` record opens, in `ctx`.
    pub fn start(ctx: TraceContext, request: &Record) -> Self {
        Self {
            ctx,
            span_id: new_span_id(),
            start_ms: request.timestamp_ms,
            operation: request.operation.clone(),
            provider: request.provider.clone(),
            model: request.model.clone(),
            events: Vec::new(),
        }
    }

    /// A `retry` record: an event on the span.
    pub fn retry(&mut self, r: &Record) {
        let mut attributes = vec![int("ai_gateway.attempts", u64::from(r.attempts))];
        if let Some(p) = &r.provider {
            attributes.push(string("gen_ai.provider.name", p));
        }
        if let Some(e) = &r.error {
            attributes.push(string("error.type", error_kind(e)));
        }
        self.events.push(Event {
            time_unix_nano: ms_to_nanos(r.timestamp_ms),
            name: "ai_gateway.retry".into(),
            attributes,
            dropped_attributes_count: 0,
        });
    }

    /// The span a `response` or `error` record closes; `None` for a call
    /// whose trace is not sampled.
    pub fn finish(self, end: &Record) -> Option<Span> {
        if !self.ctx.sampled {
            return None;
        }
        let op = genai_operation(&self.operation);
        let name = if self.model.is_empty() {
            op.to_owned()
        } else {
            format!("{op} {}", self.model)
        };
        let mut attributes = vec![string("gen_ai.operation.name", op)];
        // The provider that answered (after a fallback, the last one), else
        // the one the call was planned on.
        if let Some(p) = end.provider.as_ref().or(self.provider.as_ref()) {
            attributes.push(string("gen_ai.provider.name", p));
            attributes.push(string("gen_ai.system", p));
        }
        if !self.model.is_empty() {
            attributes.push(string("gen_ai.request.model", &self.model));
        }
        attributes.push(string("ai_gateway.operation", &self.operation));
        attributes.push(boolean("ai_gateway.cached", end.cached));
        attributes.push(int("ai_gateway.attempts", u64::from(end.attempts)));
        // Usage of upstream responses only: a cache hit used no tokens (the
        // same rule as the metrics).
        if let Some(u) = end.usage
            && !end.cached
        {
            attributes.push(int("gen_ai.usage.input_tokens", u.input_tokens));
            attributes.push(int("gen_ai.usage.output_tokens", u.output_tokens));
        }
        if let Some(c) = end.cost_micro_usd {
            attributes.push(int("ai_gateway.cost_micro_usd", c));
        }
        let status = if end.event == "error" {
            let message = end.error.clone().unwrap_or_default();
            attributes.push(string("error.type", error_kind(&message)));
            Some(Status {
                message: truncate(message),
                code: StatusCode::Error as i32,
            })
        } else {
            None
        };
        let start_ms = self
            .start_ms
            .min(end.timestamp_ms.saturating_sub(end.duration_ms));
        Some(Span {
            trace_id: self.ctx.trace_id.to_vec(),
            span_id: self.span_id.to_vec(),
            parent_span_id: self
                .ctx
                .parent_span_id
                .map(|p| p.to_vec())
                .unwrap_or_default(),
            // Sampled; the parent, if any, is the local HTTP span.
            flags: SPAN_FLAGS_HAS_IS_REMOTE | SAMPLED,
            name,
            kind: SpanKind::Client as i32,
            start_time_unix_nano: ms_to_nanos(start_ms),
            end_time_unix_nano: ms_to_nanos(end.timestamp_ms),
            attributes,
            events: self.events,
            status,
            ..Span::default()
        })
    }
}

/// The host's span of one HTTP request the component answers.
#[derive(Debug)]
pub struct HttpSpan {
    /// The caller's context (its trace and span), or a new root.
    parent: TraceContext,
    span_id: [u8; 8],
    method: String,
    route: &'static str,
    start: SystemTime,
    status: Option<u16>,
    exporter: Exporter,
}

impl HttpSpan {
    /// A request arrived for `route` (a bounded label, `other` for any path
    /// that is not the proxy's); `traceparent` is the caller's header.
    pub fn start(
        exporter: Exporter,
        method: &http::Method,
        route: &'static str,
        traceparent: Option<&str>,
    ) -> Self {
        Self {
            parent: traceparent
                .and_then(TraceContext::from_traceparent)
                .unwrap_or_else(TraceContext::root),
            span_id: new_span_id(),
            method: method.as_str().to_owned(),
            route,
            start: SystemTime::now(),
            status: None,
            exporter,
        }
    }

    /// The context of the calls this request makes: children of this span.
    pub fn child_context(&self) -> TraceContext {
        TraceContext {
            parent_span_id: Some(self.span_id),
            ..self.parent
        }
    }

    /// The response head left with `status`.
    pub fn set_status(&mut self, status: u16) {
        self.status = Some(status);
    }

    /// The response body ended (or was dropped): export the span.
    pub fn end(self) {
        if !self.parent.sampled {
            return;
        }
        let name = if self.route == "other" {
            self.method.clone()
        } else {
            format!("{} {}", self.method, self.route)
        };
        let mut attributes = vec![string("http.request.method", &self.method)];
        if self.route != "other" {
            attributes.push(string("http.route", self.route));
        }
        let mut status = None;
        if let Some(code) = self.status {
            attributes.push(int("http.response.status_code", u64::from(code)));
            if code >= 500 {
                attributes.push(string("error.type", &code.to_string()));
                status = Some(Status {
                    message: String::new(),
                    code: StatusCode::Error as i32,
                });
            }
        }
        let span = Span {
            trace_id: self.parent.trace_id.to_vec(),
            span_id: self.span_id.to_vec(),
            parent_span_id: self
                .parent
                .parent_span_id
                .map(|p| p.to_vec())
                .unwrap_or_default(),
            // The parent, if any, is the remote caller's.
            flags: SPAN_FLAGS_HAS_IS_REMOTE
                | SAMPLED
                | if self.parent.parent_span_id.is_some() {
                    SPAN_FLAGS_IS_REMOTE
                } else {
                    0
                },
            name,
            kind: SpanKind::Server as i32,
            start_time_unix_nano: unix_nanos(self.start),
            end_time_unix_nano: unix_nanos(SystemTime::now()),
            attributes,
            status,
            ..Span::default()
        };
        self.exporter.export(span);
    }
}

enum Msg {
    Span(Box<Span>),
    Flush(oneshot::Sender<()>),
}

/// The sending side of the export queue. Cheap to clone.
#[derive(Clone)]
pub struct Exporter {
    tx: mpsc::Sender<Msg>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter").finish_non_exhaustive()
    }
}

impl Exporter {
    /// Start the export task (on the current tokio runtime).
    pub fn start(cfg: OtlpConfig, metrics: Arc<Metrics>) -> Self {
        let (tx, rx) = mpsc::channel(cfg.max_queue.max(1));
        tokio::spawn(run(cfg, rx, Arc::clone(&metrics)));
        Self { tx, metrics }
    }

    /// Queue `span`; when the queue is full it is dropped and counted.
    pub fn export(&self, span: Span) {
        if self.tx.try_send(Msg::Span(Box::new(span))).is_err() {
            self.metrics.otlp_spans("dropped", 1);
        }
    }

    /// Send every span queued so far, waiting at most `timeout`.
    pub async fn flush(&self, timeout: Duration) {
        let (ack, done) = oneshot::channel();
        let sent = tokio::time::timeout(timeout, async {
            if self.tx.send(Msg::Flush(ack)).await.is_ok() {
                let _ = done.await;
            }
        });
        let _ = sent.await;
    }
}

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

/// The export task: batches of at most `max_batch` spans, sent when full,
/// every `delay`, on a flush, and when every sender is gone.
async fn run(cfg: OtlpConfig, mut rx: mpsc::Receiver<Msg>, metrics: Arc<Metrics>) {
    let client: Client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build_http();
    let resource = Resource {
        attributes: vec![
            string("service.name", &cfg.service_name),
            string("service.version", env!("CARGO_PKG_VERSION")),
        ],
        ..Resource::default()
    };
    let mut exporter = Batches {
        cfg: &cfg,
        client,
        resource,
        metrics,
        batch: Vec::new(),
        last_error: None,
    };
    let mut tick = tokio::time::interval(cfg.delay);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Span(span)) => {
                    exporter.batch.push(*span);
                    if exporter.batch.len() >= cfg.max_batch {
                        exporter.send().await;
                    }
                }
                Some(Msg::Flush(ack)) => {
                    // Everything queued before the flush is in the channel
                    // ahead of it, so already in the batch.
                    exporter.send().await;
                    let _ = ack.send(());
                }
                None => {
                    exporter.send().await;
                    return;
                }
            },
            _ = tick.tick() => exporter.send().await,
        }
    }
}

struct Batches<'a> {
    cfg: &'a OtlpConfig,
    client: Client,
    resource: Resource,
    metrics: Arc<Metrics>,
    batch: Vec<Span>,
    /// When the last failure was reported on stderr (at most one a minute).
    last_error: Option<std::time::Instant>,
}

impl Batches<'_> {
    async fn send(&mut self) {
        while !self.batch.is_empty() {
            let n = self.batch.len().min(self.cfg.max_batch);
            let spans: Vec<Span> = self.batch.drain(..n).collect();
            let request = ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(self.resource.clone()),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: SCOPE.into(),
                            version: env!("CARGO_PKG_VERSION").into(),
                            ..InstrumentationScope::default()
                        }),
                        spans,
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                }],
            };
            let count = u64::try_from(n).unwrap_or(u64::MAX);
            match self.post(request.encode_to_vec()).await {
                Ok(()) => self.metrics.otlp_spans("exported", count),
                Err(e) => {
                    self.metrics.otlp_spans("failed", count);
                    let quiet = self
                        .last_error
                        .is_some_and(|t| t.elapsed() < Duration::from_secs(60));
                    if !quiet {
                        self.last_error = Some(std::time::Instant::now());
                        eprintln!(
                            "otlp: exporting {n} spans to {} failed: {e:#}",
                            self.cfg.endpoint
                        );
                    }
                }
            }
        }
    }

    async fn post(&self, body: Vec<u8>) -> anyhow::Result<()> {
        let req = http::Request::post(self.cfg.endpoint.clone())
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .body(Full::new(Bytes::from(body)))?;
        let exchange = async {
            let resp = self.client.request(req).await?;
            let status = resp.status();
            // Read the (small) reply so the connection can be reused.
            let reply = resp.into_body().collect().await?.to_bytes();
            anyhow::ensure!(
                status.is_success(),
                "the collector answered {status}: {}",
                String::from_utf8_lossy(reply.get(..reply.len().min(200)).unwrap_or_default())
            );
            Ok(())
        };
        tokio::time::timeout(self.cfg.timeout, exchange)
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {:?}", self.cfg.timeout))?
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn traceparent_is_parsed_and_validated() {
        let ctx = TraceContext::from_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .unwrap();
        assert_eq!(ctx.trace_id[0], 0x4b);
        assert_eq!(ctx.parent_span_id.unwrap()[7], 0xb7);
        assert!(ctx.sampled);
        let unsampled = TraceContext::from_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        )
        .unwrap();
        assert!(!unsampled.sampled);
        for bad in [
            "",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e47zz-00f067aa0ba902b7-01",
        ] {
            assert!(TraceContext::from_traceparent(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn endpoint_must_be_http() {
        assert!(OtlpConfig::new("http://127.0.0.1:4318/v1/traces").is_ok());
        assert!(OtlpConfig::new("https://collector/v1/traces").is_err());
        assert!(OtlpConfig::new("not a url").is_err());
    }

    #[test]
    fn genai_operations() {
        assert_eq!(genai_operation("run"), "chat");
        assert_eq!(genai_operation("stream"), "chat");
        assert_eq!(genai_operation("embed"), "embeddings");
    }
}
