//! Message content (WIT 0.2 `content`): plain text, or a list of parts —
//! text with its own cache hint, images, PDF documents, and reasoning blocks
//! handed back with their signatures. Providers turn these into their own
//! blocks; one that cannot take a part refuses it by name
//! ([`unsupported_part`]), except reasoning, which the WIT documents as a
//! hint for providers without a field for it.

use std::borrow::Cow;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::GatewayError;

/// Inline bytes, base64-encoded (WIT `media`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub media_type: String,
    pub base64: String,
}

/// WIT `image-source`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageSource {
    Url(String),
    Inline(Media),
}

impl ImageSource {
    /// The image as inline bytes, when it is inline or a `data:` URL
    /// (`data:<type>;base64,<data>`); `None` for a URL to fetch.
    pub fn inline(&self) -> Option<Cow<'_, Media>> {
        match self {
            Self::Inline(m) => Some(Cow::Borrowed(m)),
            Self::Url(u) => data_url(u).map(Cow::Owned),
        }
    }

    /// The image as a URL: its own, or a `data:` URL of its bytes.
    pub fn url(&self) -> Cow<'_, str> {
        match self {
            Self::Url(u) => Cow::Borrowed(u),
            Self::Inline(m) => Cow::Owned(format!("data:{};base64,{}", m.media_type, m.base64)),
        }
    }
}

/// Split `data:<type>;base64,<data>`.
fn data_url(url: &str) -> Option<Media> {
    let rest = url.strip_prefix("data:")?;
    let (head, data) = rest.split_once(',')?;
    let media_type = head.strip_suffix(";base64")?;
    Some(Media {
        media_type: media_type.to_owned(),
        base64: data.to_owned(),
    })
}

/// WIT `image-detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageDetail {
    Auto,
    Low,
    High,
}

impl ImageDetail {
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Low => "low",
            Self::High => "high",
        }
    }
}

/// WIT `top-logprob`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TopLogprob {
    pub token: String,
    pub logprob: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<Vec<u8>>,
}

/// WIT `token-logprob`: one output token's log-probability (not content,
/// but it travels with the output text).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TokenLogprob {
    pub token: String,
    pub logprob: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top: Vec<TopLogprob>,
}

/// WIT `reasoning-block`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReasoningBlock {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted: Option<String>,
}

/// WIT `content-part`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Part {
    Text {
        text: String,
        #[serde(default)]
        cache_control: bool,
    },
    Image {
        source: ImageSource,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<ImageDetail>,
        #[serde(default)]
        cache_control: bool,
    },
    Document {
        document: Media,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default)]
        cache_control: bool,
    },
    Reasoning(ReasoningBlock),
}

impl Part {
    /// The part's name in errors: `text`, `image`, `document`, `reasoning`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Image { .. } => "image",
            Self::Document { .. } => "document",
            Self::Reasoning(_) => "reasoning",
        }
    }
}

/// WIT `content`. Serialized untagged, so plain text hashes (cache keys) and
/// stores as the string it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

impl Default for Content {
    fn default() -> Self {
        Self::Text(String::new())
    }
}

impl From<String> for Content {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<&str> for Content {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl Content {
    /// The text of the content: the string, or its text parts joined.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Self::Text(t) => Cow::Borrowed(t),
            Self::Parts(parts) => {
                let mut texts = parts.iter().filter_map(|p| match p {
                    Part::Text { text, .. } => Some(text.as_str()),
                    _ => None,
                });
                match (texts.next(), texts.next()) {
                    (None, _) => Cow::Borrowed(""),
                    (Some(one), None) => Cow::Borrowed(one),
                    (Some(a), Some(b)) => {
                        let mut s = format!("{a}{b}");
                        texts.for_each(|t| s.push_str(t));
                        Cow::Owned(s)
                    }
                }
            }
        }
    }

