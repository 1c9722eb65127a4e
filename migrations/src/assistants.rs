//! Tables of the assistants service.

use sea_orm_migration::{prelude::*, schema::*};

crate::migrator!("seaql_migrations_assistants", [M0001CreateAssistants, M0002AssistantBody]);

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
    Body,
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

/// Moves every field of an assistant but the keys into one JSON column, `body` (the
/// domain `Assistant`'s serde form), so that a new field needs no migration.
pub struct M0002AssistantBody;

// Named by hand: the derived name is the file's, which the first migration has.
impl MigrationName for M0002AssistantBody {
    fn name(&self) -> &str {
        "assistants_m0002_body"
    }
}

/// The columns [`M0002AssistantBody`] folds into `body`, and whether each holds JSON.
const FOLDED: &[(&str, bool)] = &[
    ("name", false),
    ("description", false),
    ("model", false),
    ("instructions", false),
    ("tools", true),
    ("tool_resources", true),
    ("metadata", true),
    ("temperature", false),
    ("top_p", false),
    ("response_format", true),
    ("reasoning_effort", false),
];

#[async_trait::async_trait]
impl MigrationTrait for M0002AssistantBody {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use sea_orm::{ConnectionTrait, Statement};
        m.alter_table(
            Table::alter().table(Assistants::Table).add_column(text(Assistants::Body).default("{}")).to_owned(),
        )
        .await?;
        let db = m.get_connection();
        let backend = db.get_database_backend();
        let columns = FOLDED.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ");
        let rows =
            db.query_all_raw(Statement::from_string(backend, format!("SELECT id, {columns} FROM assistants"))).await?;
        for row in rows {
            let id: String = row.try_get("", "id")?;
            let mut body = serde_json::Map::new();
            for &(column, json) in FOLDED {
                let value = match column {
                    "temperature" | "top_p" => row.try_get::<Option<f64>>("", column)?.into(),
                    _ => match row.try_get::<Option<String>>("", column)? {
                        Some(text) if json => serde_json::from_str(&text)
                            .map_err(|e| DbErr::Migration(format!("assistant {id}: {column} is not JSON: {e}")))?,
                        text => text.into(),
                    },
                };
                body.insert(column.to_owned(), value);
            }
            let body = serde_json::Value::Object(body).to_string();
            let sql = match backend {
                sea_orm::DatabaseBackend::Postgres => "UPDATE assistants SET body = $1 WHERE id = $2",
                _ => "UPDATE assistants SET body = ? WHERE id = ?",
            };
            db.execute_raw(Statement::from_sql_and_values(backend, sql, [body.into(), id.into()])).await?;
        }
        for (column, _) in FOLDED {
            db.execute_unprepared(&format!("ALTER TABLE assistants DROP COLUMN {column}")).await?;
        }
        Ok(())
    }

    async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("assistants_m0002_body cannot be undone: restore a backup instead".into()))
    }
}
