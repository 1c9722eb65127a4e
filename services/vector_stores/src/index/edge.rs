//! The embedded index: qdrant-edge under the data dir.
//!
//! One [`EdgeShard`] per collection directory (`<data-dir>/vectors/<collection>`), with
//! the sparse vector [`keys::SPARSE`] (BM25 with the IDF modifier, see [`super::bm25`])
//! and, when the collection has an embedder, the dense vector [`keys::DENSE`] (cosine,
//! HNSW); when the embedder embeds passages by windows, [`keys::DENSE`] is their mean and
//! the windows are the multivector [`keys::WINDOWS`] (MaxSim, on disk, no HNSW), which
//! rescores the [`RESCORED`](super::RESCORED) chunks nearest by their mean.
//! Payload indexes: `project` (keyword, tenant), `vector_store_id` and `file_id`
//! (keyword), and `attributes.<key>` for the attribute keys that filters use (see
//! below).
//!
//! qdrant-edge is synchronous and has no background workers, so:
//!
//! - every call runs on [`tokio::task::spawn_blocking`] with the shard in an [`Arc`];
//! - writes (upserts, deletes), flushes and optimisation are serialised by one mutex
//!   (`EdgeShard::flush` panics if it meets a concurrent update, or an optimiser
//!   swapping segments); searches and counts take no lock of ours and run alongside;
//! - a write is durable when it returns: edge never replays its WAL on load, only
//!   flushed segments survive a restart, so each write call ends with a full flush of
//!   every segment (~0.1 s here, whatever the batch size: callers should batch). Flushes
//!   are group-committed: concurrent writers share one;
//! - the optimiser (indexing the segment taking writes once it holds
//!   [`INDEXING_THRESHOLD_KB`] of vectors, times [`WINDOWED_THRESHOLD_FACTOR`] when
//!   windowed; merging down to [`SEGMENTS`] segments; vacuuming deletions) runs inline at
//!   the end of the write that made it necessary. It works on proxies of the segments, so
//!   reads go on while it builds and only wait for the final swap; writes wait for it.
//! - edge never truncates its WAL (nothing acknowledges it), so it grows with every
//!   write for the life of the process; [`EdgeIndex::open`] deletes the closed WAL
//!   segments but the last one (which keeps the operation numbering going: segments
//!   ignore operations numbered below the versions they hold).
//!
//! Attribute filters address `attributes.<key>`; a key that is not a plain identifier
//! (`[A-Za-z0-9_-]+`) is quoted (`attributes."a.b"`), and a key holding `"` or `\`
//! cannot be expressed and is refused as invalid. A condition on a field without a
//! payload index reads and parses the whole payload (chunk text included) of every
//! candidate, once per condition: the first search filtering on an attribute key builds
//! an index for it (keyword for a string value, float for a number or a range, bool for
//! a boolean: the kind of the first filter on that key; a condition of another kind
//! still works, from the payload), unless a write holds the writer lock (then a later
//! search does), up to [`MAX_ATTRIBUTE_INDEXES`] keys per collection. Keys are indexed
//! on use rather than on upsert because every index is flushed on every write.

use std::collections::HashSet;
use std::fmt::Display;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::{
    Condition, CountRequest, CreateIndex, Distance, EdgeConfig, EdgeOptimizersConfig, EdgeShard,
    EdgeSparseVectorParams, EdgeVectorParams, FieldCondition, FieldIndexOperations, Filter, HnswIndexConfig, JsonPath,
    KeywordIndexParams, Match, Modifier, MultiVectorComparator, MultiVectorConfig, NamedQuery, OperationError, Payload,
    PayloadFieldSchema, PayloadOps, PayloadSchemaParams, PayloadSchemaType, PointId, PointInsertOperations,
    PointOperations, PointStruct, Prefetch, QueryEnum, QueryRequest, Range, ScoredPoint, ScoringQuery, SetPayloadOp,
    UpdateOperation, ValueVariants, Vector, VectorInternal, Vectors, WithPayloadInterface, WithVector,
};
use serde_json::{Map, Value};

use super::{
    AttrFilter, AttrKind, ChunkPoint, Dense, Hit, IndexError, Query, RESCORED, Ranked, VectorIndex, bm25, check_dense,
    filter, keys, mean_window, point_id,
};

/// The number of segments the optimiser merges down to. Edge searches its segments one
/// after the other, so fewer is faster to search; below two, every indexing pass
/// would rebuild everything.
pub const SEGMENTS: usize = 2;

/// The size (KB of vectors) at which the segment taking writes is indexed (HNSW for the
/// dense vector, an immutable inverted index for BM25) and merged with the others:
/// ~20k chunks with 384-dimension dense vectors, ~40k lexical-only. Qdrant's default
/// (10 MB) would rebuild the whole collection every ~7k chunks; below this size the
/// segment is searched by its mutable inverted index and by brute force, which stays
/// within a few milliseconds.
pub const INDEXING_THRESHOLD_KB: usize = 32_000;

