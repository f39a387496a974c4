//! Outbound HTTP for the guest (`wasi:http/outgoing-handler`): the hooks
//! that redirect provider hosts to the mock upstream, and a keep-alive
//! connection pool for plain-HTTP upstreams.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use wasmtime_wasi_http::WasiHttpHooks;

/// Where outbound requests to provider hosts go instead (tests, the CLI's
/// mock mode): every `https://` request is sent to `http://{authority}` with
/// the same path, and the original URL is recorded in the header
/// `x-aigw-original-url`.
#[derive(Debug, Clone)]
pub struct Redirect {
    pub authority: String,
}

/// Keep-alive connections to plain-HTTP upstreams, shared by every store
/// that holds a clone. wasmtime-wasi-http's default sender opens a new TCP
/// connection per request; a host serving many requests to one provider
/// should reuse them, as every other gateway does. (https upstreams still
/// use the default sender, which brings TLS.)
#[derive(Clone)]
pub struct UpstreamPool {
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        wasmtime_wasi_http::WasiBody,
    >,
}

impl std::fmt::Debug for UpstreamPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpstreamPool")
    }
}

impl Default for UpstreamPool {
    fn default() -> Self {
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_nodelay(true);
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(std::time::Duration::from_secs(30))
                .build(connector);
        Self { client }
    }
}

impl UpstreamPool {
    /// Send on a pooled connection, with the request options' first-byte
    /// (includes connect) and between-bytes timeouts.
    async fn send(
        &self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
    ) -> Result<http::Response<wasmtime_wasi_http::WasiBody>, wasmtime_wasi_http::Error> {
        use wasmtime_wasi_http::Error as E;
        let limit = |t: Option<std::time::Duration>| {
            t.filter(|d| !d.is_zero())
                .unwrap_or(std::time::Duration::from_secs(600))
        };
        let first_byte = limit(
            options
                .and_then(|o| o.connect_timeout)
                .zip(options.and_then(|o| o.first_byte_timeout))
                .map(|(c, f)| c.saturating_add(f))
                .or(options.and_then(|o| o.first_byte_timeout)),
        );
        let between = limit(options.and_then(|o| o.between_bytes_timeout));
        let res = match tokio::time::timeout(first_byte, self.client.request(request)).await {
            Err(_) => return Err(E::ConnectionReadTimeout),
            Ok(Err(e)) if e.is_connect() => return Err(E::ConnectionRefused),
            Ok(Err(e)) => {
                let hyper = std::error::Error::source(&e)
                    .and_then(|s| s.downcast_ref::<hyper::Error>())
                    .map(|h| h.is_timeout());
                return Err(match hyper {
                    Some(true) => E::ConnectionReadTimeout,
                    _ => E::ConnectionTerminated,
                });
            }
            Ok(Ok(res)) => res,
        };
        Ok(res.map(|body| {
            http_body_util::BodyExt::boxed_unsync(TimedBody {
                inner: body,
                between,
                deadline: None,
            })
        }))
    }
}

/// A response body that fails when no bytes arrive for `between`.
struct TimedBody {
    inner: hyper::body::Incoming,
    between: std::time::Duration,
    deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl hyper::body::Body for TimedBody {
    type Data = bytes::Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        match std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                self.deadline = None;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let between = self.between;
                let sleep = self
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(between)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        Poll::Ready(Some(Err(wasmtime_wasi_http::Error::ConnectionReadTimeout)))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// The HTTP hooks of one store: where to redirect, which pool to use,
/// and the current call's cancellation.
#[derive(Debug, Clone, Default)]
pub(super) struct Hooks {
    pub(super) redirect: Option<Arc<Redirect>>,
    pub(super) pool: Option<UpstreamPool>,
    /// Cancelled when the client of the call this store is serving leaves
    /// (`crate::cancel`). Every upstream request of the call then fails
    /// with `HttpRequestDenied`, at once and without retry, so the guest
    /// ends its call itself, running its own cleanup (reservations).
    pub(super) cancel: CancellationToken,
}

/// Why a cancelled call's upstream request failed.
fn cancelled() -> wasmtime_wasi_http::Error {
    wasmtime_wasi_http::Error::HttpRequestDenied
}

/// A response body that fails as soon as its call is cancelled.
struct CancelBody {
    inner: wasmtime_wasi_http::WasiBody,
    cancelled: std::pin::Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>,
}

impl hyper::body::Body for CancelBody {
    type Data = bytes::Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        if self.cancelled.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(cancelled())));
        }
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        mut request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<wasmtime_wasi_http::WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        drop(fut);
        if let Some(r) = &self.redirect
            && request.uri().scheme() == Some(&http::uri::Scheme::HTTPS)
        {
            let original = request.uri().to_string();
            let path = request
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            if let Ok(uri) = format!("http://{}{path}", r.authority).parse() {
                *request.uri_mut() = uri;
                if let Ok(v) = http::HeaderValue::from_str(&original) {
                    request.headers_mut().insert("x-aigw-original-url", v);
                }
            }
        }
        let pool = self
            .pool
            .clone()
            .filter(|_| request.uri().scheme() == Some(&http::uri::Scheme::HTTP));
        let cancel = self.cancel.clone();
        if cancel.is_cancelled() {
            return Box::new(async { Err(cancelled()) });
        }
        type Io = Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;
        let send = async move {
            if let Some(pool) = pool {
                let res = pool.send(request, options).await?;
                let io: Io = Box::new(async { Ok(()) });
                return Ok::<_, wasmtime_wasi_http::Error>((res, io));
            }
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            let io: Io = Box::new(io);
            Ok((res.map(http_body_util::BodyExt::boxed_unsync), io))
        };
        Box::new(async move {
            let (res, io) = tokio::select! {
                sent = send => sent?,
                () = cancel.cancelled() => return Err(cancelled()),
            };
            let cancelled = Box::pin(cancel.cancelled_owned());
            Ok((
                res.map(|inner| {
                    http_body_util::BodyExt::boxed_unsync(CancelBody { inner, cancelled })
                }),
                io,
            ))
        })
    }
}
