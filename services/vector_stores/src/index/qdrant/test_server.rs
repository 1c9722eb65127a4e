//! A test-only Qdrant gRPC server: qdrant-client's generated `Qdrant`, `Collections` and
//! `Points` services over one in-process qdrant-edge shard per collection (under a
//! temporary directory), to run [`super::QdrantIndex`] against.
//!
//! Dense vectors may be multivectors (MaxSim), stored on disk and without an HNSW graph
//! (`m` 0), and a query may rescore one level of prefetches, as the windowed embedder's
//! collections and searches need.
//! Only the rpcs `QdrantIndex` uses are served (`HealthCheck`; `CollectionExists`,
//! `Create`, `Get`; `Upsert`, `Delete`, `SetPayload`, `CreateFieldIndex`, `Count`,
//! `QueryBatch`), and of their messages only what it sends; anything else answers
//! `unimplemented`. The messages are converted as the Qdrant server converts them (an
//! empty condition list is no condition, an empty condition is dropped, the query API
//! returns no payload unless asked), and errors carry the server's status codes
//! (`not_found` for a missing collection, `invalid_argument` for a bad request).
//! Writes are applied (under one writer lock per collection) but never flushed: the
//! shards live as long as the server.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use qdrant_client::qdrant as grpc;
use qdrant_client::qdrant::collections_server::{Collections, CollectionsServer};
use qdrant_client::qdrant::points_server::{Points, PointsServer};
use qdrant_client::qdrant::qdrant_server::{Qdrant, QdrantServer};
use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::external::uuid::Uuid;
use qdrant_edge::{
    Condition, CountRequest, CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams, EdgeVectorParams,
    FieldCondition, FieldIndexOperations, Filter, HnswIndexConfig, JsonPath, KeywordIndexParams, Match, Modifier,
    MultiVectorComparator, MultiVectorConfig, NamedQuery, OperationError, Payload, PayloadFieldSchema, PayloadOps,
    PayloadSchemaParams, PayloadSchemaType, PointId, PointInsertOperations, PointOperations, PointStruct, Prefetch,
    QueryEnum, QueryRequest, Range, ScoredPoint, ScoringQuery, SetPayloadOp, UpdateOperation, ValueVariants, Vector,
    VectorInternal, Vectors, WithPayloadInterface, WithVector,
};
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};

/// Qdrant's default limit on a request's size.
const MAX_REQUEST: usize = 32 << 20;

/// A running server on `127.0.0.1`; it stops (and its data goes) when dropped.
pub(crate) struct TestQdrant {
    /// `http://127.0.0.1:<port>`.
    pub(crate) url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestQdrant {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestQdrant {
    /// Starts a server on a free port; with `api_key`, requests must carry it
    /// (the `api-key` header, as Qdrant wants it).
    pub(crate) async fn start(api_key: Option<&str>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let service = Service(Arc::new(State {
            collections: Mutex::new(HashMap::new()),
            dir: tempfile::tempdir().expect("a temporary directory"),
        }));
        let api_key = api_key.map(str::to_owned);
        let check = move |request: Request<()>| {
            let Some(key) = &api_key else { return Ok(request) };
            match request.metadata().get("api-key").and_then(|v| v.to_str().ok()) {
                Some(given) if given == key => Ok(request),
                _ => Err(Status::unauthenticated("Invalid api-key")),
            }
        };
        let collections = CollectionsServer::new(service.clone()).max_decoding_message_size(MAX_REQUEST);
        let points = PointsServer::new(service.clone()).max_decoding_message_size(MAX_REQUEST);
        let router = tonic::transport::Server::builder()
            .add_service(QdrantServer::with_interceptor(service, check.clone()))
            .add_service(InterceptedService::new(collections, check.clone()))
            .add_service(InterceptedService::new(points, check));
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let task = tokio::spawn(async move {
            router.serve_with_incoming(incoming).await.expect("the test qdrant server runs");
        });
        Self { url, task }
    }
}

#[derive(Clone)]
struct Service(Arc<State>);

struct State {
    collections: Mutex<HashMap<String, Arc<Collection>>>,
    // after the shards, which live in it
    dir: tempfile::TempDir,
}

struct Collection {
    shard: EdgeShard,
    /// Serialises updates.
    writer: Mutex<()>,
}

impl Service {
    fn collection(&self, name: &str) -> Result<Arc<Collection>, Status> {
        let collections = self.0.collections.lock().unwrap_or_else(PoisonError::into_inner);
        collections
            .get(name)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("Not found: Collection `{name}` doesn't exist!")))
    }

