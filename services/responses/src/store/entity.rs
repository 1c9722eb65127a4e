//! The `responses` and `response_events` tables.

/// One response.
pub mod response {
    use sea_orm::entity::prelude::*;

    /// A row of `responses`.
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
        /// The status (also in `body`), for the queue.
        pub status: String,
        /// The worker executing a background response.
        pub lease_owner: Option<String>,
        /// Unix milliseconds.
        pub lease_expires_at: Option<i64>,
        /// A cancel was asked for.
        pub cancel_requested: bool,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One event of a background response.
pub mod event {
    use sea_orm::entity::prelude::*;

    /// A row of `response_events`.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "response_events")]
    pub struct Model {
        /// `resp_…`
        #[sea_orm(primary_key, auto_increment = false)]
        pub response_id: String,
        /// The event's `sequence_number`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub sequence_number: i64,
        /// The tenant.
        pub project_id: String,
        /// `assistd.v1.ResponseEvent`, protobuf.
        pub body: Vec<u8>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
