//! A call's plan: the targets it may try, in order, and when it moves on
//! from one to the next. The call's own `provider` wins; else the
//! `fallback` chain it gives, or a configured chain named like the model;
//! else the routes, then the default provider. Every target passes the
//! allowlist before anything is sent.

use super::Gateway;
use super::retry::MoveOn;
use super::target::Target;
use crate::error::{GatewayError, Result};
use crate::types::RunOptions;
use crate::validate::check_model;

/// A resolved plan for one call.
#[derive(Debug)]
pub(crate) struct Plan<'g> {
    pub targets: Vec<Target<'g>>,
    pub move_on: MoveOn,
    /// What serves the call, for cache keys and rate limits.
    pub identity: String,
}

impl<'g> Plan<'g> {
    /// A plan of one target, moving on from nothing.
    pub fn single(target: Target<'g>, identity: String) -> Self {
        Self {
            targets: vec![target],
            move_on: MoveOn::Retryable,
            identity,
        }
    }

    /// The first target's provider name (rate limits and logs name it).
    pub fn first_provider(&self) -> Option<&str> {
        self.targets.first().map(Target::provider)
    }
}

impl Gateway {
    pub(crate) fn check_allowed(&self, t: &Target<'_>) -> Result<()> {
        match &self.allowlist {
            Some(a) if !a.is_allowed(&t.endpoint.name, &t.model) => {
                Err(GatewayError::ModelNotAllowed {
                    provider: t.endpoint.name.clone(),
                    model: t.model.clone(),
                })
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn plan(&self, model: &str, opts: &RunOptions) -> Result<Plan<'_>> {
        let chain = match &opts.fallback {
            Some(c) => Some(c),
            None if opts.provider.is_none() => self
                .chains
                .iter()
                .find(|c| c.name == model)
                .map(|c| &c.chain),
            None => None,
        };
        let plan = match chain {
            Some(chain) => {
                if chain.entries.is_empty() {
                    return Err(GatewayError::validation("fallback chain has no entries"));
                }
                let targets = chain
                    .entries
                    .iter()
                    .map(|e| {
                        check_model(&e.model)?;
                        Ok(Target {
                            endpoint: self.endpoint(&e.provider)?,
                            model: e.model.clone(),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let identity = chain
                    .entries
                    .iter()
                    .map(|e| format!("{}/{}", e.provider, e.model))
                    .collect::<Vec<_>>()
                    .join(",");
                let move_on = if chain.on.is_empty() {
                    MoveOn::Retryable
                } else {
                    MoveOn::Kinds(chain.on.clone())
                };
                Plan {
                    targets,
                    move_on,
                    identity,
                }
            }
            None => {
                check_model(model)?;
                let endpoint = self.resolve_provider(model, opts.provider.as_deref())?;
                let target = Target {
                    endpoint,
                    model: model.to_owned(),
                };
                Plan::single(target, endpoint.name.clone())
            }
        };
        for t in &plan.targets {
            self.check_allowed(t)?;
        }
        Ok(plan)
    }
}
