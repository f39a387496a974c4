//! The checks of `run-options` that do not depend on the provider.

use super::{GatewayError, ResponseFormat, RunOptions, ToolChoice, parse_json_object};

impl RunOptions {
    /// Check the option values that do not depend on the provider.
    pub fn validate(&self) -> Result<(), GatewayError> {
        if let Some(ResponseFormat::JsonSchema(s)) = &self.response_format {
            if s.name.is_empty() {
                return Err(GatewayError::validation(
                    "response-format json-schema name is empty",
                ));
            }
            parse_json_object(&s.schema, "response-format json-schema schema")?;
        }
        for (i, t) in self.tools.iter().enumerate() {
            if t.name.is_empty() {
                return Err(GatewayError::validation(format!(
                    "tools[{i}] has an empty name"
                )));
            }
            if let Some(p) = &t.parameters {
                parse_json_object(p, &format!("tools[{i}].parameters"))?;
            }
        }
        if let Some(ToolChoice::Named(n)) = &self.tool_choice
            && !self.tools.iter().any(|t| &t.name == n)
        {
            return Err(GatewayError::validation(format!(
                "tool-choice names {n:?}, which is not among the tools"
            )));
        }
        if let Some(ToolChoice::Required | ToolChoice::Named(_)) = &self.tool_choice
            && self.tools.is_empty()
        {
            return Err(GatewayError::validation(
                "tool-choice requires tools, but none were given",
            ));
        }
        if let Some(t) = self.temperature
            && !(t.is_finite() && t >= 0.0)
        {
            return Err(GatewayError::validation(
                "temperature must be a finite number >= 0",
            ));
        }
        if let Some(t) = self.top_p
            && !(t.is_finite() && (0.0..=1.0).contains(&t))
        {
            return Err(GatewayError::validation("top-p must be between 0 and 1"));
        }
        if self.max_tokens == Some(0) {
            return Err(GatewayError::validation("max-tokens must be at least 1"));
        }
        if let Some(e) = &self.extra_body {
            parse_json_object(e, "extra-body")?;
        }
        for (name, v) in [
            ("presence-penalty", self.presence_penalty),
            ("frequency-penalty", self.frequency_penalty),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && (-2.0..=2.0).contains(&v))
            {
                return Err(GatewayError::validation(format!(
                    "{name} must be between -2 and 2"
                )));
            }
        }
        if let Some((t, b)) = self
            .logit_bias
            .iter()
            .find(|(_, b)| !(-100..=100).contains(b))
        {
            return Err(GatewayError::validation(format!(
                "logit-bias for token {t} is {b}; it must be between -100 and 100"
            )));
        }
        if let Some(n) = self.top_logprobs {
            if n > 20 {
                return Err(GatewayError::validation(
                    "top-logprobs must be between 0 and 20",
                ));
            }
            if !self.logprobs {
                return Err(GatewayError::validation(
                    "top-logprobs needs logprobs = true",
                ));
            }
        }
        if self.metadata.len() > 16 {
            return Err(GatewayError::validation("metadata has more than 16 pairs"));
        }
        if self.parallel_tool_calls.is_some() && self.tools.is_empty() {
            return Err(GatewayError::validation(
                "parallel-tool-calls needs tools, but none were given",
            ));
        }
        for (name, value) in &self.headers {
            crate::validate::check_header(name, value)?;
        }
        Ok(())
    }
}
