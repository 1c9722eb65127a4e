//! Tools, tool resources and response formats: the domain types shared by the
//! assistants, threads and runs services, their rules, and their proto conversions.

use assistd_proto::pb;
use serde::{Deserialize, Serialize};

use crate::error::{FieldViolation, FieldViolationExt, PARAM, ServiceError, ServiceResult};
use crate::json::{map_to_struct, struct_to_map};
use crate::metadata::Metadata;

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

/// A tool. Its serde form is OpenAI's request shape (the gateway reads requests
/// straight into it) and the form stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Tool {
    /// Runs Python in a sandbox.
    CodeInterpreter,
    /// Searches the vector stores of the tool resources.
    FileSearch {
        /// Absent or null means the defaults.
        #[serde(default, deserialize_with = "null_as_default")]
        file_search: FileSearchSettings,
    },
    /// A function the client runs.
    Function {
        /// What the model sees of it.
        function: FunctionDef,
    },
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSearchSettings {
    /// 1-50.
    pub max_num_results: Option<i32>,
    pub ranking_options: Option<RankingOptions>,
}

/// file_search ranking options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankingOptions {
    /// `auto` or `default_2024_08_21`.
    pub ranker: Option<String>,
    /// 0-1.
    pub score_threshold: f64,
}

/// A function definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionDef {
    /// `[a-zA-Z0-9_-]{1,64}`.
    pub name: String,
    pub description: Option<String>,
    /// A JSON Schema object.
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
    /// Strict schema adherence.
    pub strict: Option<bool>,
}

/// Resources for tools.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolResources {
    pub code_interpreter: Option<CodeInterpreterResources>,
    pub file_search: Option<FileSearchResources>,
}

/// The files code_interpreter may read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeInterpreterResources {
    #[serde(default)]
    pub file_ids: Vec<String>,
}

/// The vector stores file_search searches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSearchResources {
    #[serde(default)]
    pub vector_store_ids: Vec<String>,
    /// Stores to create for the object (a request-only helper, never stored: the
    /// service makes them and puts their ids in `vector_store_ids`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vector_stores: Vec<NewVectorStore>,
}

/// A vector store to create through `tool_resources.file_search.vector_stores`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVectorStore {
    #[serde(default)]
    pub file_ids: Vec<String>,
    pub chunking_strategy: Option<ChunkingStrategy>,
    pub metadata: Option<Metadata>,
}

/// How a vector store cuts files into chunks (the vector stores service checks the
/// sizes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChunkingStrategy {
    /// 800-token chunks overlapping by 400.
    Auto,
    /// Explicit sizes.
    Static { r#static: StaticChunking },
}

/// Static chunking sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticChunking {
    /// 100-4096.
    pub max_chunk_size_tokens: i32,
    /// At most half the chunk.
    pub chunk_overlap_tokens: i32,
}

/// The format the model answers in. Its serde form is OpenAI's: `"auto"` or an
/// object with a `type` (`{"type": "auto"}`, stored by earlier versions, reads too).
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// The model's default.
    Auto,
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching a schema.
    JsonSchema {
        json_schema: JsonSchema,
    },
}

/// [`ResponseFormat`]'s object form.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ResponseFormatObject {
    Auto,
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchema },
}

impl Serialize for ResponseFormat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let object = match self.clone() {
            ResponseFormat::Auto => return s.serialize_str("auto"),
            ResponseFormat::Text => ResponseFormatObject::Text,
            ResponseFormat::JsonObject => ResponseFormatObject::JsonObject,
            ResponseFormat::JsonSchema { json_schema } => ResponseFormatObject::JsonSchema { json_schema },
        };
        object.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ResponseFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "'auto' or an object with a 'type'")]
        enum Form {
            Keyword(String),
            Object(ResponseFormatObject),
        }
        Ok(match Form::deserialize(d)? {
            Form::Keyword(k) if k == "auto" => ResponseFormat::Auto,
            Form::Keyword(k) => {
                return Err(serde::de::Error::custom(format!(
                    "unknown value '{k}', expected 'auto' or an object with a 'type'"
                )));
            }
            Form::Object(ResponseFormatObject::Auto) => ResponseFormat::Auto,
            Form::Object(ResponseFormatObject::Text) => ResponseFormat::Text,
            Form::Object(ResponseFormatObject::JsonObject) => ResponseFormat::JsonObject,
            Form::Object(ResponseFormatObject::JsonSchema { json_schema }) => {
                ResponseFormat::JsonSchema { json_schema }
            }
        })
    }
}

