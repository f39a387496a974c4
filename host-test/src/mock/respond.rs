//! Writing a [`Reply`] as a hyper response: whole bodies, paced SSE streams
//! that record how far the client read ([`StreamOutcome`]), generated
//! streams, and step-by-step bodies that may stall or reset.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::Response;
use hyper::body::Frame;
use tokio::sync::mpsc;

use super::faults::Kill;
use super::reply::{MockBody, Reply, Step};
use super::{Body, State};

/// How a streamed response ended, from the server's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamOutcome {
    /// Every chunk was written.
    Completed { chunks: usize },
    /// The client hung up after `sent` of `total` chunks.
    ClientClosed { sent: usize, total: usize },
    /// The script cut the connection after `sent` chunks.
    Cut { sent: usize },
    /// The script reset the connection (RST) after `sent` byte steps.
    Reset { sent: usize },
}

pub(super) fn respond(state: &Arc<State>, kill: &Kill, reply: Reply) -> Response<Body> {
    let mut b = Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let body: Body = match reply.body {
        MockBody::Bytes(bytes) => Full::new(Bytes::from(bytes)).boxed(),
        MockBody::Sse {
            chunks,
            delay,
            cut_after,
        } => {
            let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1);
            let st = Arc::clone(state);
            tokio::spawn(async move {
                let total = chunks.len();
                let mut sent = 0;
                for c in chunks {
                    if cut_after == Some(sent) {
                        // Let what was sent reach the client, then end the
                        // body short of its declared length: hyper closes
                        // the connection mid-message.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        record(&st, StreamOutcome::Cut { sent });
                        return;
                    }
                    if sent > 0 && !delay.is_zero() {
                        // A client that hangs up during the pause is seen
                        // at once (hyper drops the body receiver), not at
                        // the next write: the disconnect tests time that.
                        tokio::select! {
                            () = tokio::time::sleep(delay) => {}
                            () = tx.closed() => {
                                record(&st, StreamOutcome::ClientClosed { sent, total });
                                return;
                            }
                        }
                    }
                    if tx.send(Ok(Frame::data(Bytes::from(c)))).await.is_err() {
                        record(&st, StreamOutcome::ClientClosed { sent, total });
                        return;
                    }
                    sent += 1;
                }
                // The last frame is written once the channel has room again.
                if tx.reserve().await.is_err() {
                    record(&st, StreamOutcome::ClientClosed { sent, total });
                    return;
                }
                record(&st, StreamOutcome::Completed { chunks: sent });
            });
            let stream = tokio_stream_from(rx);
            let body = StreamBody::new(stream);
            if cut_after.is_some() {
                // A cut must look like a broken connection, not a clean end:
                // declare a length the body never reaches.
                b = b.header("content-length", "999999999");
            }
            BodyExt::boxed(body)
        }
        MockBody::Repeat {
            head,
            chunk,
            count,
            tail,
            delay,
        } => {
            let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
            let st = Arc::clone(state);
            tokio::spawn(async move {
                let chunk = Bytes::from(chunk);
                let total = count + 2;
                if tx.send(Ok(Frame::data(Bytes::from(head)))).await.is_err() {
                    record(&st, StreamOutcome::ClientClosed { sent: 0, total });
                    return;
                }
                for i in 0..count {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    if tx.send(Ok(Frame::data(chunk.clone()))).await.is_err() {
                        record(&st, StreamOutcome::ClientClosed { sent: i + 1, total });
                        return;
                    }
                }
                if tx.send(Ok(Frame::data(Bytes::from(tail)))).await.is_err() {
                    record(
                        &st,
                        StreamOutcome::ClientClosed {
                            sent: count + 1,
                            total,
                        },
                    );
                    return;
                }
                record(&st, StreamOutcome::Completed { chunks: total });
            });
            BodyExt::boxed(StreamBody::new(tokio_stream_from(rx)))
        }
        MockBody::Steps(steps) => {
            let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1);
            let st = Arc::clone(state);
            let kill = kill.clone();
            tokio::spawn(async move {
                let mut sent = 0;
                for step in steps {
                    match step {
                        Step::Bytes(bytes) => {
                            if tx.send(Ok(Frame::data(Bytes::from(bytes)))).await.is_err() {
                                record(&st, StreamOutcome::ClientClosed { sent, total: 0 });
                                return;
                            }
                            sent += 1;
                            // Room in the channel again means hyper took the
                            // frame; a short pause lets it reach the socket as
                            // its own segment (nodelay is set).
                            if tx.reserve().await.is_err() {
                                record(&st, StreamOutcome::ClientClosed { sent, total: 0 });
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        Step::Pause(d) => tokio::time::sleep(d).await,
                        Step::Reset => {
                            kill.throw();
                            record(&st, StreamOutcome::Reset { sent });
                            // Wake hyper's writer so it sees the switch.
                            let _ = tx.send(Ok(Frame::data(Bytes::from_static(b" ")))).await;
                            return;
                        }
                    }
                }
                record(&st, StreamOutcome::Completed { chunks: sent });
            });
            BodyExt::boxed(StreamBody::new(tokio_stream_from(rx)))
        }
        MockBody::ResetBeforeHead => Full::new(Bytes::new()).boxed(),
    };
    b.body(body)
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()))
}

pub(super) fn record(state: &Arc<State>, o: StreamOutcome) {
    if let Ok(mut v) = state.outcomes.lock() {
        v.push(o);
    }
}

fn tokio_stream_from(
    mut rx: mpsc::Receiver<Result<Frame<Bytes>, Infallible>>,
) -> impl futures::Stream<Item = Result<Frame<Bytes>, Infallible>> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
