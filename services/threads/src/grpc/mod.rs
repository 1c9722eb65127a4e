//! The tonic implementation of `ThreadService`: proto in, an operation of
//! [`Threads`], proto out.

pub mod convert;

use assistd_common::Project;
use assistd_common::caller::Caller;
use assistd_common::ids::MessageId;
use assistd_common::metadata::Metadata;
use assistd_common::page::{Page, PageRequest};
use assistd_proto::pb;
use tonic::{Request, Response, Status};

use crate::ops::{NewRunMessage, NewThread, RunMessageUpdate, ThreadPatch, Threads};

/// The threads service.
#[derive(Clone)]
pub struct ThreadsService {
    threads: Threads,
}

impl ThreadsService {
    /// The gRPC face of `threads`.
    pub fn new(threads: Threads) -> Self {
        Self { threads }
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> pb::thread_service_server::ThreadServiceServer<Self> {
        pb::thread_service_server::ThreadServiceServer::new(self)
    }
}

fn metadata_of(m: Option<pb::Metadata>) -> Metadata {
    m.map(|m| m.entries.into_iter().collect()).unwrap_or_default()
}

fn in_mask(mask: &Option<prost_types::FieldMask>, field: &str) -> bool {
    mask.as_ref().is_some_and(|m| m.paths.iter().any(|p| p == field))
}

fn messages_page(page: Page<crate::domain::Message>) -> pb::ListMessagesResponse {
    let data: Vec<pb::Message> = page.data.into_iter().map(Into::into).collect();
    pb::ListMessagesResponse {
        first_id: data.first().map(|m| m.id.clone()),
        last_id: data.last().map(|m| m.id.clone()),
        has_more: page.has_more,
        data,
    }
}

#[tonic::async_trait]
impl pb::thread_service_server::ThreadService for ThreadsService {
    async fn create_thread(&self, request: Request<pb::CreateThreadRequest>) -> Result<Response<pb::Thread>, Status> {
        let caller = Caller::of(Project::of(&request)?, request.metadata());
        let pb::CreateThreadRequest { messages, tool_resources, metadata } = request.into_inner();
        let new = NewThread {
            tool_resources: convert::thread_tool_resources(tool_resources)?,
            metadata: metadata_of(metadata),
            messages: messages
                .into_iter()
                .enumerate()
                .map(|(i, m)| convert::new_message_from_pb(m, &format!("messages[{i}].")))
                .collect::<Result<_, _>>()?,
        };
        Ok(Response::new(self.threads.create_thread(&caller, new).await?.into()))
    }

    async fn get_thread(&self, request: Request<pb::GetThreadRequest>) -> Result<Response<pb::Thread>, Status> {
        let project = Project::of(&request)?;
        let id = request.into_inner().thread_id;
        Ok(Response::new(self.threads.get_thread(&project, &id).await?.into()))
    }

    async fn modify_thread(&self, request: Request<pb::ModifyThreadRequest>) -> Result<Response<pb::Thread>, Status> {
        let caller = Caller::of(Project::of(&request)?, request.metadata());
        let pb::ModifyThreadRequest { thread_id, tool_resources, metadata, update_mask } = request.into_inner();
        let patch = ThreadPatch {
            metadata: in_mask(&update_mask, "metadata").then(|| metadata_of(metadata)),
            tool_resources: in_mask(&update_mask, "tool_resources")
                .then(|| convert::thread_tool_resources(tool_resources))
                .transpose()?,
        };
        Ok(Response::new(self.threads.modify_thread(&caller, &thread_id, patch).await?.into()))
    }

    async fn delete_thread(
        &self,
        request: Request<pb::DeleteThreadRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let project = Project::of(&request)?;
        let id = request.into_inner().thread_id;
        self.threads.delete_thread(&project, &id).await?;
        Ok(Response::new(pb::DeleteResponse { id, deleted: true }))
    }

    async fn create_message(
        &self,
        request: Request<pb::CreateMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let caller = Caller::of(Project::of(&request)?, request.metadata());
        let pb::CreateMessageRequest { thread_id, message } = request.into_inner();
        let new = convert::new_message_from_pb(message.unwrap_or_default(), "")?;
        Ok(Response::new(self.threads.create_message(&caller, &thread_id, new).await?.into()))
    }

    async fn list_messages(
        &self,
        request: Request<pb::ListMessagesRequest>,
    ) -> Result<Response<pb::ListMessagesResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::ListMessagesRequest { thread_id, page, run_id } = request.into_inner();
        let page = PageRequest::from_pb(page, 20, 100)?.cursors_of::<MessageId>()?;
        let run_id = run_id.as_deref().filter(|r| !r.is_empty());
        Ok(Response::new(messages_page(self.threads.list_messages(&project, &thread_id, run_id, &page).await?)))
    }

    async fn get_message(&self, request: Request<pb::GetMessageRequest>) -> Result<Response<pb::Message>, Status> {
        let project = Project::of(&request)?;
        let pb::GetMessageRequest { thread_id, message_id } = request.into_inner();
        Ok(Response::new(self.threads.get_message(&project, &thread_id, &message_id).await?.into()))
    }

    async fn modify_message(
        &self,
        request: Request<pb::ModifyMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let project = Project::of(&request)?;
        let pb::ModifyMessageRequest { thread_id, message_id, metadata, update_mask } = request.into_inner();
        let metadata = in_mask(&update_mask, "metadata").then(|| metadata_of(metadata));
        Ok(Response::new(self.threads.modify_message(&project, &thread_id, &message_id, metadata).await?.into()))
    }

    async fn delete_message(
        &self,
        request: Request<pb::DeleteMessageRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::DeleteMessageRequest { thread_id, message_id } = request.into_inner();
        self.threads.delete_message(&project, &thread_id, &message_id).await?;
        Ok(Response::new(pb::DeleteResponse { id: message_id, deleted: true }))
    }

    async fn create_run_message(
        &self,
        request: Request<pb::CreateRunMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let project = Project::of(&request)?;
        let pb::CreateRunMessageRequest { thread_id, assistant_id, run_id, message_id, created_at } =
            request.into_inner();
        let new = NewRunMessage { assistant_id, run_id, id: message_id, created_at };
        Ok(Response::new(self.threads.create_run_message(&project, &thread_id, new).await?.into()))
    }

    async fn update_run_message(
        &self,
        request: Request<pb::UpdateRunMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let project = Project::of(&request)?;
        let pb::UpdateRunMessageRequest { thread_id, message_id, status, content, incomplete_reason } =
            request.into_inner();
        let update = RunMessageUpdate {
            status: convert::status_from_pb(status)?,
            content: content.into_iter().map(convert::run_content_from_pb).collect::<Result<_, _>>()?,
            incomplete_reason,
        };
        Ok(Response::new(self.threads.update_run_message(&project, &thread_id, &message_id, update).await?.into()))
    }
}

#[cfg(test)]
mod tests;
