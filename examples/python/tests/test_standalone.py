"""The component's other exports -- router, cost tracker, allowlist -- and
the standalone allowlist component."""

from __future__ import annotations

import pytest

import ai_gateway as ag


@pytest.fixture(scope="module")
def instance(wasm):
    return ag.Instance(wasm)


def test_router_first_match_then_fallback(instance):
    with instance.create_router({"routes": [{"pattern": "claude-*", "provider": "anthropic"},
                                            {"pattern": "gpt-?o", "provider": "openai"}],
                                 "fallback": "workers-ai"}) as router:
        assert router.resolve("claude-sonnet-4-6") == "anthropic"
        assert router.resolve("gpt-4o") == "openai"
        assert router.resolve("gpt-4o-mini") == "workers-ai"
    assert instance.create_router({"routes": []}).resolve("x") is None
    with pytest.raises(ag.ValidationError):
        instance.create_router({"routes": [{"pattern": "", "provider": "p"}]})


def test_tracker_totals_budget_and_reset(instance):
    pricing = [{"model": "m", "input": 1_000_000, "output": 2_000_000, "cache-read": 100_000}]
    with instance.open_tracker({"pricing": pricing}) as tracker:
        assert tracker.record_usage("m", ag.usage(10, 5)) == 20
        assert tracker.record_usage("m", ag.usage(100, 0, cache_read_tokens=100)) == 10
        assert tracker.record_usage("other", ag.usage(1000, 1000)) == 0
        totals = tracker.totals()
        assert (totals["requests"], totals["cost-micro-usd"]) == (3, 30)
        assert totals["usage"]["input-tokens"] == 1110
        assert [(m["model"], m["requests"]) for m in totals["by-model"]] == [("m", 2), ("other", 1)]
        assert tracker.check_budget(25) == {"spent-micro-usd": 30, "budget-micro-usd": 25,
                                            "remaining-micro-usd": 0, "exceeded": True}
        assert tracker.check_budget(100)["remaining-micro-usd"] == 70
        tracker.reset()
        assert tracker.totals()["requests"] == 0


def test_tracker_in_a_bucket_uses_the_key_value_store(wasm):
    kv = ag.DictKeyValue()
    config = {"pricing": [{"model": "m", "input": 1_000_000, "output": 1_000_000}], "bucket": "costs"}
    a = ag.Instance(wasm, kv).open_tracker(config)
    b = ag.Instance(wasm, kv).open_tracker(config)
    a.record_usage("m", ag.usage(3, 4))
    b.record_usage("m", ag.usage(3, 4))
    assert a.totals()["cost-micro-usd"] == b.totals()["cost-micro-usd"] == 14
    assert {bucket for bucket, _ in kv.data} == {"costs"}


def test_price_rounds_up_to_whole_micro_usd(instance):
    pricing = {"model": "m", "input": 1, "output": 1}
    assert instance.price(pricing, ag.usage(1, 0)) == 1
    assert instance.price(pricing, ag.usage(0, 0)) == 0
    assert instance.price({"model": "m", "input": 3_000_000, "output": 15_000_000, "reasoning": 1_000_000},
                          ag.usage(1000, 1000, reasoning_tokens=500)) == 3000 + 7500 + 500


ALLOW = [{"provider": "openai", "models": [{"tag": "prefix", "val": "gpt-4"}, {"tag": "exact", "val": "o3"}]},
         {"provider": "none-allowed"}]


@pytest.mark.parametrize("provider, model, allowed", [
    ("openai", "gpt-4o", True), ("openai", "o3", True), ("openai", "o3-mini", False),
    ("openai", "gpt-3.5", False), ("none-allowed", "x", False), ("unlisted", "gpt-4o", False),
])
def test_allowlist_in_the_gateway_and_alone(instance, allowlist_wasm, provider, model, allowed):
    alone = ag.Instance(allowlist_wasm)
    assert instance.is_allowed_model(ALLOW, provider, model) is allowed
    assert alone.is_allowed_model(ALLOW, provider, model) is allowed
    with alone.create_model_allowlist(ALLOW) as allowlist:
        assert allowlist.is_allowed(provider, model) is allowed


def test_allowlist_component_has_no_gateway(allowlist_wasm):
    with pytest.raises(LookupError, match="exports no"):
        ag.Instance(allowlist_wasm).open_gateway({"providers": []})


def test_gateway_allowlist_refuses_with_model_not_allowed(open_gateway, mock):
    gw = open_gateway(allowlist=ALLOW)
    assert gw.run("gpt-4o", ag.prompt("ok"))["text"]
    with pytest.raises(ag.ModelNotAllowed) as e:
        gw.run("o3-mini", ag.prompt("no"))
    assert e.value.detail == {"provider": "openai", "model": "o3-mini"}
    assert mock.hits() == 1
