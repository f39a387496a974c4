//! Random faults for soak runs (bench/soak): once `POST /__mock/chaos`
//! sets a rate, each upstream request that has no scripted reply gets a
//! fault with that probability instead of the default answer — an HTTP
//! 429, 500, 502 or 503 in OpenAI's error shape, a TCP reset before the
//! head or part-way through the body, or a stall (a pause before the head
//! of a JSON answer, between two events of a stream). Counters of what was
//! served are read back with `GET /__mock/chaos`.
//!
//! The draws come from a seeded xorshift generator, so one seed gives one
//! sequence of faults (their order among concurrent requests still depends
//! on arrival).

use std::time::Duration;

use serde_json::{Value, json};

use super::Recorded;
use super::canned::{OPENAI_TEXT_SSE, default_reply, error_body};
use super::reply::{Reply, Step, split_events};

/// The fault kinds, by the names the admin API uses.
pub(super) const KINDS: [&str; 8] = [
    "429",
    "500",
    "502",
    "503",
    "reset_before_head",
    "reset_mid",
    "stall",
    "stall_short",
];

/// The chaos settings and what they produced so far.
#[derive(Debug)]
pub(crate) struct Chaos {
    /// Probability of a fault per request, 0..=1.
    rate: f64,
    /// Relative weight of each of [`KINDS`].
    weights: [u64; KINDS.len()],
    /// How long a `stall` pauses; `stall_short` pauses a tenth of it.
    stall: Duration,
    /// Delay between the events of every default stream.
    pub(super) pace: Duration,
    /// Whether requests are kept for `GET /__mock/requests` (a long run
    /// turns this off, or the list grows without bound).
    pub(super) record: bool,
    rng: u64,
    served: u64,
    streams: u64,
    faults: [u64; KINDS.len()],
}

impl Chaos {
    /// From the admin body: `{"rate", "weights": {kind: n}?, "stall_ms"?,
    /// "pace_ms"?, "record"?, "seed"?}`; every kind weighs 1 unless given.
    pub(super) fn from_json(v: &Value) -> Result<Self, String> {
        let rate = v.get("rate").and_then(Value::as_f64).unwrap_or(0.0);
        if !(0.0..=1.0).contains(&rate) {
            return Err(format!("rate {rate} is not between 0 and 1"));
        }
        let mut weights = [1; KINDS.len()];
        if let Some(w) = v.get("weights").and_then(Value::as_object) {
            weights = [0; KINDS.len()];
            for (k, n) in w {
                let i = KINDS
                    .iter()
                    .position(|x| x == k)
                    .ok_or_else(|| format!("unknown fault kind {k:?} (known: {KINDS:?})"))?;
                if let Some(slot) = weights.get_mut(i) {
                    *slot = n
                        .as_u64()
                        .ok_or_else(|| format!("weight of {k} is not a count"))?;
                }
            }
        }
        if rate > 0.0 && weights.iter().sum::<u64>() == 0 {
            return Err("every fault weight is 0".into());
        }
        let ms = |name: &str, default: u64| {
            Duration::from_millis(v.get(name).and_then(Value::as_u64).unwrap_or(default))
        };
        Ok(Self {
            rate,
            weights,
            stall: ms("stall_ms", 5000),
            pace: ms("pace_ms", 0),
            record: v.get("record").and_then(Value::as_bool).unwrap_or(true),
            rng: v.get("seed").and_then(Value::as_u64).unwrap_or(1).max(1),
            served: 0,
            streams: 0,
            faults: [0; KINDS.len()],
        })
    }