    /// True when there is no text and no part.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Text(t) => t.is_empty(),
            Self::Parts(p) => p.is_empty(),
        }
    }

    /// The parts (plain text is one text part without a cache hint).
    pub fn parts(&self) -> Cow<'_, [Part]> {
        match self {
            Self::Text(t) => Cow::Owned(vec![Part::Text {
                text: t.clone(),
                cache_control: false,
            }]),
            Self::Parts(p) => Cow::Borrowed(p),
        }
    }

    /// Plain text with no hints: the text when every part is uncached text
    /// (reasoning parts skipped, as providers without a field for them
    /// do), else `None`.
    pub fn plain_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Self::Text(t) => Some(Cow::Borrowed(t)),
            Self::Parts(parts) => parts
                .iter()
                .all(|p| {
                    matches!(
                        p,
                        Part::Text {
                            cache_control: false,
                            ..
                        } | Part::Reasoning(_)
                    )
                })
                .then(|| self.text()),
        }
    }

    /// Bytes the model reads, for the worst-case estimate: text and
    /// reasoning text, and the base64 of inline media (an image a URL
    /// names is counted by its URL; providers bound image tokens well
    /// below their byte size).
    pub fn estimate_bytes(&self) -> usize {
        match self {
            Self::Text(t) => t.len(),
            Self::Parts(parts) => parts
                .iter()
                .map(|p| match p {
                    Part::Text { text, .. } => text.len(),
                    Part::Image { source, .. } => match source {
                        ImageSource::Url(u) => u.len(),
                        ImageSource::Inline(m) => m.base64.len(),
                    },
                    Part::Document { document, .. } => document.base64.len(),
                    Part::Reasoning(r) => r.text.len() + r.redacted.as_ref().map_or(0, String::len),
                })
                .sum(),
        }
    }

    /// Reject malformed parts: media that is not base64 or of the wrong
    /// type, an image URL that is not one, a redacted block with text. `at`
    /// names the message (`messages[2]`). Which role may carry which part
    /// is `types::Input::validate`'s.
    pub fn validate(&self, at: &str) -> Result<(), GatewayError> {
        let Self::Parts(parts) = self else {
            return Ok(());
        };
        for (i, p) in parts.iter().enumerate() {
            let here = format!("{at}.content[{i}]");
            match p {
                Part::Text { .. } => {}
                Part::Image { source, .. } => match source {
                    ImageSource::Url(u) => {
                        if let Some(m) = data_url(u) {
                            check_media(&m, &here, "image/")?;
                        } else if !u.starts_with("https://") && !u.starts_with("http://") {
                            return Err(GatewayError::validation(format!(
                                "{here}: an image URL must be https:, http: or a base64 data: URL"
                            )));
                        }
                    }
                    ImageSource::Inline(m) => check_media(m, &here, "image/")?,
                },
                Part::Document { document, .. } => {
                    if document.media_type != "application/pdf" {
                        return Err(GatewayError::validation(format!(
                            "{here}: a document must be application/pdf, not {:?}",
                            document.media_type
                        )));
                    }
                    check_media(document, &here, "application/")?;
                }
                Part::Reasoning(r) => {
                    if r.redacted.is_some() && !r.text.is_empty() {
                        return Err(GatewayError::validation(format!(
                            "{here}: a redacted reasoning block has no text"
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

fn check_media(m: &Media, at: &str, family: &str) -> Result<(), GatewayError> {
    if !m.media_type.starts_with(family) {
        return Err(GatewayError::validation(format!(
            "{at}: media type {:?} is not {family}*",
            m.media_type
        )));
    }
    if m.base64.is_empty() {
        return Err(GatewayError::validation(format!("{at}: the data is empty")));
    }
    base64::engine::general_purpose::STANDARD
        .decode(m.base64.as_bytes())
        .map_err(|e| GatewayError::validation(format!("{at}: the data is not base64: {e}")))?;
    Ok(())
}

/// The error for a part a provider cannot take.
pub fn unsupported_part(provider: &str, at: &str, part: &Part) -> GatewayError {
    GatewayError::validation(format!(
        "{provider} does not accept {} parts ({at})",
        part.name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png() -> Media {
        Media {
            media_type: "image/png".into(),
            base64: "iVBORw0KGgo=".into(),
        }
    }

    #[test]
    fn plain_text_serializes_as_a_string() {
        let c = Content::Text("hi".into());
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"hi\"");
        let back: Content = serde_json::from_str("\"hi\"").unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn parts_round_trip() {
        let c = Content::Parts(vec![
            Part::Text {
                text: "a".into(),
                cache_control: true,
            },
            Part::Image {
                source: ImageSource::Inline(png()),
                detail: None,
                cache_control: false,
            },
        ]);
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Content>(&s).unwrap(), c);
    }

    #[test]
    fn text_joins_text_parts_only() {
        let c = Content::Parts(vec![
            Part::Text {
                text: "a".into(),
                cache_control: false,
            },
            Part::Reasoning(ReasoningBlock {
                text: "hidden".into(),
                ..ReasoningBlock::default()
            }),
            Part::Text {
                text: "b".into(),
                cache_control: false,
            },
        ]);
        assert_eq!(c.text(), "ab");
        assert_eq!(c.plain_text().as_deref(), Some("ab"));
    }

    #[test]
    fn data_urls_unpack_and_pack() {
        let s = ImageSource::Url("data:image/png;base64,iVBORw0KGgo=".into());
        assert_eq!(s.inline().unwrap().into_owned(), png());
        assert_eq!(
            ImageSource::Inline(png()).url(),
            "data:image/png;base64,iVBORw0KGgo="
        );
        assert!(
            ImageSource::Url("https://x/y.png".into())
                .inline()
                .is_none()
        );
    }

    #[test]
    fn validate_refuses_bad_base64_wrong_roles_and_types() {
        let img = |m: Media| {
            Content::Parts(vec![Part::Image {
                source: ImageSource::Inline(m),
                detail: None,
                cache_control: false,
            }])
        };
        assert!(img(png()).validate("messages[0]").is_ok());
        let e = img(Media {
            base64: "not base64!".into(),
            ..png()
        })
        .validate("messages[0]")
        .unwrap_err();
        assert!(e.to_string().contains("messages[0].content[0]"), "{e}");
        assert!(e.to_string().contains("not base64"), "{e}");
        let doc = Content::Parts(vec![Part::Document {
            document: png(),
            title: None,
            cache_control: false,
        }]);
        assert!(doc.validate("m").is_err());
        let r = Content::Parts(vec![Part::Reasoning(ReasoningBlock {
            text: "t".into(),
            signature: None,
            redacted: Some("d".into()),
        })]);
        assert!(r.validate("m").is_err());
        let bad = Content::Parts(vec![Part::Image {
            source: ImageSource::Url("file:///etc/passwd".into()),
            detail: None,
            cache_control: false,
        }]);
        assert!(bad.validate("m").is_err());
    }
}
