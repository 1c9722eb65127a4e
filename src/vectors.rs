//! The vector stores service's parts, from the settings (DESIGN.md §4–5): the
//! embedder (an OpenAI-compatible `/v1/embeddings` backend, else the embedded
//! all-MiniLM-L6-v2, else none: lexical-only search) and the vector index (a Qdrant
//! server at `ASSISTD_QDRANT_URL`, else qdrant-edge under `<data-dir>/vectors/`).
//! The collection is named after the embedder, so vectors of two embedders never mix.

use std::sync::Arc;

use anyhow::Context;
use assistd_vector_stores::embed::Embedder;
use assistd_vector_stores::embed::minilm::MiniLm;
use assistd_vector_stores::embed::openai::OpenAiEmbeddings;
use assistd_vector_stores::index::VectorIndex;
use assistd_vector_stores::index::edge::EdgeIndex;
use assistd_vector_stores::index::qdrant::QdrantIndex;

use crate::config::Settings;

/// `ASSISTD_EMBEDDINGS_MODEL` value that turns dense embeddings off.
const NO_EMBEDDINGS: &str = "none";

/// The embedder the settings ask for; `None` means lexical-only search.
pub async fn embedder(settings: &Settings) -> anyhow::Result<Option<Arc<dyn Embedder>>> {
    if settings.embeddings_model.as_deref() == Some(NO_EMBEDDINGS) {
        tracing::info!("dense embeddings are off (ASSISTD_EMBEDDINGS_MODEL=none): search is lexical only");
        return Ok(None);
    }
    if let Some(url) = &settings.embeddings_base_url {
        let model = settings.embeddings_model.clone().unwrap_or_else(|| "text-embedding-3-small".into());
        let key =
            std::env::var("ASSISTD_EMBEDDINGS_API_KEY").ok().filter(|k| !k.is_empty()).or(settings.llm_api_key.clone());
        let e = OpenAiEmbeddings::connect(url, key, &model)
            .await
            .map_err(|e| anyhow::anyhow!(e.to_string()))
            .with_context(|| format!("embeddings backend {url}"))?;
        return Ok(Some(Arc::new(e)));
    }
    let dir = std::env::var_os("ASSISTD_EMBEDDED_EMBEDDER")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| assistd_vector_stores::embed::minilm::default_dir(&settings.data_dir));
    if !dir.join("model.safetensors").is_file() {
        tracing::warn!(
            path = %dir.display(),
            "the embedded embedding model is not installed (run scripts/setup-models): search is lexical only"
        );
        return Ok(None);
    }
    let m =
        tokio::task::spawn_blocking(move || MiniLm::load(&dir)).await?.map_err(|e| anyhow::anyhow!(e.to_string()))?;
    Ok(Some(Arc::new(m)))
}

/// The collection name for an embedder: `assistd_chunks_<id>` (or `_lexical`).
pub fn collection(embedder: Option<&Arc<dyn Embedder>>) -> String {
    let id = embedder.map(|e| e.id().to_owned()).unwrap_or_else(|| "lexical".into());
    let id: String = id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    format!("assistd_chunks_{id}")
}

/// The vector index the settings ask for.
pub async fn index(settings: &Settings, embedder: Option<&Arc<dyn Embedder>>) -> anyhow::Result<Arc<dyn VectorIndex>> {
    let name = collection(embedder);
    let dense = embedder.map(|e| e.dense());
    if let Some(url) = &settings.qdrant_url {
        let key = std::env::var("ASSISTD_QDRANT_API_KEY").ok().filter(|k| !k.is_empty());
        let index = QdrantIndex::connect(url, key, &name, dense)
            .await
            .map_err(|e| anyhow::anyhow!(e.to_string()))
            .with_context(|| format!("connecting to Qdrant at {url} (collection {name})"))?;
        return Ok(Arc::new(index));
    }
    let dir = settings.data_dir.join("vectors").join(&name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let index = tokio::task::spawn_blocking(move || EdgeIndex::open(&dir, dense))
        .await?
        .map_err(|e| anyhow::anyhow!(e.to_string()))
        .context("opening the embedded vector index")?;
    Ok(Arc::new(index))
}
