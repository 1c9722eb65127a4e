//! The `threads` and `messages` tables.

/// The `threads` entity.
pub mod thread {
    use sea_orm::entity::prelude::*;

    /// One thread.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "threads")]
    pub struct Model {
        /// `thread_…`
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Tenant.
        pub project_id: String,
        /// Unix seconds.
        pub created_at: i64,
        /// JSON tool resources.
        pub tool_resources: Option<String>,
        /// JSON metadata.
        pub metadata: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `messages` entity.
pub mod message {
    use sea_orm::entity::prelude::*;

    /// One message.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "messages")]
    pub struct Model {
        /// `msg_…`
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Tenant.
        pub project_id: String,
        /// Thread.
        pub thread_id: String,
        /// Unix seconds.
        pub created_at: i64,
        pub status: String,
        /// Why incomplete.
        pub incomplete_reason: Option<String>,
        /// Unix seconds.
        pub completed_at: Option<i64>,
        /// Unix seconds.
        pub incomplete_at: Option<i64>,
        pub role: String,
        /// JSON content parts.
        pub content: String,
        /// Assistant.
        pub assistant_id: Option<String>,
        /// Run.
        pub run_id: Option<String>,
        /// JSON attachments.
        pub attachments: String,
        /// JSON metadata.
        pub metadata: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
