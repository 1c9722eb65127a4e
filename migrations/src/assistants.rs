//! Tables of the assistants service.

use sea_orm_migration::{prelude::*, schema::*};

crate::migrator!("seaql_migrations_assistants", [M0001CreateAssistants]);

/// Creates `assistants`.
#[derive(DeriveMigrationName)]
pub struct M0001CreateAssistants;

#[derive(DeriveIden)]
enum Assistants {
    Table,
    Id,
    ProjectId,
    CreatedAt,
    Name,
    Description,
    Model,
    Instructions,
    Tools,
    ToolResources,
    Metadata,
    Temperature,
    TopP,
    ResponseFormat,
    ReasoningEffort,
}

#[async_trait::async_trait]
impl MigrationTrait for M0001CreateAssistants {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Assistants::Table)
                .if_not_exists()
                .col(string(Assistants::Id).primary_key())
                .col(string(Assistants::ProjectId))
                .col(big_integer(Assistants::CreatedAt))
                .col(text_null(Assistants::Name))
                .col(text_null(Assistants::Description))
                .col(text(Assistants::Model))
                .col(text_null(Assistants::Instructions))
                .col(text(Assistants::Tools))
                .col(text_null(Assistants::ToolResources))
                .col(text(Assistants::Metadata))
                .col(double_null(Assistants::Temperature))
                .col(double_null(Assistants::TopP))
                .col(text_null(Assistants::ResponseFormat))
                .col(text_null(Assistants::ReasoningEffort))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_assistants_project_id")
                .table(Assistants::Table)
                .col(Assistants::ProjectId)
                .col(Assistants::Id)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Assistants::Table).to_owned()).await
    }
}
