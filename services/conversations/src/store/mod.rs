//! Storage of conversations and their items. Every query is scoped to the project,
//! so another project's conversation is indistinguishable from a missing one. Items
//! are ordered by `position`, which one `UPDATE` of the conversation's
//! `next_position` hands out: appends to one conversation from any replica queue on
//! that row and never share or skip a position.

pub mod entity;

use assistd_common::items::Item;
use assistd_common::json::{from_column as from_json, to_column as to_json};
use assistd_common::page::{Order, Page, PageRequest};
use assistd_common::{Project, ServiceError, ServiceResult};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    TransactionTrait,
};

use crate::domain::Conversation;
use entity::{conversation, item};

/// The conversations tables.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
}

impl TryFrom<conversation::Model> for Conversation {
    type Error = ServiceError;

    fn try_from(m: conversation::Model) -> ServiceResult<Self> {
        let conversation::Model { id, project_id: _, created_at, metadata, next_position: _ } = m;
        Ok(Conversation { id, created_at, metadata: from_json(&metadata)? })
    }
}

fn conversations(project: &Project) -> Select<conversation::Entity> {
    conversation::Entity::find().filter(conversation::Column::ProjectId.eq(project.id()))
}

fn items(project: &Project, conversation_id: &str) -> Select<item::Entity> {
    item::Entity::find()
        .filter(item::Column::ProjectId.eq(project.id()))
        .filter(item::Column::ConversationId.eq(conversation_id))
}

