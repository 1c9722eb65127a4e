//! The REST gateway: OpenAI-shaped REST and SSE in front of the gRPC services.
//!
//! Handlers are thin: parse OpenAI JSON, convert to the proto request, call the
//! service through its tonic client (in-process or over the network), convert the
//! reply back. The gateway never touches a database.

pub mod errors;
pub mod extract;
#[doc(hidden)]
pub mod fuzzing;
pub mod middleware;
pub mod openai;
pub mod playground;
pub mod poll;
pub mod routes;

use assistd_common::channel::GrpcChannel;
use assistd_proto::pb;

pub use assistd_common::channel::MAX_GRPC_MESSAGE;

/// Channels to the five services.
#[derive(Clone)]
pub struct Upstreams {
    /// AssistantService.
    pub assistants: GrpcChannel,
    /// ThreadService.
    pub threads: GrpcChannel,
    /// RunService.
    pub runs: GrpcChannel,
    /// FileService.
    pub files: GrpcChannel,
    /// VectorStoreService.
    pub vector_stores: GrpcChannel,
    /// ConversationService (none: a gateway given no `--upstream conversations`
    /// answers its routes 503, so older split deployments keep working).
    pub conversations: Option<GrpcChannel>,
    /// ResponseService (none: as for conversations).
    pub responses: Option<GrpcChannel>,
}

/// The 503 of a route whose service this gateway has no upstream for.
fn no_upstream(name: &str) -> crate::errors::ApiError {
    crate::errors::ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        format!("The {name} service is not reachable from this gateway: start it with --upstream {name}=URL."),
    )
    .with_code("service_unavailable")
}

impl Upstreams {
    /// An AssistantService client.
    pub fn assistants(&self) -> pb::assistant_service_client::AssistantServiceClient<GrpcChannel> {
        pb::assistant_service_client::AssistantServiceClient::new(self.assistants.clone())
            .max_decoding_message_size(MAX_GRPC_MESSAGE)
            .max_encoding_message_size(MAX_GRPC_MESSAGE)
    }

    /// A ThreadService client.
    pub fn threads(&self) -> pb::thread_service_client::ThreadServiceClient<GrpcChannel> {
        pb::thread_service_client::ThreadServiceClient::new(self.threads.clone())
            .max_decoding_message_size(MAX_GRPC_MESSAGE)
            .max_encoding_message_size(MAX_GRPC_MESSAGE)
    }

    /// A RunService client.
    pub fn runs(&self) -> pb::run_service_client::RunServiceClient<GrpcChannel> {
        pb::run_service_client::RunServiceClient::new(self.runs.clone())
            .max_decoding_message_size(MAX_GRPC_MESSAGE)
            .max_encoding_message_size(MAX_GRPC_MESSAGE)
    }

    /// A FileService client.
    pub fn files(&self) -> pb::file_service_client::FileServiceClient<GrpcChannel> {
        pb::file_service_client::FileServiceClient::new(self.files.clone())
            .max_decoding_message_size(MAX_GRPC_MESSAGE)
            .max_encoding_message_size(MAX_GRPC_MESSAGE)
    }

    /// A VectorStoreService client.
    pub fn vector_stores(&self) -> pb::vector_store_service_client::VectorStoreServiceClient<GrpcChannel> {
        pb::vector_store_service_client::VectorStoreServiceClient::new(self.vector_stores.clone())
            .max_decoding_message_size(MAX_GRPC_MESSAGE)
            .max_encoding_message_size(MAX_GRPC_MESSAGE)
    }

    /// A ResponseService client.
    pub fn responses(
        &self,
    ) -> Result<pb::response_service_client::ResponseServiceClient<GrpcChannel>, crate::errors::ApiError> {
        let channel = self.responses.clone().ok_or_else(|| no_upstream("responses"))?;
        Ok(pb::response_service_client::ResponseServiceClient::new(channel)
            .max_decoding_message_size(MAX_GRPC_MESSAGE)
            .max_encoding_message_size(MAX_GRPC_MESSAGE))
    }

    /// A ConversationService client.
    pub fn conversations(
        &self,
    ) -> Result<pb::conversation_service_client::ConversationServiceClient<GrpcChannel>, crate::errors::ApiError> {
        let channel = self.conversations.clone().ok_or_else(|| no_upstream("conversations"))?;
        Ok(pb::conversation_service_client::ConversationServiceClient::new(channel)
            .max_decoding_message_size(MAX_GRPC_MESSAGE)
            .max_encoding_message_size(MAX_GRPC_MESSAGE))
    }
}

/// The REST API router with the playground page.
pub fn router(upstreams: Upstreams) -> axum::Router {
    routes::router(upstreams).merge(playground::router())
}
