//! What one cell and one session may use. Each has a default fit for a laptop and a
//! setting (docs/configuration.md).

use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Wall time of one cell; past it the session is ended.
    pub wall_time: Duration,
    /// CPU time of a session's processes over its life.
    pub cpu_time: Duration,
    /// Address space of each process in a session.
    pub memory_bytes: u64,
    /// Processes and threads a session may have at once.
    pub processes: u64,
    /// The largest file a session may write.
    pub file_bytes: u64,
    /// Everything under `/mnt/data` together (a tmpfs of this size).
    pub data_bytes: u64,
    /// The session's private `/tmp` (a tmpfs of this size).
    pub tmp_bytes: u64,
    /// stdout and stderr kept from one cell; the rest is dropped, with a marker.
    pub output_bytes: u64,
    /// A session unused this long is ended.
    pub idle: Duration,
    /// Sessions open at once in this process.
    pub max_sessions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            wall_time: Duration::from_secs(30),
            cpu_time: Duration::from_secs(600),
            memory_bytes: 2 << 30,
            processes: 64,
            file_bytes: 256 << 20,
            data_bytes: 512 << 20,
            tmp_bytes: 64 << 20,
            output_bytes: 64 << 10,
            idle: Duration::from_secs(20 * 60),
            max_sessions: 32,
        }
    }
}
