//! The model allowlist (`is_allowed_model` and `Allowlist`), on configs
//! built with `arbitrary` from a small set of provider names so that rules
//! collide.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use model_allowlist::{Allowlist, ModelMatcher, ProviderModels, is_allowed_model};

const PROVIDERS: [&str; 4] = ["openai", "anthropic", "groq", ""];

#[derive(Debug, Arbitrary)]
struct Rule {
    prefix: bool,
    value: String,
}

#[derive(Debug, Arbitrary)]
struct Case {
    /// Each inner list is one `ProviderModels` entry (a provider may repeat).
    entries: Vec<(u8, Vec<Rule>)>,
    provider: u8,
    model: String,
    suffix: String,
}

fn name(i: u8) -> &'static str {
    PROVIDERS[usize::from(i) % PROVIDERS.len()]
}

fuzz_target!(|case: Case| {
    let config: Vec<ProviderModels> = case
        .entries
        .iter()
        .map(|(p, rules)| ProviderModels {
            provider: name(*p).to_owned(),
            models: rules
                .iter()
                .map(|r| {
                    if r.prefix {
                        ModelMatcher::Prefix(r.value.clone())
                    } else {
                        ModelMatcher::Exact(r.value.clone())
                    }
                })
                .collect(),
        })
        .collect();
    let provider = name(case.provider);
    let model = case.model.as_str();
    let allowed = is_allowed_model(&config, provider, model);

    // The compiled form agrees with the function.
    let list = Allowlist::new(config.clone());
    assert_eq!(list.is_allowed(provider, model), allowed);

    // Allowed iff some entry of this provider has a matching rule; an empty
    // prefix matches nothing (it cannot decide, so it refuses).
    let expected = config.iter().filter(|e| e.provider == provider).any(|e| {
        e.models.iter().any(|m| match m {
            ModelMatcher::Exact(x) => x == model,
            ModelMatcher::Prefix(x) => !x.is_empty() && model.starts_with(x.as_str()),
        })
    });
    assert_eq!(allowed, expected);

    // Every rule allows what it names, only for its own provider.
    for e in &config {
        for m in &e.models {
            match m {
                ModelMatcher::Exact(x) => assert!(list.is_allowed(&e.provider, x)),
                ModelMatcher::Prefix(x) if x.is_empty() => {
                    let alone = Allowlist::new(vec![ProviderModels {
                        provider: e.provider.clone(),
                        models: vec![m.clone()],
                    }]);
                    assert!(!alone.is_allowed(&e.provider, &case.suffix));
                    assert!(!alone.is_allowed(&e.provider, model));
                }
                ModelMatcher::Prefix(x) => {
                    assert!(list.is_allowed(&e.provider, &format!("{x}{}", case.suffix)))
                }
            }
        }
    }
    assert!(!list.is_allowed("not-configured", model));
    assert!(!is_allowed_model(&[], provider, model));

    // Adding entries never takes a permission away; an empty entry or
    // another provider's rules change nothing.
    let mut more = config.clone();
    more.push(ProviderModels {
        provider: provider.to_owned(),
        models: vec![],
    });
    more.push(ProviderModels {
        provider: format!("{provider}-other"),
        models: vec![ModelMatcher::Prefix(String::new())],
    });
    assert_eq!(is_allowed_model(&more, provider, model), allowed);
    more.push(ProviderModels {
        provider: provider.to_owned(),
        models: vec![ModelMatcher::Exact(case.suffix.clone())],
    });
    assert!(is_allowed_model(&more, provider, model) >= allowed);
    assert!(is_allowed_model(&more, provider, &case.suffix));
});
