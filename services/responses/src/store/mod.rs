//! Storage of responses. Every query starts from the project, so another project's
//! response is indistinguishable from a missing one. A response is written when it
//! starts (so it can be retrieved while it runs) and again when it ends; one created
//! with `store: false` is never written.

pub mod entity;

use assistd_common::items::Item;
use assistd_common::json::{from_column as from_json, to_column as to_json};
use assistd_common::{Project, ServiceError, ServiceResult};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter};

use crate::domain::Response;
use entity::{Column, Entity, Model};

/// The responses table.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
}

/// A kept response and its input.
#[derive(Debug, Clone)]
pub struct Kept {
    pub response: Response,
    pub input: Vec<Item>,
}

impl TryFrom<Model> for Kept {
    type Error = ServiceError;

    fn try_from(m: Model) -> ServiceResult<Self> {
        let Model { id, project_id: _, created_at, previous_response_id: _, body, input } = m;
        Ok(Kept { response: Response { id, created_at, ..from_json(&body)? }, input: from_json(&input)? })
    }
}

impl Store {
    /// Storage on `db` (migrated).
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Inserts a new response with its input.
    pub async fn insert(&self, project: &Project, r: &Response, input: &[Item]) -> ServiceResult<()> {
        let row = Model {
            id: r.id.clone(),
            project_id: project.id().to_owned(),
            created_at: r.created_at,
            previous_response_id: r.previous_response_id.clone(),
            body: to_json(r),
            input: to_json(&input),
        };
        Entity::insert(row.into_active_model()).exec_without_returning(&self.db).await?;
        Ok(())
    }

    /// Writes the response's current state (its input does not change).
    pub async fn update(&self, project: &Project, r: &Response) -> ServiceResult<()> {
        Entity::update_many()
            .col_expr(Column::Body, Expr::value(to_json(r)))
            .filter(Column::ProjectId.eq(project.id()))
            .filter(Column::Id.eq(r.id.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The response and its input, if it is kept in the project.
    pub async fn get(&self, project: &Project, id: &str) -> ServiceResult<Option<Kept>> {
        Entity::find()
            .filter(Column::ProjectId.eq(project.id()))
            .filter(Column::Id.eq(id))
            .one(&self.db)
            .await?
            .map(Kept::try_from)
            .transpose()
    }

    /// Deletes the response; false when there was none.
    pub async fn delete(&self, project: &Project, id: &str) -> ServiceResult<bool> {
        let res = Entity::delete_many()
            .filter(Column::ProjectId.eq(project.id()))
            .filter(Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected > 0)
    }
}
