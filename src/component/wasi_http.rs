//! The `Http` port over `wasi:http/outgoing-handler@0.2.6`: request
//! options for the per-attempt timeouts, pollables for the deadline, and a
//! body that reads without blocking past it. Dropping a `WasiBody` drops the
//! response resources, which closes the upstream connection.

use super::bindings::wasi::clocks::monotonic_clock;
use super::bindings::wasi::http::outgoing_handler;
use super::bindings::wasi::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, Method,
    OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use super::bindings::wasi::io::poll::{Pollable, poll};
use super::bindings::wasi::io::streams::{InputStream, StreamError};
use crate::http::{self as h, HttpRequest, ResponseHead};
use crate::ports::{Body, Http, ReadState, SendOptions, TransportError};

const NS_PER_MS: u64 = 1_000_000;
const READ_CHUNK: u64 = 64 * 1024;

#[derive(Debug, Clone, Copy, Default)]
pub struct WasiHttp;

/// A response body: a `wasi:http` stream, or (for providers written as
/// components) bytes already in memory.
#[derive(Debug)]
pub struct WasiBody {
    inner: Inner,
}

/// Field order is drop order: the stream is a child of the body, which is a
/// child of the response.
#[derive(Debug)]
enum Inner {
    Wasi {
        stream: Option<InputStream>,
        body: Option<IncomingBody>,
        _response: IncomingResponse,
    },
    #[cfg_attr(
        not(feature = "component-providers"),
        expect(
            dead_code,
            reason = "only providers written as components answer from memory"
        )
    )]
    Memory(Option<Vec<u8>>),
}

impl WasiBody {
    /// A pollable that is ready when the body has bytes or ended (`None`:
    /// nothing to wait for).
    pub fn subscribe(&self) -> Option<Pollable> {
        match &self.inner {
            Inner::Wasi { stream, .. } => stream.as_ref().map(InputStream::subscribe),
            Inner::Memory(_) => None,
        }
    }

    fn close(&mut self) {
        if let Inner::Wasi { stream, body, .. } = &mut self.inner {
            *stream = None;
            if let Some(b) = body.take() {
                // Trailers are not used; dropping the future discards them.
                drop(IncomingBody::finish(b));
            }
        }
    }
}

/// Wait until `p` is ready or the deadline passes; `false` on the deadline.
fn wait(p: &Pollable, deadline_ms: Option<u64>) -> bool {
    let Some(d) = deadline_ms else {
        p.block();
        return true;
    };
    let timer = monotonic_clock::subscribe_instant(d.saturating_mul(NS_PER_MS));
    let ready = poll(&[p, &timer]);
    ready.contains(&0)
}

fn deadline_passed() -> TransportError {
    TransportError::Timeout("the call's deadline passed".into())
}

fn map_code(code: &ErrorCode) -> TransportError {
    match code {
        ErrorCode::ConnectionTimeout => TransportError::Timeout("connect timeout".into()),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            TransportError::Timeout("first-byte or between-bytes timeout".into())
        }
        ErrorCode::DnsTimeout => TransportError::Timeout("DNS timeout".into()),
        ErrorCode::ConnectionWriteTimeout => TransportError::Timeout("write timeout".into()),
        // Denied: the host will not send it (a policy, or the call was
        // cancelled because its client left); retrying cannot help.
        ErrorCode::HttpRequestUriInvalid
        | ErrorCode::HttpRequestMethodInvalid
        | ErrorCode::HttpRequestDenied => {
            TransportError::Invalid(format!("the host refused the request: {code:?}"))
        }
        other => TransportError::Connection(format!("{other:?}")),
    }
}

