//! The vector stores tables on SQLite and, when configured, PostgreSQL.

use assistd_common::Project;
use assistd_common::page::{Order, PageRequest};
use assistd_common::testing::test_databases;

use super::{Lease, Outcome, Store};
use crate::domain::{Chunking, FileBatch, FileError, FileStatus, StoreFile, VectorStore};

async fn store(url: &str) -> Store {
    let db = assistd_common::db::connect(url).await.unwrap();
    assistd_migrations::up(&db, assistd_migrations::Service::VectorStores).await.unwrap();
    Store::new(db)
}

fn vs(id: &str) -> VectorStore {
    VectorStore {
        id: id.into(),
        created_at: 1,
        name: Some("docs".into()),
        expires_after_days: None,
        expires_at: None,
        last_active_at: 1,
        metadata: Default::default(),
    }
}

fn file(vs: &str, id: &str, batch: Option<&str>) -> StoreFile {
    StoreFile {
        vector_store_id: vs.into(),
        file_id: id.into(),
        created_at: 1,
        status: FileStatus::InProgress,
        last_error: None,
        usage_bytes: 0,
        chunking: Chunking::default(),
        attributes: Default::default(),
        batch_id: batch.map(str::to_owned),
    }
}

fn page() -> PageRequest {
    PageRequest { limit: 20, order: Order::Asc, after: None, before: None }
}

fn lease(owner: &str, until_ms: i64) -> Lease {
    Lease { owner: owner.into(), until_ms }
}

#[tokio::test]
async fn stores_files_counts_and_queue() {
    for db in test_databases().await {
        let s = store(&db.url).await;
        let p = Project("p".into());
        let other = Project("q".into());
        s.insert_store(&p, &vs("vs_1"), &[file("vs_1", "file-a", None), file("vs_1", "file-b", None)]).await.unwrap();
        assert!(s.get_store(&other, "vs_1").await.unwrap().is_none(), "{}", db.backend);
        let view = s.view(s.require_store(&p, "vs_1").await.unwrap()).await.unwrap();
        assert_eq!(view.counts.in_progress, 2, "{}", db.backend);

        // Two workers never get the same file.
        let a = s.claim(&lease("w1", 10_000), 0, 10).await.unwrap();
        let b = s.claim(&lease("w2", 10_000), 0, 10).await.unwrap();
        assert_eq!(a.len(), 2);
        assert!(b.is_empty());
        // A lapsed lease is claimed again (a worker died).
        let c = s.claim(&lease("w2", 30_000), 20_000, 1).await.unwrap();
        assert_eq!(c.len(), 1);
        let taken = &c[0].file;
        assert_eq!(c[0].project, p);
        // The first holder can no longer finish it.
        let done = Outcome::Completed { text: "hello".into(), filename: "a.txt".into() };
        assert!(!s.finish(taken, &lease("w1", 0), done.clone()).await.unwrap());
        assert!(s.finish(taken, &lease("w2", 0), done).await.unwrap());
        let rest = a.iter().find(|x| x.file.file_id != taken.file_id).unwrap();
        let failed = Outcome::Failed(FileError::invalid("no text"));
        assert!(s.finish(&rest.file, &lease("w1", 0), failed).await.unwrap());

        let view = s.view(s.require_store(&p, "vs_1").await.unwrap()).await.unwrap();
        assert_eq!((view.counts.completed, view.counts.failed, view.counts.in_progress), (1, 1, 0));
        assert_eq!(view.usage_bytes, 5);
        assert_eq!(s.content(&p, "vs_1", &taken.file_id).await.unwrap().as_deref(), Some("hello"));
        let only_failed = s.list_files(&p, "vs_1", None, Some(FileStatus::Failed), &page()).await.unwrap();
        assert_eq!(only_failed.data.len(), 1);
        assert_eq!(only_failed.data[0].last_error.as_ref().unwrap().code, "invalid_file");

        // Attaching again replaces the file and drops its text.
        s.attach(&p, None, &[file("vs_1", &taken.file_id, None)]).await.unwrap();
        assert!(s.content(&p, "vs_1", &taken.file_id).await.unwrap().is_none());
        assert_eq!(s.get_file(&p, "vs_1", &taken.file_id).await.unwrap().unwrap().status, FileStatus::InProgress);

        // Batches: counts, cancel.
        let batch = FileBatch { id: "vsfb_1".into(), vector_store_id: "vs_1".into(), created_at: 2, cancelled: false };
        s.attach(&p, Some(&batch), &[file("vs_1", "file-c", Some("vsfb_1")), file("vs_1", "file-d", Some("vsfb_1"))])
            .await
            .unwrap();
        let b = s.get_batch(&p, "vs_1", "vsfb_1").await.unwrap().unwrap();
        assert_eq!(b.counts.in_progress, 2);
        assert_eq!(b.status(), FileStatus::InProgress);
        s.cancel_batch(&p, "vs_1", "vsfb_1").await.unwrap();
        let b = s.get_batch(&p, "vs_1", "vsfb_1").await.unwrap().unwrap();
        assert_eq!((b.counts.cancelled, b.status()), (2, FileStatus::Cancelled));
        let listed = s.list_files(&p, "vs_1", Some("vsfb_1"), None, &page()).await.unwrap();
        assert_eq!(listed.data.len(), 2);

        assert!(s.delete_file(&p, "vs_1", "file-c").await.unwrap());
        assert!(!s.delete_file(&p, "vs_1", "file-c").await.unwrap());
        assert!(!s.delete_store(&other, "vs_1").await.unwrap());
        assert!(s.delete_store(&p, "vs_1").await.unwrap());
        assert!(s.get_file(&p, "vs_1", "file-d").await.unwrap().is_none());
    }
}
