//! The sea-orm entities of the runs service. JSON columns hold the domain types'
//! serde form.

/// `runs`.
pub mod run {
    use sea_orm::entity::prelude::*;

    /// One run (and its place in the queue).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "runs")]
    pub struct Model {
        /// `run_…`
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Tenant.
        pub project_id: String,
        /// Thread.
        pub thread_id: String,
        /// Assistant.
        pub assistant_id: String,
        /// Unix seconds.
        pub created_at: i64,
        pub status: String,
        /// The thread id while active (unique: one active run per thread).
        pub active_thread: Option<String>,
        /// JSON `RunSpec`.
        pub spec: String,
        /// JSON metadata.
        pub metadata: String,
        /// Unix seconds.
        pub started_at: Option<i64>,
        /// Unix seconds.
        pub expires_at: Option<i64>,
        /// Unix seconds.
        pub cancelled_at: Option<i64>,
        /// Unix seconds.
        pub failed_at: Option<i64>,
        /// Unix seconds.
        pub completed_at: Option<i64>,
        /// Usage.
        pub prompt_tokens: Option<i64>,
        /// Usage.
        pub completion_tokens: Option<i64>,
        /// JSON required calls.
        pub required_action: Option<String>,
        /// JSON last error.
        pub last_error: Option<String>,
        /// Why incomplete.
        pub incomplete_reason: Option<String>,
        /// The worker holding the run.
        pub lease_owner: Option<String>,
        /// Unix ms when its lease lapses.
        pub lease_expires_at: Option<i64>,
        /// Times the run was queued again after its worker died.
        pub attempts: i32,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `run_steps`.
pub mod step {
    use sea_orm::entity::prelude::*;

    /// One run step.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "run_steps")]
    pub struct Model {
        /// `step_…`
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Tenant.
        pub project_id: String,
        /// Run.
        pub run_id: String,
        /// Thread.
        pub thread_id: String,
        /// Assistant.
        pub assistant_id: String,
        /// Unix seconds.
        pub created_at: i64,
        pub status: String,
        /// JSON `StepDetails`.
        pub details: String,
        /// JSON last error.
        pub last_error: Option<String>,
        /// Unix seconds.
        pub expired_at: Option<i64>,
        /// Unix seconds.
        pub cancelled_at: Option<i64>,
        /// Unix seconds.
        pub failed_at: Option<i64>,
        /// Unix seconds.
        pub completed_at: Option<i64>,
        /// Usage.
        pub prompt_tokens: Option<i64>,
        /// Usage.
        pub completion_tokens: Option<i64>,
        /// JSON metadata.
        pub metadata: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
