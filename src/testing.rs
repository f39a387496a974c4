//! In-memory ports for unit tests: a key-value store, a manual clock, a
//! scripted HTTP upstream.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};

use crate::http::{HttpRequest, ResponseHead};
use crate::ports::{
    Body, Clock, Http, Kv, KvError, LogSink, Random, ReadState, SendOptions, TransportError,
};

#[derive(Debug, Default)]
pub struct MemKv {
    data: RefCell<BTreeMap<(String, String), Vec<u8>>>,
}

impl Kv for MemKv {
    fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self
            .data
            .borrow()
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned())
    }
    fn set(&self, bucket: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.data
            .borrow_mut()
            .insert((bucket.to_owned(), key.to_owned()), value.to_vec());
        Ok(())
    }
    fn delete(&self, bucket: &str, key: &str) -> Result<(), KvError> {
        self.data
            .borrow_mut()
            .remove(&(bucket.to_owned(), key.to_owned()));
        Ok(())
    }
    fn increment(&self, bucket: &str, key: &str, delta: i64) -> Result<i64, KvError> {
        let cur = self
            .get(bucket, key)?
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0);
        let new = cur + delta;
        self.set(bucket, key, new.to_string().as_bytes())?;
        Ok(new)
    }
    fn keys_with_prefix(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, KvError> {
        Ok(self
            .data
            .borrow()
            .keys()
            .filter(|(b, k)| b == bucket && k.starts_with(prefix))
            .map(|(_, k)| k.clone())
            .collect())
    }
}

/// A clock that only moves when slept on (or advanced).
#[derive(Debug, Default)]
pub struct ManualClock {
    pub now: Cell<u64>,
    pub slept: RefCell<Vec<u64>>,
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        1_700_000_000_000 + self.now.get()
    }
    fn monotonic_ms(&self) -> u64 {
        self.now.get()
    }
    fn sleep_ms(&self, ms: u64) {
        self.slept.borrow_mut().push(ms);
        self.now.set(self.now.get() + ms);
    }
}

#[derive(Debug, Default)]
pub struct FixedRandom(pub u64);

impl Random for FixedRandom {
    fn next_u64(&self) -> u64 {
        self.0
    }
}

#[derive(Debug, Default)]
pub struct NoLog;

impl LogSink for NoLog {
    fn line(&self, _: &str) {}
}

/// A scripted upstream answer.
#[derive(Debug, Clone)]
pub enum Reply {
    Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    Transport(TransportError),
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Self {
        Self::Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn with_header(mut self, k: &str, v: &str) -> Self {
        if let Self::Response { headers, .. } = &mut self {
            headers.push((k.into(), v.into()));
        }
        self
    }
}

/// Replays scripted replies in order and records every request.
#[derive(Debug, Default)]
pub struct ScriptedHttp {
    pub replies: RefCell<VecDeque<Reply>>,
    pub requests: RefCell<Vec<HttpRequest>>,
    /// Chunk size bodies are delivered in.
    pub chunk: usize,
}

impl ScriptedHttp {
    pub fn new(replies: Vec<Reply>) -> Self {
        Self {
            replies: RefCell::new(replies.into()),
            requests: RefCell::default(),
            chunk: 64,
        }
    }

    pub fn hits(&self) -> usize {
        self.requests.borrow().len()
    }
}

#[derive(Debug)]
pub struct MemBody {
    chunks: VecDeque<Vec<u8>>,
}

impl Body for MemBody {
    fn read(&mut self, _: Option<u64>) -> Result<Option<Vec<u8>>, TransportError> {
        Ok(self.chunks.pop_front())
    }
    fn try_read(&mut self) -> Result<ReadState, TransportError> {
        Ok(self
            .chunks
            .pop_front()
            .map_or(ReadState::End, ReadState::Data))
    }
}

impl Http for ScriptedHttp {
    type Body = MemBody;
    fn send(
        &self,
        req: &HttpRequest,
        _: &SendOptions,
    ) -> Result<(ResponseHead, MemBody), TransportError> {
        self.requests.borrow_mut().push(req.clone());
        match self.replies.borrow_mut().pop_front() {
            None => Err(TransportError::Connection("no scripted reply left".into())),
            Some(Reply::Transport(e)) => Err(e),
            Some(Reply::Response {
                status,
                headers,
                body,
            }) => Ok((
                ResponseHead {
                    status,
                    headers: headers.into(),
                },
                MemBody {
                    chunks: body.chunks(self.chunk.max(1)).map(<[u8]>::to_vec).collect(),
                },
            )),
        }
    }
}
