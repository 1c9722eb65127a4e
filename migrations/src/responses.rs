//! Tables of the responses service.

use sea_orm_migration::{prelude::*, schema::*};

crate::migrator!("seaql_migrations_responses", [M0001CreateResponses]);

/// Creates `responses`.
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
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Responses::Table).to_owned()).await
    }
}
