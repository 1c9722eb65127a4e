//! Database migrations, one migrator per service, each with its own history table
//! (`seaql_migrations_<service>`), written with the schema DSL so the same
//! migrations run on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;

pub mod assistants;
pub mod auth;
pub mod conversations;
pub mod files;
pub mod responses;
pub mod runs;
pub mod threads;
pub mod vector_stores;

pub use sea_orm_migration::MigratorTrait;

/// The services whose tables a process may own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// API keys.
    Auth,
    Assistants,
    /// Threads and messages.
    Threads,
    /// Files and uploads.
    Files,
    /// Runs and run steps.
    Runs,
    /// Vector stores, their files and batches.
    VectorStores,
    /// Conversations and their items.
    Conversations,
    /// Responses.
    Responses,
}

/// Applies every pending migration of `service`.
pub async fn up(db: &sea_orm::DatabaseConnection, service: Service) -> Result<(), DbErr> {
    match service {
        Service::Auth => auth::Migrator::up(db, None).await,
        Service::Assistants => assistants::Migrator::up(db, None).await,
        Service::Threads => threads::Migrator::up(db, None).await,
        Service::Files => files::Migrator::up(db, None).await,
        Service::Runs => runs::Migrator::up(db, None).await,
        Service::VectorStores => vector_stores::Migrator::up(db, None).await,
        Service::Conversations => conversations::Migrator::up(db, None).await,
        Service::Responses => responses::Migrator::up(db, None).await,
    }
}

/// Whether every migration of `service` has been applied.
pub async fn applied(db: &sea_orm::DatabaseConnection, service: Service) -> Result<bool, DbErr> {
    let pending = match service {
        Service::Auth => auth::Migrator::get_pending_migrations(db).await?,
        Service::Assistants => assistants::Migrator::get_pending_migrations(db).await?,
        Service::Threads => threads::Migrator::get_pending_migrations(db).await?,
        Service::Files => files::Migrator::get_pending_migrations(db).await?,
        Service::Runs => runs::Migrator::get_pending_migrations(db).await?,
        Service::VectorStores => vector_stores::Migrator::get_pending_migrations(db).await?,
        Service::Conversations => conversations::Migrator::get_pending_migrations(db).await?,
        Service::Responses => responses::Migrator::get_pending_migrations(db).await?,
    };
    Ok(pending.is_empty())
}

macro_rules! migrator {
    ($table:literal, [$($m:path),* $(,)?]) => {
        /// The migrator of this service.
        pub struct Migrator;

        impl sea_orm_migration::MigratorTrait for Migrator {
            fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
                vec![$(Box::new($m)),*]
            }

            fn migration_table_name() -> sea_orm_migration::sea_orm::DynIden {
                sea_orm_migration::prelude::Alias::new($table).into_iden()
            }
        }
    };
}
pub(crate) use migrator;
