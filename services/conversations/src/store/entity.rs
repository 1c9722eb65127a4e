//! The `conversations` and `conversation_items` tables.

/// One conversation.
pub mod conversation {
    use sea_orm::entity::prelude::*;

    /// A row of `conversations`.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "conversations")]
    pub struct Model {
        /// `conv_…`
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The tenant; every query filters on it.
        pub project_id: String,
        /// Unix seconds.
        pub created_at: i64,
        /// JSON object of strings.
        pub metadata: String,
        /// The position the next appended item gets.
        pub next_position: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One item of a conversation.
pub mod item {
    use sea_orm::entity::prelude::*;

    /// A row of `conversation_items`.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "conversation_items")]
    pub struct Model {
        /// `msg_…`, `fc_…`, …
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The tenant.
        pub project_id: String,
        /// `conv_…`
        pub conversation_id: String,
        /// Order in the conversation.
        pub position: i64,
        /// Unix seconds.
        pub created_at: i64,
        /// The item's JSON.
        pub body: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
