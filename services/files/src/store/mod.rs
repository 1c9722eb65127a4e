//! The `files`, `uploads` and `upload_parts` tables, always scoped to a project
//! (but for the expiry sweeper's queries, which cover every project).

pub mod entity;

use assistd_common::page::{Page, PageRequest};
use assistd_common::{Project, ServiceError, ServiceResult};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, Select};

use crate::domain::{File, UnknownStatus, Upload, UploadPart, UploadStatus};
use entity::{file, part, upload};

fn status<S: std::str::FromStr<Err = UnknownStatus>>(what: &str, stored: &str) -> ServiceResult<S> {
    stored.parse().map_err(|e| ServiceError::internal(what, e))
}

impl TryFrom<file::Model> for File {
    type Error = ServiceError;

    fn try_from(m: file::Model) -> ServiceResult<Self> {
        let file::Model {
            id,
            project_id: _,
            created_at,
            bytes,
            filename,
            purpose,
            status: s,
            status_details,
            expires_at,
            content_type,
            blob_key: _,
        } = m;
        let status = status("file", &s)?;
        Ok(File { id, bytes, created_at, expires_at, filename, purpose, status, status_details, content_type })
    }
}

impl TryFrom<upload::Model> for Upload {
    type Error = ServiceError;

    fn try_from(m: upload::Model) -> ServiceResult<Self> {
        let upload::Model {
            id,
            project_id: _,
            created_at,
            filename,
            bytes,
            purpose,
            mime_type,
            status: s,
            expires_at,
            file_expires_after,
            file_id,
        } = m;
        let status = status("upload", &s)?;
        Ok(Upload {
            id,
            created_at,
            filename,
            bytes,
            purpose,
            mime_type,
            status,
            expires_at,
            file_expires_after,
            file_id,
        })
    }
}

impl From<part::Model> for UploadPart {
    fn from(m: part::Model) -> Self {
        let part::Model { id, project_id: _, upload_id, created_at, bytes, blob_key } = m;
        UploadPart { id, created_at, upload_id, bytes, blob_key }
    }
}

/// The blob key of a file.
pub fn file_blob_key(project: &Project, file_id: &str) -> String {
    format!("files/{}/{file_id}", project.id())
}

/// The blob key of an upload's part.
pub fn part_blob_key(project: &Project, upload_id: &str, part_id: &str) -> String {
    format!("uploads/{}/{upload_id}/{part_id}", project.id())
}

