//! Proto ⇄ domain conversions of the conversations service.

use assistd_proto::pb;

use crate::domain::Conversation;

impl From<Conversation> for pb::Conversation {
    fn from(c: Conversation) -> Self {
        let Conversation { id, created_at, metadata } = c;
        pb::Conversation { id, created_at, metadata: Some(pb::Metadata { entries: metadata.into_iter().collect() }) }
    }
}

/// A page of items as the proto list.
pub fn item_list(data: Vec<assistd_common::items::Item>, has_more: bool) -> pb::ItemList {
    let data: Vec<pb::Item> = data.into_iter().map(Into::into).collect();
    pb::ItemList {
        first_id: data.first().map(|i| i.id.clone()),
        last_id: data.last().map(|i| i.id.clone()),
        has_more,
        data,
    }
}

/// Metadata pairs from the proto.
pub fn metadata(m: Option<pb::Metadata>) -> assistd_common::metadata::Metadata {
    m.map(|m| m.entries.into_iter().collect()).unwrap_or_default()
}
