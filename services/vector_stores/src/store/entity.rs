//! The sea-orm entities of the vector stores tables (see the migration
//! `assistd_migrations::vector_stores`). JSON columns hold the domain types' serde form.

/// `vector_stores`.
pub mod store {
    use sea_orm::entity::prelude::*;

    /// One vector store.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "vector_stores")]
    pub struct Model {
        /// `vs_…`
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Tenant.
        pub project_id: String,
        /// Unix seconds.
        pub created_at: i64,
        pub name: Option<String>,
        /// Description (accepted, never returned).
        pub description: Option<String>,
        /// Expiry policy in days after last activity.
        pub expires_after_days: Option<i32>,
        /// Unix seconds of expiry.
        pub expires_at: Option<i64>,
        /// Unix seconds of the last use.
        pub last_active_at: i64,
        /// JSON metadata object.
        pub metadata: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `vector_store_files`: a file in a store, and the ingestion queue.
pub mod file {
    use sea_orm::entity::prelude::*;

    /// One file in one store.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "vector_store_files")]
    pub struct Model {
        /// The store.
        #[sea_orm(primary_key, auto_increment = false)]
        pub vector_store_id: String,
        /// `file-…`
        #[sea_orm(primary_key, auto_increment = false)]
        pub file_id: String,
        /// Tenant.
        pub project_id: String,
        /// Unix seconds.
        pub created_at: i64,
        /// in_progress, completed, failed, cancelled.
        pub status: String,
        /// JSON `FileError`.
        pub last_error: Option<String>,
        /// Bytes of parsed text indexed.
        pub usage_bytes: i64,
        /// JSON `Chunking`.
        pub chunking: String,
        /// JSON attributes object.
        pub attributes: String,
        /// The batch that attached it.
        pub batch_id: Option<String>,
        /// The file's name, learned while indexing.
        pub filename: Option<String>,
        /// The ingestion worker holding it.
        pub lease_owner: Option<String>,
        /// Unix milliseconds the lease lasts until.
        pub lease_expires_at: Option<i64>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `vector_store_file_batches`.
pub mod batch {
    use sea_orm::entity::prelude::*;

    /// One batch.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "vector_store_file_batches")]
    pub struct Model {
        /// `vsfb_…`
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Tenant.
        pub project_id: String,
        /// The store.
        pub vector_store_id: String,
        /// Unix seconds.
        pub created_at: i64,
        /// Whether it was cancelled.
        pub cancelled: bool,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `vector_store_file_contents`: the parsed text of an indexed file.
pub mod content {
    use sea_orm::entity::prelude::*;

    /// One file's text in one store.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "vector_store_file_contents")]
    pub struct Model {
        /// The store.
        #[sea_orm(primary_key, auto_increment = false)]
        pub vector_store_id: String,
        /// `file-…`
        #[sea_orm(primary_key, auto_increment = false)]
        pub file_id: String,
        /// Tenant.
        pub project_id: String,
        /// The text.
        pub text: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
