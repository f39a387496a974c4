//! Message parts, reasoning blocks and log-probabilities (WIT 0.2) ⇄
//! domain types.

use crate::component::bindings::exports::workkit::ai_gateway::types as w;
use crate::types as d;

fn media(m: w::Media) -> d::Media {
    d::Media {
        media_type: m.media_type,
        base64: m.base64,
    }
}

pub(super) fn cached(c: Option<w::CacheControl>) -> bool {
    matches!(c, Some(w::CacheControl::Ephemeral))
}

fn reasoning_from(r: w::ReasoningBlock) -> d::ReasoningBlock {
    d::ReasoningBlock {
        text: r.text,
        signature: r.signature,
        redacted: r.redacted,
    }
}

pub(super) fn reasoning_to(r: d::ReasoningBlock) -> w::ReasoningBlock {
    w::ReasoningBlock {
        text: r.text,
        signature: r.signature,
        redacted: r.redacted,
    }
}

pub(super) fn content(c: w::Content) -> d::Content {
    match c {
        w::Content::Text(t) => d::Content::Text(t),
        w::Content::Parts(parts) => d::Content::Parts(
            parts
                .into_iter()
                .map(|p| match p {
                    w::ContentPart::Text(t) => d::Part::Text {
                        text: t.text,
                        cache_control: cached(t.cache_control),
                    },
                    w::ContentPart::Image(i) => d::Part::Image {
                        source: match i.source {
                            w::ImageSource::Url(u) => d::ImageSource::Url(u),
                            w::ImageSource::Inline(m) => d::ImageSource::Inline(media(m)),
                        },
                        detail: i.detail.map(|x| match x {
                            w::ImageDetail::Auto => d::ImageDetail::Auto,
                            w::ImageDetail::Low => d::ImageDetail::Low,
                            w::ImageDetail::High => d::ImageDetail::High,
                        }),
                        cache_control: cached(i.cache_control),
                    },
                    w::ContentPart::Document(x) => d::Part::Document {
                        document: media(x.document),
                        title: x.title,
                        cache_control: cached(x.cache_control),
                    },
                    w::ContentPart::Reasoning(r) => d::Part::Reasoning(reasoning_from(r)),
                })
                .collect(),
        ),
    }
}

pub(super) fn logprob(t: d::TokenLogprob) -> w::TokenLogprob {
    w::TokenLogprob {
        token: t.token,
        logprob: t.logprob,
        bytes: t.bytes,
        top: t
            .top
            .into_iter()
            .map(|a| w::TopLogprob {
                token: a.token,
                logprob: a.logprob,
                bytes: a.bytes,
            })
            .collect(),
    }
}
