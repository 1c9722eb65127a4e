//! Tables of API keys.

use sea_orm_migration::{prelude::*, schema::*};

crate::migrator!("seaql_migrations_auth", [M0001CreateApiKeys]);

/// Creates `api_keys`.
#[derive(DeriveMigrationName)]
pub struct M0001CreateApiKeys;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    ProjectId,
    KeyHash,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for M0001CreateApiKeys {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .if_not_exists()
                .col(string(ApiKeys::Id).primary_key())
                .col(string(ApiKeys::ProjectId))
                .col(string_uniq(ApiKeys::KeyHash))
                .col(big_integer(ApiKeys::CreatedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ApiKeys::Table).to_owned()).await
    }
}
