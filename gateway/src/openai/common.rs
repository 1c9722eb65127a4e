//! Shapes shared by several resources: tools, tool resources, response formats,
//! metadata, lists and deletions.

use std::collections::BTreeMap;

use assistd_common::json::{json_to_struct, struct_to_json};
use assistd_proto::pb;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::errors::ApiError;

/// Reads a field that may be absent (`None`), null (`Some(None)`) or set.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Metadata as sent: an object of strings (or null).
pub type MetadataIn = Option<BTreeMap<String, String>>;

/// Metadata to proto.
pub fn metadata_to_pb(m: MetadataIn) -> pb::Metadata {
    pb::Metadata { entries: m.unwrap_or_default().into_iter().collect() }
}

/// Metadata from proto.
pub fn metadata_from_pb(m: Option<pb::Metadata>) -> BTreeMap<String, String> {
    m.map(|m| m.entries.into_iter().collect()).unwrap_or_default()
}

/// A tool as sent.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ToolIn {
    /// code_interpreter.
    CodeInterpreter,
    /// file_search.
    FileSearch {
        /// Settings.
        #[serde(default)]
        file_search: Option<FileSearchIn>,
    },
    /// function.
    Function {
        /// Definition.
        function: FunctionIn,
    },
}

/// file_search settings as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSearchIn {
    /// 1-50.
    pub max_num_results: Option<i32>,
    /// Ranking.
    pub ranking_options: Option<RankingOptionsIn>,
}

/// Ranking options as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankingOptionsIn {
    /// Ranker.
    pub ranker: Option<String>,
    /// Threshold.
    pub score_threshold: f64,
}

/// A function definition as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionIn {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// JSON Schema.
    pub parameters: Option<serde_json::Map<String, Value>>,
    /// Strict.
    pub strict: Option<bool>,
}

impl From<ToolIn> for pb::Tool {
    fn from(t: ToolIn) -> Self {
        use pb::tool::Tool;
        let tool = match t {
            ToolIn::CodeInterpreter => Tool::CodeInterpreter(pb::CodeInterpreterTool {}),
            ToolIn::FileSearch { file_search } => {
                let (max_num_results, ranking_options) =
                    file_search.map(|f| (f.max_num_results, f.ranking_options)).unwrap_or_default();
                Tool::FileSearch(pb::FileSearchTool {
                    max_num_results,
                    ranking_options: ranking_options
                        .map(|r| pb::FileSearchRankingOptions { ranker: r.ranker, score_threshold: r.score_threshold }),
                })
            }
            ToolIn::Function { function: FunctionIn { name, description, parameters, strict } } => {
                Tool::Function(pb::FunctionDefinition {
                    name,
                    description,
                    parameters: parameters.map(Value::Object).as_ref().and_then(json_to_struct),
                    strict,
                })
            }
        };
        pb::Tool { tool: Some(tool) }
    }
}

/// A tool as answered.
pub fn tool_out(t: pb::Tool) -> Value {
    use pb::tool::Tool;
    match t.tool {
        Some(Tool::CodeInterpreter(_)) | None => serde_json::json!({"type": "code_interpreter"}),
        Some(Tool::FileSearch(pb::FileSearchTool { max_num_results, ranking_options })) => {
            let mut fs = serde_json::Map::new();
            if let Some(n) = max_num_results {
                fs.insert("max_num_results".into(), n.into());
            }
            let ranking = ranking_options
                .map(|r| serde_json::json!({"ranker": r.ranker.unwrap_or_else(|| "auto".into()), "score_threshold": r.score_threshold}))
                .unwrap_or_else(|| serde_json::json!({"ranker": "default_2024_08_21", "score_threshold": 0.0}));
            fs.insert("ranking_options".into(), ranking);
            serde_json::json!({"type": "file_search", "file_search": fs})
        }
        Some(Tool::Function(pb::FunctionDefinition { name, description, parameters, strict })) => {
            let mut f = serde_json::Map::new();
            f.insert("name".into(), name.into());
            if let Some(d) = description {
                f.insert("description".into(), d.into());
            }
            f.insert(
                "parameters".into(),
                parameters.as_ref().map(struct_to_json).unwrap_or_else(|| serde_json::json!({})),
            );
            f.insert("strict".into(), strict.unwrap_or(false).into());
            serde_json::json!({"type": "function", "function": f})
        }
    }
}