    /// Applies `operations` to a collection, on the blocking pool.
    async fn update(
        &self,
        name: &str,
        operations: Vec<UpdateOperation>,
    ) -> Result<Response<grpc::PointsOperationResponse>, Status> {
        let collection = self.collection(name)?;
        blocking(move || {
            let _writer = collection.writer.lock().unwrap_or_else(PoisonError::into_inner);
            for operation in operations {
                collection.shard.update(operation).map_err(status)?;
            }
            Ok(())
        })
        .await?;
        let result = grpc::UpdateResult { operation_id: None, status: grpc::UpdateStatus::Completed.into() };
        Ok(Response::new(grpc::PointsOperationResponse { result: Some(result), ..Default::default() }))
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, Status> + Send + 'static) -> Result<T, Status> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Status::internal(e.to_string()))?
}

fn status(e: OperationError) -> Status {
    match e {
        OperationError::WrongVectorDimension { .. }
        | OperationError::ValidationError { .. }
        | OperationError::WrongSparse
        | OperationError::WrongMulti
        | OperationError::VectorNameNotExists { .. } => Status::invalid_argument(format!("Wrong input: {e}")),
        other => Status::internal(format!("Service internal error: {other}")),
    }
}

fn unsupported(what: &str) -> Status {
    Status::unimplemented(format!("{what} is not supported by the test qdrant server"))
}

/// Implements a service trait with the given rpcs, and every other one listed as
/// `unimplemented` (the generated traits have no default methods).
macro_rules! service {
    (impl $service:ident { $($implemented:tt)* } unimplemented { $($name:ident($req:ident) -> $resp:ident;)* }) => {
        #[tonic::async_trait]
        impl $service for Service {
            $($implemented)*
            $(
                async fn $name(&self, _: Request<grpc::$req>) -> Result<Response<grpc::$resp>, Status> {
                    Err(unsupported(concat!("the ", stringify!($name), " rpc")))
                }
            )*
        }
    };
}

service! {
    impl Qdrant {
        async fn health_check(&self, _: Request<grpc::HealthCheckRequest>) -> Result<Response<grpc::HealthCheckReply>, Status> {
            Ok(Response::new(grpc::HealthCheckReply {
                title: "qdrant - vector search engine (assistd test server over qdrant-edge)".to_owned(),
                version: "1.17.0".to_owned(),
                commit: None,
            }))
        }
    }
    unimplemented {}
}

service! {
    impl Collections {
        async fn collection_exists(
            &self,
            request: Request<grpc::CollectionExistsRequest>,
        ) -> Result<Response<grpc::CollectionExistsResponse>, Status> {
            let grpc::CollectionExistsRequest { collection_name } = request.into_inner();
            let exists = self.collection(&collection_name).is_ok();
            Ok(Response::new(grpc::CollectionExistsResponse {
                result: Some(grpc::CollectionExists { exists }),
                time: 0.0,
            }))
        }

        async fn create(
            &self,
            request: Request<grpc::CreateCollection>,
        ) -> Result<Response<grpc::CollectionOperationResponse>, Status> {
            let grpc::CreateCollection { collection_name, vectors_config, sparse_vectors_config, .. } = request.into_inner();
            let mut config = EdgeConfig::builder();
            match vectors_config.and_then(|c| c.config) {
                None => {}
                Some(grpc::vectors_config::Config::ParamsMap(map)) => {
                    for (name, params) in map.map {
                        config = config.vector(name, vector_params(params)?);
                    }
                }
                Some(grpc::vectors_config::Config::Params(_)) => return Err(unsupported("an unnamed vector")),
            }
            for (name, params) in sparse_vectors_config.map(|c| c.map).unwrap_or_default() {
                let grpc::SparseVectorParams { index, modifier } = params;
                if index.is_some() {
                    return Err(unsupported("sparse index parameters"));
                }
                let mut sparse = EdgeSparseVectorParams::builder();
                if modifier == Some(grpc::Modifier::Idf.into()) {
                    sparse = sparse.modifier(Modifier::Idf);
                }
                config = config.sparse_vector(name, sparse.build());
            }
            let mut collections = self.0.collections.lock().unwrap_or_else(PoisonError::into_inner);
            if collections.contains_key(&collection_name) {
                return Err(Status::invalid_argument(format!("Wrong input: Collection `{collection_name}` already exists!")));
            }
            let path = self.0.dir.path().join(&collection_name);
            std::fs::create_dir_all(&path).map_err(|e| Status::internal(e.to_string()))?;
            let shard = EdgeShard::new(&path, config.build()).map_err(status)?;
            collections.insert(collection_name, Arc::new(Collection { shard, writer: Mutex::new(()) }));
            Ok(Response::new(grpc::CollectionOperationResponse { result: true, time: 0.0 }))
        }

        async fn get(
            &self,
            request: Request<grpc::GetCollectionInfoRequest>,
        ) -> Result<Response<grpc::GetCollectionInfoResponse>, Status> {
            let grpc::GetCollectionInfoRequest { collection_name } = request.into_inner();
            let collection = self.collection(&collection_name)?;
            let (vectors, sparse_vectors) = {
                let config = collection.shard.config();
                (config.vectors.clone(), config.sparse_vectors.clone())
            };
            let info = blocking(move || Ok(collection.shard.info())).await?;
            let vectors = vectors
                .into_iter()
                .map(|(name, v)| {
                    let multivector_config = v.multivector_config.map(|m| grpc::MultiVectorConfig {
                        comparator: match m.comparator {
                            MultiVectorComparator::MaxSim => grpc::MultiVectorComparator::MaxSim.into(),
                        },
                    });
                    let params = grpc::VectorParams {
                        size: v.size as u64,
                        distance: distance_to_grpc(v.distance).into(),
                        multivector_config,
                        ..Default::default()
                    };
                    (name, params)
                })
                .collect();
            let sparse_vectors = sparse_vectors
                .into_iter()
                .map(|(name, s)| {
                    let modifier = match s.modifier {
                        Some(Modifier::Idf) => Some(grpc::Modifier::Idf.into()),
                        Some(Modifier::None) | None => None,
                    };
                    (name, grpc::SparseVectorParams { index: None, modifier })
                })
                .collect();
            let params = grpc::CollectionParams {
                shard_number: 1,
                vectors_config: Some(grpc::VectorsConfig {
                    config: Some(grpc::vectors_config::Config::ParamsMap(grpc::VectorParamsMap { map: vectors })),
                }),
                sparse_vectors_config: Some(grpc::SparseVectorConfig { map: sparse_vectors }),
                ..Default::default()
            };
            let payload_schema = info
                .payload_schema
                .into_iter()
                .map(|(path, index)| {
                    let params = match index.params {
                        Some(PayloadSchemaParams::Keyword(KeywordIndexParams { is_tenant, .. })) => {
                            Some(grpc::PayloadIndexParams {
                                index_params: Some(grpc::payload_index_params::IndexParams::KeywordIndexParams(
                                    grpc::KeywordIndexParams { is_tenant, ..Default::default() },
                                )),
                            })
                        }
                        _ => None,
                    };
                    let schema = grpc::PayloadSchemaInfo {
                        data_type: schema_type_to_grpc(index.data_type).into(),
                        params,
                        points: Some(index.points as u64),
                    };
                    (path.to_string(), schema)
                })
                .collect();
            let result = grpc::CollectionInfo {
                status: grpc::CollectionStatus::Green.into(),
                segments_count: info.segments_count as u64,
                config: Some(grpc::CollectionConfig { params: Some(params), ..Default::default() }),
                payload_schema,
                points_count: Some(info.points_count as u64),
                ..Default::default()
            };
            Ok(Response::new(grpc::GetCollectionInfoResponse { result: Some(result), time: 0.0 }))
        }
    }
    unimplemented {
        list(ListCollectionsRequest) -> ListCollectionsResponse;
        update(UpdateCollection) -> CollectionOperationResponse;
        delete(DeleteCollection) -> CollectionOperationResponse;
        update_aliases(ChangeAliases) -> CollectionOperationResponse;
        list_collection_aliases(ListCollectionAliasesRequest) -> ListAliasesResponse;
        list_aliases(ListAliasesRequest) -> ListAliasesResponse;
        collection_cluster_info(CollectionClusterInfoRequest) -> CollectionClusterInfoResponse;
        update_collection_cluster_setup(UpdateCollectionClusterSetupRequest) -> UpdateCollectionClusterSetupResponse;
        create_shard_key(CreateShardKeyRequest) -> CreateShardKeyResponse;
        delete_shard_key(DeleteShardKeyRequest) -> DeleteShardKeyResponse;
        list_shard_keys(ListShardKeysRequest) -> ListShardKeysResponse;
    }
}

service! {
    impl Points {
        async fn upsert(&self, request: Request<grpc::UpsertPoints>) -> Result<Response<grpc::PointsOperationResponse>, Status> {
            let grpc::UpsertPoints { collection_name, points, update_filter, update_mode, .. } = request.into_inner();
            if update_filter.is_some() || update_mode.is_some() {
                return Err(unsupported("a conditional upsert"));
            }
            let points = points.into_iter().map(point_struct).collect::<Result<Vec<_>, _>>()?;
            let operation =
                UpdateOperation::PointOperation(PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)));
            self.update(&collection_name, vec![operation]).await
        }

