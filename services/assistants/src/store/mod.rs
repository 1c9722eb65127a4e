//! The `assistants` table. Every query starts from [`Store::scoped`], which applies
//! the project, so another project's assistant is indistinguishable from a missing one.

use assistd_common::page::{Page, PageRequest};
use assistd_common::{Project, ServiceError, ServiceResult};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, NotSet, QueryFilter, Select,
};

use crate::domain::Assistant;

/// The `assistants` entity.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One assistant. JSON columns hold the domain types' serde form.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "assistants")]
    pub struct Model {
        /// `asst_…`
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Tenant.
        pub project_id: String,
        /// Unix seconds.
        pub created_at: i64,
        /// Name.
        pub name: Option<String>,
        /// Description.
        pub description: Option<String>,
        /// Model.
        pub model: String,
        /// Instructions.
        pub instructions: Option<String>,
        /// JSON array of tools.
        pub tools: String,
        /// JSON tool resources.
        pub tool_resources: Option<String>,
        /// JSON metadata object.
        pub metadata: String,
        /// Temperature.
        pub temperature: Option<f64>,
        /// Top p.
        pub top_p: Option<f64>,
        /// JSON response format.
        pub response_format: Option<String>,
        /// Reasoning effort.
        pub reasoning_effort: Option<String>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column, Entity, Model};

/// Storage of assistants.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
}

use assistd_common::json::{from_column as from_json, to_column as to_json};

impl TryFrom<Model> for Assistant {
    type Error = ServiceError;

    fn try_from(m: Model) -> ServiceResult<Self> {
        let Model {
            id,
            project_id: _,
            created_at,
            name,
            description,
            model,
            instructions,
            tools,
            tool_resources,
            metadata,
            temperature,
            top_p,
            response_format,
            reasoning_effort,
        } = m;
        Ok(Assistant {
            id,
            created_at,
            name,
            description,
            model,
            instructions,
            tools: from_json(&tools)?,
            tool_resources: tool_resources.as_deref().map(from_json).transpose()?,
            metadata: from_json(&metadata)?,
            temperature,
            top_p,
            response_format: response_format.as_deref().map(from_json).transpose()?,
            reasoning_effort,
        })
    }
}

fn to_model(project: &Project, a: &Assistant) -> Model {
    Model {
        id: a.id.clone(),
        project_id: project.id().to_owned(),
        created_at: a.created_at,
        name: a.name.clone(),
        description: a.description.clone(),
        model: a.model.clone(),
        instructions: a.instructions.clone(),
        tools: to_json(&a.tools),
        tool_resources: a.tool_resources.as_ref().map(to_json),
        metadata: to_json(&a.metadata),
        temperature: a.temperature,
        top_p: a.top_p,
        response_format: a.response_format.as_ref().map(to_json),
        reasoning_effort: a.reasoning_effort.clone(),
    }
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