/// A named JSON schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonSchema {
    /// `[a-zA-Z0-9_-]{1,64}`.
    pub name: String,
    pub description: Option<String>,
    /// A JSON Schema object.
    pub schema: Option<serde_json::Map<String, serde_json::Value>>,
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

/// The `include[]` value of run and run step requests that asks for the content of
/// file_search results.
pub const INCLUDE_FILE_SEARCH_CONTENT: &str = "step_details.tool_calls[*].file_search.results[*].content";

/// Reasoning effort values the API accepts.
pub const REASONING_EFFORTS: &[&str] = &["none", "minimal", "low", "medium", "high", "xhigh", "max"];

fn valid_function_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn array_too_long(max: usize, len: usize) -> FieldViolation {
    FieldViolation::invalid(
        "",
        format!(
            "Invalid '{PARAM}': array too long. Expected an array with maximum length {max}, but got an array with length {len} instead."
        ),
    )
}

impl TryFrom<pb::Tool> for Tool {
    type Error = FieldViolation;

    fn try_from(tool: pb::Tool) -> Result<Self, FieldViolation> {
        use pb::tool::Tool as T;
        match tool.tool {
            None => Err(FieldViolation::missing("type")),
            Some(T::CodeInterpreter(pb::CodeInterpreterTool {})) => Ok(Tool::CodeInterpreter),
            Some(T::FileSearch(pb::FileSearchTool { max_num_results, ranking_options })) => {
                if let Some(n) = max_num_results
                    && !(1..=50).contains(&n)
                {
                    return Err(FieldViolation::invalid(
                        "file_search.max_num_results",
                        format!("Invalid '{PARAM}': expected a value between 1 and 50, but got {n} instead."),
                    ));
                }
                let ranking_options =
                    ranking_options.map(RankingOptions::try_from).transpose().scope("file_search.ranking_options")?;
                Ok(Tool::FileSearch { file_search: FileSearchSettings { max_num_results, ranking_options } })
            }
            Some(T::Function(f)) => Ok(Tool::Function { function: FunctionDef::try_from(f).scope("function")? }),
        }
    }
}

impl From<RankingOptions> for pb::FileSearchRankingOptions {
    fn from(r: RankingOptions) -> Self {
        let RankingOptions { ranker, score_threshold } = r;
        pb::FileSearchRankingOptions { ranker, score_threshold }
    }
}

impl TryFrom<pb::FileSearchRankingOptions> for RankingOptions {
    type Error = FieldViolation;

    fn try_from(r: pb::FileSearchRankingOptions) -> Result<Self, FieldViolation> {
        let pb::FileSearchRankingOptions { ranker, score_threshold } = r;
        if !(0.0..=1.0).contains(&score_threshold) {
            return Err(FieldViolation::invalid("score_threshold", "score_threshold must be between 0 and 1."));
        }
        if let Some(r) = &ranker
            && !["auto", "default_2024_08_21"].contains(&r.as_str())
        {
            return Err(FieldViolation::invalid(
                "ranker",
                format!("Invalid value: '{r}'. Supported values are: 'auto' and 'default_2024_08_21'."),
            ));
        }
        Ok(RankingOptions { ranker, score_threshold })
    }
}

impl TryFrom<pb::FunctionDefinition> for FunctionDef {
    type Error = FieldViolation;