        async fn delete(&self, request: Request<grpc::DeletePoints>) -> Result<Response<grpc::PointsOperationResponse>, Status> {
            let grpc::DeletePoints { collection_name, points, .. } = request.into_inner();
            let operation = match points.and_then(|p| p.points_selector_one_of) {
                Some(grpc::points_selector::PointsSelectorOneOf::Filter(f)) => {
                    PointOperations::DeletePointsByFilter(filter(f)?)
                }
                Some(grpc::points_selector::PointsSelectorOneOf::Points(list)) => {
                    PointOperations::DeletePoints { ids: list.ids.into_iter().map(point_id).collect::<Result<_, _>>()? }
                }
                None => return Err(Status::invalid_argument("Wrong input: no points selector")),
            };
            self.update(&collection_name, vec![UpdateOperation::PointOperation(operation)]).await
        }

        async fn set_payload(
            &self,
            request: Request<grpc::SetPayloadPoints>,
        ) -> Result<Response<grpc::PointsOperationResponse>, Status> {
            let grpc::SetPayloadPoints { collection_name, payload, points_selector, key, .. } = request.into_inner();
            let (points, filter) = match points_selector.and_then(|p| p.points_selector_one_of) {
                Some(grpc::points_selector::PointsSelectorOneOf::Filter(f)) => (None, Some(filter(f)?)),
                Some(grpc::points_selector::PointsSelectorOneOf::Points(list)) => {
                    (Some(list.ids.into_iter().map(point_id).collect::<Result<_, _>>()?), None)
                }
                None => return Err(Status::invalid_argument("Wrong input: no points selector")),
            };
            let key = key.map(|k| json_path(&k)).transpose()?;
            let payload = Payload(payload.into_iter().map(|(k, v)| (k, v.into_json())).collect());
            let operation = PayloadOps::SetPayload(SetPayloadOp { payload, points, filter, key });
            self.update(&collection_name, vec![UpdateOperation::PayloadOperation(operation)]).await
        }