impl Store {
    /// Storage on `db` (migrated).
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Inserts a new conversation with its first items (ids assigned), at once.
    pub async fn insert(&self, project: &Project, c: &Conversation, first: &[Item]) -> ServiceResult<()> {
        let tx = self.db.begin().await?;
        let row = conversation::ActiveModel {
            id: sea_orm::Set(c.id.clone()),
            project_id: sea_orm::Set(project.id().to_owned()),
            created_at: sea_orm::Set(c.created_at),
            metadata: sea_orm::Set(to_json(&c.metadata)),
            next_position: sea_orm::Set(first.len() as i64),
        };
        conversation::Entity::insert(row).exec_without_returning(&tx).await?;
        insert_items(&tx, project, &c.id, 0, c.created_at, first).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The conversation, if it exists in the project.
    pub async fn get(&self, project: &Project, id: &str) -> ServiceResult<Option<Conversation>> {
        conversations(project)
            .filter(conversation::Column::Id.eq(id))
            .one(&self.db)
            .await?
            .map(Conversation::try_from)
            .transpose()
    }

    /// Replaces the metadata; false when there is no such conversation.
    pub async fn set_metadata(&self, project: &Project, c: &Conversation) -> ServiceResult<bool> {
        let res = conversation::Entity::update_many()
            .col_expr(conversation::Column::Metadata, Expr::value(to_json(&c.metadata)))
            .filter(conversation::Column::ProjectId.eq(project.id()))
            .filter(conversation::Column::Id.eq(c.id.as_str()))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// Deletes the conversation and its items; false when there was none.
    pub async fn delete(&self, project: &Project, id: &str) -> ServiceResult<bool> {
        let tx = self.db.begin().await?;
        let res = conversation::Entity::delete_many()
            .filter(conversation::Column::ProjectId.eq(project.id()))
            .filter(conversation::Column::Id.eq(id))
            .exec(&tx)
            .await?;
        item::Entity::delete_many()
            .filter(item::Column::ProjectId.eq(project.id()))
            .filter(item::Column::ConversationId.eq(id))
            .exec(&tx)
            .await?;
        tx.commit().await?;
        Ok(res.rows_affected > 0)
    }

    /// Appends `new` (ids assigned) after the conversation's last item; false when
    /// there is no such conversation.
    pub async fn append(&self, project: &Project, id: &str, now: i64, new: &[Item]) -> ServiceResult<bool> {
        let tx = self.db.begin().await?;
        let n = new.len() as i64;
        let res = conversation::Entity::update_many()
            .col_expr(conversation::Column::NextPosition, Expr::col(conversation::Column::NextPosition).add(n))
            .filter(conversation::Column::ProjectId.eq(project.id()))
            .filter(conversation::Column::Id.eq(id))
            .exec(&tx)
            .await?;
        if res.rows_affected == 0 {
            return Ok(false);
        }
        let next: i64 = conversations(project)
            .filter(conversation::Column::Id.eq(id))
            .select_only()
            .column(conversation::Column::NextPosition)
            .into_tuple()
            .one(&tx)
            .await?
            .ok_or_else(|| ServiceError::internal("append", "conversation vanished in its transaction"))?;
        insert_items(&tx, project, id, next - n, now, new).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A page of the conversation's items in position order. `after`/`before` are
    /// item ids of this conversation; `None` when one names no item here.
    pub async fn list_items(
        &self,
        project: &Project,
        id: &str,
        page: &PageRequest,
    ) -> ServiceResult<Option<Page<Item>>> {
        let mut select = items(project, id);
        let asc = page.order == Order::Asc;
        let reversed = page.before.is_some() && page.after.is_none();
        for (cursor, forward) in [(&page.after, true), (&page.before, false)] {
            let Some(cursor) = cursor else { continue };
            let Some(pos) = self.position(project, id, cursor).await? else { return Ok(None) };
            select = select.filter(if asc == forward {
                item::Column::Position.gt(pos)
            } else {
                item::Column::Position.lt(pos)
            });
        }
        let scan_asc = asc != reversed;
        select = if scan_asc {
            select.order_by_asc(item::Column::Position)
        } else {
            select.order_by_desc(item::Column::Position)
        };
        let rows = select.limit(page.limit + 1).all(&self.db).await?;
        let rows = rows.into_iter().map(|r| from_json::<Item>(&r.body)).collect::<ServiceResult<Vec<_>>>()?;
        Ok(Some(page.finish(rows)))
    }

    /// Every item of the conversation, oldest first (a response's context).
    pub async fn all_items(&self, project: &Project, id: &str) -> ServiceResult<Vec<Item>> {
        let rows = items(project, id).order_by_asc(item::Column::Position).all(&self.db).await?;
        rows.into_iter().map(|r| from_json::<Item>(&r.body)).collect()
    }

    async fn position(&self, project: &Project, id: &str, item_id: &str) -> ServiceResult<Option<i64>> {
        Ok(items(project, id)
            .filter(item::Column::Id.eq(item_id))
            .select_only()
            .column(item::Column::Position)
            .into_tuple()
            .one(&self.db)
            .await?)
    }

    /// One item of the conversation.
    pub async fn get_item(&self, project: &Project, id: &str, item_id: &str) -> ServiceResult<Option<Item>> {
        items(project, id)
            .filter(item::Column::Id.eq(item_id))
            .one(&self.db)
            .await?
            .map(|r| from_json::<Item>(&r.body))
            .transpose()
    }

    /// Deletes one item; false when there was none.
    pub async fn delete_item(&self, project: &Project, id: &str, item_id: &str) -> ServiceResult<bool> {
        let res = item::Entity::delete_many()
            .filter(item::Column::ProjectId.eq(project.id()))
            .filter(item::Column::ConversationId.eq(id))
            .filter(item::Column::Id.eq(item_id))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected > 0)
    }
}

async fn insert_items(
    db: &impl ConnectionTrait,
    project: &Project,
    conversation_id: &str,
    first_position: i64,
    now: i64,
    new: &[Item],
) -> ServiceResult<()> {
    if new.is_empty() {
        return Ok(());
    }
    let rows = new.iter().enumerate().map(|(i, it)| item::ActiveModel {
        id: sea_orm::Set(it.id().to_owned()),
        project_id: sea_orm::Set(project.id().to_owned()),
        conversation_id: sea_orm::Set(conversation_id.to_owned()),
        position: sea_orm::Set(first_position + i as i64),
        created_at: sea_orm::Set(now),
        body: sea_orm::Set(to_json(it)),
    });
    match item::Entity::insert_many(rows).exec_without_returning(db).await {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
            Err(ServiceError::invalid(
                "items",
                "An item with one of these ids already exists; leave 'id' out to get a new one.",
            )
            .with_code("duplicate_item_id"))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests;
