//! The run engine: it drives a run from `queued` to an end (or to `requires_action`),
//! calling the model, streaming its answer into a message and steps, and keeping all
//! state in the database between steps, so that any replica can resume a run.
//!
//! - [`Engine::drive`] executes one run that this process holds the lease of.
//! - [`Engine::spawn_workers`] claims queued runs from the database (bounded
//!   concurrency) and reaps runs whose worker stopped renewing its lease, and runs
//!   waiting for tool outputs past their `expires_at`.
//! - [`Engine::create`], [`Engine::create_streamed`], [`Engine::cancel`],
//!   [`Engine::submit`] and [`Engine::submit_streamed`] are the state-changing
//!   operations of the API (`ops.rs`); reads of runs and steps are in `reads.rs`.
//!
//! The engine speaks domain: runs, steps and the [`RunEvent`]s of a streamed run are
//! plain Rust values, errors are [`assistd_common::ServiceError`]s; the records of its
//! peers (threads, messages, assistants) stay as those services send them. The
//! transports convert (`grpc/convert.rs`).

pub mod code;
pub mod events;
pub mod file_search;
pub mod images;
pub mod models;
mod ops;
pub mod prompt;
mod reads;
mod turn;
mod workers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use assistd_common::Project;
use tokio_util::sync::CancellationToken;

pub use self::events::{CallDelta, Emitter, EventStream, MessageEvent, RunEvent, StepDelta};
pub use self::models::Models;
pub use self::ops::{NewRun, RunRequest, ToolOutput};
pub use self::workers::MAX_ATTEMPTS;
use crate::peers::Peers;
use crate::store::Store;

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How long a worker's claim on a run lasts without renewal; a worker renews it
    /// every third of this.
    pub lease: Duration,
    /// How often idle workers look for queued runs (runs queued in this process wake
    /// them at once) and the reaper looks for lapsed leases.
    pub poll: Duration,
    /// Most runs one process executes from the queue at once.
    pub concurrency: usize,
    /// Most model calls in one drive of a run.
    pub max_turns: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { lease: Duration::from_secs(30), poll: Duration::from_secs(1), concurrency: 16, max_turns: 8 }
    }
}

/// The run engine (cheap to clone).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    peers: Peers,
    models: Models,
    cfg: EngineConfig,
    /// This process's name as a lease owner.
    owner: String,
    /// Runs executing here, to stop at once when cancelled.
    running: Mutex<HashMap<String, CancellationToken>>,
    /// Wakes idle workers when a run is queued in this process.
    wake: tokio::sync::Notify,
    /// Stops the workers (not the runs they hold).
    stopping: CancellationToken,
    /// Ends the runs still executing here: the process is going away.
    shutting_down: CancellationToken,
}

pub use assistd_common::time::now_ms;

impl Engine {
    /// An engine over `store`, calling `peers` and `models`.
    pub fn new(store: Store, peers: Peers, models: Models, cfg: EngineConfig) -> Self {
        let owner = format!("{}-{}", hostname(), assistd_common::ids::new_ulid());
        Self {
            inner: Arc::new(Inner {
                store,
                peers,
                models,
                cfg,
                owner,
                running: Mutex::new(HashMap::new()),
                wake: tokio::sync::Notify::new(),
                stopping: CancellationToken::new(),
                shutting_down: CancellationToken::new(),
            }),
        }
    }

    fn hold(&self) -> crate::store::Lease {
        crate::store::Lease::for_next(&self.inner.owner, self.inner.cfg.lease)
    }

    /// Stops claiming new runs (runs already executing go on).
    pub fn stop_workers(&self) {
        self.inner.stopping.cancel();
    }

    /// For a process that is stopping: claims no more runs, lets the runs executing
    /// here finish for up to `grace`, then ends those still going as `failed`
    /// (`server_error`, their partial messages `incomplete`) rather than leaving them
    /// to lapse, waiting a few seconds for that to be recorded. Returns how many
    /// runs it had to end.
    pub async fn shutdown(&self, grace: Duration) -> usize {
        self.stop_workers();
        let running = || self.inner.running.lock().unwrap_or_else(|e| e.into_inner()).len();
        let wait = |d: Duration| async move {
            let deadline = tokio::time::Instant::now() + d;
            while tokio::time::Instant::now() < deadline && running() > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        wait(grace).await;
        let n = running();
        if n > 0 {
            tracing::warn!(runs = n, "shutting down: failing the runs still executing here");
        }
        self.inner.shutting_down.cancel();
        wait(Duration::from_secs(5)).await;
        n
    }

    /// Whether the process is shutting down.
    fn shutting_down(&self) -> &CancellationToken {
        &self.inner.shutting_down
    }

    fn register(&self, run_id: &str) -> CancellationToken {
        let token = CancellationToken::new();
        self.inner.running.lock().unwrap_or_else(|e| e.into_inner()).insert(run_id.to_owned(), token.clone());
        token
    }

    fn unregister(&self, run_id: &str) {
        self.inner.running.lock().unwrap_or_else(|e| e.into_inner()).remove(run_id);
    }

    /// Stops the run at once if it executes in this process.
    fn interrupt(&self, run_id: &str) {
        if let Some(t) = self.inner.running.lock().unwrap_or_else(|e| e.into_inner()).get(run_id) {
            t.cancel();
        }
    }

    /// Executes a run this process holds the lease of, until it ends or requires
    /// action, sending its events to `emit`; ends the stream with `done`.
    pub async fn drive(&self, project: Project, run: crate::domain::Run, mut emit: Emitter) {
        use tracing::Instrument;
        let span = tracing::info_span!("run", run_id = %run.id, thread_id = %run.thread_id, model = %run.spec.model);
        let cancel = self.register(&run.id);
        let heartbeat = self.spawn_heartbeat(run.id.clone(), cancel.clone());
        turn::Exec::new(self, project, run, &mut emit, cancel).run().instrument(span).await;
        heartbeat.abort();
        emit.done().await;
    }

    /// Renews the lease while the run executes; interrupts it when it is cancelled
    /// elsewhere or the lease was lost.
    fn spawn_heartbeat(&self, run_id: String, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let every = engine.inner.cfg.lease / 3;
            loop {
                tokio::time::sleep(every).await;
                match engine.inner.store.renew(&run_id, &engine.hold()).await {
                    Ok(Some(status)) if status.is_active() && status != crate::domain::RunStatus::Cancelling => {}
                    Ok(_) => {
                        cancel.cancel();
                        return;
                    }
                    Err(e) => tracing::warn!(run_id, error = %e.message, "renewing a run lease failed"),
                }
            }
        })
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "assistd".into())
}
