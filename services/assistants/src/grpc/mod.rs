//! The tonic implementation of `AssistantService`.

pub mod convert;

use assistd_common::files_ref::FileRefs;
use assistd_common::ids::AssistantId;
use assistd_common::page::PageRequest;
use assistd_common::tools::ToolResources;
use assistd_common::vector_stores_ref::VectorStoreRefs;
use assistd_common::{Project, ServiceError, time};
use assistd_proto::pb;
use tonic::{Request, Response, Status};

use crate::store::Store;

/// The assistants service.
#[derive(Clone)]
pub struct AssistantsService {
    store: Store,
    files: FileRefs,
    vector_stores: VectorStoreRefs,
}

impl AssistantsService {
    /// A service storing in `store`.
    pub fn new(store: Store) -> Self {
        Self { store, files: FileRefs::unchecked(), vector_stores: VectorStoreRefs::unavailable() }
    }

    /// Makes the vector stores of the `tool_resources.file_search.vector_stores`
    /// helper through the vector stores service.
    pub fn with_vector_stores(mut self, vector_stores: VectorStoreRefs) -> Self {
        self.vector_stores = vector_stores;
        self
    }

    /// Checks that files in `tool_resources` exist, through the files service.
    pub fn with_file_refs(mut self, files: FileRefs) -> Self {
        self.files = files;
        self
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> pb::assistant_service_server::AssistantServiceServer<Self> {
        pb::assistant_service_server::AssistantServiceServer::new(self)
    }
}

/// Records vector stores made by the helper in the tool resources.
fn add_made(res: &mut Option<ToolResources>, made: Vec<String>) {
    if !made.is_empty() {
        let res = res.get_or_insert_with(ToolResources::default);
        res.file_search.get_or_insert_with(Default::default).vector_store_ids.extend(made);
    }
}

fn not_found(id: &str) -> Status {
    ServiceError::not_found("assistant", id).into()
}

#[tonic::async_trait]
impl pb::assistant_service_server::AssistantService for AssistantsService {
    async fn create_assistant(
        &self,
        request: Request<pb::CreateAssistantRequest>,
    ) -> Result<Response<pb::Assistant>, Status> {
        let project = Project::of(&request)?;
        let caller = request.metadata().clone();
        let pb::CreateAssistantRequest { assistant } = request.into_inner();
        let mut fields = assistant.unwrap_or_default();
        let helpers = VectorStoreRefs::take_helpers(&mut fields.tool_resources, "tool_resources")?;
        let patch = convert::patch_from_pb(fields, None)?;
        let mut assistant = patch.create(AssistantId::generate().into_string(), time::now_secs())?;
        if let Some(r) = &assistant.tool_resources {
            self.files.check(&caller, &r.file_refs("tool_resources")).await?;
            self.vector_stores.check(&caller, &project, &r.vector_store_refs("tool_resources")).await?;
        }
        add_made(&mut assistant.tool_resources, self.vector_stores.make(&caller, &project, helpers).await?);
        self.store.insert(&project, &assistant).await?;
        Ok(Response::new(assistant.into()))
    }

    async fn list_assistants(
        &self,
        request: Request<pb::ListAssistantsRequest>,
    ) -> Result<Response<pb::ListAssistantsResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::ListAssistantsRequest { page } = request.into_inner();
        let page = PageRequest::from_pb(page, 20, 100)?.cursors_of::<AssistantId>()?;
        let result = self.store.list(&project, &page).await?;
        let data: Vec<pb::Assistant> = result.data.into_iter().map(Into::into).collect();
        Ok(Response::new(pb::ListAssistantsResponse {
            first_id: data.first().map(|a| a.id.clone()),
            last_id: data.last().map(|a| a.id.clone()),
            has_more: result.has_more,
            data,
        }))
    }

    async fn get_assistant(
        &self,
        request: Request<pb::GetAssistantRequest>,
    ) -> Result<Response<pb::Assistant>, Status> {
        let project = Project::of(&request)?;
        let id = request.into_inner().assistant_id;
        let a = self.store.get(&project, &id).await?.ok_or_else(|| not_found(&id))?;
        Ok(Response::new(a.into()))
    }

    async fn modify_assistant(
        &self,
        request: Request<pb::ModifyAssistantRequest>,
    ) -> Result<Response<pb::Assistant>, Status> {
        let project = Project::of(&request)?;
        let caller = request.metadata().clone();
        let pb::ModifyAssistantRequest { assistant_id, assistant, update_mask } = request.into_inner();
        let paths = update_mask.map(|m| m.paths).unwrap_or_default();
        let mut fields = assistant.unwrap_or_default();
        let helpers = VectorStoreRefs::take_helpers(&mut fields.tool_resources, "tool_resources")?;
        let patch = convert::patch_from_pb(fields, Some(&paths))?;
        if patch.model.is_none() && paths.iter().any(|p| p == "model") {
            return Err(
                ServiceError::invalid("model", "Invalid 'model': expected a string, but got null instead.").into()
            );
        }
        patch.validate()?;
        let mut a = self.store.get(&project, &assistant_id).await?.ok_or_else(|| not_found(&assistant_id))?;
        let checks_files = patch.tool_resources.is_some();
        patch.apply_to(&mut a);
        if checks_files && let Some(r) = &a.tool_resources {
            self.files.check(&caller, &r.file_refs("tool_resources")).await?;
            self.vector_stores.check(&caller, &project, &r.vector_store_refs("tool_resources")).await?;
        }
        add_made(&mut a.tool_resources, self.vector_stores.make(&caller, &project, helpers).await?);
        self.store.update(&project, &a).await?;
        Ok(Response::new(a.into()))
    }

    async fn delete_assistant(
        &self,
        request: Request<pb::DeleteAssistantRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let project = Project::of(&request)?;
        let id = request.into_inner().assistant_id;
        if !self.store.delete(&project, &id).await? {
            return Err(not_found(&id));
        }
        Ok(Response::new(pb::DeleteResponse { id, deleted: true }))
    }
}

#[cfg(test)]
mod tests;
