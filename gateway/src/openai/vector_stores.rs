//! Vector store JSON: stores, their files and file batches, search and file content.
//!
//! Requests are checked for shape here (unknown fields, types, the forms of `query`,
//! `filters`, `chunking_strategy` and `attributes`); limits and semantics (sizes,
//! ranges, which operator takes which value) are the service's to check.

use std::collections::{BTreeMap, HashMap};

use assistd_common::json::{json_to_value, value_to_json};
use assistd_common::tools::ChunkingStrategy;
use assistd_proto::pb;
use prost_types::FieldMask;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::common::{MetadataIn, double_option, metadata_from_pb, metadata_to_pb};
use crate::errors::ApiError;

// ---------------------------------------------------------------------------------
// Shared request pieces
// ---------------------------------------------------------------------------------

/// One file attribute value as sent: a string, a number or a boolean (anything else
/// is a 400 naming `attributes.<key>`).
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeIn(pub Value);

impl<'de> Deserialize<'de> for AttributeIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Scalar;
        impl serde::de::Visitor<'_> for Scalar {
            type Value = AttributeIn;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, a number or a boolean")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AttributeIn, E> {
                Ok(AttributeIn(Value::String(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<AttributeIn, E> {
                Ok(AttributeIn(Value::String(v)))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<AttributeIn, E> {
                Ok(AttributeIn(Value::Bool(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<AttributeIn, E> {
                Ok(AttributeIn(v.into()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<AttributeIn, E> {
                Ok(AttributeIn(v.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<AttributeIn, E> {
                serde_json::Number::from_f64(v)
                    .map(|n| AttributeIn(Value::Number(n)))
                    .ok_or_else(|| E::custom("expected a finite number"))
            }
        }
        d.deserialize_any(Scalar)
    }
}

/// `VectorStoreFileAttributes` as sent (null reads as none).
pub type AttributesIn = Option<BTreeMap<String, AttributeIn>>;

/// Attributes to proto.
pub fn attributes_to_pb(a: AttributesIn) -> HashMap<String, prost_types::Value> {
    a.unwrap_or_default().into_iter().map(|(k, AttributeIn(v))| (k, json_to_value(&v))).collect()
}

/// `VectorStoreFileAttributes` as answered: `{}` when none, keys in sorted order;
/// values are strings, numbers (whole numbers as integers) or booleans.
pub type AttributesOut = BTreeMap<String, Value>;

/// Attributes from proto.
pub fn attributes_from_pb(a: HashMap<String, prost_types::Value>) -> AttributesOut {
    a.into_iter().map(|(k, v)| (k, value_to_json(&v))).collect()
}

/// A chunking strategy as sent: the shared [`ChunkingStrategy`], but refusing keys
/// beside `type` in `{"type": "auto"}` (the spec's `additionalProperties: false`).
#[derive(Debug)]
pub struct ChunkingIn(pub ChunkingStrategy);

impl<'de> Deserialize<'de> for ChunkingIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let o = Map::<String, Value>::deserialize(d)?;
        if o.get("type").and_then(Value::as_str) == Some("auto")
            && let Some(k) = o.keys().find(|k| *k != "type")
        {
            return Err(D::Error::unknown_field(k, &["type"]));
        }
        ChunkingStrategy::deserialize(Value::Object(o)).map(ChunkingIn).map_err(D::Error::custom)
    }
}

impl From<ChunkingIn> for pb::ChunkingStrategy {
    fn from(c: ChunkingIn) -> Self {
        pb::ChunkingStrategy::from(c.0)
    }
}

/// `VectorStoreExpirationAfter` as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorStoreExpiresAfterIn {
    /// Always `last_active_at` (checked by the service).
    pub anchor: String,
    /// 1-365 (checked by the service).
    pub days: i32,
}

impl From<VectorStoreExpiresAfterIn> for pb::VectorStoreExpiresAfter {
    fn from(e: VectorStoreExpiresAfterIn) -> Self {
        let VectorStoreExpiresAfterIn { anchor, days } = e;
        pb::VectorStoreExpiresAfter { anchor, days }
    }
}

// ---------------------------------------------------------------------------------
// Vector stores
// ---------------------------------------------------------------------------------

/// `CreateVectorStoreRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateVectorStoreIn {
    /// Files to add.
    pub file_ids: Option<Vec<String>>,
    /// The store's name; answered as `""` when unset.
    pub name: Option<String>,
    /// Description (accepted; not part of the object).
    pub description: Option<String>,
    /// Never expires when unset.
    pub expires_after: Option<VectorStoreExpiresAfterIn>,
    /// Chunking of `file_ids`.
    pub chunking_strategy: Option<ChunkingIn>,
    /// String pairs (limits checked by the service); null reads as none.
    pub metadata: MetadataIn,
}

impl CreateVectorStoreIn {
    /// To proto.
    pub fn into_pb(self) -> pb::CreateVectorStoreRequest {
        let CreateVectorStoreIn { file_ids, name, description, expires_after, chunking_strategy, metadata } = self;
        pb::CreateVectorStoreRequest {
            name,
            description,
            file_ids: file_ids.unwrap_or_default(),
            chunking_strategy: chunking_strategy.map(Into::into),
            expires_after: expires_after.map(Into::into),
            metadata: metadata.map(|m| metadata_to_pb(Some(m))),
        }
    }
}

/// `UpdateVectorStoreRequest`: each field absent (unchanged), null (cleared) or set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModifyVectorStoreIn {
    /// Null clears the name (answered as `""` then).
    #[serde(default, deserialize_with = "double_option")]
    pub name: Option<Option<String>>,
    /// Null removes the expiry policy.
    #[serde(default, deserialize_with = "double_option")]
    pub expires_after: Option<Option<VectorStoreExpiresAfterIn>>,
    /// Replaces the metadata as a whole; null clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub metadata: Option<MetadataIn>,
}

impl ModifyVectorStoreIn {
    /// To proto, with an `update_mask` naming the fields given.
    pub fn into_pb(self, vector_store_id: String) -> pb::ModifyVectorStoreRequest {
        let ModifyVectorStoreIn { name, expires_after, metadata } = self;
        let paths =
            [("name", name.is_some()), ("expires_after", expires_after.is_some()), ("metadata", metadata.is_some())]
                .into_iter()
                .filter(|(_, given)| *given)
                .map(|(p, _)| p.to_owned())
                .collect();
        pb::ModifyVectorStoreRequest {
            vector_store_id,
            name: name.flatten(),
            expires_after: expires_after.flatten().map(Into::into),
            metadata: metadata.map(metadata_to_pb),
            update_mask: Some(FieldMask { paths }),
        }
    }
}

fn store_status(s: i32) -> &'static str {
    match pb::VectorStoreStatus::try_from(s) {
        Ok(pb::VectorStoreStatus::Expired) => "expired",
        Ok(pb::VectorStoreStatus::Completed) => "completed",
        Ok(pb::VectorStoreStatus::InProgress | pb::VectorStoreStatus::Unspecified) | Err(_) => "in_progress",
    }
}

/// `file_counts` of a store or a batch (all five always present, zero when the
/// service sent none).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FileCountsOut {
    /// Being indexed.
    pub in_progress: i64,
    /// Indexed.
    pub completed: i64,
    /// Failed to index.
    pub failed: i64,
    /// Cancelled before indexing finished.
    pub cancelled: i64,
    /// All files.
    pub total: i64,
}

impl From<pb::VectorStoreFileCounts> for FileCountsOut {
    fn from(c: pb::VectorStoreFileCounts) -> Self {
        let pb::VectorStoreFileCounts { in_progress, completed, failed, cancelled, total } = c;
        FileCountsOut { in_progress, completed, failed, cancelled, total }
    }
}

/// `VectorStoreExpirationAfter` as answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VectorStoreExpiresAfterOut {
    /// `last_active_at`, the only anchor there is (also when the service sent none).
    pub anchor: String,
    /// Days after the anchor.
    pub days: i32,
}

impl From<pb::VectorStoreExpiresAfter> for VectorStoreExpiresAfterOut {
    fn from(e: pb::VectorStoreExpiresAfter) -> Self {
        let pb::VectorStoreExpiresAfter { anchor, days } = e;
        let anchor = if anchor.is_empty() { "last_active_at".to_owned() } else { anchor };
        VectorStoreExpiresAfterOut { anchor, days }
    }
}

/// `VectorStoreObject`. `name` is always a string (`""` when none was given: the
/// spec makes it a required, non-nullable string); `expires_after` is left out when
/// unset (optional and not nullable); `expires_at` and `last_active_at` are null then.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VectorStoreOut {
    /// `vs_…`.
    pub id: String,
    /// Always `vector_store`.
    pub object: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    /// `""` when none was given, never null.
    pub name: String,
    /// Bytes used by the indexed files.
    pub usage_bytes: i64,
    /// Files in each state.
    pub file_counts: FileCountsOut,
    /// `expired`, `in_progress` or `completed` (unknown values read as `in_progress`).
    pub status: &'static str,
    /// Absent when the store never expires (not nullable in the spec).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_after: Option<VectorStoreExpiresAfterOut>,
    /// Unix seconds; null when the store never expires.
    pub expires_at: Option<i64>,
    /// Unix seconds; null when never used.
    pub last_active_at: Option<i64>,
    /// `{}` when none.
    pub metadata: BTreeMap<String, String>,
}

impl From<pb::VectorStore> for VectorStoreOut {
    fn from(s: pb::VectorStore) -> Self {
        let pb::VectorStore {
            id,
            created_at,
            name,
            usage_bytes,
            file_counts,
            status,
            expires_after,
            expires_at,
            last_active_at,
            metadata,
        } = s;
        VectorStoreOut {
            id,
            object: "vector_store",
            created_at,
            name,
            usage_bytes,
            file_counts: file_counts.unwrap_or_default().into(),
            status: store_status(status),
            expires_after: expires_after.map(Into::into),
            expires_at,
            last_active_at,
            metadata: metadata_from_pb(metadata),
        }
    }
}

// ---------------------------------------------------------------------------------
// Vector store files and batches
// ---------------------------------------------------------------------------------

/// `CreateVectorStoreFileRequest` (also an item of a batch's `files`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateVectorStoreFileIn {
    /// The `file-…` id of an uploaded file.
    pub file_id: String,
    /// Chunking (auto when unset).
    pub chunking_strategy: Option<ChunkingIn>,
    /// Values for search filters; none when unset or null.
    pub attributes: AttributesIn,
}

impl CreateVectorStoreFileIn {
    /// To proto.
    pub fn into_pb(self) -> pb::NewVectorStoreFile {
        let CreateVectorStoreFileIn { file_id, chunking_strategy, attributes } = self;
        pb::NewVectorStoreFile {
            file_id,
            chunking_strategy: chunking_strategy.map(Into::into),
            attributes: attributes_to_pb(attributes),
        }
    }
}

/// `UpdateVectorStoreFileAttributesRequest`: `attributes` is required; null clears them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateVectorStoreFileAttributesIn {
    /// The new attributes (replacing the old ones).
    #[serde(deserialize_with = "double_option")]
    pub attributes: Option<AttributesIn>,
}

