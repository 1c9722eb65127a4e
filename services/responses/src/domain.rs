//! Responses as plain Rust values, and the rules a create request follows.

use assistd_common::items::Item;
use assistd_common::metadata::{self, Metadata};
use assistd_common::tools::{self, FunctionDef, RankingOptions};
use assistd_common::{ServiceError, ServiceResult};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest instructions, in characters.
pub const MAX_INSTRUCTIONS: usize = 256_000;
/// Most tools a response may be given.
pub const MAX_TOOLS: usize = 128;
/// Longest chain of previous responses followed.
pub const MAX_CHAIN: usize = 1000;

/// A tool of a response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseTool {
    Function(FunctionDef),
    FileSearch {
        vector_store_ids: Vec<String>,
        filters: Option<Map<String, Value>>,
        max_num_results: Option<i32>,
        ranking_options: Option<RankingOptions>,
    },
    CodeInterpreter {
        /// Empty for an `auto` container.
        container_id: String,
        file_ids: Vec<String>,
    },
}

/// Token counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Why a response failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseError {
    pub code: String,
    pub message: String,
}

/// A response's status.
pub mod status {
    pub const QUEUED: &str = "queued";
    pub const IN_PROGRESS: &str = "in_progress";
    pub const COMPLETED: &str = "completed";
    pub const INCOMPLETE: &str = "incomplete";
    pub const FAILED: &str = "failed";
    pub const CANCELLED: &str = "cancelled";
}

/// A response. Its serde form (without id and creation time) is what the store keeps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    #[serde(skip)]
    pub id: String,
    #[serde(skip)]
    pub created_at: i64,
    pub status: String,
    pub completed_at: Option<i64>,
    pub model: String,
    pub instructions: Option<String>,
    #[serde(default)]
    pub output: Vec<Item>,
    pub previous_response_id: Option<String>,
    pub conversation_id: Option<String>,
    #[serde(default)]
    pub tools: Vec<ResponseTool>,
    pub tool_choice: Option<Value>,
    pub parallel_tool_calls: bool,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_output_tokens: Option<u32>,
    pub max_tool_calls: Option<u32>,
    #[serde(default)]
    pub metadata: Metadata,
    pub text: Option<Map<String, Value>>,
    pub reasoning: Option<Map<String, Value>>,
    pub store: bool,
    pub background: bool,
    pub truncation: String,
    pub user: Option<String>,
    pub safety_identifier: Option<String>,
    pub usage: Option<Usage>,
    pub error: Option<ResponseError>,
    pub incomplete_reason: Option<String>,
}

impl Response {
    /// Whether the response has ended.
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), status::COMPLETED | status::INCOMPLETE | status::FAILED | status::CANCELLED)
    }

    /// A response continues a chain or a conversation, not both.
    pub fn check_one_context(&self) -> ServiceResult<()> {
        if self.previous_response_id.is_some() && self.conversation_id.is_some() {
            return Err(ServiceError::invalid(
                "conversation",
                "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' or 'conversation'.",
            )
            .with_code("mutually_exclusive_parameters"));
        }
        Ok(())
    }

    /// The response as shown to a caller who asked for `include`.
    pub fn shown(mut self, include: &[String]) -> Self {
        self.output = self.output.into_iter().map(|it| it.shown(include)).collect();
        self
    }
}

/// A create request, converted: the response to be, and its input.
#[derive(Debug, Clone)]
pub struct NewResponse {
    /// Every field but id, creation time, status and output.
    pub response: Response,
    pub input: Vec<Item>,
    pub include: Vec<String>,
    /// The items before the input, when the caller gives them (a WebSocket
    /// connection's chain); otherwise the chain or conversation is looked up.
    pub context: Option<Vec<Item>>,
}