/// Tool resources as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolResourcesIn {
    /// code_interpreter.
    pub code_interpreter: Option<CodeInterpreterIn>,
    /// file_search.
    pub file_search: Option<FileSearchResourcesIn>,
}

/// code_interpreter resources as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeInterpreterIn {
    /// Files.
    #[serde(default)]
    pub file_ids: Vec<String>,
}

/// file_search resources as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSearchResourcesIn {
    /// Existing stores.
    #[serde(default)]
    pub vector_store_ids: Vec<String>,
    /// Stores to create.
    #[serde(default)]
    pub vector_stores: Vec<NewVectorStoreIn>,
}

/// A store to create along, as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVectorStoreIn {
    /// Files.
    #[serde(default)]
    pub file_ids: Vec<String>,
    /// Chunking.
    pub chunking_strategy: Option<ChunkingStrategyIn>,
    /// Metadata.
    pub metadata: MetadataIn,
}

/// A chunking strategy as sent.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChunkingStrategyIn {
    /// 800/400.
    Auto,
    /// Explicit.
    Static {
        /// Sizes.
        r#static: StaticChunkingIn,
    },
}

/// Static chunking sizes as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticChunkingIn {
    /// 100-4096.
    pub max_chunk_size_tokens: i32,
    /// At most half the chunk.
    pub chunk_overlap_tokens: i32,
}

impl From<ChunkingStrategyIn> for pb::ChunkingStrategy {
    fn from(c: ChunkingStrategyIn) -> Self {
        use pb::chunking_strategy::Strategy;
        pb::ChunkingStrategy {
            strategy: Some(match c {
                ChunkingStrategyIn::Auto => Strategy::Auto(pb::AutoChunking {}),
                ChunkingStrategyIn::Static {
                    r#static: StaticChunkingIn { max_chunk_size_tokens, chunk_overlap_tokens },
                } => Strategy::Static(pb::StaticChunking { max_chunk_size_tokens, chunk_overlap_tokens }),
            }),
        }
    }
}

impl From<ToolResourcesIn> for pb::ToolResources {
    fn from(r: ToolResourcesIn) -> Self {
        pb::ToolResources {
            code_interpreter: r.code_interpreter.map(|c| pb::CodeInterpreterResources { file_ids: c.file_ids }),
            file_search: r.file_search.map(|f| pb::FileSearchResources {
                vector_store_ids: f.vector_store_ids,
                vector_stores: f
                    .vector_stores
                    .into_iter()
                    .map(|v| pb::NewVectorStore {
                        file_ids: v.file_ids,
                        chunking_strategy: v.chunking_strategy.map(Into::into),
                        metadata: v.metadata.map(|m| metadata_to_pb(Some(m))),
                    })
                    .collect(),
            }),
        }
    }
}

/// Tool resources as answered (`{}` when none).
pub fn tool_resources_out(r: Option<pb::ToolResources>) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(r) = r {
        if let Some(c) = r.code_interpreter {
            out.insert("code_interpreter".into(), serde_json::json!({"file_ids": c.file_ids}));
        }
        if let Some(f) = r.file_search {
            out.insert("file_search".into(), serde_json::json!({"vector_store_ids": f.vector_store_ids}));
        }
    }
    Value::Object(out)
}

/// A response format as sent: `"auto"` or an object.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ResponseFormatIn {
    /// `"auto"` (or another string, refused in conversion).
    Keyword(String),
    /// An object.
    Object(ResponseFormatObjectIn),
}

