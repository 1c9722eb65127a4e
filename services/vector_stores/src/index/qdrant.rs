//! The server index: a Qdrant server or cluster through `qdrant-client` (gRPC).
//!
//! One collection holds every chunk of every project, laid out as in the embedded index
//! ([`super::edge`]): the sparse vector [`keys::SPARSE`] (BM25 with the IDF modifier,
//! see [`super::bm25`]) and, when there is an embedder, the dense vector [`keys::DENSE`]
//! (cosine; for a windowed embedder the windows' mean, with the windows as the
//! multivector [`keys::WINDOWS`]: MaxSim, on disk, no HNSW graph, rescoring the
//! [`RESCORED`](super::RESCORED) chunks nearest by their mean); the same payload keys ([`keys`]) and point ids ([`point_id`]); payload
//! indexes on `project` (keyword, tenant), `vector_store_id` and `file_id` (keyword).
//! Filters map onto Qdrant conditions exactly as in the embedded index, so both answer
//! alike (the shared suite, `super::suite`, runs against both; against this one through
//! a test-only Qdrant gRPC server over qdrant-edge, `qdrant/test_server.rs`).
//!
//! - [`QdrantIndex::connect`] creates the collection if it is missing, and refuses an
//!   existing one whose vectors differ (another embedder needs another collection).
//! - Writes wait for the server to apply them (`wait: true`). Upserts go in requests of
//!   at most [`UPSERT_POINTS`] points and about [`UPSERT_BYTES`] bytes (Qdrant refuses
//!   requests over 32 MB by default); a failure part-way leaves the earlier requests
//!   applied, which a retry of the same upsert (idempotent: ids are fixed) completes.
//! - A search sends its lexical and dense queries in one `QueryBatch` request.
//! - The first search filtering on an attribute key asks the server to index
//!   `attributes.<key>` (without waiting for it), with the kind of that first filter,
//!   up to [`MAX_ATTRIBUTE_INDEXES`] keys per collection, like the embedded index does;
//!   servers in strict mode refuse filters on fields without an index.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prost::Message as _;
use qdrant_client::qdrant::{
    CollectionExistsRequest, CountPoints, CreateCollection, CreateFieldIndexCollection, DeletePoints, DenseVector,
    Distance, FieldType, GetCollectionInfoRequest, HnswConfigDiff, KeywordIndexParams, Memory, Modifier,
    MultiDenseVector, MultiVectorComparator, MultiVectorConfig, NamedVectors, PayloadIndexParams, PointId, PointStruct,
    PointsSelector, PrefetchQuery, QueryBatchPoints, QueryPoints, RepeatedStrings, ScoredPoint, SetPayloadPoints,
    SparseVectorConfig, SparseVectorParams, UpsertPoints, VectorInput, VectorParams, VectorParamsMap, Vectors,
    VectorsConfig, WithPayloadSelector, condition, r#match, payload_index_params, point_id, points_selector, query,
    value, vector_input, vectors, vectors_config, with_payload_selector,
};
use qdrant_client::{Qdrant, QdrantError};
use serde_json::{Map, Value};

pub use super::edge::MAX_ATTRIBUTE_INDEXES;
use super::{
    AttrFilter, AttrKind, ChunkPoint, Dense, Hit, IndexError, Query, RESCORED, Ranked, VectorIndex, bm25, check_dense,
    filter, keys, mean_window, point_id,
};

#[cfg(test)]
mod test_server;

/// The most points in one upsert request.
pub const UPSERT_POINTS: usize = 256;

/// The most bytes (encoded points) in one upsert request, a single larger point aside.
pub const UPSERT_BYTES: usize = 8 << 20;

/// How long one request may take (an upsert waits for the server to apply it).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The index in a Qdrant server or cluster (see the module doc).
#[derive(Clone)]
pub struct QdrantIndex {
    inner: Arc<Inner>,
}

struct Inner {
    client: Qdrant,
    url: String,
    collection: String,
    dense: Option<Dense>,
    /// Attribute paths indexed, or asked to be.
    attribute_indexes: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for QdrantIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantIndex")
            .field("url", &self.inner.url)
            .field("collection", &self.inner.collection)
            .field("dense", &self.inner.dense)
            .finish()
    }
}

