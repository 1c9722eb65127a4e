//! Tables of the responses service: responses (and the queue of background ones)
//! and the events of background responses, kept for replay.

use sea_orm_migration::{prelude::*, schema::*};

crate::migrator!("seaql_migrations_responses", [M0001CreateResponses]);

/// Creates `responses` and `response_events`.
#[derive(DeriveMigrationName)]
pub struct M0001CreateResponses;

#[derive(DeriveIden)]
enum Responses {
    Table,
    Id,
    ProjectId,
    CreatedAt,
    /// The response this one continues (its chain is the context).
    PreviousResponseId,
    /// The response's JSON (`services/responses` `domain::Response`).
    Body,
    /// The input items, as kept (JSON array).
    Input,
    /// The response's status (also in `body`), for the queue.
    Status,
    /// The worker executing a background response.
    LeaseOwner,
    /// Unix milliseconds; the worker renews it while it works.
    LeaseExpiresAt,
    /// A cancel was asked for while a worker executes it.
    CancelRequested,
}

#[derive(DeriveIden)]
enum ResponseEvents {
    Table,
    ResponseId,
    SequenceNumber,
    ProjectId,
    /// The event (`assistd.v1.ResponseEvent`, protobuf).
    Body,
}

#[async_trait::async_trait]
impl MigrationTrait for M0001CreateResponses {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Responses::Table)
                .if_not_exists()
                .col(string(Responses::Id).primary_key())
                .col(string(Responses::ProjectId))
                .col(big_integer(Responses::CreatedAt))
                .col(string_null(Responses::PreviousResponseId))
                .col(text(Responses::Body))
                .col(text(Responses::Input))
                .col(string(Responses::Status))
                .col(string_null(Responses::LeaseOwner))
                .col(big_integer_null(Responses::LeaseExpiresAt))
                .col(boolean(Responses::CancelRequested).default(false))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_responses_queue")
                .table(Responses::Table)
                .col(Responses::Status)
                .col(Responses::Id)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ResponseEvents::Table)
                .if_not_exists()
                .col(string(ResponseEvents::ResponseId))
                .col(big_integer(ResponseEvents::SequenceNumber))
                .col(string(ResponseEvents::ProjectId))
                .col(blob(ResponseEvents::Body))
                .primary_key(Index::create().col(ResponseEvents::ResponseId).col(ResponseEvents::SequenceNumber))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ResponseEvents::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Responses::Table).to_owned()).await
    }
}
