//! The `runs` and `run_steps` tables. The runs table is also the work queue: a run
//! waiting for a worker is `queued` with no lease; a worker takes it by setting
//! `lease_owner` and `lease_expires_at`, and renews the lease while it works. Queries
//! made for a caller start from the project; the queue's are across projects and carry
//! the project back with each run.

mod entity;

use assistd_common::json::{from_column as from_json, to_column as to_json};
use assistd_common::metadata::Metadata;
use assistd_common::page::{Page, PageRequest};
use assistd_common::{Project, ServiceError, ServiceResult};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, FromQueryResult,
    IntoActiveModel, NotSet, QueryFilter, QueryOrder, Select, Statement,
};

use crate::domain::{Run, RunStatus, RunStep, StepStatus, Usage};
pub use entity::{run, step};

impl TryFrom<run::Model> for Run {
    type Error = ServiceError;

    fn try_from(m: run::Model) -> ServiceResult<Self> {
        Ok(Run {
            status: RunStatus::parse(&m.status)
                .ok_or_else(|| ServiceError::internal("reading a run", format!("unknown status {}", m.status)))?,
            spec: from_json(&m.spec)?,
            metadata: from_json(&m.metadata)?,
            usage: Usage {
                prompt_tokens: m.prompt_tokens.unwrap_or(0) as u64,
                completion_tokens: m.completion_tokens.unwrap_or(0) as u64,
            },
            required_action: m.required_action.as_deref().map(from_json).transpose()?,
            last_error: m.last_error.as_deref().map(from_json).transpose()?,
            id: m.id,
            created_at: m.created_at,
            thread_id: m.thread_id,
            assistant_id: m.assistant_id,
            started_at: m.started_at,
            expires_at: m.expires_at,
            cancelled_at: m.cancelled_at,
            failed_at: m.failed_at,
            completed_at: m.completed_at,
            incomplete_reason: m.incomplete_reason,
        })
    }
}

fn run_model(project_id: &str, r: &Run) -> run::Model {
    run::Model {
        id: r.id.clone(),
        project_id: project_id.to_owned(),
        thread_id: r.thread_id.clone(),
        assistant_id: r.assistant_id.clone(),
        created_at: r.created_at,
        status: r.status.as_str().to_owned(),
        active_thread: r.status.is_active().then(|| r.thread_id.clone()),
        spec: to_json(&r.spec),
        metadata: to_json(&r.metadata),
        started_at: r.started_at,
        expires_at: r.expires_at,
        cancelled_at: r.cancelled_at,
        failed_at: r.failed_at,
        completed_at: r.completed_at,
        prompt_tokens: Some(r.usage.prompt_tokens as i64),
        completion_tokens: Some(r.usage.completion_tokens as i64),
        required_action: r.required_action.as_ref().map(to_json),
        last_error: r.last_error.as_ref().map(to_json),
        incomplete_reason: r.incomplete_reason.clone(),
        lease_owner: None,
        lease_expires_at: None,
        attempts: 0,
    }
}

impl TryFrom<step::Model> for RunStep {
    type Error = ServiceError;

    fn try_from(m: step::Model) -> ServiceResult<Self> {
        Ok(RunStep {
            status: StepStatus::parse(&m.status)
                .ok_or_else(|| ServiceError::internal("reading a run step", format!("unknown status {}", m.status)))?,
            details: from_json(&m.details)?,
            last_error: m.last_error.as_deref().map(from_json).transpose()?,
            usage: match (m.prompt_tokens, m.completion_tokens) {
                (Some(p), Some(c)) => Some(Usage { prompt_tokens: p as u64, completion_tokens: c as u64 }),
                _ => None,
            },
            metadata: from_json(&m.metadata)?,
            id: m.id,
            created_at: m.created_at,
            run_id: m.run_id,
            thread_id: m.thread_id,
            assistant_id: m.assistant_id,
            expired_at: m.expired_at,
            cancelled_at: m.cancelled_at,
            failed_at: m.failed_at,
            completed_at: m.completed_at,
        })
    }
}

