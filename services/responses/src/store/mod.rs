//! Storage of responses. Every query a client's request leads to starts from the
//! project, so another project's response is indistinguishable from a missing one. A
//! response is written when it starts (so it can be retrieved while it runs) and again
//! when it ends; one created with `store: false` is never written.
//!
//! Background responses are a queue, as runs are: `queued` rows are claimed by a worker
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL), which holds a lease it renews while it
//! works; a row whose lease lapsed is ended `failed` by the reaper. Their events are
//! kept (`response_events`) so a client can follow them from any replica.

pub mod entity;

use assistd_common::items::Item;
use assistd_common::json::{from_column as from_json, to_column as to_json};
use assistd_common::{Lease, Project, ServiceError, ServiceResult};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, FromQueryResult, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};

use crate::domain::{Response, status};
use entity::{event, response};

/// The responses tables.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
}

/// A kept response and its input.
#[derive(Debug, Clone)]
pub struct Kept {
    pub response: Response,
    pub input: Vec<Item>,
}

impl TryFrom<response::Model> for Kept {
    type Error = ServiceError;

    fn try_from(m: response::Model) -> ServiceResult<Self> {
        let response::Model { id, created_at, body, input, .. } = m;
        Ok(Kept { response: Response { id, created_at, ..from_json(&body)? }, input: from_json(&input)? })
    }
}

fn owned(m: response::Model) -> ServiceResult<(Project, Kept)> {
    let project = Project(m.project_id.clone());
    Ok((project, Kept::try_from(m)?))
}

/// What asking to cancel found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelAsked {
    /// It was queued: it is cancelled now.
    WasQueued,
    /// A worker executes it: it will stop soon.
    Running,
    /// It had ended already.
    Ended,
    /// There is no such response.
    Missing,
}

impl Store {
    /// Storage on `db` (migrated).
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Inserts a new response with its input, held by `lease` when it is executed at
    /// once (so that a replica that dies leaves it to the reaper).
    pub async fn insert(
        &self,
        project: &Project,
        r: &Response,
        input: &[Item],
        lease: Option<&Lease>,
    ) -> ServiceResult<()> {
        let row = response::Model {
            id: r.id.clone(),
            project_id: project.id().to_owned(),
            created_at: r.created_at,
            previous_response_id: r.previous_response_id.clone(),
            body: to_json(r),
            input: to_json(&input),
            status: r.status.clone(),
            lease_owner: lease.map(|l| l.owner.clone()),
            lease_expires_at: lease.map(|l| l.until_ms),
            cancel_requested: false,
        };
        response::Entity::insert(row.into_active_model()).exec_without_returning(&self.db).await?;
        Ok(())
    }