/// How much more room a [windowed](Dense::windows) chunk's vectors take than one vector:
/// its mean and ~14 windows (an 800-token chunk). The indexing threshold applies to each
/// vector's storage, the windows' included (though they get no graph), so it is raised by
/// this factor to index the segment taking writes at about the same number of chunks,
/// rather than rebuilding and merging segments every ~1,500 chunks.
pub const WINDOWED_THRESHOLD_FACTOR: usize = 15;

/// Points per update operation on upsert (one flush per call, whatever the count). An
/// operation holds the write lock of the segment taking writes, which searches wait for.
const UPSERT_BATCH: usize = 64;

/// The most attribute keys given a payload index in one collection.
pub const MAX_ATTRIBUTE_INDEXES: usize = 64;

const EDGE_CONFIG_FILE: &str = "edge_config.json";
const WAL_DIR: &str = "wal";

/// The embedded vector index (see the module doc).
#[derive(Clone)]
pub struct EdgeIndex {
    inner: Arc<Inner>,
}

struct Inner {
    shard: EdgeShard,
    dense: Option<Dense>,
    /// Serialises writes, flushes and optimisation.
    writer: Mutex<Writes>,
    /// Attribute paths with a payload index.
    attribute_indexes: Mutex<HashSet<JsonPath>>,
}

/// Write calls applied and flushed, for group commit: a flush makes every write applied
/// before it durable, so a writer whose write a later flush covered skips its own.
#[derive(Debug, Default)]
struct Writes {
    applied: u64,
    flushed: u64,
}

impl std::fmt::Debug for EdgeIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeIndex").field("path", &self.inner.shard.path()).field("dense", &self.inner.dense).finish()
    }
}

impl EdgeIndex {
    /// Creates the index under `dir`, or loads the one already there. `dense` is its dense
    /// vector (`None`: lexical only); an existing index made with another (or with/without
    /// a dense vector) is refused as invalid.
    ///
    /// Blocking (it loads the segments): call it from a blocking context.
    pub fn open(dir: &Path, dense: Option<Dense>) -> Result<Self, IndexError> {
        if dense.is_some_and(|d| d.dim == 0) {
            return Err(IndexError::Invalid("the dense vector size must be positive".to_owned()));
        }
        std::fs::create_dir_all(dir).map_err(|e| unavailable(format!("create {}", dir.display()), e))?;
        let wanted = config(dense);
        let shard = if dir.join(EDGE_CONFIG_FILE).exists() {
            trim_wal(&dir.join(WAL_DIR));
            let shard = EdgeShard::load(dir, None).map_err(|e| op_error("load the index", e))?;
            check_compatible(&shard.config(), dense, dir)?;
            if shard.config().optimizers != wanted.optimizers {
                shard.set_optimizers_config(wanted.optimizers).map_err(|e| op_error("configure the optimizer", e))?;
            }
            shard
        } else {
            EdgeShard::new(dir, wanted).map_err(|e| op_error("create the index", e))?
        };
        let attributes = shard.info().payload_schema.into_keys().filter(|k| k.first_key == keys::ATTRIBUTES).collect();
        let inner =
            Inner { shard, dense, writer: Mutex::new(Writes::default()), attribute_indexes: Mutex::new(attributes) };
        {
            let _writer = inner.lock_writer();
            inner.ensure_payload_indexes()?;
            inner.shard.flush();
        }
        tracing::debug!(path = %dir.display(), ?dense, "vector index opened");
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The dense vector, if the index has one.
    pub fn dense(&self) -> Option<Dense> {
        self.inner.dense
    }

    /// Runs `f` on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&Inner) -> Result<T, IndexError> + Send + 'static,
    ) -> Result<T, IndexError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner)).await.map_err(|e| unavailable(what, e))?
    }

    /// Applies a write under the writer lock, then makes it durable: flushes (unless a
    /// flush since has covered it) and optimises.
    async fn write(
        &self,
        what: &'static str,
        operations: impl FnOnce() -> Vec<UpdateOperation> + Send + 'static,
    ) -> Result<(), IndexError> {
        self.blocking(what, move |inner| {
            let operations = operations();
            let seq = {
                let mut writes = inner.lock_writer();
                for operation in operations {
                    inner.shard.update(operation).map_err(|e| op_error(what, e))?;
                }
                writes.applied += 1;
                writes.applied
            };
            // other writers may apply theirs here: the next flush covers them too
            let mut writes = inner.lock_writer();
            if writes.flushed < seq {
                let applied = writes.applied;
                inner.shard.flush();
                writes.flushed = applied;
                inner.optimize();
            }
            Ok(())
        })
        .await
    }
}

