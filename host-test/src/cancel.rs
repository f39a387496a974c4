//! A client that goes away cancels its call: the guest's task is aborted,
//! which drops its store, and with it the upstream request it is waiting
//! on, at once, not when the next upstream byte arrives.
//!
//! hyper drops a response body when the client's connection closes (HTTP/1
//! half-close is off, so a read EOF ends the connection), and drops the
//! service future when the client leaves before the response head. Both
//! drop a [`CallGuard`]: it aborts the task unless the body reached its
//! end first, so a finished call still returns its instance to the pool.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::AbortHandle;

/// Aborts the guest's task when dropped, unless disarmed.
#[derive(Debug)]
pub struct CallGuard(Option<AbortHandle>);

impl CallGuard {
    pub fn new(task: AbortHandle) -> Self {
        Self(Some(task))
    }

    /// Nothing to guard: the call ended or never started.
    pub fn none() -> Self {
        Self(None)
    }

    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// A response body that cancels its call when dropped before its end.
#[derive(Debug)]
pub struct GuardedBody<B> {
    inner: B,
    guard: CallGuard,
}

impl<B> GuardedBody<B> {
    pub fn new(inner: B, guard: CallGuard) -> Self {
        Self { inner, guard }
    }
}

impl<B: hyper::body::Body + Unpin> hyper::body::Body for GuardedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => self.inner.is_end_stream(),
            Poll::Ready(Some(Err(_))) | Poll::Pending => false,
        };
        if ended {
            // The whole body was sent: the call is done, let it return its
            // instance to the pool.
            self.guard.disarm();
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
