"""The gateway resource against the mock upstream: run, stream (with its
trace and attempts), tools, embeddings, provider resolution, run-fallback's
checks, and typed errors."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

import ai_gateway as ag
from ai_gateway import messages, prompt, tool

MOCK_TEXT = "Hello! I am the ai-gateway mock upstream."
LOGGING = {"level": "debug", "stderr": False, "include-prompts": True}


def test_same_component_as_every_host(wasm):
    with open(wasm, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == os.environ["EXPECTED_SHA256"]


def test_run_sends_the_options_and_returns_typed_output(open_gateway, mock):
    gw = open_gateway()
    out = gw.run("gpt-4o", messages(("system", "Be brief."), ("user", "Hello")), {"max-tokens": 50, "temperature": 0})
    assert out["text"] == MOCK_TEXT
    assert out["provider"] == "openai"
    assert out["usage"]["output-tokens"] == 9
    assert out["finish-reason"] == {"tag": "stop", "val": None}
    assert out["cached"] is False
    assert [(a["provider"], a["status"], a["error"]) for a in out["attempts"]] == [("openai", 200, None)]
    [req] = mock.requests()
    body = json.loads(req["body"])
    assert body["max_tokens"] == 50 and body["temperature"] == 0.0
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert dict(req["headers"])["authorization"] == "Bearer sk-python"


def test_run_trace_when_logging_is_configured(open_gateway, mock):
    out = open_gateway(logging=LOGGING).run("gpt-4o", prompt("traced"))
    assert [r["event"] for r in out["trace"]] == ["request", "response"]
    assert "traced" in out["trace"][0]["prompt"]
    assert out["trace"][1]["usage"]["input-tokens"] == 12


def test_stream_events_trace_and_attempts(open_gateway, mock):
    gw = open_gateway(logging=LOGGING)
    stream = gw.stream("gpt-4o", prompt("stream"))
    events = list(stream)
    text = "".join(e["val"] for e in events if e["tag"] == "text")
    assert text == '{"city":"San Francisco","temperature":61,"units":"f"}'
    assert [e["tag"] for e in events if e["tag"] in ("done", "error")] == ["done"]
    assert events[-1]["val"]["usage"]["input-tokens"] == 79
    # The terminal event closed the stream; trace and attempts stay readable.
    assert stream.closed
    assert [(a["provider"], a["model"], a["status"]) for a in stream.attempts()] == [("openai", "gpt-4o", 200)]
    assert [r["event"] for r in stream.trace()] == ["request", "response"]
    assert list(stream) == []


def test_stream_closed_early_cancels_and_instance_stays_usable(open_gateway, mock):
    gw = open_gateway()
    with gw.stream("gpt-4o", prompt("stream")) as stream:
        first = next(stream)
        assert first["tag"] == "text"
    assert stream.closed
    with pytest.raises(ValueError, match="closed"):
        stream.trace()
    assert gw.run("gpt-4o", prompt("after"))["text"] == MOCK_TEXT


def test_stream_try_next_reaches_the_terminal_event(open_gateway, mock):
    stream = open_gateway().stream("gpt-4o", prompt("stream"))
    tags = []
    for _ in range(10_000):
        polled = stream.try_next()
        if polled["tag"] == "finished":
            break
        if polled["tag"] == "ready":
            tags.append(polled["val"]["tag"])
    assert tags[-1] == "done" and "text" in tags
    assert stream.closed


def test_stream_failing_before_first_event_raises(open_gateway, mock):
    mock.reply(401, {"error": {"message": "bad key", "type": "invalid_api_key"}})
    with pytest.raises(ag.AuthError) as e:
        open_gateway().stream("gpt-4o", prompt("x"))
    assert e.value.status == 401


def test_tools(open_gateway, mock):
    reply = {"model": "gpt-4o", "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_7", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\": \"Oslo\"}"}}]},
        "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 5, "completion_tokens": 5}}
    mock.reply(200, reply)
    weather = tool("get_weather", "Weather by place", '{"type":"object","properties":{"location":{"type":"string"}}}')
    out = open_gateway().run("gpt-4o", prompt("weather in Oslo?"), {"tools": [weather], "tool-choice": "auto"})
    assert out["tool-calls"] == [{"id": "call_7", "name": "get_weather", "arguments": '{"location":"Oslo"}', "raw-arguments": None}]
    assert out["finish-reason"]["tag"] == "tool-calls"
    body = json.loads(mock.requests()[0]["body"])
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert body["tool_choice"] == "auto"


def test_embed(open_gateway, mock):
    out = open_gateway().embed("text-embedding-3-small", ["a", "b"], {"dimensions": 3})
    assert out["embeddings"] == [[0.0, 0.5, -0.25], [1.0, 0.5, -0.25]]
    assert (out["provider"], out["model"], out["usage"]["input-tokens"]) == ("openai", "text-embedding-3-small", 6)
    [req] = mock.requests()
    assert req["path"].endswith("/v1/embeddings")
    assert json.loads(req["body"])["input"] == ["a", "b"]
    assert json.loads(req["body"])["dimensions"] == 3


def test_embed_on_anthropic_is_validation(open_gateway, mock_url):
    gw = open_gateway(providers=[ag.anthropic_provider("sk-ant", mock_url)])
    with pytest.raises(ag.ValidationError):
        gw.embed("claude", ["a"])


def test_providers_default_and_resolution(open_gateway, openai, mock_url):
    claude = ag.anthropic_provider("sk-ant", mock_url, name="claude")
    gw = open_gateway(providers=[openai, claude], router={"routes": [{"pattern": "claude-*", "provider": "claude"}]})
    assert gw.providers() == ["openai", "claude"]
    assert gw.default_provider() == "openai"
    assert gw.resolve_provider("claude-sonnet-4-6") == "claude"
    assert gw.resolve_provider("gpt-4o") == "openai"
    assert gw.resolve_provider("claude-x", "openai") == "openai"
    with pytest.raises(ag.ValidationError):
        gw.resolve_provider("gpt-4o", "nobody")
    assert open_gateway(providers=[openai], default_provider=None).default_provider() is None


def test_routed_call_goes_to_the_routed_provider(open_gateway, openai, mock_url, mock):
    claude = ag.anthropic_provider("sk-ant", mock_url, name="claude")
    gw = open_gateway(providers=[openai, claude], router={"routes": [{"pattern": "claude-*", "provider": "claude"}]})
    out = gw.run("claude-sonnet-4-6", prompt("hi"))
    assert out["provider"] == "claude"
    assert mock.requests()[0]["path"] == "/v1/messages"


def test_run_fallback_checks_its_entries(open_gateway, openai, mock, mock_url):
    # The Universal Endpoint is Cloudflare's; without network only the
    # gateway's own checks can be exercised from here.
    entries = [{"provider": "openai", "model": "gpt-4o"}]
    with pytest.raises(ag.ValidationError, match="cf-gateway"):
        open_gateway().run_fallback(entries, prompt("hi"))
    workers = ag.workers_ai_provider("tok", "acc", f"{mock_url}/client/v4")
    gw = open_gateway(providers=[openai, workers],
                      cf_gateway={"account-id": "acc", "gateway-id": "gw", "skip-cache": False})
    with pytest.raises(ag.ValidationError, match="workers"):
        gw.run_fallback([{"provider": "workers-ai", "model": "@cf/x"}], prompt("hi"))
    assert mock.hits() == 0


def test_errors_are_typed_and_leave_the_instance_usable(open_gateway, mock):
    gw = open_gateway()
    mock.reply(401, {"error": {"message": "bad key"}})
    with pytest.raises(ag.AuthError) as e:
        gw.run("gpt-4o", prompt("x"))
    assert e.value.kind == "auth" and e.value.status == 401
    assert e.value.detail["provider"] == "openai"
    with pytest.raises(ag.ValidationError):
        gw.run("gpt-4o", {"tag": "messages", "val": []})
    mock.reply(404, {"error": {"message": "no such model", "type": "not_found"}})
    with pytest.raises(ag.NotFound):
        gw.run("gpt-nope", prompt("x"))
    assert gw.run("gpt-4o", prompt("x"))["text"] == MOCK_TEXT


def test_upstream_429_is_rate_limited_with_retry_after(open_gateway, mock):
    gw = open_gateway()
    mock.reply(429, {"error": {"message": "slow down", "type": "rate_limit_error"}}, [("retry-after", "7")])
    with pytest.raises(ag.RateLimited) as e:
        gw.run("gpt-4o", prompt("x"))
    assert e.value.status == 429
    assert e.value.retry_after_ms == 7000
    assert [a["error"] for a in e.value.attempts] == ["rate-limited"]
    assert gw.run("gpt-4o", prompt("x"))["text"] == MOCK_TEXT


def test_retry_policy_retries_a_503(open_gateway, mock):
    gw = open_gateway(retry={"max-attempts": 2, "initial-backoff-ms": 1, "max-backoff-ms": 1, "max-retry-after-ms": 1000})
    mock.reply(503, {"error": {"message": "busy"}})
    out = gw.run("gpt-4o", prompt("x"))
    assert [a["status"] for a in out["attempts"]] == [503, 200]
    assert mock.hits() == 2


def test_closed_gateway_refuses_calls(open_gateway):
    gw = open_gateway()
    gw.close()
    gw.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        gw.providers()
