//! Ingestion workers: parse → chunk → embed → index, for every file attached to a
//! vector store.
//!
//! The queue is the `vector_store_files` table (see [`crate::store`]): a worker claims
//! an `in_progress` file with a lease and renews it while it works, so a file whose
//! process stopped is claimed again once its lease lapses, and indexed from the start
//! (chunks are keyed by position, so a second attempt replaces the first's). At most
//! `concurrency` files are indexed at once per process. A file cancelled or detached
//! meanwhile loses its lease; the worker then stops and removes what it indexed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use assistd_common::Project;
use assistd_common::caller::Caller;
use assistd_common::error::ErrorKind;
use assistd_common::time::now_ms;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::domain::{FileError, FileStatus, StoreFile};
use crate::embed::Embedder;
use crate::index::{ChunkPoint, VectorIndex};
use crate::ingest::{chunk, parse};
use crate::peers::Files;
use crate::store::{Claimed, Lease, Outcome, Store};

/// Ingestion settings.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Files indexed at once by this process.
    pub concurrency: usize,
    /// How long a claim lasts without renewal.
    pub lease: Duration,
    /// How often an idle worker looks for work it was not told about.
    pub poll: Duration,
    /// Largest file indexed (OpenAI's file limit, 512 MB).
    pub max_file_bytes: u64,
    /// Chunks embedded and upserted together.
    pub batch: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            concurrency: 2,
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            max_file_bytes: 512 << 20,
            batch: 64,
        }
    }
}

/// The ingestion side of the service.
#[derive(Clone)]
pub struct Ingestor {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    files: Files,
    index: Arc<dyn VectorIndex>,
    embedder: Option<Arc<dyn Embedder>>,
    cfg: IngestConfig,
    owner: String,
    wake: Notify,
    slots: Arc<Semaphore>,
}

impl Ingestor {
    /// Workers over `store`, reading files through `files`, writing `index`.
    pub fn new(
        store: Store,
        files: Files,
        index: Arc<dyn VectorIndex>,
        embedder: Option<Arc<dyn Embedder>>,
        cfg: IngestConfig,
    ) -> Self {
        let slots = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
        let owner = format!("ingest-{}", assistd_common::ids::new_ulid());
        Self { inner: Arc::new(Inner { store, files, index, embedder, cfg, owner, wake: Notify::new(), slots }) }
    }

