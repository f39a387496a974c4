//! Cost and budget tracking (seed `createCostTracker`), in integer micro-USD.
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
mod tests {
    use super::*;
    use crate::testing::MemKv;

    fn sonnet() -> ModelPricing {
        // $3 / $15 per million; cache write 1.25x, cache read 0.1x.
        ModelPricing {
            model: "claude-sonnet-4-6".into(),
            input: 3_000_000,
            output: 15_000_000,
            cache_read: Some(300_000),
            cache_write: Some(3_750_000),
            reasoning: None,
        }
    }

    fn o3() -> ModelPricing {
        // $2 / $8, cached input $0.50; reasoning billed as output.
        ModelPricing {
            model: "o3".into(),
            input: 2_000_000,
            output: 8_000_000,
            cache_read: Some(500_000),
            cache_write: None,
            reasoning: None,
        }
    }

    /// Hand-computed table: (pricing, usage, expected micro-USD).
    #[test]
    fn price_matches_hand_computed_table() {
        let cases: Vec<(ModelPricing, Usage, u64)> = vec![
            // 1000 in * $3/M = 3000 µ$; 500 out * $15/M = 7500 µ$.
            (
                sonnet(),
                Usage {
                    input_tokens: 1000,
                    output_tokens: 500,
                    ..Usage::default()
                },
                10_500,
            ),
            // Anthropic with caching: input 377 + read 10_000 + write 2_000 = 12_377 in.
            // 377*3 = 1131; 10_000*0.3 = 3000; 2000*3.75 = 7500; 65*15 = 975 → 12_606.
            (
                sonnet(),
                Usage {
                    input_tokens: 12_377,
                    output_tokens: 65,
                    cache_read_tokens: 10_000,
                    cache_write_tokens: 2_000,
                    reasoning_tokens: 0,
                },
                12_606,
            ),
            // OpenAI o3: 2000 prompt incl. 1024 cached; 300 completion incl. 200 reasoning.
            // 976*2 = 1952; 1024*0.5 = 512; 300*8 = 2400 → 4864.
            (
                o3(),
                Usage {
                    input_tokens: 2000,
                    output_tokens: 300,
                    cache_read_tokens: 1024,
                    cache_write_tokens: 0,
                    reasoning_tokens: 200,
                },
                4_864,
            ),
            // One token at $3/M is 3 µ$; at $0.10/M it is 0.1 µ$ → rounds up to 1.
            (
                sonnet(),
                Usage {
                    input_tokens: 1,
                    ..Usage::default()
                },
                3,
            ),
            (
                ModelPricing {
                    model: "cheap".into(),
                    input: 100_000,
                    output: 0,
                    cache_read: None,
                    cache_write: None,
                    reasoning: None,
                },
                Usage {
                    input_tokens: 1,
                    ..Usage::default()
                },
                1,
            ),
        ];
        for (p, u, want) in cases {
            assert_eq!(price(&p, &u), want, "{} {u:?}", p.model);
        }
    }

    #[test]
    fn price_separate_reasoning_rate_applies_to_reasoning_only() {
        let p = ModelPricing {
            reasoning: Some(20_000_000),
            ..o3()
        };
        // 100 plain output * 8 = 800; 200 reasoning * 20 = 4000.
        let u = Usage {
            output_tokens: 300,
            reasoning_tokens: 200,
            ..Usage::default()
        };
        assert_eq!(price(&p, &u), 4_800);
    }

    #[test]
    fn price_huge_usage_saturates_instead_of_overflowing() {
        let u = Usage {
            input_tokens: u64::MAX,
            output_tokens: u64::MAX,
            ..Usage::default()
        };
        assert_eq!(price(&sonnet(), &u), u64::MAX);
    }

    fn tracker(bucket: Option<&str>, budget: Option<u64>) -> CostTracker {
        CostTracker::new(CostConfig {
            pricing: vec![sonnet(), o3()],
            budget_micro_usd: budget,
            bucket: bucket.map(str::to_owned),
            key_prefix: None,
        })
        .unwrap()
    }

    #[test]
    fn tracker_memory_and_kv_give_same_totals() {
        let kv = MemKv::default();
        let u1 = Usage {
            input_tokens: 1000,
            output_tokens: 500,
            ..Usage::default()
        };
        let u2 = Usage {
            input_tokens: 2000,
            output_tokens: 300,
            cache_read_tokens: 1024,
            cache_write_tokens: 0,
            reasoning_tokens: 200,
        };
        for t in [tracker(None, None), tracker(Some("b"), None)] {
            assert_eq!(t.record(&kv, "claude-sonnet-4-6", &u1).unwrap(), 10_500);
            assert_eq!(t.record(&kv, "o3", &u2).unwrap(), 4_864);
            assert_eq!(t.record(&kv, "unpriced", &u1).unwrap(), 0);
            let tot = t.totals(&kv).unwrap();
            assert_eq!(tot.requests, 3);
            assert_eq!(tot.cost_micro_usd, 15_364);
            assert_eq!(tot.usage.input_tokens, 4000);
            assert_eq!(tot.by_model["o3"].usage.reasoning_tokens, 200);
            assert_eq!(tot.by_model.len(), 3);
            t.reset(&kv).unwrap();
            assert_eq!(t.totals(&kv).unwrap(), CostTotals::default());
        }
    }

