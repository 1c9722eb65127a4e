//! Shapes shared by several resources: tools, tool resources and response formats as
//! answered (requests read them straight into `assistd_common::tools`), metadata,
//! lists and deletions.

use assistd_common::json::struct_to_map;
use assistd_common::metadata::Metadata;
use assistd_proto::pb;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Reads a field that may be absent (`None`), null (`Some(None)`) or set.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Metadata as sent: an object of strings (or null).
pub type MetadataIn = Option<Metadata>;

/// Metadata to proto.
pub fn metadata_to_pb(m: MetadataIn) -> pb::Metadata {
    pb::Metadata { entries: m.unwrap_or_default().into_iter().collect() }
}

/// Metadata from proto (`{}` when none).
pub fn metadata_from_pb(m: Option<pb::Metadata>) -> Metadata {
    m.map(|m| m.entries.into_iter().collect()).unwrap_or_default()
}

/// A tool as answered (`AssistantToolsCode`, `AssistantToolsFileSearch`,
/// `AssistantToolsFunction`); a tool the service left unset reads as
/// code_interpreter.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolOut {
    CodeInterpreter,
    FileSearch { file_search: FileSearchOut },
    Function { function: FunctionOut },
}

/// file_search settings as answered: `ranking_options` always present.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileSearchOut {
    /// Absent when unset (the service's default applies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_num_results: Option<i32>,
    pub ranking_options: RankingOptionsOut,
}

/// `FileSearchRankingOptions` as answered. Unset options read as
/// `{"ranker": "default_2024_08_21", "score_threshold": 0.0}`; options without a
/// ranker as ranker `auto`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankingOptionsOut {
    pub ranker: String,
    /// 0-1.
    pub score_threshold: f64,
}

impl From<Option<pb::FileSearchRankingOptions>> for RankingOptionsOut {
    fn from(r: Option<pb::FileSearchRankingOptions>) -> Self {
        match r {
            Some(pb::FileSearchRankingOptions { ranker, score_threshold }) => {
                RankingOptionsOut { ranker: ranker.unwrap_or_else(|| "auto".into()), score_threshold }
            }
            None => RankingOptionsOut { ranker: "default_2024_08_21".into(), score_threshold: 0.0 },
        }
    }
}

/// `FunctionObject` as answered: `description` absent when unset, `parameters` `{}`
/// when unset, `strict` false when unset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionOut {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON Schema object.
    pub parameters: Map<String, Value>,
    pub strict: bool,
}

impl From<pb::Tool> for ToolOut {
    fn from(t: pb::Tool) -> Self {
        use pb::tool::Tool;
        match t.tool {
            Some(Tool::CodeInterpreter(pb::CodeInterpreterTool {})) | None => ToolOut::CodeInterpreter,
            Some(Tool::FileSearch(pb::FileSearchTool { max_num_results, ranking_options })) => ToolOut::FileSearch {
                file_search: FileSearchOut { max_num_results, ranking_options: ranking_options.into() },
            },
            Some(Tool::Function(pb::FunctionDefinition { name, description, parameters, strict })) => {
                ToolOut::Function {
                    function: FunctionOut {
                        name,
                        description,
                        parameters: parameters.as_ref().map(struct_to_map).unwrap_or_default(),
                        strict: strict.unwrap_or(false),
                    },
                }
            }
        }
    }
}

/// Tool resources as answered: `{}` when none; the `vector_stores` helper of
/// requests is never answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ToolResourcesOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_interpreter: Option<CodeInterpreterResourcesOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_search: Option<FileSearchResourcesOut>,
}

/// The files code_interpreter may read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CodeInterpreterResourcesOut {
    pub file_ids: Vec<String>,
}

/// The vector stores file_search searches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileSearchResourcesOut {
    pub vector_store_ids: Vec<String>,
}

impl From<Option<pb::ToolResources>> for ToolResourcesOut {
    fn from(r: Option<pb::ToolResources>) -> Self {
        let pb::ToolResources { code_interpreter, file_search } = r.unwrap_or_default();
        ToolResourcesOut {
            code_interpreter: code_interpreter
                .map(|pb::CodeInterpreterResources { file_ids }| CodeInterpreterResourcesOut { file_ids }),
            file_search: file_search.map(|pb::FileSearchResources { vector_store_ids, vector_stores: _ }| {
                FileSearchResourcesOut { vector_store_ids }
            }),
        }
    }
}

/// A response format as answered: the string `"auto"` (also when unset), or an
/// object with a `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ResponseFormatOut {
    /// Always `auto`.
    Keyword(&'static str),
    Object(ResponseFormatObjectOut),
}

/// The object forms of [`ResponseFormatOut`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormatObjectOut {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaOut },
}

/// `ResponseFormatJsonSchema.json_schema` as answered: `description` and `schema`
/// absent when unset, `strict` false when unset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JsonSchemaOut {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON Schema object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Map<String, Value>>,
    pub strict: bool,
}

impl From<Option<pb::ResponseFormat>> for ResponseFormatOut {
    fn from(r: Option<pb::ResponseFormat>) -> Self {
        use pb::response_format::Format;
        let object = match r.and_then(|r| r.format) {
            None | Some(Format::Auto(pb::AutoFormat {})) => return ResponseFormatOut::Keyword("auto"),
            Some(Format::Text(pb::TextFormat {})) => ResponseFormatObjectOut::Text,
            Some(Format::JsonObject(pb::JsonObjectFormat {})) => ResponseFormatObjectOut::JsonObject,
            Some(Format::JsonSchema(pb::JsonSchemaFormat { name, description, schema, strict })) => {
                ResponseFormatObjectOut::JsonSchema {
                    json_schema: JsonSchemaOut {
                        name,
                        description,
                        schema: schema.as_ref().map(struct_to_map),
                        strict: strict.unwrap_or(false),
                    },
                }
            }
        };
        ResponseFormatOut::Object(object)
    }
}

/// A file an annotation, a code output or an image refers to: `{"file_id": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileIdOut {
    pub file_id: String,
}

impl From<pb::FileRef> for FileIdOut {
    fn from(f: pb::FileRef) -> Self {
        let pb::FileRef { file_id } = f;
        FileIdOut { file_id }
    }
}

/// A list page as answered.
#[derive(Debug, Serialize)]
pub struct ListOut<T> {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<T>,
    /// Null when the page is empty, as OpenAI answered.
    pub first_id: Option<String>,
    /// Null when the page is empty, as OpenAI answered.
    pub last_id: Option<String>,
    /// Whether more items follow in the order asked.
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
    /// The id of the deleted object.
    pub id: String,
    /// e.g. `assistant.deleted`.
    pub object: &'static str,
    pub deleted: bool,
}

impl DeletedOut {
    /// From the service reply.
    pub fn new(r: pb::DeleteResponse, object: &'static str) -> Self {
        Self { id: r.id, object, deleted: r.deleted }
    }
}