    fn try_from(f: pb::FunctionDefinition) -> Result<Self, FieldViolation> {
        let pb::FunctionDefinition { name, description, parameters, strict } = f;
        if !valid_function_name(&name) {
            return Err(FieldViolation::invalid(
                "name",
                format!(
                    "Invalid '{PARAM}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{{1,64}}$'."
                ),
            ));
        }
        Ok(FunctionDef { name, description, parameters: parameters.as_ref().map(struct_to_map), strict })
    }
}

/// Converts and checks a list of tools (at most `max`, function names unique); the
/// violation's path is relative to the list (`[2].function.name`).
pub fn tools_from_pb(tools: Vec<pb::Tool>, max: usize) -> Result<Vec<Tool>, FieldViolation> {
    if tools.len() > max {
        return Err(array_too_long(max, tools.len()));
    }
    let mut names = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(tools.len());
    for (i, t) in tools.into_iter().enumerate() {
        let at = format!("[{i}]");
        let tool = Tool::try_from(t).scope(&at)?;
        if let Tool::Function { function } = &tool
            && !names.insert(function.name.clone())
        {
            return Err(FieldViolation::invalid(
                "function.name",
                format!("Invalid '{PARAM}': duplicate function name '{}'.", function.name),
            )
            .scope(&at));
        }
        out.push(tool);
    }
    Ok(out)
}

impl From<Tool> for pb::Tool {
    fn from(tool: Tool) -> Self {
        use pb::tool::Tool as T;
        let tool = match tool {
            Tool::CodeInterpreter => T::CodeInterpreter(pb::CodeInterpreterTool {}),
            Tool::FileSearch { file_search: FileSearchSettings { max_num_results, ranking_options } } => {
                T::FileSearch(pb::FileSearchTool { max_num_results, ranking_options: ranking_options.map(Into::into) })
            }
            Tool::Function { function: FunctionDef { name, description, parameters, strict } } => {
                T::Function(pb::FunctionDefinition {
                    name,
                    description,
                    parameters: parameters.as_ref().map(map_to_struct),
                    strict,
                })
            }
        };
        pb::Tool { tool: Some(tool) }
    }
}

impl TryFrom<pb::ToolResources> for ToolResources {
    type Error = FieldViolation;

    /// Checks the list lengths; the `vector_stores` helper is kept for the service to
    /// make (see `VectorStoreRefs::take_helpers`).
    fn try_from(res: pb::ToolResources) -> Result<Self, FieldViolation> {
        let pb::ToolResources { code_interpreter, file_search } = res;
        let code_interpreter = match code_interpreter {
            None => None,
            Some(pb::CodeInterpreterResources { file_ids }) => {
                if file_ids.len() > MAX_CODE_INTERPRETER_FILES {
                    return Err(
                        array_too_long(MAX_CODE_INTERPRETER_FILES, file_ids.len()).scope("code_interpreter.file_ids")
                    );
                }
                Some(CodeInterpreterResources { file_ids })
            }
        };
        let file_search = match file_search {
            None => None,
            Some(pb::FileSearchResources { vector_store_ids, vector_stores }) => {
                if vector_store_ids.len() > MAX_VECTOR_STORES {
                    return Err(
                        array_too_long(MAX_VECTOR_STORES, vector_store_ids.len()).scope("file_search.vector_store_ids")
                    );
                }
                let vector_stores = vector_stores.into_iter().map(NewVectorStore::from).collect();
                Some(FileSearchResources { vector_store_ids, vector_stores })
            }
        };
        Ok(ToolResources { code_interpreter, file_search })
    }
}

impl From<ToolResources> for pb::ToolResources {
    fn from(res: ToolResources) -> Self {
        let ToolResources { code_interpreter, file_search } = res;
        pb::ToolResources {
            code_interpreter: code_interpreter
                .map(|CodeInterpreterResources { file_ids }| pb::CodeInterpreterResources { file_ids }),
            file_search: file_search.map(|FileSearchResources { vector_store_ids, vector_stores }| {
                pb::FileSearchResources {
                    vector_store_ids,
                    vector_stores: vector_stores.into_iter().map(Into::into).collect(),
                }
            }),
        }
    }
}