impl QdrantIndex {
    /// Connects to the Qdrant server at `url` (its gRPC port, e.g.
    /// `http://localhost:6334`; `https://` for TLS) and opens `collection`, creating it
    /// if it is missing. `dense` is its dense vector (`None`: lexical only); an existing
    /// collection made with other vectors is refused as invalid.
    pub async fn connect(
        url: &str,
        api_key: Option<String>,
        collection: &str,
        dense: Option<Dense>,
    ) -> Result<Self, IndexError> {
        if dense.is_some_and(|d| d.dim == 0) {
            return Err(IndexError::Invalid("the dense vector size must be positive".to_owned()));
        }
        if collection.is_empty() {
            return Err(IndexError::Invalid("the qdrant collection name is empty".to_owned()));
        }
        let client = Qdrant::from_url(url)
            .api_key(api_key)
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .skip_compatibility_check()
            .build()
            .map_err(|e| IndexError::Invalid(format!("qdrant url {url:?}: {e}")))?;
        let inner = Inner {
            client,
            url: url.to_owned(),
            collection: collection.to_owned(),
            dense,
            attribute_indexes: Mutex::new(HashSet::new()),
        };
        if !inner.exists().await? {
            inner.create_collection().await?;
        }
        let info = inner
            .client
            .collection_info(GetCollectionInfoRequest { collection_name: inner.collection.clone() })
            .await
            .map_err(|e| client_error("read the collection", e))?
            .result
            .ok_or_else(|| IndexError::Unavailable("read the collection: no collection info".to_owned()))?;
        let params = info.config.and_then(|c| c.params);
        check_compatible(params.as_ref(), dense, &inner.collection)?;
        let indexed: HashSet<String> = info.payload_schema.into_keys().collect();
        inner.ensure_payload_indexes(&indexed).await?;
        let prefix = format!("{}.", keys::ATTRIBUTES);
        inner
            .attribute_indexes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(indexed.into_iter().filter(|k| k.starts_with(&prefix)));
        tracing::debug!(url, collection, ?dense, "qdrant vector index connected");
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The dense vector, if the index has one.
    pub fn dense(&self) -> Option<Dense> {
        self.inner.dense
    }

    /// The collection's name.
    pub fn collection(&self) -> &str {
        &self.inner.collection
    }
}

impl Inner {
    async fn exists(&self) -> Result<bool, IndexError> {
        self.client
            .collection_exists(CollectionExistsRequest { collection_name: self.collection.clone() })
            .await
            .map_err(|e| client_error("check the collection", e))
    }

    /// Creates the collection; another process creating it at the same time is fine.
    async fn create_collection(&self) -> Result<(), IndexError> {
        let vectors_config = self.dense.map(|d| VectorsConfig {
            config: Some(vectors_config::Config::ParamsMap(VectorParamsMap { map: vector_params(d) })),
        });
        let sparse = SparseVectorParams { index: None, modifier: Some(Modifier::Idf.into()) };
        let request = CreateCollection {
            collection_name: self.collection.clone(),
            vectors_config,
            sparse_vectors_config: Some(SparseVectorConfig { map: HashMap::from([(keys::SPARSE.to_owned(), sparse)]) }),
            ..CreateCollection::default()
        };
        match self.client.create_collection(request).await {
            Ok(_) => {
                tracing::info!(url = %self.url, collection = %self.collection, dense = ?self.dense, "qdrant collection created");
                Ok(())
            }
            Err(e) if self.exists().await.unwrap_or(false) => {
                tracing::debug!(collection = %self.collection, error = %e, "qdrant collection created meanwhile");
                Ok(())
            }
            Err(e) => Err(client_error("create the collection", e)),
        }
    }

    /// Creates the payload indexes that are missing (all of them on a new collection).
    async fn ensure_payload_indexes(&self, indexed: &HashSet<String>) -> Result<(), IndexError> {
        for (key, is_tenant) in [(keys::PROJECT, true), (keys::VECTOR_STORE, false), (keys::FILE, false)] {
            if indexed.contains(key) {
                continue;
            }
            let params = KeywordIndexParams { is_tenant: is_tenant.then_some(true), ..KeywordIndexParams::default() };
            let request = CreateFieldIndexCollection {
                collection_name: self.collection.clone(),
                wait: Some(true),
                field_name: key.to_owned(),
                field_type: Some(FieldType::Keyword.into()),
                field_index_params: Some(PayloadIndexParams {
                    index_params: Some(payload_index_params::IndexParams::KeywordIndexParams(params)),
                }),
                ..CreateFieldIndexCollection::default()
            };
            self.client.create_field_index(request).await.map_err(|e| client_error("create a payload index", e))?;
        }
        Ok(())
    }