    #[test]
    fn tracker_budget_refuses_once_spent() {
        let kv = MemKv::default();
        let t = tracker(Some("b"), Some(20_000));
        let u = Usage {
            input_tokens: 1000,
            output_tokens: 500,
            ..Usage::default()
        };
        t.check_budget(&kv).unwrap();
        t.record(&kv, "claude-sonnet-4-6", &u).unwrap();
        t.check_budget(&kv).unwrap();
        t.record(&kv, "claude-sonnet-4-6", &u).unwrap();
        let e = t.check_budget(&kv).unwrap_err();
        assert_eq!(
            e,
            GatewayError::BudgetExceeded {
                spent_micro_usd: 21_000,
                budget_micro_usd: 20_000
            }
        );
        let s = t.budget_status(&kv, 20_000).unwrap();
        assert!(s.exceeded);
        assert_eq!(s.remaining_micro_usd, 0);
    }

    #[test]
    fn worst_case_prices_every_token_at_its_highest_price() {
        let t = tracker(None, None);
        // 1000 in at max($3, $0.30, $3.75) = 3750; 100 out at $15 = 1500.
        assert_eq!(t.worst_case("claude-sonnet-4-6", 1000, 100), 5_250);
        assert_eq!(t.worst_case("unpriced", 1000, 100), 0);
    }

    /// Reservations in memory and in a bucket: a call fits only when
    /// spent + reserved (itself included) stays within the budget, and a
    /// release gives the room back.
    #[test]
    fn reservations_refuse_what_would_pass_the_budget() {
        for bucket in [None, Some("b")] {
            let kv = MemKv::default();
            let t = tracker(bucket, Some(10_000));
            let a = t.reserve(&kv, 6_000).unwrap();
            assert_eq!(t.reserved(&kv).unwrap(), 6_000);
            let e = t.reserve(&kv, 4_001).unwrap_err();
            assert_eq!(
                e,
                GatewayError::BudgetExceeded {
                    spent_micro_usd: 0,
                    budget_micro_usd: 10_000
                }
            );
            assert_eq!(t.reserved(&kv).unwrap(), 6_000, "a refusal holds nothing");
            let b = t.reserve(&kv, 4_000).unwrap();
            // Settle `a` at its real cost: record first, then release.
            let u = Usage {
                input_tokens: 1000,
                output_tokens: 100,
                ..Usage::default()
            };
            assert_eq!(t.record(&kv, "claude-sonnet-4-6", &u).unwrap(), 4_500);
            t.release(&kv, a);
            assert_eq!(t.reserved(&kv).unwrap(), 4_000);
            // 4500 spent + 4000 held: 1500 left.
            assert!(t.reserve(&kv, 1_501).is_err());
            let c = t.reserve(&kv, 1_500).unwrap();
            t.release(&kv, b);
            t.release(&kv, c);
            assert_eq!(t.reserved(&kv).unwrap(), 0);
            // The reserved counter survives a reset of the totals.
            let d = t.reserve(&kv, 100).unwrap();
            t.reset(&kv).unwrap();
            assert_eq!(t.reserved(&kv).unwrap(), 100);
            t.release(&kv, d);
            assert_eq!(t.spent(&kv).unwrap(), 0);
        }
    }

    #[test]
    fn reservations_of_nothing_still_refuse_a_spent_budget() {
        let kv = MemKv::default();
        let t = tracker(Some("b"), Some(20_000));
        let _ = t.reserve(&kv, 0).unwrap();
        let u = Usage {
            input_tokens: 7000,
            ..Usage::default()
        };
        t.record(&kv, "claude-sonnet-4-6", &u).unwrap();
        assert!(t.reserve(&kv, 0).is_err(), "21000 of 20000 spent");
        // Without a budget nothing is held.
        let free = tracker(Some("b"), None);
        assert_eq!(free.reserve(&kv, 5).unwrap().micro_usd(), 0);
    }

    #[test]
    fn read_counter_accepts_decimal_and_le_bytes() {
        let kv = MemKv::default();
        kv.set("b", "a", b"42").unwrap();
        kv.set("b", "c", &7i64.to_le_bytes()).unwrap();
        kv.set("b", "d", b"garbage!!").unwrap();
        assert_eq!(read_counter(&kv, "b", "a").unwrap(), 42);
        assert_eq!(read_counter(&kv, "b", "c").unwrap(), 7);
        assert_eq!(read_counter(&kv, "b", "missing").unwrap(), 0);
        assert!(read_counter(&kv, "b", "d").is_err());
    }
}