impl From<pb::NewVectorStore> for NewVectorStore {
    fn from(v: pb::NewVectorStore) -> Self {
        let pb::NewVectorStore { file_ids, chunking_strategy, metadata } = v;
        NewVectorStore {
            file_ids,
            chunking_strategy: chunking_strategy.and_then(ChunkingStrategy::from_pb),
            metadata: metadata.map(|m| m.entries.into_iter().collect()),
        }
    }
}

impl From<NewVectorStore> for pb::NewVectorStore {
    fn from(v: NewVectorStore) -> Self {
        let NewVectorStore { file_ids, chunking_strategy, metadata } = v;
        pb::NewVectorStore {
            file_ids,
            chunking_strategy: chunking_strategy.map(Into::into),
            metadata: metadata.map(|m| pb::Metadata { entries: m.into_iter().collect() }),
        }
    }
}

impl ChunkingStrategy {
    /// The proto strategy; `None` for none set and for `other` (which only the
    /// service reports, never a request).
    pub fn from_pb(c: pb::ChunkingStrategy) -> Option<Self> {
        use pb::chunking_strategy::Strategy;
        match c.strategy? {
            Strategy::Auto(_) => Some(ChunkingStrategy::Auto),
            Strategy::Static(pb::StaticChunking { max_chunk_size_tokens, chunk_overlap_tokens }) => {
                Some(ChunkingStrategy::Static {
                    r#static: StaticChunking { max_chunk_size_tokens, chunk_overlap_tokens },
                })
            }
            Strategy::Other(_) => None,
        }
    }
}

impl From<ChunkingStrategy> for pb::ChunkingStrategy {
    fn from(c: ChunkingStrategy) -> Self {
        use pb::chunking_strategy::Strategy;
        let strategy = match c {
            ChunkingStrategy::Auto => Strategy::Auto(pb::AutoChunking {}),
            ChunkingStrategy::Static { r#static: StaticChunking { max_chunk_size_tokens, chunk_overlap_tokens } } => {
                Strategy::Static(pb::StaticChunking { max_chunk_size_tokens, chunk_overlap_tokens })
            }
        };
        pb::ChunkingStrategy { strategy: Some(strategy) }
    }
}

impl TryFrom<pb::ResponseFormat> for ResponseFormat {
    type Error = FieldViolation;

    fn try_from(rf: pb::ResponseFormat) -> Result<Self, FieldViolation> {
        use pb::response_format::Format;
        Ok(match rf.format {
            None | Some(Format::Auto(_)) => ResponseFormat::Auto,
            Some(Format::Text(_)) => ResponseFormat::Text,
            Some(Format::JsonObject(_)) => ResponseFormat::JsonObject,
            Some(Format::JsonSchema(pb::JsonSchemaFormat { name, description, schema, strict })) => {
                if !valid_function_name(&name) {
                    return Err(FieldViolation::invalid(
                        "json_schema.name",
                        format!("Invalid '{PARAM}': expected a string of 1-64 characters of [a-zA-Z0-9_-]."),
                    ));
                }
                let schema = schema.as_ref().map(struct_to_map);
                ResponseFormat::JsonSchema { json_schema: JsonSchema { name, description, schema, strict } }
            }
        })
    }
}