    /// Writes the response's current state (its input does not change); an ended
    /// response lets go of its lease.
    pub async fn update(&self, project: &Project, r: &Response) -> ServiceResult<()> {
        let mut q = response::Entity::update_many()
            .col_expr(response::Column::Body, Expr::value(to_json(r)))
            .col_expr(response::Column::Status, Expr::value(r.status.clone()));
        if r.is_terminal() {
            q = q
                .col_expr(response::Column::LeaseOwner, Expr::value(Option::<String>::None))
                .col_expr(response::Column::LeaseExpiresAt, Expr::value(Option::<i64>::None));
        }
        q.filter(response::Column::ProjectId.eq(project.id()))
            .filter(response::Column::Id.eq(r.id.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The response and its input, if it is kept in the project.
    pub async fn get(&self, project: &Project, id: &str) -> ServiceResult<Option<Kept>> {
        response::Entity::find()
            .filter(response::Column::ProjectId.eq(project.id()))
            .filter(response::Column::Id.eq(id))
            .one(&self.db)
            .await?
            .map(Kept::try_from)
            .transpose()
    }

    /// Deletes the response and its events; false when there was none.
    pub async fn delete(&self, project: &Project, id: &str) -> ServiceResult<bool> {
        let res = response::Entity::delete_many()
            .filter(response::Column::ProjectId.eq(project.id()))
            .filter(response::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        event::Entity::delete_many()
            .filter(event::Column::ProjectId.eq(project.id()))
            .filter(event::Column::ResponseId.eq(id))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// Leases the oldest queued response to `lease`.
    pub async fn claim(&self, lease: &Lease) -> ServiceResult<Option<(Project, Kept)>> {
        let backend = self.db.get_database_backend();
        let returning = assistd_common::db::returning::<response::Entity>();
        let base = match backend {
            DatabaseBackend::Postgres => {
                "UPDATE responses SET lease_owner = $1, lease_expires_at = $2 WHERE id = (SELECT id FROM responses \
                 WHERE status = 'queued' AND lease_owner IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 AND lease_owner IS NULL RETURNING "
            }
            _ => {
                "UPDATE responses SET lease_owner = $1, lease_expires_at = $2 WHERE id = (SELECT id FROM responses \
                 WHERE status = 'queued' AND lease_owner IS NULL ORDER BY id LIMIT 1) \
                 AND lease_owner IS NULL RETURNING "
            }
        };
        let sql = format!("{base}{returning}");
        let stmt = Statement::from_sql_and_values(backend, &sql, [lease.owner.clone().into(), lease.until_ms.into()]);
        let row = self.db.query_one_raw(stmt).await?;
        row.map(|row| response::Model::from_query_result(&row, "").map_err(ServiceError::from).and_then(owned))
            .transpose()
    }

    /// Extends `lease` on response `id`; `Some(cancel asked)` while the owner still
    /// holds it, `None` when it does not.
    pub async fn renew(&self, id: &str, lease: &Lease) -> ServiceResult<Option<bool>> {
        let res = response::Entity::update_many()
            .col_expr(response::Column::LeaseExpiresAt, Expr::value(lease.until_ms))
            .filter(response::Column::Id.eq(id))
            .filter(response::Column::LeaseOwner.eq(lease.owner.as_str()))
            .exec(&self.db)
            .await?;
        if res.rows_affected == 0 {
            return Ok(None);
        }
        let cancel: Option<bool> = response::Entity::find()
            .filter(response::Column::Id.eq(id))
            .select_only()
            .column(response::Column::CancelRequested)
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(cancel)
    }

    /// Background responses whose worker stopped renewing its lease before `now_ms`.
    pub async fn lapsed(&self, now_ms: i64) -> ServiceResult<Vec<(Project, Kept)>> {
        let rows = response::Entity::find()
            .filter(response::Column::Status.is_in([status::QUEUED, status::IN_PROGRESS]))
            .filter(response::Column::LeaseOwner.is_not_null())
            .filter(response::Column::LeaseExpiresAt.lt(now_ms))
            .order_by_asc(response::Column::Id)
            .limit(100)
            .all(&self.db)
            .await?;
        rows.into_iter().map(owned).collect()
    }

    /// Ends `r` (a lapsed response) as it is now, if its lease is still lapsed at
    /// `now_ms`; false when a worker renewed it meanwhile.
    pub async fn end_lapsed(&self, r: &Response, now_ms: i64) -> ServiceResult<bool> {
        let res = response::Entity::update_many()
            .col_expr(response::Column::Body, Expr::value(to_json(r)))
            .col_expr(response::Column::Status, Expr::value(r.status.clone()))
            .col_expr(response::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(response::Column::LeaseExpiresAt, Expr::value(Option::<i64>::None))
            .filter(response::Column::Id.eq(r.id.as_str()))
            .filter(response::Column::LeaseExpiresAt.lt(now_ms))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// Asks to cancel response `id`: a queued one is cancelled at once (`cancelled`
    /// written into it), a running one is flagged for its worker.
    pub async fn request_cancel(
        &self,
        project: &Project,
        id: &str,
        cancelled: &Response,
    ) -> ServiceResult<CancelAsked> {
        let scoped = |q: sea_orm::UpdateMany<response::Entity>| {
            q.filter(response::Column::ProjectId.eq(project.id())).filter(response::Column::Id.eq(id))
        };
        let res = scoped(response::Entity::update_many())
            .col_expr(response::Column::Body, Expr::value(to_json(cancelled)))
            .col_expr(response::Column::Status, Expr::value(status::CANCELLED))
            .filter(response::Column::Status.eq(status::QUEUED))
            .filter(response::Column::LeaseOwner.is_null())
            .exec(&self.db)
            .await?;
        if res.rows_affected > 0 {
            return Ok(CancelAsked::WasQueued);
        }
        let res = scoped(response::Entity::update_many())
            .col_expr(response::Column::CancelRequested, Expr::value(true))
            .filter(response::Column::Status.is_in([status::QUEUED, status::IN_PROGRESS]))
            .exec(&self.db)
            .await?;
        if res.rows_affected > 0 {
            return Ok(CancelAsked::Running);
        }
        Ok(if self.get(project, id).await?.is_some() { CancelAsked::Ended } else { CancelAsked::Missing })
    }

    /// Keeps one event of a background response.
    pub async fn add_event(
        &self,
        project: &Project,
        id: &str,
        sequence_number: u64,
        body: Vec<u8>,
    ) -> ServiceResult<()> {
        let row = event::Model {
            response_id: id.to_owned(),
            sequence_number: sequence_number as i64,
            project_id: project.id().to_owned(),
            body,
        };
        event::Entity::insert(row.into_active_model()).exec_without_returning(&self.db).await?;
        Ok(())
    }

    /// The kept events of response `id` after `sequence_number` (all with `None`), in order.
    pub async fn events_after(
        &self,
        project: &Project,
        id: &str,
        sequence_number: Option<u64>,
    ) -> ServiceResult<Vec<(u64, Vec<u8>)>> {
        let mut q = event::Entity::find()
            .filter(event::Column::ProjectId.eq(project.id()))
            .filter(event::Column::ResponseId.eq(id));
        if let Some(n) = sequence_number {
            q = q.filter(event::Column::SequenceNumber.gt(n as i64));
        }
        let rows = q.order_by_asc(event::Column::SequenceNumber).limit(1000).all(&self.db).await?;
        Ok(rows.into_iter().map(|r| (r.sequence_number.max(0) as u64, r.body)).collect())
    }
}