impl UpdateVectorStoreFileAttributesIn {
    /// To proto.
    pub fn into_pb(self, vector_store_id: String, file_id: String) -> pb::UpdateVectorStoreFileAttributesRequest {
        pb::UpdateVectorStoreFileAttributesRequest {
            vector_store_id,
            file_id,
            attributes: attributes_to_pb(self.attributes.flatten()),
        }
    }
}

/// `CreateVectorStoreFileBatchRequest`: `file_ids` or `files`, not both.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateFileBatchIn {
    /// Files sharing `attributes` and `chunking_strategy`.
    pub file_ids: Option<Vec<String>>,
    /// Files with their own settings.
    pub files: Option<Vec<CreateVectorStoreFileIn>>,
    /// Chunking of `file_ids`.
    pub chunking_strategy: Option<ChunkingIn>,
    /// Attributes of `file_ids`.
    pub attributes: AttributesIn,
}

impl CreateFileBatchIn {
    /// To proto, refusing both or neither of `file_ids` and `files`.
    pub fn into_pb(self, vector_store_id: String) -> Result<pb::CreateFileBatchRequest, ApiError> {
        let CreateFileBatchIn { file_ids, files, chunking_strategy, attributes } = self;
        match (&file_ids, &files) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid("files", "Give either 'file_ids' or 'files', not both.")
                    .with_code("invalid_value"));
            }
            (None, None) => {
                return Err(ApiError::invalid("file_ids", "Missing required parameter: 'file_ids' or 'files'.")
                    .with_code("missing_required_parameter"));
            }
            _ => {}
        }
        Ok(pb::CreateFileBatchRequest {
            vector_store_id,
            file_ids: file_ids.unwrap_or_default(),
            files: files.unwrap_or_default().into_iter().map(CreateVectorStoreFileIn::into_pb).collect(),
            attributes: attributes_to_pb(attributes),
            chunking_strategy: chunking_strategy.map(Into::into),
        })
    }
}

/// The `filter` query parameter of the file lists.
pub fn file_status_filter(v: Option<&str>) -> Result<Option<i32>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    let s = match v {
        "in_progress" => pb::VectorStoreFileStatus::InProgress,
        "completed" => pb::VectorStoreFileStatus::Completed,
        "failed" => pb::VectorStoreFileStatus::Failed,
        "cancelled" => pb::VectorStoreFileStatus::Cancelled,
        other => {
            return Err(ApiError::invalid_value(
                "filter",
                other,
                "Supported values are: 'in_progress', 'completed', 'failed' and 'cancelled'.",
            ));
        }
    };
    Ok(Some(s as i32))
}

fn file_status(s: i32) -> &'static str {
    match pb::VectorStoreFileStatus::try_from(s) {
        Ok(pb::VectorStoreFileStatus::Completed) => "completed",
        Ok(pb::VectorStoreFileStatus::Cancelled) => "cancelled",
        Ok(pb::VectorStoreFileStatus::Failed) => "failed",
        Ok(pb::VectorStoreFileStatus::InProgress | pb::VectorStoreFileStatus::Unspecified) | Err(_) => "in_progress",
    }
}

/// A chunking strategy as answered: `static` with its sizes (auto as the sizes it
/// stands for, 800/400), or `other`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChunkingStrategyOut {
    /// `{"type": "static", "static": {…}}`.
    Static {
        /// The sizes.
        r#static: StaticChunkingOut,
    },
    /// `{"type": "other"}`: indexed without a known strategy.
    Other,
}

/// The sizes of a static chunking strategy, in tokens.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaticChunkingOut {
    /// Tokens per chunk.
    pub max_chunk_size_tokens: i32,
    /// Tokens shared by neighbouring chunks.
    pub chunk_overlap_tokens: i32,
}

/// The chunking strategy of a file, `None` when the service gave none (the key is
/// then left out).
pub fn chunking_strategy_out(c: Option<pb::ChunkingStrategy>) -> Option<ChunkingStrategyOut> {
    use pb::chunking_strategy::Strategy;
    let fixed = |max_chunk_size_tokens, chunk_overlap_tokens| ChunkingStrategyOut::Static {
        r#static: StaticChunkingOut { max_chunk_size_tokens, chunk_overlap_tokens },
    };
    let pb::ChunkingStrategy { strategy } = c?;
    Some(match strategy? {
        Strategy::Auto(pb::AutoChunking {}) => fixed(800, 400),
        Strategy::Static(pb::StaticChunking { max_chunk_size_tokens, chunk_overlap_tokens }) => {
            fixed(max_chunk_size_tokens, chunk_overlap_tokens)
        }
        Strategy::Other(pb::OtherChunking {}) => ChunkingStrategyOut::Other,
    })
}

/// The `last_error` of a failed vector store file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VectorStoreFileErrorOut {
    /// `server_error`, `unsupported_file` or `invalid_file` (any other code reads as
    /// `server_error`).
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
}

/// `VectorStoreFileObject`. `last_error` is null unless the file failed (a code
/// outside the spec's three reads as `server_error`); `chunking_strategy` is left out
/// when the service gave none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VectorStoreFileOut {
    /// The file's `file-…` id.
    pub id: String,
    /// Always `vector_store.file`.
    pub object: &'static str,
    /// Bytes used in the store (may differ from the file's size).
    pub usage_bytes: i64,
    /// Unix seconds when the file was attached.
    pub created_at: i64,
    /// The store.
    pub vector_store_id: String,
    /// `in_progress`, `completed`, `cancelled` or `failed` (unknown values read as
    /// `in_progress`).
    pub status: &'static str,
    /// Null unless `status` is `failed`.
    pub last_error: Option<VectorStoreFileErrorOut>,
    /// Absent when the service gave none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunking_strategy: Option<ChunkingStrategyOut>,
    /// `{}` when none.
    pub attributes: AttributesOut,
}

impl From<pb::VectorStoreFile> for VectorStoreFileOut {
    fn from(f: pb::VectorStoreFile) -> Self {
        let pb::VectorStoreFile {
            id,
            created_at,
            vector_store_id,
            usage_bytes,
            status,
            last_error,
            chunking_strategy,
            attributes,
        } = f;
        let status = file_status(status);
        let last_error = match last_error {
            Some(pb::VectorStoreFileError { code, message }) if status == "failed" => {
                let code = match code.as_str() {
                    "server_error" | "unsupported_file" | "invalid_file" => code,
                    _ => "server_error".to_owned(),
                };
                Some(VectorStoreFileErrorOut { code, message })
            }
            _ => None,
        };
        VectorStoreFileOut {
            id,
            object: "vector_store.file",
            usage_bytes,
            created_at,
            vector_store_id,
            status,
            last_error,
            chunking_strategy: chunking_strategy_out(chunking_strategy),
            attributes: attributes_from_pb(attributes),
        }
    }
}

/// `VectorStoreFileBatchObject` (object `vector_store.files_batch`, as the spec's enum
/// and the SDK have it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VectorStoreFileBatchOut {
    /// `vsfb_…`.
    pub id: String,
    /// Always `vector_store.files_batch`.
    pub object: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    /// The store.
    pub vector_store_id: String,
    /// `in_progress`, `completed`, `cancelled` or `failed` (unknown values read as
    /// `in_progress`).
    pub status: &'static str,
    /// The batch's files in each state.
    pub file_counts: FileCountsOut,
}

impl From<pb::VectorStoreFileBatch> for VectorStoreFileBatchOut {
    fn from(b: pb::VectorStoreFileBatch) -> Self {
        let pb::VectorStoreFileBatch { id, created_at, vector_store_id, status, file_counts } = b;
        VectorStoreFileBatchOut {
            id,
            object: "vector_store.files_batch",
            created_at,
            vector_store_id,
            status: file_status(status),
            file_counts: file_counts.unwrap_or_default().into(),
        }
    }
}

/// A piece of text in a file content page or a search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextContentOut {
    /// Always `text`.
    pub r#type: &'static str,
    /// The text.
    pub text: String,
}

impl From<pb::VectorStoreContent> for TextContentOut {
    fn from(c: pb::VectorStoreContent) -> Self {
        let pb::VectorStoreContent { text } = c;
        TextContentOut { r#type: "text", text }
    }
}

fn contents_out(c: Vec<pb::VectorStoreContent>) -> Vec<TextContentOut> {
    c.into_iter().map(Into::into).collect()
}

/// `VectorStoreFileContentResponse`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileContentPageOut {
    /// Always `vector_store.file_content.page`.
    pub object: &'static str,
    /// The parsed text, in order.
    pub data: Vec<TextContentOut>,
    /// Whether more pages follow.
    pub has_more: bool,
    /// Token of the next page; null when none.
    pub next_page: Option<String>,
}

