//! Where chunks live and how they are found.
//!
//! [`VectorIndex`] is the storage contract for indexed chunks. Two implementations
//! share one test suite: [`edge::EdgeIndex`] (embedded qdrant-edge under the data dir,
//! the default) and [`qdrant::QdrantIndex`] (a Qdrant server or cluster through
//! `qdrant-client`). Both keep every chunk of every project in one collection; the
//! payload names the tenant (`project`, a tenant-indexed keyword), the vector store and
//! the file, so a search never leaves its project and vector stores.
//!
//! Lexical retrieval is BM25 over a sparse vector computed here (see [`bm25`]) from
//! the chunk text, so both implementations score identically; dense vectors come from
//! the embedder in use and are optional (lexical-only when there is no embedder).
//! Fusion of the ranked lists is the caller's business (see `crate::search`).

pub mod bm25;
pub mod edge;
mod filter;
pub mod qdrant;
#[cfg(test)]
pub(crate) mod suite;

use serde_json::{Map, Value};

/// Payload keys shared by every implementation (and by the test-only Qdrant server).
pub mod keys {
    /// The owning project (tenant-indexed keyword).
    pub const PROJECT: &str = "project";
    /// The vector store (keyword index).
    pub const VECTOR_STORE: &str = "vector_store_id";
    /// The file (keyword index).
    pub const FILE: &str = "file_id";
    /// The chunk's position in the file, from 0 (integer).
    pub const POSITION: &str = "position";
    /// The chunk's text.
    pub const TEXT: &str = "text";
    /// The file's attributes, an object; filters address `attributes.<key>`.
    pub const ATTRIBUTES: &str = "attributes";
    /// Name of the sparse (BM25) vector.
    pub const SPARSE: &str = "bm25";
    /// Name of the dense vector (for a [windowed](super::Dense::windows) index, the mean
    /// of the chunk's windows: the one HNSW indexes).
    pub const DENSE: &str = "dense";
    /// Name of the windows multivector of a [windowed](super::Dense::windows) index
    /// (MaxSim; not indexed: it rescores what [`DENSE`] finds).
    pub const WINDOWS: &str = "windows";
}

/// How many chunks the mean vector of a [windowed](Dense::windows) index proposes for
/// their windows to rescore, at least: a search scores by MaxSim over the windows of
/// the `max(limit, RESCORED)` chunks nearest by their mean. Searching the windows
/// themselves through HNSW would index ~14 vectors per chunk (1.4 million at 100,000
/// chunks, too slow to build on a small machine); this is the two-stage search Qdrant
/// recommends for multivectors (docs/benchmarks.md, "file_search quality").
pub const RESCORED: usize = 100;

/// One chunk to index.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkPoint {
    /// The owning project.
    pub project: String,
    /// The vector store the chunk belongs to.
    pub vector_store_id: String,
    /// The file the chunk comes from.
    pub file_id: String,
    /// The chunk's position in the file, from 0.
    pub position: u32,
    /// The chunk's text (BM25 is computed from it).
    pub text: String,
    /// The file's attributes (strings, numbers, booleans).
    pub attributes: Map<String, Value>,
    /// The dense embedding, required when the index has a dense vector, else `None`: one
    /// vector, or for a [windowed](Dense::windows) index one or more laid end to end.
    pub dense: Option<Vec<f32>>,
}

/// The dense vector of an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dense {
    /// The size of a vector.
    pub dim: usize,
    /// Whether a chunk has one vector per window instead of one: the index keeps them as
    /// a multivector ([`keys::WINDOWS`]) that a query scores by its best match (MaxSim),
    /// and their normalised mean ([`keys::DENSE`]) that finds the candidates to score.
    pub windows: bool,
}

impl Dense {
    /// One vector of `dim` per chunk.
    pub fn one(dim: usize) -> Self {
        Self { dim, windows: false }
    }

    /// One or more vectors of `dim` per chunk.
    pub fn windowed(dim: usize) -> Self {
        Self { dim, windows: true }
    }
}

/// The normalised mean of a chunk's windows, laid end to end (each `dim` long): the
/// vector a [windowed](Dense::windows) index finds candidates by.
pub(crate) fn mean_window(windows: &[f32], dim: usize) -> Vec<f32> {
    let mut mean = vec![0.0f32; dim];
    for window in windows.chunks(dim) {
        for (m, v) in mean.iter_mut().zip(window) {
            *m += v;
        }
    }
    let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        for m in &mut mean {
            *m /= norm;
        }
    }
    mean
}

/// Checks the dense vector of a chunk (`query: false`) or of a query (`true`, always one
/// vector) against what the index has.
pub(crate) fn check_dense(index: Option<Dense>, v: Option<&[f32]>, what: &str, query: bool) -> Result<(), IndexError> {
    match (index, v) {
        (None, None) => Ok(()),
        (Some(d), Some(v)) if v.len() == d.dim => Ok(()),
        (Some(d), Some(v)) if d.windows && !query && !v.is_empty() && v.len() % d.dim == 0 => Ok(()),
        (Some(d), Some(v)) => {
            let expects = if d.windows && !query { "a multiple of " } else { "" };
            Err(IndexError::Invalid(format!(
                "{what}: dense vector of size {}, the index expects {expects}{}",
                v.len(),
                d.dim
            )))
        }
        (Some(d), None) => Err(IndexError::Invalid(format!("{what}: a dense vector of size {} is required", d.dim))),
        (None, Some(_)) => Err(IndexError::Invalid(format!("{what}: the index has no dense vector"))),
    }
}

