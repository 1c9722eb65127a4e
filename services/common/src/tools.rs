//! Tools, tool resources and response formats: the domain types shared by the
//! assistants, threads and runs services, their rules, and their proto conversions.

use assistd_proto::pb;
use serde::{Deserialize, Serialize};

use crate::error::{ServiceError, ServiceResult};
use crate::json::{json_to_struct, struct_to_json};

/// Most tools an assistant may have.
pub const MAX_ASSISTANT_TOOLS: usize = 128;
/// Most files code_interpreter may be given.
pub const MAX_CODE_INTERPRETER_FILES: usize = 20;
/// Most vector stores file_search may be given.
pub const MAX_VECTOR_STORES: usize = 1;
/// Most queries one vector store search takes (OpenAI documents none; file_search
/// calls send a handful).
pub const MAX_SEARCH_QUERIES: usize = 10;
/// Longest search query, in characters (the embedder reads 256 word pieces of it).
pub const MAX_SEARCH_QUERY_CHARS: usize = 4096;

/// A tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Tool {
    /// code_interpreter.
    CodeInterpreter,
    /// file_search.
    FileSearch {
        /// Settings.
        #[serde(default)]
        file_search: FileSearchSettings,
    },
    /// A function.
    Function {
        /// Definition.
        function: FunctionDef,
    },
}

/// file_search settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileSearchSettings {
    /// 1-50.
    pub max_num_results: Option<i32>,
    /// Ranking options.
    pub ranking_options: Option<RankingOptions>,
}

/// file_search ranking options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankingOptions {
    /// auto or default_2024_08_21.
    pub ranker: Option<String>,
    /// 0-1.
    pub score_threshold: f64,
}

/// A function definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDef {
    /// [a-zA-Z0-9_-]{1,64}.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// JSON Schema.
    pub parameters: Option<serde_json::Value>,
    /// Strict schema adherence.
    pub strict: Option<bool>,
}

/// Resources for tools.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolResources {
    /// code_interpreter files.
    pub code_interpreter: Option<CodeInterpreterResources>,
    /// file_search vector stores.
    pub file_search: Option<FileSearchResources>,
}

/// code_interpreter files.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CodeInterpreterResources {
    /// File ids.
    pub file_ids: Vec<String>,
}

/// file_search vector stores.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileSearchResources {
    /// Vector store ids.
    pub vector_store_ids: Vec<String>,
}

/// The format the model answers in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// "auto".
    Auto,
    /// Text.
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching a schema.
    JsonSchema {
        /// The schema.
        json_schema: JsonSchema,
    },
}

/// A named JSON schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchema {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// The schema.
    pub schema: Option<serde_json::Value>,
    /// Strict.
    pub strict: Option<bool>,
}

impl ToolResources {
    /// The files these resources refer to, as `(param, file_id)`.
    pub fn file_refs(&self, param: &str) -> Vec<(String, String)> {
        self.code_interpreter
            .iter()
            .flat_map(|c| c.file_ids.iter().enumerate())
            .map(|(i, id)| (format!("{param}.code_interpreter.file_ids[{i}]"), id.clone()))
            .collect()
    }

    /// The vector stores these resources refer to, as `(param, vector_store_id)`.
    pub fn vector_store_refs(&self, param: &str) -> Vec<(String, String)> {
        self.file_search
            .iter()
            .flat_map(|f| f.vector_store_ids.iter().enumerate())
            .map(|(i, id)| (format!("{param}.file_search.vector_store_ids[{i}]"), id.clone()))
            .collect()
    }
}

/// Reasoning effort values the API accepts.
pub const REASONING_EFFORTS: &[&str] = &["none", "minimal", "low", "medium", "high", "xhigh", "max"];

