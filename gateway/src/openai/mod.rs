//! OpenAI's JSON shapes (checked against `shared/openai-spec/assistants-openapi.yaml`)
//! and their conversions to and from the proto messages.

pub mod assistants;
pub mod common;
pub mod conversations;
pub mod files;
pub mod models;
pub mod responses;
pub mod runs;
pub mod threads;
pub mod vector_stores;