impl From<pb::VectorStoreFileContentResponse> for FileContentPageOut {
    fn from(r: pb::VectorStoreFileContentResponse) -> Self {
        let pb::VectorStoreFileContentResponse { data, has_more, next_page } = r;
        FileContentPageOut { object: "vector_store.file_content.page", data: contents_out(data), has_more, next_page }
    }
}

// ---------------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------------

/// The `ranking_options` of `VectorStoreSearchRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRankingOptionsIn {
    /// `none`, `auto` or `default-2024-11-15` (checked by the service).
    pub ranker: Option<String>,
    /// 0-1, default 0 (checked by the service).
    pub score_threshold: Option<f64>,
}

/// `VectorStoreSearchRequest`. `query` and `filters` are read by hand, for errors
/// that name the exact place (`filters.filters[1].value`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchIn {
    /// A string or a non-empty array of strings.
    pub query: Value,
    /// Rewrite the query (default false).
    pub rewrite_query: Option<bool>,
    /// 1-50, default 10.
    pub max_num_results: Option<i32>,
    /// A `ComparisonFilter` or a `CompoundFilter`.
    pub filters: Option<Value>,
    /// Ranker and score threshold (the service's defaults when unset).
    pub ranking_options: Option<SearchRankingOptionsIn>,
}

impl SearchIn {
    /// To proto.
    pub fn into_pb(self, vector_store_id: String) -> Result<pb::SearchVectorStoreRequest, ApiError> {
        let SearchIn { query, rewrite_query, max_num_results, filters, ranking_options } = self;
        Ok(pb::SearchVectorStoreRequest {
            vector_store_id,
            query: query_to_pb(query)?,
            filters: filters.map(|f| filter_to_pb("filters", f)).transpose()?,
            max_num_results,
            ranking_options: ranking_options.map(|SearchRankingOptionsIn { ranker, score_threshold }| {
                pb::FileSearchRankingOptions { ranker, score_threshold: score_threshold.unwrap_or(0.0) }
            }),
            rewrite_query,
        })
    }
}

/// `query`: one string, or a non-empty array of strings.
fn query_to_pb(v: Value) -> Result<Vec<String>, ApiError> {
    match v {
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) if items.is_empty() => Err(ApiError::invalid(
            "query",
            "Invalid 'query': empty array. Expected a string or a non-empty array of strings.",
        )
        .with_code("invalid_value")),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, q)| match q {
                Value::String(s) => Ok(s),
                other => Err(ApiError::invalid_type(&format!("query[{i}]"), "a string", &other)),
            })
            .collect(),
        other => Err(ApiError::invalid_type("query", "a string or an array of strings", &other)),
    }
}

/// A `ComparisonFilter` or `CompoundFilter` (nested to any depth) to proto (see
/// `assistd_common::filters`). `param` is where it sits in the request.
pub fn filter_to_pb(param: &str, v: Value) -> Result<pb::SearchFilter, ApiError> {
    assistd_common::filters::from_json(param, v).map_err(|f| {
        let field = f.field.clone();
        ApiError::invalid(field, f.message).with_code(f.code)
    })
}

/// `VectorStoreSearchResultItem`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResultOut {
    /// The file's `file-…` id.
    pub file_id: String,
    /// The file's name.
    pub filename: String,
    /// Relevance, 0-1 (always a float: `0.0`, not `0`).
    pub score: f64,
    /// The file's attributes, `{}` when none.
    pub attributes: AttributesOut,
    /// The matching chunks (may be empty).
    pub content: Vec<TextContentOut>,
}

impl From<pb::VectorStoreSearchResult> for SearchResultOut {
    fn from(r: pb::VectorStoreSearchResult) -> Self {
        let pb::VectorStoreSearchResult { file_id, filename, score, attributes, content } = r;
        SearchResultOut {
            file_id,
            filename,
            score,
            attributes: attributes_from_pb(attributes),
            content: contents_out(content),
        }
    }
}

/// `VectorStoreSearchResultsPage` (`search_query` is an array of strings, as the spec has it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchPageOut {
    /// Always `vector_store.search_results.page`.
    pub object: &'static str,
    /// The queries searched (after rewriting, when asked).
    pub search_query: Vec<String>,
    /// The results, best first.
    pub data: Vec<SearchResultOut>,
    /// Whether more results follow.
    pub has_more: bool,
    /// Token of the next page; null when none.
    pub next_page: Option<String>,
}