fn valid_function_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A proto tool as a domain tool; `param` is its position, e.g. `tools[2]`.
pub fn tool_from_pb(tool: pb::Tool, param: &str) -> ServiceResult<Tool> {
    let pb::Tool { tool } = tool;
    match tool {
        None => {
            Err(ServiceError::invalid(format!("{param}.type"), format!("Missing required parameter: '{param}.type'.")))
        }
        Some(pb::tool::Tool::CodeInterpreter(pb::CodeInterpreterTool {})) => Ok(Tool::CodeInterpreter),
        Some(pb::tool::Tool::FileSearch(pb::FileSearchTool { max_num_results, ranking_options })) => {
            if let Some(n) = max_num_results
                && !(1..=50).contains(&n)
            {
                return Err(ServiceError::invalid(
                    format!("{param}.file_search.max_num_results"),
                    format!(
                        "Invalid '{param}.file_search.max_num_results': expected a value between 1 and 50, but got {n} instead."
                    ),
                ));
            }
            let ranking_options = match ranking_options {
                None => None,
                Some(pb::FileSearchRankingOptions { ranker, score_threshold }) => {
                    if !(0.0..=1.0).contains(&score_threshold) {
                        return Err(ServiceError::invalid(
                            format!("{param}.file_search.ranking_options.score_threshold"),
                            "score_threshold must be between 0 and 1.",
                        ));
                    }
                    if let Some(r) = &ranker
                        && !["auto", "default_2024_08_21"].contains(&r.as_str())
                    {
                        return Err(ServiceError::invalid(
                            format!("{param}.file_search.ranking_options.ranker"),
                            format!("Invalid value: '{r}'. Supported values are: 'auto' and 'default_2024_08_21'."),
                        ));
                    }
                    Some(RankingOptions { ranker, score_threshold })
                }
            };
            Ok(Tool::FileSearch { file_search: FileSearchSettings { max_num_results, ranking_options } })
        }
        Some(pb::tool::Tool::Function(pb::FunctionDefinition { name, description, parameters, strict })) => {
            if !valid_function_name(&name) {
                return Err(ServiceError::invalid(
                    format!("{param}.function.name"),
                    format!(
                        "Invalid '{param}.function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{{1,64}}$'."
                    ),
                ));
            }
            Ok(Tool::Function {
                function: FunctionDef {
                    name,
                    description,
                    parameters: parameters.as_ref().map(struct_to_json),
                    strict,
                },
            })
        }
    }
}

/// Converts and checks a list of tools against `max`.
pub fn tools_from_pb(tools: Vec<pb::Tool>, param: &str, max: usize) -> ServiceResult<Vec<Tool>> {
    if tools.len() > max {
        return Err(ServiceError::invalid(
            param,
            format!(
                "Invalid '{param}': array too long. Expected an array with maximum length {max}, but got an array with length {} instead.",
                tools.len()
            ),
        ));
    }
    let mut names = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(tools.len());
    for (i, t) in tools.into_iter().enumerate() {
        let tool = tool_from_pb(t, &format!("{param}[{i}]"))?;
        if let Tool::Function { function } = &tool
            && !names.insert(function.name.clone())
        {
            return Err(ServiceError::invalid(
                format!("{param}[{i}].function.name"),
                format!("Duplicate function name '{}' in '{param}'.", function.name),
            ));
        }
        out.push(tool);
    }
    Ok(out)
}

/// A domain tool as proto.
pub fn tool_to_pb(tool: Tool) -> pb::Tool {
    let tool = match tool {
        Tool::CodeInterpreter => pb::tool::Tool::CodeInterpreter(pb::CodeInterpreterTool {}),
        Tool::FileSearch { file_search: FileSearchSettings { max_num_results, ranking_options } } => {
            pb::tool::Tool::FileSearch(pb::FileSearchTool {
                max_num_results,
                ranking_options: ranking_options.map(|RankingOptions { ranker, score_threshold }| {
                    pb::FileSearchRankingOptions { ranker, score_threshold }
                }),
            })
        }
        Tool::Function { function: FunctionDef { name, description, parameters, strict } } => {
            pb::tool::Tool::Function(pb::FunctionDefinition {
                name,
                description,
                parameters: parameters.as_ref().and_then(json_to_struct),
                strict,
            })
        }
    };
    pb::Tool { tool: Some(tool) }
}

/// Proto tool resources as domain ones. `vector_stores` (create a store on the fly)
/// belongs to the vector store service and is refused here by the caller.
pub fn tool_resources_from_pb(res: pb::ToolResources, param: &str) -> ServiceResult<ToolResources> {
    let pb::ToolResources { code_interpreter, file_search } = res;
    let code_interpreter = match code_interpreter {
        None => None,
        Some(pb::CodeInterpreterResources { file_ids }) => {
            if file_ids.len() > MAX_CODE_INTERPRETER_FILES {
                return Err(ServiceError::invalid(
                    format!("{param}.code_interpreter.file_ids"),
                    format!(
                        "Invalid '{param}.code_interpreter.file_ids': array too long. Expected an array with maximum length {MAX_CODE_INTERPRETER_FILES}, but got an array with length {} instead.",
                        file_ids.len()
                    ),
                ));
            }
            Some(CodeInterpreterResources { file_ids })
        }
    };
    let file_search = match file_search {
        None => None,
        Some(pb::FileSearchResources { vector_store_ids, vector_stores }) => {
            if vector_store_ids.len() > MAX_VECTOR_STORES {
                return Err(ServiceError::invalid(
                    format!("{param}.file_search.vector_store_ids"),
                    format!(
                        "Invalid '{param}.file_search.vector_store_ids': array too long. Expected an array with maximum length {MAX_VECTOR_STORES}, but got an array with length {} instead.",
                        vector_store_ids.len()
                    ),
                ));
            }
            if !vector_stores.is_empty() {
                return Err(ServiceError::unimplemented(
                    "Creating vector stores through 'tool_resources.file_search.vector_stores'",
                )
                .with_param(format!("{param}.file_search.vector_stores")));
            }
            Some(FileSearchResources { vector_store_ids })
        }
    };
    Ok(ToolResources { code_interpreter, file_search })
}

