//! A provider written as a component: it speaks the OpenAI Chat Completions
//! wire format (JSON and SSE) and answers every chat with
//! `echo: <last user message>`. Plugged into the `gateway-with-providers`
//! build with `wac plug`, it serves `custom` providers whose base URL is
//! `component://...` -- no network involved.

use serde_json::{Value, json};

/// (status, content type, body) for one request body.
pub fn answer(url: &str, body: &[u8]) -> (u16, &'static str, Vec<u8>) {
    if !url.ends_with("/chat/completions") {
        let e = json!({"error": {"message": format!("echo-provider serves /chat/completions, not {url}"), "type": "not_found"}});
        return (404, "application/json", e.to_string().into_bytes());
    }
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return (
            400,
            "application/json",
            br#"{"error":{"message":"body is not JSON","type":"invalid_request_error"}}"#.to_vec(),
        );
    };
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("echo")
        .to_owned();
    let last = req
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| {
            m.iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        })
        .and_then(|m| m.get("content"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let text = format!("echo: {last}");
    let prompt_tokens = last.split_whitespace().count();
    let completion_tokens = text.split_whitespace().count();
    let usage = json!({"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens});
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        let mut sse = String::new();
        let chunk = |delta: Value, finish: Value| {
            json!({"id": "echo-1", "object": "chat.completion.chunk", "model": model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        };
        sse.push_str(&format!(
            "data: {}\n\n",
            chunk(json!({"role": "assistant", "content": ""}), Value::Null)
        ));
        for word in text.split_inclusive(' ') {
            sse.push_str(&format!(
                "data: {}\n\n",
                chunk(json!({"content": word}), Value::Null)
            ));
        }
        sse.push_str(&format!("data: {}\n\n", chunk(json!({}), json!("stop"))));
        sse.push_str(&format!("data: {}\n\n", json!({"id": "echo-1", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": usage})));
        sse.push_str("data: [DONE]\n\n");
        return (200, "text/event-stream", sse.into_bytes());
    }
    let reply = json!({
        "id": "echo-1", "object": "chat.completion", "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": usage,
    });
    (200, "application/json", reply.to_string().into_bytes())
}

#[cfg(target_arch = "wasm32")]
#[allow(
    unsafe_code,
    reason = "wit-bindgen's generated ABI glue is unsafe by nature"
)]
mod component {
    #[allow(
        clippy::all,
        missing_debug_implementations,
        unused_qualifications,
        reason = "generated bindings"
    )]
    mod bindings {
        wit_bindgen::generate!({ world: "provider", path: "../../../wit" });
    }

    use bindings::exports::workkit::ai_gateway::http_provider::{
        Guest, ProviderRequest, ProviderResponse,
    };

    struct Echo;

    impl Guest for Echo {
        fn handle(request: ProviderRequest) -> Result<ProviderResponse, String> {
            let (status, content_type, body) = super::answer(&request.url, &request.body);
            Ok(ProviderResponse {
                status,
                headers: vec![("content-type".into(), content_type.into())],
                body,
            })
        }
    }

    bindings::export!(Echo with_types_in bindings);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_answers_last_user_message() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"first"},{"role":"assistant","content":"x"},{"role":"user","content":"hello there"}]}"#;
        let (status, _, out) = answer("component://echo/v1/chat/completions", body);
        assert_eq!(status, 200);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "echo: hello there");
        assert_eq!(v["usage"]["prompt_tokens"], 2);
    }

    #[test]
    fn echo_streams_sse_with_done() {
        let (_, ct, out) = answer(
            "component://echo/v1/chat/completions",
            br#"{"messages":[{"role":"user","content":"hi"}],"stream":true}"#,
        );
        assert_eq!(ct, "text/event-stream");
        assert!(
            String::from_utf8(out)
                .unwrap()
                .ends_with("data: [DONE]\n\n")
        );
    }

    #[test]
    fn echo_unknown_path_is_404() {
        assert_eq!(answer("component://echo/v1/embeddings", b"{}").0, 404);
    }
}
