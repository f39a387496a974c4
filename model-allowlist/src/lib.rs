//! Per-provider model allowlist (`createModelAllowlist` in the TypeScript
//! library @workkit/ai-gateway): which models each provider may serve.
//!
//! A leaf crate on purpose: `no_std` with only `alloc`'s `String` and
//! `Vec`, and no dependency, so the gateway (`ai-gateway`) and the
//! standalone allowlist component (`allowlist/`, 20 KB, no WASI) share one
//! matcher, and each names the dependency in its `Cargo.toml`.

#![no_std]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

/// One rule (WIT `model-matcher`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelMatcher {
    Exact(String),
    Prefix(String),
}

/// The rules for one provider (WIT `provider-models`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderModels {
    pub provider: String,
    pub models: Vec<ModelMatcher>,
}

/// Whether `provider` may serve `model` under `config`: exact rules use
/// equality, prefix rules `starts_with`; unknown providers and empty rule
/// lists allow nothing, and so does an empty prefix (a control that cannot
/// decide refuses). When a provider appears more than once, any entry may
/// allow.
pub fn is_allowed_model(config: &[ProviderModels], provider: &str, model: &str) -> bool {
    config.iter().filter(|p| p.provider == provider).any(|p| {
        p.models.iter().any(|m| match m {
            ModelMatcher::Exact(e) => e == model,
            ModelMatcher::Prefix(pre) => !pre.is_empty() && model.starts_with(pre.as_str()),
        })
    })
}

/// A compiled allowlist.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    config: Vec<ProviderModels>,
}

impl Allowlist {
    pub fn new(config: Vec<ProviderModels>) -> Self {
        Self { config }
    }

    pub fn is_allowed(&self, provider: &str, model: &str) -> bool {
        is_allowed_model(&self.config, provider, model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn cfg() -> Vec<ProviderModels> {
        vec![
            ProviderModels {
                provider: "anthropic".into(),
                models: vec![
                    ModelMatcher::Exact("claude-opus-4-7".into()),
                    ModelMatcher::Exact("claude-sonnet-4-6".into()),
                ],
            },
            ProviderModels {
                provider: "groq".into(),
                models: vec![ModelMatcher::Prefix("llama-3.1-".into())],
            },
            ProviderModels {
                provider: "empty".into(),
                models: vec![],
            },
        ]
    }

    #[test]
    fn allowlist_exact_rule_is_strict_equality() {
        let a = Allowlist::new(cfg());
        assert!(a.is_allowed("anthropic", "claude-sonnet-4-6"));
        assert!(!a.is_allowed("anthropic", "claude-sonnet-4-6-20250101"));
        assert!(!a.is_allowed("anthropic", "Claude-sonnet-4-6"));
    }

    #[test]
    fn allowlist_prefix_rule_is_starts_with() {
        let a = Allowlist::new(cfg());
        assert!(a.is_allowed("groq", "llama-3.1-8b-instant"));
        assert!(!a.is_allowed("groq", "llama-3.2-1b"));
    }

    #[test]
    fn allowlist_empty_prefix_matches_nothing() {
        let cfg = vec![ProviderModels {
            provider: "openai".into(),
            models: vec![ModelMatcher::Prefix(String::new())],
        }];
        assert!(!is_allowed_model(&cfg, "openai", "gpt-4o"));
        assert!(!is_allowed_model(&cfg, "openai", ""));
        assert!(!Allowlist::new(cfg).is_allowed("openai", "anything"));
    }

    #[test]
    fn allowlist_unknown_provider_and_empty_list_are_false() {
        assert!(!is_allowed_model(&cfg(), "openai", "gpt-4o"));
        assert!(!is_allowed_model(&cfg(), "empty", "anything"));
        assert!(!is_allowed_model(&[], "anthropic", "claude-opus-4-7"));
    }
}
