//! Reading `wasi:http` requests and writing responses (whole or streamed).

use super::bindings::wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use super::bindings::wasi::io::streams::{OutputStream, StreamError};

/// Largest request body accepted.
const MAX_BODY: usize = 16 << 20;

/// A request with its body read.
pub struct Request {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// Read the request; `Err` is a message for a 400/413.
pub fn read(req: IncomingRequest) -> Result<Request, (u16, String)> {
    let method = req.method();
    let path = req.path_with_query().unwrap_or_else(|| "/".into());
    let headers = req.headers().entries();
    let body = req
        .consume()
        .map_err(|()| (400, "the request body was already taken".to_owned()))?;
    let mut bytes = Vec::new();
    {
        let stream = body
            .stream()
            .map_err(|()| (400, "the request body stream is unavailable".to_owned()))?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    if bytes.len() + chunk.len() > MAX_BODY {
                        return Err((
                            413,
                            format!("the request body is larger than {MAX_BODY} bytes"),
                        ));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err((
                        400,
                        format!("reading the request body failed: {}", e.to_debug_string()),
                    ));
                }
            }
        }
    }
    drop(super::bindings::wasi::http::types::IncomingBody::finish(
        body,
    ));
    Ok(Request {
        method,
        path,
        headers,
        body: bytes,
    })
}

/// A response being written.
pub struct Writer {
    stream: Option<OutputStream>,
    body: Option<OutgoingBody>,
}

impl Writer {
    /// Send the status and headers; the body follows with `write`.
    pub fn start(out: ResponseOutparam, status: u16, headers: &[(&str, &str)]) -> Option<Self> {
        let entries: Vec<(String, Vec<u8>)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect();
        let fields = Fields::from_list(&entries).ok()?;
        let resp = OutgoingResponse::new(fields);
        resp.set_status_code(status).ok()?;
        let body = resp.body().ok()?;
        ResponseOutparam::set(out, Ok(resp));
        let stream = body.write().ok()?;
        Some(Self {
            stream: Some(stream),
            body: Some(body),
        })
    }

    /// Write and flush; `false` when the client went away.
    pub fn write(&mut self, mut bytes: &[u8]) -> bool {
        let Some(stream) = &self.stream else {
            return false;
        };
        while !bytes.is_empty() {
            let n = bytes.len().min(4096);
            let (chunk, rest) = bytes.split_at(n);
            if stream.blocking_write_and_flush(chunk).is_err() {
                return false;
            }
            bytes = rest;
        }
        true
    }

    pub fn finish(mut self) {
        self.stream = None;
        if let Some(body) = self.body.take() {
            let _ = OutgoingBody::finish(body, None);
        }
    }
}

/// A whole response.
pub fn respond(
    out: ResponseOutparam,
    status: u16,
    content_type: &str,
    body: &[u8],
    extra: &[(&str, &str)],
) {
    let mut headers = vec![("content-type", content_type)];
    headers.extend_from_slice(extra);
    if let Some(mut w) = Writer::start(out, status, &headers) {
        w.write(body);
        w.finish();
    }
}