        async fn create_field_index(
            &self,
            request: Request<grpc::CreateFieldIndexCollection>,
        ) -> Result<Response<grpc::PointsOperationResponse>, Status> {
            let grpc::CreateFieldIndexCollection { collection_name, field_name, field_type, field_index_params, .. } =
                request.into_inner();
            let schema = match field_index_params.and_then(|p| p.index_params) {
                None => {
                    let field_type = field_type.ok_or_else(|| Status::invalid_argument("Wrong input: no field type"))?;
                    let field_type = grpc::FieldType::try_from(field_type)
                        .map_err(|_| Status::invalid_argument("Wrong input: unknown field type"))?;
                    PayloadFieldSchema::FieldType(schema_type(field_type)?)
                }
                Some(grpc::payload_index_params::IndexParams::KeywordIndexParams(params)) => {
                    let grpc::KeywordIndexParams { is_tenant, .. } = params;
                    let params = KeywordIndexParams { is_tenant, ..KeywordIndexParams::default() };
                    PayloadFieldSchema::FieldParams(PayloadSchemaParams::Keyword(params))
                }
                Some(_) => return Err(unsupported("index parameters other than keyword ones")),
            };
            let operation = FieldIndexOperations::CreateIndex(CreateIndex {
                field_name: json_path(&field_name)?,
                field_schema: Some(schema),
            });
            self.update(&collection_name, vec![UpdateOperation::FieldIndexOperation(operation)]).await
        }

