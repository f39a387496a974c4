//! `POST /v1/responses` (OpenAI's Responses API) through the composed
//! proxy: JSON and streamed answers from OpenAI- and Anthropic-format
//! upstreams, tools, structured output, stored responses continued by
//! `previous_response_id`, `GET` and `DELETE`, expiry, and the fields and
//! items the gateway cannot carry refused by name.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use std::time::Duration;

use host_test::client::Client;
use host_test::mock::{MockServer, Reply, canned};
use host_test::serve::Server;
use serde_json::{Value, json};

async fn serve(mock: &MockServer, extra: Value) -> (Server, tempfile::TempDir) {
    let config = common::front::config(&mock.base_url(), &extra);
    let vars = [("key_a", "sk-client-a"), ("key_b", "sk-client-b")];
    let (server, _kv, dir) = common::front::serve(&config, &vars).await;
    (server, dir)
}

struct Api {
    client: Client,
    base: String,
    auth: Option<String>,
}

impl Api {
    fn new(server: &Server) -> Self {
        Self {
            client: Client::new(),
            base: server.base_url(),
            auth: None,
        }
    }

    fn headers(&self) -> Vec<(&str, &str)> {
        self.auth
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default()
    }

    async fn create(&self, body: &Value) -> host_test::client::Response {
        self.client
            .post_json(
                &format!("{}/v1/responses", self.base),
                &self.headers(),
                body,
            )
            .await
            .unwrap()
    }

    async fn get(&self, id: &str) -> host_test::client::Response {
        self.client
            .get(&format!("{}/v1/responses/{id}", self.base), &self.headers())
            .await
            .unwrap()
    }

    async fn delete(&self, id: &str) -> host_test::client::Response {
        self.client
            .send(
                "DELETE",
                &format!("{}/v1/responses/{id}", self.base),
                &self.headers(),
                Vec::new(),
            )
            .await
            .unwrap()
    }
}

/// The (event name, data) pairs of an SSE body.
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|f| !f.trim().is_empty())
        .map(|f| {
            let mut name = String::new();
            let mut data = Value::Null;
            for line in f.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).unwrap();
                }
            }
            assert_eq!(data["type"], name.as_str(), "event line matches type: {f}");
            (name, data)
        })
        .collect()
}

