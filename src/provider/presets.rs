//! OpenAI-compatible presets: a kind per well-known server that speaks
//! OpenAI's Chat Completions format, so a user names the kind and a key.
//! Each preset owns its base URL, its Cloudflare AI Gateway route, the
//! typed options its API reference says it does not take (refused by name,
//! as the WIT's rule asks), and its few differences from OpenAI's format
//! ([`Quirks`], applied by `openai/mod.rs`). (A leaf; see
//! `provider/defaults.rs`.)

use crate::provider::defaults::{CfGatewayRoute, ProviderDefaults};

/// The presets, in the WIT's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Groq,
    Mistral,
    DeepSeek,
    Xai,
    OpenRouter,
    Together,
    Fireworks,
    Perplexity,
    Cerebras,
    Ollama,
    Vllm,
}

/// Where a preset differs from OpenAI's own Chat Completions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quirks {
    /// The name of the sampling seed (`random_seed` at Mistral).
    pub seed_field: &'static str,
    /// What `tool-choice required` is called (`any` at Mistral); `None`
    /// when the server cannot force a tool call (then it is refused).
    pub required_tool_choice: Option<&'static str>,
    /// A named tool choice is honoured.
    pub named_tool_choice: bool,
    /// `stream_options: {include_usage: true}` is accepted (Mistral sends
    /// usage in the last chunk without it and refuses unknown fields).
    pub stream_options: bool,
}

/// OpenAI's own behaviour, which most servers copy.
pub const OPENAI_QUIRKS: Quirks = Quirks {
    seed_field: "seed",
    required_tool_choice: Some("required"),
    named_tool_choice: true,
    stream_options: true,
};

const fn cf(slug: &'static str, prefix: &'static str) -> Option<CfGatewayRoute> {
    Some(CfGatewayRoute {
        slug,
        prefix,
        chat_path: Some("chat/completions"),
    })
}

const fn preset(
    kind: &'static str,
    base_url: &'static str,
    cf_gateway: Option<CfGatewayRoute>,
) -> ProviderDefaults {
    ProviderDefaults {
        kind,
        base_url,
        cf_gateway,
        needs: &[],
        default_region: None,
    }
}

const GROQ: ProviderDefaults = preset("groq", "https://api.groq.com/openai/v1", cf("groq", ""));
const MISTRAL: ProviderDefaults =
    preset("mistral", "https://api.mistral.ai/v1", cf("mistral", "v1"));
const DEEPSEEK: ProviderDefaults =
    preset("deepseek", "https://api.deepseek.com", cf("deepseek", ""));
const XAI: ProviderDefaults = preset("xai", "https://api.x.ai/v1", cf("grok", "v1"));
const OPENROUTER: ProviderDefaults = preset(
    "openrouter",
    "https://openrouter.ai/api/v1",
    cf("openrouter", ""),
);
const TOGETHER: ProviderDefaults = preset("together", "https://api.together.xyz/v1", None);
const FIREWORKS: ProviderDefaults =
    preset("fireworks", "https://api.fireworks.ai/inference/v1", None);
const PERPLEXITY: ProviderDefaults = preset(
    "perplexity",
    "https://api.perplexity.ai",
    cf("perplexity-ai", ""),
);
const CEREBRAS: ProviderDefaults =
    preset("cerebras", "https://api.cerebras.ai/v1", cf("cerebras", ""));
const OLLAMA: ProviderDefaults = preset("ollama", "http://localhost:11434/v1", None);
const VLLM: ProviderDefaults = preset("vllm", "http://localhost:8000/v1", None);

impl Preset {
    /// The preset's defaults.
    pub fn defaults(self) -> &'static ProviderDefaults {
        match self {
            Self::Groq => &GROQ,
            Self::Mistral => &MISTRAL,
            Self::DeepSeek => &DEEPSEEK,
            Self::Xai => &XAI,
            Self::OpenRouter => &OPENROUTER,
            Self::Together => &TOGETHER,
            Self::Fireworks => &FIREWORKS,
            Self::Perplexity => &PERPLEXITY,
            Self::Cerebras => &CEREBRAS,
            Self::Ollama => &OLLAMA,
            Self::Vllm => &VLLM,
        }
    }

    /// The typed options (WIT names) the server's API reference does not
    /// list, as of 2026-12. Where a reference is silent or unclear the
    /// option is sent, and the server's own error (a `validation`) tells.
    pub fn refused_options(self) -> &'static [&'static str] {
        match self {
            // "logprobs, logit_bias, top_logprobs: not supported" (Groq's
            // OpenAI compatibility page).
            Self::Groq => &["logit-bias", "logprobs", "metadata", "service-tier"],
            Self::Mistral => &[
                "logit-bias",
                "logprobs",
                "end-user",
                "metadata",
                "service-tier",
            ],
            Self::DeepSeek => &[
                "logit-bias",
                "seed",
                "parallel-tool-calls",
                "metadata",
                "service-tier",
            ],
            Self::Xai => &["metadata", "service-tier"],
            Self::OpenRouter | Self::Together | Self::Fireworks => &["metadata", "service-tier"],
            Self::Perplexity => &[
                "logit-bias",
                "logprobs",
                "seed",
                "parallel-tool-calls",
                "metadata",
                "service-tier",
            ],
            Self::Cerebras => &[
                "presence-penalty",
                "frequency-penalty",
                "logit-bias",
                "metadata",
                "service-tier",
            ],
            // Ollama's OpenAI compatibility page lists what it takes; these
            // are not among them.
            Self::Ollama => &[
                "logit-bias",
                "logprobs",
                "parallel-tool-calls",
                "end-user",
                "metadata",
                "service-tier",
            ],
            Self::Vllm => &["service-tier"],
        }
    }

    /// Where the preset differs from OpenAI's format.
    pub fn quirks(self) -> Quirks {
        match self {
            Self::Mistral => Quirks {
                seed_field: "random_seed",
                required_tool_choice: Some("any"),
                named_tool_choice: true,
                stream_options: false,
            },
            // Ollama ignores `tool_choice`: forcing a call cannot be honoured.
            Self::Ollama => Quirks {
                required_tool_choice: None,
                named_tool_choice: false,
                ..OPENAI_QUIRKS
            },
            // Perplexity's Sonar models take no tool choice.
            Self::Perplexity => Quirks {
                required_tool_choice: None,
                named_tool_choice: false,
                ..OPENAI_QUIRKS
            },
            _ => OPENAI_QUIRKS,
        }
    }
}

#[cfg(test)]
mod tests;