/// A response format object as sent.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ResponseFormatObjectIn {
    /// Text.
    Text,
    /// JSON object.
    JsonObject,
    /// JSON schema.
    JsonSchema {
        /// The schema.
        json_schema: JsonSchemaIn,
    },
}

/// A JSON schema format as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonSchemaIn {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Schema.
    pub schema: Option<serde_json::Map<String, Value>>,
    /// Strict.
    pub strict: Option<bool>,
}

impl ResponseFormatIn {
    /// To proto, refusing unknown keywords.
    pub fn into_pb(self, param: &str) -> Result<pb::ResponseFormat, ApiError> {
        use pb::response_format::Format;
        let format = match self {
            ResponseFormatIn::Keyword(k) if k == "auto" => Format::Auto(pb::AutoFormat {}),
            ResponseFormatIn::Keyword(k) => {
                return Err(ApiError::invalid(
                    param,
                    format!("Invalid value: '{k}'. Supported values are: 'auto' or an object with a 'type'."),
                )
                .with_code("invalid_value"));
            }
            ResponseFormatIn::Object(ResponseFormatObjectIn::Text) => Format::Text(pb::TextFormat {}),
            ResponseFormatIn::Object(ResponseFormatObjectIn::JsonObject) => Format::JsonObject(pb::JsonObjectFormat {}),
            ResponseFormatIn::Object(ResponseFormatObjectIn::JsonSchema {
                json_schema: JsonSchemaIn { name, description, schema, strict },
            }) => Format::JsonSchema(pb::JsonSchemaFormat {
                name,
                description,
                schema: schema.map(Value::Object).as_ref().and_then(json_to_struct),
                strict,
            }),
        };
        Ok(pb::ResponseFormat { format: Some(format) })
    }
}

/// A response format as answered (`"auto"` when none).
pub fn response_format_out(r: Option<pb::ResponseFormat>) -> Value {
    use pb::response_format::Format;
    match r.and_then(|r| r.format) {
        None | Some(Format::Auto(_)) => Value::String("auto".into()),
        Some(Format::Text(_)) => serde_json::json!({"type": "text"}),
        Some(Format::JsonObject(_)) => serde_json::json!({"type": "json_object"}),
        Some(Format::JsonSchema(pb::JsonSchemaFormat { name, description, schema, strict })) => {
            let mut js = serde_json::Map::new();
            js.insert("name".into(), name.into());
            if let Some(d) = description {
                js.insert("description".into(), d.into());
            }
            if let Some(s) = schema {
                js.insert("schema".into(), struct_to_json(&s));
            }
            js.insert("strict".into(), strict.unwrap_or(false).into());
            serde_json::json!({"type": "json_schema", "json_schema": js})
        }
    }
}

/// A list page as answered.
#[derive(Debug, Serialize)]
pub struct ListOut<T> {
    /// Always `list`.
    pub object: &'static str,
    /// Items.
    pub data: Vec<T>,
    /// First id (null when empty, as OpenAI).
    pub first_id: Option<String>,
    /// Last id (null when empty, as OpenAI).
    pub last_id: Option<String>,
    /// More follow.
    pub has_more: bool,
}

impl<T> ListOut<T> {
    /// A page.
    pub fn new(data: Vec<T>, first_id: Option<String>, last_id: Option<String>, has_more: bool) -> Self {
        Self { object: "list", data, first_id, last_id, has_more }
    }
}

/// A deletion as answered.
#[derive(Debug, Serialize)]
pub struct DeletedOut {
    /// Id.
    pub id: String,
    /// e.g. `assistant.deleted`.
    pub object: &'static str,
    /// True.
    pub deleted: bool,
}

impl DeletedOut {
    /// From the service reply.
    pub fn new(r: pb::DeleteResponse, object: &'static str) -> Self {
        Self { id: r.id, object, deleted: r.deleted }
    }
}
