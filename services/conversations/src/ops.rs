//! The operations of the conversations API on domain values: what the gRPC adapter
//! calls. Each checks the request's rules, then reads or writes the store.

use assistd_common::ids::ConversationId;
use assistd_common::items::{Item, validate_include};
use assistd_common::metadata::{self, Metadata};
use assistd_common::page::{Page, PageRequest};
use assistd_common::{Project, ServiceError, ServiceResult, time};

use crate::domain::{Conversation, MAX_ITEMS_PER_APPEND};
use crate::store::Store;

/// The conversations of every project.
#[derive(Clone)]
pub struct Conversations {
    store: Store,
}

impl Conversations {
    /// Conversations in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Creates a conversation with `metadata` and its first `items` (checked already).
    pub async fn create(&self, project: &Project, metadata: Metadata, items: Vec<Item>) -> ServiceResult<Conversation> {
        metadata::validate("metadata", &metadata)?;
        let items = keepable(items, "items")?;
        let c = Conversation { id: ConversationId::generate().into_string(), created_at: time::now_secs(), metadata };
        self.store.insert(project, &c, &items).await?;
        Ok(c)
    }

    /// The conversation `id`.
    pub async fn get(&self, project: &Project, id: &str) -> ServiceResult<Conversation> {
        self.store.get(project, id).await?.ok_or_else(|| not_found(id))
    }

    /// Replaces the metadata of conversation `id`.
    pub async fn update(&self, project: &Project, id: &str, metadata: Metadata) -> ServiceResult<Conversation> {
        metadata::validate("metadata", &metadata)?;
        let mut c = self.get(project, id).await?;
        c.metadata = metadata;
        if !self.store.set_metadata(project, &c).await? {
            return Err(not_found(id));
        }
        Ok(c)
    }

    /// Deletes conversation `id` and its items.
    pub async fn delete(&self, project: &Project, id: &str) -> ServiceResult<()> {
        if self.store.delete(project, id).await? { Ok(()) } else { Err(not_found(id)) }
    }

    /// Appends `items` (checked already) and answers them as kept, shown with `include`.
    pub async fn append(
        &self,
        project: &Project,
        id: &str,
        items: Vec<Item>,
        include: &[String],
    ) -> ServiceResult<Vec<Item>> {
        validate_include(include)?;
        let items = keepable(items, "items")?;
        if !self.store.append(project, id, time::now_secs(), &items).await? {
            return Err(not_found(id));
        }
        Ok(items.into_iter().map(|it| it.shown(include)).collect())
    }

    /// A page of the conversation's items, shown with `include`.
    pub async fn list_items(
        &self,
        project: &Project,
        id: &str,
        page: &PageRequest,
        include: &[String],
    ) -> ServiceResult<Page<Item>> {
        validate_include(include)?;
        self.get(project, id).await?;
        let Some(mut page_of) = self.store.list_items(project, id, page).await? else {
            let (param, cursor) = match &page.after {
                Some(a) => ("after", a.as_str()),
                None => ("before", page.before.as_deref().unwrap_or_default()),
            };
            return Err(ServiceError::invalid(
                param,
                format!("Invalid '{param}': no item with id '{cursor}' in conversation '{id}'."),
            ));
        };
        page_of.data = page_of.data.into_iter().map(|it| it.shown(include)).collect();
        Ok(page_of)
    }

    /// Every item of the conversation, oldest first, as kept (a response's context).
    pub async fn all_items(&self, project: &Project, id: &str) -> ServiceResult<Vec<Item>> {
        self.get(project, id).await?;
        self.store.all_items(project, id).await
    }

    /// One item, shown with `include`.
    pub async fn get_item(
        &self,
        project: &Project,
        id: &str,
        item_id: &str,
        include: &[String],
    ) -> ServiceResult<Item> {
        validate_include(include)?;
        self.get(project, id).await?;
        let item = self.store.get_item(project, id, item_id).await?;
        Ok(item.ok_or_else(|| ServiceError::not_found("item", item_id))?.shown(include))
    }

    /// Deletes one item and answers the conversation.
    pub async fn delete_item(&self, project: &Project, id: &str, item_id: &str) -> ServiceResult<Conversation> {
        let c = self.get(project, id).await?;
        if !self.store.delete_item(project, id, item_id).await? {
            return Err(ServiceError::not_found("item", item_id));
        }
        Ok(c)
    }
}

/// Items as a conversation keeps them: within the limit, no references (an item is
/// kept by value), each with an id (its own when it has one of its kind).
fn keepable(mut items: Vec<Item>, field: &str) -> ServiceResult<Vec<Item>> {
    if items.len() > MAX_ITEMS_PER_APPEND {
        return Err(ServiceError::invalid(
            field,
            format!(
                "Invalid '{field}': array too long. Expected an array with maximum length {MAX_ITEMS_PER_APPEND}, but got an array with length {} instead.",
                items.len()
            ),
        ));
    }
    for (i, it) in items.iter_mut().enumerate() {
        if let Item::ItemReference(_) = it {
            return Err(ServiceError::invalid(
                format!("{field}[{i}]"),
                format!(
                    "Invalid '{field}[{i}]': a conversation keeps items by value; an item_reference cannot be added to it."
                ),
            ));
        }
        it.ensure_id();
    }
    Ok(items)
}

fn not_found(id: &str) -> ServiceError {
    ServiceError::not_found("conversation", id)
}