/// Storage of files and uploads.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// Storage on `db` (migrated).
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Files of the project that have not expired at `now`.
    fn files(project: &Project, now: i64) -> Select<file::Entity> {
        file::Entity::find()
            .filter(file::Column::ProjectId.eq(project.id()))
            .filter(Condition::any().add(file::Column::ExpiresAt.is_null()).add(file::Column::ExpiresAt.gt(now)))
    }

    /// Inserts a file.
    pub async fn insert_file(&self, project: &Project, f: &File, blob_key: &str) -> ServiceResult<()> {
        let m = file::Model {
            id: f.id.clone(),
            project_id: project.id().to_owned(),
            created_at: f.created_at,
            bytes: f.bytes,
            filename: f.filename.clone(),
            purpose: f.purpose.clone(),
            status: f.status.as_str().to_owned(),
            status_details: f.status_details.clone(),
            expires_at: f.expires_at,
            content_type: f.content_type.clone(),
            blob_key: blob_key.to_owned(),
        };
        file::Entity::insert(m.into_active_model()).exec_without_returning(&self.db).await?;
        Ok(())
    }

    /// The file and its blob key, if it exists and has not expired.
    pub async fn get_file(&self, project: &Project, id: &str, now: i64) -> ServiceResult<Option<(File, String)>> {
        Self::files(project, now)
            .filter(file::Column::Id.eq(id))
            .one(&self.db)
            .await?
            .map(|m| {
                let key = m.blob_key.clone();
                Ok((File::try_from(m)?, key))
            })
            .transpose()
    }

    /// A page of files, optionally of one purpose.
    pub async fn list_files(
        &self,
        project: &Project,
        purpose: Option<&str>,
        page: &PageRequest,
        now: i64,
    ) -> ServiceResult<Page<File>> {
        let mut q = Self::files(project, now);
        if let Some(p) = purpose {
            q = q.filter(file::Column::Purpose.eq(p));
        }
        let rows = page.apply(q, file::Column::Id).all(&self.db).await?;
        let rows = rows.into_iter().map(File::try_from).collect::<ServiceResult<Vec<_>>>()?;
        Ok(page.finish(rows))
    }

    /// Deletes a file row; returns its blob key when there was one.
    pub async fn delete_file(&self, project: &Project, id: &str, now: i64) -> ServiceResult<Option<String>> {
        let Some((_, key)) = self.get_file(project, id, now).await? else {
            return Ok(None);
        };
        let res = file::Entity::delete_many()
            .filter(file::Column::ProjectId.eq(project.id()))
            .filter(file::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok((res.rows_affected > 0).then_some(key))
    }

    /// Inserts an upload.
    pub async fn insert_upload(&self, project: &Project, u: &Upload) -> ServiceResult<()> {
        let m = upload::Model {
            id: u.id.clone(),
            project_id: project.id().to_owned(),
            created_at: u.created_at,
            filename: u.filename.clone(),
            bytes: u.bytes,
            purpose: u.purpose.clone(),
            mime_type: u.mime_type.clone(),
            status: u.status.as_str().to_owned(),
            expires_at: u.expires_at,
            file_expires_after: u.file_expires_after,
            file_id: u.file_id.clone(),
        };
        upload::Entity::insert(m.into_active_model()).exec_without_returning(&self.db).await?;
        Ok(())
    }

    /// The upload, if it exists in the project.
    pub async fn get_upload(&self, project: &Project, id: &str) -> ServiceResult<Option<Upload>> {
        upload::Entity::find()
            .filter(upload::Column::ProjectId.eq(project.id()))
            .filter(upload::Column::Id.eq(id))
            .one(&self.db)
            .await?
            .map(Upload::try_from)
            .transpose()
    }

    /// Moves an upload from `from` status to `to` (and sets its file); false when it
    /// was no longer in `from` (a concurrent complete or cancel won).
    pub async fn transition_upload(
        &self,
        project: &Project,
        id: &str,
        from: UploadStatus,
        to: UploadStatus,
        file_id: Option<&str>,
    ) -> ServiceResult<bool> {
        let mut q = upload::Entity::update_many().col_expr(upload::Column::Status, Expr::value(to.as_str()));
        if let Some(f) = file_id {
            q = q.col_expr(upload::Column::FileId, Expr::value(f));
        }
        let res = q
            .filter(upload::Column::ProjectId.eq(project.id()))
            .filter(upload::Column::Id.eq(id))
            .filter(upload::Column::Status.eq(from.as_str()))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// Inserts a part.
    pub async fn insert_part(&self, project: &Project, p: &UploadPart) -> ServiceResult<()> {
        let m = part::Model {
            id: p.id.clone(),
            project_id: project.id().to_owned(),
            upload_id: p.upload_id.clone(),
            created_at: p.created_at,
            bytes: p.bytes,
            blob_key: p.blob_key.clone(),
        };
        part::Entity::insert(m.into_active_model()).exec_without_returning(&self.db).await?;
        Ok(())
    }

    /// Every part of an upload.
    pub async fn parts(&self, project: &Project, upload_id: &str) -> ServiceResult<Vec<UploadPart>> {
        Ok(part::Entity::find()
            .filter(part::Column::ProjectId.eq(project.id()))
            .filter(part::Column::UploadId.eq(upload_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(UploadPart::from)
            .collect())
    }

    /// Deletes the part rows of an upload.
    pub async fn delete_parts(&self, project: &Project, upload_id: &str) -> ServiceResult<()> {
        part::Entity::delete_many()
            .filter(part::Column::ProjectId.eq(project.id()))
            .filter(part::Column::UploadId.eq(upload_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Files of every project that expired at `now`: (id, blob key), at most `limit`.
    pub async fn expired_files(&self, now: i64, limit: u64) -> ServiceResult<Vec<(String, String)>> {
        use sea_orm::QuerySelect;
        Ok(file::Entity::find()
            .filter(file::Column::ExpiresAt.lte(now))
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| (m.id, m.blob_key))
            .collect())
    }

    /// Deletes a file row whatever its project (for the expiry sweeper).
    pub async fn purge_file(&self, id: &str) -> ServiceResult<()> {
        file::Entity::delete_many().filter(file::Column::Id.eq(id)).exec(&self.db).await?;
        Ok(())
    }

    /// Pending uploads of every project past their expiry: (project, id), at most `limit`.
    pub async fn expired_uploads(&self, now: i64, limit: u64) -> ServiceResult<Vec<(String, String)>> {
        use sea_orm::QuerySelect;
        Ok(upload::Entity::find()
            .filter(upload::Column::Status.eq(UploadStatus::Pending.as_str()))
            .filter(upload::Column::ExpiresAt.lte(now))
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| (m.project_id, m.id))
            .collect())
    }
}