fn output_text(r: &Value) -> String {
    r["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "message")
        .flat_map(|i| i["content"].as_array().unwrap().iter())
        .filter(|p| p["type"] == "output_text")
        .map(|p| p["text"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_json_from_openai_and_anthropic_upstreams() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;
    let api = Api::new(&server);
    for model in ["mock-model", "claude-mock"] {
        mock.reset();
        let r = api
            .create(
                &json!({"model": model, "input": "hi", "instructions": "Be brief.",
                            "max_output_tokens": 50, "temperature": 0.3}),
            )
            .await;
        assert_eq!(r.status, 200, "{model}: {}", r.text());
        assert!(r.header("x-request-id").is_some());
        let v = r.json();
        assert!(v["id"].as_str().unwrap().starts_with("resp_"), "{v}");
        assert_eq!(v["object"], "response");
        assert_eq!(v["status"], "completed");
        assert_eq!(v["model"], model);
        assert_eq!(v["instructions"], "Be brief.");
        assert!(v["created_at"].as_u64().unwrap() > 1_700_000_000);
        assert_eq!(output_text(&v), canned::MOCK_TEXT);
        let msg = &v["output"][0];
        assert!(msg["id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(msg["role"], "assistant");
        assert_eq!(msg["content"][0]["annotations"], json!([]));
        assert_eq!(
            v["usage"],
            json!({"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0},
                   "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 21})
        );
        let sent = mock.last().unwrap().json();
        if model == "mock-model" {
            assert_eq!(
                sent["messages"],
                json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
            );
            assert_eq!(sent["max_tokens"], 50);
        } else {
            assert!(mock.last().unwrap().path.ends_with("/v1/messages"));
            assert!(sent["system"].to_string().contains("Be brief."), "{sent}");
            assert_eq!(sent["messages"][0]["role"], "user");
            assert_eq!(sent["max_tokens"], 50);
        }
        assert_eq!(sent["temperature"], 0.3);
    }
    // A length stop is an incomplete response.
    mock.push(Reply::json(
        200,
        json!({"id": "c", "object": "chat.completion", "model": "mock-model",
               "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hel"}, "finish_reason": "length"}],
               "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}),
    ));
    let v = api
        .create(&json!({"model": "mock-model", "input": "hi", "max_output_tokens": 1}))
        .await
        .json();
    assert_eq!(v["status"], "incomplete", "{v}");
    assert_eq!(v["incomplete_details"]["reason"], "max_output_tokens");
}

/// The event types of a streamed answer, in order.
fn kinds(ev: &[(String, Value)]) -> Vec<&str> {
    ev.iter().map(|(n, _)| n.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_stream_event_sequence_text_and_tools() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;
    let api = Api::new(&server);
    for model in ["mock-model", "claude-mock"] {
        let r = api
            .create(&json!({"model": model, "input": "hi", "stream": true}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("text/event-stream"));
        let ev = events(&r.text());
        let k = kinds(&ev);
        let deltas = k
            .iter()
            .filter(|k| **k == "response.output_text.delta")
            .count();
        assert!(deltas >= 2, "{model}: {k:?}");
        let mut expected = vec![
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
        ];
        expected.extend(std::iter::repeat_n("response.output_text.delta", deltas));
        expected.extend([
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]);
        assert_eq!(k, expected, "{model}");
        for (i, (_, d)) in ev.iter().enumerate() {
            assert_eq!(d["sequence_number"], i, "{model}");
        }
        let text: String = ev
            .iter()
            .filter(|(n, _)| n == "response.output_text.delta")
            .map(|(_, d)| d["delta"].as_str().unwrap())
            .collect();
        let done = &ev[ev.len() - 4].1;
        assert_eq!(done["text"], text.as_str());
        let completed = &ev.last().unwrap().1["response"];
        assert_eq!(completed["status"], "completed");
        assert_eq!(output_text(completed), text);
        assert_eq!(ev[0].1["response"]["id"], completed["id"]);
        assert!(
            completed["usage"]["output_tokens"].as_u64().unwrap() > 0,
            "{completed}"
        );
        // The stored response is the completed one.
        let got = api.get(completed["id"].as_str().unwrap()).await;
        assert_eq!(got.status, 200, "{}", got.text());
        assert_eq!(&got.json(), completed);
    }
    // A function call, from each upstream format.
    for (model, sse) in [
        ("mock-model", canned::OPENAI_TOOL_SSE),
        ("claude-mock", canned::ANTHROPIC_TOOL_SSE),
    ] {
        mock.push(Reply::sse(sse, Duration::ZERO));
        let r = api
            .create(&json!({"model": model, "input": "weather in SF?", "stream": true,
                "tools": [{"type": "function", "name": "get_weather", "description": "Weather",
                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let ev = events(&r.text());
        let k: Vec<&str> = kinds(&ev)
            .into_iter()
            .filter(|k| {
                !k.starts_with("response.output_text") && !k.starts_with("response.content_part")
            })
            .collect();
        let calls = ev
            .iter()
            .position(|(n, d)| {
                n == "response.output_item.added" && d["item"]["type"] == "function_call"
            })
            .unwrap();
        assert_eq!(
            kinds(&ev)[calls..],
            [
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed"
            ],
            "{model}: {k:?}"
        );
        let done = &ev[calls + 2].1;
        assert_eq!(done["name"], "get_weather");
        let args: Value = serde_json::from_str(done["arguments"].as_str().unwrap()).unwrap();
        assert!(args.is_object());
        let item = &ev[calls + 3].1["item"];
        assert!(item["id"].as_str().unwrap().starts_with("fc_"));
        assert_eq!(item["status"], "completed");
        assert!(!item["call_id"].as_str().unwrap().is_empty());
        let completed = &ev.last().unwrap().1["response"];
        assert_eq!(
            completed["output"].as_array().unwrap().last().unwrap(),
            item
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_stream_error_is_one_response_failed_event() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({"between_bytes_timeout_ms": 300})).await;
    let api = Api::new(&server);
    // The first event, then a stall: the gateway ends the stream with an error.
    let events_bytes: Vec<u8> = canned::sse_events("openai", &["Hel", "lo"]).concat();
    mock.push(Reply::sse(&events_bytes, Duration::from_secs(30)));
    let r = api
        .create(&json!({"model": "mock-model", "input": "hi", "stream": true}))
        .await;
    assert_eq!(r.status, 200);
    let ev = events(&r.text());
    let k = kinds(&ev);
    assert_eq!(k.last(), Some(&"response.failed"), "{k:?}");
    let terminal = k
        .iter()
        .filter(|k| {
            matches!(
                **k,
                "response.completed" | "response.failed" | "error" | "response.incomplete"
            )
        })
        .count();
    assert_eq!(terminal, 1, "{k:?}");
    let failed = &ev.last().unwrap().1["response"];
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"]["message"].as_str().is_some(), "{failed}");
    // A failed call stores nothing.
    let got = api.get(failed["id"].as_str().unwrap()).await;
    assert_eq!(got.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_tools_and_function_call_output_follow_up() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;
    let api = Api::new(&server);
    mock.push(Reply::json(
        200,
        json!({"id": "c", "object": "chat.completion", "model": "mock-model",
               "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
                 "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}}],
               "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}}),
    ));
    let tools = json!([{"type": "function", "name": "get_weather", "description": "Weather",
                         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false},
                         "strict": true}]);
    let r = api
        .create(&json!({"model": "mock-model", "input": "weather in Paris?", "tools": tools,
                        "tool_choice": {"type": "function", "name": "get_weather"}, "store": false}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["store"], false);
    assert_eq!(v["output"].as_array().unwrap().len(), 1, "{v}");
    let call = &v["output"][0];
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["call_id"], "call_1");
    assert_eq!(call["name"], "get_weather");
    assert_eq!(call["arguments"], "{\"city\":\"Paris\"}");
    assert_eq!(v["tools"][0]["name"], "get_weather");
    let sent = mock.last().unwrap().json();
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(
        sent["tools"][0]["function"]["strict"], true,
        "strict reaches OpenAI: {sent}"
    );
    assert_eq!(sent["tool_choice"]["function"]["name"], "get_weather");
    // Not stored.
    assert_eq!(api.get(v["id"].as_str().unwrap()).await.status, 404);

    // The follow-up carries the call and its output, as the SDK sends them.
    let r = api
        .create(&json!({"model": "mock-model", "tools": tools, "input": [
            {"role": "user", "content": "weather in Paris?"},
            call,
            {"type": "function_call_output", "call_id": "call_1", "output": "18C, sunny"}
        ]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = mock.last().unwrap().json();
    let m = &sent["messages"];
    assert_eq!(
        m[0],
        json!({"role": "user", "content": "weather in Paris?"})
    );
    assert_eq!(m[1]["role"], "assistant");
    assert_eq!(m[1]["tool_calls"][0]["id"], "call_1");
    assert_eq!(
        m[1]["tool_calls"][0]["function"]["arguments"],
        "{\"city\":\"Paris\"}"
    );
    assert_eq!(m[2]["role"], "tool");
    assert_eq!(m[2]["tool_call_id"], "call_1");
    assert_eq!(m[2]["content"], "18C, sunny");

    // The same to Anthropic: tool_use and tool_result blocks; `strict` is
    // refused by name there.
    let r = api
        .create(&json!({"model": "claude-mock", "tools": tools, "input": "x"}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["param"], "tools.strict");
    let mut loose = tools.clone();
    loose[0]["strict"] = json!(false);
    let r = api
        .create(&json!({"model": "claude-mock", "tools": loose, "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "weather in Paris?"}]},
            call,
            {"type": "function_call_output", "call_id": "call_1", "output": "18C, sunny"}
        ]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = mock.last().unwrap().json();
    let text = sent["messages"].to_string();
    assert!(
        text.contains("tool_use") && text.contains("tool_result") && text.contains("18C, sunny"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_text_format_json_schema_and_reasoning_effort() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;
    let api = Api::new(&server);
    let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": false});
    let r = api
        .create(&json!({"model": "mock-model", "input": "give json",
            "text": {"format": {"type": "json_schema", "name": "thing", "schema": schema, "strict": true}, "verbosity": "low"},
            "reasoning": {"effort": "high"}, "user": "end-user-1", "metadata": {"team": "a"}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["text"]["format"]["name"], "thing");
    assert_eq!(v["metadata"], json!({"team": "a"}));
    assert_eq!(v["reasoning"]["effort"], "high");
    let sent = mock.last().unwrap().json();
    assert_eq!(sent["response_format"]["type"], "json_schema");
    assert_eq!(sent["response_format"]["json_schema"]["name"], "thing");
    assert_eq!(sent["response_format"]["json_schema"]["schema"], schema);
    assert_eq!(sent["response_format"]["json_schema"]["strict"], true);
    assert_eq!(sent["reasoning_effort"], "high");
    assert_eq!(sent["verbosity"], "low");
    assert_eq!(sent["user"], "end-user-1");
    assert!(
        sent.get("metadata").is_none(),
        "metadata is the response's, not sent: {sent}"
    );
    assert!(sent.get("store").is_none(), "store is the proxy's: {sent}");
    let r = api
        .create(&json!({"model": "mock-model", "input": "x", "text": {"format": {"type": "json_object"}}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        mock.last().unwrap().json()["response_format"]["type"],
        "json_object"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_previous_response_id_get_delete_and_clients() {
    let mock = MockServer::start().await.unwrap();
    let clients = json!({"clients": [
        {"name": "a", "key_variable": "key_a"}, {"name": "b", "key_variable": "key_b"}]});
    let (server, _dir) = serve(&mock, clients).await;
    let mut api = Api::new(&server);
    api.auth = Some("Bearer sk-client-a".into());
    for model in ["mock-model", "claude-mock"] {
        let first = api
            .create(&json!({"model": model, "input": "My name is Ada.", "instructions": "Only for turn one."}))
            .await;
        assert_eq!(first.status, 200, "{}", first.text());
        let first = first.json();
        assert_eq!(first["store"], true);
        let id = first["id"].as_str().unwrap();
        let second = api
            .create(&json!({"model": model, "input": "What is my name?", "previous_response_id": id, "stream": true}))
            .await;
        assert_eq!(second.status, 200, "{}", second.text());
        let ev = events(&second.text());
        let done = &ev.last().unwrap().1["response"];
        assert_eq!(done["previous_response_id"], id);
        let sent = mock.last().unwrap().json();
        let turns: Vec<(String, String)> = sent["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let c = if m["content"].is_string() {
                    m["content"].as_str().unwrap().to_owned()
                } else {
                    m["content"][0]["text"].as_str().unwrap_or("").to_owned()
                };
                (m["role"].as_str().unwrap().to_owned(), c)
            })
            .collect();
        assert_eq!(
            turns,
            [
                ("user".to_owned(), "My name is Ada.".to_owned()),
                ("assistant".to_owned(), canned::MOCK_TEXT.to_owned()),
                ("user".to_owned(), "What is my name?".to_owned()),
            ],
            "{model}: the earlier turns, without the earlier instructions"
        );
        // A third turn continues the second (the conversation chains).
        let third = api
            .create(
                &json!({"model": model, "input": "And again?", "previous_response_id": done["id"]}),
            )
            .await;
        assert_eq!(third.status, 200, "{}", third.text());
        assert_eq!(
            mock.last().unwrap().json()["messages"]
                .as_array()
                .unwrap()
                .len(),
            5
        );

        // GET returns the stored response; another client cannot see it.
        let got = api.get(id).await;
        assert_eq!(got.status, 200, "{}", got.text());
        assert_eq!(got.json(), first);
        let mut other = Api::new(&server);
        other.auth = Some("Bearer sk-client-b".into());
        assert_eq!(other.get(id).await.status, 404);
        assert_eq!(other.delete(id).await.status, 404);
        let r = other
            .create(&json!({"model": model, "input": "x", "previous_response_id": id}))
            .await;
        assert_eq!(r.status, 404, "{}", r.text());

        // DELETE, then it is gone.
        let del = api.delete(id).await;
        assert_eq!(del.status, 200, "{}", del.text());
        assert_eq!(
            del.json(),
            json!({"id": id, "object": "response", "deleted": true})
        );
        assert_eq!(api.get(id).await.status, 404);
        assert_eq!(api.delete(id).await.status, 404);
        let r = api
            .create(&json!({"model": model, "input": "x", "previous_response_id": id}))
            .await;
        assert_eq!(r.status, 404, "{}", r.text());
        let e = r.json();
        assert_eq!(e["error"]["param"], "previous_response_id");
        assert_eq!(e["error"]["code"], "previous_response_not_found");
    }
    // Unknown ids, and ids that are not ours.
    for id in ["resp_0123456789abcdef", "nope", "resp_..%2F..%2Fx"] {
        let r = api.get(id).await;
        assert_eq!(r.status, 404, "{id}: {}", r.text());
        assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    }
    // Without a key: 401.
    assert_eq!(Api::new(&server).get("resp_00").await.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_expired_entries_are_not_found() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(
        &mock,
        json!({"responses": {"bucket": "default", "ttl_seconds": 1}}),
    )
    .await;
    let api = Api::new(&server);
    let v = api
        .create(&json!({"model": "mock-model", "input": "hi"}))
        .await
        .json();
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(api.get(&id).await.status, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(api.get(&id).await.status, 404);
    let r = api
        .create(&json!({"model": "mock-model", "input": "x", "previous_response_id": id}))
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_refuse_what_cannot_be_carried_by_name() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;
    let api = Api::new(&server);
    let base = json!({"model": "mock-model", "input": "hi"});
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"include": ["reasoning.encrypted_content"]}),
            "include",
        ),
        (json!({"truncation": "auto"}), "truncation"),
        (json!({"background": true}), "background"),
        (json!({"conversation": "conv_1"}), "conversation"),
        (json!({"max_tool_calls": 3}), "max_tool_calls"),
        (json!({"prompt": {"id": "pmpt_1"}}), "prompt"),
        (json!({"top_logprobs": 2}), "top_logprobs"),
        (json!({"tools": [{"type": "web_search"}]}), "tools[0].type"),
        (
            json!({"tools": [{"type": "file_search", "vector_store_ids": ["vs"]}]}),
            "tools[0].type",
        ),
        (
            json!({"tool_choice": {"type": "web_search_preview"}}),
            "tool_choice",
        ),
        (
            json!({"reasoning": {"summary": "detailed"}}),
            "reasoning.summary",
        ),
        (
            json!({"stream_options": {"include_obfuscation": true}}),
            "stream_options.include_obfuscation",
        ),
        (
            json!({"text": {"format": {"type": "grammar"}}}),
            "text.format.type",
        ),
        (
            json!({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]}),
            "input[0].content[0].file_id",
        ),
        (
            json!({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}),
            "input[0].content[0].file_data",
        ),
        (
            json!({"input": [{"role": "user", "content": [{"type": "input_audio", "data": "x"}]}]}),
            "input[0].content[0].type",
        ),
        (
            json!({"input": [{"role": "user", "content": "a"}, {"type": "reasoning", "id": "rs_1", "summary": []}]}),
            "input[1].type",
        ),
        (
            json!({"input": [{"type": "item_reference", "id": "msg_1"}]}),
            "input[0].type",
        ),
        (
            json!({"input": [{"role": "wizard", "content": "a"}]}),
            "input[0].role",
        ),
    ];
    for (patch, param) in cases {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = api.create(&body).await;
        assert_eq!(r.status, 400, "{param}: {}", r.text());
        let e = r.json();
        assert_eq!(e["error"]["param"], param, "{e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("`{param}`"))
                || e["error"]["message"].as_str().unwrap().contains(param),
            "{e}"
        );
    }
    // Neutral values pass; fields that mean the same in Chat Completions
    // reach an OpenAI-format upstream and are refused by name for Anthropic.
    mock.reset();
    let r = api
        .create(
            &json!({"model": "mock-model", "input": "hi", "include": [], "truncation": "disabled",
                        "background": false, "service_tier": "flex", "prompt_cache_key": "k",
                        "safety_identifier": "s", "parallel_tool_calls": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = mock.last().unwrap().json();
    for k in ["service_tier", "prompt_cache_key", "safety_identifier"] {
        assert!(sent.get(k).is_some(), "{k}: {sent}");
    }
    // Without tools it does nothing in Responses; Chat Completions would
    // refuse it there, so it is not sent.
    assert!(sent.get("parallel_tool_calls").is_none(), "{sent}");
    for k in [
        "include",
        "truncation",
        "background",
        "input",
        "instructions",
    ] {
        assert!(sent.get(k).is_none(), "{k}: {sent}");
    }
    assert_eq!(r.json()["parallel_tool_calls"], false);
    // A typed option Anthropic has too: sent in its format; one it lacks:
    // refused by name.
    let r = api
        .create(&json!({"model": "claude-mock", "input": "hi", "service_tier": "auto"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mock.last().unwrap().json()["service_tier"], "auto");
    let r = api
        .create(&json!({"model": "claude-mock", "input": "hi", "prompt_cache_key": "k"}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["param"], "prompt_cache_key");
    assert_eq!(mock.hits(), 2, "refused requests are not sent");
    // Bad JSON and a missing model are 400s, not traps.
    let r = api
        .client
        .send(
            "POST",
            &format!("{}/v1/responses", api.base),
            &[],
            b"{nope".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    let r = api.create(&json!({"input": "hi"})).await;
    assert_eq!(r.json()["error"]["param"], "model");
    let r = api
        .client
        .get(&format!("{}/v1/responses", api.base), &[])
        .await
        .unwrap();
    assert_eq!(r.status, 405);
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_reasoning_is_an_output_item_and_streams_as_summary_text() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;
    let api = Api::new(&server);
    mock.push(Reply::json(
        200,
        json!({"id": "c", "object": "chat.completion", "model": "mock-model",
               "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "42", "reasoning_content": "think hard"}}],
               "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12,
                         "completion_tokens_details": {"reasoning_tokens": 4}}}),
    ));
    let v = api
        .create(&json!({"model": "mock-model", "input": "answer?", "reasoning": {"effort": "low", "summary": "auto"}}))
        .await
        .json();
    assert_eq!(v["output"][0]["type"], "reasoning", "{v}");
    assert!(v["output"][0]["id"].as_str().unwrap().starts_with("rs_"));
    assert_eq!(
        v["output"][0]["summary"][0],
        json!({"type": "summary_text", "text": "think hard"})
    );
    assert_eq!(output_text(&v), "42");
    assert_eq!(v["usage"]["output_tokens_details"]["reasoning_tokens"], 4);
    // The follow-up sends the answer, not the reasoning.
    let r = api
        .create(&json!({"model": "mock-model", "input": "and?", "previous_response_id": v["id"]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = mock.last().unwrap().json();
    assert_eq!(
        sent["messages"][1],
        json!({"role": "assistant", "content": "42"})
    );
    assert!(!sent.to_string().contains("think hard"), "{sent}");

    let sse = [
        json!({"model": "mock-model", "choices": [{"index": 0, "delta": {"reasoning_content": "thi"}}]}),
        json!({"model": "mock-model", "choices": [{"index": 0, "delta": {"reasoning_content": "nk"}}]}),
        json!({"model": "mock-model", "choices": [{"index": 0, "delta": {"content": "42"}}]}),
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
    ]
    .iter()
    .map(|v| format!("data: {v}\n\n"))
    .collect::<String>()
        + "data: [DONE]\n\n";
    mock.push(Reply::sse(sse.as_bytes(), Duration::ZERO));
    let r = api
        .create(&json!({"model": "mock-model", "input": "answer?", "stream": true}))
        .await;
    let ev = events(&r.text());
    assert_eq!(
        kinds(&ev),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert_eq!(ev[6].1["text"], "think");
    assert_eq!(ev[9].1["output_index"], 1);
    let done = &ev.last().unwrap().1["response"];
    assert_eq!(done["output"][0]["summary"][0]["text"], "think");
    assert_eq!(output_text(done), "42");
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_input_items_list_a_stored_responses_input() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;
    let api = Api::new(&server);
    let v = api
        .create(&json!({"model": "mock-model", "instructions": "not an item", "input": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}
        ]}))
        .await
        .json();
    let id = v["id"].as_str().unwrap();
    let list = api.get(&format!("{id}/input_items")).await;
    assert_eq!(list.status, 200, "{}", list.text());
    let list = list.json();
    assert_eq!(list["object"], "list");
    assert_eq!(list["has_more"], false);
    let data = list["data"].as_array().unwrap();
    let types: Vec<&str> = data.iter().map(|i| i["type"].as_str().unwrap()).collect();
    // Newest first by default.
    assert_eq!(
        types,
        [
            "function_call_output",
            "function_call",
            "message",
            "message"
        ]
    );
    assert_eq!(
        data[2]["content"],
        json!([{"type": "input_text", "text": "weather?"}])
    );
    assert_eq!(list["first_id"], data[0]["id"]);
    let asc = api
        .get(&format!("{id}/input_items?order=asc&limit=2"))
        .await
        .json();
    assert_eq!(asc["data"][0]["role"], "developer");
    assert_eq!(asc["data"].as_array().unwrap().len(), 2);
    assert_eq!(asc["has_more"], true);
    let next = api
        .get(&format!(
            "{id}/input_items?order=asc&after={}",
            asc["last_id"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(next["data"][0]["type"], "function_call");
    let r = api.get(&format!("{id}/input_items?include[]=x")).await;
    assert_eq!(r.status, 400);
    let r = api.get(&format!("{id}?stream=true")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["param"], "stream");
    assert_eq!(api.get("resp_00/input_items").await.status, 404);
}
