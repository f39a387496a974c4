//! Cost and budget tracking, in integer micro-USD.
//!
//! Pricing is per million tokens. Usage is normalized so that cache reads
//! and writes are a subset of `input_tokens` and reasoning a subset of
//! `output_tokens` (see WIT `usage`), so each token is priced exactly once:
//!
//! ```text
//! cost = (input - cache_read - cache_write) * input_price
//!      + cache_read  * (cache_read_price  or input_price)
//!      + cache_write * (cache_write_price or input_price)
//!      + (output - reasoning) * output_price
//!      + reasoning * (reasoning_price or output_price)
//! ```
//! divided by 1,000,000 and rounded up to a whole micro-USD.
//!
//! Totals live in the instance's memory, or in a key-value bucket with one
//! atomic counter per (field, model) plus overall counters, so every
//! instance sharing the store sees one exact total.
//!
//! With a budget, a call is admitted only by a reservation: its worst-case
//! cost is added to one `reserved` counter before the call, and the call is
//! refused when what is spent plus everything reserved would pass the
//! budget. A success records its real cost and only then gives the
//! reservation back, so at every instant `spent + reserved` is at least
//! what the calls admitted so far will cost: concurrent calls, in one
//! instance or many sharing the store, cannot overshoot the budget.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use crate::config::{CostConfig, ModelPricing};
use crate::error::{GatewayError, Result};
use crate::ports::Kv;
use crate::types::Usage;

/// The price of `usage` at `pricing`, micro-USD, rounded up.
pub fn price(pricing: &ModelPricing, usage: &Usage) -> u64 {
    let u = |x: u64| u128::from(x);
    let uncached = usage
        .input_tokens
        .saturating_sub(usage.cache_read_tokens)
        .saturating_sub(usage.cache_write_tokens);
    let plain_output = usage.output_tokens.saturating_sub(usage.reasoning_tokens);
    let numerator = u(uncached) * u(pricing.input)
        + u(usage.cache_read_tokens) * u(pricing.cache_read.unwrap_or(pricing.input))
        + u(usage.cache_write_tokens) * u(pricing.cache_write.unwrap_or(pricing.input))
        + u(plain_output) * u(pricing.output)
        + u(usage.reasoning_tokens) * u(pricing.reasoning.unwrap_or(pricing.output));
    let micro = numerator.div_ceil(1_000_000);
    u64::try_from(micro).unwrap_or(u64::MAX)
}

/// Totals for one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModelTotals {
    pub requests: u64,
    pub usage: Usage,
    pub cost_micro_usd: u64,
}

/// Totals overall and per model (sorted by model name).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CostTotals {
    pub requests: u64,
    pub usage: Usage,
    pub cost_micro_usd: u64,
    pub by_model: BTreeMap<String, ModelTotals>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetStatus {
    pub spent_micro_usd: u64,
    pub budget_micro_usd: u64,
    pub remaining_micro_usd: u64,
    pub exceeded: bool,
}

impl BudgetStatus {
    pub fn new(spent: u64, budget: u64) -> Self {
        Self {
            spent_micro_usd: spent,
            budget_micro_usd: budget,
            remaining_micro_usd: budget.saturating_sub(spent),
            exceeded: spent >= budget,
        }
    }
}

const FIELDS: [&str; 7] = [
    "requests",
    "input",
    "output",
    "cache_read",
    "cache_write",
    "reasoning",
    "cost",
];

/// Micro-USD a call holds against the budget until it settles. Give it
/// back with [`CostTracker::release`], after recording the real cost.
#[derive(Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct Reservation {
    micro_usd: u64,
}

impl Reservation {
    pub fn micro_usd(&self) -> u64 {
        self.micro_usd
    }
}

/// A cost tracker over memory or a key-value bucket.
#[derive(Debug)]
pub struct CostTracker {
    config: CostConfig,
    memory: RefCell<CostTotals>,
    /// Reserved micro-USD of calls in flight (memory mode).
    reserved: Cell<u64>,
}

