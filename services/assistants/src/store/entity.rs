//! The `assistants` table: the keys as columns, the rest as one JSON document.

use sea_orm::entity::prelude::*;

/// One assistant.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "assistants")]
pub struct Model {
    /// `asst_…`
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The tenant; every query filters on it.
    pub project_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The domain `Assistant`'s serde form (every field but the keys).
    pub body: String,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
