//! Storage of assistants. Every query starts from [`Store::scoped`], which applies
//! the project, so another project's assistant is indistinguishable from a missing one.

pub mod entity;

use assistd_common::json::{from_column as from_json, to_column as to_json};
use assistd_common::page::{Page, PageRequest};
use assistd_common::{Project, ServiceError, ServiceResult};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, NotSet, QueryFilter, Select,
};

use crate::domain::Assistant;
use entity::{ActiveModel, Column, Entity, Model};

/// The assistants table.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
}

impl TryFrom<Model> for Assistant {
    type Error = ServiceError;

    fn try_from(m: Model) -> ServiceResult<Self> {
        let Model { id, project_id: _, created_at, body } = m;
        Ok(Assistant { id, created_at, ..from_json(&body)? })
    }
}

fn to_model(project: &Project, a: &Assistant) -> Model {
    Model { id: a.id.clone(), project_id: project.id().to_owned(), created_at: a.created_at, body: to_json(a) }
}

impl Store {
    /// Storage on `db` (migrated).
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    fn scoped(project: &Project) -> Select<Entity> {
        Entity::find().filter(Column::ProjectId.eq(project.id()))
    }

    /// Inserts a new assistant.
    pub async fn insert(&self, project: &Project, a: &Assistant) -> ServiceResult<()> {
        let am: ActiveModel = to_model(project, a).into_active_model();
        Entity::insert(am).exec_without_returning(&self.db).await?;
        Ok(())
    }

    /// The assistant, if it exists in the project.
    pub async fn get(&self, project: &Project, id: &str) -> ServiceResult<Option<Assistant>> {
        Self::scoped(project).filter(Column::Id.eq(id)).one(&self.db).await?.map(Assistant::try_from).transpose()
    }

    /// A page of the project's assistants.
    pub async fn list(&self, project: &Project, page: &PageRequest) -> ServiceResult<Page<Assistant>> {
        let rows = page.apply(Self::scoped(project), Column::Id).all(&self.db).await?;
        let rows = rows.into_iter().map(Assistant::try_from).collect::<ServiceResult<Vec<_>>>()?;
        Ok(page.finish(rows))
    }

    /// Writes every field of `a` (which must exist).
    pub async fn update(&self, project: &Project, a: &Assistant) -> ServiceResult<()> {
        let mut am: ActiveModel = to_model(project, a).into_active_model().reset_all();
        am.id = NotSet;
        am.project_id = NotSet;
        am.created_at = NotSet;
        Entity::update_many()
            .set(am)
            .filter(Column::ProjectId.eq(project.id()))
            .filter(Column::Id.eq(a.id.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Deletes the assistant; false when there was none.
    pub async fn delete(&self, project: &Project, id: &str) -> ServiceResult<bool> {
        let res = Entity::delete_many()
            .filter(Column::ProjectId.eq(project.id()))
            .filter(Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected > 0)
    }
}

#[cfg(test)]
mod tests;
