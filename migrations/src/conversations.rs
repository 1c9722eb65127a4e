//! Tables of the conversations service: conversations and their items.

use sea_orm_migration::{prelude::*, schema::*};

crate::migrator!("seaql_migrations_conversations", [M0001CreateConversations]);

/// Creates `conversations` and `conversation_items`.
#[derive(DeriveMigrationName)]
pub struct M0001CreateConversations;

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
    ProjectId,
    CreatedAt,
    Metadata,
    /// The position the next item appended gets.
    NextPosition,
}

#[derive(DeriveIden)]
enum ConversationItems {
    Table,
    Id,
    ProjectId,
    ConversationId,
    /// Order in the conversation (item ids of different kinds do not sort together).
    Position,
    CreatedAt,
    /// The item's JSON (`assistd_common::items::Item`).
    Body,
}

#[async_trait::async_trait]
impl MigrationTrait for M0001CreateConversations {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Conversations::Table)
                .if_not_exists()
                .col(string(Conversations::Id).primary_key())
                .col(string(Conversations::ProjectId))
                .col(big_integer(Conversations::CreatedAt))
                .col(text(Conversations::Metadata))
                .col(big_integer(Conversations::NextPosition))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ConversationItems::Table)
                .if_not_exists()
                .col(string(ConversationItems::Id).primary_key())
                .col(string(ConversationItems::ProjectId))
                .col(string(ConversationItems::ConversationId))
                .col(big_integer(ConversationItems::Position))
                .col(big_integer(ConversationItems::CreatedAt))
                .col(text(ConversationItems::Body))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_conversation_items_position")
                .table(ConversationItems::Table)
                .col(ConversationItems::ConversationId)
                .col(ConversationItems::Position)
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ConversationItems::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Conversations::Table).to_owned()).await
    }
}
