//! Dense embeddings for hybrid search.
//!
//! [`Embedder`] turns texts into vectors. Two implementations: [`minilm::MiniLm`]
//! (all-MiniLM-L6-v2 run in-process, the default) and
//! [`openai::OpenAiEmbeddings`] (any OpenAI-compatible `/v1/embeddings` backend).
//! The vector size comes from the embedder in use; [`Embedder::id`] names the model so
//! the index never mixes vectors of two embedders.

pub mod minilm;
pub mod openai;

/// Why embedding failed.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model files are missing or broken.
    #[error("embedding model unavailable: {0}")]
    Unavailable(String),
    /// The backend failed or answered something unusable.
    #[error("embedding backend error: {0}")]
    Backend(String),
}

/// Turns texts into dense vectors.
#[async_trait::async_trait]
pub trait Embedder: Send + Sync + 'static {
    /// A stable name of the model and its vector size, e.g. `minilm-l6-v2-384`; used in
    /// the collection name.
    fn id(&self) -> &str;
    /// The vector size.
    fn dim(&self) -> usize;
    /// One L2-normalised vector per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
}
