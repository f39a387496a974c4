//! Cost tracker tests: prices, totals, budgets and reservations.

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