impl Inner {
    fn lock_writer(&self) -> MutexGuard<'_, Writes> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates the payload indexes that are missing (all of them on a new index).
    fn ensure_payload_indexes(&self) -> Result<(), IndexError> {
        let existing = self.shard.info().payload_schema;
        let tenant = KeywordIndexParams { is_tenant: Some(true), ..KeywordIndexParams::default() };
        let wanted = [
            (keys::PROJECT, tenant),
            (keys::VECTOR_STORE, KeywordIndexParams::default()),
            (keys::FILE, KeywordIndexParams::default()),
        ];
        for (key, params) in wanted {
            let field_name = <EdgeConditions as filter::Conditions>::key(key)?;
            if existing.contains_key(&field_name) {
                continue;
            }
            let schema = PayloadFieldSchema::FieldParams(PayloadSchemaParams::Keyword(params));
            let operation = UpdateOperation::FieldIndexOperation(FieldIndexOperations::CreateIndex(CreateIndex {
                field_name,
                field_schema: Some(schema),
            }));
            self.shard.update(operation).map_err(|e| op_error("create a payload index", e))?;
        }
        Ok(())
    }

    /// Creates the payload indexes `filter` would use that are missing, if no write is
    /// under way (else a later search will): the first search filtering on a key pays
    /// for building its index.
    fn index_attributes(&self, filter: &AttrFilter) {
        let wanted = filter.kinds();
        let missing: Vec<(JsonPath, PayloadSchemaType)> = {
            let indexed = self.attribute_indexes.lock().unwrap_or_else(PoisonError::into_inner);
            let mut missing: Vec<(JsonPath, PayloadSchemaType)> = Vec::new();
            for (key, kind) in wanted {
                let Ok(path) = filter::attribute::<EdgeConditions>(key) else { continue };
                if indexed.contains(&path) || missing.iter().any(|(p, _)| *p == path) {
                    continue;
                }
                if indexed.len() + missing.len() >= MAX_ATTRIBUTE_INDEXES {
                    tracing::warn!(key, "too many attribute keys filtered on: this one is not indexed");
                    continue;
                }
                missing.push((path, schema_type(kind)));
            }
            missing
        };
        if missing.is_empty() {
            return;
        }
        let mut writes = match self.writer.try_lock() {
            Ok(writes) => writes,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        let started = std::time::Instant::now();
        let mut created = Vec::new();
        for (path, kind) in missing {
            let operation = UpdateOperation::FieldIndexOperation(FieldIndexOperations::CreateIndex(CreateIndex {
                field_name: path.clone(),
                field_schema: Some(PayloadFieldSchema::FieldType(kind)),
            }));
            match self.shard.update(operation) {
                Ok(()) => created.push(path),
                Err(e) => tracing::warn!(field = %path, error = %e, "could not create an attribute payload index"),
            }
        }
        writes.applied += 1;
        self.shard.flush();
        writes.flushed = writes.applied;
        drop(writes);
        tracing::info!(
            fields = ?created.iter().map(ToString::to_string).collect::<Vec<_>>(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "attribute payload indexes created"
        );
        self.attribute_indexes.lock().unwrap_or_else(PoisonError::into_inner).extend(created);
    }

    /// Runs the optimisers until they have nothing left to do; called with the writer
    /// lock held, after a flush (a failure leaves the data as it was: logged only).
    fn optimize(&self) {
        let started = std::time::Instant::now();
        match self.shard.optimize() {
            Ok(false) => {}
            Ok(true) => {
                self.shard.flush();
                tracing::info!(
                    path = %self.shard.path().display(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "vector index optimised"
                );
            }
            Err(e) => {
                tracing::warn!(path = %self.shard.path().display(), error = %e, "vector index optimisation failed")
            }
        }
    }

    /// The `limit` nearest points by `vector` that pass `filter`, among the
    /// `prefetch`'s results if given (which were filtered: no filter is needed again).
    fn query(
        &self,
        vector: &str,
        query: VectorInternal,
        prefetch: Option<Prefetch>,
        filter: Option<&Filter>,
        limit: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        let request = QueryRequest {
            prefetches: prefetch.into_iter().collect(),
            query: Some(nearest(vector, query)),
            filter: filter.cloned(),
            score_threshold: None,
            limit,
            offset: 0,
            params: None,
            with_vector: WithVector::Bool(false),
            with_payload: WithPayloadInterface::Bool(true),
        };
        let points = self.shard.query(request).map_err(|e| op_error("search", e))?;
        Ok(points.into_iter().filter_map(hit).collect())
    }
}

#[async_trait::async_trait]
impl VectorIndex for EdgeIndex {
    async fn upsert(&self, points: Vec<ChunkPoint>) -> Result<(), IndexError> {
        if points.is_empty() {
            return Ok(());
        }
        for p in &points {
            check_dense(self.inner.dense, p.dense.as_deref(), "upsert", false)?;
        }
        // BM25 is computed on the blocking pool too, before the writer lock is taken
        let dense = self.inner.dense;
        self.write("upsert", move || {
            let mut operations = Vec::with_capacity(points.len().div_ceil(UPSERT_BATCH));
            let mut points = points.into_iter().peekable();
            while points.peek().is_some() {
                let batch = points.by_ref().take(UPSERT_BATCH).map(|p| point_struct(p, dense).into()).collect();
                operations.push(UpdateOperation::PointOperation(PointOperations::UpsertPoints(
                    PointInsertOperations::PointsList(batch),
                )));
            }
            operations
        })
        .await
    }

    async fn delete_file(&self, project: &str, vector_store_id: &str, file_id: &str) -> Result<(), IndexError> {
        let filter = scope(project, &[vector_store_id], Some(file_id));
        let operation = UpdateOperation::PointOperation(PointOperations::DeletePointsByFilter(filter));
        self.write("delete file chunks", move || vec![operation]).await
    }

    async fn set_attributes(
        &self,
        project: &str,
        vector_store_id: &str,
        file_id: &str,
        attributes: &Map<String, Value>,
    ) -> Result<(), IndexError> {
        let filter = scope(project, &[vector_store_id], Some(file_id));
        let payload = Payload([(keys::ATTRIBUTES.to_owned(), Value::Object(attributes.clone()))].into_iter().collect());
        let operation = UpdateOperation::PayloadOperation(PayloadOps::SetPayload(SetPayloadOp {
            payload,
            points: None,
            filter: Some(filter),
            key: None,
        }));
        self.write("set file attributes", move || vec![operation]).await
    }

    async fn delete_store(&self, project: &str, vector_store_id: &str) -> Result<(), IndexError> {
        let filter = scope(project, &[vector_store_id], None);
        let operation = UpdateOperation::PointOperation(PointOperations::DeletePointsByFilter(filter));
        self.write("delete vector store chunks", move || vec![operation]).await
    }

    async fn count(&self, project: &str, vector_store_id: &str, file_id: Option<&str>) -> Result<u64, IndexError> {
        let filter = scope(project, &[vector_store_id], file_id);
        self.blocking("count", move |inner| {
            let count = inner
                .shard
                .count(CountRequest { filter: Some(filter), exact: true })
                .map_err(|e| op_error("count", e))?;
            Ok(count as u64)
        })
        .await
    }

    async fn search(&self, query: &Query) -> Result<Ranked, IndexError> {
        if query.vector_store_ids.is_empty() {
            return Err(IndexError::Invalid("search: at least one vector store is required".to_owned()));
        }
        if query.dense.is_some() {
            check_dense(self.inner.dense, query.dense.as_deref(), "search", true)?;
        }
        if query.limit == 0 {
            return Ok(Ranked::default());
        }
        let stores: Vec<&str> = query.vector_store_ids.iter().map(String::as_str).collect();
        let mut filter = scope(&query.project, &stores, None);
        if let Some(attributes) = &query.filter {
            filter.must.get_or_insert_with(Vec::new).push(filter::attr_condition::<EdgeConditions>(attributes)?);
        }
        let attributes = query.filter.clone();
        let sparse = bm25::query(&query.text);
        let dense = query.dense.clone();
        let limit = query.limit;
        self.blocking("search", move |inner| {
            if let Some(attributes) = &attributes {
                inner.index_attributes(attributes);
            }
            let lexical = if sparse.is_empty() {
                Vec::new()
            } else {
                let vector = sparse_vector(sparse);
                let mut hits = inner.query(keys::SPARSE, vector, None, Some(&filter), limit)?;
                hits.retain(|h| h.score > 0.0);
                hits
            };
            let semantic = match (dense, inner.dense) {
                (Some(v), Some(d)) if d.windows => {
                    // the chunks nearest by their windows' mean, rescored by their best window
                    let prefetch = Prefetch {
                        prefetches: Vec::new(),
                        query: Some(nearest(keys::DENSE, VectorInternal::Dense(v.clone()))),
                        limit: limit.max(RESCORED),
                        params: None,
                        filter: Some(filter.clone()),
                        score_threshold: None,
                    };
                    let windows = Vector::new_multi(vec![v]).map_err(|e| op_error("search", e))?.0;
                    inner.query(keys::WINDOWS, windows, Some(prefetch), None, limit)?
                }
                (Some(v), _) => inner.query(keys::DENSE, VectorInternal::Dense(v), None, Some(&filter), limit)?,
                (None, _) => Vec::new(),
            };
            Ok(Ranked { lexical, semantic })
        })
        .await
    }

    async fn health(&self) -> Result<(), IndexError> {
        self.blocking("health", |inner| {
            inner.shard.count(CountRequest { filter: None, exact: false }).map_err(|e| op_error("health", e))?;
            Ok(())
        })
        .await
    }
}

/// Scores by nearness to `query` in the vector `using`.
fn nearest(using: &str, query: VectorInternal) -> ScoringQuery {
    ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery { query, using: Some(using.to_owned()) }))
}

/// The dense vector parameters of a collection: one vector per chunk.
fn dense_params(d: Dense) -> EdgeVectorParams {
    EdgeVectorParams::builder(d.dim, Distance::Cosine).build()
}

/// The windows' multivector of a windowed collection: on disk (about 21 KiB a chunk;
/// a search reads the candidates' only), and no HNSW graph (`m` 0).
fn windows_params(d: Dense) -> EdgeVectorParams {
    EdgeVectorParams::builder(d.dim, Distance::Cosine)
        .multivector_config(MultiVectorConfig { comparator: MultiVectorComparator::MaxSim })
        .on_disk(true)
        .hnsw_config(HnswIndexConfig { m: 0, ..HnswIndexConfig::default() })
        .build()
}

/// The shard configuration for a collection.
fn config(dense: Option<Dense>) -> EdgeConfig {
    let sparse = EdgeSparseVectorParams::builder().modifier(Modifier::Idf).build();
    let threshold = if dense.is_some_and(|d| d.windows) {
        INDEXING_THRESHOLD_KB * WINDOWED_THRESHOLD_FACTOR
    } else {
        INDEXING_THRESHOLD_KB
    };
    let optimizers = EdgeOptimizersConfig {
        default_segment_number: Some(SEGMENTS),
        indexing_threshold: Some(threshold),
        ..EdgeOptimizersConfig::default()
    };
    let mut builder =
        EdgeConfig::builder().sparse_vector(keys::SPARSE, sparse).on_disk_payload(true).optimizers(optimizers);
    if let Some(dense) = dense {
        builder = builder.vector(keys::DENSE, dense_params(dense));
        if dense.windows {
            builder = builder.vector(keys::WINDOWS, windows_params(dense));
        }
    }
    builder.build()
}

/// Refuses an existing index whose vectors differ from what the caller expects.
fn check_compatible(config: &EdgeConfig, dense: Option<Dense>, dir: &Path) -> Result<(), IndexError> {
    let shape = |v: &EdgeVectorParams| (v.size, v.distance, v.multivector_config);
    let sparse_ok = config.sparse_vectors.get(keys::SPARSE).is_some_and(|s| s.modifier == Some(Modifier::Idf));
    let wanted = self::config(dense);
    let dense_ok = config.vectors.len() == wanted.vectors.len()
        && wanted.vectors.iter().all(|(name, w)| config.vectors.get(name).is_some_and(|v| shape(v) == shape(w)));
    if sparse_ok && dense_ok {
        Ok(())
    } else {
        let had = config.vectors.get(keys::DENSE).map(|v| (v.size, config.vectors.contains_key(keys::WINDOWS)));
        Err(IndexError::Invalid(format!(
            "the index at {} was made with other vectors (dense size and windows: {had:?}), not {dense:?}",
            dir.display(),
        )))
    }
}

/// Deletes the closed WAL segments but the newest: edge never replays or truncates its
/// WAL, and the newest closed segment keeps the operation numbering going.
fn trim_wal(wal: &Path) {
    let Ok(entries) = std::fs::read_dir(wal) else { return };
    let mut closed: Vec<(u64, std::path::PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let start = name.to_str()?.strip_prefix("closed-")?.parse().ok()?;
            Some((start, e.path()))
        })
        .collect();
    closed.sort_unstable_by_key(|(start, _)| *start);
    closed.pop();
    for (_, path) in closed {
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), error = %e, "could not remove an old wal segment");
        }
    }
}

