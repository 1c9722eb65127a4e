//! Pieces every assistd service shares: typed ids, pagination, metadata rules, the
//! auth context, the error type and database setup.

pub mod auth;
pub mod caller;
pub mod channel;
pub mod db;
pub mod error;
pub mod files_client;
pub mod files_ref;
pub mod filters;
pub mod ids;
pub mod images;
pub mod items;
pub mod json;
pub mod lease;
pub mod metadata;
pub mod observe;
pub mod page;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod tools;
pub mod trace;
pub mod vector_stores_ref;

pub use auth::{Authenticator, Project};
pub use error::{FieldViolation, FieldViolationExt, ServiceError, ServiceResult};
pub use lease::Lease;
