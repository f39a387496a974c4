//! One request sent and its whole answer read: the time limits of an
//! attempt, the bounded body read with gzip undone, and the mapping of a
//! non-success answer to the provider's typed error.

use super::env::Env;
use super::target::Target;
use super::{Gateway, MAX_BODY, retry};
use crate::config::Endpoint;
use crate::error::{GatewayError, Result};
use crate::http::{HttpRequest, ResponseHead};
use crate::ports::{Body, Http, SendOptions, read_to_end};
use crate::provider::{self, ChatCall};
use crate::types::{Input, RunOptions};

/// An attempt's outcome and the HTTP status it saw, if an answer came.
pub(crate) type Outcome<T> = (Result<T>, Option<u16>);

impl Gateway {
    /// The host's time limits for one attempt of a call ending at `deadline`.
    pub(crate) fn send_options(&self, deadline: Option<u64>) -> SendOptions {
        SendOptions {
            deadline_ms: deadline,
            connect_timeout_ms: self.attempt_timeouts.connect_ms,
            first_byte_timeout_ms: self.attempt_timeouts.first_byte_ms,
            between_bytes_timeout_ms: self.attempt_timeouts.between_bytes_ms,
        }
    }

    /// Send `req` to `endpoint` and read the whole answer. A non-success
    /// status is the provider's typed error.
    pub(crate) fn exchange<H: Http>(
        &self,
        env: &Env<'_, H>,
        endpoint: &Endpoint,
        req: &HttpRequest,
        deadline: Option<u64>,
    ) -> Outcome<(ResponseHead, Vec<u8>)> {
        let signed = match provider::signed(endpoint, req, env.clock.now_ms()) {
            Ok(s) => s,
            Err(e) => return (Err(e), None),
        };
        let req = signed.as_ref().unwrap_or(req);
        let (head, mut body) = match env.http.send(req, &self.send_options(deadline)) {
            Ok(x) => x,
            Err(e) => return (Err(retry::from_transport(e, &endpoint.name)), None),
        };
        let status = Some(head.status);
        let bytes = match read_body(&head, &mut body, deadline, &endpoint.name) {
            Ok(b) => b,
            Err(e) => return (Err(e), status),
        };
        if !head.is_success() {
            let e = provider::error_for(endpoint, &head, &bytes, env.clock.now_ms());
            return (Err(e), status);
        }
        (Ok((head, bytes)), status)
    }
}

/// The provider's chat request for target `t`.
pub(crate) fn chat_request(
    t: &Target<'_>,
    input: &Input,
    opts: &RunOptions,
    stream: bool,
) -> Result<HttpRequest> {
    provider::build_chat(&ChatCall {
        endpoint: t.endpoint,
        model: &t.model,
        input,
        options: opts,
        stream,
    })
}

/// Read a whole response body (at most [`MAX_BODY`] bytes) and undo a
/// gzip content-encoding (decoded size bounded by the same limit).
pub(crate) fn read_body<B: Body>(
    head: &ResponseHead,
    body: &mut B,
    deadline: Option<u64>,
    provider: &str,
) -> Result<Vec<u8>> {
    let bytes =
        read_to_end(body, MAX_BODY, deadline).map_err(|e| retry::from_transport(e, provider))?;
    if !crate::encoding::says_gzip(head) {
        return Ok(bytes);
    }
    crate::encoding::gunzip(bytes, MAX_BODY).map_err(|e| retry::undecodable_body(&e, provider))
}

/// Put the upstream status on a parse error of a 2xx body.
pub(crate) fn with_status(mut e: GatewayError, status: u16) -> GatewayError {
    if let GatewayError::Upstream(d) = &mut e
        && d.status.is_none()
    {
        d.status = Some(status);
    }
    e
}