impl CostTracker {
    pub fn new(config: CostConfig) -> Result<Self> {
        if let Some(b) = &config.bucket
            && b.is_empty()
        {
            return Err(GatewayError::validation("cost bucket name is empty"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for p in &config.pricing {
            if !seen.insert(p.model.as_str()) {
                return Err(GatewayError::validation(format!(
                    "pricing lists model {:?} twice",
                    p.model
                )));
            }
        }
        Ok(Self {
            config,
            memory: RefCell::new(CostTotals::default()),
            reserved: Cell::new(0),
        })
    }

    pub fn config(&self) -> &CostConfig {
        &self.config
    }

    /// The cost of `usage` on `model` (0 when the model has no price).
    pub fn cost_of(&self, model: &str, usage: &Usage) -> u64 {
        self.config
            .pricing
            .iter()
            .find(|p| p.model == model)
            .map_or(0, |p| price(p, usage))
    }

    /// Whether `model` has a configured price.
    pub fn is_priced(&self, model: &str) -> bool {
        self.config.pricing.iter().any(|p| p.model == model)
    }

    fn prefix(&self) -> &str {
        self.config.key_prefix.as_deref().unwrap_or("aigw:cost")
    }

    fn key(&self, field: &str, model: Option<&str>) -> String {
        match model {
            Some(m) => format!("{}:m:{field}:{m}", self.prefix()),
            None => format!("{}:total:{field}", self.prefix()),
        }
    }

    /// Record one call; returns its cost.
    pub fn record(&self, kv: &dyn Kv, model: &str, usage: &Usage) -> Result<u64> {
        let cost = self.cost_of(model, usage);
        let values = [
            1,
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
            usage.reasoning_tokens,
            cost,
        ];
        match &self.config.bucket {
            None => {
                let mut m = self.memory.borrow_mut();
                let entry = m.by_model.entry(model.to_owned()).or_default();
                entry.requests = entry.requests.saturating_add(1);
                entry.usage.add(usage);
                entry.cost_micro_usd = entry.cost_micro_usd.saturating_add(cost);
                m.requests = m.requests.saturating_add(1);
                m.usage.add(usage);
                m.cost_micro_usd = m.cost_micro_usd.saturating_add(cost);
            }
            Some(bucket) => {
                for (field, v) in FIELDS.iter().zip(values) {
                    if v == 0 && *field != "requests" {
                        continue;
                    }
                    let delta = i64::try_from(v).unwrap_or(i64::MAX);
                    kv.increment(bucket, &self.key(field, Some(model)), delta)?;
                    if matches!(*field, "requests" | "cost") {
                        kv.increment(bucket, &self.key(field, None), delta)?;
                    }
                }
            }
        }
        Ok(cost)
    }

    /// Total micro-USD spent (one key read when persisted).
    pub fn spent(&self, kv: &dyn Kv) -> Result<u64> {
        match &self.config.bucket {
            None => Ok(self.memory.borrow().cost_micro_usd),
            Some(bucket) => Ok(read_counter(kv, bucket, &self.key("cost", None))?),
        }
    }

    pub fn budget_status(&self, kv: &dyn Kv, budget: u64) -> Result<BudgetStatus> {
        Ok(BudgetStatus::new(self.spent(kv)?, budget))
    }

    /// The most `input` and `output` tokens can cost on `model`: every
    /// input token at the highest input price (plain, cache read or cache
    /// write), every output token at the higher of output and reasoning.
    pub fn worst_case(&self, model: &str, input: u64, output: u64) -> u64 {
        let Some(p) = self.config.pricing.iter().find(|p| p.model == model) else {
            return 0;
        };
        let in_price = p
            .input
            .max(p.cache_read.unwrap_or(0))
            .max(p.cache_write.unwrap_or(0));
        let out_price = p.output.max(p.reasoning.unwrap_or(0));
        let numerator =
            u128::from(input) * u128::from(in_price) + u128::from(output) * u128::from(out_price);
        u64::try_from(numerator.div_ceil(1_000_000)).unwrap_or(u64::MAX)
    }

    /// Whether calls must reserve before they are sent (a budget is set).
    pub fn reserves(&self) -> bool {
        self.config.budget_micro_usd.is_some()
    }

    /// Reserve `amount` micro-USD for a call. Refused with
    /// `budget-exceeded` when the budget is spent, or when what is spent
    /// plus everything reserved, this call included, would pass it. Without
    /// a budget nothing is reserved.
    pub fn reserve(&self, kv: &dyn Kv, amount: u64) -> Result<Reservation> {
        let Some(budget) = self.config.budget_micro_usd else {
            return Ok(Reservation::default());
        };
        let delta = i64::try_from(amount).unwrap_or(i64::MAX);
        let reserved = match (&self.config.bucket, amount) {
            (_, 0) => 0,
            (None, _) => {
                let r = self.reserved.get().saturating_add(amount);
                self.reserved.set(r);
                r
            }
            (Some(bucket), _) => {
                let r = kv.increment(bucket, &self.reserved_key(), delta)?;
                u64::try_from(r).unwrap_or(0)
            }
        };
        let held = Reservation { micro_usd: amount };
        let spent = match self.spent(kv) {
            Ok(s) => s,
            Err(e) => {
                self.release(kv, held);
                return Err(e);
            }
        };
        if spent >= budget || spent.saturating_add(reserved) > budget {
            self.release(kv, held);
            return Err(GatewayError::BudgetExceeded {
                spent_micro_usd: spent,
                budget_micro_usd: budget,
            });
        }
        Ok(held)
    }

    /// Give a reservation back. Best effort: if the store fails, the
    /// reservation stays held and the budget only gets stricter.
    pub fn release(&self, kv: &dyn Kv, r: Reservation) {
        if r.micro_usd == 0 {
            return;
        }
        match &self.config.bucket {
            None => self
                .reserved
                .set(self.reserved.get().saturating_sub(r.micro_usd)),
            Some(bucket) => {
                let delta = i64::try_from(r.micro_usd).unwrap_or(i64::MAX);
                let _ = kv.increment(bucket, &self.reserved_key(), -delta);
            }
        }
    }

    /// Micro-USD reserved by calls in flight.
    pub fn reserved(&self, kv: &dyn Kv) -> Result<u64> {
        match &self.config.bucket {
            None => Ok(self.reserved.get()),
            Some(bucket) => read_counter(kv, bucket, &self.reserved_key()),
        }
    }

    fn reserved_key(&self) -> String {
        format!("{}:reserved", self.prefix())
    }

    /// Refuse a call once the configured budget is spent.
    pub fn check_budget(&self, kv: &dyn Kv) -> Result<()> {
        if let Some(budget) = self.config.budget_micro_usd {
            let spent = self.spent(kv)?;
            if spent >= budget {
                return Err(GatewayError::BudgetExceeded {
                    spent_micro_usd: spent,
                    budget_micro_usd: budget,
                });
            }
        }
        Ok(())
    }

    pub fn totals(&self, kv: &dyn Kv) -> Result<CostTotals> {
        let Some(bucket) = &self.config.bucket else {
            return Ok(self.memory.borrow().clone());
        };
        let mut totals = CostTotals::default();
        let marker = format!("{}:m:requests:", self.prefix());
        for key in kv.keys_with_prefix(bucket, &marker)? {
            let Some(model) = key.strip_prefix(&marker) else {
                continue;
            };
            let get = |f: &str| read_counter(kv, bucket, &self.key(f, Some(model)));
            let mt = ModelTotals {
                requests: get("requests")?,
                usage: Usage {
                    input_tokens: get("input")?,
                    output_tokens: get("output")?,
                    cache_read_tokens: get("cache_read")?,
                    cache_write_tokens: get("cache_write")?,
                    reasoning_tokens: get("reasoning")?,
                },
                cost_micro_usd: get("cost")?,
            };
            totals.requests = totals.requests.saturating_add(mt.requests);
            totals.usage.add(&mt.usage);
            totals.cost_micro_usd = totals.cost_micro_usd.saturating_add(mt.cost_micro_usd);
            totals.by_model.insert(model.to_owned(), mt);
        }
        Ok(totals)
    }

    pub fn reset(&self, kv: &dyn Kv) -> Result<()> {
        match &self.config.bucket {
            None => *self.memory.borrow_mut() = CostTotals::default(),
            Some(bucket) => {
                // Reservations belong to calls in flight, which give them
                // back when they end: the counter survives a reset.
                let reserved = self.reserved_key();
                for key in kv.keys_with_prefix(bucket, &format!("{}:", self.prefix()))? {
                    if key != reserved {
                        kv.delete(bucket, &key)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A counter written by `increment`: hosts store it as a decimal string
/// (Spin, our wasmtime host) or as 8 little-endian bytes; both are read.
pub fn read_counter(kv: &dyn Kv, bucket: &str, key: &str) -> Result<u64> {
    let Some(bytes) = kv.get(bucket, key)? else {
        return Ok(0);
    };
    if let Some(v) = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
    {
        return Ok(u64::try_from(v).unwrap_or(0));
    }
    if let Ok(arr) = <[u8; 8]>::try_from(bytes.as_slice()) {
        return Ok(u64::try_from(i64::from_le_bytes(arr)).unwrap_or(0));
    }
    Err(GatewayError::internal(format!(
        "cost counter {key:?} holds an unreadable value"
    )))
}

#[cfg(test)]
mod tests;
