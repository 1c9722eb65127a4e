//! Tables of the files service: files, uploads and upload parts.

use sea_orm_migration::{prelude::*, schema::*};

crate::migrator!("seaql_migrations_files", [M0001CreateFiles]);

/// Creates `files`, `uploads` and `upload_parts`.
#[derive(DeriveMigrationName)]
pub struct M0001CreateFiles;

#[derive(DeriveIden)]
enum Files {
    Table,
    Id,
    ProjectId,
    CreatedAt,
    Bytes,
    Filename,
    Purpose,
    Status,
    StatusDetails,
    ExpiresAt,
    ContentType,
    BlobKey,
}

#[derive(DeriveIden)]
enum Uploads {
    Table,
    Id,
    ProjectId,
    CreatedAt,
    Filename,
    Bytes,
    Purpose,
    MimeType,
    Status,
    ExpiresAt,
    FileExpiresAfter,
    FileId,
}

#[derive(DeriveIden)]
enum UploadParts {
    Table,
    Id,
    ProjectId,
    UploadId,
    CreatedAt,
    Bytes,
    BlobKey,
}

#[async_trait::async_trait]
impl MigrationTrait for M0001CreateFiles {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Files::Table)
                .if_not_exists()
                .col(string(Files::Id).primary_key())
                .col(string(Files::ProjectId))
                .col(big_integer(Files::CreatedAt))
                .col(big_integer(Files::Bytes))
                .col(text(Files::Filename))
                .col(string(Files::Purpose))
                .col(string(Files::Status))
                .col(text_null(Files::StatusDetails))
                .col(big_integer_null(Files::ExpiresAt))
                .col(string(Files::ContentType))
                .col(text(Files::BlobKey))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_files_project_id")
                .table(Files::Table)
                .col(Files::ProjectId)
                .col(Files::Id)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Uploads::Table)
                .if_not_exists()
                .col(string(Uploads::Id).primary_key())
                .col(string(Uploads::ProjectId))
                .col(big_integer(Uploads::CreatedAt))
                .col(text(Uploads::Filename))
                .col(big_integer(Uploads::Bytes))
                .col(string(Uploads::Purpose))
                .col(string(Uploads::MimeType))
                .col(string(Uploads::Status))
                .col(big_integer(Uploads::ExpiresAt))
                .col(big_integer_null(Uploads::FileExpiresAfter))
                .col(string_null(Uploads::FileId))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(UploadParts::Table)
                .if_not_exists()
                .col(string(UploadParts::Id).primary_key())
                .col(string(UploadParts::ProjectId))
                .col(string(UploadParts::UploadId))
                .col(big_integer(UploadParts::CreatedAt))
                .col(big_integer(UploadParts::Bytes))
                .col(text(UploadParts::BlobKey))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_upload_parts_upload")
                .table(UploadParts::Table)
                .col(UploadParts::UploadId)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(UploadParts::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Uploads::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Files::Table).to_owned()).await
    }
}