        async fn count(&self, request: Request<grpc::CountPoints>) -> Result<Response<grpc::CountResponse>, Status> {
            let grpc::CountPoints { collection_name, filter: f, exact, .. } = request.into_inner();
            let collection = self.collection(&collection_name)?;
            let request = CountRequest { filter: f.map(filter).transpose()?, exact: exact.unwrap_or(true) };
            let count = blocking(move || collection.shard.count(request).map_err(status)).await?;
            Ok(Response::new(grpc::CountResponse {
                result: Some(grpc::CountResult { count: count as u64 }),
                ..Default::default()
            }))
        }

        async fn query_batch(
            &self,
            request: Request<grpc::QueryBatchPoints>,
        ) -> Result<Response<grpc::QueryBatchResponse>, Status> {
            let grpc::QueryBatchPoints { collection_name, query_points, .. } = request.into_inner();
            let collection = self.collection(&collection_name)?;
            let requests = query_points.into_iter().map(query_request).collect::<Result<Vec<_>, _>>()?;
            let lists = blocking(move || {
                requests.into_iter().map(|r| collection.shard.query(r).map_err(status)).collect::<Result<Vec<_>, _>>()
            })
            .await?;
            let result = lists
                .into_iter()
                .map(|points| grpc::BatchResult { result: points.into_iter().map(scored_point).collect() })
                .collect();
            Ok(Response::new(grpc::QueryBatchResponse { result, ..Default::default() }))
        }
    }
    unimplemented {
        get(GetPoints) -> GetResponse;
        update_vectors(UpdatePointVectors) -> PointsOperationResponse;
        delete_vectors(DeletePointVectors) -> PointsOperationResponse;
        overwrite_payload(SetPayloadPoints) -> PointsOperationResponse;
        delete_payload(DeletePayloadPoints) -> PointsOperationResponse;
        clear_payload(ClearPayloadPoints) -> PointsOperationResponse;
        delete_field_index(DeleteFieldIndexCollection) -> PointsOperationResponse;
        create_vector_name(CreateVectorNameRequest) -> PointsOperationResponse;
        delete_vector_name(DeleteVectorNameRequest) -> PointsOperationResponse;
        search(SearchPoints) -> SearchResponse;
        search_batch(SearchBatchPoints) -> SearchBatchResponse;
        search_groups(SearchPointGroups) -> SearchGroupsResponse;
        scroll(ScrollPoints) -> ScrollResponse;
        recommend(RecommendPoints) -> RecommendResponse;
        recommend_batch(RecommendBatchPoints) -> RecommendBatchResponse;
        recommend_groups(RecommendPointGroups) -> RecommendGroupsResponse;
        discover(DiscoverPoints) -> DiscoverResponse;
        discover_batch(DiscoverBatchPoints) -> DiscoverBatchResponse;
        update_batch(UpdateBatchPoints) -> UpdateBatchResponse;
        query(QueryPoints) -> QueryResponse;
        query_groups(QueryPointGroups) -> QueryGroupsResponse;
        facet(FacetCounts) -> FacetResponse;
        search_matrix_pairs(SearchMatrixPoints) -> SearchMatrixPairsResponse;
        search_matrix_offsets(SearchMatrixPoints) -> SearchMatrixOffsetsResponse;
    }
}

