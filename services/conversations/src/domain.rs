//! Conversations as plain Rust values. Their items are `assistd_common::items::Item`.

use assistd_common::metadata::Metadata;

/// Most items one call may append (clients are held to OpenAI's 20 by the gateway; a
/// response appends its whole input and output in one call).
pub const MAX_ITEMS_PER_APPEND: usize = 1000;

/// A conversation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    /// `conv_…`.
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    pub metadata: Metadata,
}
