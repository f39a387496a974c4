"""The component from Python (wasmtime on PyPI), against host-test's mock.

Run by host-test/tests/hosts.rs, which starts the mock and sets MOCK_URL,
AI_GATEWAY_WASM and EXPECTED_SHA256.
"""

import hashlib
import json
import os
import unittest
import urllib.request

from ai_gateway import Gateway, GatewayError, messages, openai_provider, prompt, tool

MOCK = os.environ["MOCK_URL"]
WASM = os.environ["AI_GATEWAY_WASM"]


def mock(path: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{MOCK}/__mock/{path}", data=data, method="POST" if data is not None or path == "reset" else "GET")
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


class GatewayFromPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway.open(WASM, {"providers": [openai_provider("sk-python", f"{MOCK}/v1")], "default-provider": "openai"})

    def setUp(self):
        mock("reset")

    def test_same_component_as_every_host(self):
        with open(WASM, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), os.environ["EXPECTED_SHA256"])

    def test_run(self):
        out = self.gw.run("gpt-4o", messages(("system", "Be brief."), ("user", "Hello")), {"max-tokens": 50})
        self.assertEqual(out["text"], "Hello! I am the ai-gateway mock upstream.")
        self.assertEqual(out["provider"], "openai")
        self.assertEqual(out["usage"]["output-tokens"], 9)
        self.assertEqual(out["finish-reason"], {"tag": "stop", "val": None})
        [req] = mock("requests")
        body = json.loads(req["body"])
        self.assertEqual(body["max_tokens"], 50)
        self.assertEqual(dict(req["headers"])["authorization"], "Bearer sk-python")

    def test_stream(self):
        events = list(self.gw.stream("gpt-4o", prompt("stream")))
        text = "".join(e["val"] for e in events if e["tag"] == "text")
        self.assertEqual(text, '{"city":"San Francisco","temperature":61,"units":"f"}')
        self.assertEqual([e["tag"] for e in events if e["tag"] in ("done", "error")], ["done"])
        self.assertEqual(events[-1]["val"]["usage"]["input-tokens"], 79)

    def test_tools(self):
        reply = {"model": "gpt-4o", "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_7", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\": \"Oslo\"}"}}]},
            "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 5, "completion_tokens": 5}}
        mock("reply", {"status": 200, "body": json.dumps(reply)})
        weather = tool("get_weather", "Weather by place", '{"type":"object","properties":{"location":{"type":"string"}}}')
        out = self.gw.run("gpt-4o", prompt("weather in Oslo?"), {"tools": [weather], "tool-choice": {"tag": "auto"}})
        self.assertEqual(out["tool-calls"], [{"id": "call_7", "name": "get_weather", "arguments": '{"location":"Oslo"}', "raw-arguments": None}])
        self.assertEqual(out["finish-reason"]["tag"], "tool-calls")
        body = json.loads(mock("requests")[0]["body"])
        self.assertEqual(body["tools"][0]["function"]["name"], "get_weather")

    def test_errors_are_typed(self):
        mock("reply", {"status": 401, "body": json.dumps({"error": {"message": "bad key"}})})
        with self.assertRaises(GatewayError) as ctx:
            self.gw.run("gpt-4o", prompt("x"))
        self.assertEqual(ctx.exception.kind, "auth")
        self.assertEqual(ctx.exception.detail["status"], 401)
        with self.assertRaises(GatewayError) as ctx:
            self.gw.run("gpt-4o", {"tag": "messages", "val": []})
        self.assertEqual(ctx.exception.kind, "validation")


if __name__ == "__main__":
    unittest.main()
