//! The service against real storage: SQLite and, when configured, PostgreSQL, with
//! blobs in a temporary directory.

use assistd_common::testing::{request, test_databases};
use assistd_proto::pb;
use assistd_proto::pb::file_service_server::FileService;

use super::FilesService;
use crate::blobs::Blobs;
use crate::ops::Files;
use crate::store::Store;

async fn service(url: &str, dir: &std::path::Path) -> FilesService {
    let db = assistd_common::db::connect(url).await.unwrap();
    assistd_migrations::up(&db, assistd_migrations::Service::Files).await.unwrap();
    FilesService::new(Files::new(Store::new(db), Blobs::open(&format!("file://{}", dir.display())).unwrap()))
}

#[tokio::test]
async fn uploads_lifecycle() {
    for db in test_databases().await {
        let dir = tempfile::tempdir().unwrap();
        let svc = service(&db.url, dir.path()).await;
        let create = |bytes| pb::CreateUploadRequest {
            filename: "f.txt".into(),
            purpose: "assistants".into(),
            bytes,
            mime_type: "text/plain".into(),
            expires_after: None,
        };
        let u = svc.create_upload(request("p", create(6))).await.unwrap().into_inner();
        assert_eq!(u.status, "pending");
        assert_eq!(u.expires_at - u.created_at, 3600);
        // another project cannot see or cancel it
        let err =
            svc.cancel_upload(request("q", pb::CancelUploadRequest { upload_id: u.id.clone() })).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        let err = svc
            .complete_upload(request(
                "p",
                pb::CompleteUploadRequest { upload_id: u.id.clone(), part_ids: vec!["part_nope".into()], md5: None },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        let err = svc.create_upload(request("p", create(9 * 1024 * 1024 * 1024))).await.unwrap_err();
        assert_eq!(assistd_common::error::error_detail(&err).unwrap().param.as_deref(), Some("bytes"));
        let err = svc
            .complete_upload(request(
                "p",
                pb::CompleteUploadRequest { upload_id: u.id.clone(), part_ids: vec![], md5: Some("00".into()) },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{}", db.backend);
        let c = svc
            .cancel_upload(request("p", pb::CancelUploadRequest { upload_id: u.id.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(c.status, "cancelled");
        let err =
            svc.cancel_upload(request("p", pb::CancelUploadRequest { upload_id: u.id.clone() })).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
        let list = svc.list_files(request("p", pb::ListFilesRequest::default())).await.unwrap().into_inner();
        assert!(list.data.is_empty(), "a cancelled upload leaves no file");
    }
}

#[tokio::test]
async fn expired_files_and_uploads_are_swept() {
    for db in test_databases().await {
        let dir = tempfile::tempdir().unwrap();
        let svc = service(&db.url, dir.path()).await;
        let project = assistd_common::Project("p".into());
        let now = assistd_common::time::now_secs();
        let key = crate::store::file_blob_key(&project, "file-exp");
        let body =
            futures::stream::iter(vec![Ok::<_, assistd_common::ServiceError>(bytes::Bytes::from_static(b"bye"))]);
        svc.ops.blobs.put_stream(&key, body, 100, "file").await.unwrap();
        let file = crate::domain::File {
            id: "file-exp".into(),
            bytes: 3,
            created_at: now,
            expires_at: Some(now + 3600),
            filename: "e.txt".into(),
            purpose: "assistants".into(),
            status: crate::domain::FileStatus::Processed,
            status_details: None,
            content_type: "text/plain".into(),
        };
        svc.ops.store.insert_file(&project, &file, &key).await.unwrap();
        let u = svc
            .create_upload(request(
                "p",
                pb::CreateUploadRequest {
                    filename: "u".into(),
                    purpose: "assistants".into(),
                    bytes: 1,
                    mime_type: "text/plain".into(),
                    expires_after: None,
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(svc.ops.sweep_expired(now).await.unwrap(), 0);
        assert!(svc.get_file(request("p", pb::GetFileRequest { file_id: "file-exp".into() })).await.is_ok());
        assert_eq!(svc.ops.sweep_expired(now + 3601).await.unwrap(), 2, "{}", db.backend);
        assert!(svc.ops.blobs.get_stream(&key).await.is_err(), "the bytes are gone");
        let err =
            svc.cancel_upload(request("p", pb::CancelUploadRequest { upload_id: u.id.clone() })).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    }
}