fn vector_params(params: grpc::VectorParams) -> Result<EdgeVectorParams, Status> {
    let grpc::VectorParams { size, distance, multivector_config, memory, hnsw_config, .. } = params;
    let multivector = match multivector_config.map(|m| grpc::MultiVectorComparator::try_from(m.comparator)) {
        None => None,
        Some(Ok(grpc::MultiVectorComparator::MaxSim)) => {
            Some(MultiVectorConfig { comparator: MultiVectorComparator::MaxSim })
        }
        Some(Err(_)) => return Err(Status::invalid_argument("Wrong input: unknown multivector comparator")),
    };
    let distance = match grpc::Distance::try_from(distance) {
        Ok(grpc::Distance::Cosine) => Distance::Cosine,
        Ok(grpc::Distance::Euclid) => Distance::Euclid,
        Ok(grpc::Distance::Dot) => Distance::Dot,
        Ok(grpc::Distance::Manhattan) => Distance::Manhattan,
        Ok(grpc::Distance::UnknownDistance) | Err(_) => {
            return Err(Status::invalid_argument("Wrong input: unknown distance"));
        }
    };
    let mut params = EdgeVectorParams::builder(size as usize, distance);
    if let Some(m) = multivector {
        params = params.multivector_config(m);
    }
    if let Some(memory) = memory {
        params = params.on_disk(memory == i32::from(grpc::Memory::Cold));
    }
    if let Some(hnsw) = hnsw_config {
        let grpc::HnswConfigDiff { m, ef_construct, full_scan_threshold, max_indexing_threads, payload_m, .. } = hnsw;
        if ef_construct.is_some() || full_scan_threshold.is_some() || max_indexing_threads.is_some() {
            return Err(unsupported("HNSW parameters other than m and payload_m"));
        }
        let default = HnswIndexConfig::default();
        params = params.hnsw_config(HnswIndexConfig {
            m: m.map_or(default.m, |m| m as usize),
            payload_m: payload_m.map(|m| m as usize),
            ..default
        });
    }
    Ok(params.build())
}

fn distance_to_grpc(distance: Distance) -> grpc::Distance {
    match distance {
        Distance::Cosine => grpc::Distance::Cosine,
        Distance::Euclid => grpc::Distance::Euclid,
        Distance::Dot => grpc::Distance::Dot,
        Distance::Manhattan => grpc::Distance::Manhattan,
    }
}

fn schema_type(field_type: grpc::FieldType) -> Result<PayloadSchemaType, Status> {
    Ok(match field_type {
        grpc::FieldType::Keyword => PayloadSchemaType::Keyword,
        grpc::FieldType::Integer => PayloadSchemaType::Integer,
        grpc::FieldType::Float => PayloadSchemaType::Float,
        grpc::FieldType::Bool => PayloadSchemaType::Bool,
        other => return Err(unsupported(&format!("a {} index", other.as_str_name()))),
    })
}

fn schema_type_to_grpc(schema: PayloadSchemaType) -> grpc::PayloadSchemaType {
    match schema {
        PayloadSchemaType::Keyword => grpc::PayloadSchemaType::Keyword,
        PayloadSchemaType::Integer => grpc::PayloadSchemaType::Integer,
        PayloadSchemaType::Float => grpc::PayloadSchemaType::Float,
        PayloadSchemaType::Geo => grpc::PayloadSchemaType::Geo,
        PayloadSchemaType::Text => grpc::PayloadSchemaType::Text,
        PayloadSchemaType::Bool => grpc::PayloadSchemaType::Bool,
        PayloadSchemaType::Datetime => grpc::PayloadSchemaType::Datetime,
        PayloadSchemaType::Uuid => grpc::PayloadSchemaType::Uuid,
    }
}

fn json_path(key: &str) -> Result<JsonPath, Status> {
    key.parse().map_err(|()| Status::invalid_argument(format!("Wrong input: invalid payload key {key:?}")))
}

fn point_id(id: grpc::PointId) -> Result<PointId, Status> {
    match id.point_id_options {
        Some(grpc::point_id::PointIdOptions::Num(n)) => Ok(PointId::NumId(n)),
        Some(grpc::point_id::PointIdOptions::Uuid(s)) => Uuid::parse_str(&s)
            .map(PointId::Uuid)
            .map_err(|_| Status::invalid_argument(format!("Unable to parse UUID: {s}"))),
        None => Err(Status::invalid_argument("No ID options provided")),
    }
}

