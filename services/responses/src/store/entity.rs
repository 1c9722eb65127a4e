//! The `responses` table.

use sea_orm::entity::prelude::*;

/// One response.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "responses")]
pub struct Model {
    /// `resp_…`
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The tenant; every query filters on it.
    pub project_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The response this one continues.
    pub previous_response_id: Option<String>,
    /// The domain `Response`'s serde form (every field but id and creation time).
    pub body: String,
    /// The input items (JSON array).
    pub input: String,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
