//! Dense embeddings for hybrid search.
//!
//! [`Embedder`] turns texts into vectors. Two implementations: [`minilm::MiniLm`]
//! (all-MiniLM-L6-v2 run in-process, the default) and
//! [`openai::OpenAiEmbeddings`] (any OpenAI-compatible `/v1/embeddings` backend).
//! The vector size comes from the embedder in use; [`Embedder::id`] names the model (and
//! how it embeds passages) so the index never mixes vectors of two embedders.

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
    /// One L2-normalised vector per text, in order (queries, and passages when the
    /// embedder is not [windowed](Self::windowed)).
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
    /// Whether [`embed_passages`](Self::embed_passages) gives several vectors per passage;
    /// the index then keeps them as one multivector that a query scores by its best match
    /// (MaxSim).
    fn windowed(&self) -> bool {
        false
    }
    /// The dense vector of an index of this embedder's passages.
    fn dense(&self) -> crate::index::Dense {
        crate::index::Dense { dim: self.dim(), windows: self.windowed() }
    }
    /// The vectors of passages (chunks being indexed), in order, each passage's vectors
    /// laid end to end ([`dim`](Self::dim) floats apiece): one per passage, or one per
    /// window of a [windowed](Self::windowed) embedder, so that no part of a passage
    /// longer than the model reads goes unseen.
    async fn embed_passages(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed(texts).await
    }
}
