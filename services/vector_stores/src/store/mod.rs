//! The vector stores tables. Every query names the project, so another project's
//! store is indistinguishable from a missing one. `vector_store_files` is also the
//! ingestion queue: a worker claims an `in_progress` file with a lease, and every
//! write that ends ingestion is guarded by the status and the lease, so a file that
//! was cancelled, detached or taken over meanwhile is never overwritten.

pub mod entity;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use assistd_common::json::{from_column as from_json, to_column as to_json};
use assistd_common::page::{Page, PageRequest};
use assistd_common::{Project, ServiceError, ServiceResult};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect,
    TransactionTrait,
};

use crate::domain::{BatchView, FileBatch, FileCounts, FileError, FileStatus, StoreFile, StoreView, VectorStore};
use entity::{batch, content, file, store};

pub use assistd_common::Lease;

/// A file claimed for ingestion, with the project it belongs to.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The owning project.
    pub project: Project,
    /// The file.
    pub file: StoreFile,
}

/// How ingestion of a file ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Indexed: the parsed text (stored for the content endpoint).
    Completed {
        /// The parsed text.
        text: String,
        /// The file's name.
        filename: String,
    },
    Failed(FileError),
}

impl TryFrom<store::Model> for VectorStore {
    type Error = ServiceError;

    fn try_from(m: store::Model) -> ServiceResult<Self> {
        let store::Model {
            id,
            project_id: _,
            created_at,
            name,
            description: _,
            expires_after_days,
            expires_at,
            last_active_at,
            metadata,
        } = m;
        Ok(VectorStore {
            id,
            created_at,
            name,
            expires_after_days,
            expires_at,
            last_active_at,
            metadata: from_json(&metadata)?,
        })
    }
}

impl TryFrom<file::Model> for StoreFile {
    type Error = ServiceError;

    fn try_from(m: file::Model) -> ServiceResult<Self> {
        let file::Model {
            vector_store_id,
            file_id,
            project_id: _,
            created_at,
            status,
            last_error,
            usage_bytes,
            chunking,
            attributes,
            batch_id,
            filename: _,
            lease_owner: _,
            lease_expires_at: _,
        } = m;
        Ok(StoreFile {
            vector_store_id,
            file_id,
            created_at,
            status: status.parse().map_err(|e| ServiceError::internal("vector store file", e))?,
            last_error: last_error.as_deref().map(from_json).transpose()?,
            usage_bytes,
            chunking: from_json(&chunking)?,
            attributes: from_json(&attributes)?,
            batch_id,
        })
    }
}

impl From<batch::Model> for FileBatch {
    fn from(m: batch::Model) -> Self {
        let batch::Model { id, project_id: _, vector_store_id, created_at, cancelled } = m;
        FileBatch { id, vector_store_id, created_at, cancelled }
    }
}

fn file_model(project: &Project, f: &StoreFile) -> file::Model {
    file::Model {
        vector_store_id: f.vector_store_id.clone(),
        file_id: f.file_id.clone(),
        project_id: project.id().to_owned(),
        created_at: f.created_at,
        status: f.status.as_str().to_owned(),
        last_error: f.last_error.as_ref().map(to_json),
        usage_bytes: f.usage_bytes,
        chunking: to_json(&f.chunking),
        attributes: to_json(&f.attributes),
        batch_id: f.batch_id.clone(),
        filename: None,
        lease_owner: None,
        lease_expires_at: None,
    }
}