impl From<ResponseFormat> for pb::ResponseFormat {
    fn from(rf: ResponseFormat) -> Self {
        use pb::response_format::Format;
        let format = match rf {
            ResponseFormat::Auto => Format::Auto(pb::AutoFormat {}),
            ResponseFormat::Text => Format::Text(pb::TextFormat {}),
            ResponseFormat::JsonObject => Format::JsonObject(pb::JsonObjectFormat {}),
            ResponseFormat::JsonSchema { json_schema: JsonSchema { name, description, schema, strict } } => {
                Format::JsonSchema(pb::JsonSchemaFormat {
                    name,
                    description,
                    schema: schema.as_ref().map(map_to_struct),
                    strict,
                })
            }
        };
        pb::ResponseFormat { format: Some(format) }
    }
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
        assert!(Tool::try_from(t("get_weather-2")).is_ok());
        let err = ServiceError::from(tools_from_pb(vec![t("ok"), t("bad name")], 128).unwrap_err().scope("tools"));
        assert_eq!(err.param.as_deref(), Some("tools[1].function.name"));
        assert!(err.message.starts_with("Invalid 'tools[1].function.name': string does not match pattern."));
        let err = ServiceError::from(tools_from_pb(vec![t("a"), t("a")], 128).unwrap_err().scope("tools"));
        assert_eq!(err.param.as_deref(), Some("tools[1].function.name"));
        let err = ServiceError::from(
            tools_from_pb((0..129).map(|i| t(&format!("f{i}"))).collect(), 128).unwrap_err().scope("tools"),
        );
        assert_eq!(err.param.as_deref(), Some("tools"));
        assert!(err.message.contains("maximum length 128"));
    }

    #[test]
    fn tools_round_trip() {
        let tool = Tool::Function {
            function: FunctionDef {
                name: "f".into(),
                description: Some("d".into()),
                parameters: serde_json::json!({"type":"object"}).as_object().cloned(),
                strict: Some(true),
            },
        };
        assert_eq!(Tool::try_from(pb::Tool::from(tool.clone())).unwrap(), tool);
        let s = serde_json::to_string(&tool).unwrap();
        assert_eq!(serde_json::from_str::<Tool>(&s).unwrap(), tool);
    }

    #[test]
    fn request_shapes_read_straight_into_the_domain() {
        let tools: Vec<Tool> = serde_json::from_value(serde_json::json!([
            {"type": "file_search", "file_search": null},
            {"type": "file_search"},
            {"type": "code_interpreter"},
        ]))
        .unwrap();
        assert_eq!(tools[0], Tool::FileSearch { file_search: FileSearchSettings::default() });
        assert_eq!(tools[1], tools[0]);
        assert!(serde_json::from_value::<Tool>(serde_json::json!({"type": "file_search", "x": 1})).is_err());
        assert!(
            serde_json::from_value::<Tool>(
                serde_json::json!({"type": "function", "function": {"name": "f", "parameters": "no"}})
            )
            .is_err()
        );
        let rf: ResponseFormat = serde_json::from_value(serde_json::json!("auto")).unwrap();
        assert_eq!(rf, ResponseFormat::Auto);
        assert_eq!(serde_json::to_value(&rf).unwrap(), serde_json::json!("auto"));
        let stored: ResponseFormat = serde_json::from_value(serde_json::json!({"type": "auto"})).unwrap();
        assert_eq!(stored, ResponseFormat::Auto);
        assert!(serde_json::from_value::<ResponseFormat>(serde_json::json!("json")).is_err());
        let rf = ResponseFormat::JsonSchema {
            json_schema: JsonSchema { name: "s".into(), description: None, schema: None, strict: Some(true) },
        };
        assert_eq!(serde_json::from_value::<ResponseFormat>(serde_json::to_value(&rf).unwrap()).unwrap(), rf);
        let res: ToolResources = serde_json::from_value(serde_json::json!({
            "file_search": {"vector_stores": [{"file_ids": ["file-1"], "chunking_strategy": {"type": "auto"}}]}
        }))
        .unwrap();
        let fs = res.file_search.as_ref().unwrap();
        assert_eq!(fs.vector_stores[0].chunking_strategy, Some(ChunkingStrategy::Auto));
        assert_eq!(ToolResources::try_from(pb::ToolResources::from(res.clone())).unwrap(), res);
    }

    #[test]
    fn resource_limits_name_the_full_path() {
        let res = pb::ToolResources {
            code_interpreter: Some(pb::CodeInterpreterResources { file_ids: vec!["f".into(); 21] }),
            file_search: None,
        };
        let err = ServiceError::from(ToolResources::try_from(res).unwrap_err().scope("tool_resources"));
        assert_eq!(err.param.as_deref(), Some("tool_resources.code_interpreter.file_ids"));
        assert!(err.message.starts_with("Invalid 'tool_resources.code_interpreter.file_ids': array too long."));
    }
}