/// A chunk as a point; its dense vector was checked ([`check_dense`]).
fn point_struct(p: ChunkPoint, index: Option<Dense>) -> PointStruct {
    let ChunkPoint { project, vector_store_id, file_id, position, text, attributes, dense } = p;
    let id = PointId::Uuid(point_id(&vector_store_id, &file_id, position));
    let sparse = bm25::document(&text);
    let mut vectors = vec![(keys::SPARSE, Vector(sparse_vector(sparse)))];
    match (dense, index) {
        (Some(dense), Some(d)) if d.windows => {
            vectors.push((keys::DENSE, Vector::new_dense(mean_window(&dense, d.dim))));
            let windows = dense.chunks(d.dim).map(<[f32]>::to_vec).collect::<Vec<_>>();
            // non-empty, every row of the index's size: checked before
            vectors.push((keys::WINDOWS, Vector::new_multi(windows).expect("checked windows")));
        }
        (Some(dense), _) => vectors.push((keys::DENSE, Vector::new_dense(dense))),
        (None, _) => {}
    }
    let mut payload = Map::new();
    payload.insert(keys::PROJECT.to_owned(), Value::String(project));
    payload.insert(keys::VECTOR_STORE.to_owned(), Value::String(vector_store_id));
    payload.insert(keys::FILE.to_owned(), Value::String(file_id));
    payload.insert(keys::POSITION.to_owned(), Value::from(position));
    payload.insert(keys::TEXT.to_owned(), Value::String(text));
    payload.insert(keys::ATTRIBUTES.to_owned(), Value::Object(attributes));
    PointStruct::new(id, Vectors::new_named(vectors), Value::Object(payload))
}

