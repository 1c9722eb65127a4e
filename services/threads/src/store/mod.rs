//! The `threads` and `messages` tables, always scoped to a project.

pub mod entity;

use assistd_common::json::{from_column as from_json, to_column as to_json};
use assistd_common::page::{Page, PageRequest};
use assistd_common::{Project, ServiceError, ServiceResult};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, NotSet, QueryFilter, Select,
    TransactionTrait,
};

use crate::domain::{Message, MessageStatus, Role, Thread};
use entity::{message, thread};

impl TryFrom<thread::Model> for Thread {
    type Error = ServiceError;

    fn try_from(m: thread::Model) -> ServiceResult<Self> {
        let thread::Model { id, project_id: _, created_at, tool_resources, metadata } = m;
        Ok(Thread {
            id,
            created_at,
            tool_resources: tool_resources.as_deref().map(from_json).transpose()?,
            metadata: from_json(&metadata)?,
        })
    }
}

impl TryFrom<message::Model> for Message {
    type Error = ServiceError;

    fn try_from(m: message::Model) -> ServiceResult<Self> {
        let message::Model {
            id,
            project_id: _,
            thread_id,
            created_at,
            status,
            incomplete_reason,
            completed_at,
            incomplete_at,
            role,
            content,
            assistant_id,
            run_id,
            attachments,
            metadata,
        } = m;
        Ok(Message {
            id,
            created_at,
            thread_id,
            status: MessageStatus::parse(&status)
                .ok_or_else(|| ServiceError::internal("corrupt message row", format!("status {status}")))?,
            incomplete_reason,
            completed_at,
            incomplete_at,
            role: Role::parse(&role)
                .ok_or_else(|| ServiceError::internal("corrupt message row", format!("role {role}")))?,
            content: from_json(&content)?,
            assistant_id,
            run_id,
            attachments: from_json(&attachments)?,
            metadata: from_json(&metadata)?,
        })
    }
}

fn thread_model(project: &Project, t: &Thread) -> thread::Model {
    thread::Model {
        id: t.id.clone(),
        project_id: project.id().to_owned(),
        created_at: t.created_at,
        tool_resources: t.tool_resources.as_ref().map(to_json),
        metadata: to_json(&t.metadata),
    }
}

fn message_model(project: &Project, m: &Message) -> message::Model {
    message::Model {
        id: m.id.clone(),
        project_id: project.id().to_owned(),
        thread_id: m.thread_id.clone(),
        created_at: m.created_at,
        status: m.status.as_str().to_owned(),
        incomplete_reason: m.incomplete_reason.clone(),
        completed_at: m.completed_at,
        incomplete_at: m.incomplete_at,
        role: m.role.as_str().to_owned(),
        content: to_json(&m.content),
        assistant_id: m.assistant_id.clone(),
        run_id: m.run_id.clone(),
        attachments: to_json(&m.attachments),
        metadata: to_json(&m.metadata),
    }
}