/// A scalar attribute value in a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A string.
    Str(String),
    /// A number.
    Num(f64),
    /// A boolean.
    Bool(bool),
}

/// An attribute filter, already validated (see `crate::domain`), pushed down into the index.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrFilter {
    /// `attributes[key] == value`.
    Eq(String, Scalar),
    /// `attributes[key] != value` (also true when the attribute is missing).
    Ne(String, Scalar),
    /// `attributes[key] > value` (numbers only).
    Gt(String, f64),
    /// `attributes[key] >= value`.
    Gte(String, f64),
    /// `attributes[key] < value`.
    Lt(String, f64),
    /// `attributes[key] <= value`.
    Lte(String, f64),
    /// `attributes[key]` is one of the values.
    In(String, Vec<Scalar>),
    /// `attributes[key]` is none of the values (also true when missing).
    Nin(String, Vec<Scalar>),
    /// All must match.
    And(Vec<AttrFilter>),
    /// At least one must match.
    Or(Vec<AttrFilter>),
}

/// The payload index kind that serves filters on an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKind {
    /// Strings.
    Keyword,
    /// Numbers (and ranges).
    Float,
    /// Booleans.
    Bool,
}

impl AttrFilter {
    /// The attribute keys the filter reads, each with the index kind that serves it
    /// (the kind of its first value; ranges are numeric), in the order they appear.
    pub fn kinds(&self) -> Vec<(&str, AttrKind)> {
        fn walk<'f>(filter: &'f AttrFilter, out: &mut Vec<(&'f str, AttrKind)>) {
            let kind = |value: &Scalar| match value {
                Scalar::Str(_) => AttrKind::Keyword,
                Scalar::Num(_) => AttrKind::Float,
                Scalar::Bool(_) => AttrKind::Bool,
            };
            match filter {
                AttrFilter::Eq(key, value) | AttrFilter::Ne(key, value) => out.push((key, kind(value))),
                AttrFilter::Gt(key, _) | AttrFilter::Gte(key, _) | AttrFilter::Lt(key, _) | AttrFilter::Lte(key, _) => {
                    out.push((key, AttrKind::Float))
                }
                AttrFilter::In(key, values) | AttrFilter::Nin(key, values) => {
                    if let Some(first) = values.first() {
                        out.push((key, kind(first)));
                    }
                }
                AttrFilter::And(filters) | AttrFilter::Or(filters) => {
                    for f in filters {
                        walk(f, out);
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }
}

/// One search against the index.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The project searched; nothing outside it may be returned.
    pub project: String,
    /// The vector stores searched (at least one).
    pub vector_store_ids: Vec<String>,
    /// The query text (BM25 is computed from it).
    pub text: String,
    /// The query embedding; `None` for lexical-only search.
    pub dense: Option<Vec<f32>>,
    /// Only chunks whose file attributes match.
    pub filter: Option<AttrFilter>,
    /// How many hits each ranked list may hold.
    pub limit: usize,
}

/// A chunk found by a search.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The vector store.
    pub vector_store_id: String,
    /// The file.
    pub file_id: String,
    /// The chunk's position in the file.
    pub position: u32,
    /// The chunk's text.
    pub text: String,
    /// The file's attributes.
    pub attributes: Map<String, Value>,
    /// The raw score of the list it is in: BM25 for lexical, cosine for semantic.
    pub score: f32,
}

/// The ranked lists a search produced, each best first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ranked {
    /// BM25 hits (empty when no query term is in the index).
    pub lexical: Vec<Hit>,
    /// Dense hits (empty when the query had no embedding).
    pub semantic: Vec<Hit>,
}

/// Why an index operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The caller broke the contract (e.g. a dense vector of the wrong size).
    #[error("invalid index request: {0}")]
    Invalid(String),
    /// The index could not do it (I/O, a lost Qdrant connection…).
    #[error("vector index unavailable: {0}")]
    Unavailable(String),
}

/// The storage contract for indexed chunks.
#[async_trait::async_trait]
pub trait VectorIndex: Send + Sync + 'static {
    /// Adds or replaces chunks (a chunk is keyed by vector store, file and position,
    /// see [`point_id`]); durable when it returns.
    async fn upsert(&self, points: Vec<ChunkPoint>) -> Result<(), IndexError>;
    /// Removes every chunk of one file in one vector store.
    async fn delete_file(&self, project: &str, vector_store_id: &str, file_id: &str) -> Result<(), IndexError>;
    /// Replaces the attributes of every chunk of one file in one vector store.
    async fn set_attributes(
        &self,
        project: &str,
        vector_store_id: &str,
        file_id: &str,
        attributes: &Map<String, Value>,
    ) -> Result<(), IndexError>;
    /// Removes every chunk of a vector store.
    async fn delete_store(&self, project: &str, vector_store_id: &str) -> Result<(), IndexError>;
    /// Counts the chunks of a vector store (of one file when `file_id` is given).
    async fn count(&self, project: &str, vector_store_id: &str, file_id: Option<&str>) -> Result<u64, IndexError>;
    /// Runs the lexical search, and the dense one when the query has an embedding,
    /// with the same filter.
    async fn search(&self, query: &Query) -> Result<Ranked, IndexError>;
    /// Whether the index can serve requests (for `/readyz`).
    async fn health(&self) -> Result<(), IndexError>;
}

/// The point id of a chunk: a UUID made from its vector store, file and position, the
/// same in every implementation.
pub fn point_id(vector_store_id: &str, file_id: &str, position: u32) -> uuid::Uuid {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(vector_store_id.as_bytes());
    h.update([0]);
    h.update(file_id.as_bytes());
    h.update([0]);
    h.update(position.to_be_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}
