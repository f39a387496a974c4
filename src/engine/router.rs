//! Model → provider routing with ordered glob routes (`createRouter` in the
//! TypeScript library). Patterns match ASCII letters in either case: model
//! ids are case-insensitive at most providers, so a `GPT-*` route must not
//! send `gpt-4o` to the fallback.

use crate::config::RouterConfig;
use crate::error::{GatewayError, Result};

/// `*` matches any run of characters (including none), `?` exactly one;
/// everything else matches itself. Linear-time with one backtrack point.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

/// [`glob_match`] with ASCII letters compared in either case.
pub fn glob_match_ignore_case(pattern: &str, text: &str) -> bool {
    glob_match(&pattern.to_ascii_lowercase(), &text.to_ascii_lowercase())
}

/// A validated router.
#[derive(Debug, Clone, Default)]
pub struct Router {
    config: RouterConfig,
}

impl Router {
    pub fn new(config: RouterConfig) -> Result<Self> {
        if let Some(i) = config.routes.iter().position(|r| r.pattern.is_empty()) {
            return Err(GatewayError::validation(format!(
                "router route {i} has an empty pattern"
            )));
        }
        if let Some(i) = config.routes.iter().position(|r| r.provider.is_empty()) {
            return Err(GatewayError::validation(format!(
                "router route {i} names an empty provider"
            )));
        }
        if config.fallback.as_deref() == Some("") {
            return Err(GatewayError::validation(
                "router fallback names an empty provider",
            ));
        }
        Ok(Self { config })
    }

    /// The first matching route's provider, else the fallback.
    pub fn resolve(&self, model: &str) -> Option<&str> {
        self.config
            .routes
            .iter()
            .find(|r| glob_match_ignore_case(&r.pattern, model))
            .map(|r| r.provider.as_str())
            .or(self.config.fallback.as_deref())
    }

    pub fn config(&self) -> &RouterConfig {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Route;

    #[test]
    fn glob_star_and_question_mark() {
        assert!(glob_match("gpt-*", "gpt-4o"));
        assert!(glob_match("gpt-*", "gpt-"));
        assert!(!glob_match("gpt-*", "gp"));
        assert!(glob_match("@cf/*", "@cf/meta/llama-3.1-8b-instruct"));
        assert!(glob_match("claude-?-*", "claude-3-opus"));
        assert!(!glob_match("claude-?-*", "claude-35-opus"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(glob_match("*-mini", "gpt-4o-mini"));
    }

    #[test]
    fn router_first_match_wins_then_fallback() {
        let r = Router::new(RouterConfig {
            routes: vec![
                Route {
                    pattern: "gpt-4o*".into(),
                    provider: "azure".into(),
                },
                Route {
                    pattern: "gpt-*".into(),
                    provider: "openai".into(),
                },
            ],
            fallback: Some("workers".into()),
        })
        .unwrap();
        assert_eq!(r.resolve("gpt-4o-mini"), Some("azure"));
        assert_eq!(r.resolve("gpt-5"), Some("openai"));
        assert_eq!(r.resolve("llama"), Some("workers"));
    }

    #[test]
    fn router_patterns_match_either_case() {
        let r = Router::new(RouterConfig {
            routes: vec![Route {
                pattern: "GPT-*".into(),
                provider: "openai".into(),
            }],
            fallback: Some("workers".into()),
        })
        .unwrap();
        assert_eq!(r.resolve("gpt-4o"), Some("openai"));
        assert_eq!(r.resolve("Gpt-4O-mini"), Some("openai"));
        assert_eq!(r.resolve("llama"), Some("workers"));
        assert!(glob_match_ignore_case("claude-?-OPUS", "Claude-3-opus"));
        assert!(
            !glob_match("GPT-*", "gpt-4o"),
            "glob_match itself stays exact"
        );
    }

    #[test]
    fn router_empty_provider_name_is_validation() {
        let route = |provider: &str| Route {
            pattern: "gpt-*".into(),
            provider: provider.into(),
        };
        let e = Router::new(RouterConfig {
            routes: vec![route("openai"), route("")],
            fallback: None,
        })
        .unwrap_err();
        assert!(
            e.to_string().contains("route 1 names an empty provider"),
            "{e}"
        );
        let e = Router::new(RouterConfig {
            routes: vec![route("openai")],
            fallback: Some(String::new()),
        })
        .unwrap_err();
        assert!(e.to_string().contains("fallback"), "{e}");
    }

    #[test]
    fn router_empty_pattern_is_validation() {
        let cfg = RouterConfig {
            routes: vec![Route {
                pattern: String::new(),
                provider: "a".into(),
            }],
            fallback: None,
        };
        assert!(Router::new(cfg).is_err());
    }
}