fn point_id_to_grpc(id: PointId) -> grpc::PointId {
    let id = match id {
        PointId::NumId(n) => grpc::point_id::PointIdOptions::Num(n),
        PointId::Uuid(u) => grpc::point_id::PointIdOptions::Uuid(u.to_string()),
    };
    grpc::PointId { point_id_options: Some(id) }
}

fn point_struct(point: grpc::PointStruct) -> Result<qdrant_edge::PointStructPersisted, Status> {
    let grpc::PointStruct { id, payload, vectors } = point;
    let id = point_id(id.ok_or_else(|| Status::invalid_argument("Wrong input: a point without id"))?)?;
    let named = match vectors.and_then(|v| v.vectors_options) {
        Some(grpc::vectors::VectorsOptions::Vectors(named)) => named.vectors,
        Some(grpc::vectors::VectorsOptions::Vector(_)) => return Err(unsupported("an unnamed vector")),
        None => HashMap::new(),
    };
    let mut vectors = Vec::with_capacity(named.len());
    for (name, v) in named {
        let v = match v.vector {
            Some(grpc::vector::Vector::Dense(d)) => Vector::new_dense(d.data),
            Some(grpc::vector::Vector::Sparse(s)) => Vector::new_sparse(s.indices, s.values).map_err(status)?,
            Some(grpc::vector::Vector::MultiDense(m)) => multi(m)?,
            _ => return Err(unsupported("a vector that is neither dense, sparse nor multi-dense")),
        };
        vectors.push((name, v));
    }
    let payload = payload.into_iter().map(|(k, v)| (k, v.into_json())).collect();
    Ok(PointStruct::new(id, Vectors::new_named(vectors), serde_json::Value::Object(payload)).into())
}

/// A multi-dense vector (rows of one size; Qdrant refuses an empty one).
fn multi(m: grpc::MultiDenseVector) -> Result<Vector, Status> {
    Vector::new_multi(m.vectors.into_iter().map(|d| d.data).collect::<Vec<_>>())
        .map_err(|e| Status::invalid_argument(format!("Wrong input: {e}")))
}

fn query_request(query: grpc::QueryPoints) -> Result<QueryRequest, Status> {
    let grpc::QueryPoints { query, using, filter: f, score_threshold, limit, offset, with_payload, prefetch, .. } =
        query;
    let prefetches = prefetch.into_iter().map(prefetch_request).collect::<Result<Vec<_>, _>>()?;
    let with_payload = match with_payload.and_then(|w| w.selector_options) {
        None => false,
        Some(grpc::with_payload_selector::SelectorOptions::Enable(enable)) => enable,
        Some(_) => return Err(unsupported("a payload selector")),
    };
    Ok(QueryRequest {
        prefetches,
        query: Some(nearest(query, using)?),
        filter: f.map(filter).transpose()?,
        score_threshold: score_threshold.map(OrderedFloat),
        limit: limit.unwrap_or(10) as usize,
        offset: offset.unwrap_or(0) as usize,
        params: None,
        with_vector: WithVector::Bool(false),
        with_payload: WithPayloadInterface::Bool(with_payload),
    })
}

/// One prefetch, without prefetches of its own.
fn prefetch_request(prefetch: grpc::PrefetchQuery) -> Result<Prefetch, Status> {
    let grpc::PrefetchQuery { prefetch, query, using, filter: f, params, score_threshold, limit, lookup_from } =
        prefetch;
    if !prefetch.is_empty() || params.is_some() || lookup_from.is_some() {
        return Err(unsupported("nested prefetches, search params or lookups in a prefetch"));
    }
    Ok(Prefetch {
        prefetches: Vec::new(),
        query: Some(nearest(query, using)?),
        limit: limit.unwrap_or(10) as usize,
        params: None,
        filter: f.map(filter).transpose()?,
        score_threshold: score_threshold.map(OrderedFloat),
    })
}

