//! The mock's admin API under `/__mock/`, for tests in other processes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Response;
use serde_json::{Value, json};

use super::reply::Reply;
use super::respond::StreamOutcome;
use super::{Body, State};

/// The mock's own API, for tests in other processes (Node, Python):
/// `GET hits`, `GET requests`, `GET outcomes` (how each streamed reply
/// ended), `POST reset`, `POST reply` (queue a reply:
/// `{"status", "headers": [[k, v]], "body", "sse_delay_ms"?}`; with
/// `sse_delay_ms` the body is sent as SSE events that far apart), `POST
/// chaos` (random faults, see `chaos.rs`; `{"rate": 0}` turns them off)
/// and `GET chaos` (what they produced). Admin calls are not recorded as
/// upstream traffic.
pub(super) fn admin_reply(
    state: &Arc<State>,
    method: &str,
    path: &str,
    body: &[u8],
) -> Response<Body> {
    let json_reply = |status: u16, v: Value| {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(v.to_string())).boxed())
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()))
    };
    match (method, path) {
        ("GET", "hits") => json_reply(
            200,
            json!({"hits": state.requests.lock().map_or(0, |r| r.len())}),
        ),
        ("GET", "requests") => {
            let list: Vec<Value> = state
                .requests
                .lock()
                .map(|r| {
                    r.iter()
                        .map(|x| {
                            json!({"method": x.method, "path": x.path, "url": x.url(), "headers": x.headers,
                                   "body": String::from_utf8_lossy(&x.body)})
                        })
                        .collect()
                })
                .unwrap_or_default();
            json_reply(200, Value::Array(list))
        }
        // How each streamed reply ended (for hosts driven over HTTP, e.g.
        // the JS package's tests: did a cancelled stream close the upstream?).
        ("GET", "outcomes") => {
            let list: Vec<Value> = state
                .outcomes
                .lock()
                .map(|o| {
                    o.iter()
                        .map(|x| match x {
                            StreamOutcome::Completed { chunks } => {
                                json!({"outcome": "completed", "sent": chunks})
                            }
                            StreamOutcome::ClientClosed { sent, total } => {
                                json!({"outcome": "client-closed", "sent": sent, "total": total})
                            }
                            StreamOutcome::Cut { sent } => json!({"outcome": "cut", "sent": sent}),
                            StreamOutcome::Reset { sent } => {
                                json!({"outcome": "reset", "sent": sent})
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            json_reply(200, Value::Array(list))
        }
        ("POST", "reset") => {
            if let Ok(mut r) = state.requests.lock() {
                r.clear();
            }
            if let Ok(mut s) = state.script.lock() {
                s.clear();
            }
            if let Ok(mut o) = state.outcomes.lock() {
                o.clear();
            }
            json_reply(200, json!({"ok": true}))
        }
        ("POST", "reply") => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let status = v
                .get("status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(200);
            let text = v
                .get("body")
                .and_then(Value::as_str)
                .unwrap_or("")
                .as_bytes()
                .to_vec();
            let mut reply = match v.get("sse_delay_ms").and_then(Value::as_u64) {
                Some(ms) => Reply {
                    status,
                    ..Reply::sse(&text, Duration::from_millis(ms))
                },
                None => Reply::raw(status, "application/json", text),
            };
            for pair in v
                .get("headers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let (Some(k), Some(val)) = (
                    pair.get(0).and_then(Value::as_str),
                    pair.get(1).and_then(Value::as_str),
                ) {
                    reply
                        .headers
                        .retain(|(have, _)| !have.eq_ignore_ascii_case(k));
                    reply.headers.push((k.to_owned(), val.to_owned()));
                }
            }
            if let Ok(mut s) = state.script.lock() {
                s.push_back(reply);
            }
            json_reply(200, json!({"queued": true}))
        }
        ("POST", "chaos") => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            match super::chaos::Chaos::from_json(&v) {
                Ok(c) => {
                    let report = c.report();
                    if let Ok(mut slot) = state.chaos.lock() {
                        *slot = Some(c);
                    }
                    json_reply(200, report)
                }
                Err(e) => json_reply(400, json!({"error": e})),
            }
        }
        ("GET", "chaos") => match state
            .chaos
            .lock()
            .ok()
            .and_then(|c| c.as_ref().map(super::chaos::Chaos::report))
        {
            Some(r) => json_reply(200, r),
            None => json_reply(200, json!({"rate": 0, "served": 0})),
        },
        _ => json_reply(
            404,
            json!({"error": format!("no mock admin route {method} /__mock/{path}")}),
        ),
    }
}
