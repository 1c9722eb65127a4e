//! The runs service. Its behaviour (the run engine, steps, streaming, model
//! backends) belongs to the Runs issue; until then every rpc answers UNIMPLEMENTED,
//! which the gateway turns into a 501 in OpenAI's error format.

pub mod domain;
pub mod model;

use assistd_proto::pb;

/// The runs service (not implemented yet: every rpc is UNIMPLEMENTED).
#[derive(Clone, Default)]
pub struct RunsService;

impl RunsService {
    /// The tonic server for this service.
    pub fn into_server(self) -> pb::run_service_server::RunServiceServer<Self> {
        pb::run_service_server::RunServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl pb::run_service_server::RunService for RunsService {}