    /// Tells the workers there is new work.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Runs the claim loop until `stop` is cancelled.
    pub fn spawn(&self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        let (repairer, repair_stop) = (self.clone(), stop.clone());
        tokio::spawn(async move { repairer.repair(repair_stop).await });
        tokio::spawn(async move {
            loop {
                let free = me.inner.slots.available_permits();
                if free > 0 {
                    let lease = me.lease();
                    match me.inner.store.backlog().await {
                        Ok(n) => metrics::gauge!("assistd_ingest_backlog").set(n as f64),
                        Err(e) => tracing::warn!(error = %e, "counting files waiting to be indexed"),
                    }
                    match me.inner.store.claim(&lease, now_ms(), free as u64).await {
                        Ok(claimed) => {
                            let got = claimed.len();
                            for c in claimed {
                                let Ok(permit) = me.inner.slots.clone().acquire_owned().await else { return };
                                let me = me.clone();
                                let span = tracing::info_span!(
                                    "ingest",
                                    vector_store_id = %c.file.vector_store_id,
                                    file_id = %c.file.file_id
                                );
                                tokio::spawn(
                                    async move {
                                        me.ingest(c).await;
                                        drop(permit);
                                        me.wake();
                                    }
                                    .instrument(span),
                                );
                            }
                            if got == free {
                                continue;
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "claiming files to index"),
                    }
                }
                tokio::select! {
                    _ = stop.cancelled() => {
                        // Files still being indexed go back to the queue for the next
                        // process (their work here is abandoned with the process).
                        match me.inner.store.release(&me.inner.owner).await {
                            Ok(0) => {}
                            Ok(n) => tracing::info!(files = n, "released files being indexed"),
                            Err(e) => tracing::warn!(error = %e, "releasing files being indexed"),
                        }
                        return;
                    }
                    _ = me.inner.wake.notified() => {}
                    _ = tokio::time::sleep(me.inner.cfg.poll) => {}
                }
            }
        })
    }

    fn lease(&self) -> Lease {
        Lease::for_next(&self.inner.owner, self.inner.cfg.lease)
    }

    /// Claims files as this ingestor's workers do, without indexing them (tests).
    #[cfg(test)]
    pub(crate) async fn claim_now(&self) -> Vec<Claimed> {
        self.inner.store.claim(&self.lease(), now_ms(), 10).await.unwrap()
    }

    /// Indexes one claimed file and records how it ended.
    pub(crate) async fn ingest(&self, c: Claimed) {
        let started = Instant::now();
        let Claimed { project, file } = c;
        // The heartbeat renews the lease and notices a lost one (cancelled, detached).
        let lost = CancellationToken::new();
        let heartbeat = {
            let (me, file, lost) = (self.clone(), file.clone(), lost.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(me.inner.cfg.lease / 3).await;
                    match me.inner.store.renew(&file, &me.lease()).await {
                        Ok(true) => {}
                        Ok(false) => {
                            lost.cancel();
                            return;
                        }
                        Err(e) => tracing::warn!(error = %e, "renewing an ingestion lease"),
                    }
                }
            })
        };
        let result = tokio::select! {
            r = self.index_file(&project, &file) => Some(r),
            _ = lost.cancelled() => None,
        };
        heartbeat.abort();
        let lease = Lease::lapsed(&self.inner.owner);
        let outcome = match result {
            Some(Ok((text, filename))) => Outcome::Completed { text, filename },
            Some(Err(e)) => Outcome::Failed(e),
            None => {
                self.forget(&project, &file).await;
                return;
            }
        };
        let status = match &outcome {
            Outcome::Completed { .. } => FileStatus::Completed,
            Outcome::Failed(_) => FileStatus::Failed,
        };
        if let Outcome::Completed { text, .. } = &outcome {
            metrics::counter!("assistd_ingest_bytes_total").increment(text.len() as u64);
        }
        let failed = matches!(outcome, Outcome::Failed(_));
        match self.inner.store.finish(&file, &lease, outcome).await {
            Ok(true) => {
                if failed {
                    self.drop_points(&project, &file).await;
                } else {
                    self.refresh_attributes(&project, &file).await;
                }
                metrics::counter!("assistd_ingest_files_total", "status" => status.as_str()).increment(1);
                metrics::histogram!("assistd_ingest_seconds").record(started.elapsed().as_secs_f64());
            }
            Ok(false) => self.forget(&project, &file).await,
            Err(e) => tracing::warn!(error = %e, "recording the end of ingestion"),
        }
    }

    /// The chunks were written with the attributes read when the file was claimed; a
    /// client may have set others since (the service applies them to the chunks
    /// indexed by then): the stored ones are applied to all of them.
    async fn refresh_attributes(&self, project: &Project, file: &StoreFile) {
        match self.inner.store.get_file(project, &file.vector_store_id, &file.file_id).await {
            Ok(Some(now)) if now.attributes != file.attributes => {
                let index = &self.inner.index;
                if let Err(e) =
                    index.set_attributes(project.id(), &file.vector_store_id, &file.file_id, &now.attributes).await
                {
                    tracing::warn!(error = %e, "applying a file's new attributes to its chunks");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reading a file's attributes"),
        }
    }

    /// After losing a file: removes its chunks unless another worker holds it now.
    async fn forget(&self, project: &Project, file: &StoreFile) {
        match self.inner.store.get_file(project, &file.vector_store_id, &file.file_id).await {
            Ok(Some(f)) if f.status == FileStatus::InProgress || f.status == FileStatus::Completed => {}
            Ok(_) => self.drop_points(project, file).await,
            Err(e) => tracing::warn!(error = %e, "checking a lost file"),
        }
    }

    async fn drop_points(&self, project: &Project, file: &StoreFile) {
        if let Err(e) = self.inner.index.delete_file(project.id(), &file.vector_store_id, &file.file_id).await {
            tracing::warn!(error = %e, "removing the chunks of a file");
        }
    }

    /// Downloads, parses, chunks, embeds and indexes a file; the parsed text and the
    /// file's name on success.
    async fn index_file(&self, project: &Project, file: &StoreFile) -> Result<(String, String), FileError> {
        let inner = &self.inner;
        let caller = Caller::engine(project.clone());
        let (info, bytes) =
            inner.files.download(&caller, &file.file_id, inner.cfg.max_file_bytes).await.map_err(|e| match e.kind {
                ErrorKind::NotFound => FileError::invalid(format!("File {} no longer exists.", file.file_id)),
                ErrorKind::TooLarge => FileError::invalid(e.message.clone()),
                _ => FileError::server(format!("Could not read file {}: {}", file.file_id, e.message)),
            })?;
        let filename = info.filename.clone();
        let chunking = file.chunking;
        let (text, chunks) = tokio::task::spawn_blocking(move || {
            let text = parse::parse(&filename, &bytes).map_err(|e| match e {
                parse::ParseError::Unsupported(m) => FileError::unsupported(m),
                parse::ParseError::Invalid(m) => FileError::invalid(m),
            })?;
            let chunks = chunk::chunk(&text, chunking.max_tokens, chunking.overlap_tokens);
            Ok::<_, FileError>((text, chunks))
        })
        .await
        .map_err(|e| FileError::server(format!("parsing failed: {e}")))??;

        // A file indexed before (an earlier attempt, or a re-attach) starts clean.
        inner
            .index
            .delete_file(project.id(), &file.vector_store_id, &file.file_id)
            .await
            .map_err(|e| FileError::server(e.to_string()))?;
        self.index_chunks(project, file, chunks).await?;
        Ok((text, info.filename))
    }

    /// Embeds and indexes a file's chunks, a batch at a time.
    async fn index_chunks(
        &self,
        project: &Project,
        file: &StoreFile,
        chunks: Vec<chunk::Chunk>,
    ) -> Result<(), FileError> {
        let inner = &self.inner;
        for (n, part) in chunks.chunks(inner.cfg.batch.max(1)).enumerate() {
            let texts: Vec<String> = part.iter().map(|c| c.text.clone()).collect();
            let dense = match &inner.embedder {
                Some(e) => Some(e.embed_passages(&texts).await.map_err(|e| FileError::server(e.to_string()))?),
                None => None,
            };
            let mut dense = dense.map(Vec::into_iter);
            let points = texts
                .into_iter()
                .enumerate()
                .map(|(i, text)| ChunkPoint {
                    project: project.id().to_owned(),
                    vector_store_id: file.vector_store_id.clone(),
                    file_id: file.file_id.clone(),
                    position: (n * inner.cfg.batch.max(1) + i) as u32,
                    text,
                    attributes: file.attributes.clone(),
                    dense: dense.as_mut().and_then(Iterator::next),
                })
                .collect();
            inner.index.upsert(points).await.map_err(|e| FileError::server(e.to_string()))?;
        }
        Ok(())
    }

    /// Indexes again, from the text kept when they were indexed, the completed files of
    /// which the index holds no chunk, until done or `stop`; returns how many. The index
    /// can change under the service: another embedder, or passages embedded by windows
    /// (as all-MiniLM-L6-v2 does since it reads whole chunks), make a new collection, and
    /// a Qdrant collection can be lost. Files stay `completed` meanwhile, each found again
    /// once its chunks are back; a file detached meanwhile loses them again.
    pub async fn repair(&self, stop: CancellationToken) -> u64 {
        const PAGE: u64 = 100;
        let inner = &self.inner;
        let (mut after, mut repaired, mut failed) = (None::<(String, String)>, 0u64, 0u64);
        loop {
            let page = inner.store.completed_files(after.as_ref().map(|(v, f)| (v.as_str(), f.as_str())), PAGE).await;
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, "index repair: listing completed files");
                    break;
                }
            };
            for Claimed { project, file } in &page {
                if stop.is_cancelled() {
                    return repaired;
                }
                match self.repair_file(project, file).await {
                    Ok(true) => repaired += 1,
                    Ok(false) => {}
                    Err(e) => {
                        failed += 1;
                        tracing::warn!(vector_store_id = %file.vector_store_id, file_id = %file.file_id, error = %e.message, "index repair failed");
                    }
                }
            }
            match page.last() {
                Some(last) if page.len() as u64 == PAGE => {
                    after = Some((last.file.vector_store_id.clone(), last.file.file_id.clone()));
                }
                _ => break,
            }
        }
        if repaired > 0 || failed > 0 {
            tracing::info!(repaired, failed, "index repair: completed files missing from the index indexed again");
        }
        repaired
    }

    /// Indexes one completed file again if the index has none of its chunks.
    async fn repair_file(&self, project: &Project, file: &StoreFile) -> Result<bool, FileError> {
        let inner = &self.inner;
        let server = |e: &dyn std::fmt::Display| FileError::server(e.to_string());
        let held = inner.index.count(project.id(), &file.vector_store_id, Some(&file.file_id)).await;
        if held.map_err(|e| server(&e))? > 0 {
            return Ok(false);
        }
        let text = inner.store.content(project, &file.vector_store_id, &file.file_id).await.map_err(|e| server(&e))?;
        let Some(text) = text else {
            return Err(FileError::server(
                "its parsed text is not stored, so it cannot be indexed again: attach the file again",
            ));
        };
        if text.is_empty() {
            return Ok(false);
        }
        let chunking = file.chunking;
        let chunks =
            tokio::task::spawn_blocking(move || chunk::chunk(&text, chunking.max_tokens, chunking.overlap_tokens))
                .await
                .map_err(|e| server(&e))?;
        self.index_chunks(project, file, chunks).await?;
        // detached or re-attached meanwhile: what was just written is not its to keep
        let now = inner.store.get_file(project, &file.vector_store_id, &file.file_id).await.map_err(|e| server(&e))?;
        if !now.is_some_and(|f| f.status == FileStatus::Completed && f.chunking == file.chunking) {
            inner
                .index
                .delete_file(project.id(), &file.vector_store_id, &file.file_id)
                .await
                .map_err(|e| server(&e))?;
            return Ok(false);
        }
        Ok(true)
    }
}
