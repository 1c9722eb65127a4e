//! The sea-orm entities of the files service (see the migration
//! `assistd_migrations::files`). Statuses are stored by their API names.

/// `files`.
pub mod file {
    use sea_orm::entity::prelude::*;

    /// One file.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "files")]
    pub struct Model {
        /// `file-…`
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Tenant.
        pub project_id: String,
        /// Unix seconds.
        pub created_at: i64,
        /// Size in bytes.
        pub bytes: i64,
        pub filename: String,
        pub purpose: String,
        /// uploaded, processed or error.
        pub status: String,
        pub status_details: Option<String>,
        /// Unix seconds.
        pub expires_at: Option<i64>,
        /// MIME type.
        pub content_type: String,
        /// Where its bytes are in the blob store.
        pub blob_key: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `uploads`.
pub mod upload {
    use sea_orm::entity::prelude::*;

    /// One upload.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "uploads")]
    pub struct Model {
        /// `upload_…`
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Tenant.
        pub project_id: String,
        /// Unix seconds.
        pub created_at: i64,
        /// The name the file will have.
        pub filename: String,
        /// The size the parts must add up to.
        pub bytes: i64,
        pub purpose: String,
        /// The file's MIME type.
        pub mime_type: String,
        /// pending, completed, cancelled or expired.
        pub status: String,
        /// Unix seconds.
        pub expires_at: i64,
        /// Seconds after creation the file expires, if set.
        pub file_expires_after: Option<i64>,
        /// The file it made, once completed.
        pub file_id: Option<String>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `upload_parts`.
pub mod part {
    use sea_orm::entity::prelude::*;

    /// One part of an upload.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "upload_parts")]
    pub struct Model {
        /// `part_…`
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Tenant.
        pub project_id: String,
        pub upload_id: String,
        /// Unix seconds.
        pub created_at: i64,
        /// Size in bytes.
        pub bytes: i64,
        /// Where its bytes are in the blob store.
        pub blob_key: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