impl NewResponse {
    /// Checks the request's rules.
    pub fn validate(&self) -> ServiceResult<()> {
        let r = &self.response;
        if r.model.trim().is_empty() {
            return Err(ServiceError::invalid("model", "Missing required parameter: 'model'.")
                .with_code("missing_required_parameter"));
        }
        tools::validate_len(&r.model, 256, "model")?;
        if let Some(i) = &r.instructions {
            tools::validate_len(i, MAX_INSTRUCTIONS, "instructions")?;
        }
        r.check_one_context()?;
        if let Some(t) = r.temperature {
            tools::validate_range(t, 0.0, 2.0, "temperature")?;
        }
        if let Some(t) = r.top_p {
            tools::validate_range(t, 0.0, 1.0, "top_p")?;
        }
        if let Some(n) = r.max_output_tokens
            && n < 16
        {
            return Err(ServiceError::invalid(
                "max_output_tokens",
                format!("Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got {n} instead."),
            )
            .with_code("integer_below_min_value"));
        }
        metadata::validate("metadata", &r.metadata)?;
        if !["auto", "disabled"].contains(&r.truncation.as_str()) {
            return Err(ServiceError::invalid(
                "truncation",
                format!("Invalid value: '{}'. Supported values are: 'auto' and 'disabled'.", r.truncation),
            ));
        }
        if let Some(s) = &r.safety_identifier {
            tools::validate_len(s, 64, "safety_identifier")?;
        }
        if r.tools.len() > MAX_TOOLS {
            return Err(ServiceError::invalid(
                "tools",
                format!("Invalid 'tools': array too long. Expected an array with maximum length {MAX_TOOLS}."),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, t) in r.tools.iter().enumerate() {
            if let ResponseTool::Function(f) = t
                && !names.insert(f.name.as_str())
            {
                return Err(ServiceError::invalid(
                    format!("tools[{i}].name"),
                    format!("Invalid 'tools[{i}].name': duplicate function name '{}'.", f.name),
                ));
            }
        }
        self.validate_tool_choice(&names)?;
        validate_text(r.text.as_ref())?;
        if self.input.is_empty() && r.previous_response_id.is_none() && r.conversation_id.is_none() {
            return Err(ServiceError::invalid("input", "Missing required parameter: 'input'.")
                .with_code("missing_required_parameter"));
        }
        Ok(())
    }

    fn validate_tool_choice(&self, functions: &std::collections::HashSet<&str>) -> ServiceResult<()> {
        let bad = |msg: String| ServiceError::invalid("tool_choice", msg);
        match &self.response.tool_choice {
            None => Ok(()),
            Some(Value::String(s)) if ["none", "auto", "required"].contains(&s.as_str()) => Ok(()),
            Some(Value::String(s)) => {
                Err(bad(format!("Invalid value: '{s}'. Supported values are: 'none', 'auto' and 'required'.")))
            }
            Some(Value::Object(o)) => match o.get("type").and_then(Value::as_str) {
                Some("function") => match o.get("name").and_then(Value::as_str) {
                    Some(n) if functions.contains(n) => Ok(()),
                    Some(n) => Err(bad(format!("Tool choice '{n}' not found in 'tools' parameter."))),
                    None => Err(ServiceError::invalid(
                        "tool_choice.name",
                        "Missing required parameter: 'tool_choice.name'.",
                    )),
                },
                Some(t @ ("file_search" | "code_interpreter")) => {
                    let offered = self.response.tools.iter().any(|tool| {
                        matches!(
                            (t, tool),
                            ("file_search", ResponseTool::FileSearch { .. })
                                | ("code_interpreter", ResponseTool::CodeInterpreter { .. })
                        )
                    });
                    if offered {
                        Ok(())
                    } else {
                        Err(bad(format!("Tool choice '{t}' not found in 'tools' parameter.")))
                    }
                }
                Some(t) => Err(bad(format!("Invalid value: '{t}'. Tool choice type is not supported by assistd."))),
                None => {
                    Err(ServiceError::invalid("tool_choice.type", "Missing required parameter: 'tool_choice.type'."))
                }
            },
            Some(_) => Err(bad("Invalid 'tool_choice': expected a string or an object.".into())),
        }
    }
}

/// `text.format`: `text`, `json_object`, or `json_schema` with a `name` and a `schema`.
fn validate_text(text: Option<&Map<String, Value>>) -> ServiceResult<()> {
    let Some(format) = text.and_then(|t| t.get("format")) else { return Ok(()) };
    match format.get("type").and_then(Value::as_str) {
        Some("text" | "json_object") => Ok(()),
        Some("json_schema") => {
            let name = format.get("name").and_then(Value::as_str).unwrap_or_default();
            if name.is_empty() {
                return Err(ServiceError::invalid(
                    "text.format.name",
                    "Missing required parameter: 'text.format.name'.",
                )
                .with_code("missing_required_parameter"));
            }
            if !format.get("schema").is_some_and(Value::is_object) {
                return Err(ServiceError::invalid(
                    "text.format.schema",
                    "Missing required parameter: 'text.format.schema'.",
                )
                .with_code("missing_required_parameter"));
            }
            Ok(())
        }
        Some(t) => Err(ServiceError::invalid(
            "text.format.type",
            format!("Invalid value: '{t}'. Supported values are: 'text', 'json_object' and 'json_schema'."),
        )),
        None => Err(ServiceError::invalid("text.format.type", "Missing required parameter: 'text.format.type'.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(f: impl FnOnce(&mut Response)) -> NewResponse {
        let mut response = Response { model: "m".into(), truncation: "disabled".into(), ..Default::default() };
        f(&mut response);
        let input = vec![serde_json::from_value(serde_json::json!({"role": "user", "content": "hi"})).unwrap()];
        NewResponse { response, input, include: vec![], context: None }
    }

    #[test]
    fn rules() {
        new(|_| {}).validate().unwrap();
        let param = |r: NewResponse| r.validate().unwrap_err().param;
        assert_eq!(param(new(|r| r.model.clear())).as_deref(), Some("model"));
        assert_eq!(
            param(new(|r| {
                r.previous_response_id = Some("resp_1".into());
                r.conversation_id = Some("conv_1".into());
            }))
            .as_deref(),
            Some("conversation")
        );
        assert_eq!(param(new(|r| r.temperature = Some(3.0))).as_deref(), Some("temperature"));
        assert_eq!(param(new(|r| r.truncation = "sometimes".into())).as_deref(), Some("truncation"));
        assert_eq!(param(new(|r| r.tool_choice = Some(serde_json::json!("maybe")))).as_deref(), Some("tool_choice"));
        let f = |r: &mut Response| {
            r.tool_choice = Some(serde_json::json!({"type": "function", "name": "nope"}));
        };
        assert_eq!(param(new(f)).as_deref(), Some("tool_choice"));
        let schema = |r: &mut Response| {
            r.text = serde_json::json!({"format": {"type": "json_schema", "schema": {}}}).as_object().cloned();
        };
        assert_eq!(param(new(schema)).as_deref(), Some("text.format.name"));
    }
}