impl From<pb::SearchVectorStoreResponse> for SearchPageOut {
    fn from(r: pb::SearchVectorStoreResponse) -> Self {
        let pb::SearchVectorStoreResponse { search_query, data, has_more, next_page } = r;
        SearchPageOut {
            object: "vector_store.search_results.page",
            search_query,
            data: data.into_iter().map(Into::into).collect(),
            has_more,
            next_page,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use crate::extract::parse_json;
    use crate::openai::runs::tests::assert_required;

    // The answers as a client reads them: JSON values.

    fn json_of<T: Serialize>(v: T) -> Value {
        serde_json::to_value(v).unwrap()
    }

    fn attributes_out(a: HashMap<String, prost_types::Value>) -> Value {
        json_of(attributes_from_pb(a))
    }

    fn vector_store_out(s: pb::VectorStore) -> Value {
        json_of(VectorStoreOut::from(s))
    }

    fn vector_store_file_out(f: pb::VectorStoreFile) -> Value {
        json_of(VectorStoreFileOut::from(f))
    }

    fn file_batch_out(b: pb::VectorStoreFileBatch) -> Value {
        json_of(VectorStoreFileBatchOut::from(b))
    }

    fn file_content_out(r: pb::VectorStoreFileContentResponse) -> Value {
        json_of(FileContentPageOut::from(r))
    }

    fn search_page_out(r: pb::SearchVectorStoreResponse) -> Value {
        json_of(SearchPageOut::from(r))
    }

    // -----------------------------------------------------------------------------
    // A small validator for the subset of the spec's YAML and JSON Schema these
    // objects use: `$ref`, `anyOf`/`oneOf`, `type`, `nullable`, `enum`, `minimum`/
    // `maximum`, `properties`, `required`, `additionalProperties`, `items`. Stricter
    // than JSON Schema in one way: an object with `properties` may carry no key they
    // do not declare (every key we answer must be in the spec).
    // -----------------------------------------------------------------------------

    fn spec_text() -> Option<&'static str> {
        static SPEC: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
        SPEC.get_or_init(|| {
            let path = std::env::var_os("ASSISTD_OPENAPI_SPEC").map(std::path::PathBuf::from).or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .ancestors()
                    .map(|d| d.join("shared/openai-spec/assistants-openapi.yaml"))
                    .find(|p| p.is_file())
            });
            path.and_then(|p| std::fs::read_to_string(p).ok())
        })
        .as_deref()
    }

    fn indent(l: &str) -> usize {
        l.len() - l.trim_start().len()
    }

    /// The entries of the mapping whose keys sit at indent `b`: key, inline value, lines below.
    fn entries(lines: &[String], b: usize) -> Vec<(String, String, Vec<String>)> {
        let mut out: Vec<(String, String, Vec<String>)> = Vec::new();
        for l in lines.iter().filter(|l| !l.trim().is_empty()) {
            let t = l.trim_start();
            if indent(l) == b && !t.starts_with("- ") {
                let (k, v) = t.split_once(':').unwrap_or((t, ""));
                out.push((k.to_owned(), v.trim().to_owned(), Vec::new()));
            } else if let Some(last) = out.last_mut() {
                last.2.push(l.clone());
            }
        }
        out
    }

    /// The items of a sequence, each as a mapping node (its base indent and lines).
    fn items(lines: &[String]) -> Vec<(usize, Vec<String>)> {
        let Some(b) = lines.iter().filter(|l| !l.trim().is_empty()).map(|l| indent(l)).min() else {
            return vec![];
        };
        let mut out: Vec<(usize, Vec<String>)> = Vec::new();
        for l in lines.iter().filter(|l| !l.trim().is_empty()) {
            match l.trim_start().strip_prefix("- ") {
                Some(rest) if indent(l) == b => out.push((b + 2, vec![format!("{}{rest}", " ".repeat(b + 2))])),
                _ => {
                    if let Some(last) = out.last_mut() {
                        last.1.push(l.clone());
                    }
                }
            }
        }
        out
    }

    fn unquote(s: &str) -> &str {
        s.trim().trim_matches('\'').trim_matches('"')
    }

    fn schema_lines(name: &str) -> Option<Vec<String>> {
        let header = format!("    {name}:");
        let text = spec_text()?;
        let mut lines = text.lines().skip_while(|l| *l != header);
        lines.next()?;
        Some(lines.take_while(|l| l.trim().is_empty() || indent(l) > 4).map(str::to_owned).collect())
    }

    fn validate(v: &Value, node: &[String], b: usize, path: &str) -> Result<(), String> {
        let e = entries(node, b);
        let get = |k: &str| e.iter().find(|(key, _, _)| key == k);
        if let Some((_, r, _)) = get("$ref") {
            let name = unquote(r).rsplit('/').next().unwrap_or_default().to_owned();
            return validate_schema(v, &name, path);
        }
        if v.is_null() && get("nullable").is_some_and(|(_, n, _)| n == "true") {
            return Ok(());
        }
        for kw in ["anyOf", "oneOf"] {
            if let Some((_, _, kids)) = get(kw) {
                let errs: Vec<String> =
                    items(kids).iter().filter_map(|(bb, alt)| validate(v, alt, *bb, path).err()).collect();
                if errs.len() == items(kids).len() {
                    return Err(format!("{path}: {v} matches no alternative of {kw}: {errs:?}"));
                }
            }
        }
        if let Some((_, t, _)) = get("type") {
            let t = unquote(t);
            let ok = match t {
                "null" => v.is_null(),
                "string" => v.is_string(),
                "integer" => v.is_i64() || v.is_u64(),
                "number" => v.is_number(),
                "boolean" => v.is_boolean(),
                "array" => v.is_array(),
                "object" => v.is_object(),
                _ => true,
            };
            if !ok {
                return Err(format!("{path}: expected {t}, got {v}"));
            }
        }
        if let (Some((_, _, kids)), Some(s)) = (get("enum"), v.as_str()) {
            let allowed: Vec<String> = items(kids).iter().map(|(_, item)| unquote(&item[0]).to_owned()).collect();
            if !allowed.iter().any(|a| a == s) {
                return Err(format!("{path}: '{s}' is not one of {allowed:?}"));
            }
        }
        if let Some(n) = v.as_f64() {
            if let Some((_, min, _)) = get("minimum")
                && n < min.parse::<f64>().unwrap_or(f64::MIN)
            {
                return Err(format!("{path}: {n} below minimum {min}"));
            }
            if let Some((_, max, _)) = get("maximum")
                && n > max.parse::<f64>().unwrap_or(f64::MAX)
            {
                return Err(format!("{path}: {n} above maximum {max}"));
            }
        }
        if let Value::Object(o) = v {
            if let Some((_, _, kids)) = get("required") {
                for (_, item) in items(kids) {
                    let key = unquote(&item[0]);
                    if !o.contains_key(key) {
                        return Err(format!("{path}: missing required key '{key}' in {v}"));
                    }
                }
            }
            let props = get("properties").map(|(_, _, kids)| entries(kids, b + 2));
            let additional = get("additionalProperties").filter(|(_, inline, _)| inline.is_empty());
            for (k, x) in o {
                let at = format!("{path}.{k}");
                if let Some((_, _, p)) = props.as_ref().and_then(|ps| ps.iter().find(|(pk, _, _)| pk == k)) {
                    validate(x, p, b + 4, &at)?;
                } else if let Some((_, _, a)) = additional {
                    validate(x, a, b + 2, &at)?;
                } else if props.is_some() {
                    return Err(format!("{path}: key '{k}' is not in the schema"));
                }
            }
        }
        if let (Value::Array(a), Some((_, _, kids))) = (v, get("items")) {
            for (i, x) in a.iter().enumerate() {
                validate(x, kids, b + 2, &format!("{path}[{i}]"))?;
            }
        }
        Ok(())
    }

    fn validate_schema(v: &Value, name: &str, path: &str) -> Result<(), String> {
        match schema_lines(name) {
            Some(lines) => validate(v, &lines, 6, path),
            None if spec_text().is_none() => Ok(()),
            None => Err(format!("{path}: schema {name} not in the spec")),
        }
    }

    /// Checks `v` against the spec's schema `name` (its required keys also against
    /// `required`, so the check means something where the spec is absent).
    pub(crate) fn assert_schema(v: &Value, name: &str, required: &[&str]) {
        assert_required(v, name, required);
        if spec_text().is_none() {
            eprintln!("spec not found; {name} checked for its required keys only");
        }
        if let Err(e) = validate_schema(v, name, name) {
            panic!("{e}");
        }
    }

    pub(crate) const STORE_REQUIRED: &[&str] =
        &["id", "object", "usage_bytes", "created_at", "status", "last_active_at", "name", "file_counts", "metadata"];
    pub(crate) const FILE_REQUIRED: &[&str] =
        &["id", "object", "usage_bytes", "created_at", "vector_store_id", "status", "last_error"];
    pub(crate) const BATCH_REQUIRED: &[&str] =
        &["id", "object", "created_at", "vector_store_id", "status", "file_counts"];
    pub(crate) const LIST_REQUIRED: &[&str] = &["object", "data", "first_id", "last_id", "has_more"];
    pub(crate) const DELETED_REQUIRED: &[&str] = &["id", "object", "deleted"];
    pub(crate) const SEARCH_PAGE_REQUIRED: &[&str] = &["object", "search_query", "data", "has_more", "next_page"];
    pub(crate) const CONTENT_PAGE_REQUIRED: &[&str] = &["object", "data", "has_more", "next_page"];

    #[test]
    fn the_validator_catches_mistakes() {
        if spec_text().is_none() {
            return;
        }
        let good = file_batch_out(batch());
        assert!(validate_schema(&good, "VectorStoreFileBatchObject", "b").is_ok());
        let mut bad = good.clone();
        bad["object"] = "vector_store.file_batch".into();
        assert!(validate_schema(&bad, "VectorStoreFileBatchObject", "b").is_err());
        let mut bad = good.clone();
        bad["file_counts"]["total"] = Value::Null;
        assert!(validate_schema(&bad, "VectorStoreFileBatchObject", "b").is_err());
        let mut bad = good.clone();
        bad.as_object_mut().unwrap().remove("created_at");
        assert!(validate_schema(&bad, "VectorStoreFileBatchObject", "b").is_err());
        let mut bad = good;
        bad["extra"] = 1.into();
        assert!(validate_schema(&bad, "VectorStoreFileBatchObject", "b").is_err());
        let store = vector_store_out(store(None));
        let mut bad = store.clone();
        bad["expires_after"] = Value::Null;
        assert!(validate_schema(&bad, "VectorStoreObject", "s").is_err());
        let mut bad = store.clone();
        bad["name"] = Value::Null;
        assert!(validate_schema(&bad, "VectorStoreObject", "s").is_err());
        let mut bad = store;
        bad["metadata"] = json!({"k": 1});
        assert!(validate_schema(&bad, "VectorStoreObject", "s").is_err());
        let mut bad = search_page_out(search_response());
        bad["data"][0]["score"] = 1.5.into();
        assert!(validate_schema(&bad, "VectorStoreSearchResultsPage", "p").is_err());
        let mut bad = vector_store_file_out(file(pb::VectorStoreFileStatus::Failed));
        bad["attributes"] = json!({"k": [1]});
        assert!(validate_schema(&bad, "VectorStoreFileObject", "f").is_err());
    }

    // -----------------------------------------------------------------------------
    // Fixtures
    // -----------------------------------------------------------------------------

    fn counts() -> pb::VectorStoreFileCounts {
        pb::VectorStoreFileCounts { in_progress: 1, completed: 2, failed: 3, cancelled: 4, total: 10 }
    }

    fn store(expires_after: Option<pb::VectorStoreExpiresAfter>) -> pb::VectorStore {
        pb::VectorStore {
            id: "vs_1".into(),
            created_at: 1_700_000_000,
            name: String::new(),
            usage_bytes: 123,
            file_counts: Some(counts()),
            status: pb::VectorStoreStatus::InProgress as i32,
            expires_at: expires_after.as_ref().map(|e| 1_700_000_000 + i64::from(e.days) * 86_400),
            expires_after,
            last_active_at: None,
            metadata: None,
        }
    }

    fn attrs(v: Value) -> HashMap<String, prost_types::Value> {
        v.as_object().unwrap().iter().map(|(k, v)| (k.clone(), json_to_value(v))).collect()
    }

    fn file(status: pb::VectorStoreFileStatus) -> pb::VectorStoreFile {
        pb::VectorStoreFile {
            id: "file-1".into(),
            created_at: 1_700_000_001,
            vector_store_id: "vs_1".into(),
            usage_bytes: 42,
            status: status as i32,
            last_error: Some(pb::VectorStoreFileError { code: "unsupported_file".into(), message: "no".into() }),
            chunking_strategy: Some(pb::ChunkingStrategy {
                strategy: Some(pb::chunking_strategy::Strategy::Static(pb::StaticChunking {
                    max_chunk_size_tokens: 600,
                    chunk_overlap_tokens: 100,
                })),
            }),
            attributes: attrs(json!({"author": "ann", "year": 2021, "score": 0.5, "draft": false})),
        }
    }

    fn batch() -> pb::VectorStoreFileBatch {
        pb::VectorStoreFileBatch {
            id: "vsfb_1".into(),
            created_at: 1_700_000_002,
            vector_store_id: "vs_1".into(),
            status: pb::VectorStoreFileStatus::Cancelled as i32,
            file_counts: Some(counts()),
        }
    }

    fn search_response() -> pb::SearchVectorStoreResponse {
        pb::SearchVectorStoreResponse {
            search_query: vec!["what is up".into(), "second".into()],
            data: vec![
                pb::VectorStoreSearchResult {
                    file_id: "file-1".into(),
                    filename: "a.txt".into(),
                    score: 0.87,
                    attributes: attrs(json!({"k": "v"})),
                    content: vec![
                        pb::VectorStoreContent { text: "one".into() },
                        pb::VectorStoreContent { text: "two".into() },
                    ],
                },
                pb::VectorStoreSearchResult {
                    file_id: "file-2".into(),
                    filename: "b.md".into(),
                    score: 0.0,
                    attributes: HashMap::new(),
                    content: vec![],
                },
            ],
            has_more: false,
            next_page: None,
        }
    }

    // -----------------------------------------------------------------------------
    // Responses
    // -----------------------------------------------------------------------------

    #[test]
    fn vector_store_object() {
        let v = vector_store_out(store(None));
        assert_schema(&v, "VectorStoreObject", STORE_REQUIRED);
        assert_eq!(v["object"], "vector_store");
        assert_eq!(v["name"], "", "the spec's name is a non-nullable string");
        assert_eq!(v["status"], "in_progress");
        assert_eq!(
            v["file_counts"],
            json!({"in_progress": 1, "completed": 2, "failed": 3, "cancelled": 4, "total": 10})
        );
        assert!(v.get("expires_after").is_none(), "expires_after is optional but not nullable: {v}");
        assert_eq!(v["expires_at"], Value::Null);
        assert_eq!(v["last_active_at"], Value::Null);
        assert_eq!(v["metadata"], json!({}));

        let mut s = store(Some(pb::VectorStoreExpiresAfter { anchor: "last_active_at".into(), days: 7 }));
        s.name = "docs".into();
        s.status = pb::VectorStoreStatus::Expired as i32;
        s.last_active_at = Some(1_700_000_100);
        s.metadata = Some(pb::Metadata { entries: [("a".to_owned(), "b".to_owned())].into() });
        let v = vector_store_out(s);
        assert_schema(&v, "VectorStoreObject", STORE_REQUIRED);
        assert_eq!(v["name"], "docs");
        assert_eq!(v["status"], "expired");
        assert_eq!(v["expires_after"], json!({"anchor": "last_active_at", "days": 7}));
        assert_eq!(v["expires_at"], 1_700_000_000 + 7 * 86_400);
        assert_eq!(v["last_active_at"], 1_700_000_100);
        assert_eq!(v["metadata"], json!({"a": "b"}));

        for (st, want) in
            [(pb::VectorStoreStatus::Completed, "completed"), (pb::VectorStoreStatus::Unspecified, "in_progress")]
        {
            let mut s = store(None);
            s.status = st as i32;
            s.file_counts = None;
            let v = vector_store_out(s);
            assert_schema(&v, "VectorStoreObject", STORE_REQUIRED);
            assert_eq!(v["status"], want);
            assert_eq!(v["file_counts"]["total"], 0);
        }
    }

    #[test]
    fn vector_store_file_object() {
        let v = vector_store_file_out(file(pb::VectorStoreFileStatus::Failed));
        assert_schema(&v, "VectorStoreFileObject", FILE_REQUIRED);
        assert_eq!(v["object"], "vector_store.file");
        assert_eq!(v["status"], "failed");
        assert_eq!(v["last_error"], json!({"code": "unsupported_file", "message": "no"}));
        assert_eq!(
            v["chunking_strategy"],
            json!({"type": "static", "static": {"max_chunk_size_tokens": 600, "chunk_overlap_tokens": 100}})
        );
        assert_eq!(v["attributes"], json!({"author": "ann", "year": 2021, "score": 0.5, "draft": false}));

        for (st, want) in [
            (pb::VectorStoreFileStatus::InProgress, "in_progress"),
            (pb::VectorStoreFileStatus::Completed, "completed"),
            (pb::VectorStoreFileStatus::Cancelled, "cancelled"),
            (pb::VectorStoreFileStatus::Unspecified, "in_progress"),
        ] {
            let v = vector_store_file_out(file(st));
            assert_schema(&v, "VectorStoreFileObject", FILE_REQUIRED);
            assert_eq!(v["status"], want);
            assert_eq!(v["last_error"], Value::Null, "last_error only when failed");
        }

        // A code outside the spec's enum; other and auto chunking; no chunking; no attributes.
        let mut f = file(pb::VectorStoreFileStatus::Failed);
        f.last_error = Some(pb::VectorStoreFileError { code: "parse_error".into(), message: "m".into() });
        f.chunking_strategy =
            Some(pb::ChunkingStrategy { strategy: Some(pb::chunking_strategy::Strategy::Other(pb::OtherChunking {})) });
        f.attributes.clear();
        let v = vector_store_file_out(f);
        assert_schema(&v, "VectorStoreFileObject", FILE_REQUIRED);
        assert_eq!(v["last_error"]["code"], "server_error");
        assert_eq!(v["chunking_strategy"], json!({"type": "other"}));
        assert_eq!(v["attributes"], json!({}));
        let mut f = file(pb::VectorStoreFileStatus::Completed);
        f.chunking_strategy =
            Some(pb::ChunkingStrategy { strategy: Some(pb::chunking_strategy::Strategy::Auto(pb::AutoChunking {})) });
        let v = vector_store_file_out(f);
        assert_schema(&v, "VectorStoreFileObject", FILE_REQUIRED);
        assert_eq!(
            v["chunking_strategy"]["static"],
            json!({"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400})
        );
        let mut f = file(pb::VectorStoreFileStatus::Failed);
        f.chunking_strategy = None;
        f.last_error = None;
        let v = vector_store_file_out(f);
        assert_schema(&v, "VectorStoreFileObject", FILE_REQUIRED);
        assert!(v.get("chunking_strategy").is_none());
        assert_eq!(v["last_error"], Value::Null);
    }

    #[test]
    fn file_batch_object() {
        let v = file_batch_out(batch());
        assert_schema(&v, "VectorStoreFileBatchObject", BATCH_REQUIRED);
        assert_eq!(v["object"], "vector_store.files_batch");
        assert_eq!(v["status"], "cancelled");
        assert_eq!(v["file_counts"]["in_progress"], 1);
        for st in [
            pb::VectorStoreFileStatus::InProgress,
            pb::VectorStoreFileStatus::Completed,
            pb::VectorStoreFileStatus::Failed,
        ] {
            let mut b = batch();
            b.status = st as i32;
            assert_schema(&file_batch_out(b), "VectorStoreFileBatchObject", BATCH_REQUIRED);
        }
    }

    #[test]
    fn lists_and_deletions() {
        use crate::openai::common::{DeletedOut, ListOut};
        let stores = ListOut::new(
            vec![VectorStoreOut::from(store(None)), VectorStoreOut::from(store(None))],
            Some("vs_1".into()),
            Some("vs_1".into()),
            true,
        );
        let v = serde_json::to_value(&stores).unwrap();
        assert_schema(&v, "ListVectorStoresResponse", LIST_REQUIRED);
        assert_eq!(v["object"], "list");
        let files = ListOut::new(
            vec![VectorStoreFileOut::from(file(pb::VectorStoreFileStatus::Completed))],
            Some("file-1".into()),
            Some("file-1".into()),
            false,
        );
        assert_schema(&serde_json::to_value(&files).unwrap(), "ListVectorStoreFilesResponse", LIST_REQUIRED);

        let r = || pb::DeleteResponse { id: "vs_1".into(), deleted: true };
        let v = serde_json::to_value(DeletedOut::new(r(), "vector_store.deleted")).unwrap();
        assert_schema(&v, "DeleteVectorStoreResponse", DELETED_REQUIRED);
        let v = serde_json::to_value(DeletedOut::new(r(), "vector_store.file.deleted")).unwrap();
        assert_schema(&v, "DeleteVectorStoreFileResponse", DELETED_REQUIRED);
    }

    #[test]
    fn search_results_page() {
        let v = search_page_out(search_response());
        assert_schema(&v, "VectorStoreSearchResultsPage", SEARCH_PAGE_REQUIRED);
        assert_eq!(v["object"], "vector_store.search_results.page");
        assert_eq!(v["search_query"], json!(["what is up", "second"]));
        assert_eq!(v["next_page"], Value::Null);
        assert_eq!(
            v["data"][0],
            json!({"file_id": "file-1", "filename": "a.txt", "score": 0.87, "attributes": {"k": "v"},
                   "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]})
        );
        assert_eq!(v["data"][1]["attributes"], json!({}));
        assert_eq!(v["data"][1]["content"], json!([]));
        let empty = search_page_out(pb::SearchVectorStoreResponse {
            search_query: vec!["q".into()],
            data: vec![],
            has_more: false,
            next_page: None,
        });
        assert_schema(&empty, "VectorStoreSearchResultsPage", SEARCH_PAGE_REQUIRED);
    }

    #[test]
    fn file_content_page() {
        let v = file_content_out(pb::VectorStoreFileContentResponse {
            data: vec![
                pb::VectorStoreContent { text: "hello".into() },
                pb::VectorStoreContent { text: "world".into() },
            ],
            has_more: true,
            next_page: Some("p2".into()),
        });
        assert_schema(&v, "VectorStoreFileContentResponse", CONTENT_PAGE_REQUIRED);
        assert_eq!(v["object"], "vector_store.file_content.page");
        assert_eq!(v["data"], json!([{"type": "text", "text": "hello"}, {"type": "text", "text": "world"}]));
        assert_eq!((v["has_more"].clone(), v["next_page"].clone()), (json!(true), json!("p2")));
        let v = file_content_out(pb::VectorStoreFileContentResponse::default());
        assert_schema(&v, "VectorStoreFileContentResponse", CONTENT_PAGE_REQUIRED);
        assert_eq!(v["next_page"], Value::Null);
    }

    /// Parses JSON the code before the typed structs answered for the same message.
    fn old(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn vector_store_answers_as_before() {
        assert_eq!(
            vector_store_out(pb::VectorStore::default()),
            old(
                r#"{"created_at":0,"expires_at":null,"file_counts":{"cancelled":0,"completed":0,"failed":0,"in_progress":0,"total":0},"id":"","last_active_at":null,"metadata":{},"name":"","object":"vector_store","status":"in_progress","usage_bytes":0}"#
            )
        );
        let s = pb::VectorStore {
            id: "vs_2".into(),
            created_at: 10,
            name: "docs".into(),
            usage_bytes: 2048,
            file_counts: Some(counts()),
            status: pb::VectorStoreStatus::Completed as i32,
            expires_after: Some(pb::VectorStoreExpiresAfter { anchor: String::new(), days: 3 }),
            expires_at: Some(259_210),
            last_active_at: Some(10),
            metadata: Some(pb::Metadata { entries: [("k".to_owned(), "v".to_owned())].into() }),
        };
        assert_eq!(
            vector_store_out(s),
            old(
                r#"{"created_at":10,"expires_after":{"anchor":"last_active_at","days":3},"expires_at":259210,"file_counts":{"cancelled":4,"completed":2,"failed":3,"in_progress":1,"total":10},"id":"vs_2","last_active_at":10,"metadata":{"k":"v"},"name":"docs","object":"vector_store","status":"completed","usage_bytes":2048}"#
            )
        );
        let s = pb::VectorStore {
            status: pb::VectorStoreStatus::Expired as i32,
            expires_after: Some(pb::VectorStoreExpiresAfter { anchor: "other".into(), days: 0 }),
            ..Default::default()
        };
        assert_eq!(
            vector_store_out(s),
            old(
                r#"{"created_at":0,"expires_after":{"anchor":"other","days":0},"expires_at":null,"file_counts":{"cancelled":0,"completed":0,"failed":0,"in_progress":0,"total":0},"id":"","last_active_at":null,"metadata":{},"name":"","object":"vector_store","status":"expired","usage_bytes":0}"#
            )
        );
        assert_eq!(
            vector_store_out(pb::VectorStore { status: 99, ..Default::default() }),
            vector_store_out(pb::VectorStore::default())
        );
    }

    #[test]
    fn vector_store_file_answers_as_before() {
        assert_eq!(
            vector_store_file_out(pb::VectorStoreFile::default()),
            old(
                r#"{"attributes":{},"created_at":0,"id":"","last_error":null,"object":"vector_store.file","status":"in_progress","usage_bytes":0,"vector_store_id":""}"#
            )
        );
        let mut attributes = attrs(json!({"s": "x", "i": 2021, "f": 0.5, "neg": -3, "b": true, "whole": 2.0}));
        attributes.insert("null".into(), prost_types::Value { kind: None });
        let f = pb::VectorStoreFile {
            id: "file-1".into(),
            created_at: 3,
            vector_store_id: "vs_1".into(),
            usage_bytes: 5,
            status: pb::VectorStoreFileStatus::Failed as i32,
            last_error: Some(pb::VectorStoreFileError { code: "weird".into(), message: "m".into() }),
            chunking_strategy: Some(pb::ChunkingStrategy {
                strategy: Some(pb::chunking_strategy::Strategy::Auto(pb::AutoChunking {})),
            }),
            attributes,
        };
        assert_eq!(
            vector_store_file_out(f),
            old(
                r#"{"attributes":{"b":true,"f":0.5,"i":2021,"neg":-3,"null":null,"s":"x","whole":2},"chunking_strategy":{"static":{"chunk_overlap_tokens":400,"max_chunk_size_tokens":800},"type":"static"},"created_at":3,"id":"file-1","last_error":{"code":"server_error","message":"m"},"object":"vector_store.file","status":"failed","usage_bytes":5,"vector_store_id":"vs_1"}"#
            )
        );
        let f = pb::VectorStoreFile {
            status: pb::VectorStoreFileStatus::Failed as i32,
            last_error: Some(pb::VectorStoreFileError { code: "invalid_file".into(), message: String::new() }),
            chunking_strategy: Some(pb::ChunkingStrategy {
                strategy: Some(pb::chunking_strategy::Strategy::Static(pb::StaticChunking {
                    max_chunk_size_tokens: 100,
                    chunk_overlap_tokens: 0,
                })),
            }),
            ..Default::default()
        };
        assert_eq!(
            vector_store_file_out(f),
            old(
                r#"{"attributes":{},"chunking_strategy":{"static":{"chunk_overlap_tokens":0,"max_chunk_size_tokens":100},"type":"static"},"created_at":0,"id":"","last_error":{"code":"invalid_file","message":""},"object":"vector_store.file","status":"failed","usage_bytes":0,"vector_store_id":""}"#
            )
        );
        // An error on a file that did not fail is not shown.
        let f = pb::VectorStoreFile {
            status: pb::VectorStoreFileStatus::Completed as i32,
            last_error: Some(pb::VectorStoreFileError { code: "server_error".into(), message: "x".into() }),
            chunking_strategy: Some(pb::ChunkingStrategy {
                strategy: Some(pb::chunking_strategy::Strategy::Other(pb::OtherChunking {})),
            }),
            ..Default::default()
        };
        assert_eq!(
            vector_store_file_out(f),
            old(
                r#"{"attributes":{},"chunking_strategy":{"type":"other"},"created_at":0,"id":"","last_error":null,"object":"vector_store.file","status":"completed","usage_bytes":0,"vector_store_id":""}"#
            )
        );
        // A strategy message with no strategy in it: the key is left out.
        let f = pb::VectorStoreFile {
            status: pb::VectorStoreFileStatus::Cancelled as i32,
            chunking_strategy: Some(pb::ChunkingStrategy { strategy: None }),
            ..Default::default()
        };
        assert_eq!(
            vector_store_file_out(f),
            old(
                r#"{"attributes":{},"created_at":0,"id":"","last_error":null,"object":"vector_store.file","status":"cancelled","usage_bytes":0,"vector_store_id":""}"#
            )
        );
        let f = pb::VectorStoreFile {
            status: 42,
            last_error: Some(pb::VectorStoreFileError::default()),
            ..Default::default()
        };
        assert_eq!(vector_store_file_out(f), vector_store_file_out(pb::VectorStoreFile::default()));
    }

    #[test]
    fn batches_pages_and_search_answer_as_before() {
        assert_eq!(
            file_batch_out(pb::VectorStoreFileBatch::default()),
            old(
                r#"{"created_at":0,"file_counts":{"cancelled":0,"completed":0,"failed":0,"in_progress":0,"total":0},"id":"","object":"vector_store.files_batch","status":"in_progress","vector_store_id":""}"#
            )
        );
        let b = pb::VectorStoreFileBatch {
            id: "vsfb_1".into(),
            created_at: 4,
            vector_store_id: "vs_1".into(),
            status: pb::VectorStoreFileStatus::Failed as i32,
            file_counts: Some(pb::VectorStoreFileCounts {
                in_progress: 0,
                completed: 1,
                failed: 1,
                cancelled: 0,
                total: 2,
            }),
        };
        assert_eq!(
            file_batch_out(b),
            old(
                r#"{"created_at":4,"file_counts":{"cancelled":0,"completed":1,"failed":1,"in_progress":0,"total":2},"id":"vsfb_1","object":"vector_store.files_batch","status":"failed","vector_store_id":"vs_1"}"#
            )
        );
        assert_eq!(
            file_batch_out(pb::VectorStoreFileBatch { status: 77, ..Default::default() }),
            file_batch_out(pb::VectorStoreFileBatch::default())
        );

        assert_eq!(
            file_content_out(pb::VectorStoreFileContentResponse::default()),
            old(r#"{"data":[],"has_more":false,"next_page":null,"object":"vector_store.file_content.page"}"#)
        );
        let r = pb::VectorStoreFileContentResponse {
            data: vec![pb::VectorStoreContent { text: "a".into() }, pb::VectorStoreContent { text: String::new() }],
            has_more: true,
            next_page: Some("p2".into()),
        };
        assert_eq!(
            file_content_out(r),
            old(
                r#"{"data":[{"text":"a","type":"text"},{"text":"","type":"text"}],"has_more":true,"next_page":"p2","object":"vector_store.file_content.page"}"#
            )
        );

        assert_eq!(
            search_page_out(pb::SearchVectorStoreResponse::default()),
            old(
                r#"{"data":[],"has_more":false,"next_page":null,"object":"vector_store.search_results.page","search_query":[]}"#
            )
        );
        // Scores stay floats (0.0 and 1.0, not 0 and 1); a NaN reads as null.
        let r = pb::SearchVectorStoreResponse {
            search_query: vec!["q1".into(), "q2".into()],
            data: vec![
                pb::VectorStoreSearchResult {
                    file_id: "file-1".into(),
                    filename: "a.txt".into(),
                    score: 0.87,
                    attributes: attrs(json!({"k": "v", "n": 1})),
                    content: vec![pb::VectorStoreContent { text: "one".into() }],
                },
                pb::VectorStoreSearchResult {
                    file_id: "file-2".into(),
                    filename: String::new(),
                    score: 0.0,
                    attributes: HashMap::new(),
                    content: vec![],
                },
                pb::VectorStoreSearchResult {
                    file_id: "file-3".into(),
                    filename: "c".into(),
                    score: 1.0,
                    ..Default::default()
                },
                pb::VectorStoreSearchResult { score: f64::NAN, ..Default::default() },
            ],
            has_more: true,
            next_page: Some("n".into()),
        };
        let v = search_page_out(r);
        assert_eq!(
            v,
            old(
                r#"{"data":[{"attributes":{"k":"v","n":1},"content":[{"text":"one","type":"text"}],"file_id":"file-1","filename":"a.txt","score":0.87},{"attributes":{},"content":[],"file_id":"file-2","filename":"","score":0.0},{"attributes":{},"content":[],"file_id":"file-3","filename":"c","score":1.0},{"attributes":{},"content":[],"file_id":"","filename":"","score":null}],"has_more":true,"next_page":"n","object":"vector_store.search_results.page","search_query":["q1","q2"]}"#
            )
        );
        assert!(v["data"][1]["score"].is_f64() && v["data"][2]["score"].is_f64(), "{v}");
    }

    // -----------------------------------------------------------------------------
    // Requests
    // -----------------------------------------------------------------------------

    fn err_param(e: &ApiError) -> (&str, &str) {
        (e.param.as_deref().unwrap_or_default(), e.code.as_deref().unwrap_or_default())
    }

    fn static_chunking(max: i32, overlap: i32) -> pb::ChunkingStrategy {
        pb::ChunkingStrategy {
            strategy: Some(pb::chunking_strategy::Strategy::Static(pb::StaticChunking {
                max_chunk_size_tokens: max,
                chunk_overlap_tokens: overlap,
            })),
        }
    }

    fn auto_chunking() -> pb::ChunkingStrategy {
        pb::ChunkingStrategy { strategy: Some(pb::chunking_strategy::Strategy::Auto(pb::AutoChunking {})) }
    }

    #[test]
    fn create_vector_store_request() {
        let r = parse_json::<CreateVectorStoreIn>(
            br#"{"file_ids":["file-1","file-2"],"name":"docs","description":"d",
                "expires_after":{"anchor":"last_active_at","days":3},
                "chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":300,"chunk_overlap_tokens":50}},
                "metadata":{"k":"v"}}"#,
        )
        .unwrap()
        .into_pb();
        assert_eq!(r.file_ids, vec!["file-1", "file-2"]);
        assert_eq!(r.name.as_deref(), Some("docs"));
        assert_eq!(r.description.as_deref(), Some("d"));
        assert_eq!(r.expires_after, Some(pb::VectorStoreExpiresAfter { anchor: "last_active_at".into(), days: 3 }));
        assert_eq!(r.chunking_strategy, Some(static_chunking(300, 50)));
        assert_eq!(r.metadata.unwrap().entries.get("k").map(String::as_str), Some("v"));

        let r = parse_json::<CreateVectorStoreIn>(br#"{"chunking_strategy":{"type":"auto"}}"#).unwrap().into_pb();
        assert_eq!(r.chunking_strategy, Some(auto_chunking()));
        // Empty bodies and nulls read as unset.
        assert_eq!(parse_json::<CreateVectorStoreIn>(b"").unwrap().into_pb(), pb::CreateVectorStoreRequest::default());
        let r = parse_json::<CreateVectorStoreIn>(
            br#"{"file_ids":null,"name":null,"description":null,"expires_after":null,"chunking_strategy":null,"metadata":null}"#,
        )
        .unwrap()
        .into_pb();
        assert_eq!(r, pb::CreateVectorStoreRequest::default());

        for (body, param, code) in [
            (r#"{"colour":"red"}"#, "colour", "unknown_parameter"),
            (r#"{"name":7}"#, "name", "invalid_type"),
            (r#"{"file_ids":"file-1"}"#, "file_ids", "invalid_type"),
            (r#"{"file_ids":[1]}"#, "file_ids[0]", "invalid_type"),
            (r#"{"metadata":{"k":1}}"#, "metadata.k", "invalid_type"),
            (r#"{"expires_after":{"anchor":"last_active_at","days":1,"x":1}}"#, "expires_after.x", "unknown_parameter"),
            (r#"{"expires_after":{"anchor":"last_active_at"}}"#, "expires_after", "missing_required_parameter"),
            (r#"{"expires_after":{"anchor":"last_active_at","days":"seven"}}"#, "expires_after.days", "invalid_type"),
            (r#"{"chunking_strategy":"auto"}"#, "chunking_strategy", "invalid_type"),
        ] {
            let e = parse_json::<CreateVectorStoreIn>(body.as_bytes()).unwrap_err();
            assert_eq!(err_param(&e), (param, code), "{body}: {}", e.message);
        }
    }

    #[test]
    fn chunking_strategy_shapes() {
        for body in [
            r#"{"chunking_strategy":{"type":"fixed"}}"#,
            r#"{"chunking_strategy":{"type":"static"}}"#,
            r#"{"chunking_strategy":{"type":"auto","static":{"max_chunk_size_tokens":1,"chunk_overlap_tokens":0}}}"#,
            r#"{"chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":100}}}"#,
            r#"{"chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":100,"chunk_overlap_tokens":0,"x":1}}}"#,
            r#"{"chunking_strategy":{"static":{"max_chunk_size_tokens":100,"chunk_overlap_tokens":0}}}"#,
        ] {
            let e = parse_json::<CreateVectorStoreFileIn>(format!(r#"{{"file_id":"f",{}"#, &body[1..]).as_bytes())
                .unwrap_err();
            let p = e.param.as_deref().unwrap_or_default();
            assert!(p.starts_with("chunking_strategy"), "{body}: {p} {}", e.message);
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        }
        let e = parse_json::<CreateVectorStoreFileIn>(
            br#"{"file_id":"f","chunking_strategy":{"type":"auto","static":{"max_chunk_size_tokens":800,"chunk_overlap_tokens":400}}}"#,
        )
        .unwrap_err();
        assert_eq!(err_param(&e), ("chunking_strategy.static", "unknown_parameter"));
        let e = parse_json::<CreateVectorStoreFileIn>(br#"{"file_id":"f","chunking_strategy":{"type":"other"}}"#)
            .unwrap_err();
        assert_eq!(err_param(&e), ("chunking_strategy", "invalid_type"), "{}", e.message);
    }

    #[test]
    fn vector_store_file_request_and_attributes() {
        let f = parse_json::<CreateVectorStoreFileIn>(
            br#"{"file_id":"file-1","attributes":{"author":"ann","year":2021,"score":-0.25,"draft":true},
                "chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":200,"chunk_overlap_tokens":100}}}"#,
        )
        .unwrap()
        .into_pb();
        assert_eq!(f.file_id, "file-1");
        assert_eq!(f.chunking_strategy, Some(static_chunking(200, 100)));
        assert_eq!(attributes_out(f.attributes), json!({"author": "ann", "year": 2021, "score": -0.25, "draft": true}));
        let f = parse_json::<CreateVectorStoreFileIn>(br#"{"file_id":"file-1","attributes":null}"#).unwrap().into_pb();
        assert!(f.attributes.is_empty());
        assert_eq!(f.chunking_strategy, None);

        for (body, param, code) in [
            (r#"{}"#, "file_id", "missing_required_parameter"),
            (r#"{"file_id":"f","attributes":{"a":{"b":1}}}"#, "attributes.a", "invalid_type"),
            (r#"{"file_id":"f","attributes":{"a":[1]}}"#, "attributes.a", "invalid_type"),
            (r#"{"file_id":"f","attributes":{"a":null}}"#, "attributes.a", "invalid_type"),
            (r#"{"file_id":"f","attributes":[1]}"#, "attributes", "invalid_type"),
            (r#"{"file_id":"f","metadata":{}}"#, "metadata", "unknown_parameter"),
        ] {
            let e = parse_json::<CreateVectorStoreFileIn>(body.as_bytes()).unwrap_err();
            assert_eq!(err_param(&e), (param, code), "{body}: {}", e.message);
        }
        let e = parse_json::<CreateVectorStoreFileIn>(br#"{"file_id":"f","attributes":{"a":{"b":1}}}"#).unwrap_err();
        assert!(e.message.contains("a string, a number or a boolean"), "{}", e.message);

        // Update: attributes required; null clears them.
        let u = parse_json::<UpdateVectorStoreFileAttributesIn>(br#"{"attributes":{"k":"v","n":1.5}}"#)
            .unwrap()
            .into_pb("vs_1".into(), "file-1".into());
        assert_eq!((u.vector_store_id.as_str(), u.file_id.as_str()), ("vs_1", "file-1"));
        assert_eq!(attributes_out(u.attributes), json!({"k": "v", "n": 1.5}));
        let u = parse_json::<UpdateVectorStoreFileAttributesIn>(br#"{"attributes":null}"#)
            .unwrap()
            .into_pb("vs_1".into(), "file-1".into());
        assert!(u.attributes.is_empty());
        let e = parse_json::<UpdateVectorStoreFileAttributesIn>(b"{}").unwrap_err();
        assert_eq!(err_param(&e), ("attributes", "missing_required_parameter"));
        let e = parse_json::<UpdateVectorStoreFileAttributesIn>(br#"{"attributes":{"k":{}}}"#).unwrap_err();
        assert_eq!(err_param(&e), ("attributes.k", "invalid_type"));
        let e = parse_json::<UpdateVectorStoreFileAttributesIn>(br#"{"attributes":{},"x":1}"#).unwrap_err();
        assert_eq!(err_param(&e), ("x", "unknown_parameter"));
    }

    #[test]
    fn modify_vector_store_request() {
        let m = |body: &str| parse_json::<ModifyVectorStoreIn>(body.as_bytes()).unwrap().into_pb("vs_1".into());
        let r = m(r#"{"name":"n","expires_after":{"anchor":"last_active_at","days":9},"metadata":{"a":"b"}}"#);
        assert_eq!(r.vector_store_id, "vs_1");
        assert_eq!(r.name.as_deref(), Some("n"));
        assert_eq!(r.expires_after.as_ref().map(|e| e.days), Some(9));
        assert_eq!(r.update_mask.unwrap().paths, vec!["name", "expires_after", "metadata"]);
        // Nulls clear: named in the mask, left unset.
        let r = m(r#"{"name":null,"expires_after":null,"metadata":null}"#);
        assert_eq!((r.name, r.expires_after), (None, None));
        assert_eq!(r.metadata, Some(pb::Metadata::default()));
        assert_eq!(r.update_mask.unwrap().paths, vec!["name", "expires_after", "metadata"]);
        // Absent: not in the mask.
        let r = m("{}");
        assert_eq!(r.update_mask.unwrap().paths, Vec::<String>::new());
        let r = m(r#"{"expires_after":null}"#);
        assert_eq!(r.update_mask.unwrap().paths, vec!["expires_after"]);

        for (body, param, code) in [
            (r#"{"file_ids":[]}"#, "file_ids", "unknown_parameter"),
            (r#"{"name":1}"#, "name", "invalid_type"),
            (r#"{"expires_after":{"days":1}}"#, "expires_after", "missing_required_parameter"),
            (r#"{"expires_after":{"anchor":"x","days":1,"y":2}}"#, "expires_after.y", "unknown_parameter"),
        ] {
            let e = parse_json::<ModifyVectorStoreIn>(body.as_bytes()).unwrap_err();
            assert_eq!(err_param(&e), (param, code), "{body}: {}", e.message);
        }
    }

    #[test]
    fn file_batch_request() {
        let b = |body: &str| parse_json::<CreateFileBatchIn>(body.as_bytes()).unwrap().into_pb("vs_1".into());
        let r = b(r#"{"file_ids":["a","b"],"attributes":{"k":true},"chunking_strategy":{"type":"auto"}}"#).unwrap();
        assert_eq!(r.vector_store_id, "vs_1");
        assert_eq!(r.file_ids, vec!["a", "b"]);
        assert!(r.files.is_empty());
        assert_eq!(attributes_out(r.attributes), json!({"k": true}));
        assert_eq!(r.chunking_strategy, Some(auto_chunking()));

        let r = b(r#"{"files":[{"file_id":"a"},{"file_id":"b","attributes":{"n":2},
                    "chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":400,"chunk_overlap_tokens":0}}}]}"#)
        .unwrap();
        assert!(r.file_ids.is_empty());
        assert_eq!(r.files.len(), 2);
        assert_eq!(r.files[0], pb::NewVectorStoreFile { file_id: "a".into(), ..Default::default() });
        assert_eq!(r.files[1].chunking_strategy, Some(static_chunking(400, 0)));
        assert_eq!(attributes_out(r.files[1].attributes.clone()), json!({"n": 2}));

        let e = b(r#"{"file_ids":["a"],"files":[{"file_id":"b"}]}"#).unwrap_err();
        assert_eq!(err_param(&e), ("files", "invalid_value"));
        let e = b("{}").unwrap_err();
        assert_eq!(err_param(&e), ("file_ids", "missing_required_parameter"));
        let e = b(r#"{"file_ids":null,"files":null}"#).unwrap_err();
        assert_eq!(err_param(&e), ("file_ids", "missing_required_parameter"));
        for (body, param, code) in [
            (r#"{"files":[{"file_id":"a","x":1}]}"#, "files[0].x", "unknown_parameter"),
            (r#"{"files":[{}]}"#, "files[0]", "missing_required_parameter"),
            (r#"{"files":[{"file_id":"a","attributes":{"k":[]}}]}"#, "files[0].attributes.k", "invalid_type"),
            (r#"{"file_ids":["a"],"attributes":{"k":{}}}"#, "attributes.k", "invalid_type"),
            (r#"{"file_ids":["a"],"metadata":{}}"#, "metadata", "unknown_parameter"),
        ] {
            let e = parse_json::<CreateFileBatchIn>(body.as_bytes()).unwrap_err();
            assert_eq!(err_param(&e), (param, code), "{body}: {}", e.message);
        }
    }

    #[test]
    fn list_filter_values() {
        assert_eq!(file_status_filter(None).unwrap(), None);
        for (s, want) in [
            ("in_progress", pb::VectorStoreFileStatus::InProgress),
            ("completed", pb::VectorStoreFileStatus::Completed),
            ("failed", pb::VectorStoreFileStatus::Failed),
            ("cancelled", pb::VectorStoreFileStatus::Cancelled),
        ] {
            assert_eq!(file_status_filter(Some(s)).unwrap(), Some(want as i32));
        }
        for bad in ["done", "", "Completed"] {
            let e = file_status_filter(Some(bad)).unwrap_err();
            assert_eq!(err_param(&e), ("filter", "invalid_value"));
        }
    }

    fn search(body: &str) -> Result<pb::SearchVectorStoreRequest, ApiError> {
        parse_json::<SearchIn>(body.as_bytes())?.into_pb("vs_1".into())
    }

    fn cmp(key: &str, op: pb::ComparisonType, value: Value) -> pb::SearchFilter {
        pb::SearchFilter {
            filter: Some(pb::search_filter::Filter::Comparison(pb::ComparisonFilter {
                key: key.into(),
                r#type: op as i32,
                value: Some(json_to_value(&value)),
            })),
        }
    }

    fn compound(op: pb::CompoundType, filters: Vec<pb::SearchFilter>) -> pb::SearchFilter {
        pb::SearchFilter {
            filter: Some(pb::search_filter::Filter::Compound(pb::CompoundFilter { r#type: op as i32, filters })),
        }
    }

    #[test]
    fn search_request() {
        let r = search(r#"{"query":"hello"}"#).unwrap();
        assert_eq!(r.vector_store_id, "vs_1");
        assert_eq!(r.query, vec!["hello"]);
        assert_eq!((r.filters, r.max_num_results, r.ranking_options, r.rewrite_query), (None, None, None, None));

        let r = search(
            r#"{"query":["a","b"],"rewrite_query":true,"max_num_results":5,
                "ranking_options":{"ranker":"none","score_threshold":0.25}}"#,
        )
        .unwrap();
        assert_eq!(r.query, vec!["a", "b"]);
        assert_eq!(r.rewrite_query, Some(true));
        assert_eq!(r.max_num_results, Some(5));
        assert_eq!(
            r.ranking_options,
            Some(pb::FileSearchRankingOptions { ranker: Some("none".into()), score_threshold: 0.25 })
        );
        let r = search(r#"{"query":"q","ranking_options":{},"filters":null}"#).unwrap();
        assert_eq!(r.ranking_options, Some(pb::FileSearchRankingOptions { ranker: None, score_threshold: 0.0 }));
        assert_eq!(r.filters, None);

        for (body, param, code) in [
            (r#"{}"#, "query", "missing_required_parameter"),
            (r#"{"query":null}"#, "query", "invalid_type"),
            (r#"{"query":3}"#, "query", "invalid_type"),
            (r#"{"query":[]}"#, "query", "invalid_value"),
            (r#"{"query":["a",2]}"#, "query[1]", "invalid_type"),
            (r#"{"query":"q","limit":3}"#, "limit", "unknown_parameter"),
            (r#"{"query":"q","max_num_results":"ten"}"#, "max_num_results", "invalid_type"),
            (r#"{"query":"q","rewrite_query":"yes"}"#, "rewrite_query", "invalid_type"),
            (r#"{"query":"q","ranking_options":{"ranker":"auto","x":1}}"#, "ranking_options.x", "unknown_parameter"),
            (
                r#"{"query":"q","ranking_options":{"score_threshold":"high"}}"#,
                "ranking_options.score_threshold",
                "invalid_type",
            ),
        ] {
            let e = search(body).unwrap_err();
            assert_eq!(err_param(&e), (param, code), "{body}: {}", e.message);
        }
    }

    #[test]
    fn search_filters() {
        use pb::ComparisonType as T;
        let f = |filters: &str| search(&format!(r#"{{"query":"q","filters":{filters}}}"#)).map(|r| r.filters.unwrap());

        // Each operator; type defaults to eq; every value form.
        assert_eq!(f(r#"{"key":"author","value":"ann"}"#).unwrap(), cmp("author", T::Eq, json!("ann")));
        for (op, t) in [("eq", T::Eq), ("ne", T::Ne), ("gt", T::Gt), ("gte", T::Gte), ("lt", T::Lt), ("lte", T::Lte)] {
            assert_eq!(
                f(&format!(r#"{{"type":"{op}","key":"year","value":2020}}"#)).unwrap(),
                cmp("year", t, json!(2020))
            );
        }
        assert_eq!(f(r#"{"type":"eq","key":"draft","value":false}"#).unwrap(), cmp("draft", T::Eq, json!(false)));
        assert_eq!(f(r#"{"type":"lt","key":"score","value":0.5}"#).unwrap(), cmp("score", T::Lt, json!(0.5)));
        assert_eq!(
            f(r#"{"type":"in","key":"tag","value":["a","b",3]}"#).unwrap(),
            cmp("tag", T::In, json!(["a", "b", 3]))
        );
        assert_eq!(f(r#"{"type":"nin","key":"n","value":[1,2]}"#).unwrap(), cmp("n", T::Nin, json!([1, 2])));

        // Nested compounds.
        let got = f(r#"{"type":"and","filters":[
                {"type":"eq","key":"a","value":"x"},
                {"type":"or","filters":[{"type":"in","key":"b","value":["p","q"]},{"type":"gte","key":"c","value":3}]}
            ]}"#)
        .unwrap();
        let want = compound(
            pb::CompoundType::And,
            vec![
                cmp("a", T::Eq, json!("x")),
                compound(pb::CompoundType::Or, vec![cmp("b", T::In, json!(["p", "q"])), cmp("c", T::Gte, json!(3))]),
            ],
        );
        assert_eq!(got, want);
        // An empty compound is the service's to refuse.
        assert_eq!(f(r#"{"type":"or","filters":[]}"#).unwrap(), compound(pb::CompoundType::Or, vec![]));

        for (filters, param, code) in [
            (r#""author""#, "filters", "invalid_type"),
            (r#"[]"#, "filters", "invalid_type"),
            (r#"{"type":"like","key":"a","value":"x"}"#, "filters.type", "invalid_value"),
            (r#"{"type":1,"key":"a","value":"x"}"#, "filters.type", "invalid_type"),
            (r#"{"type":"eq","value":"x"}"#, "filters.key", "missing_required_parameter"),
            (r#"{"type":"eq","key":2,"value":"x"}"#, "filters.key", "invalid_type"),
            (r#"{"type":"eq","key":"a"}"#, "filters.value", "missing_required_parameter"),
            (r#"{"type":"eq","key":"a","value":null}"#, "filters.value", "invalid_type"),
            (r#"{"type":"eq","key":"a","value":{"x":1}}"#, "filters.value", "invalid_type"),
            (r#"{"type":"in","key":"a","value":["x",["y"]]}"#, "filters.value[1]", "invalid_type"),
            (r#"{"type":"in","key":"a","value":[null]}"#, "filters.value[0]", "invalid_type"),
            (r#"{"type":"eq","key":"a","value":"x","extra":1}"#, "filters.extra", "unknown_parameter"),
            (r#"{"type":"eq","key":"a","value":"x","filters":[]}"#, "filters.filters", "unknown_parameter"),
            (r#"{"type":"and"}"#, "filters.filters", "missing_required_parameter"),
            (r#"{"type":"and","filters":{}}"#, "filters.filters", "invalid_type"),
            (r#"{"type":"and","filters":[],"key":"a"}"#, "filters.key", "unknown_parameter"),
            (r#"{"filters":[]}"#, "filters.type", "missing_required_parameter"),
            (
                r#"{"type":"or","filters":[{"key":"a","value":"x"},{"type":"xor","filters":[]}]}"#,
                "filters.filters[1].type",
                "invalid_value",
            ),
            (
                r#"{"type":"and","filters":[{"type":"or","filters":[{"type":"eq","key":"a","value":"x","bad":true}]}]}"#,
                "filters.filters[0].filters[0].bad",
                "unknown_parameter",
            ),
            (
                r#"{"type":"and","filters":[{"type":"or","filters":[{"type":"nin","key":"a","value":[{}]}]}]}"#,
                "filters.filters[0].filters[0].value[0]",
                "invalid_type",
            ),
        ] {
            let e = f(filters).unwrap_err();
            assert_eq!(err_param(&e), (param, code), "{filters}: {}", e.message);
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        }
    }
}