    /// Asks the server to index the attribute keys `filter` reads that have no index
    /// yet (without waiting for the index to be built). Failures are logged only: the
    /// filter works without an index, if more slowly (unless the server is in strict mode).
    async fn index_attributes(&self, filter: &AttrFilter) {
        let wanted = filter.kinds();
        let missing: Vec<(String, FieldType)> = {
            let mut indexed = self.attribute_indexes.lock().unwrap_or_else(PoisonError::into_inner);
            let mut missing = Vec::new();
            for (key, kind) in wanted {
                let Ok(path) = filter::attribute::<GrpcConditions>(key) else { continue };
                if indexed.contains(&path) {
                    continue;
                }
                if indexed.len() >= MAX_ATTRIBUTE_INDEXES {
                    tracing::warn!(key, "too many attribute keys filtered on: this one is not indexed");
                    continue;
                }
                // claimed now, so that concurrent searches do not ask again
                indexed.insert(path.clone());
                missing.push((path, field_type(kind)));
            }
            missing
        };
        for (path, kind) in missing {
            let request = CreateFieldIndexCollection {
                collection_name: self.collection.clone(),
                wait: Some(false),
                field_name: path.clone(),
                field_type: Some(kind.into()),
                ..CreateFieldIndexCollection::default()
            };
            match self.client.create_field_index(request).await {
                Ok(_) => {
                    tracing::info!(collection = %self.collection, field = %path, "attribute payload index requested")
                }
                Err(e) => {
                    tracing::warn!(collection = %self.collection, field = %path, error = %e, "could not create an attribute payload index")
                }
            }
        }
    }

    async fn delete(&self, what: &str, filter: qdrant_client::qdrant::Filter) -> Result<(), IndexError> {
        let request = DeletePoints {
            collection_name: self.collection.clone(),
            wait: Some(true),
            points: Some(PointsSelector {
                points_selector_one_of: Some(points_selector::PointsSelectorOneOf::Filter(filter)),
            }),
            ..DeletePoints::default()
        };
        self.client.delete_points(request).await.map_err(|e| client_error(what, e))?;
        Ok(())
    }

    /// The `limit` nearest points by `vector` that pass `filter`, among the
    /// `prefetch`'s results if given (which were filtered: no filter is needed again).
    fn query(
        &self,
        vector: &str,
        input: vector_input::Variant,
        prefetch: Option<PrefetchQuery>,
        filter: Option<&qdrant_client::qdrant::Filter>,
        limit: usize,
    ) -> QueryPoints {
        QueryPoints {
            collection_name: self.collection.clone(),
            prefetch: prefetch.into_iter().collect(),
            query: Some(nearest(input)),
            using: Some(vector.to_owned()),
            filter: filter.cloned(),
            limit: Some(limit as u64),
            with_payload: Some(WithPayloadSelector {
                selector_options: Some(with_payload_selector::SelectorOptions::Enable(true)),
            }),
            ..QueryPoints::default()
        }
    }
}

#[async_trait::async_trait]
impl VectorIndex for QdrantIndex {
    async fn upsert(&self, points: Vec<ChunkPoint>) -> Result<(), IndexError> {
        if points.is_empty() {
            return Ok(());
        }
        let mut structs = Vec::with_capacity(points.len());
        for p in points {
            check_dense(self.inner.dense, p.dense.as_deref(), "upsert", false)?;
            structs.push(point_struct(p, self.inner.dense));
        }
        let mut batch = Vec::new();
        let mut bytes = 0;
        let mut structs = structs.into_iter().peekable();
        while let Some(point) = structs.next() {
            bytes += point.encoded_len();
            batch.push(point);
            let full = batch.len() >= UPSERT_POINTS
                || structs.peek().is_some_and(|next| bytes + next.encoded_len() > UPSERT_BYTES);
            if full || structs.peek().is_none() {
                let request = UpsertPoints {
                    collection_name: self.inner.collection.clone(),
                    wait: Some(true),
                    points: std::mem::take(&mut batch),
                    ..UpsertPoints::default()
                };
                self.inner.client.upsert_points(request).await.map_err(|e| client_error("upsert", e))?;
                bytes = 0;
            }
        }
        Ok(())
    }

    async fn delete_file(&self, project: &str, vector_store_id: &str, file_id: &str) -> Result<(), IndexError> {
        self.inner.delete("delete file chunks", scope(project, &[vector_store_id], Some(file_id))).await
    }

    async fn set_attributes(
        &self,
        project: &str,
        vector_store_id: &str,
        file_id: &str,
        attributes: &Map<String, Value>,
    ) -> Result<(), IndexError> {
        let filter = scope(project, &[vector_store_id], Some(file_id));
        let attributes = qdrant_client::qdrant::Value::from(Value::Object(attributes.clone()));
        let request = SetPayloadPoints {
            collection_name: self.inner.collection.clone(),
            wait: Some(true),
            // a top-level key replaces the whole value under it
            payload: HashMap::from([(keys::ATTRIBUTES.to_owned(), attributes)]),
            points_selector: Some(PointsSelector {
                points_selector_one_of: Some(points_selector::PointsSelectorOneOf::Filter(filter)),
            }),
            key: None,
            ..SetPayloadPoints::default()
        };
        self.inner.client.set_payload(request).await.map_err(|e| client_error("set attributes", e))?;
        Ok(())
    }

