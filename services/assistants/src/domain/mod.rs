//! Assistants as plain Rust values, and the rules their fields follow.

use assistd_common::metadata::{self, Metadata};
use assistd_common::tools::{self, ResponseFormat, Tool, ToolResources};
use assistd_common::{ServiceError, ServiceResult};
use serde::{Deserialize, Serialize};

/// Longest name.
pub const MAX_NAME: usize = 256;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 512;
/// Longest instructions.
pub const MAX_INSTRUCTIONS: usize = 256_000;

/// An assistant. Its serde form (without the keys) is what the store keeps, so a
/// new field needs no column: an `Option` reads as `None` from older rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Assistant {
    /// `asst_…` (a column of its own).
    #[serde(skip)]
    pub id: String,
    /// Unix seconds (a column of its own).
    #[serde(skip)]
    pub created_at: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub model: String,
    pub instructions: Option<String>,
    #[serde(default)]
    pub tools: Vec<Tool>,
    pub tool_resources: Option<ToolResources>,
    #[serde(default)]
    pub metadata: Metadata,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub response_format: Option<ResponseFormat>,
    /// One of [`tools::REASONING_EFFORTS`].
    pub reasoning_effort: Option<String>,
}

/// Values given for an assistant's fields; `None` means "not given".
/// For modify, `Some(None)` means "set to null".
#[derive(Debug, Clone, Default)]
pub struct AssistantPatch {
    pub model: Option<String>,
    pub name: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub instructions: Option<Option<String>>,
    pub tools: Option<Vec<Tool>>,
    pub tool_resources: Option<Option<ToolResources>>,
    pub metadata: Option<Metadata>,
    pub temperature: Option<Option<f64>>,
    pub top_p: Option<Option<f64>>,
    pub response_format: Option<Option<ResponseFormat>>,
    pub reasoning_effort: Option<Option<String>>,
}

impl AssistantPatch {
    /// Checks every given field.
    pub fn validate(&self) -> ServiceResult<()> {
        if let Some(model) = &self.model {
            if model.trim().is_empty() {
                return Err(ServiceError::invalid("model", "Invalid 'model': empty string. Expected a model name."));
            }
            tools::validate_len(model, 256, "model")?;
        }
        if let Some(Some(v)) = &self.name {
            tools::validate_len(v, MAX_NAME, "name")?;
        }
        if let Some(Some(v)) = &self.description {
            tools::validate_len(v, MAX_DESCRIPTION, "description")?;
        }
        if let Some(Some(v)) = &self.instructions {
            tools::validate_len(v, MAX_INSTRUCTIONS, "instructions")?;
        }
        if let Some(m) = &self.metadata {
            metadata::validate("metadata", m)?;
        }
        if let Some(Some(t)) = self.temperature {
            tools::validate_range(t, 0.0, 2.0, "temperature")?;
        }
        if let Some(Some(t)) = self.top_p {
            tools::validate_range(t, 0.0, 1.0, "top_p")?;
        }
        if let Some(Some(r)) = &self.reasoning_effort {
            tools::validate_reasoning_effort(r, "reasoning_effort")?;
        }
        Ok(())
    }

    /// A new assistant from a create request; `model` is required.
    pub fn create(self, id: String, created_at: i64) -> ServiceResult<Assistant> {
        self.validate()?;
        let Some(model) = self.model.clone() else {
            return Err(ServiceError::invalid("model", "Missing required parameter: 'model'.")
                .with_code("missing_required_parameter"));
        };
        let mut a = Assistant { id, created_at, model, ..Assistant::default() };
        self.apply_to(&mut a);
        Ok(a)
    }

    /// Writes the given fields into `a`.
    pub fn apply_to(self, a: &mut Assistant) {
        let Self {
            model,
            name,
            description,
            instructions,
            tools,
            tool_resources,
            metadata,
            temperature,
            top_p,
            response_format,
            reasoning_effort,
        } = self;
        if let Some(v) = model {
            a.model = v;
        }
        if let Some(v) = name {
            a.name = v;
        }
        if let Some(v) = description {
            a.description = v;
        }
        if let Some(v) = instructions {
            a.instructions = v;
        }
        if let Some(v) = tools {
            a.tools = v;
        }
        if let Some(v) = tool_resources {
            a.tool_resources = v;
        }
        if let Some(v) = metadata {
            a.metadata = v;
        }
        if let Some(v) = temperature {
            a.temperature = v;
        }
        if let Some(v) = top_p {
            a.top_p = v;
        }
        if let Some(v) = response_format {
            a.response_format = v;
        }
        if let Some(v) = reasoning_effort {
            a.reasoning_effort = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_requires_model() {
        assert_eq!(AssistantPatch::default().create("asst_1".into(), 0).unwrap_err().param.as_deref(), Some("model"));
    }

    #[test]
    fn limits() {
        let p = AssistantPatch { model: Some("m".into()), name: Some(Some("x".repeat(257))), ..Default::default() };
        assert_eq!(p.validate().unwrap_err().param.as_deref(), Some("name"));
        let p = AssistantPatch { model: Some("m".into()), temperature: Some(Some(2.5)), ..Default::default() };
        assert_eq!(p.validate().unwrap_err().param.as_deref(), Some("temperature"));
        let p = AssistantPatch { model: Some("m".into()), temperature: Some(Some(0.7)), ..Default::default() };
        assert_eq!(p.create("asst_1".into(), 0).unwrap().temperature, Some(0.7));
    }
}