fn step_model(project_id: &str, s: &RunStep) -> step::Model {
    step::Model {
        id: s.id.clone(),
        project_id: project_id.to_owned(),
        run_id: s.run_id.clone(),
        thread_id: s.thread_id.clone(),
        assistant_id: s.assistant_id.clone(),
        created_at: s.created_at,
        status: s.status.as_str().to_owned(),
        details: to_json(&s.details),
        last_error: s.last_error.as_ref().map(to_json),
        expired_at: s.expired_at,
        cancelled_at: s.cancelled_at,
        failed_at: s.failed_at,
        completed_at: s.completed_at,
        prompt_tokens: s.usage.map(|u| u.prompt_tokens as i64),
        completion_tokens: s.usage.map(|u| u.completion_tokens as i64),
        metadata: to_json(&s.metadata),
    }
}

pub use assistd_common::Lease;

impl run::Model {
    fn set_lease(&mut self, lease: Option<&Lease>) {
        self.lease_owner = lease.map(|l| l.owner.clone());
        self.lease_expires_at = lease.map(|l| l.until_ms);
    }
}

/// The 400 for a second run on a thread that has an active one.
pub fn thread_busy(thread_id: &str, active: Option<&str>) -> ServiceError {
    ServiceError::invalid(
        "thread_id",
        match active {
            Some(id) => format!("Thread {thread_id} already has an active run {id}."),
            None => format!("Thread {thread_id} already has an active run."),
        },
    )
}

/// A run with the project it belongs to (from the queue, which spans projects).
pub type OwnedRun = (Project, Run);

fn owned(m: run::Model) -> ServiceResult<OwnedRun> {
    let project = Project(m.project_id.clone());
    Ok((project, Run::try_from(m)?))
}

