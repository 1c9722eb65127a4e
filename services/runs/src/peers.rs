//! The runs engine's clients of the services it builds on: assistants (the run's
//! definition), threads (the conversation, and the messages a run writes) and, when
//! the process reaches one, vector stores (checked when a run names them, searched by
//! the file_search tool). Calls act for a project: in one process the project travels
//! in the request's extensions (the auth layer trusts it there, where no network
//! request can put it); the caller's `authorization`, when there is one, is forwarded
//! too, so calls that cross the network or reach the files service are authenticated
//! as the caller.

use assistd_common::channel::GrpcChannel;
use assistd_common::files_client::Files;
use assistd_common::vector_stores_ref::vector_store_found;
use assistd_common::{ServiceError, ServiceResult};
use assistd_proto::pb;
use assistd_proto::pb::assistant_service_client::AssistantServiceClient;
use assistd_proto::pb::thread_service_client::ThreadServiceClient;
use assistd_proto::pb::vector_store_service_client::VectorStoreServiceClient;
use std::sync::Arc;

use assistd_sandbox::Sandbox;
use tonic::metadata::MetadataValue;

pub use assistd_common::caller::Caller;

/// Clients of the assistants, threads and (optionally) vector stores services, acting
/// for a [`Caller`].
#[derive(Clone)]
pub struct Peers {
    assistants: AssistantServiceClient<GrpcChannel>,
    threads: ThreadServiceClient<GrpcChannel>,
    /// The vector stores service, for file_search (none: file_search fails).
    vector_stores: Option<VectorStoreServiceClient<GrpcChannel>>,
    /// `Bearer <internal token>`, for the engine's own calls across the network.
    internal: Option<MetadataValue<tonic::metadata::Ascii>>,
    /// code_interpreter's sandbox (none: code_interpreter fails).
    sandbox: Option<Arc<dyn Sandbox>>,
    /// The files service, for code_interpreter's input and output files.
    files: Option<Files>,
}

fn upstream(s: tonic::Status) -> ServiceError {
    ServiceError::from_status(&s)
}

impl Peers {
    /// Clients over these channels.
    pub fn new(assistants: GrpcChannel, threads: GrpcChannel) -> Self {
        let max = assistd_common::channel::MAX_GRPC_MESSAGE;
        Self {
            assistants: AssistantServiceClient::new(assistants).max_decoding_message_size(max),
            threads: ThreadServiceClient::new(threads).max_decoding_message_size(max).max_encoding_message_size(max),
            vector_stores: None,
            internal: None,
            sandbox: None,
            files: None,
        }
    }

    /// Lets code_interpreter read input files and store what it made through this
    /// channel to the files service.
    pub fn with_files(mut self, channel: GrpcChannel) -> Self {
        self.files = Some(Files::new(channel).with_internal_authorization(self.internal.clone()));
        self
    }

    /// The files service's client, or the error a code_interpreter call gets without one.
    pub fn files(&self) -> ServiceResult<Files> {
        let files = self.files.clone().ok_or_else(|| {
            ServiceError::new(
                assistd_common::error::ErrorKind::FailedPrecondition,
                "code_interpreter is unavailable: this process does not reach the files service (give --upstream files=URL)",
            )
        })?;
        Ok(files)
    }

    /// Lets runs search vector stores (the file_search tool) through this channel.
    pub fn with_vector_stores(mut self, channel: GrpcChannel) -> Self {
        self.vector_stores = Some(VectorStoreServiceClient::new(channel).max_decoding_message_size(64 << 20));
        self
    }

    /// Lets runs execute code_interpreter calls in `sandbox`.
    pub fn with_sandbox(mut self, sandbox: Arc<dyn Sandbox>) -> Self {
        self.sandbox = Some(sandbox);
        self
    }

    /// The sandbox, or the error a code_interpreter call gets without one.
    pub fn sandbox(&self) -> ServiceResult<&Arc<dyn Sandbox>> {
        self.sandbox.as_ref().ok_or_else(|| {
            ServiceError::new(
                assistd_common::error::ErrorKind::FailedPrecondition,
                "code_interpreter is unavailable: this server has no sandbox (ASSISTD_SANDBOX=off, or give --upstream sandbox=URL)",
            )
        })
    }

    fn vs(&self) -> ServiceResult<VectorStoreServiceClient<GrpcChannel>> {
        self.vector_stores.clone().ok_or_else(|| {
            ServiceError::new(
                assistd_common::error::ErrorKind::Unavailable,
                "file_search is unavailable: this process has no vector stores service (give --upstream vector_stores=URL)",
            )
        })
    }

    /// The vector store `id`, as the caller sees it (an error when there is no vector
    /// stores service).
    pub async fn vector_store(&self, c: &Caller, id: &str) -> ServiceResult<pb::VectorStore> {
        let req = self.req(c, pb::GetVectorStoreRequest { vector_store_id: id.to_owned() });
        Ok(self.vs()?.get_vector_store(req).await.map_err(upstream)?.into_inner())
    }

    /// Searches a vector store (an error when there is no vector stores service).
    pub async fn search(
        &self,
        c: &Caller,
        request: pb::SearchVectorStoreRequest,
    ) -> ServiceResult<pb::SearchVectorStoreResponse> {
        Ok(self.vs()?.search_vector_store(self.req(c, request)).await.map_err(upstream)?.into_inner())
    }