    async fn delete_store(&self, project: &str, vector_store_id: &str) -> Result<(), IndexError> {
        self.inner.delete("delete vector store chunks", scope(project, &[vector_store_id], None)).await
    }

    async fn count(&self, project: &str, vector_store_id: &str, file_id: Option<&str>) -> Result<u64, IndexError> {
        let request = CountPoints {
            collection_name: self.inner.collection.clone(),
            filter: Some(scope(project, &[vector_store_id], file_id)),
            exact: Some(true),
            ..CountPoints::default()
        };
        let response = self.inner.client.count(request).await.map_err(|e| client_error("count", e))?;
        Ok(response.result.map_or(0, |r| r.count))
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
            filter.must.push(filter::attr_condition::<GrpcConditions>(attributes)?);
            self.inner.index_attributes(attributes).await;
        }
        let sparse = bm25::query(&query.text);
        let mut requests = Vec::with_capacity(2);
        let lexical = !sparse.is_empty();
        if lexical {
            let bm25::SparseVector { indices, values } = sparse;
            let input = vector_input::Variant::Sparse(qdrant_client::qdrant::SparseVector { values, indices });
            requests.push(self.inner.query(keys::SPARSE, input, None, Some(&filter), query.limit));
        }
        if let Some(dense) = &query.dense {
            let vector = DenseVector { data: dense.clone() };
            let request = if self.inner.dense.is_some_and(|d| d.windows) {
                // the chunks nearest by their windows' mean, rescored by their best window
                let prefetch = PrefetchQuery {
                    query: Some(nearest(vector_input::Variant::Dense(vector.clone()))),
                    using: Some(keys::DENSE.to_owned()),
                    filter: Some(filter.clone()),
                    limit: Some(query.limit.max(RESCORED) as u64),
                    ..PrefetchQuery::default()
                };
                let input = vector_input::Variant::MultiDense(MultiDenseVector { vectors: vec![vector] });
                self.inner.query(keys::WINDOWS, input, Some(prefetch), None, query.limit)
            } else {
                self.inner.query(keys::DENSE, vector_input::Variant::Dense(vector), None, Some(&filter), query.limit)
            };
            requests.push(request);
        }
        if requests.is_empty() {
            return Ok(Ranked::default());
        }
        let expected = requests.len();
        let request = QueryBatchPoints {
            collection_name: self.inner.collection.clone(),
            query_points: requests,
            ..QueryBatchPoints::default()
        };
        let response = self.inner.client.query_batch(request).await.map_err(|e| client_error("search", e))?;
        if response.result.len() != expected {
            return Err(IndexError::Unavailable(format!(
                "search: {} result lists for {expected} queries",
                response.result.len()
            )));
        }
        let mut lists = response.result.into_iter().map(|list| list.result.into_iter().filter_map(hit));
        let mut ranked = Ranked::default();
        if lexical {
            ranked.lexical = lists.next().into_iter().flatten().filter(|h| h.score > 0.0).collect();
        }
        if query.dense.is_some() {
            ranked.semantic = lists.next().into_iter().flatten().collect();
        }
        Ok(ranked)
    }

    async fn health(&self) -> Result<(), IndexError> {
        if self.inner.exists().await? {
            Ok(())
        } else {
            Err(IndexError::Unavailable(format!("qdrant collection {:?} does not exist", self.inner.collection)))
        }
    }
}

/// Scores by nearness to `input`.
fn nearest(input: vector_input::Variant) -> qdrant_client::qdrant::Query {
    qdrant_client::qdrant::Query { variant: Some(query::Variant::Nearest(VectorInput { variant: Some(input) })) }
}

/// The dense vectors of a collection: [`keys::DENSE`], one per chunk (HNSW), and for a
/// windowed embedder [`keys::WINDOWS`], the windows' multivector (MaxSim), on disk and
/// without an HNSW graph (`m` 0): it only rescores.
fn vector_params(d: Dense) -> HashMap<String, VectorParams> {
    let dense = VectorParams { size: d.dim as u64, distance: Distance::Cosine.into(), ..VectorParams::default() };
    let mut map = HashMap::from([(keys::DENSE.to_owned(), dense)]);
    if d.windows {
        let windows = VectorParams {
            multivector_config: Some(MultiVectorConfig { comparator: MultiVectorComparator::MaxSim.into() }),
            memory: Some(Memory::Cold.into()),
            hnsw_config: Some(HnswConfigDiff { m: Some(0), ..HnswConfigDiff::default() }),
            ..dense
        };
        map.insert(keys::WINDOWS.to_owned(), windows);
    }
    map
}