/// Storage of runs and steps.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// Storage on `db` (migrated).
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    fn runs(project: &Project) -> Select<run::Entity> {
        run::Entity::find().filter(run::Column::ProjectId.eq(project.id()))
    }

    fn steps(project: &Project) -> Select<step::Entity> {
        step::Entity::find().filter(step::Column::ProjectId.eq(project.id()))
    }

    /// Inserts a new run, leased to `lease` (owner, until unix ms) when this process
    /// executes it itself. A thread holds one active run: a second is a 400.
    pub async fn insert_run(&self, project: &Project, r: &Run, lease: Option<&Lease>) -> ServiceResult<()> {
        let mut m = run_model(project.id(), r);
        m.set_lease(lease);
        match run::Entity::insert(m.into_active_model()).exec_without_returning(&self.db).await {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                let active = self.active_run(project, &r.thread_id).await?;
                Err(thread_busy(&r.thread_id, active.as_deref()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The id of the thread's active run, if any.
    pub async fn active_run(&self, project: &Project, thread_id: &str) -> ServiceResult<Option<String>> {
        use sea_orm::QuerySelect;
        Ok(Self::runs(project)
            .filter(run::Column::ActiveThread.eq(thread_id))
            .select_only()
            .column(run::Column::Id)
            .into_tuple()
            .one(&self.db)
            .await?)
    }

    /// The run, if it exists in the thread and project.
    pub async fn get_run(&self, project: &Project, thread_id: &str, id: &str) -> ServiceResult<Option<Run>> {
        Self::runs(project)
            .filter(run::Column::ThreadId.eq(thread_id))
            .filter(run::Column::Id.eq(id))
            .one(&self.db)
            .await?
            .map(Run::try_from)
            .transpose()
    }

    /// A page of a thread's runs.
    pub async fn list_runs(&self, project: &Project, thread_id: &str, page: &PageRequest) -> ServiceResult<Page<Run>> {
        let q = Self::runs(project).filter(run::Column::ThreadId.eq(thread_id));
        let rows = page.apply(q, run::Column::Id).all(&self.db).await?;
        Ok(page.finish(rows.into_iter().map(Run::try_from).collect::<ServiceResult<Vec<_>>>()?))
    }

    /// Writes the run's state if its stored status is one of `expect`; false when it
    /// was not (someone else moved it first). `lease` sets (owner, until ms) or, when
    /// `None`, clears the lease. Only what the engine owns is written (status,
    /// timestamps, usage, errors, the required action): never `metadata`, which a
    /// client may change while the run goes on (the spec is fixed at creation).
    ///
    /// `held_by` names the lease owner the write requires: a drive writes only while
    /// it holds the run, so one whose lease lapsed (and whose run the reaper queued
    /// again) cannot overwrite what the next drive does.
    pub async fn save_run(
        &self,
        project: &Project,
        r: &Run,
        expect: &[RunStatus],
        lease: Option<&Lease>,
        held_by: Option<&str>,
    ) -> ServiceResult<bool> {
        let mut m = run_model(project.id(), r);
        m.set_lease(lease);
        let mut am = m.into_active_model().reset_all();
        am.id = NotSet;
        am.project_id = NotSet;
        am.thread_id = NotSet;
        am.assistant_id = NotSet;
        am.created_at = NotSet;
        am.spec = NotSet;
        am.metadata = NotSet;
        am.attempts = NotSet;
        let mut update = run::Entity::update_many()
            .set(am)
            .filter(run::Column::ProjectId.eq(project.id()))
            .filter(run::Column::Id.eq(r.id.as_str()))
            .filter(run::Column::Status.is_in(expect.iter().map(|s| s.as_str())));
        if let Some(owner) = held_by {
            update = update.filter(run::Column::LeaseOwner.eq(owner));
        }
        let res = update.exec(&self.db).await;
        match res {
            Ok(res) => Ok(res.rows_affected > 0),
            Err(e) if is_unique_violation(&e) => Err(thread_busy(&r.thread_id, None)),
            Err(e) => Err(e.into()),
        }
    }

    /// Cancels a queued run no worker has claimed; false when it was claimed (or is
    /// no longer queued).
    pub async fn cancel_unclaimed(&self, project: &Project, run_id: &str, now: i64) -> ServiceResult<bool> {
        let res = run::Entity::update_many()
            .col_expr(run::Column::Status, Expr::value(RunStatus::Cancelled.as_str()))
            .col_expr(run::Column::CancelledAt, Expr::value(now))
            .col_expr(run::Column::ExpiresAt, Expr::value(Option::<i64>::None))
            .col_expr(run::Column::ActiveThread, Expr::value(Option::<String>::None))
            .filter(run::Column::ProjectId.eq(project.id()))
            .filter(run::Column::Id.eq(run_id))
            .filter(run::Column::Status.eq(RunStatus::Queued.as_str()))
            .filter(run::Column::LeaseOwner.is_null())
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// Moves a run from `from` to the active status `to`, keeping everything else.
    pub async fn set_status(
        &self,
        project: &Project,
        run_id: &str,
        from: RunStatus,
        to: RunStatus,
    ) -> ServiceResult<bool> {
        debug_assert!(to.is_active());
        let res = run::Entity::update_many()
            .col_expr(run::Column::Status, Expr::value(to.as_str()))
            .filter(run::Column::ProjectId.eq(project.id()))
            .filter(run::Column::Id.eq(run_id))
            .filter(run::Column::Status.eq(from.as_str()))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// The run's stored metadata (the engine's copy may be older: a client can
    /// change it while the run goes on).
    pub async fn run_metadata(&self, project: &Project, run_id: &str) -> ServiceResult<Option<Metadata>> {
        use sea_orm::QuerySelect;
        let stored: Option<String> = Self::runs(project)
            .filter(run::Column::Id.eq(run_id))
            .select_only()
            .column(run::Column::Metadata)
            .into_tuple()
            .one(&self.db)
            .await?;
        stored.as_deref().map(from_json).transpose()
    }

    /// Writes a run's metadata.
    pub async fn set_run_metadata(&self, project: &Project, r: &Run) -> ServiceResult<()> {
        run::Entity::update_many()
            .col_expr(run::Column::Metadata, Expr::value(to_json(&r.metadata)))
            .filter(run::Column::ProjectId.eq(project.id()))
            .filter(run::Column::Id.eq(r.id.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Takes the oldest queued run nobody holds, leasing it as `lease` says. PostgreSQL skips rows other workers are locking; SQLite serialises
    /// writers, so the single statement is atomic there too.
    pub async fn claim(&self, lease: &Lease) -> ServiceResult<Option<OwnedRun>> {
        let backend = self.db.get_database_backend();
        let returning = assistd_common::db::returning::<run::Entity>();
        let base = match backend {
            DatabaseBackend::Postgres => {
                "UPDATE runs SET lease_owner = $1, lease_expires_at = $2 WHERE id = (SELECT id FROM runs \
                 WHERE status = 'queued' AND lease_owner IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 AND lease_owner IS NULL RETURNING "
            }
            _ => {
                "UPDATE runs SET lease_owner = $1, lease_expires_at = $2 WHERE id = (SELECT id FROM runs \
                 WHERE status = 'queued' AND lease_owner IS NULL ORDER BY id LIMIT 1) \
                 AND lease_owner IS NULL RETURNING "
            }
        };
        let sql = format!("{base}{returning}");
        let stmt = Statement::from_sql_and_values(backend, &sql, [lease.owner.clone().into(), lease.until_ms.into()]);
        let row = self.db.query_one_raw(stmt).await?;
        row.map(|row| run::Model::from_query_result(&row, "").map_err(ServiceError::from).and_then(owned)).transpose()
    }

    /// Extends the lease's owner's hold on a run to the lease's end; returns the run's
    /// status, or `None` when the run is no longer held by that owner.
    pub async fn renew(&self, run_id: &str, lease: &Lease) -> ServiceResult<Option<RunStatus>> {
        let res = run::Entity::update_many()
            .col_expr(run::Column::LeaseExpiresAt, Expr::value(lease.until_ms))
            .filter(run::Column::Id.eq(run_id))
            .filter(run::Column::LeaseOwner.eq(lease.owner.as_str()))
            .exec(&self.db)
            .await?;
        if res.rows_affected == 0 {
            return Ok(None);
        }
        use sea_orm::QuerySelect;
        let status: Option<String> = run::Entity::find()
            .filter(run::Column::Id.eq(run_id))
            .select_only()
            .column(run::Column::Status)
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(status.as_deref().and_then(RunStatus::parse))
    }

    /// Takes a run whose holder's lease ran out before `now_ms`, leasing it to `lease`
    /// (the reaper), so that one process alone decides what becomes of it. Returns how
    /// many times it was queued again before, or `None` when it is no longer lapsed.
    pub async fn take_lapsed(&self, run_id: &str, lease: &Lease, now_ms: i64) -> ServiceResult<Option<u32>> {
        let backend = self.db.get_database_backend();
        let sql = "UPDATE runs SET lease_owner = $1, lease_expires_at = $2 WHERE id = $3 \
                   AND lease_owner IS NOT NULL AND lease_expires_at < $4 \
                   AND status IN ('queued', 'in_progress', 'cancelling') RETURNING attempts";
        let stmt = Statement::from_sql_and_values(
            backend,
            sql,
            [lease.owner.clone().into(), lease.until_ms.into(), run_id.into(), now_ms.into()],
        );
        let row = self.db.query_one_raw(stmt).await?;
        row.map(|r| r.try_get::<i32>("", "attempts").map(|n| n.max(0) as u32).map_err(ServiceError::from)).transpose()
    }

    /// Queues a run held by `owner` again for any worker, counting the attempt; false
    /// when `owner` no longer holds it or it is no longer queued or in progress.
    pub async fn requeue(&self, run_id: &str, owner: &str) -> ServiceResult<bool> {
        let res = run::Entity::update_many()
            .col_expr(run::Column::Status, Expr::value(RunStatus::Queued.as_str()))
            .col_expr(run::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(run::Column::LeaseExpiresAt, Expr::value(Option::<i64>::None))
            .col_expr(run::Column::Attempts, sea_orm::sea_query::ExprTrait::add(Expr::col(run::Column::Attempts), 1))
            .filter(run::Column::Id.eq(run_id))
            .filter(run::Column::LeaseOwner.eq(owner))
            .filter(run::Column::Status.is_in([RunStatus::Queued.as_str(), RunStatus::InProgress.as_str()]))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// Runs whose holder's lease ran out before `now_ms` while they were not done.
    pub async fn lapsed(&self, now_ms: i64) -> ServiceResult<Vec<OwnedRun>> {
        let rows = run::Entity::find()
            .filter(run::Column::LeaseOwner.is_not_null())
            .filter(run::Column::LeaseExpiresAt.lt(now_ms))
            .filter(
                run::Column::Status
                    .is_in([RunStatus::Queued, RunStatus::InProgress, RunStatus::Cancelling].map(RunStatus::as_str)),
            )
            .order_by_asc(run::Column::Id)
            .all(&self.db)
            .await?;
        rows.into_iter().map(owned).collect()
    }

    /// Runs waiting for tool outputs past their `expires_at`.
    pub async fn overdue(&self, now: i64) -> ServiceResult<Vec<OwnedRun>> {
        let rows = run::Entity::find()
            .filter(run::Column::Status.eq(RunStatus::RequiresAction.as_str()))
            .filter(run::Column::ExpiresAt.lt(now))
            .order_by_asc(run::Column::Id)
            .all(&self.db)
            .await?;
        rows.into_iter().map(owned).collect()
    }

    /// Inserts a step.
    pub async fn insert_step(&self, project: &Project, s: &RunStep) -> ServiceResult<()> {
        step::Entity::insert(step_model(project.id(), s).into_active_model()).exec_without_returning(&self.db).await?;
        Ok(())
    }

    /// Writes a step's state (not its metadata, which the engine never changes).
    pub async fn save_step(&self, project: &Project, s: &RunStep) -> ServiceResult<()> {
        let mut am = step_model(project.id(), s).into_active_model().reset_all();
        am.id = NotSet;
        am.project_id = NotSet;
        am.run_id = NotSet;
        am.thread_id = NotSet;
        am.assistant_id = NotSet;
        am.created_at = NotSet;
        am.metadata = NotSet;
        step::Entity::update_many()
            .set(am)
            .filter(step::Column::ProjectId.eq(project.id()))
            .filter(step::Column::Id.eq(s.id.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The step, if it exists in the run.
    pub async fn get_step(&self, project: &Project, run_id: &str, id: &str) -> ServiceResult<Option<RunStep>> {
        Self::steps(project)
            .filter(step::Column::RunId.eq(run_id))
            .filter(step::Column::Id.eq(id))
            .one(&self.db)
            .await?
            .map(RunStep::try_from)
            .transpose()
    }

    /// A page of a run's steps.
    pub async fn list_steps(
        &self,
        project: &Project,
        run_id: &str,
        page: &PageRequest,
    ) -> ServiceResult<Page<RunStep>> {
        let q = Self::steps(project).filter(step::Column::RunId.eq(run_id));
        let rows = page.apply(q, step::Column::Id).all(&self.db).await?;
        Ok(page.finish(rows.into_iter().map(RunStep::try_from).collect::<ServiceResult<Vec<_>>>()?))
    }

    /// All of a run's steps, oldest first.
    pub async fn all_steps(&self, project: &Project, run_id: &str) -> ServiceResult<Vec<RunStep>> {
        let rows = Self::steps(project)
            .filter(step::Column::RunId.eq(run_id))
            .order_by_asc(step::Column::Id)
            .all(&self.db)
            .await?;
        rows.into_iter().map(RunStep::try_from).collect()
    }
}

fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}