    /// Authenticates the engine's own calls (no client key at hand) with the
    /// deployment's internal token (see `assistd_common::auth::internal_token`).
    pub fn with_internal_token(mut self, token: Option<String>) -> Self {
        self.internal = assistd_common::caller::internal_authorization(token);
        self.files = self.files.map(|f| f.with_internal_authorization(self.internal.clone()));
        self
    }

    fn req<T>(&self, c: &Caller, msg: T) -> tonic::Request<T> {
        c.request(msg, self.internal.as_ref())
    }

    /// Fails with 400 naming the first `(param, vector_store_id)` whose store does not
    /// exist for the caller; no check without a vector stores service.
    pub async fn check_vector_stores(&self, c: &Caller, refs: &[(String, String)]) -> ServiceResult<()> {
        let Some(client) = &self.vector_stores else { return Ok(()) };
        for (param, id) in refs {
            let req = self.req(c, pb::GetVectorStoreRequest { vector_store_id: id.clone() });
            vector_store_found(client.clone().get_vector_store(req).await.map(drop), param, id)?;
        }
        Ok(())
    }

    /// The assistant `id` (a 404 when the caller has none).
    pub async fn assistant(&self, c: &Caller, id: &str) -> ServiceResult<pb::Assistant> {
        let req = self.req(c, pb::GetAssistantRequest { assistant_id: id.to_owned() });
        Ok(self.assistants.clone().get_assistant(req).await.map_err(upstream)?.into_inner())
    }

    /// The thread `id` (a 404 when the caller has none).
    pub async fn thread(&self, c: &Caller, id: &str) -> ServiceResult<pb::Thread> {
        let req = self.req(c, pb::GetThreadRequest { thread_id: id.to_owned() });
        Ok(self.threads.clone().get_thread(req).await.map_err(upstream)?.into_inner())
    }

    /// Creates a thread (create-thread-and-run); its errors name params of the request.
    pub async fn create_thread(&self, c: &Caller, t: pb::CreateThreadRequest) -> ServiceResult<pb::Thread> {
        Ok(self.threads.clone().create_thread(self.req(c, t)).await.map_err(upstream)?.into_inner())
    }

    /// Deletes a thread (undoing a create-thread-and-run whose run could not start).
    pub async fn delete_thread(&self, c: &Caller, id: &str) -> ServiceResult<()> {
        let req = self.req(c, pb::DeleteThreadRequest { thread_id: id.to_owned() });
        self.threads.clone().delete_thread(req).await.map_err(upstream)?;
        Ok(())
    }

    /// Adds a message to a thread.
    pub async fn create_message(&self, c: &Caller, thread_id: &str, m: pb::NewMessage) -> ServiceResult<pb::Message> {
        let req = self.req(c, pb::CreateMessageRequest { thread_id: thread_id.to_owned(), message: Some(m) });
        Ok(self.threads.clone().create_message(req).await.map_err(upstream)?.into_inner())
    }

    /// Every message of the thread (only those `run_id` wrote, when given), oldest
    /// first, read page by page.
    pub async fn messages(&self, c: &Caller, thread_id: &str, run_id: Option<&str>) -> ServiceResult<Vec<pb::Message>> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let req = self.req(
                c,
                pb::ListMessagesRequest {
                    thread_id: thread_id.to_owned(),
                    page: Some(pb::ListParams {
                        limit: Some(100),
                        order: pb::Order::Asc as i32,
                        after: after.take(),
                        before: None,
                    }),
                    run_id: run_id.map(str::to_owned),
                },
            );
            let page = self.threads.clone().list_messages(req).await.map_err(upstream)?.into_inner();
            let last = page.data.last().map(|m| m.id.clone());
            out.extend(page.data);
            match (page.has_more, last) {
                (true, Some(l)) => after = Some(l),
                _ => return Ok(out),
            }
        }
    }

    /// Message `id` of thread `thread_id`.
    pub async fn message(&self, c: &Caller, thread_id: &str, id: &str) -> ServiceResult<pb::Message> {
        let req = self.req(c, pb::GetMessageRequest { thread_id: thread_id.to_owned(), message_id: id.to_owned() });
        Ok(self.threads.clone().get_message(req).await.map_err(upstream)?.into_inner())
    }

    /// Creates the in-progress assistant message a run writes.
    pub async fn create_run_message(&self, c: &Caller, m: &pb::Message) -> ServiceResult<pb::Message> {
        let req = self.req(
            c,
            pb::CreateRunMessageRequest {
                thread_id: m.thread_id.clone(),
                assistant_id: m.assistant_id.clone().unwrap_or_default(),
                run_id: m.run_id.clone().unwrap_or_default(),
                message_id: Some(m.id.clone()),
                created_at: Some(m.created_at),
            },
        );
        Ok(self.threads.clone().create_run_message(req).await.map_err(upstream)?.into_inner())
    }

    /// Writes a run's message.
    pub async fn update_run_message(&self, c: &Caller, u: pb::UpdateRunMessageRequest) -> ServiceResult<pb::Message> {
        Ok(self.threads.clone().update_run_message(self.req(c, u)).await.map_err(upstream)?.into_inner())
    }
}
