"""What the gateway keeps in wasi:keyvalue -- the response cache, cost
totals and budget, rate limits -- through the Python key-value host. The
first version of the wrapper trapped on the first of these calls."""

from __future__ import annotations

import pytest

import ai_gateway as ag
from ai_gateway import prompt

CACHE = {"bucket": "default", "ttl-seconds": 60, "streams": True}
# micro-USD per million tokens: the mock's 12 in + 9 out cost 30 + 90 = 120.
PRICING = [{"model": "gpt-4o", "input": 2_500_000, "output": 10_000_000}]
MOCK_COST = 12 * 2_500_000 // 1_000_000 + 9 * 10_000_000 // 1_000_000


def test_cache_second_identical_run_is_a_hit(open_gateway, mock):
    gw = open_gateway(cache=CACHE)
    assert gw.is_cached("gpt-4o", prompt("cache me")) is False
    first = gw.run("gpt-4o", prompt("cache me"))
    second = gw.run("gpt-4o", prompt("cache me"))
    assert (first["cached"], second["cached"]) == (False, True)
    assert second["text"] == first["text"]
    assert second["attempts"] == []
    assert mock.hits() == 1
    assert gw.is_cached("gpt-4o", prompt("cache me")) is True
    # A different request is not the same entry.
    assert gw.is_cached("gpt-4o", prompt("something else")) is False
    assert any(bucket == "default" for bucket, _ in gw.kv.data)


def test_invalidate_removes_the_entry(open_gateway, mock):
    gw = open_gateway(cache=CACHE)
    gw.run("gpt-4o", prompt("x"))
    assert gw.invalidate("gpt-4o", prompt("x")) is True
    assert gw.invalidate("gpt-4o", prompt("x")) is False
    assert gw.is_cached("gpt-4o", prompt("x")) is False
    assert gw.run("gpt-4o", prompt("x"))["cached"] is False
    assert mock.hits() == 2


def test_cache_modes_bypass_and_refresh(open_gateway, mock):
    gw = open_gateway(cache=CACHE)
    gw.run("gpt-4o", prompt("x"))
    assert gw.run("gpt-4o", prompt("x"), {"cache": "bypass"})["cached"] is False
    assert gw.run("gpt-4o", prompt("x"), {"cache": "refresh"})["cached"] is False
    assert gw.run("gpt-4o", prompt("x"))["cached"] is True
    assert mock.hits() == 3


def test_stream_is_replayed_from_the_cache(open_gateway, mock):
    gw = open_gateway(cache=CACHE)
    first = list(gw.stream("gpt-4o", prompt("s")))
    replay = gw.stream("gpt-4o", prompt("s"))
    second = list(replay)
    text = lambda events: "".join(e["val"] for e in events if e["tag"] == "text")  # noqa: E731
    assert text(second) == text(first) != ""
    assert second[-1]["tag"] == "done" and second[-1]["val"]["cached"] is True
    assert replay.attempts() == []
    assert mock.hits() == 1


def test_cost_totals_equal_the_priced_usage(open_gateway, mock):
    gw = open_gateway(cost={"pricing": PRICING})
    assert gw.costs()["requests"] == 0
    out = gw.run("gpt-4o", prompt("a"))
    assert out["cost-micro-usd"] == MOCK_COST == 120
    gw.run("gpt-4o", prompt("b"))
    gw.run("gpt-unpriced", prompt("c"))
    totals = gw.costs()
    assert totals["requests"] == 3
    assert totals["cost-micro-usd"] == 2 * MOCK_COST
    assert totals["usage"]["input-tokens"] == 3 * 12
    assert [(m["model"], m["requests"], m["cost-micro-usd"]) for m in totals["by-model"]] == [
        ("gpt-4o", 2, 240), ("gpt-unpriced", 1, 0)]
    # The component's own price function agrees.
    assert gw.instance.price(PRICING[0], out["usage"]) == MOCK_COST
    gw.reset_costs()
    assert gw.costs()["cost-micro-usd"] == 0