/// Storage of vector stores, their files and batches.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// Storage on `db` (migrated).
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    // ---- stores ----

    /// Inserts a store and its first files (one transaction).
    pub async fn insert_store(&self, project: &Project, s: &VectorStore, files: &[StoreFile]) -> ServiceResult<()> {
        let txn = self.db.begin().await?;
        let m = store::Model {
            id: s.id.clone(),
            project_id: project.id().to_owned(),
            created_at: s.created_at,
            name: s.name.clone(),
            description: None,
            expires_after_days: s.expires_after_days,
            expires_at: s.expires_at,
            last_active_at: s.last_active_at,
            metadata: to_json(&s.metadata),
        };
        store::Entity::insert(m.into_active_model()).exec_without_returning(&txn).await?;
        insert_files(&txn, project, files).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The store, if it exists in the project.
    pub async fn get_store(&self, project: &Project, id: &str) -> ServiceResult<Option<VectorStore>> {
        store::Entity::find()
            .filter(store::Column::ProjectId.eq(project.id()))
            .filter(store::Column::Id.eq(id))
            .one(&self.db)
            .await?
            .map(VectorStore::try_from)
            .transpose()
    }

    /// The store or a 404.
    pub async fn require_store(&self, project: &Project, id: &str) -> ServiceResult<VectorStore> {
        self.get_store(project, id).await?.ok_or_else(|| ServiceError::not_found("vector store", id))
    }

    /// A page of the project's stores.
    pub async fn list_stores(&self, project: &Project, page: &PageRequest) -> ServiceResult<Page<VectorStore>> {
        let select = store::Entity::find().filter(store::Column::ProjectId.eq(project.id()));
        let rows = page.apply(select, store::Column::Id).all(&self.db).await?;
        let rows = rows.into_iter().map(VectorStore::try_from).collect::<ServiceResult<Vec<_>>>()?;
        Ok(page.finish(rows))
    }

    /// Writes the store's name, expiry, activity and metadata.
    pub async fn update_store(&self, project: &Project, s: &VectorStore) -> ServiceResult<()> {
        store::Entity::update_many()
            .col_expr(store::Column::Name, Expr::value(s.name.clone()))
            .col_expr(store::Column::ExpiresAfterDays, Expr::value(s.expires_after_days))
            .col_expr(store::Column::ExpiresAt, Expr::value(s.expires_at))
            .col_expr(store::Column::LastActiveAt, Expr::value(s.last_active_at))
            .col_expr(store::Column::Metadata, Expr::value(to_json(&s.metadata)))
            .filter(store::Column::ProjectId.eq(project.id()))
            .filter(store::Column::Id.eq(s.id.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Deletes a store with its files, batches and texts; false when there was none.
    pub async fn delete_store(&self, project: &Project, id: &str) -> ServiceResult<bool> {
        let txn = self.db.begin().await?;
        let res = store::Entity::delete_many()
            .filter(store::Column::ProjectId.eq(project.id()))
            .filter(store::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        if res.rows_affected == 0 {
            return Ok(false);
        }
        file::Entity::delete_many().filter(file::Column::VectorStoreId.eq(id)).exec(&txn).await?;
        batch::Entity::delete_many().filter(batch::Column::VectorStoreId.eq(id)).exec(&txn).await?;
        content::Entity::delete_many().filter(content::Column::VectorStoreId.eq(id)).exec(&txn).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Each store with its file counts and usage.
    pub async fn views(&self, stores: Vec<VectorStore>) -> ServiceResult<Vec<StoreView>> {
        let ids: Vec<String> = stores.iter().map(|s| s.id.clone()).collect();
        let mut counts = self.counts(file::Column::VectorStoreId, &ids).await?;
        Ok(stores
            .into_iter()
            .map(|store| {
                let (counts, usage_bytes) = counts.remove(&store.id).unwrap_or_default();
                StoreView { store, counts, usage_bytes }
            })
            .collect())
    }

    /// One store with its counts.
    pub async fn view(&self, store: VectorStore) -> ServiceResult<StoreView> {
        Ok(self.views(vec![store]).await?.remove(0))
    }

    /// File counts and bytes per value of `key` (store id or batch id).
    async fn counts(&self, key: file::Column, ids: &[String]) -> ServiceResult<HashMap<String, (FileCounts, i64)>> {
        let mut out: HashMap<String, (FileCounts, i64)> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let rows: Vec<(Option<String>, String, i64, i64)> = file::Entity::find()
            .select_only()
            .column(key)
            .column(file::Column::Status)
            .column_as(Expr::cust("COUNT(*)"), "n")
            .column_as(Expr::cust("CAST(COALESCE(SUM(usage_bytes), 0) AS BIGINT)"), "bytes")
            .filter(key.is_in(ids.iter().map(String::as_str)))
            .group_by(key)
            .group_by(file::Column::Status)
            .into_tuple()
            .all(&self.db)
            .await?;
        for (id, status, n, bytes) in rows {
            let (Some(id), Ok(status)) = (id, status.parse::<FileStatus>()) else { continue };
            let entry = out.entry(id).or_default();
            entry.0.add(status, n);
            if status == FileStatus::Completed {
                entry.1 += bytes;
            }
        }
        Ok(out)
    }

    // ---- files ----

    /// Attaches files to a store (replacing the same file's earlier attachment and
    /// text: it is indexed again), with their batch if any, in one transaction.
    pub async fn attach(&self, project: &Project, batch: Option<&FileBatch>, files: &[StoreFile]) -> ServiceResult<()> {
        let txn = self.db.begin().await?;
        if let Some(b) = batch {
            let m = batch::Model {
                id: b.id.clone(),
                project_id: project.id().to_owned(),
                vector_store_id: b.vector_store_id.clone(),
                created_at: b.created_at,
                cancelled: b.cancelled,
            };
            batch::Entity::insert(m.into_active_model()).exec_without_returning(&txn).await?;
        }
        insert_files(&txn, project, files).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The file, if it is in the store.
    pub async fn get_file(&self, project: &Project, vs: &str, file_id: &str) -> ServiceResult<Option<StoreFile>> {
        file::Entity::find()
            .filter(file::Column::ProjectId.eq(project.id()))
            .filter(file::Column::VectorStoreId.eq(vs))
            .filter(file::Column::FileId.eq(file_id))
            .one(&self.db)
            .await?
            .map(StoreFile::try_from)
            .transpose()
    }

    /// The file's name as learned while indexing, by file id.
    pub async fn filenames(&self, vs_ids: &[String], file_ids: &[String]) -> ServiceResult<HashMap<String, String>> {
        if file_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(String, Option<String>)> = file::Entity::find()
            .select_only()
            .column(file::Column::FileId)
            .column(file::Column::Filename)
            .filter(file::Column::VectorStoreId.is_in(vs_ids.iter().map(String::as_str)))
            .filter(file::Column::FileId.is_in(file_ids.iter().map(String::as_str)))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().filter_map(|(id, name)| Some((id, name?))).collect())
    }

    /// A page of a store's files (of one batch when `batch` is given), optionally
    /// only those with `status`.
    pub async fn list_files(
        &self,
        project: &Project,
        vs: &str,
        batch: Option<&str>,
        status: Option<FileStatus>,
        page: &PageRequest,
    ) -> ServiceResult<Page<StoreFile>> {
        let mut select = file::Entity::find()
            .filter(file::Column::ProjectId.eq(project.id()))
            .filter(file::Column::VectorStoreId.eq(vs));
        if let Some(b) = batch {
            select = select.filter(file::Column::BatchId.eq(b));
        }
        if let Some(s) = status {
            select = select.filter(file::Column::Status.eq(s.as_str()));
        }
        let rows = page.apply(select, file::Column::FileId).all(&self.db).await?;
        let rows = rows.into_iter().map(StoreFile::try_from).collect::<ServiceResult<Vec<_>>>()?;
        Ok(page.finish(rows))
    }

    /// Detaches a file and drops its text; false when it was not in the store.
    pub async fn delete_file(&self, project: &Project, vs: &str, file_id: &str) -> ServiceResult<bool> {
        let txn = self.db.begin().await?;
        let res = file::Entity::delete_many()
            .filter(file::Column::ProjectId.eq(project.id()))
            .filter(file::Column::VectorStoreId.eq(vs))
            .filter(file::Column::FileId.eq(file_id))
            .exec(&txn)
            .await?;
        content::Entity::delete_many()
            .filter(content::Column::VectorStoreId.eq(vs))
            .filter(content::Column::FileId.eq(file_id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(res.rows_affected > 0)
    }

    /// Replaces a file's attributes.
    pub async fn set_attributes(&self, project: &Project, f: &StoreFile) -> ServiceResult<()> {
        file::Entity::update_many()
            .col_expr(file::Column::Attributes, Expr::value(to_json(&f.attributes)))
            .filter(file::Column::ProjectId.eq(project.id()))
            .filter(file::Column::VectorStoreId.eq(f.vector_store_id.as_str()))
            .filter(file::Column::FileId.eq(f.file_id.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The parsed text of an indexed file.
    pub async fn content(&self, project: &Project, vs: &str, file_id: &str) -> ServiceResult<Option<String>> {
        Ok(content::Entity::find()
            .filter(content::Column::ProjectId.eq(project.id()))
            .filter(content::Column::VectorStoreId.eq(vs))
            .filter(content::Column::FileId.eq(file_id))
            .one(&self.db)
            .await?
            .map(|m| m.text))
    }

    // ---- batches ----

    /// The batch, if it exists in the store.
    pub async fn get_batch(&self, project: &Project, vs: &str, id: &str) -> ServiceResult<Option<BatchView>> {
        let Some(m) = batch::Entity::find()
            .filter(batch::Column::ProjectId.eq(project.id()))
            .filter(batch::Column::VectorStoreId.eq(vs))
            .filter(batch::Column::Id.eq(id))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let batch = FileBatch::from(m);
        let (counts, _) = self
            .counts(file::Column::BatchId, std::slice::from_ref(&batch.id))
            .await?
            .remove(&batch.id)
            .unwrap_or_default();
        Ok(Some(BatchView { batch, counts }))
    }

    /// Cancels a batch: its files still being indexed become cancelled.
    pub async fn cancel_batch(&self, project: &Project, vs: &str, id: &str) -> ServiceResult<()> {
        let txn = self.db.begin().await?;
        batch::Entity::update_many()
            .col_expr(batch::Column::Cancelled, Expr::value(true))
            .filter(batch::Column::ProjectId.eq(project.id()))
            .filter(batch::Column::VectorStoreId.eq(vs))
            .filter(batch::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        file::Entity::update_many()
            .col_expr(file::Column::Status, Expr::value(FileStatus::Cancelled.as_str()))
            .col_expr(file::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(file::Column::LeaseExpiresAt, Expr::value(Option::<i64>::None))
            .filter(file::Column::ProjectId.eq(project.id()))
            .filter(file::Column::VectorStoreId.eq(vs))
            .filter(file::Column::BatchId.eq(id))
            .filter(file::Column::Status.eq(FileStatus::InProgress.as_str()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    // ---- the ingestion queue ----

    /// Claims up to `limit` files waiting to be indexed (never claimed, or whose
    /// lease lapsed, e.g. because the process indexing them stopped).
    pub async fn claim(&self, lease: &Lease, now_ms: i64, limit: u64) -> ServiceResult<Vec<Claimed>> {
        let waiting = || {
            Condition::all().add(file::Column::Status.eq(FileStatus::InProgress.as_str())).add(
                Condition::any()
                    .add(file::Column::LeaseExpiresAt.is_null())
                    .add(file::Column::LeaseExpiresAt.lt(now_ms)),
            )
        };
        let candidates = file::Entity::find().filter(waiting()).limit(limit).all(&self.db).await?;
        let mut claimed = Vec::new();
        for m in candidates {
            // Only one worker's conditional update can win a candidate.
            let res = file::Entity::update_many()
                .col_expr(file::Column::LeaseOwner, Expr::value(lease.owner.clone()))
                .col_expr(file::Column::LeaseExpiresAt, Expr::value(lease.until_ms))
                .filter(file::Column::VectorStoreId.eq(m.vector_store_id.as_str()))
                .filter(file::Column::FileId.eq(m.file_id.as_str()))
                .filter(waiting())
                .exec(&self.db)
                .await?;
            if res.rows_affected == 1 {
                let project = Project(m.project_id.clone());
                claimed.push(Claimed { project, file: StoreFile::try_from(m)? });
            }
        }
        Ok(claimed)
    }

    /// Completed files in every project, in (vector store, file) order, after the pair
    /// `after`: for the index repair (see `crate::worker`).
    pub async fn completed_files(&self, after: Option<(&str, &str)>, limit: u64) -> ServiceResult<Vec<Claimed>> {
        use sea_orm::QueryOrder;
        let mut query = file::Entity::find().filter(file::Column::Status.eq(FileStatus::Completed.as_str()));
        if let Some((vs, file_id)) = after {
            query =
                query.filter(Condition::any().add(file::Column::VectorStoreId.gt(vs)).add(
                    Condition::all().add(file::Column::VectorStoreId.eq(vs)).add(file::Column::FileId.gt(file_id)),
                ));
        }
        let rows = query
            .order_by_asc(file::Column::VectorStoreId)
            .order_by_asc(file::Column::FileId)
            .limit(limit)
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|m| Ok(Claimed { project: Project(m.project_id.clone()), file: StoreFile::try_from(m)? }))
            .collect()
    }

    /// Files waiting to be indexed or being indexed, in every project.
    pub async fn backlog(&self) -> ServiceResult<u64> {
        use sea_orm::PaginatorTrait;
        Ok(file::Entity::find()
            .filter(file::Column::Status.eq(FileStatus::InProgress.as_str()))
            .count(&self.db)
            .await?)
    }

    /// Extends a lease; false when the file is no longer held by it (cancelled,
    /// detached, taken over).
    pub async fn renew(&self, f: &StoreFile, lease: &Lease) -> ServiceResult<bool> {
        let res = file::Entity::update_many()
            .col_expr(file::Column::LeaseExpiresAt, Expr::value(lease.until_ms))
            .filter(file::Column::VectorStoreId.eq(f.vector_store_id.as_str()))
            .filter(file::Column::FileId.eq(f.file_id.as_str()))
            .filter(file::Column::Status.eq(FileStatus::InProgress.as_str()))
            .filter(file::Column::LeaseOwner.eq(lease.owner.as_str()))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// Lets go of every file `owner` holds (at shutdown), so they are claimed again
    /// at once instead of when their leases lapse.
    pub async fn release(&self, owner: &str) -> ServiceResult<u64> {
        let res = file::Entity::update_many()
            .col_expr(file::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(file::Column::LeaseExpiresAt, Expr::value(Option::<i64>::None))
            .filter(file::Column::Status.eq(FileStatus::InProgress.as_str()))
            .filter(file::Column::LeaseOwner.eq(owner))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected)
    }

    /// Ends ingestion of a held file; false when it is no longer held (then nothing
    /// is written and the caller removes what it indexed).
    pub async fn finish(&self, f: &StoreFile, lease: &Lease, outcome: Outcome) -> ServiceResult<bool> {
        let txn = self.db.begin().await?;
        let mut update = file::Entity::update_many()
            .col_expr(file::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(file::Column::LeaseExpiresAt, Expr::value(Option::<i64>::None));
        update = match &outcome {
            Outcome::Completed { text, filename } => update
                .col_expr(file::Column::Status, Expr::value(FileStatus::Completed.as_str()))
                .col_expr(file::Column::UsageBytes, Expr::value(text.len() as i64))
                .col_expr(file::Column::Filename, Expr::value(filename.clone())),
            Outcome::Failed(e) => update
                .col_expr(file::Column::Status, Expr::value(FileStatus::Failed.as_str()))
                .col_expr(file::Column::LastError, Expr::value(to_json(e))),
        };
        let res = update
            .filter(file::Column::VectorStoreId.eq(f.vector_store_id.as_str()))
            .filter(file::Column::FileId.eq(f.file_id.as_str()))
            .filter(file::Column::Status.eq(FileStatus::InProgress.as_str()))
            .filter(file::Column::LeaseOwner.eq(lease.owner.as_str()))
            .exec(&txn)
            .await?;
        if res.rows_affected == 0 {
            return Ok(false);
        }
        if let Outcome::Completed { text, .. } = outcome {
            let project_id = file::Entity::find()
                .select_only()
                .column(file::Column::ProjectId)
                .filter(file::Column::VectorStoreId.eq(f.vector_store_id.as_str()))
                .filter(file::Column::FileId.eq(f.file_id.as_str()))
                .into_tuple::<String>()
                .one(&txn)
                .await?
                .unwrap_or_default();
            let m = content::Model {
                vector_store_id: f.vector_store_id.clone(),
                file_id: f.file_id.clone(),
                project_id,
                text,
            };
            content::Entity::insert(m.into_active_model())
                .on_conflict(
                    OnConflict::columns([content::Column::VectorStoreId, content::Column::FileId])
                        .update_column(content::Column::Text)
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(true)
    }
}

async fn insert_files<C: sea_orm::ConnectionTrait>(
    db: &C,
    project: &Project,
    files: &[StoreFile],
) -> ServiceResult<()> {
    for f in files {
        file::Entity::delete_many()
            .filter(file::Column::VectorStoreId.eq(f.vector_store_id.as_str()))
            .filter(file::Column::FileId.eq(f.file_id.as_str()))
            .exec(db)
            .await?;
        content::Entity::delete_many()
            .filter(content::Column::VectorStoreId.eq(f.vector_store_id.as_str()))
            .filter(content::Column::FileId.eq(f.file_id.as_str()))
            .exec(db)
            .await?;
    }
    for part in files.chunks(200) {
        let models = part.iter().map(|f| file_model(project, f).into_active_model());
        file::Entity::insert_many(models).exec_without_returning(db).await?;
    }
    Ok(())
}