/// Refuses a collection whose vectors differ from what the caller expects.
fn check_compatible(
    params: Option<&qdrant_client::qdrant::CollectionParams>,
    dense: Option<Dense>,
    collection: &str,
) -> Result<(), IndexError> {
    // the collection's dense vector (`None`: it has none), or what it has instead
    let found: Result<Option<Dense>, &str> = match params
        .and_then(|p| p.vectors_config.as_ref())
        .and_then(|c| c.config.as_ref())
    {
        None => Ok(None),
        Some(vectors_config::Config::ParamsMap(map)) if map.map.is_empty() => Ok(None),
        Some(vectors_config::Config::ParamsMap(map)) => {
            let cosine = |v: &VectorParams| v.distance == i32::from(Distance::Cosine);
            let max_sim = |v: &VectorParams| {
                v.multivector_config.as_ref().is_some_and(|m| m.comparator == i32::from(MultiVectorComparator::MaxSim))
            };
            match (map.map.get(keys::DENSE), map.map.get(keys::WINDOWS), map.map.len()) {
                (Some(d), None, 1) if cosine(d) && d.multivector_config.is_none() => {
                    Ok(Some(Dense::one(d.size as usize)))
                }
                (Some(d), Some(w), 2)
                    if cosine(d) && d.multivector_config.is_none() && cosine(w) && max_sim(w) && w.size == d.size =>
                {
                    Ok(Some(Dense::windowed(d.size as usize)))
                }
                _ => Err("other dense vectors"),
            }
        }
        Some(vectors_config::Config::Params(_)) => Err("an unnamed dense vector"),
    };
    let sparse_ok = params
        .and_then(|p| p.sparse_vectors_config.as_ref())
        .and_then(|c| c.map.get(keys::SPARSE))
        .is_some_and(|s| s.modifier == Some(Modifier::Idf.into()));
    if sparse_ok && found == Ok(dense) {
        return Ok(());
    }
    let describe = |d: Option<Dense>| match d {
        None => "no dense vector".to_owned(),
        Some(Dense { dim, windows: false }) => format!("a dense vector of size {dim}"),
        Some(Dense { dim, windows: true }) => {
            format!("a dense vector and a windows multivector (MaxSim) of size {dim}")
        }
    };
    let had = match found {
        Ok(d) => describe(d),
        Err(other) => other.to_owned(),
    };
    let wanted = describe(dense);
    let sparse = if sparse_ok { "" } else { " and no bm25 sparse vector with the idf modifier" };
    Err(IndexError::Invalid(format!(
        "the qdrant collection {collection:?} was made with {had}{sparse}, the embedder in use needs {wanted}: \
         the embedder changed, so configure a new collection (and reindex), or go back to the previous embedder"
    )))
}

/// A chunk as a point; its dense vector was checked ([`check_dense`]).
fn point_struct(p: ChunkPoint, index: Option<Dense>) -> PointStruct {
    let ChunkPoint { project, vector_store_id, file_id, position, text, attributes, dense } = p;
    let id = point_id(&vector_store_id, &file_id, position);
    let bm25::SparseVector { indices, values } = bm25::document(&text);
    let mut named =
        HashMap::from([(keys::SPARSE.to_owned(), qdrant_client::qdrant::Vector::new_sparse(indices, values))]);
    match (dense, index) {
        (Some(dense), Some(d)) if d.windows => {
            named.insert(keys::DENSE.to_owned(), qdrant_client::qdrant::Vector::new_dense(mean_window(&dense, d.dim)));
            let windows = dense.chunks(d.dim).map(<[f32]>::to_vec).collect::<Vec<_>>();
            named.insert(keys::WINDOWS.to_owned(), qdrant_client::qdrant::Vector::new_multi(windows));
        }
        (Some(dense), _) => {
            named.insert(keys::DENSE.to_owned(), qdrant_client::qdrant::Vector::new_dense(dense));
        }
        (None, _) => {}
    }
    let string = |s: String| qdrant_client::qdrant::Value { kind: Some(value::Kind::StringValue(s)) };
    let payload = HashMap::from([
        (keys::PROJECT.to_owned(), string(project)),
        (keys::VECTOR_STORE.to_owned(), string(vector_store_id)),
        (keys::FILE.to_owned(), string(file_id)),
        (
            keys::POSITION.to_owned(),
            qdrant_client::qdrant::Value { kind: Some(value::Kind::IntegerValue(i64::from(position))) },
        ),
        (keys::TEXT.to_owned(), string(text)),
        (keys::ATTRIBUTES.to_owned(), qdrant_client::qdrant::Value::from(Value::Object(attributes))),
    ]);
    PointStruct {
        id: Some(PointId { point_id_options: Some(point_id::PointIdOptions::Uuid(id.to_string())) }),
        payload,
        vectors: Some(Vectors {
            vectors_options: Some(vectors::VectorsOptions::Vectors(NamedVectors { vectors: named })),
        }),
    }
}

