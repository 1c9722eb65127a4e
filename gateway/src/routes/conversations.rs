//! `/v1/conversations` ↔ `ConversationService`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;

use super::{grpc_request, status_error};
use crate::Upstreams;
use crate::errors::ApiResult;
use crate::extract::{IncludeQuery, JsonBody, ListQuery};
use crate::openai::common::{DeletedOut, metadata_to_pb};
use crate::openai::conversations::{
    ConversationIn, ConversationOut, ConversationUpdateIn, ItemListOut, ItemsIn, item_out,
};
use assistd_common::items::Item;
use assistd_proto::pb;

/// POST /v1/conversations
pub async fn create(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ConversationIn>,
) -> ApiResult<Json<ConversationOut>> {
    let req = body.into_pb()?;
    let c = up
        .conversations()?
        .create_conversation(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/conversations"))?;
    Ok(Json(c.into_inner().into()))
}

/// GET /v1/conversations/{conversation_id}
pub async fn retrieve(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(conversation_id): Path<String>,
) -> ApiResult<Json<ConversationOut>> {
    let req = pb::GetConversationRequest { conversation_id };
    let c = up
        .conversations()?
        .get_conversation(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/conversations/{conversation_id}"))?;
    Ok(Json(c.into_inner().into()))
}

/// POST /v1/conversations/{conversation_id}
pub async fn update(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(conversation_id): Path<String>,
    JsonBody(body): JsonBody<ConversationUpdateIn>,
) -> ApiResult<Json<ConversationOut>> {
    let req = pb::UpdateConversationRequest { conversation_id, metadata: Some(metadata_to_pb(body.metadata)) };
    let c = up
        .conversations()?
        .update_conversation(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/conversations/{conversation_id}"))?;
    Ok(Json(c.into_inner().into()))
}

/// DELETE /v1/conversations/{conversation_id}
pub async fn delete(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(conversation_id): Path<String>,
) -> ApiResult<Json<DeletedOut>> {
    let req = pb::DeleteConversationRequest { conversation_id };
    let r = up
        .conversations()?
        .delete_conversation(grpc_request(&headers, req))
        .await
        .map_err(status_error("DELETE /v1/conversations/{conversation_id}"))?;
    Ok(Json(DeletedOut::new(r.into_inner(), "conversation.deleted")))
}

/// POST /v1/conversations/{conversation_id}/items
pub async fn create_items(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(conversation_id): Path<String>,
    IncludeQuery(include): IncludeQuery,
    JsonBody(body): JsonBody<ItemsIn>,
) -> ApiResult<Json<ItemListOut>> {
    let req = pb::CreateItemsRequest { conversation_id, items: body.into_pb()?, include };
    let r = up
        .conversations()?
        .create_items(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/conversations/{conversation_id}/items"))?;
    Ok(Json(r.into_inner().try_into()?))
}

/// GET /v1/conversations/{conversation_id}/items
pub async fn list_items(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(conversation_id): Path<String>,
    q: ListQuery,
) -> ApiResult<Json<ItemListOut>> {
    let include = q.include();
    let req = pb::ListItemsRequest { conversation_id, page: Some(q.page), include };
    let r = up
        .conversations()?
        .list_items(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/conversations/{conversation_id}/items"))?;
    Ok(Json(r.into_inner().try_into()?))
}

/// GET /v1/conversations/{conversation_id}/items/{item_id}
pub async fn retrieve_item(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path((conversation_id, item_id)): Path<(String, String)>,
    IncludeQuery(include): IncludeQuery,
) -> ApiResult<Json<Item>> {
    let req = pb::GetItemRequest { conversation_id, item_id, include };
    let r = up
        .conversations()?
        .get_item(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/conversations/{conversation_id}/items/{item_id}"))?;
    Ok(Json(item_out(r.into_inner())?))
}

/// DELETE /v1/conversations/{conversation_id}/items/{item_id}
pub async fn delete_item(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path((conversation_id, item_id)): Path<(String, String)>,
) -> ApiResult<Json<ConversationOut>> {
    let req = pb::DeleteItemRequest { conversation_id, item_id };
    let c = up
        .conversations()?
        .delete_item(grpc_request(&headers, req))
        .await
        .map_err(status_error("DELETE /v1/conversations/{conversation_id}/items/{item_id}"))?;
    Ok(Json(c.into_inner().into()))
}