/// A BM25 vector for qdrant-edge (its indices are unique and as many as its values).
fn sparse_vector(v: bm25::SparseVector) -> VectorInternal {
    let bm25::SparseVector { indices, values } = v;
    VectorInternal::Sparse(qdrant_edge::SparseVector { indices, values })
}

/// A search result back into a [`Hit`]; a point without our payload is skipped.
fn hit(point: ScoredPoint) -> Option<Hit> {
    let ScoredPoint { id, score, payload, .. } = point;
    let hit = payload.and_then(|payload| chunk_hit(payload.0, score));
    if hit.is_none() {
        tracing::warn!(point_id = %id, "vector index point without a chunk payload, skipped");
    }
    hit
}

fn chunk_hit(mut payload: Map<String, Value>, score: f32) -> Option<Hit> {
    let mut string = |key: &str| match payload.remove(key) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    let vector_store_id = string(keys::VECTOR_STORE)?;
    let file_id = string(keys::FILE)?;
    let text = string(keys::TEXT)?;
    let position = u32::try_from(payload.remove(keys::POSITION)?.as_u64()?).ok()?;
    let attributes = match payload.remove(keys::ATTRIBUTES) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    Some(Hit { vector_store_id, file_id, position, text, attributes, score })
}

/// Filter conditions as qdrant-edge's segment types (see [`super::filter`]).
struct EdgeConditions;

