//! The local sandbox: each session is a Python driver in bubblewrap on this machine.

mod cgroup;
mod process;
mod spawn;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tracing::Instrument;

use self::cgroup::Cgroups;
use self::process::Process;
pub use self::spawn::{Runtime, SANDBOX_UID, default_python};
use crate::{Cell, Execution, InputFile, Limits, Outcome, Sandbox, SandboxError, SandboxResult, SessionKey};

pub struct LocalSandbox {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Result<Runtime, String>,
    limits: Limits,
    cgroups: Option<Cgroups>,
    sessions: Mutex<HashMap<SessionKey, Arc<Slot>>>,
}

/// A session: its process (none before the first cell, or after one ended it), taken out
/// while a cell runs so that a dropped cell kills it.
struct Slot {
    process: tokio::sync::Mutex<Option<Process>>,
    used: Mutex<Instant>,
}

impl LocalSandbox {
    /// A sandbox running `python` (a virtualenv or an interpreter) in `bwrap` (default:
    /// from `PATH`). What is missing is logged as a warning now and returned by every
    /// `execute` as `Unavailable`.
    pub fn new(bwrap: Option<PathBuf>, python: &Path, limits: Limits) -> Self {
        let runtime = Runtime::new(bwrap, python);
        if let Err(why) = &runtime {
            tracing::warn!("code_interpreter is unavailable: {why}");
        }
        let cgroups = if spawn::is_root() { Cgroups::detect() } else { None };
        if spawn::is_root() && cgroups.is_none() && runtime.is_ok() {
            tracing::warn!(
                "running as root without a writable pids cgroup: a sandbox session's process count is not bounded"
            );
        }
        let inner = Arc::new(Inner { runtime, limits, cgroups, sessions: Mutex::new(HashMap::new()) });
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(reap(Arc::downgrade(&inner)));
        }
        Self { inner }
    }

    /// Whether sessions can start here, and if not, why.
    pub fn available(&self) -> Result<(), String> {
        self.inner.runtime.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// Sessions open (with a live process) now.
    pub fn open_sessions(&self) -> usize {
        self.inner.sessions.lock().map(|s| s.len()).unwrap_or(0)
    }
}

#[async_trait]
impl Sandbox for LocalSandbox {
    async fn execute(&self, cell: Cell) -> SandboxResult<Execution> {
        let span = tracing::info_span!("sandbox.execute", session = %cell.session, outcome = tracing::field::Empty);
        let started = Instant::now();
        let result = self.inner.execute(cell).instrument(span.clone()).await;
        let outcome = match &result {
            Ok(e) => e.outcome.as_str(),
            Err(SandboxError::MissingFiles(_)) => "missing_files",
            Err(_) => "error",
        };
        span.record("outcome", outcome);
        metrics::counter!("assistd_sandbox_executions_total", "outcome" => outcome).increment(1);
        metrics::histogram!("assistd_sandbox_execution_seconds").record(started.elapsed().as_secs_f64());
        result
    }

    async fn close(&self, session: &SessionKey) {
        let slot = self.inner.sessions.lock().ok().and_then(|mut s| s.remove(session));
        self.inner.gauge();
        if let Some(slot) = slot
            && let Some(process) = slot.process.lock().await.take()
        {
            process.end().await;
        }
    }
}

