//! The vector stores service. Its behaviour (ingestion, hybrid retrieval, search)
//! belongs to the Vector stores issue; until then every rpc answers UNIMPLEMENTED,
//! which the gateway turns into a 501 in OpenAI's error format.

use assistd_proto::pb;

/// The vector stores service (not implemented yet: every rpc is UNIMPLEMENTED).
#[derive(Clone, Default)]
pub struct VectorStoresService;

impl VectorStoresService {
    /// The tonic server for this service.
    pub fn into_server(self) -> pb::vector_store_service_server::VectorStoreServiceServer<Self> {
        pb::vector_store_service_server::VectorStoreServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl pb::vector_store_service_server::VectorStoreService for VectorStoresService {}
