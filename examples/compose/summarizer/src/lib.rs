//! A component built on the gateway: `summarize` opens a gateway with the
//! caller's config and asks the model for a summary. It imports
//! `workkit:ai-gateway/api`; composed with `ai-gateway.wasm` by `wac plug`,
//! the result imports only WASI.

/// The instruction sent with the text.
pub fn instruction(max_words: u32) -> String {
    format!("Summarize the user's text in at most {max_words} words. Answer with the summary only.")
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
        wit_bindgen::generate!({
            world: "example:summarizer/summarizer@0.1.0",
            path: ["../../../wit", "wit"],
            generate_all,
        });
    }

    use bindings::exports::example::summarizer::summarize::{Guest, Provider};
    use bindings::workkit::ai_gateway::api;
    use bindings::workkit::ai_gateway::types::{
        AiInput, Content, GatewayConfig, Message, ProviderConfig, ProviderKind, Role, RunOptions,
        WireFormat,
    };

    fn message(role: Role, content: String) -> Message {
        Message {
            role,
            content: Content::Text(content),
            cache_control: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    fn config(p: &Provider) -> GatewayConfig {
        let component = p.base_url.starts_with("component://");
        GatewayConfig {
            providers: vec![ProviderConfig {
                name: "summarizer".into(),
                kind: if component {
                    ProviderKind::Custom
                } else {
                    ProviderKind::Openai
                },
                api_key: p.api_key.clone(),
                base_url: Some(p.base_url.clone()),
                account_id: None,
                wire_format: component.then_some(WireFormat::Openai),
                api_version: None,
                headers: Vec::new(),
                region: None,
                project: None,
                resource_name: None,
                aws_credentials: None,
                key_auth: None,
            }],
            default_provider: Some("summarizer".into()),
            cf_gateway: None,
            router: None,
            retry: None,
            chains: Vec::new(),
            cache: None,
            cost: None,
            rate_limits: None,
            allowlist: None,
            logging: None,
            timeout_ms: Some(30_000),
            attempt_timeouts: None,
        }
    }

    struct Summarizer;

    impl Guest for Summarizer {
        fn summarize(provider: Provider, text: String, max_words: u32) -> Result<String, String> {
            let gateway = api::open(&config(&provider)).map_err(|e| format!("{e:?}"))?;
            let input = AiInput::Messages(vec![
                message(Role::System, super::instruction(max_words)),
                message(Role::User, text),
            ]);
            let options = RunOptions {
                provider: None,
                timeout_ms: None,
                response_format: None,
                tools: Vec::new(),
                tool_choice: None,
                max_tokens: Some(max_words.saturating_mul(3).max(16)),
                temperature: Some(0.2),
                top_p: None,
                stop: Vec::new(),
                reasoning_effort: None,
                extra_body: None,
                headers: Vec::new(),
                retry: None,
                fallback: None,
                cache: None,
                cache_key: None,
                caller: None,
                parallel_tool_calls: None,
                presence_penalty: None,
                frequency_penalty: None,
                logit_bias: Vec::new(),
                seed: None,
                logprobs: None,
                top_logprobs: None,
                end_user: None,
                metadata: Vec::new(),
                service_tier: None,
                request_id: None,
            };
            let out = gateway
                .run(&provider.model, &input, Some(&options))
                .map_err(|e| format!("{e:?}"))?;
            Ok(out.text.trim().to_owned())
        }
    }

    bindings::export!(Summarizer with_types_in bindings);
}
