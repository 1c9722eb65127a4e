//! What the API reads of runs and steps, and the one field clients write (a run's
//! `metadata`). Reads are scoped to the project and the thread; a run or step that is
//! not there is a 404.

use assistd_common::metadata::{self, Metadata};
use assistd_common::page::{Page, PageRequest};
use assistd_common::{Project, ServiceError, ServiceResult};

use super::Engine;
use crate::domain::{Run, RunStep};
use crate::peers::Caller;

impl Engine {
    /// The model names runs can use (the model map, then the default backend's list).
    pub async fn list_models(&self) -> Vec<crate::model::ModelInfo> {
        self.inner.models.list().await
    }

    /// The run `run_id` of thread `thread_id`.
    pub async fn get_run(&self, project: &Project, thread_id: &str, run_id: &str) -> ServiceResult<Run> {
        self.inner
            .store
            .get_run(project, thread_id, run_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("run", run_id))
    }

    /// A page of the runs of thread `thread_id`; an empty page is a 404 when the
    /// thread does not exist for the caller.
    pub async fn list_runs(&self, caller: &Caller, thread_id: &str, page: &PageRequest) -> ServiceResult<Page<Run>> {
        let result = self.inner.store.list_runs(&caller.project, thread_id, page).await?;
        if result.data.is_empty() {
            self.inner.peers.thread(caller, thread_id).await?;
        }
        Ok(result)
    }

    /// Replaces the metadata of run `run_id` (checked against the metadata limits) and
    /// returns the run. Only the client writes metadata: the engine's saves leave it
    /// alone, so this holds even while the run executes.
    pub async fn set_run_metadata(
        &self,
        project: &Project,
        thread_id: &str,
        run_id: &str,
        metadata: Metadata,
    ) -> ServiceResult<Run> {
        let mut run = self.get_run(project, thread_id, run_id).await?;
        metadata::validate("metadata", &metadata)?;
        run.metadata = metadata;
        self.inner.store.set_run_metadata(project, &run).await?;
        Ok(run)
    }

    /// A page of the steps of run `run_id` of thread `thread_id`.
    pub async fn list_steps(
        &self,
        project: &Project,
        thread_id: &str,
        run_id: &str,
        page: &PageRequest,
    ) -> ServiceResult<Page<RunStep>> {
        self.get_run(project, thread_id, run_id).await?;
        self.inner.store.list_steps(project, run_id, page).await
    }

    /// Step `step_id` of run `run_id` of thread `thread_id`.
    pub async fn get_step(
        &self,
        project: &Project,
        thread_id: &str,
        run_id: &str,
        step_id: &str,
    ) -> ServiceResult<RunStep> {
        self.get_run(project, thread_id, run_id).await?;
        self.inner
            .store
            .get_step(project, run_id, step_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("run step", step_id))
    }
}
