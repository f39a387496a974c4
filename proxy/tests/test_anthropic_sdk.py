"""The official `anthropic` Python SDK against the proxy's /v1/messages.

host-test/tests/messages.rs serves the composed proxy (proxy +
ai-gateway.wasm) on wasmtime and runs this with PROXY_URL, PROXY_KEY,
MOCK_URL (the mock upstream behind it, for scripting replies and reading
what it received) and ANTHROPIC_TOOL_SSE (a recorded Anthropic tool stream).
"""

import json
import os
import unittest
import urllib.request

import anthropic

PROXY = os.environ["PROXY_URL"]
KEY = os.environ["PROXY_KEY"]
MOCK = os.environ["MOCK_URL"]
MOCK_TEXT = "Hello! I am the ai-gateway mock upstream."
TOOLS = [{"name": "get_weather", "description": "Weather in a city",
          "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}]


def mock(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    method = "POST" if body is not None or path == "reset" else "GET"
    with urllib.request.urlopen(urllib.request.Request(f"{MOCK}/__mock/{path}", data=data, method=method)) as r:
        return json.loads(r.read())


def upstream(i=-1):
    return mock("requests")[i]


class AnthropicSdk(unittest.TestCase):
    def setUp(self):
        mock("reset")
        # The SDK sends the key as x-api-key, and anthropic-version.
        self.client = anthropic.Anthropic(base_url=PROXY, api_key=KEY, max_retries=0)

    def test_create(self):
        for model, path in [("claude-mock", "/v1/messages"), ("mock-model", "/chat/completions")]:
            r = self.client.messages.create(
                # (This SDK no longer types temperature; the API takes it.)
                model=model, max_tokens=50, stop_sequences=["END"], extra_body={"temperature": 0.3},
                system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
                messages=[{"role": "user", "content": "Hello"}],
            )
            self.assertTrue(r.id.startswith("msg_"))
            self.assertEqual((r.type, r.role, r.model), ("message", "assistant", model))
            self.assertEqual(r.content[0].type, "text")
            self.assertEqual(r.content[0].text, MOCK_TEXT)
            self.assertEqual(r.stop_reason, "end_turn")
            self.assertEqual((r.usage.input_tokens, r.usage.output_tokens), (12, 9))
            self.assertIsNotNone(r._request_id)
            sent = upstream()
            self.assertTrue(sent["path"].endswith(path), sent["path"])
            body = json.loads(sent["body"])
            self.assertEqual((body["max_tokens"], body["temperature"]), (50, 0.3))
            self.assertEqual(body["stop_sequences" if model == "claude-mock" else "stop"], ["END"])
            if model == "claude-mock":
                self.assertEqual(body["system"], [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}])
            else:
                self.assertEqual(body["messages"][0], {"role": "system", "content": "Be brief."})

    def test_stream_text(self):
        with self.client.messages.stream(
            model="claude-mock", max_tokens=50, messages=[{"role": "user", "content": "hi"}],
        ) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        self.assertEqual(text, "Hello there!")
        self.assertEqual(final.content[0].text, "Hello there!")
        self.assertEqual(final.stop_reason, "end_turn")
        self.assertEqual(final.model, "claude-mock")
        self.assertGreater(final.usage.output_tokens, 0)

    def test_stream_tools_and_tool_result(self):
        with open(os.environ["ANTHROPIC_TOOL_SSE"]) as f:
            mock("reply", {"status": 200, "body": f.read(), "sse_delay_ms": 0})
        with self.client.messages.stream(
            model="claude-mock", max_tokens=200, tools=TOOLS, tool_choice={"type": "auto"},
            messages=[{"role": "user", "content": "Weather in Paris?"}],
        ) as stream:
            events = [e.type for e in stream]
            final = stream.get_final_message()
        self.assertIn("input_json", events)
        self.assertEqual(final.stop_reason, "tool_use")
        text = [b for b in final.content if b.type == "text"]
        tool = [b for b in final.content if b.type == "tool_use"]
        self.assertTrue(text[0].text.startswith("I'll check the current weather"))
        self.assertEqual(tool[0].name, "get_weather")
        self.assertIn("Paris", tool[0].input["location"])
        self.assertEqual(json.loads(upstream()["body"])["tools"], TOOLS)
        # The follow-up turn with the tool result.
        r = self.client.messages.create(
            model="claude-mock", max_tokens=200, tools=TOOLS,
            messages=[
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": [b.model_dump(exclude_none=True, exclude={"caller"}) for b in final.content]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool[0].id, "content": "18C, sunny"}]},
            ],
        )
        self.assertEqual(r.content[0].text, MOCK_TEXT)
        sent = json.loads(upstream()["body"])["messages"]
        self.assertEqual(sent[1]["content"][1]["type"], "tool_use")
        self.assertEqual(sent[1]["content"][1]["input"], tool[0].input)
        self.assertEqual(sent[2], {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tool[0].id, "content": "18C, sunny"}]})

    def test_stream_from_openai_upstream(self):
        with self.client.messages.stream(
            model="mock-model", max_tokens=50, messages=[{"role": "user", "content": "hi"}],
        ) as stream:
            text = "".join(stream.text_stream)
        self.assertEqual(text, '{"city":"San Francisco","temperature":61,"units":"f"}')

    def test_count_tokens(self):
        # Exact through the Anthropic upstream (the mock counts one token per
        # 4 bytes of the messages' JSON).
        raw = self.client.messages.with_raw_response.count_tokens(
            model="claude-mock", system="Be brief.", messages=[{"role": "user", "content": "Say hello."}],
        )
        self.assertEqual(raw.headers["x-aigw-token-count"], "exact")
        sent = mock("requests")[-1]
        self.assertTrue(sent["path"].endswith("/v1/messages/count_tokens"), sent["path"])
        messages = json.dumps(json.loads(sent["body"])["messages"], separators=(",", ":"))
        self.assertEqual(raw.parse().input_tokens, -(-len(messages) // 4))
        # Estimated through an OpenAI-format one, without an upstream call.
        mock("reset")
        raw = self.client.messages.with_raw_response.count_tokens(
            model="mock-model", system="Be brief.", messages=[{"role": "user", "content": "Say hello."}],
        )
        self.assertEqual(raw.headers["x-aigw-token-count"], "estimate")
        self.assertEqual(raw.parse().input_tokens, 5)
        self.assertEqual(mock("requests"), [])

    def test_errors(self):
        bad = anthropic.Anthropic(base_url=PROXY, api_key="wrong-key", max_retries=0)
        with self.assertRaises(anthropic.AuthenticationError) as ctx:
            bad.messages.create(model="claude-mock", max_tokens=10, messages=[{"role": "user", "content": "x"}])
        self.assertEqual(ctx.exception.body["error"]["type"], "authentication_error")
        mock("reply", {"status": 429, "headers": [["retry-after", "3"]],
                       "body": json.dumps({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})})
        with self.assertRaises(anthropic.RateLimitError) as ctx:
            self.client.messages.create(model="claude-mock", max_tokens=10, messages=[{"role": "user", "content": "x"}])
        self.assertEqual(ctx.exception.response.headers["retry-after"], "3")
        self.assertIn("slow down", str(ctx.exception))
        with self.assertRaises(anthropic.BadRequestError) as ctx:
            self.client.messages.create(model="claude-mock", max_tokens=10, messages=[{"role": "user", "content": [
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}]}])
        self.assertIn("`messages[0].content[0].source.type`", ctx.exception.message)
        self.assertEqual(len(mock("requests")), 1, "only the 429 reached the upstream")

    def test_stream_thinking_keeps_the_signature(self):
        # The Anthropic SDK suite's own thinking stream (synthetic capture,
        # tests/fixtures/README.md): the SDK's final message has the thinking
        # block with its signature, ready to be sent back.
        path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "anthropic",
                            "thinking_signature_synthetic.sse")
        with open(path) as f:
            mock("reply", {"status": 200, "headers": [["content-type", "text/event-stream"]], "body": f.read()})
        with self.client.messages.stream(
            model="claude-mock", max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[{"role": "user", "content": "What is a solar eclipse, claudius?"}],
        ) as stream:
            final = stream.get_final_message()
        thinking = [b for b in final.content if b.type == "thinking"]
        self.assertEqual(len(thinking), 1)
        self.assertTrue(thinking[0].thinking.startswith("Simple educational question"))
        self.assertEqual(thinking[0].signature,
                         "c3ludGhldGljLXNpZ25hdHVyZS1maXh0dXJlLWEtbm90LWEtcmVhbC1zaWduYXR1cmU=")
        self.assertEqual(json.loads(upstream()["body"])["thinking"], {"type": "enabled", "budget_tokens": 1024})

    def test_thinking_round_trip(self):
        # A thinking turn with a tool call, answered with the tool's result:
        # the thinking block goes back to the upstream with its signature.
        mock("reset")
        history = [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "I should call the tool.", "signature": "EqQBCkYIBxgC"},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"}]},
        ]
        self.client.messages.create(model="claude-mock", max_tokens=2048, messages=history,
                                    tools=[{"name": "weather", "input_schema": {"type": "object"}}],
                                    thinking={"type": "enabled", "budget_tokens": 1024})
        sent = json.loads(mock("requests")[-1]["body"])
        self.assertEqual(sent["messages"][1]["content"], history[1]["content"])
        self.assertEqual(sent["messages"][2]["content"][0]["type"], "tool_result")


if __name__ == "__main__":
    unittest.main()