fn nested(filter: Filter) -> Condition {
    Condition::Filter(filter)
}

impl filter::Conditions for EdgeConditions {
    type Key = JsonPath;
    type Condition = Condition;

    fn key(path: &str) -> Result<JsonPath, IndexError> {
        path.parse().map_err(|()| IndexError::Invalid(format!("payload key {path:?}")))
    }

    fn keyword(key: JsonPath, value: String) -> Condition {
        Condition::Field(FieldCondition::new_match(key, Match::new_value(ValueVariants::String(value))))
    }

    fn any_keyword(key: JsonPath, values: Vec<String>) -> Condition {
        Condition::Field(FieldCondition::new_match(key, Match::from(values)))
    }

    fn boolean(key: JsonPath, value: bool) -> Condition {
        Condition::Field(FieldCondition::new_match(key, Match::new_value(ValueVariants::Bool(value))))
    }

    fn range(key: JsonPath, gt: Option<f64>, lt: Option<f64>) -> Condition {
        let range = Range { gt: gt.map(OrderedFloat), gte: None, lt: lt.map(OrderedFloat), lte: None };
        Condition::Field(FieldCondition::new_range(key, range))
    }

    fn nothing() -> Condition {
        Condition::HasId(std::iter::empty().collect())
    }

    fn all(conditions: Vec<Condition>) -> Condition {
        nested(Filter { must: Some(conditions), ..Filter::new() })
    }

    fn any(conditions: Vec<Condition>) -> Condition {
        nested(Filter { should: Some(conditions), ..Filter::new() })
    }

    fn none(conditions: Vec<Condition>) -> Condition {
        nested(Filter { must_not: Some(conditions), ..Filter::new() })
    }
}

/// The project, its vector stores (at least one) and optionally one file.
fn scope(project: &str, vector_store_ids: &[&str], file_id: Option<&str>) -> Filter {
    Filter { must: Some(filter::scope::<EdgeConditions>(project, vector_store_ids, file_id)), ..Filter::new() }
}

/// The payload index type of an attribute kind.
fn schema_type(kind: AttrKind) -> PayloadSchemaType {
    match kind {
        AttrKind::Keyword => PayloadSchemaType::Keyword,
        AttrKind::Float => PayloadSchemaType::Float,
        AttrKind::Bool => PayloadSchemaType::Bool,
    }
}

fn unavailable(what: impl Display, e: impl Display) -> IndexError {
    IndexError::Unavailable(format!("{what}: {e}"))
}