    /// xorshift64*.
    fn next(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The reply for `rec`: a fault with probability `rate`, else its
    /// default answer.
    pub(super) fn reply(&mut self, rec: &Recorded) -> Reply {
        self.served += 1;
        let stream = rec
            .json()
            .get("stream")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if stream {
            self.streams += 1;
        }
        if self.rate <= 0.0 || self.unit() >= self.rate {
            return default_reply(rec, self.pace);
        }
        let total: u64 = self.weights.iter().sum();
        let mut pick = self.next() % total.max(1);
        let mut kind = 0;
        for (i, w) in self.weights.iter().enumerate() {
            if pick < *w {
                kind = i;
                break;
            }
            pick -= w;
        }
        if let Some(n) = self.faults.get_mut(kind) {
            *n += 1;
        }
        let name = KINDS.get(kind).copied().unwrap_or("500");
        let cut = self.next();
        self.fault(name, rec, stream, cut)
    }

    fn fault(&self, kind: &str, rec: &Recorded, stream: bool, cut: u64) -> Reply {
        let events = split_events(OPENAI_TEXT_SSE);
        // Cut or stall after 1..n-1 events: part of the stream was sent.
        let at = 1 + usize::try_from(cut % (events.len().max(2) as u64 - 1)).unwrap_or(0);
        let paced = |events: &[Vec<u8>], steps: &mut Vec<Step>| {
            for (i, e) in events.iter().enumerate() {
                if i > 0 && !self.pace.is_zero() {
                    steps.push(Step::Pause(self.pace));
                }
                steps.push(Step::Bytes(e.clone()));
            }
        };
        match kind {
            "429" | "500" | "502" | "503" => {
                let status = kind.parse().unwrap_or(500);
                Reply::raw(status, "application/json", error_body("openai", status))
            }
            "reset_before_head" => Reply::reset_before_head(),
            "reset_mid" if stream => {
                let mut steps = Vec::new();
                paced(events.get(..at).unwrap_or_default(), &mut steps);
                steps.push(Step::Reset);
                Reply::steps(200, "text/event-stream", steps)
            }
            "reset_mid" => {
                let body = default_reply(rec, self.pace);
                let bytes = match body.body {
                    super::MockBody::Bytes(b) => b,
                    _ => Vec::new(),
                };
                let half = bytes.get(..bytes.len() / 2).unwrap_or_default().to_vec();
                // A declared length the body never reaches, so the cut is
                // a broken body, not a short complete one.
                Reply::steps(
                    200,
                    "application/json",
                    vec![Step::Bytes(half), Step::Reset],
                )
                .header("content-length", &bytes.len().to_string())
            }
            "stall" | "stall_short" => {
                let d = if kind == "stall" {
                    self.stall
                } else {
                    self.stall / 10
                };
                if !stream {
                    return default_reply(rec, self.pace).delayed(d);
                }
                let mut steps = Vec::new();
                paced(events.get(..at).unwrap_or_default(), &mut steps);
                steps.push(Step::Pause(d));
                paced(events.get(at..).unwrap_or_default(), &mut steps);
                Reply::steps(200, "text/event-stream", steps)
            }
            _ => default_reply(rec, self.pace),
        }
    }

    /// What `GET /__mock/chaos` answers.
    pub(super) fn report(&self) -> Value {
        let faults: serde_json::Map<String, Value> = KINDS
            .iter()
            .zip(self.faults)
            .map(|(k, n)| ((*k).to_owned(), json!(n)))
            .collect();
        json!({
            "rate": self.rate, "served": self.served, "streams": self.streams,
            "faults": faults, "faults_total": self.faults.iter().sum::<u64>(),
            "stall_ms": self.stall.as_millis() as u64, "pace_ms": self.pace.as_millis() as u64,
            "record": self.record,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;
    use crate::mock::MockBody;

    fn rec(stream: bool) -> Recorded {
        Recorded {
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            headers: Vec::new(),
            body: json!({"model": "m", "stream": stream})
                .to_string()
                .into_bytes(),
            at: std::time::Instant::now(),
        }
    }

    #[test]
    fn chaos_rejects_bad_settings() {
        assert!(Chaos::from_json(&json!({"rate": 1.5})).is_err());
        assert!(Chaos::from_json(&json!({"rate": 0.1, "weights": {"nope": 1}})).is_err());
        assert!(Chaos::from_json(&json!({"rate": 0.1, "weights": {"429": 0}})).is_err());
    }

    #[test]
    fn chaos_rate_zero_answers_normally_and_one_always_faults() {
        let mut c = Chaos::from_json(&json!({"rate": 0})).unwrap();
        for _ in 0..50 {
            assert_eq!(c.reply(&rec(false)).status, 200);
        }
        let mut c =
            Chaos::from_json(&json!({"rate": 1, "weights": {"503": 1, "reset_mid": 1}})).unwrap();
        for _ in 0..50 {
            let r = c.reply(&rec(true));
            assert!(
                r.status == 503
                    || matches!(&r.body, MockBody::Steps(s) if s.last() == Some(&Step::Reset)),
                "{r:?}"
            );
        }
        let report = c.report();
        assert_eq!(report["served"], 50);
        assert_eq!(report["streams"], 50);
        assert_eq!(report["faults_total"], 50);
        assert_eq!(
            report["faults"]["503"].as_u64().unwrap()
                + report["faults"]["reset_mid"].as_u64().unwrap(),
            50
        );
    }

    #[test]
    fn chaos_faults_come_at_about_the_rate() {
        let mut c = Chaos::from_json(&json!({"rate": 0.05, "seed": 7})).unwrap();
        let faults = (0..10_000)
            .filter(|_| {
                let r = c.reply(&rec(false));
                r.status != 200 || !r.delay.is_zero() || !matches!(r.body, MockBody::Bytes(_))
            })
            .count();
        assert!((400..600).contains(&faults), "{faults}");
    }
}
