//! The host's view of one response body: the time to its first token
//! (streams) and to its end, for [`Metrics`]; the end of the request's
//! span.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use super::{HttpSpan, LogTap, Metrics};

/// A response body that reports to the metrics: the time to its first
/// frame with content (streams), and the time to its end.
pub struct MeteredBody {
    inner: HyperOutgoingBody,
    arrived: Instant,
    route: &'static str,
    metrics: Arc<Metrics>,
    /// Streams: the tap whose call labels the first token, until it is seen.
    first_token: Option<Option<LogTap>>,
    /// The request's span, ended with the body.
    span: Option<HttpSpan>,
    done: bool,
}

/// Whether an SSE frame of the proxy carries model output: a text,
/// reasoning or tool-call delta (the role frame that opens every stream
/// has an empty `content`).
pub(crate) fn has_token(frame: &[u8]) -> bool {
    let find = |mark: &[u8]| {
        frame
            .windows(mark.len())
            .position(|w| w == mark)
            .map(|i| i.saturating_add(mark.len()))
    };
    let non_empty = |mark: &[u8]| {
        find(mark).is_some_and(|end| frame.get(end).is_some_and(|next| *next != b'"'))
    };
    non_empty(b"\"content\":\"")
        || non_empty(b"\"reasoning_content\":\"")
        || find(b"\"tool_calls\":").is_some()
}

impl std::fmt::Debug for MeteredBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeteredBody")
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

impl MeteredBody {
    /// `first_token`: `Some` for a stream, with its instance's tap.
    pub fn new(
        inner: HyperOutgoingBody,
        arrived: Instant,
        route: &'static str,
        metrics: Arc<Metrics>,
        first_token: Option<Option<LogTap>>,
    ) -> Self {
        Self {
            inner,
            arrived,
            route,
            metrics,
            first_token,
            span: None,
            done: false,
        }
    }

    /// End `span` when the body ends.
    pub fn with_span(mut self, span: Option<HttpSpan>) -> Self {
        self.span = span;
        self
    }

    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.metrics
                .http_response(self.route, self.arrived.elapsed());
            if let Some(span) = self.span.take() {
                span.end();
            }
        }
    }
}

impl hyper::body::Body for MeteredBody {
    type Data = bytes::Bytes;
    type Error = <HyperOutgoingBody as hyper::body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && self.first_token.is_some()
                    && has_token(data)
                    && let Some(tap) = self.first_token.take()
                {
                    let call = tap.map(|t| t.call()).unwrap_or_default();
                    self.metrics.first_token(&call, self.arrived.elapsed());
                }
            }
            Poll::Ready(None | Some(Err(_))) => self.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::has_token;

    #[test]
    fn has_token_skips_the_empty_role_frame() {
        let role = br#"data: {"choices":[{"delta":{"content":"","role":"assistant"},"finish_reason":null,"index":0}]}"#;
        let text =
            br#"data: {"choices":[{"delta":{"content":"Hi"},"finish_reason":null,"index":0}]}"#;
        let reasoning = br#"data: {"choices":[{"delta":{"reasoning_content":"hm"}}]}"#;
        let tool = br#"data: {"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}"#;
        let done = br#"data: {"choices":[{"delta":{},"finish_reason":"stop","index":0}]}"#;
        assert!(!has_token(role));
        assert!(has_token(text));
        assert!(has_token(reasoning));
        assert!(has_token(tool));
        assert!(!has_token(done));
        assert!(!has_token(b"data: [DONE]\n\n"));
    }
}
