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
//! - Queued on an [`Exporter`](super::export::Exporter), which posts
//!   batches to the collector.
//!
//! Spans carry no secrets: no headers, no prompts, no keys; the error text
//! of a failed call is the gateway's message, which the gateway scrubs of
//! every configured secret before it logs it.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};

use super::export::Exporter;
use super::metrics::{Record, error_kind};
/// Longest status message kept (the rest is cut at a char boundary).
const MAX_MESSAGE: usize = 512;
/// `Span.flags`: the W3C sampled flag, and whether the parent is remote
/// (OTLP `SpanFlags`).
const SAMPLED: u32 = 0x1;
const SPAN_FLAGS_HAS_IS_REMOTE: u32 = 0x100;
const SPAN_FLAGS_IS_REMOTE: u32 = 0x200;

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

pub(super) fn string(key: &str, value: &str) -> KeyValue {
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
    fn genai_operations() {
        assert_eq!(genai_operation("run"), "chat");
        assert_eq!(genai_operation("stream"), "chat");
        assert_eq!(genai_operation("embed"), "embeddings");
    }
}