def test_cost_totals_in_a_bucket_are_shared_by_instances(wasm, openai, mock):
    kv = ag.DictKeyValue()
    config = {"providers": [openai], "default-provider": "openai",
              "cost": {"pricing": PRICING, "bucket": "default", "key-prefix": "py"}}
    a = ag.Gateway.open(wasm, config, kv)
    b = ag.Gateway.open(wasm, config, kv)
    a.run("gpt-4o", prompt("a"))
    b.run("gpt-4o", prompt("b"))
    assert a.costs()["cost-micro-usd"] == b.costs()["cost-micro-usd"] == 2 * MOCK_COST
    assert kv.calls.get("increment", 0) > 0
    assert any(key.startswith("py") for _, key in kv.data)


def test_costs_without_cost_config_is_validation(open_gateway):
    with pytest.raises(ag.ValidationError):
        open_gateway().costs()


def test_budget_reserves_the_worst_case_and_instance_stays_usable(open_gateway, mock):
    # A one-byte prompt with max-tokens 9 reserves its worst case before it
    # is sent, (1 + 48) * 2.5 + 9 * 10 = 213 micro-USD, and costs 120.
    gw = open_gateway(cost={"pricing": PRICING, "budget-micro-usd": 332})
    opts: ag.RunOptions = {"max-tokens": 9}
    assert gw.budget() == {"spent-micro-usd": 0, "budget-micro-usd": 332, "remaining-micro-usd": 332, "exceeded": False}
    gw.run("gpt-4o", prompt("a"), opts)
    assert gw.budget() == {"spent-micro-usd": 120, "budget-micro-usd": 332, "remaining-micro-usd": 212, "exceeded": False}
    with pytest.raises(ag.BudgetExceeded) as e:
        gw.run("gpt-4o", prompt("b"), opts)  # 120 + 213 would pass 332
    assert e.value.detail == {"spent-micro-usd": 120, "budget-micro-usd": 332}
    assert mock.hits() == 1
    gw.reset_costs()
    assert gw.run("gpt-4o", prompt("c"), opts)["text"]


def test_gateway_rate_limit_is_a_typed_error_not_a_trap(open_gateway, mock):
    limits = {"bucket": "default", "limits": [
        {"name": "per-caller", "scope": "caller", "window-seconds": 60, "max-requests": 2}]}
    gw = open_gateway(rate_limits=limits)
    alice = {"caller": "alice"}
    gw.run("gpt-4o", prompt("1"), alice)
    gw.run("gpt-4o", prompt("2"), alice)
    with pytest.raises(ag.RateLimited) as e:
        gw.run("gpt-4o", prompt("3"), alice)
    assert e.value.detail["code"] == "gateway_rate_limit"
    assert 0 < e.value.retry_after_ms <= 60_000
    assert e.value.status is None  # refused by the gateway, not the provider
    assert mock.hits() == 2
    # Not a trap: the instance goes on, and another caller has its own counter.
    assert gw.run("gpt-4o", prompt("4"), {"caller": "bob"})["text"]
    with pytest.raises(ag.RateLimited):
        gw.stream("gpt-4o", prompt("5"), alice)
    assert gw.providers() == ["openai"]


class FailingKeyValue(ag.DictKeyValue):
    def _get(self, store, handle, key):
        self._borrowed(store, handle)
        raise OSError("disk on fire")


def test_a_failing_store_is_an_internal_error_not_a_trap(wasm, openai, mock):
    cost = {"pricing": PRICING, "bucket": "default"}
    kv = FailingKeyValue()
    gw = ag.Gateway.open(wasm, {"providers": [openai], "default-provider": "openai", "cost": cost, "cache": CACHE}, kv)
    gw.run("gpt-4o", prompt("x"))  # counted with `increment`, which works
    # Totals are read with `get`: its failure reaches the caller as a value.
    with pytest.raises(ag.InternalError) as e:
        gw.costs()
    assert "disk on fire" in str(e.value)
    assert kv.calls["get"] >= 1
    # The cache is best-effort: a failed read is a miss, not an error.
    assert gw.is_cached("gpt-4o", prompt("x")) is False
    assert gw.providers() == ["openai"]