/// A nearest-vector query in `using`.
fn nearest(query: Option<grpc::Query>, using: Option<String>) -> Result<ScoringQuery, Status> {
    let input = match query.and_then(|q| q.variant) {
        Some(grpc::query::Variant::Nearest(input)) => input.variant,
        _ => return Err(unsupported("a query other than nearest")),
    };
    let vector = match input {
        Some(grpc::vector_input::Variant::Dense(d)) => VectorInternal::Dense(d.data),
        Some(grpc::vector_input::Variant::Sparse(s)) => Vector::new_sparse(s.indices, s.values).map_err(status)?.0,
        Some(grpc::vector_input::Variant::MultiDense(m)) => multi(m)?.0,
        _ => return Err(unsupported("a query vector that is neither dense, sparse nor multi-dense")),
    };
    Ok(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery { query: vector, using })))
}

fn scored_point(point: ScoredPoint) -> grpc::ScoredPoint {
    let ScoredPoint { id, version, score, payload, .. } = point;
    let payload =
        payload.map(|p| p.0.into_iter().map(|(k, v)| (k, grpc::Value::from(v))).collect()).unwrap_or_default();
    grpc::ScoredPoint { id: Some(point_id_to_grpc(id)), payload, score, version, ..Default::default() }
}

fn filter(f: grpc::Filter) -> Result<Filter, Status> {
    let grpc::Filter { should, must, must_not, min_should } = f;
    if min_should.is_some() {
        return Err(unsupported("min_should"));
    }
    Ok(Filter {
        should: conditions(should)?,
        min_should: None,
        must: conditions(must)?,
        must_not: conditions(must_not)?,
    })
}

/// As the server: an empty list is no condition, and empty conditions are dropped.
fn conditions(list: Vec<grpc::Condition>) -> Result<Option<Vec<Condition>>, Status> {
    let mut converted = Vec::with_capacity(list.len());
    for c in list {
        let Some(c) = c.condition_one_of else { continue };
        converted.push(match c {
            grpc::condition::ConditionOneOf::Field(c) => Condition::Field(field_condition(c)?),
            grpc::condition::ConditionOneOf::HasId(ids) => {
                let ids: HashSet<PointId> = ids.has_id.into_iter().map(point_id).collect::<Result<_, _>>()?;
                Condition::HasId(ids.into_iter().collect())
            }
            grpc::condition::ConditionOneOf::Filter(f) => Condition::Filter(filter(f)?),
            _ => return Err(unsupported("a condition other than field, has_id or filter")),
        });
    }
    Ok(if converted.is_empty() { None } else { Some(converted) })
}

fn field_condition(c: grpc::FieldCondition) -> Result<FieldCondition, Status> {
    let grpc::FieldCondition {
        key,
        r#match,
        range,
        geo_bounding_box,
        geo_radius,
        values_count,
        geo_polygon,
        datetime_range,
        is_empty,
        is_null,
    } = c;
    if geo_bounding_box.is_some()
        || geo_radius.is_some()
        || values_count.is_some()
        || geo_polygon.is_some()
        || datetime_range.is_some()
        || is_empty.is_some()
        || is_null.is_some()
    {
        return Err(unsupported("a field condition other than match or range"));
    }
    let key = json_path(&key)?;
    match (r#match.and_then(|m| m.match_value), range) {
        (Some(m), None) => {
            let m = match m {
                grpc::r#match::MatchValue::Keyword(s) => Match::new_value(ValueVariants::String(s)),
                grpc::r#match::MatchValue::Boolean(b) => Match::new_value(ValueVariants::Bool(b)),
                grpc::r#match::MatchValue::Keywords(list) => Match::from(list.strings),
                _ => return Err(unsupported("a match other than keyword, keywords or boolean")),
            };
            Ok(FieldCondition::new_match(key, m))
        }
        (None, Some(grpc::Range { lt, gt, gte, lte })) => {
            let range = Range {
                lt: lt.map(OrderedFloat),
                gt: gt.map(OrderedFloat),
                gte: gte.map(OrderedFloat),
                lte: lte.map(OrderedFloat),
            };
            Ok(FieldCondition::new_range(key, range))
        }
        _ => Err(unsupported("a field condition without exactly one of match or range")),
    }
}
