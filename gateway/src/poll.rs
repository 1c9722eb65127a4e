//! `openai-poll-after-ms`: how long a client polling an object should wait before it
//! asks again. OpenAI sends it on run, run step, vector store file and file batch
//! retrievals, and the SDKs' `…_and_poll` helpers sleep exactly that long (the Node
//! SDK waits 5 s when it is missing). The value follows the object's state: short
//! while a run starts or works, longer while it waits for the client or is done.

use assistd_proto::pb;
use axum::http::{HeaderName, HeaderValue};

/// The header's name.
pub const HEADER: HeaderName = HeaderName::from_static("openai-poll-after-ms");

/// While something is starting or about to change (a queued run, a cancel).
pub const STARTING_MS: u32 = 100;
/// While a run or step works.
pub const WORKING_MS: u32 = 250;
/// While files are indexed (seconds of work per file).
pub const INDEXING_MS: u32 = 500;
/// While the object waits for the client, or will not change again.
pub const IDLE_MS: u32 = 1000;

/// The header for a wait of `ms`.
pub fn header(ms: u32) -> (HeaderName, HeaderValue) {
    (HEADER, HeaderValue::from(ms))
}

/// For a run in `status` (a `pb::RunStatus` value).
pub fn run(status: i32) -> u32 {
    match pb::RunStatus::try_from(status) {
        Ok(pb::RunStatus::Queued | pb::RunStatus::Cancelling) => STARTING_MS,
        Ok(pb::RunStatus::InProgress) => WORKING_MS,
        _ => IDLE_MS,
    }
}

/// For a run step in `status` (a `pb::RunStepStatus` value).
pub fn step(status: i32) -> u32 {
    match pb::RunStepStatus::try_from(status) {
        Ok(pb::RunStepStatus::InProgress) => WORKING_MS,
        _ => IDLE_MS,
    }
}

/// For a vector store file or file batch in `status` (a `pb::VectorStoreFileStatus`).
pub fn indexing(status: i32) -> u32 {
    match pb::VectorStoreFileStatus::try_from(status) {
        Ok(pb::VectorStoreFileStatus::InProgress) => INDEXING_MS,
        _ => IDLE_MS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_state() {
        assert_eq!(run(pb::RunStatus::Queued as i32), STARTING_MS);
        assert_eq!(run(pb::RunStatus::InProgress as i32), WORKING_MS);
        assert_eq!(run(pb::RunStatus::RequiresAction as i32), IDLE_MS);
        assert_eq!(run(pb::RunStatus::Completed as i32), IDLE_MS);
        assert_eq!(step(pb::RunStepStatus::InProgress as i32), WORKING_MS);
        assert_eq!(indexing(pb::VectorStoreFileStatus::InProgress as i32), INDEXING_MS);
        assert_eq!(indexing(pb::VectorStoreFileStatus::Completed as i32), IDLE_MS);
        assert_eq!(header(250).1, "250");
    }
}
