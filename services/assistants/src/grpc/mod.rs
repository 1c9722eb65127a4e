//! The tonic implementation of `AssistantService`: proto in, an operation of
//! [`Assistants`], proto out.

pub mod convert;

use assistd_common::Project;
use assistd_common::caller::Caller;
use assistd_common::ids::AssistantId;
use assistd_common::page::PageRequest;
use assistd_proto::pb;
use tonic::{Request, Response, Status};

use crate::ops::Assistants;

/// The assistants service.
#[derive(Clone)]
pub struct AssistantsService {
    assistants: Assistants,
}

impl AssistantsService {
    /// The gRPC face of `assistants`.
    pub fn new(assistants: Assistants) -> Self {
        Self { assistants }
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> pb::assistant_service_server::AssistantServiceServer<Self> {
        pb::assistant_service_server::AssistantServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl pb::assistant_service_server::AssistantService for AssistantsService {
    async fn create_assistant(
        &self,
        request: Request<pb::CreateAssistantRequest>,
    ) -> Result<Response<pb::Assistant>, Status> {
        let caller = Caller::of(Project::of(&request)?, request.metadata());
        let pb::CreateAssistantRequest { assistant } = request.into_inner();
        let patch = convert::patch_from_pb(assistant.unwrap_or_default(), None)?;
        Ok(Response::new(self.assistants.create(&caller, patch).await?.into()))
    }

    async fn list_assistants(
        &self,
        request: Request<pb::ListAssistantsRequest>,
    ) -> Result<Response<pb::ListAssistantsResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::ListAssistantsRequest { page } = request.into_inner();
        let page = PageRequest::from_pb(page, 20, 100)?.cursors_of::<AssistantId>()?;
        let result = self.assistants.list(&project, &page).await?;
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
        Ok(Response::new(self.assistants.get(&project, &id).await?.into()))
    }

    async fn modify_assistant(
        &self,
        request: Request<pb::ModifyAssistantRequest>,
    ) -> Result<Response<pb::Assistant>, Status> {
        let caller = Caller::of(Project::of(&request)?, request.metadata());
        let pb::ModifyAssistantRequest { assistant_id, assistant, update_mask } = request.into_inner();
        let paths = update_mask.map(|m| m.paths).unwrap_or_default();
        let patch = convert::patch_from_pb(assistant.unwrap_or_default(), Some(&paths))?;
        Ok(Response::new(self.assistants.modify(&caller, &assistant_id, patch).await?.into()))
    }

    async fn delete_assistant(
        &self,
        request: Request<pb::DeleteAssistantRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let project = Project::of(&request)?;
        let id = request.into_inner().assistant_id;
        self.assistants.delete(&project, &id).await?;
        Ok(Response::new(pb::DeleteResponse { id, deleted: true }))
    }
}

#[cfg(test)]
mod tests;
