"""The official `openai` Python SDK against the proxy component.

host-test/tests/proxy.rs serves the composed proxy (proxy + ai-gateway.wasm)
on wasmtime and runs this with PROXY_URL, PROXY_KEY and MOCK_URL (the mock
upstream behind it, for scripting replies and reading what it received).
"""

import json
import os
import unittest
import urllib.request

import openai
from pydantic import BaseModel

PROXY = os.environ["PROXY_URL"]
KEY = os.environ["PROXY_KEY"]
MOCK = os.environ["MOCK_URL"]


def mock(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    method = "POST" if body is not None or path == "reset" else "GET"
    with urllib.request.urlopen(urllib.request.Request(f"{MOCK}/__mock/{path}", data=data, method=method)) as r:
        return json.loads(r.read())


def upstream_json(i=-1):
    return json.loads(mock("requests")[i]["body"])


class City(BaseModel):
    name: str
    country: str


class OpenAISdk(unittest.TestCase):
    def setUp(self):
        mock("reset")
        self.client = openai.OpenAI(base_url=f"{PROXY}/v1", api_key=KEY, max_retries=0)

    def test_chat(self):
        r = self.client.chat.completions.create(
            model="mock-model",
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
            max_tokens=50,
            temperature=0.3,
        )
        self.assertEqual(r.choices[0].message.content, "Hello! I am the ai-gateway mock upstream.")
        self.assertEqual(r.choices[0].finish_reason, "stop")
        self.assertEqual((r.usage.prompt_tokens, r.usage.completion_tokens), (12, 9))
        self.assertTrue(r.id.startswith("chatcmpl-"))
        sent = upstream_json()
        self.assertEqual(sent["messages"], [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}])
        self.assertEqual((sent["max_tokens"], sent["temperature"]), (50, 0.3))

    def test_streaming_with_usage(self):
        stream = self.client.chat.completions.create(
            model="mock-model", messages=[{"role": "user", "content": "stream"}], stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        self.assertEqual(text, '{"city":"San Francisco","temperature":61,"units":"f"}')
        finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        self.assertEqual(finishes, ["stop"])
        self.assertEqual(chunks[-1].choices, [])
        self.assertEqual(chunks[-1].usage.prompt_tokens, 79)

    def test_streaming_from_anthropic_upstream(self):
        stream = self.client.chat.completions.create(
            model="claude-mock", messages=[{"role": "user", "content": "hi"}], stream=True,
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        self.assertEqual(text, "Hello there!")
        self.assertTrue(mock("requests")[-1]["path"].endswith("/v1/messages"))

    def test_tool_calls(self):
        tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                  "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
        reply = {"model": "mock-model", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": None,
            "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5}}
        mock("reply", {"status": 200, "body": json.dumps(reply)})
        r = self.client.chat.completions.create(
            model="mock-model", messages=[{"role": "user", "content": "weather in Oslo?"}], tools=tools, tool_choice="auto",
        )
        call = r.choices[0].message.tool_calls[0]
        self.assertEqual((call.id, call.function.name, json.loads(call.function.arguments)), ("call_9", "get_weather", {"city": "Oslo"}))
        self.assertEqual(r.choices[0].finish_reason, "tool_calls")
        self.assertEqual(upstream_json()["tools"][0]["function"]["parameters"]["required"], ["city"])
        # The follow-up turn with the tool result.
        r = self.client.chat.completions.create(model="mock-model", tools=tools, messages=[
            {"role": "user", "content": "weather in Oslo?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
            {"role": "tool", "tool_call_id": "call_9", "content": "4C and rain"},
        ])
        self.assertEqual(upstream_json()["messages"][2], {"role": "tool", "content": "4C and rain", "tool_call_id": "call_9"})

    def test_tool_call_streamed_from_anthropic_upstream(self):
        with open(os.environ["ANTHROPIC_TOOL_SSE"]) as f:
            mock("reply", {"status": 200, "body": f.read(), "sse_delay_ms": 0})
        stream = self.client.chat.completions.create(
            model="claude-mock", messages=[{"role": "user", "content": "weather in Paris?"}], stream=True,
            tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        )
        calls = [tc for c in stream if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
        self.assertEqual([(c.function.name, c.function.arguments) for c in calls], [("get_weather", '{"location":"Paris"}')])

    def test_json_schema_output(self):
        reply = {"model": "mock-model", "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "{\"name\": \"Paris\", \"country\": \"France\"}"}}],
                 "usage": {"prompt_tokens": 5, "completion_tokens": 9}}
        mock("reply", {"status": 200, "body": json.dumps(reply)})
        r = self.client.chat.completions.parse(model="mock-model", messages=[{"role": "user", "content": "Capital of France?"}], response_format=City)
        self.assertEqual(r.choices[0].message.parsed, City(name="Paris", country="France"))
        fmt = upstream_json()["response_format"]
        self.assertEqual(fmt["type"], "json_schema")
        self.assertEqual(fmt["json_schema"]["name"], "City")
        self.assertTrue(fmt["json_schema"]["strict"])
        self.assertEqual(sorted(fmt["json_schema"]["schema"]["properties"]), ["country", "name"])

    def test_embeddings_default_base64(self):
        r = self.client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
        self.assertEqual([d.embedding for d in r.data], [[0.0, 0.5, -0.25], [1.0, 0.5, -0.25]])
        self.assertEqual(upstream_json()["input"], ["a", "b"])

    def test_models(self):
        ids = [m.id for m in self.client.models.list()]
        self.assertEqual(ids, ["mock-model", "claude-mock"])
        self.assertEqual(self.client.models.retrieve("claude-mock").id, "claude-mock")
        with self.assertRaises(openai.NotFoundError):
            self.client.models.retrieve("not-listed")

    def test_nothing_dropped(self):
        # Typed options, untyped parameters and the SDK's extra_body reach
        # an OpenAI-format upstream unchanged.
        tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
        raw = self.client.chat.completions.with_raw_response.create(
            model="mock-model", messages=[{"role": "user", "content": "x"}], tools=tools,
            frequency_penalty=0.5, presence_penalty=0.1, logit_bias={"50256": -100},
            parallel_tool_calls=False, user="end-user", seed=3,
            extra_body={"vendor_option": {"depth": 2}},
            extra_headers={"x-request-id": "sdk-req-1"},
        )
        self.assertEqual(raw.headers["x-request-id"], "sdk-req-1")
        self.assertTrue(raw.headers["openai-processing-ms"].isdigit())
        self.assertEqual(raw.parse().choices[0].finish_reason, "stop")
        sent = upstream_json()
        for k, v in {"frequency_penalty": 0.5, "presence_penalty": 0.1, "logit_bias": {"50256": -100},
                     "parallel_tool_calls": False, "user": "end-user", "seed": 3,
                     "vendor_option": {"depth": 2}}.items():
            self.assertEqual(sent[k], v, k)
        # What the answer cannot carry, or the upstream cannot take, is a
        # 400 naming it, and nothing is sent.
        mock("reset")
        with self.assertRaises(openai.BadRequestError) as ctx:
            self.client.chat.completions.create(
                model="mock-model", messages=[{"role": "user", "content": "x"}], n=2)
        self.assertEqual(ctx.exception.body["param"], "n")
        with self.assertRaises(openai.BadRequestError) as ctx:
            self.client.chat.completions.create(
                model="claude-mock", messages=[{"role": "user", "content": "x"}], frequency_penalty=0.5)
        self.assertEqual(ctx.exception.body["param"], "frequency_penalty")
        self.assertIn("mock-anthropic", ctx.exception.message)
        self.assertEqual(mock("requests"), [])

    def test_logprobs_refusal_and_images(self):
        fixtures = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "openai")
        # JSON: the upstream's log-probabilities come back as OpenAI gives them.
        mock("reply", {"status": 200, "headers": [["content-type", "application/json"]], "body": json.dumps({
            "id": "c", "object": "chat.completion", "model": "gpt-4o", "choices": [{"index": 0,
                "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop",
                "logprobs": {"content": [{"token": "Hi", "logprob": -0.25, "bytes": [72, 105],
                                          "top_logprobs": [{"token": "Hi", "logprob": -0.25, "bytes": [72, 105]}]}]}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1}})})
        r = self.client.chat.completions.create(
            model="mock-model", messages=[{"role": "user", "content": "x"}], logprobs=True, top_logprobs=1)
        lp = r.choices[0].logprobs.content[0]
        self.assertEqual((lp.token, lp.logprob, lp.bytes), ("Hi", -0.25, [72, 105]))
        self.assertEqual(lp.top_logprobs[0].token, "Hi")
        sent = upstream_json()
        self.assertEqual((sent["logprobs"], sent["top_logprobs"]), (True, 1))
        # A stream recorded by the openai-python suite: each chunk's tokens.
        with open(os.path.join(fixtures, "logprobs_content_with_usage.sse")) as f:
            mock("reply", {"status": 200, "headers": [["content-type", "text/event-stream"]], "body": f.read()})
        stream = self.client.chat.completions.create(
            model="mock-model", messages=[{"role": "user", "content": "x"}], logprobs=True, stream=True)
        text, tokens = "", []
        for chunk in stream:
            for c in chunk.choices:
                text += c.delta.content or ""
                if c.logprobs and c.logprobs.content:
                    tokens += [t.token for t in c.logprobs.content]
        self.assertEqual("".join(tokens), text)
        self.assertEqual(tokens[0], "Foo")
        # A refusal: message.refusal in JSON, delta.refusal in a stream.
        with open(os.path.join(fixtures, "refusal_with_usage.sse")) as f:
            mock("reply", {"status": 200, "headers": [["content-type", "text/event-stream"]], "body": f.read()})
        stream = self.client.chat.completions.create(
            model="mock-model", messages=[{"role": "user", "content": "x"}], stream=True)
        refusal = "".join(c.delta.refusal or "" for chunk in stream for c in chunk.choices)
        self.assertEqual(refusal, "I'm sorry, I can't assist with that request.")
        mock("reply", {"status": 200, "headers": [["content-type", "application/json"]], "body": json.dumps({
            "id": "c", "object": "chat.completion", "model": "gpt-4o", "choices": [{"index": 0,
                "message": {"role": "assistant", "content": None, "refusal": "No."}, "finish_reason": "stop"}]})})
        r = self.client.chat.completions.create(model="mock-model", messages=[{"role": "user", "content": "x"}])
        self.assertEqual((r.choices[0].message.content, r.choices[0].message.refusal), (None, "No."))
        # Image parts reach the upstream as sent; Anthropic gets image blocks.
        parts = [{"type": "text", "text": "What is this?"},
                 {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}]
        self.client.chat.completions.create(model="mock-model", messages=[{"role": "user", "content": parts}])
        self.assertEqual(upstream_json()["messages"][0]["content"], parts)
        self.client.chat.completions.create(model="claude-mock", messages=[{"role": "user", "content": parts}])
        self.assertEqual(upstream_json()["messages"][0]["content"], [
            {"type": "text", "text": "What is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}])

    def test_errors(self):
        bad = openai.OpenAI(base_url=f"{PROXY}/v1", api_key="wrong-key", max_retries=0)
        with self.assertRaises(openai.AuthenticationError) as ctx:
            bad.chat.completions.create(model="mock-model", messages=[{"role": "user", "content": "x"}])
        self.assertEqual(ctx.exception.code, "invalid_api_key")
        mock("reply", {"status": 429, "headers": [["retry-after", "3"]], "body": json.dumps({"error": {"message": "slow down", "type": "requests"}})})
        with self.assertRaises(openai.RateLimitError) as ctx:
            self.client.chat.completions.create(model="mock-model", messages=[{"role": "user", "content": "x"}])
        self.assertEqual(ctx.exception.response.headers["retry-after"], "3")
        self.assertIn("slow down", str(ctx.exception))
        with self.assertRaises(openai.BadRequestError):
            self.client.chat.completions.create(model="mock-model", messages=[])
        self.assertEqual(len(mock("requests")), 1, "only the 429 reached the upstream")


    # ------------------------------------------------ the Responses API

    def test_responses_create(self):
        r = self.client.responses.create(model="mock-model", input="Hello", instructions="Be brief.",
                                         max_output_tokens=50, temperature=0.3)
        self.assertEqual(r.output_text, "Hello! I am the ai-gateway mock upstream.")
        self.assertEqual(r.status, "completed")
        self.assertTrue(r.id.startswith("resp_"))
        self.assertEqual((r.usage.input_tokens, r.usage.output_tokens, r.usage.total_tokens), (12, 9, 21))
        self.assertEqual(r.output[0].type, "message")
        sent = upstream_json()
        self.assertEqual(sent["messages"], [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}])
        self.assertEqual((sent["max_tokens"], sent["temperature"]), (50, 0.3))

    def test_responses_stream_text(self):
        with self.client.responses.stream(model="claude-mock", input="hi") as stream:
            events = list(stream)
            final = stream.get_final_response()
        types = [e.type for e in events]
        self.assertEqual(types[:4], ["response.created", "response.in_progress", "response.output_item.added",
                                     "response.content_part.added"])
        self.assertEqual(types[-4:], ["response.output_text.done", "response.content_part.done",
                                      "response.output_item.done", "response.completed"])
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        self.assertEqual(text, "Hello there!")
        self.assertEqual(final.output_text, "Hello there!")
        self.assertEqual(final.status, "completed")

    def test_responses_stream_function_call(self):
        with open(os.environ["ANTHROPIC_TOOL_SSE"]) as f:
            mock("reply", {"status": 200, "body": f.read(), "sse_delay_ms": 0})
        tools = [{"type": "function", "name": "get_weather", "description": "Weather",
                  "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}, "strict": False}]
        with self.client.responses.stream(model="claude-mock", input="weather in Paris?", tools=tools) as stream:
            done = [e for e in stream if e.type == "response.function_call_arguments.done"]
            final = stream.get_final_response()
        self.assertEqual(len(done), 1)
        self.assertEqual(json.loads(done[0].arguments), {"location": "Paris"})
        calls = [o for o in final.output if o.type == "function_call"]
        self.assertEqual([(c.name, json.loads(c.arguments)) for c in calls], [("get_weather", {"location": "Paris"})])
        # The tool's result goes back as a function_call_output item.
        r = self.client.responses.create(model="claude-mock", tools=tools, previous_response_id=final.id, input=[
            {"type": "function_call_output", "call_id": calls[0].call_id, "output": "18C, sunny"}])
        self.assertEqual(r.status, "completed")
        self.assertIn("18C, sunny", json.dumps(upstream_json()["messages"]))

    def test_responses_parse_structured_output(self):
        reply = {"model": "mock-model", "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "{\"name\": \"Paris\", \"country\": \"France\"}"}}],
                 "usage": {"prompt_tokens": 5, "completion_tokens": 9}}
        mock("reply", {"status": 200, "body": json.dumps(reply)})
        r = self.client.responses.parse(model="mock-model", input="Capital of France?", text_format=City)
        self.assertEqual(r.output_parsed, City(name="Paris", country="France"))
        fmt = upstream_json()["response_format"]
        self.assertEqual((fmt["type"], fmt["json_schema"]["name"], fmt["json_schema"]["strict"]), ("json_schema", "City", True))

    def test_responses_previous_response_retrieve_delete(self):
        first = self.client.responses.create(model="mock-model", input="My name is Ada.")
        second = self.client.responses.create(model="mock-model", input="What is my name?",
                                              previous_response_id=first.id)
        self.assertEqual(second.previous_response_id, first.id)
        self.assertEqual([m["role"] for m in upstream_json()["messages"]], ["user", "assistant", "user"])
        got = self.client.responses.retrieve(first.id)
        self.assertEqual((got.id, got.output_text), (first.id, first.output_text))
        items = list(self.client.responses.input_items.list(second.id))
        self.assertEqual([(i.type, i.role, i.content[0].text) for i in items], [("message", "user", "What is my name?")])
        self.client.responses.delete(first.id)
        with self.assertRaises(openai.NotFoundError):
            self.client.responses.retrieve(first.id)
        with self.assertRaises(openai.NotFoundError):
            self.client.responses.create(model="mock-model", input="x", previous_response_id=first.id)
        with self.assertRaises(openai.BadRequestError) as ctx:
            self.client.responses.create(model="mock-model", input="x", tools=[{"type": "web_search"}])
        self.assertEqual(ctx.exception.body["param"], "tools[0].type")


if __name__ == "__main__":
    unittest.main()
