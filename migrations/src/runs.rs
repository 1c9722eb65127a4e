//! Tables of the runs service: runs (which are also the work queue) and run steps.

use sea_orm_migration::{prelude::*, schema::*};

crate::migrator!("seaql_migrations_runs", [M0001CreateRuns, M0002RunAttempts]);

/// Creates `runs` and `run_steps`.
#[derive(DeriveMigrationName)]
pub struct M0001CreateRuns;

#[derive(DeriveIden)]
enum Runs {
    Table,
    Id,
    ProjectId,
    ThreadId,
    AssistantId,
    CreatedAt,
    Status,
    /// The thread id while the run is active, else null: a unique index on it makes
    /// one active run per thread.
    ActiveThread,
    Spec,
    Metadata,
    StartedAt,
    ExpiresAt,
    CancelledAt,
    FailedAt,
    CompletedAt,
    PromptTokens,
    CompletionTokens,
    RequiredAction,
    LastError,
    IncompleteReason,
    LeaseOwner,
    LeaseExpiresAt,
    /// How many times the run was queued again after its worker died.
    Attempts,
}

#[derive(DeriveIden)]
enum RunSteps {
    Table,
    Id,
    ProjectId,
    RunId,
    ThreadId,
    AssistantId,
    CreatedAt,
    Status,
    Details,
    LastError,
    ExpiredAt,
    CancelledAt,
    FailedAt,
    CompletedAt,
    PromptTokens,
    CompletionTokens,
    Metadata,
}

#[async_trait::async_trait]
impl MigrationTrait for M0001CreateRuns {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Runs::Table)
                .if_not_exists()
                .col(string(Runs::Id).primary_key())
                .col(string(Runs::ProjectId))
                .col(string(Runs::ThreadId))
                .col(string(Runs::AssistantId))
                .col(big_integer(Runs::CreatedAt))
                .col(string(Runs::Status))
                .col(string_null(Runs::ActiveThread))
                .col(text(Runs::Spec))
                .col(text(Runs::Metadata))
                .col(big_integer_null(Runs::StartedAt))
                .col(big_integer_null(Runs::ExpiresAt))
                .col(big_integer_null(Runs::CancelledAt))
                .col(big_integer_null(Runs::FailedAt))
                .col(big_integer_null(Runs::CompletedAt))
                .col(big_integer_null(Runs::PromptTokens))
                .col(big_integer_null(Runs::CompletionTokens))
                .col(text_null(Runs::RequiredAction))
                .col(text_null(Runs::LastError))
                .col(string_null(Runs::IncompleteReason))
                .col(string_null(Runs::LeaseOwner))
                .col(big_integer_null(Runs::LeaseExpiresAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_runs_thread")
                .table(Runs::Table)
                .col(Runs::ThreadId)
                .col(Runs::Id)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_runs_active_thread")
                .table(Runs::Table)
                .col(Runs::ActiveThread)
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_runs_queue")
                .table(Runs::Table)
                .col(Runs::Status)
                .col(Runs::LeaseOwner)
                .col(Runs::Id)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RunSteps::Table)
                .if_not_exists()
                .col(string(RunSteps::Id).primary_key())
                .col(string(RunSteps::ProjectId))
                .col(string(RunSteps::RunId))
                .col(string(RunSteps::ThreadId))
                .col(string(RunSteps::AssistantId))
                .col(big_integer(RunSteps::CreatedAt))
                .col(string(RunSteps::Status))
                .col(text(RunSteps::Details))
                .col(text_null(RunSteps::LastError))
                .col(big_integer_null(RunSteps::ExpiredAt))
                .col(big_integer_null(RunSteps::CancelledAt))
                .col(big_integer_null(RunSteps::FailedAt))
                .col(big_integer_null(RunSteps::CompletedAt))
                .col(big_integer_null(RunSteps::PromptTokens))
                .col(big_integer_null(RunSteps::CompletionTokens))
                .col(text(RunSteps::Metadata))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_run_steps_run")
                .table(RunSteps::Table)
                .col(RunSteps::RunId)
                .col(RunSteps::Id)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(RunSteps::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Runs::Table).to_owned()).await
    }
}

/// Adds `runs.attempts`: how many times a run whose worker died was queued again
/// (bounded, so a run that kills its workers ends `failed`).
pub struct M0002RunAttempts;

// Named by hand: the derived name is the file's, which the first migration has.
impl MigrationName for M0002RunAttempts {
    fn name(&self) -> &str {
        "runs_m0002_attempts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0002RunAttempts {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Runs::Table).add_column(integer(Runs::Attempts).default(0)).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Runs::Table).drop_column(Runs::Attempts).to_owned()).await
    }
}