/// A search result back into a [`Hit`]; a point without our payload is skipped.
fn hit(point: ScoredPoint) -> Option<Hit> {
    let ScoredPoint { id, payload, score, .. } = point;
    let hit = chunk_hit(payload, score);
    if hit.is_none() {
        tracing::warn!(point_id = ?id, "vector index point without a chunk payload, skipped");
    }
    hit
}

fn chunk_hit(mut payload: HashMap<String, qdrant_client::qdrant::Value>, score: f32) -> Option<Hit> {
    let mut string = |key: &str| match payload.remove(key)?.kind? {
        value::Kind::StringValue(s) => Some(s),
        _ => None,
    };
    let vector_store_id = string(keys::VECTOR_STORE)?;
    let file_id = string(keys::FILE)?;
    let text = string(keys::TEXT)?;
    let position = match payload.remove(keys::POSITION)?.kind? {
        value::Kind::IntegerValue(i) => u32::try_from(i).ok()?,
        _ => return None,
    };
    let attributes = match payload.remove(keys::ATTRIBUTES).map(qdrant_client::qdrant::Value::into_json) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    Some(Hit { vector_store_id, file_id, position, text, attributes, score })
}

fn client_error(what: &str, e: QdrantError) -> IndexError {
    match e {
        QdrantError::ResponseError { status } if status.code() == tonic::Code::InvalidArgument => {
            IndexError::Invalid(format!("{what}: {}", status.message()))
        }
        QdrantError::ResponseError { status } | QdrantError::ResourceExhaustedError { status, .. } => {
            IndexError::Unavailable(format!("{what}: qdrant: {:?}: {}", status.code(), status.message()))
        }
        other => IndexError::Unavailable(format!("{what}: qdrant: {other}")),
    }
}

// Filters: the conditions of `super::filter`, as gRPC messages. On the wire an empty
// `should`/`must`/`must_not` list means "no condition".

type Filter = qdrant_client::qdrant::Filter;
type Condition = qdrant_client::qdrant::Condition;

/// Filter conditions as qdrant-client's gRPC messages (see [`super::filter`]).
struct GrpcConditions;

fn field(field: qdrant_client::qdrant::FieldCondition) -> Condition {
    Condition { condition_one_of: Some(condition::ConditionOneOf::Field(field)) }
}

fn matches(key: String, value: r#match::MatchValue) -> Condition {
    field(qdrant_client::qdrant::FieldCondition {
        key,
        r#match: Some(qdrant_client::qdrant::Match { match_value: Some(value) }),
        ..qdrant_client::qdrant::FieldCondition::default()
    })
}

fn nested(filter: Filter) -> Condition {
    Condition { condition_one_of: Some(condition::ConditionOneOf::Filter(filter)) }
}

impl filter::Conditions for GrpcConditions {
    type Key = String;
    type Condition = Condition;

    fn key(path: &str) -> Result<String, IndexError> {
        Ok(path.to_owned())
    }