fn op_error(what: &str, e: OperationError) -> IndexError {
    match e {
        OperationError::WrongVectorDimension { .. }
        | OperationError::ValidationError { .. }
        | OperationError::WrongSparse
        | OperationError::WrongMulti
        | OperationError::VectorNameNotExists { .. } => IndexError::Invalid(format!("{what}: {e}")),
        other => unavailable(what, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::suite;

    async fn fresh_with(dense: Dense) -> (tempfile::TempDir, EdgeIndex) {
        let dir = tempfile::tempdir().unwrap();
        let index = EdgeIndex::open(&dir.path().join("chunks"), Some(dense)).unwrap();
        (dir, index)
    }

    async fn fresh() -> (tempfile::TempDir, EdgeIndex) {
        fresh_with(Dense::one(suite::DIM)).await
    }

    suite::vector_index_suite!(fresh());

    /// The suite again, with one vector per window.
    mod windowed {
        use super::*;

        async fn fresh() -> (tempfile::TempDir, EdgeIndex) {
            fresh_with(Dense::windowed(suite::DIM)).await
        }

        suite::vector_index_suite!(fresh());

        #[tokio::test]
        async fn windows_score_by_best_match() {
            let (_dir, index) = fresh().await;
            suite::windows_score_by_best_match(&index).await;
        }
    }

    #[tokio::test]
    async fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chunks");
        let index = EdgeIndex::open(&path, Some(Dense::one(suite::DIM))).unwrap();
        suite::before_reopen(&index).await;
        drop(index);
        let index = EdgeIndex::open(&path, Some(Dense::one(suite::DIM))).unwrap();
        suite::after_reopen(&index).await;
        // and again, after writes made by the reopened index
        suite::before_reopen_again(&index).await;
        drop(index);
        let index = EdgeIndex::open(&path, Some(Dense::one(suite::DIM))).unwrap();
        suite::after_reopen_again(&index).await;
    }

    /// The attribute filters give the same answers from the payload (the first query on
    /// each key, on an index with another kind than the condition) and from the payload
    /// indexes the first run creates; the indexes survive a reopen.
    #[tokio::test]
    async fn attribute_filters_with_indexes() {
        let (dir, index) = fresh().await;
        suite::attribute_filters(&index).await;
        let schema = index.inner.shard.info().payload_schema;
        for key in ["author", "year", "score", "draft", "missing", "\"dotted.key\"", "\"with space\""] {
            let path: JsonPath = format!("attributes.{key}").parse().unwrap();
            assert!(schema.contains_key(&path), "{key} is indexed: {:?}", schema.keys());
        }
        let year: JsonPath = "attributes.year".parse().unwrap();
        assert_eq!(schema[&year].data_type, PayloadSchemaType::Float);
        suite::attribute_filters(&index).await;
        drop(index);
        let index = EdgeIndex::open(&dir.path().join("chunks"), Some(Dense::one(suite::DIM))).unwrap();
        assert!(index.inner.attribute_indexes.lock().unwrap().contains(&year));
        suite::attribute_filters(&index).await;
        assert_eq!(index.inner.attribute_indexes.lock().unwrap().len(), 7, "nothing new to index");
    }

    #[tokio::test]
    async fn open_refuses_other_dense_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chunks");
        drop(EdgeIndex::open(&path, Some(Dense::one(4))).unwrap());
        assert!(matches!(EdgeIndex::open(&path, Some(Dense::one(8))), Err(IndexError::Invalid(_))));
        assert!(matches!(EdgeIndex::open(&path, None), Err(IndexError::Invalid(_))));
        assert!(matches!(EdgeIndex::open(&path, Some(Dense::windowed(4))), Err(IndexError::Invalid(_))));
        assert!(EdgeIndex::open(&path, Some(Dense::one(4))).is_ok());
        let windowed = dir.path().join("windowed");
        drop(EdgeIndex::open(&windowed, Some(Dense::windowed(4))).unwrap());
        assert!(matches!(EdgeIndex::open(&windowed, Some(Dense::one(4))), Err(IndexError::Invalid(_))));
        assert!(EdgeIndex::open(&windowed, Some(Dense::windowed(4))).is_ok());
    }

    #[tokio::test]
    async fn open_twice_at_once_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chunks");
        let _first = EdgeIndex::open(&path, None).unwrap();
        assert!(matches!(EdgeIndex::open(&path, None), Err(IndexError::Unavailable(_))));
    }

    #[tokio::test]
    async fn lexical_only_index() {
        let dir = tempfile::tempdir().unwrap();
        let index = EdgeIndex::open(&dir.path().join("chunks"), None).unwrap();
        let mut p = suite::chunk("p", "vs", "f", 0, "the lexical only index works");
        p.dense = None;
        index.upsert(vec![p]).await.unwrap();
        let ranked = index.search(&suite::query("p", &["vs"], "lexical")).await.unwrap();
        assert_eq!(ranked.lexical.len(), 1);
        let mut q = suite::query("p", &["vs"], "lexical");
        q.dense = Some(suite::unit(0));
        assert!(matches!(index.search(&q).await, Err(IndexError::Invalid(_))));
        index.health().await.unwrap();
    }

    #[test]
    fn attribute_paths() {
        let attribute_path = filter::attribute::<EdgeConditions>;
        assert_eq!(attribute_path("year").unwrap().to_string(), "attributes.year");
        assert_eq!(attribute_path("a.b").unwrap().to_string(), "attributes.\"a.b\"");
        assert_eq!(attribute_path("with space").unwrap().to_string(), "attributes.\"with space\"");
        assert!(matches!(attribute_path("q\"uote"), Err(IndexError::Invalid(_))));
    }

    /// Upsert throughput and search latency, lexical only, ~150-word chunks; print only.
    /// `ASSISTD_BENCH_CHUNKS` (default 20000) sets the size.
    /// `cargo test -p assistd-vector-stores --lib index::edge::tests::bench -- --ignored --nocapture`
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "benchmark: prints numbers"]
    async fn bench() {
        let chunks: usize = std::env::var("ASSISTD_BENCH_CHUNKS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
        let batch = 64;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chunks");
        let index = EdgeIndex::open(&path, None).unwrap();
        let mut words = suite::Words::new(7);
        let files = chunks / batch;
        // ten stores, the first with half the chunks; one file = one upsert call
        let calls: Vec<Vec<ChunkPoint>> = (0..files)
            .map(|f| {
                let store = if f % 2 == 0 { "vs_big".to_owned() } else { format!("vs_{}", f % 9) };
                (0..batch)
                    .map(|i| {
                        let mut p = suite::chunk("proj", &store, &format!("file-{f}"), i as u32, &words.text(150));
                        p.dense = None;
                        p.attributes.insert("year".to_owned(), Value::from(2000 + (f % 25) as i64));
                        p
                    })
                    .collect()
            })
            .collect();
        let mut calls = calls.into_iter();
        // a quarter one call at a time, the rest from four concurrent writers
        let sequential: Vec<_> = calls.by_ref().take(files / 4).collect();
        let n = sequential.len() * batch;
        let started = std::time::Instant::now();
        let mut latencies = Vec::new();
        for points in sequential {
            let t = std::time::Instant::now();
            index.upsert(points).await.unwrap();
            latencies.push(t.elapsed());
        }
        let elapsed = started.elapsed();
        latencies.sort();
        println!(
            "upsert, one writer: {n} chunks in {:.1} s = {:.0} chunks/s (calls of {batch}: p50 {} ms, max {} ms)",
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64(),
            latencies[latencies.len() / 2].as_millis(),
            latencies.last().unwrap().as_millis(),
        );
        let rest: Vec<_> = calls.collect();
        let n = rest.len() * batch;
        let started = std::time::Instant::now();
        // and a reader searching meanwhile (optimisations included)
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (index, done, mut words) = (index.clone(), Arc::clone(&done), suite::Words::new(11));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let t = std::time::Instant::now();
                    index.search(&suite::query("proj", &["vs_big"], &words.query())).await.unwrap();
                    latencies.push(t.elapsed());
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                latencies
            })
        };
        let mut writers = Vec::new();
        for part in rest.chunks(rest.len().div_ceil(4)) {
            let (index, part) = (index.clone(), part.to_vec());
            writers.push(tokio::spawn(async move {
                for points in part {
                    index.upsert(points).await.unwrap();
                }
            }));
        }
        for writer in writers {
            writer.await.unwrap();
        }
        let elapsed = started.elapsed();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut during = reader.await.unwrap();
        during.sort();
        println!(
            "upsert, four writers: {n} chunks in {:.1} s = {:.0} chunks/s; searches meanwhile: {} (p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms)",
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64(),
            during.len(),
            during[during.len() / 2].as_secs_f64() * 1000.0,
            during[(during.len() - 1) * 99 / 100].as_secs_f64() * 1000.0,
            during.last().unwrap().as_secs_f64() * 1000.0,
        );
        let info = index.inner.shard.info();
        println!("segments: {}, points: {}", info.segments_count, info.points_count);
        println!("disk: {} MB (wal {} MB)", du(&path) / 1_000_000, du(&path.join(WAL_DIR)) / 1_000_000);

        let all: Vec<String> = (0..9).map(|i| format!("vs_{i}")).chain(["vs_big".to_owned()]).collect();
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let year_2020 = Some(AttrFilter::Gte("year".to_owned(), 2020.0));
        for (label, stores, filter) in [
            ("big store (half the chunks)", vec!["vs_big"], None),
            ("small store", vec!["vs_3"], None),
            ("all stores", all, None),
            ("big store, year >= 2020", vec!["vs_big"], year_2020),
        ] {
            let mut latencies = Vec::new();
            let mut found = 0;
            for _ in 0..300 {
                let mut q = suite::query("proj", &stores, &words.query());
                q.limit = 20;
                q.filter = filter.clone();
                let t = std::time::Instant::now();
                let ranked = index.search(&q).await.unwrap();
                latencies.push(t.elapsed());
                found += ranked.lexical.len();
            }
            latencies.sort();
            let p = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1000.0;
            println!(
                "search {label}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({:.1} hits/query)",
                p(0.5),
                p(0.99),
                p(1.0),
                found as f64 / 300.0
            );
        }
        drop(index);
        let t = std::time::Instant::now();
        let index = EdgeIndex::open(&path, None).unwrap();
        println!("reopen: {} ms, wal after trim {} MB", t.elapsed().as_millis(), du(&path.join(WAL_DIR)) / 1_000_000);
        assert_eq!(index.count("proj", "vs_big", None).await.unwrap() as usize, files.div_ceil(2) * batch);
    }

    /// Bytes actually used under `path`.
    fn du(path: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
        if meta.is_dir() {
            std::fs::read_dir(path).unwrap().flatten().map(|e| du(&e.path())).sum()
        } else {
            meta.blocks() * 512
        }
    }
}
