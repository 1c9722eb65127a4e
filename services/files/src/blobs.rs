//! The blob store behind files: `file://` directories (default) or in-memory.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

use assistd_common::{ServiceError, ServiceResult};

/// Size of the parts written to the store while streaming.
const PART_SIZE: usize = 5 * 1024 * 1024;

/// A cloud store by URL, configured from the provider's standard environment
/// variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`); a path after the bucket is a prefix.
fn cloud(url: &str) -> Result<Arc<dyn ObjectStore>, String> {
    use object_store::aws::AmazonS3Builder;
    use object_store::azure::MicrosoftAzureBuilder;
    use object_store::gcp::GoogleCloudStorageBuilder;
    let (scheme, rest) = url.split_once("://").ok_or_else(|| format!("invalid object store url '{url}'"))?;
    let prefix = rest.split_once('/').map(|(_, p)| p.trim_matches('/')).unwrap_or("");
    let store: Arc<dyn ObjectStore> = match scheme {
        "s3" | "s3a" => Arc::new(AmazonS3Builder::from_env().with_url(url).build().map_err(|e| e.to_string())?),
        "gs" => Arc::new(GoogleCloudStorageBuilder::from_env().with_url(url).build().map_err(|e| e.to_string())?),
        "az" | "azure" | "abfs" | "abfss" | "adl" => {
            Arc::new(MicrosoftAzureBuilder::from_env().with_url(url).build().map_err(|e| e.to_string())?)
        }
        other => {
            return Err(format!(
                "unsupported object store url '{url}' (scheme '{other}'): use file://, s3://, gs://, az:// or memory://"
            ));
        }
    };
    Ok(if prefix.is_empty() || matches!(scheme, "abfs" | "abfss" | "adl") {
        store
    } else {
        Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
    })
}

/// Where file bytes live.
#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
}

impl Blobs {
    /// Opens the store named by `url`: `file:///abs/dir`, `file://rel/dir`, `memory://`,
    /// `s3://bucket[/prefix]`, `gs://bucket[/prefix]` or `az://container[/prefix]`.
    pub fn open(url: &str) -> Result<Self, String> {
        if let Some(path) = url.strip_prefix("file://") {
            std::fs::create_dir_all(path).map_err(|e| format!("creating {path}: {e}"))?;
            let fs = object_store::local::LocalFileSystem::new_with_prefix(path).map_err(|e| e.to_string())?;
            return Ok(Self { store: Arc::new(fs) });
        }
        if url.starts_with("memory://") {
            return Ok(Self { store: Arc::new(object_store::memory::InMemory::new()) });
        }
        Ok(Self { store: cloud(url)? })
    }

    /// The store's description (for logs).
    pub fn describe(&self) -> String {
        self.store.to_string()
    }

    /// Streams `chunks` to `key`, failing with 413 past `max_bytes`. Returns the size.
    /// A failed write leaves nothing behind.
    pub async fn put_stream<S, E>(&self, key: &str, mut chunks: S, max_bytes: u64, param: &str) -> ServiceResult<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Into<ServiceError>,
    {
        let path = Path::from(key);
        let upload =
            self.store.put_multipart(&path).await.map_err(|e| ServiceError::internal("starting blob upload", e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut total: u64 = 0;
        while let Some(chunk) = chunks.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e.into());
                }
            };
            total += chunk.len() as u64;
            if total > max_bytes {
                let _ = writer.abort().await;
                return Err(ServiceError::too_large(
                    param,
                    format!("File is too large: the limit is {max_bytes} bytes."),
                )
                .with_code("file_too_large"));
            }
            if let Err(e) = writer.wait_for_capacity(2).await {
                let _ = writer.abort().await;
                return Err(ServiceError::internal("writing blob", e));
            }
            writer.put(chunk);
        }
        writer.finish().await.map_err(|e| ServiceError::internal("finishing blob upload", e))?;
        Ok(total)
    }

    /// The bytes of `key`, streamed.
    pub async fn get_stream(&self, key: &str) -> ServiceResult<BoxStream<'static, ServiceResult<Bytes>>> {
        let res = self.store.get(&Path::from(key)).await.map_err(|e| ServiceError::internal("opening blob", e))?;
        Ok(res.into_stream().map(|r| r.map_err(|e| ServiceError::internal("reading blob", e))).boxed())
    }

    /// Removes `key`; missing is fine.
    pub async fn delete(&self, key: &str) {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => tracing::warn!(key, error = %e, "deleting blob failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(n: usize, size: usize) -> impl Stream<Item = Result<Bytes, ServiceError>> + Unpin {
        futures::stream::iter((0..n).map(move |i| Ok(Bytes::from(vec![i as u8; size]))))
    }

    #[tokio::test]
    async fn streams_and_enforces_limit() {
        let blobs = Blobs::open("memory://").unwrap();
        assert_eq!(blobs.put_stream("a", chunks(3, 10), 30, "file").await.unwrap(), 30);
        let got: Vec<Bytes> = blobs.get_stream("a").await.unwrap().map(|r| r.unwrap()).collect().await;
        assert_eq!(got.concat().len(), 30);
        let err = blobs.put_stream("b", chunks(4, 10), 30, "file").await.unwrap_err();
        assert_eq!(err.kind, assistd_common::error::ErrorKind::TooLarge);
        assert!(blobs.get_stream("b").await.is_err(), "nothing is left behind");
    }

    #[tokio::test]
    async fn a_failing_stream_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(&format!("file://{}", dir.path().display())).unwrap();
        let items = vec![Ok(Bytes::from_static(b"abc")), Err(ServiceError::invalid("file", "client went away"))];
        let err = blobs.put_stream("x/y", futures::stream::iter(items), 100, "file").await.unwrap_err();
        assert_eq!(err.param.as_deref(), Some("file"));
        assert!(blobs.get_stream("x/y").await.is_err());
        let leftovers: Vec<_> = walk(dir.path());
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = vec![];
        for e in std::fs::read_dir(p).unwrap().flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
        out
    }
}
