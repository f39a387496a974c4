//! The guest's stderr as a line tap: every line still reaches the host's
//! stderr, and each gateway log record among them updates [`Metrics`]
//! synchronously, inside the guest's write, so a call's metrics are
//! recorded before the component can send the response that follows.
//!
//! One tap per store: a store runs one request at a time, so the records
//! between two `request` records belong to one call ([`CallInfo`]).
//!
//! With an [`Exporter`], the records of a call also become one span
//! ([`CallSpan`]): opened by its `request` record, with an event per
//! `retry`, closed and queued by its `response` or `error` record, in the
//! trace the host set with [`LogTap::begin`] for the request in progress.

use std::io::Write as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use super::export::Exporter;
use super::metrics::{CallInfo, Metrics, Record};
use super::otlp::{CallSpan, TraceContext};

/// Longest line kept; a longer one is passed on in pieces and not parsed.
const MAX_LINE: usize = 64 * 1024;

#[derive(Debug)]
struct Inner {
    partial: Vec<u8>,
    call: CallInfo,
    /// The trace of the request in progress ([`LogTap::begin`]).
    trace: Option<TraceContext>,
    /// The span of the call in progress, until its last record.
    span: Option<CallSpan>,
}

/// A per-store stderr that feeds [`Metrics`]. Cheap to clone (an `Arc`).
#[derive(Debug, Clone)]
pub struct LogTap {
    metrics: Arc<Metrics>,
    exporter: Option<Exporter>,
    inner: Arc<Mutex<Inner>>,
}

impl LogTap {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self::with_exporter(metrics, None)
    }

    /// A tap whose calls also become spans, queued on `exporter`.
    pub fn with_exporter(metrics: Arc<Metrics>, exporter: Option<Exporter>) -> Self {
        Self {
            metrics,
            exporter,
            inner: Arc::new(Mutex::new(Inner {
                partial: Vec::new(),
                call: CallInfo::default(),
                trace: None,
                span: None,
            })),
        }
    }

    /// A request starts on this tap's instance: its calls' spans belong
    /// to `trace` (their parent is the request's span).
    pub fn begin(&self, trace: TraceContext) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.trace = Some(trace);
            inner.span = None;
        }
    }

    /// The call in progress (or the last one) on this tap's instance.
    pub fn call(&self) -> CallInfo {
        self.inner
            .lock()
            .map(|i| i.call.clone())
            .unwrap_or_default()
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Take `bytes` from the guest: pass them on a whole line at a time
    /// (one write per line, so the lines of instances writing at once never
    /// interleave: the guest writes a record and its newline separately),
    /// and act on each line.
    pub fn feed(&self, bytes: &[u8]) {
        let Ok(mut inner) = self.inner.lock() else {
            let _ = std::io::stderr().write_all(bytes);
            return;
        };
        let mut rest = bytes;
        while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
            let (line, tail) = rest.split_at(nl);
            rest = tail.get(1..).unwrap_or_default();
            let mut whole = std::mem::take(&mut inner.partial);
            whole.extend_from_slice(line);
            whole.push(b'\n');
            let _ = std::io::stderr().write_all(&whole);
            whole.pop();
            if let Ok(text) = std::str::from_utf8(&whole)
                && let Some(record) = Record::parse(text)
            {
                let Inner {
                    call, trace, span, ..
                } = &mut *inner;
                self.metrics.record(&record, call);
                if let Some(exporter) = &self.exporter {
                    trace_record(exporter, &record, *trace, span);
                }
            }
        }
        if inner.partial.len().saturating_add(rest.len()) > MAX_LINE {
            // Too long to be a record: pass it on as it is.
            let _ = std::io::stderr().write_all(&inner.partial);
            let _ = std::io::stderr().write_all(rest);
            inner.partial.clear();
        } else {
            inner.partial.extend_from_slice(rest);
        }
    }
}

/// One record of a call, for its span.
fn trace_record(
    exporter: &Exporter,
    record: &Record,
    trace: Option<TraceContext>,
    span: &mut Option<CallSpan>,
) {
    match record.event.as_str() {
        "request" => {
            let ctx = trace.unwrap_or_else(TraceContext::root);
            *span = Some(CallSpan::start(ctx, record));
        }
        "retry" => {
            if let Some(s) = span {
                s.retry(record);
            }
        }
        "response" | "error" => {
            // An error before the `request` record (an invalid request)
            // still gets a span, of its own record only.
            let open = span.take().unwrap_or_else(|| {
                CallSpan::start(trace.unwrap_or_else(TraceContext::root), record)
            });
            if let Some(done) = open.finish(record) {
                exporter.export(done);
            }
        }
        _ => {}
    }
}

impl IsTerminal for LogTap {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogTap {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for LogTap {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.feed(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(MAX_LINE)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogTap {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LogTap {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.feed(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn tap_joins_lines_split_across_writes() {
        let tap = LogTap::new(Arc::new(Metrics::new().unwrap()));
        let line = br#"{"level":"info","event":"request","timestamp_ms":1,"operation":"run","provider":"mock","model":"m","duration_ms":0,"attempts":0,"cached":false}
"#;
        let (a, b) = line.split_at(40);
        tap.feed(a);
        assert_eq!(tap.call(), CallInfo::default());
        tap.feed(b);
        assert_eq!(tap.call().provider, "mock");
        let text = tap.metrics().encode().unwrap();
        assert!(
            text.contains(r#"aigw_requests_total{model="m",operation="run",provider="mock"} 1"#),
            "{text}"
        );
    }
}
