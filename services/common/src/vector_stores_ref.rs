//! Vector stores made for other objects, through the vector stores service's gRPC
//! API, acting with the caller's credentials: the `tool_resources.file_search.
//! vector_stores` helper of assistants and threads, and the thread's own store that
//! message attachments for file_search go into (as OpenAI does).

use crate::caller::Caller;
use crate::channel::GrpcChannel;
use crate::error::{ErrorKind, ServiceError, ServiceResult};
use crate::tools::{MAX_VECTOR_STORES, NewVectorStore, ToolResources};
use assistd_proto::pb;
use assistd_proto::pb::vector_store_service_client::VectorStoreServiceClient;

/// A client of the vector stores service, if one is reachable.
#[derive(Clone, Default)]
pub struct VectorStoreRefs {
    client: Option<VectorStoreServiceClient<GrpcChannel>>,
}

impl VectorStoreRefs {
    /// Makes stores through `channel`.
    pub fn new(channel: GrpcChannel) -> Self {
        Self { client: Some(VectorStoreServiceClient::new(channel)) }
    }

    /// No vector stores service: the helpers answer 501.
    pub fn unavailable() -> Self {
        Self { client: None }
    }

    fn client(&self, what: &str) -> ServiceResult<VectorStoreServiceClient<GrpcChannel>> {
        self.client.clone().ok_or_else(|| {
            ServiceError::unimplemented(&format!("{what} (no vector stores service is reachable from this process)"))
        })
    }

    /// Fails with 400 naming the first `(param, vector_store_id)` whose store does not
    /// exist for the caller (a missing store and another project's look the same). No
    /// check when no vector stores service is reachable.
    pub async fn check(&self, caller: &Caller, refs: &[(String, String)]) -> ServiceResult<()> {
        let Some(client) = &self.client else { return Ok(()) };
        let checks = refs.iter().map(|(param, id)| {
            let mut client = client.clone();
            let req = caller.request(pb::GetVectorStoreRequest { vector_store_id: id.clone() }, None);
            async move { vector_store_found(client.get_vector_store(req).await.map(drop), param, id) }
        });
        for r in futures::future::join_all(checks).await {
            r?;
        }
        Ok(())
    }

    /// Takes the `vector_stores` helper out of `res` (checking that, with the ids
    /// given, there is at most one store), to be made with [`make`](Self::make) once
    /// the rest of the request is known to be good.
    pub fn take_helpers(res: &mut Option<ToolResources>, param: &str) -> ServiceResult<Vec<NewVectorStore>> {
        let Some(fs) = res.as_mut().and_then(|r| r.file_search.as_mut()) else { return Ok(vec![]) };
        let helpers = std::mem::take(&mut fs.vector_stores);
        if helpers.len() + fs.vector_store_ids.len() > MAX_VECTOR_STORES {
            return Err(ServiceError::invalid(
                format!("{param}.file_search"),
                format!(
                    "Invalid '{param}.file_search': at most {MAX_VECTOR_STORES} vector store may be given, in 'vector_store_ids' or 'vector_stores'."
                ),
            ));
        }
        Ok(helpers)
    }

    /// Creates the stores the helper asked for; their ids.
    pub async fn make(&self, caller: &Caller, helpers: Vec<NewVectorStore>) -> ServiceResult<Vec<String>> {
        let mut ids = Vec::new();
        for h in helpers {
            let mut client =
                self.client("Creating vector stores through 'tool_resources.file_search.vector_stores'")?;
            let pb::NewVectorStore { file_ids, chunking_strategy, metadata } = h.into();
            let req = pb::CreateVectorStoreRequest { file_ids, chunking_strategy, metadata, ..Default::default() };
            let vs = client.create_vector_store(caller.request(req, None)).await.map_err(upstream)?;
            ids.push(vs.into_inner().id);
        }
        Ok(ids)
    }

    /// Adds files to an existing store (as one batch).
    pub async fn add_files(&self, caller: &Caller, vector_store_id: &str, file_ids: Vec<String>) -> ServiceResult<()> {
        let mut client = self.client("Attaching files for file_search")?;
        let req =
            pb::CreateFileBatchRequest { vector_store_id: vector_store_id.to_owned(), file_ids, ..Default::default() };
        client.create_file_batch(caller.request(req, None)).await.map_err(upstream)?;
        Ok(())
    }

    /// Creates a thread's own store holding `file_ids`; its id.
    pub async fn thread_store(&self, caller: &Caller, thread_id: &str, file_ids: Vec<String>) -> ServiceResult<String> {
        let mut client = self.client("Attaching files for file_search")?;
        let req = pb::CreateVectorStoreRequest {
            name: Some(format!("vector store for {thread_id}")),
            file_ids,
            ..Default::default()
        };
        Ok(client.create_vector_store(caller.request(req, None)).await.map_err(upstream)?.into_inner().id)
    }
}

/// The outcome of looking up vector store `id`, referenced as `param`: a missing one is
/// a 400 naming `param`; the service's other failures say it could not be checked.
pub fn vector_store_found(looked_up: Result<(), tonic::Status>, param: &str, id: &str) -> ServiceResult<()> {
    match looked_up {
        Ok(()) => Ok(()),
        Err(s) if matches!(s.code(), tonic::Code::NotFound | tonic::Code::InvalidArgument) => {
            Err(ServiceError::invalid(param, format!("No vector store found with id '{id}'.")))
        }
        Err(s) => Err(ServiceError::new(
            ErrorKind::Unavailable,
            format!("Could not check vector store '{id}': {}", s.message()),
        )),
    }
}

fn upstream(s: tonic::Status) -> ServiceError {
    match s.code() {
        tonic::Code::Unavailable => ServiceError::new(ErrorKind::Unavailable, s.message().to_owned()),
        _ => ServiceError::from_status(&s),
    }
}
