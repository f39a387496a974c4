//! What a call holds while it is in flight: its worst-case cost against
//! the budget and its worst-case tokens against the token rate limits.
//!
//! A hold is taken before the first upstream request. A success settles
//! it (the real cost is recorded first, then the reservation is given
//! back; the token hold becomes the tokens used); anything else releases
//! it: a failure, a cache hit, a stream dropped before its end. Every path
//! out of a call ends in one of the two, so nothing stays held.

use super::Gateway;
use super::cost::Reservation;
use super::ratelimit::{self, Subject, TokenHold};
use crate::error::Result;
use crate::ports::Kv;
use crate::types::Usage;

/// A call's reservations.
#[derive(Debug, Default)]
pub(crate) struct Hold {
    cost: Reservation,
    tokens: TokenHold,
}

impl Hold {
    pub fn set_tokens(&mut self, tokens: TokenHold) {
        self.tokens = tokens;
    }

    pub fn set_cost(&mut self, cost: Reservation) {
        self.cost = cost;
    }

    /// Give everything back (the call used nothing that is accounted).
    pub fn release(&mut self, gw: &Gateway, kv: &dyn Kv, now_ms: u64) {
        let Self { cost, tokens } = std::mem::take(self);
        if let Some(rl) = &gw.rate_limits {
            ratelimit::release_tokens(kv, rl, tokens, now_ms);
        }
        if let Some(c) = &gw.cost {
            c.release(kv, cost);
        }
    }

    /// Settle a success that used `usage` on `subject`: token limits and
    /// cost record what it used, then the reservation is given back.
    /// Returns the cost when the model is priced.
    pub fn settle(
        &mut self,
        gw: &Gateway,
        kv: &dyn Kv,
        subject: &Subject<'_>,
        usage: Option<&Usage>,
        now_ms: u64,
    ) -> Result<Option<u64>> {
        let Some(usage) = usage else {
            self.release(gw, kv, now_ms);
            return Ok(None);
        };
        let Self { cost, tokens } = std::mem::take(self);
        let limited = match &gw.rate_limits {
            Some(rl) => ratelimit::settle_tokens(kv, rl, subject, tokens, usage.total(), now_ms),
            None => Ok(()),
        };
        let recorded = match &gw.cost {
            Some(c) => {
                let r = c.record(kv, subject.model, usage);
                // Given back only once the cost is in the total. A cost the
                // store could not record stays reserved: the budget keeps
                // counting it (fail closed).
                if r.is_ok() {
                    c.release(kv, cost);
                }
                r.map(|cost| c.is_priced(subject.model).then_some(cost))
            }
            None => Ok(None),
        };
        limited?;
        recorded
    }
}