/// Domain tool resources as proto.
pub fn tool_resources_to_pb(res: ToolResources) -> pb::ToolResources {
    let ToolResources { code_interpreter, file_search } = res;
    pb::ToolResources {
        code_interpreter: code_interpreter
            .map(|CodeInterpreterResources { file_ids }| pb::CodeInterpreterResources { file_ids }),
        file_search: file_search.map(|FileSearchResources { vector_store_ids }| pb::FileSearchResources {
            vector_store_ids,
            vector_stores: vec![],
        }),
    }
}

/// Proto response format as domain.
pub fn response_format_from_pb(rf: pb::ResponseFormat, param: &str) -> ServiceResult<ResponseFormat> {
    let pb::ResponseFormat { format } = rf;
    Ok(match format {
        None | Some(pb::response_format::Format::Auto(_)) => ResponseFormat::Auto,
        Some(pb::response_format::Format::Text(_)) => ResponseFormat::Text,
        Some(pb::response_format::Format::JsonObject(_)) => ResponseFormat::JsonObject,
        Some(pb::response_format::Format::JsonSchema(pb::JsonSchemaFormat { name, description, schema, strict })) => {
            if !valid_function_name(&name) {
                return Err(ServiceError::invalid(
                    format!("{param}.json_schema.name"),
                    format!(
                        "Invalid '{param}.json_schema.name': expected a string of 1-64 characters of [a-zA-Z0-9_-]."
                    ),
                ));
            }
            ResponseFormat::JsonSchema {
                json_schema: JsonSchema { name, description, schema: schema.as_ref().map(struct_to_json), strict },
            }
        }
    })
}

/// Domain response format as proto.
pub fn response_format_to_pb(rf: ResponseFormat) -> pb::ResponseFormat {
    use pb::response_format::Format;
    let format = match rf {
        ResponseFormat::Auto => Format::Auto(pb::AutoFormat {}),
        ResponseFormat::Text => Format::Text(pb::TextFormat {}),
        ResponseFormat::JsonObject => Format::JsonObject(pb::JsonObjectFormat {}),
        ResponseFormat::JsonSchema { json_schema: JsonSchema { name, description, schema, strict } } => {
            Format::JsonSchema(pb::JsonSchemaFormat {
                name,
                description,
                schema: schema.as_ref().and_then(json_to_struct),
                strict,
            })
        }
    };
    pb::ResponseFormat { format: Some(format) }
}

/// Checks a reasoning effort value.
pub fn validate_reasoning_effort(v: &str, param: &str) -> ServiceResult<()> {
    if REASONING_EFFORTS.contains(&v) {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            param,
            format!(
                "Invalid value: '{v}'. Supported values are: {}.",
                REASONING_EFFORTS.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ")
            ),
        ))
    }
}

/// Checks a number is within `[min, max]`.
pub fn validate_range(v: f64, min: f64, max: f64, param: &str) -> ServiceResult<()> {
    if v.is_finite() && v >= min && v <= max {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            param,
            format!(
                "Invalid '{param}': decimal below minimum value or above maximum value. Expected a value between {min} and {max}, but got {v} instead."
            ),
        ))
    }
}

/// Checks a string's length in characters.
pub fn validate_len(v: &str, max: usize, param: &str) -> ServiceResult<()> {
    let n = v.chars().count();
    if n <= max {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            param,
            format!("Invalid '{param}': string too long. Expected a string with maximum length {max}, but got a string with length {n} instead."),
        )
        .with_code("string_above_max_length"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names() {
        let t = |name: &str| pb::Tool {
            tool: Some(pb::tool::Tool::Function(pb::FunctionDefinition { name: name.into(), ..Default::default() })),
        };
        assert!(tool_from_pb(t("get_weather-2"), "tools[0]").is_ok());
        let err = tool_from_pb(t("bad name"), "tools[0]").unwrap_err();
        assert_eq!(err.param.as_deref(), Some("tools[0].function.name"));
        assert!(tools_from_pb(vec![t("a"), t("a")], "tools", 128).is_err());
        assert!(tools_from_pb((0..129).map(|i| t(&format!("f{i}"))).collect(), "tools", 128).is_err());
    }

    #[test]
    fn tools_round_trip() {
        let tool = Tool::Function {
            function: FunctionDef {
                name: "f".into(),
                description: Some("d".into()),
                parameters: Some(serde_json::json!({"type":"object"})),
                strict: Some(true),
            },
        };
        assert_eq!(tool_from_pb(tool_to_pb(tool.clone()), "t").unwrap(), tool);
        let s = serde_json::to_string(&tool).unwrap();
        assert_eq!(serde_json::from_str::<Tool>(&s).unwrap(), tool);
    }
}