    fn keyword(key: String, value: String) -> Condition {
        matches(key, r#match::MatchValue::Keyword(value))
    }

    fn any_keyword(key: String, strings: Vec<String>) -> Condition {
        matches(key, r#match::MatchValue::Keywords(RepeatedStrings { strings }))
    }

    fn boolean(key: String, value: bool) -> Condition {
        matches(key, r#match::MatchValue::Boolean(value))
    }

    fn range(key: String, gt: Option<f64>, lt: Option<f64>) -> Condition {
        field(qdrant_client::qdrant::FieldCondition {
            key,
            range: Some(qdrant_client::qdrant::Range { lt, gt, gte: None, lte: None }),
            ..qdrant_client::qdrant::FieldCondition::default()
        })
    }

    fn nothing() -> Condition {
        Condition {
            condition_one_of: Some(condition::ConditionOneOf::HasId(qdrant_client::qdrant::HasIdCondition {
                has_id: Vec::new(),
            })),
        }
    }

    fn all(must: Vec<Condition>) -> Condition {
        nested(Filter { must, ..Filter::default() })
    }

    fn any(should: Vec<Condition>) -> Condition {
        nested(Filter { should, ..Filter::default() })
    }

    fn none(must_not: Vec<Condition>) -> Condition {
        nested(Filter { must_not, ..Filter::default() })
    }
}

/// The project, its vector stores (at least one) and optionally one file.
fn scope(project: &str, vector_store_ids: &[&str], file_id: Option<&str>) -> Filter {
    Filter { must: filter::scope::<GrpcConditions>(project, vector_store_ids, file_id), ..Filter::default() }
}

/// The payload index type of an attribute kind.
fn field_type(kind: AttrKind) -> FieldType {
    match kind {
        AttrKind::Keyword => FieldType::Keyword,
        AttrKind::Float => FieldType::Float,
        AttrKind::Bool => FieldType::Bool,
    }
}

#[cfg(test)]
mod tests {
    use super::test_server::TestQdrant;
    use super::*;
    use crate::index::suite;

    async fn fresh_with(dense: Dense) -> (TestQdrant, QdrantIndex) {
        let server = TestQdrant::start(None).await;
        let index = QdrantIndex::connect(&server.url, None, "chunks", Some(dense)).await.unwrap();
        (server, index)
    }

    async fn fresh() -> (TestQdrant, QdrantIndex) {
        fresh_with(Dense::one(suite::DIM)).await
    }

    suite::vector_index_suite!(fresh());

    /// The suite again, with one vector per window.
    mod windowed {
        use super::*;

        async fn fresh() -> (TestQdrant, QdrantIndex) {
            fresh_with(Dense::windowed(suite::DIM)).await
        }

        suite::vector_index_suite!(fresh());

        #[tokio::test]
        async fn windows_score_by_best_match() {
            let (_server, index) = fresh().await;
            suite::windows_score_by_best_match(&index).await;
        }
    }

    /// Connecting again to an existing collection finds its chunks and indexes.
    #[tokio::test]
    async fn reconnect_to_existing_collection() {
        let server = TestQdrant::start(None).await;
        let index = QdrantIndex::connect(&server.url, None, "chunks", Some(Dense::one(suite::DIM))).await.unwrap();
        suite::before_reopen(&index).await;
        drop(index);
        let index = QdrantIndex::connect(&server.url, None, "chunks", Some(Dense::one(suite::DIM))).await.unwrap();
        suite::after_reopen(&index).await;
        suite::before_reopen_again(&index).await;
        drop(index);
        let index = QdrantIndex::connect(&server.url, None, "chunks", Some(Dense::one(suite::DIM))).await.unwrap();
        suite::after_reopen_again(&index).await;
        // another collection on the same server is another index
        let other = QdrantIndex::connect(&server.url, None, "other", None).await.unwrap();
        assert_eq!(other.count("p", "vs", None).await.unwrap(), 0);
        assert_eq!(index.count("p", "vs", None).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn connect_refuses_other_dense_size() {
        let server = TestQdrant::start(None).await;
        drop(QdrantIndex::connect(&server.url, None, "chunks", Some(Dense::one(4))).await.unwrap());
        let err = QdrantIndex::connect(&server.url, None, "chunks", Some(Dense::one(8))).await.unwrap_err();
        assert!(
            matches!(&err, IndexError::Invalid(m) if m.contains("size 4") && m.contains("embedder changed")),
            "{err}"
        );
        let err = QdrantIndex::connect(&server.url, None, "chunks", None).await.unwrap_err();
        assert!(matches!(err, IndexError::Invalid(_)), "{err}");
        assert!(QdrantIndex::connect(&server.url, None, "chunks", Some(Dense::one(4))).await.is_ok());
        drop(QdrantIndex::connect(&server.url, None, "lexical", None).await.unwrap());
        let err = QdrantIndex::connect(&server.url, None, "lexical", Some(Dense::one(4))).await.unwrap_err();
        assert!(matches!(err, IndexError::Invalid(_)), "{err}");
        assert!(QdrantIndex::connect(&server.url, None, "lexical", None).await.is_ok());
        let err = QdrantIndex::connect(&server.url, None, "chunks", Some(Dense::one(0))).await.unwrap_err();
        assert!(matches!(err, IndexError::Invalid(_)), "{err}");
        // one vector per chunk and one per window are different collections
        let err = QdrantIndex::connect(&server.url, None, "chunks", Some(Dense::windowed(4))).await.unwrap_err();
        assert!(matches!(&err, IndexError::Invalid(m) if m.contains("multivector")), "{err}");
        drop(QdrantIndex::connect(&server.url, None, "windowed", Some(Dense::windowed(4))).await.unwrap());
        let err = QdrantIndex::connect(&server.url, None, "windowed", Some(Dense::one(4))).await.unwrap_err();
        assert!(matches!(&err, IndexError::Invalid(m) if m.contains("multivector (MaxSim) of size 4")), "{err}");
        assert!(QdrantIndex::connect(&server.url, None, "windowed", Some(Dense::windowed(4))).await.is_ok());
    }

    /// The collection gets the vectors and payload indexes of the layout.
    #[tokio::test]
    async fn collection_layout() {
        let (_server, index) = fresh().await;
        let info = index
            .inner
            .client
            .collection_info(GetCollectionInfoRequest { collection_name: "chunks".to_owned() })
            .await
            .unwrap()
            .result
            .unwrap();
        let params = info.config.unwrap().params.unwrap();
        let Some(vectors_config::Config::ParamsMap(dense)) = params.vectors_config.unwrap().config else {
            panic!("named vectors")
        };
        assert_eq!(dense.map[keys::DENSE].size, suite::DIM as u64);
        assert_eq!(dense.map[keys::DENSE].distance, i32::from(Distance::Cosine));
        let sparse = params.sparse_vectors_config.unwrap();
        assert_eq!(sparse.map[keys::SPARSE].modifier, Some(Modifier::Idf.into()));
        let tenant = &info.payload_schema[keys::PROJECT];
        assert_eq!(tenant.data_type, i32::from(qdrant_client::qdrant::PayloadSchemaType::Keyword));
        let Some(payload_index_params::IndexParams::KeywordIndexParams(params)) =
            tenant.params.as_ref().and_then(|p| p.index_params.clone())
        else {
            panic!("keyword params: {tenant:?}")
        };
        assert_eq!(params.is_tenant, Some(true));
        for key in [keys::VECTOR_STORE, keys::FILE] {
            assert_eq!(
                info.payload_schema[key].data_type,
                i32::from(qdrant_client::qdrant::PayloadSchemaType::Keyword)
            );
        }
    }

    /// The attribute filters give the same answers before and after the first run asks
    /// for payload indexes; a reconnect knows the indexes.
    #[tokio::test]
    async fn attribute_filters_with_indexes() {
        let (server, index) = fresh().await;
        suite::attribute_filters(&index).await;
        let info = index
            .inner
            .client
            .collection_info(GetCollectionInfoRequest { collection_name: "chunks".to_owned() })
            .await
            .unwrap()
            .result
            .unwrap();
        for key in ["author", "year", "score", "draft", "\"dotted.key\"", "\"with space\""] {
            let path = format!("attributes.{key}");
            assert!(info.payload_schema.contains_key(&path), "{key} is indexed: {:?}", info.payload_schema.keys());
        }
        let year = &info.payload_schema["attributes.year"];
        assert_eq!(year.data_type, i32::from(qdrant_client::qdrant::PayloadSchemaType::Float));
        suite::attribute_filters(&index).await;
        let index = QdrantIndex::connect(&server.url, None, "chunks", Some(Dense::one(suite::DIM))).await.unwrap();
        let known = index.inner.attribute_indexes.lock().unwrap().clone();
        assert_eq!(known.len(), 7, "{known:?}");
        suite::attribute_filters(&index).await;
        assert_eq!(*index.inner.attribute_indexes.lock().unwrap(), known, "nothing new to index");
    }

    #[tokio::test]
    async fn api_key() {
        let server = TestQdrant::start(Some("secret")).await;
        let err = QdrantIndex::connect(&server.url, None, "chunks", None).await.unwrap_err();
        assert!(matches!(err, IndexError::Unavailable(_)), "{err}");
        let err = QdrantIndex::connect(&server.url, Some("wrong".to_owned()), "chunks", None).await.unwrap_err();
        assert!(matches!(err, IndexError::Unavailable(_)), "{err}");
        let index = QdrantIndex::connect(&server.url, Some("secret".to_owned()), "chunks", None).await.unwrap();
        index.health().await.unwrap();
    }

    #[tokio::test]
    async fn unreachable_server_is_unavailable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let err = QdrantIndex::connect(&url, None, "chunks", None).await.unwrap_err();
        assert!(matches!(err, IndexError::Unavailable(_)), "{err}");
        let err = QdrantIndex::connect("not a url", None, "chunks", None).await.unwrap_err();
        assert!(matches!(err, IndexError::Invalid(_)), "{err}");
    }

    #[tokio::test]
    async fn lexical_only_index() {
        let server = TestQdrant::start(None).await;
        let index = QdrantIndex::connect(&server.url, None, "chunks", None).await.unwrap();
        let mut p = suite::chunk("p", "vs", "f", 0, "the lexical only index works");
        p.dense = None;
        index.upsert(vec![p]).await.unwrap();
        let ranked = index.search(&suite::query("p", &["vs"], "lexical")).await.unwrap();
        assert_eq!(ranked.lexical.len(), 1);
        assert!(ranked.lexical[0].score > 0.0);
        let mut q = suite::query("p", &["vs"], "lexical");
        q.dense = Some(suite::unit(0));
        assert!(matches!(index.search(&q).await, Err(IndexError::Invalid(_))));
        assert!(index.search(&suite::query("p", &["vs"], "the")).await.unwrap().lexical.is_empty());
        index.health().await.unwrap();
    }

    /// Upserts larger than one request go in several.
    #[tokio::test]
    async fn upsert_in_several_requests() {
        let (_server, index) = fresh().await;
        let text = "word ".repeat(20_000);
        let points: Vec<ChunkPoint> = (0..(UPSERT_POINTS as u32 + 150))
            .map(|i| suite::chunk("p", "vs", "f", i, &format!("{i} {text}")))
            .collect();
        index.upsert(points).await.unwrap();
        assert_eq!(index.count("p", "vs", None).await.unwrap(), UPSERT_POINTS as u64 + 150);
    }
}
