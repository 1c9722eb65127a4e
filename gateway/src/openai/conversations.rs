//! Conversation and item JSON (`docs/spec/responses-openapi.yaml`). Items are read
//! straight into `assistd_common::items::Item` (whose serde form is OpenAI's) and
//! answered from it.

use std::collections::BTreeMap;

use assistd_common::items::{Item, MAX_ITEMS_PER_REQUEST};
use assistd_proto::pb;
use serde::{Deserialize, Serialize};

use super::common::{MetadataIn, double_option, metadata_from_pb, metadata_to_pb};
use crate::errors::{ApiError, ApiResult};

/// `CreateConversationBody`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationIn {
    #[serde(default)]
    pub metadata: MetadataIn,
    #[serde(default, deserialize_with = "double_option")]
    pub items: Option<Option<Vec<Item>>>,
}

impl ConversationIn {
    /// The create request.
    pub fn into_pb(self) -> ApiResult<pb::CreateConversationRequest> {
        let items = self.items.flatten().unwrap_or_default();
        check_count(&items, "items")?;
        Ok(pb::CreateConversationRequest {
            metadata: Some(metadata_to_pb(self.metadata)),
            items: items.into_iter().map(Into::into).collect(),
        })
    }
}

/// `UpdateConversationBody`: `metadata` required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationUpdateIn {
    pub metadata: MetadataIn,
}

/// The body of `POST /v1/conversations/{id}/items`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemsIn {
    pub items: Vec<Item>,
}

impl ItemsIn {
    /// The items as proto, within OpenAI's limit per request.
    pub fn into_pb(self) -> ApiResult<Vec<pb::Item>> {
        check_count(&self.items, "items")?;
        Ok(self.items.into_iter().map(Into::into).collect())
    }
}

fn check_count(items: &[Item], param: &str) -> ApiResult<()> {
    if items.len() > MAX_ITEMS_PER_REQUEST {
        return Err(ApiError::invalid(
            param,
            format!(
                "Invalid '{param}': array too long. Expected an array with maximum length {MAX_ITEMS_PER_REQUEST}, but got an array with length {} instead.",
                items.len()
            ),
        )
        .with_code("array_above_max_length"));
    }
    Ok(())
}

/// `ConversationResource`.
#[derive(Debug, Serialize)]
pub struct ConversationOut {
    /// `conv_…`.
    pub id: String,
    /// Always `conversation`.
    pub object: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    /// `{}` when none.
    pub metadata: BTreeMap<String, String>,
}

impl From<pb::Conversation> for ConversationOut {
    fn from(c: pb::Conversation) -> Self {
        let pb::Conversation { id, created_at, metadata } = c;
        ConversationOut { id, object: "conversation", created_at, metadata: metadata_from_pb(metadata) }
    }
}

/// An item from a service reply, as answered.
pub fn item_out(item: pb::Item) -> ApiResult<Item> {
    Item::try_from(item).map_err(|e| {
        tracing::error!(error = %e.message, "an item a service answered does not convert");
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "The server had an error while processing your request.",
        )
    })
}

/// `ConversationItemList` (and `ResponseItemList`).
#[derive(Debug, Serialize)]
pub struct ItemListOut {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<Item>,
    pub first_id: Option<String>,
    pub last_id: Option<String>,
    pub has_more: bool,
}

impl TryFrom<pb::ItemList> for ItemListOut {
    type Error = ApiError;

    fn try_from(l: pb::ItemList) -> ApiResult<Self> {
        let pb::ItemList { data, first_id, last_id, has_more } = l;
        Ok(ItemListOut {
            object: "list",
            data: data.into_iter().map(item_out).collect::<ApiResult<_>>()?,
            first_id,
            last_id,
            has_more,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json;

    #[test]
    fn create_body_reads_items_and_limits_them() {
        let body: ConversationIn = parse_json(
            br#"{"metadata": {"topic": "demo"}, "items": [{"type": "message", "role": "user", "content": "Hello!"}]}"#,
        )
        .unwrap();
        let req = body.into_pb().unwrap();
        assert_eq!(req.items.len(), 1);
        let many = serde_json::json!({"items": vec![serde_json::json!({"role": "user", "content": "x"}); 21]});
        let err = parse_json::<ConversationIn>(many.to_string().as_bytes()).unwrap().into_pb().unwrap_err();
        assert_eq!(err.param.as_deref(), Some("items"));
        let err =
            parse_json::<ConversationIn>(br#"{"items": [{"type": "web_search_call", "id": "ws_1"}]}"#).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("items[0]"), "{err:?}");
        let err = parse_json::<ConversationIn>(br#"{"title": "x"}"#).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("title"));
    }
}
