//! Tables of the threads service: threads and messages.

use sea_orm_migration::{prelude::*, schema::*};

crate::migrator!("seaql_migrations_threads", [M0001CreateThreads]);

/// Creates `threads` and `messages`.
#[derive(DeriveMigrationName)]
pub struct M0001CreateThreads;

#[derive(DeriveIden)]
enum Threads {
    Table,
    Id,
    ProjectId,
    CreatedAt,
    ToolResources,
    Metadata,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    ProjectId,
    ThreadId,
    CreatedAt,
    Status,
    IncompleteReason,
    CompletedAt,
    IncompleteAt,
    Role,
    Content,
    AssistantId,
    RunId,
    Attachments,
    Metadata,
}

#[async_trait::async_trait]
impl MigrationTrait for M0001CreateThreads {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Threads::Table)
                .if_not_exists()
                .col(string(Threads::Id).primary_key())
                .col(string(Threads::ProjectId))
                .col(big_integer(Threads::CreatedAt))
                .col(text_null(Threads::ToolResources))
                .col(text(Threads::Metadata))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Messages::Table)
                .if_not_exists()
                .col(string(Messages::Id).primary_key())
                .col(string(Messages::ProjectId))
                .col(string(Messages::ThreadId))
                .col(big_integer(Messages::CreatedAt))
                .col(string(Messages::Status))
                .col(string_null(Messages::IncompleteReason))
                .col(big_integer_null(Messages::CompletedAt))
                .col(big_integer_null(Messages::IncompleteAt))
                .col(string(Messages::Role))
                .col(text(Messages::Content))
                .col(string_null(Messages::AssistantId))
                .col(string_null(Messages::RunId))
                .col(text(Messages::Attachments))
                .col(text(Messages::Metadata))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_messages_thread")
                .table(Messages::Table)
                .col(Messages::ThreadId)
                .col(Messages::Id)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Messages::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Threads::Table).to_owned()).await
    }
}
