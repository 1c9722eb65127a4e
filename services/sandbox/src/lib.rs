//! The code interpreter's sandbox: Python sessions that keep state between cells, run
//! in isolation from the host. Runs (and later responses) use it through [`Sandbox`]
//! and know nothing of how isolation is done; [`local::LocalSandbox`] runs sessions in
//! bubblewrap on this machine.

pub mod grpc;
pub mod limits;
pub mod local;
pub mod remote;

use async_trait::async_trait;
use bytes::Bytes;

pub use limits::Limits;

/// Whose session: a thread (runs) or a container (responses), within a project. Two keys
/// never share a session or its files.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionKey {
    pub project: String,
    pub owner: String,
}

impl SessionKey {
    pub fn new(project: &str, owner: &str) -> Self {
        Self { project: project.to_owned(), owner: owner.to_owned() }
    }
}

impl std::fmt::Display for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.project, self.owner)
    }
}

/// A file to put in the session's `/mnt/data` before the cell runs; `id` says which
/// stored file it is, so that one already there is not sent again.
#[derive(Clone, Debug)]
pub struct InputFile {
    pub id: String,
    pub name: String,
    pub data: Bytes,
}

/// A file under `/mnt/data` that the cell created or changed; `name` is its path there.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputFile {
    pub name: String,
    pub data: Bytes,
}

/// How a cell ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It ran to the end.
    Completed,
    /// It raised an exception; the traceback is at the end of the logs.
    Failed,
    /// It ran past the wall-time limit and the session was ended.
    TimedOut,
    /// The session's process ended during the cell (a limit, a signal, `kill -9 -1`).
    Ended,
}

impl Outcome {
    /// The label of the executions metric.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
            Outcome::Ended => "ended",
        }
    }
}

/// What one cell produced: everything the model is shown (`logs`: stdout and stderr in
/// order, a traceback, or the line saying which limit ended it), the matplotlib figures
/// as PNG, and the files it wrote.
#[derive(Clone, Debug)]
pub struct Execution {
    pub outcome: Outcome,
    pub logs: String,
    pub images: Vec<Bytes>,
    pub files: Vec<OutputFile>,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// No sandbox can run here (bwrap or the interpreter is missing, or the sandbox is
    /// off); the message says what to do.
    #[error("{0}")]
    Unavailable(String),
    /// As many sessions as allowed are busy.
    #[error("{0}")]
    Busy(String),
    /// The session lacks input files that the request expects: send them and ask again.
    #[error("the sandbox session lacks files {0:?}")]
    MissingFiles(Vec<String>),
    /// A request that can never run (a bad file name, too much data).
    #[error("{0}")]
    Invalid(String),
    #[error("sandbox failure: {0}")]
    Internal(String),
}

pub type SandboxResult<T> = Result<T, SandboxError>;

/// One cell for a session.
#[derive(Clone, Debug)]
pub struct Cell {
    pub session: SessionKey,
    /// The ids of every input file the session should have (the run's code_interpreter
    /// files); those it lacks and `files` does not carry come back as `MissingFiles`.
    pub expect: Vec<String>,
    pub files: Vec<InputFile>,
    pub code: String,
}

#[async_trait]
pub trait Sandbox: Send + Sync + 'static {
    /// Runs a cell in the session, starting the session if it has none. Dropping the
    /// future kills the running cell (and with it the session's state).
    async fn execute(&self, cell: Cell) -> SandboxResult<Execution>;

    /// Ends a session and forgets its files; nothing if there is none.
    async fn close(&self, session: &SessionKey);
}
