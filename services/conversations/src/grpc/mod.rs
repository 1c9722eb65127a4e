//! The tonic implementation of `ConversationService`: proto in, an operation of
//! [`Conversations`], proto out.

pub mod convert;

use assistd_common::Project;
use assistd_common::items::items_from_pb;
use assistd_common::page::PageRequest;
use assistd_proto::pb;
use tonic::{Request, Response, Status};

use crate::ops::Conversations;

/// The conversations service.
#[derive(Clone)]
pub struct ConversationsService {
    conversations: Conversations,
}

impl ConversationsService {
    /// The gRPC face of `conversations`.
    pub fn new(conversations: Conversations) -> Self {
        Self { conversations }
    }

    /// The operations behind it.
    pub fn ops(&self) -> &Conversations {
        &self.conversations
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> pb::conversation_service_server::ConversationServiceServer<Self> {
        pb::conversation_service_server::ConversationServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl pb::conversation_service_server::ConversationService for ConversationsService {
    async fn create_conversation(
        &self,
        request: Request<pb::CreateConversationRequest>,
    ) -> Result<Response<pb::Conversation>, Status> {
        let project = Project::of(&request)?;
        let pb::CreateConversationRequest { metadata, items } = request.into_inner();
        let items = items_from_pb(items, "items")?;
        let c = self.conversations.create(&project, convert::metadata(metadata), items).await?;
        Ok(Response::new(c.into()))
    }

    async fn get_conversation(
        &self,
        request: Request<pb::GetConversationRequest>,
    ) -> Result<Response<pb::Conversation>, Status> {
        let project = Project::of(&request)?;
        let id = request.into_inner().conversation_id;
        Ok(Response::new(self.conversations.get(&project, &id).await?.into()))
    }

    async fn update_conversation(
        &self,
        request: Request<pb::UpdateConversationRequest>,
    ) -> Result<Response<pb::Conversation>, Status> {
        let project = Project::of(&request)?;
        let pb::UpdateConversationRequest { conversation_id, metadata } = request.into_inner();
        let c = self.conversations.update(&project, &conversation_id, convert::metadata(metadata)).await?;
        Ok(Response::new(c.into()))
    }

    async fn delete_conversation(
        &self,
        request: Request<pb::DeleteConversationRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let project = Project::of(&request)?;
        let id = request.into_inner().conversation_id;
        self.conversations.delete(&project, &id).await?;
        Ok(Response::new(pb::DeleteResponse { id, deleted: true }))
    }

    async fn create_items(&self, request: Request<pb::CreateItemsRequest>) -> Result<Response<pb::ItemList>, Status> {
        let project = Project::of(&request)?;
        let pb::CreateItemsRequest { conversation_id, items, include } = request.into_inner();
        let items = items_from_pb(items, "items")?;
        let kept = self.conversations.append(&project, &conversation_id, items, &include).await?;
        Ok(Response::new(convert::item_list(kept, false)))
    }

    async fn list_items(&self, request: Request<pb::ListItemsRequest>) -> Result<Response<pb::ItemList>, Status> {
        let project = Project::of(&request)?;
        let pb::ListItemsRequest { conversation_id, page, include } = request.into_inner();
        let page = PageRequest::from_pb(page, 20, 100)?;
        let result = self.conversations.list_items(&project, &conversation_id, &page, &include).await?;
        Ok(Response::new(convert::item_list(result.data, result.has_more)))
    }

    async fn get_item(&self, request: Request<pb::GetItemRequest>) -> Result<Response<pb::Item>, Status> {
        let project = Project::of(&request)?;
        let pb::GetItemRequest { conversation_id, item_id, include } = request.into_inner();
        let item = self.conversations.get_item(&project, &conversation_id, &item_id, &include).await?;
        Ok(Response::new(item.into()))
    }

    async fn delete_item(&self, request: Request<pb::DeleteItemRequest>) -> Result<Response<pb::Conversation>, Status> {
        let project = Project::of(&request)?;
        let pb::DeleteItemRequest { conversation_id, item_id } = request.into_inner();
        Ok(Response::new(self.conversations.delete_item(&project, &conversation_id, &item_id).await?.into()))
    }
}

#[cfg(test)]
mod tests;
