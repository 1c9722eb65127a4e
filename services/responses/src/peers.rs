//! The responses service's client of the conversations service: a conversation's items
//! are a response's context, and a response appends its input and output to them.

use assistd_common::caller::Caller;
use assistd_common::channel::GrpcChannel;
use assistd_common::items::Item;
use assistd_common::{ServiceError, ServiceResult};
use assistd_proto::pb;
use assistd_proto::pb::conversation_service_client::ConversationServiceClient;
use tonic::metadata::MetadataValue;

/// Most items one page of the conversation brings.
const PAGE: u32 = 100;

/// A client of ConversationService acting for a [`Caller`].
#[derive(Clone)]
pub struct ConversationPeer {
    client: ConversationServiceClient<GrpcChannel>,
    internal: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl ConversationPeer {
    /// A client over `channel`; `internal` authenticates calls made for no client.
    pub fn new(channel: GrpcChannel, internal: Option<MetadataValue<tonic::metadata::Ascii>>) -> Self {
        let max = assistd_common::channel::MAX_GRPC_MESSAGE;
        Self {
            client: ConversationServiceClient::new(channel)
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
            internal,
        }
    }

    /// Every item of conversation `id`, oldest first (a 404 naming `conversation`
    /// when the caller has no such conversation).
    pub async fn items(&self, caller: &Caller, id: &str) -> ServiceResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let req = pb::ListItemsRequest {
                conversation_id: id.to_owned(),
                page: Some(pb::ListParams {
                    limit: Some(PAGE),
                    order: pb::Order::Asc as i32,
                    after: after.clone(),
                    before: None,
                }),
                include: vec!["file_search_call.results".into(), "code_interpreter_call.outputs".into()],
            };
            let page = self.client.clone().list_items(caller.request(req, self.internal.as_ref())).await.map_err(
                |s| match s.code() {
                    tonic::Code::NotFound => ServiceError::new(
                        assistd_common::error::ErrorKind::NotFound,
                        format!("Conversation with id '{id}' not found."),
                    )
                    .with_param("conversation"),
                    _ => ServiceError::from_status(&s),
                },
            )?;
            let page = page.into_inner();
            after = page.last_id.clone();
            for item in page.data {
                out.push(Item::try_from(item).map_err(|e| ServiceError::internal("conversation item", e.message))?);
            }
            if !page.has_more || after.is_none() {
                return Ok(out);
            }
        }
    }

    /// Appends `items` to conversation `id`.
    pub async fn append(&self, caller: &Caller, id: &str, items: Vec<Item>) -> ServiceResult<()> {
        let req = pb::CreateItemsRequest {
            conversation_id: id.to_owned(),
            items: items.into_iter().map(Into::into).collect(),
            include: vec![],
        };
        self.client
            .clone()
            .create_items(caller.request(req, self.internal.as_ref()))
            .await
            .map_err(|s| ServiceError::from_status(&s))?;
        Ok(())
    }
}

/// A client of VectorStoreService acting for a [`Caller`]: the file_search tool's searches.
#[derive(Clone)]
pub struct VectorStorePeer {
    client: pb::vector_store_service_client::VectorStoreServiceClient<GrpcChannel>,
    internal: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl VectorStorePeer {
    /// A client over `channel`.
    pub fn new(channel: GrpcChannel, internal: Option<MetadataValue<tonic::metadata::Ascii>>) -> Self {
        let max = assistd_common::channel::MAX_GRPC_MESSAGE;
        Self {
            client: pb::vector_store_service_client::VectorStoreServiceClient::new(channel)
                .max_decoding_message_size(max),
            internal,
        }
    }

    /// The vector store `id` (a 404 when the caller has none).
    pub async fn store(&self, caller: &Caller, id: &str) -> ServiceResult<pb::VectorStore> {
        let req = caller.request(pb::GetVectorStoreRequest { vector_store_id: id.to_owned() }, self.internal.as_ref());
        Ok(self.client.clone().get_vector_store(req).await.map_err(|s| ServiceError::from_status(&s))?.into_inner())
    }

    /// One search.
    pub async fn search(
        &self,
        caller: &Caller,
        request: pb::SearchVectorStoreRequest,
    ) -> ServiceResult<pb::SearchVectorStoreResponse> {
        let req = caller.request(request, self.internal.as_ref());
        Ok(self.client.clone().search_vector_store(req).await.map_err(|s| ServiceError::from_status(&s))?.into_inner())
    }
}
