//! A client that goes away cancels its call at once, not when the next
//! upstream byte arrives.
//!
//! hyper drops a response body when the client's connection closes (HTTP/1
//! half-close is off, so a read EOF ends the connection), and drops the
//! service future when the client leaves before the response head. Both
//! drop a [`CallGuard`], which, unless the body reached its end first,
//! cancels the call's token (`HostState::arm_cancel`): the upstream request
//! the guest waits on fails there and then (its connection closes), and so
//! does every later one, without retry. The guest then ends the call
//! itself: its stream ends with one terminal event and its cleanup runs,
//! so a budget's reservation is released rather than held forever, as it
//! was when the task was aborted and the store dropped with the guest's
//! resources still open (docs/soak.md).
//!
//! A guest that has not returned [`GRACE`] later is aborted after all.

use std::pin::Pin;
use std::task::{Context, Poll};

use std::time::Duration;

use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

/// How long a cancelled call has to end itself before its task is aborted.
pub const GRACE: Duration = Duration::from_secs(10);

/// Cancels the guest's call when dropped, unless disarmed.
#[derive(Debug)]
pub struct CallGuard(Option<(CancellationToken, AbortHandle)>);

impl CallGuard {
    pub fn new(cancel: CancellationToken, task: AbortHandle) -> Self {
        Self(Some((cancel, task)))
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
        if let Some((cancel, task)) = self.0.take() {
            cancel.cancel();
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn(async move {
                        tokio::time::sleep(GRACE).await;
                        task.abort();
                    });
                }
                Err(_) => task.abort(),
            }
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
