//! Tables of the vector stores service: stores, their files (also the ingestion
//! queue), file batches and the parsed text of each indexed file. Chunks themselves
//! live in the vector index, not here.

use sea_orm_migration::{prelude::*, schema::*};

crate::migrator!("seaql_migrations_vector_stores", [M0001CreateVectorStores]);

/// Creates the vector stores tables.
#[derive(DeriveMigrationName)]
pub struct M0001CreateVectorStores;

#[derive(DeriveIden)]
enum VectorStores {
    Table,
    Id,
    ProjectId,
    CreatedAt,
    Name,
    Description,
    ExpiresAfterDays,
    ExpiresAt,
    LastActiveAt,
    Metadata,
}

#[derive(DeriveIden)]
enum VectorStoreFiles {
    Table,
    VectorStoreId,
    FileId,
    ProjectId,
    CreatedAt,
    Status,
    LastError,
    UsageBytes,
    Chunking,
    Attributes,
    BatchId,
    Filename,
    LeaseOwner,
    LeaseExpiresAt,
}

#[derive(DeriveIden)]
enum VectorStoreFileBatches {
    Table,
    Id,
    ProjectId,
    VectorStoreId,
    CreatedAt,
    Cancelled,
}

#[derive(DeriveIden)]
enum VectorStoreFileContents {
    Table,
    VectorStoreId,
    FileId,
    ProjectId,
    Text,
}

#[async_trait::async_trait]
impl MigrationTrait for M0001CreateVectorStores {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(VectorStores::Table)
                .if_not_exists()
                .col(string(VectorStores::Id).primary_key())
                .col(string(VectorStores::ProjectId))
                .col(big_integer(VectorStores::CreatedAt))
                .col(string_null(VectorStores::Name))
                .col(text_null(VectorStores::Description))
                .col(integer_null(VectorStores::ExpiresAfterDays))
                .col(big_integer_null(VectorStores::ExpiresAt))
                .col(big_integer(VectorStores::LastActiveAt))
                .col(text(VectorStores::Metadata))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_vector_stores_project")
                .table(VectorStores::Table)
                .col(VectorStores::ProjectId)
                .col(VectorStores::Id)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(VectorStoreFiles::Table)
                .if_not_exists()
                .col(string(VectorStoreFiles::VectorStoreId))
                .col(string(VectorStoreFiles::FileId))
                .col(string(VectorStoreFiles::ProjectId))
                .col(big_integer(VectorStoreFiles::CreatedAt))
                .col(string(VectorStoreFiles::Status))
                .col(text_null(VectorStoreFiles::LastError))
                .col(big_integer(VectorStoreFiles::UsageBytes))
                .col(text(VectorStoreFiles::Chunking))
                .col(text(VectorStoreFiles::Attributes))
                .col(string_null(VectorStoreFiles::BatchId))
                .col(text_null(VectorStoreFiles::Filename))
                .col(string_null(VectorStoreFiles::LeaseOwner))
                .col(big_integer_null(VectorStoreFiles::LeaseExpiresAt))
                .primary_key(Index::create().col(VectorStoreFiles::VectorStoreId).col(VectorStoreFiles::FileId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_vector_store_files_queue")
                .table(VectorStoreFiles::Table)
                .col(VectorStoreFiles::Status)
                .col(VectorStoreFiles::LeaseExpiresAt)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_vector_store_files_batch")
                .table(VectorStoreFiles::Table)
                .col(VectorStoreFiles::BatchId)
                .col(VectorStoreFiles::FileId)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(VectorStoreFileBatches::Table)
                .if_not_exists()
                .col(string(VectorStoreFileBatches::Id).primary_key())
                .col(string(VectorStoreFileBatches::ProjectId))
                .col(string(VectorStoreFileBatches::VectorStoreId))
                .col(big_integer(VectorStoreFileBatches::CreatedAt))
                .col(boolean(VectorStoreFileBatches::Cancelled))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(VectorStoreFileContents::Table)
                .if_not_exists()
                .col(string(VectorStoreFileContents::VectorStoreId))
                .col(string(VectorStoreFileContents::FileId))
                .col(string(VectorStoreFileContents::ProjectId))
                .col(text(VectorStoreFileContents::Text))
                .primary_key(
                    Index::create().col(VectorStoreFileContents::VectorStoreId).col(VectorStoreFileContents::FileId),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(VectorStoreFileContents::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(VectorStoreFileBatches::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(VectorStoreFiles::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(VectorStores::Table).to_owned()).await
    }
}
