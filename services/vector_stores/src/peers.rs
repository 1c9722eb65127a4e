//! The vector stores service's client of the files service (shared with the runs engine).

pub use assistd_common::files_client::Files;