/// Split an absolute URL into scheme, authority and path-with-query.
fn split_url(url: &str) -> Result<(Scheme, &str, &str), TransportError> {
    let (scheme, rest) = if let Some(r) = url.strip_prefix("https://") {
        (Scheme::Https, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (Scheme::Http, r)
    } else {
        return Err(TransportError::Invalid(format!(
            "unsupported URL scheme in {url:?}"
        )));
    };
    let cut = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(cut);
    if authority.is_empty() {
        return Err(TransportError::Invalid(format!("URL {url:?} has no host")));
    }
    Ok((scheme, authority, if path.is_empty() { "/" } else { path }))
}

/// Write the whole request body. A stream the host closed is not an error
/// here: with a `Content-Length` the server may have read every byte and
/// answered before the last flush returns, or it may answer without reading
/// (a 4xx); either way the response, or `finish`'s size check, tells.
fn write_body(
    body: &OutgoingBody,
    bytes: &[u8],
    deadline_ms: Option<u64>,
) -> Result<(), TransportError> {
    let stream = body
        .write()
        .map_err(|()| TransportError::Connection("request body unavailable".into()))?;
    let failed = |what: &str, e: StreamError| match e {
        StreamError::Closed => Ok(()),
        e => Err(TransportError::Connection(format!(
            "{what} the request body: {e:?}"
        ))),
    };
    let mut rest = bytes;
    while !rest.is_empty() {
        let permit = match stream.check_write() {
            Ok(n) => n,
            Err(e) => return failed("writing", e),
        };
        if permit == 0 {
            if !wait(&stream.subscribe(), deadline_ms) {
                return Err(deadline_passed());
            }
            continue;
        }
        let n = usize::try_from(permit)
            .unwrap_or(usize::MAX)
            .min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        if let Err(e) = stream.write(chunk) {
            return failed("writing", e);
        }
        rest = tail;
    }
    if let Err(e) = stream.flush() {
        return failed("flushing", e);
    }
    if !wait(&stream.subscribe(), deadline_ms) {
        return Err(deadline_passed());
    }
    drop(stream);
    Ok(())
}

fn await_response(
    future: &FutureIncomingResponse,
    deadline_ms: Option<u64>,
) -> Result<IncomingResponse, TransportError> {
    loop {
        if let Some(r) = future.get() {
            return match r {
                Ok(Ok(resp)) => Ok(resp),
                Ok(Err(code)) => Err(map_code(&code)),
                Err(()) => Err(TransportError::Connection("response already taken".into())),
            };
        }
        if !wait(&future.subscribe(), deadline_ms) {
            return Err(deadline_passed());
        }
    }
}

#[cfg(feature = "component-providers")]
fn send_to_component(req: &HttpRequest) -> Result<(ResponseHead, WasiBody), TransportError> {
    use super::bindings::workkit::ai_gateway::http_provider as hp;
    let request = hp::ProviderRequest {
        method: match req.method {
            h::Method::Get => "GET".into(),
            h::Method::Post => "POST".into(),
        },
        url: req.url.clone(),
        headers: req.headers.to_vec(),
        body: req.body.to_vec(),
    };
    let resp = hp::handle(&request).map_err(TransportError::Connection)?;
    let headers = resp
        .headers
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    Ok((
        ResponseHead {
            status: resp.status,
            headers,
        },
        WasiBody {
            inner: Inner::Memory(Some(resp.body)),
        },
    ))
}

#[cfg(not(feature = "component-providers"))]
fn send_to_component(_: &HttpRequest) -> Result<(ResponseHead, WasiBody), TransportError> {
    Err(TransportError::Invalid(
        "component:// providers need the gateway-with-providers build (feature component-providers)".into(),
    ))
}

impl Http for WasiHttp {
    type Body = WasiBody;

    fn send(
        &self,
        req: &HttpRequest,
        opts: &SendOptions,
    ) -> Result<(ResponseHead, WasiBody), TransportError> {
        if req.url.starts_with("component://") {
            return send_to_component(req);
        }
        let (scheme, authority, path) = split_url(&req.url)?;
        let mut entries: Vec<(String, Vec<u8>)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
            .collect();
        // The body is complete in memory: say its length, so the request is
        // not sent chunked (servers that refuse chunked bodies answer 411,
        // and simple ones read an empty body). `validate::check_header`
        // keeps callers from setting it themselves.
        if req.method == h::Method::Post || !req.body.is_empty() {
            entries.push((
                "content-length".to_owned(),
                req.body.len().to_string().into_bytes(),
            ));
        }
        let fields = Fields::from_list(&entries)
            .map_err(|e| TransportError::Invalid(format!("invalid request header: {e:?}")))?;
        let out = OutgoingRequest::new(fields);
        let method = match req.method {
            h::Method::Get => Method::Get,
            h::Method::Post => Method::Post,
        };
        let bad =
            |what: &str| TransportError::Invalid(format!("the host refused the request {what}"));
        out.set_method(&method).map_err(|()| bad("method"))?;
        out.set_scheme(Some(&scheme)).map_err(|()| bad("scheme"))?;
        out.set_authority(Some(authority))
            .map_err(|()| bad("authority"))?;
        out.set_path_with_query(Some(path))
            .map_err(|()| bad("path"))?;
        let body = out.body().map_err(|()| bad("body"))?;

        let options = RequestOptions::new();
        // Hosts that do not support a timeout say so; the deadline still holds.
        let ns = |ms: Option<u64>| ms.map(|m| m.saturating_mul(NS_PER_MS));
        let _ = options.set_connect_timeout(ns(opts.connect_timeout_ms));
        let _ = options.set_first_byte_timeout(ns(opts.first_byte_timeout_ms));
        let _ = options.set_between_bytes_timeout(ns(opts.between_bytes_timeout_ms));

        let future = outgoing_handler::handle(out, Some(options)).map_err(|c| map_code(&c))?;
        write_body(&body, &req.body, opts.deadline_ms)?;
        OutgoingBody::finish(body, None).map_err(|c| map_code(&c))?;
        let resp = await_response(&future, opts.deadline_ms)?;
        drop(future);

        let status = resp.status();
        let headers = resp
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect();
        let incoming = resp
            .consume()
            .map_err(|()| TransportError::Connection("response body unavailable".into()))?;
        let stream = incoming
            .stream()
            .map_err(|()| TransportError::Connection("response body stream unavailable".into()))?;
        Ok((
            ResponseHead { status, headers },
            WasiBody {
                inner: Inner::Wasi {
                    stream: Some(stream),
                    body: Some(incoming),
                    _response: resp,
                },
            },
        ))
    }
}

fn stream_error(e: &StreamError) -> TransportError {
    match e {
        StreamError::LastOperationFailed(err) => {
            match super::bindings::wasi::http::types::http_error_code(err) {
                Some(code) => map_code(&code),
                None => {
                    // wasmtime 48 reports its between-bytes timeout as a
                    // plain I/O error ("connection read timeout") that
                    // `http-error-code` does not recognize.
                    let text = err.to_debug_string();
                    let lower = text.to_ascii_lowercase();
                    if lower.contains("timeout") || lower.contains("timed out") {
                        TransportError::Timeout(format!("reading the response: {text}"))
                    } else {
                        TransportError::Connection(format!("reading the response: {text}"))
                    }
                }
            }
        }
        StreamError::Closed => TransportError::Connection("stream closed".into()),
    }
}

impl Body for WasiBody {
    fn read(&mut self, deadline_ms: Option<u64>) -> Result<Option<Vec<u8>>, TransportError> {
        loop {
            match self.try_read()? {
                ReadState::Data(b) => return Ok(Some(b)),
                ReadState::End => return Ok(None),
                ReadState::Pending => {
                    let Some(p) = self.subscribe() else {
                        return Ok(None);
                    };
                    if !wait(&p, deadline_ms) {
                        return Err(deadline_passed());
                    }
                }
            }
        }
    }

    fn try_read(&mut self) -> Result<ReadState, TransportError> {
        let stream = match &mut self.inner {
            Inner::Memory(bytes) => {
                return Ok(match bytes.take() {
                    Some(b) if !b.is_empty() => ReadState::Data(b),
                    _ => ReadState::End,
                });
            }
            Inner::Wasi { stream: None, .. } => return Ok(ReadState::End),
            Inner::Wasi {
                stream: Some(stream),
                ..
            } => stream,
        };
        match stream.read(READ_CHUNK) {
            Ok(bytes) if bytes.is_empty() => Ok(ReadState::Pending),
            Ok(bytes) => Ok(ReadState::Data(bytes)),
            Err(StreamError::Closed) => {
                self.close();
                Ok(ReadState::End)
            }
            Err(e) => {
                let err = stream_error(&e);
                self.close();
                Err(err)
            }
        }
    }
}