impl Inner {
    async fn execute(&self, cell: Cell) -> SandboxResult<Execution> {
        let runtime = self.runtime.as_ref().map_err(|why| SandboxError::Unavailable(why.clone()))?;
        let files = checked_files(&cell.files, self.limits.data_bytes)?;
        let slot = self.slot(&cell.session)?;
        let mut guard = slot.process.lock().await;
        *slot.used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();

        let mut process = match guard.take().and_then(|mut p| p.alive().then_some(p)) {
            Some(p) => p,
            None => Process::start(runtime, &self.limits, self.cgroups.as_ref()).await?,
        };
        let have: HashSet<&str> = process.files.iter().chain(files.iter().map(|f| &f.id)).map(String::as_str).collect();
        let missing: Vec<String> = cell.expect.iter().filter(|id| !have.contains(id.as_str())).cloned().collect();
        if !missing.is_empty() {
            *guard = Some(process);
            return Err(SandboxError::MissingFiles(missing));
        }
        let new: Vec<InputFile> = files.into_iter().filter(|f| !process.files.contains(&f.id)).collect();
        if !new.is_empty()
            && let Err(e) = process.put(&new).await
        {
            let why = process.end().await;
            return Err(SandboxError::Internal(format!("{e} ({why})")));
        }

        // `process` is owned by this future while the cell runs: dropping the future
        // (a cancelled run) drops it, which kills it
        let wall = self.limits.wall_time;
        let execution = match tokio::time::timeout(wall, process.exec(&cell.code)).await {
            Err(_) => {
                process.end().await;
                ended(Outcome::TimedOut, format!("execution timed out after {}", seconds(wall)))
            }
            Ok(Err(_)) => {
                let why = process.end().await;
                ended(Outcome::Ended, why)
            }
            Ok(Ok(reply)) => {
                let mut logs = reply.logs.clone();
                if reply.truncated {
                    logs.push_str(&format!("\n[output truncated: more than {} bytes]", self.limits.output_bytes));
                }
                let outcome = match &reply.fatal {
                    Some(why) => {
                        logs.push_str(why);
                        Outcome::Failed
                    }
                    None if reply.error => Outcome::Failed,
                    None => Outcome::Completed,
                };
                let execution = Execution { outcome, logs, images: reply.images(), files: reply.files() };
                *guard = Some(process);
                execution
            }
        };
        *slot.used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        Ok(execution)
    }

    /// The session's slot, made if new and there is room.
    fn slot(&self, key: &SessionKey) -> SandboxResult<Arc<Slot>> {
        let mut sessions = self.sessions.lock().map_err(|_| SandboxError::Internal("poisoned".into()))?;
        if let Some(slot) = sessions.get(key) {
            return Ok(slot.clone());
        }
        if sessions.len() >= self.limits.max_sessions {
            evict_idle(&mut sessions, self.limits.idle);
        }
        if sessions.len() >= self.limits.max_sessions {
            return Err(SandboxError::Busy(format!(
                "too many code interpreter sessions are open ({}); try again later",
                self.limits.max_sessions
            )));
        }
        let slot = Arc::new(Slot { process: tokio::sync::Mutex::new(None), used: Mutex::new(Instant::now()) });
        sessions.insert(key.clone(), slot.clone());
        metrics::gauge!("assistd_sandbox_sessions").set(sessions.len() as f64);
        Ok(slot)
    }

    fn gauge(&self) {
        if let Ok(sessions) = self.sessions.lock() {
            metrics::gauge!("assistd_sandbox_sessions").set(sessions.len() as f64);
        }
    }
}

/// Removes sessions unused for `idle` that no cell holds; their processes end when
/// dropped.
fn evict_idle(sessions: &mut HashMap<SessionKey, Arc<Slot>>, idle: Duration) {
    sessions.retain(|_, slot| {
        let used = *slot.used.lock().unwrap_or_else(|e| e.into_inner());
        used.elapsed() < idle || slot.process.try_lock().is_err()
    });
}

/// Ends idle sessions now and then, for as long as the sandbox exists.
async fn reap(inner: Weak<Inner>) {
    loop {
        let Some(idle) = inner.upgrade().map(|i| i.limits.idle) else { return };
        tokio::time::sleep((idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(30))).await;
        let Some(inner) = inner.upgrade() else { return };
        if let Ok(mut sessions) = inner.sessions.lock() {
            evict_idle(&mut sessions, idle);
        }
        inner.gauge();
    }
}

/// The input files with safe names (the last part of the name, never `.` or `..`), and
/// not more than `/mnt/data` holds.
fn checked_files(files: &[InputFile], max: u64) -> SandboxResult<Vec<InputFile>> {
    let total: u64 = files.iter().map(|f| f.data.len() as u64).sum();
    if total > max {
        return Err(SandboxError::Invalid(format!(
            "the input files ({total} bytes) do not fit in the sandbox's /mnt/data ({max} bytes)"
        )));
    }
    files
        .iter()
        .map(|f| {
            let name = f.name.rsplit('/').next().unwrap_or_default().replace('\0', "");
            if name.is_empty() || name == "." || name == ".." {
                return Err(SandboxError::Invalid(format!("the file name {:?} cannot be used in /mnt/data", f.name)));
            }
            Ok(InputFile { name, ..f.clone() })
        })
        .collect()
}

fn ended(outcome: Outcome, logs: String) -> Execution {
    Execution { outcome, logs, images: vec![], files: vec![] }
}

fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{} s", d.as_secs()) } else { format!("{:.1} s", d.as_secs_f64()) }
}