/// Storage of threads and messages.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// Storage on `db` (migrated).
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    fn threads(project: &Project) -> Select<thread::Entity> {
        thread::Entity::find().filter(thread::Column::ProjectId.eq(project.id()))
    }

    fn messages(project: &Project, thread_id: &str) -> Select<message::Entity> {
        message::Entity::find()
            .filter(message::Column::ProjectId.eq(project.id()))
            .filter(message::Column::ThreadId.eq(thread_id))
    }

    /// Inserts a thread and its first messages in one transaction.
    pub async fn insert_thread(&self, project: &Project, t: &Thread, messages: &[Message]) -> ServiceResult<()> {
        let txn = self.db.begin().await?;
        thread::Entity::insert(thread_model(project, t).into_active_model()).exec_without_returning(&txn).await?;
        if !messages.is_empty() {
            message::Entity::insert_many(messages.iter().map(|m| message_model(project, m).into_active_model()))
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// The thread, if it exists in the project.
    pub async fn get_thread(&self, project: &Project, id: &str) -> ServiceResult<Option<Thread>> {
        Self::threads(project).filter(thread::Column::Id.eq(id)).one(&self.db).await?.map(Thread::try_from).transpose()
    }

    /// Whether the thread exists in the project.
    pub async fn thread_exists(&self, project: &Project, id: &str) -> ServiceResult<bool> {
        use sea_orm::QuerySelect;
        let found: Option<String> = Self::threads(project)
            .filter(thread::Column::Id.eq(id))
            .select_only()
            .column(thread::Column::Id)
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(found.is_some())
    }

    /// Writes a thread's tool resources and metadata.
    pub async fn update_thread(&self, project: &Project, t: &Thread) -> ServiceResult<()> {
        let mut am = thread_model(project, t).into_active_model().reset_all();
        am.id = NotSet;
        am.project_id = NotSet;
        am.created_at = NotSet;
        thread::Entity::update_many()
            .set(am)
            .filter(thread::Column::ProjectId.eq(project.id()))
            .filter(thread::Column::Id.eq(t.id.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Deletes a thread and its messages; false when there was none.
    pub async fn delete_thread(&self, project: &Project, id: &str) -> ServiceResult<bool> {
        let txn = self.db.begin().await?;
        let res = thread::Entity::delete_many()
            .filter(thread::Column::ProjectId.eq(project.id()))
            .filter(thread::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        if res.rows_affected == 0 {
            return Ok(false);
        }
        message::Entity::delete_many()
            .filter(message::Column::ProjectId.eq(project.id()))
            .filter(message::Column::ThreadId.eq(id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Inserts a message.
    pub async fn insert_message(&self, project: &Project, m: &Message) -> ServiceResult<()> {
        message::Entity::insert(message_model(project, m).into_active_model()).exec_without_returning(&self.db).await?;
        Ok(())
    }

    /// The message, if it exists in the thread and project.
    pub async fn get_message(&self, project: &Project, thread_id: &str, id: &str) -> ServiceResult<Option<Message>> {
        Self::messages(project, thread_id)
            .filter(message::Column::Id.eq(id))
            .one(&self.db)
            .await?
            .map(Message::try_from)
            .transpose()
    }

    /// A page of a thread's messages, optionally only those of one run.
    pub async fn list_messages(
        &self,
        project: &Project,
        thread_id: &str,
        run_id: Option<&str>,
        page: &PageRequest,
    ) -> ServiceResult<Page<Message>> {
        let mut q = Self::messages(project, thread_id);
        if let Some(run_id) = run_id {
            q = q.filter(message::Column::RunId.eq(run_id));
        }
        let rows = page.apply(q, message::Column::Id).all(&self.db).await?;
        let rows = rows.into_iter().map(Message::try_from).collect::<ServiceResult<Vec<_>>>()?;
        Ok(page.finish(rows))
    }

    /// Writes a message's metadata.
    pub async fn update_message_metadata(&self, project: &Project, m: &Message) -> ServiceResult<()> {
        message::Entity::update_many()
            .col_expr(message::Column::Metadata, sea_orm::sea_query::Expr::value(to_json(&m.metadata)))
            .filter(message::Column::ProjectId.eq(project.id()))
            .filter(message::Column::ThreadId.eq(m.thread_id.as_str()))
            .filter(message::Column::Id.eq(m.id.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Writes the content, status and timestamps of a message a run wrote.
    pub async fn update_run_message(&self, project: &Project, m: &Message) -> ServiceResult<()> {
        use sea_orm::sea_query::Expr;
        message::Entity::update_many()
            .col_expr(message::Column::Content, Expr::value(to_json(&m.content)))
            .col_expr(message::Column::Status, Expr::value(m.status.as_str()))
            .col_expr(message::Column::CompletedAt, Expr::value(m.completed_at))
            .col_expr(message::Column::IncompleteAt, Expr::value(m.incomplete_at))
            .col_expr(message::Column::IncompleteReason, Expr::value(m.incomplete_reason.clone()))
            .filter(message::Column::ProjectId.eq(project.id()))
            .filter(message::Column::ThreadId.eq(m.thread_id.as_str()))
            .filter(message::Column::Id.eq(m.id.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Deletes a message; false when there was none.
    pub async fn delete_message(&self, project: &Project, thread_id: &str, id: &str) -> ServiceResult<bool> {
        let res = message::Entity::delete_many()
            .filter(message::Column::ProjectId.eq(project.id()))
            .filter(message::Column::ThreadId.eq(thread_id))
            .filter(message::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected > 0)
    }
}
