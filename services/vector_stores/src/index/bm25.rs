//! BM25 sparse vectors, computed from text, shared by every [`super::VectorIndex`]
//! implementation so that the embedded and the server index score identically.
//!
//! Built on qdrant-edge's BM25 embedder (`qdrant_edge::bm25_embed`), the same code the
//! Qdrant server runs for its `Bm25` inference: the `word` tokenizer, lowercasing,
//! English stopwords and the English Snowball stemmer. A term's index is the murmur3
//! hash of the processed token (wire-compatible with Qdrant's own BM25 vectors).
//!
//! How the BM25 formula is split between the two sides:
//!
//! - A **document** vector holds, for each distinct term, the saturated and
//!   length-normalised term frequency `tf·(k1+1) / (tf + k1·(1 − b + b·len/avg_len))`
//!   with `k1 = 1.2`, `b = 0.75` and `len` the number of tokens left after stopword
//!   removal. It is computed once, when the chunk is indexed.
//! - A **query** vector holds `1.0` for each distinct term.
//! - The **IDF** factor is applied by the index at query time: the collection's sparse
//!   vector `bm25` is declared with the `idf` modifier, so Qdrant multiplies each query
//!   weight by `ln(1 + (N − n + 0.5) / (n + 0.5))` over the live points of the collection.
//!   The dot product is then the BM25 score.
//!
//! `avg_len` cannot follow the corpus (a document vector is fixed when it is written,
//! and the corpus keeps changing), so it is a constant, [`AVG_LEN`] = 256 tokens,
//! Qdrant's default, which sits between the lengths of small chunks (~100 terms for
//! 150 words) and of the default 800-token chunks (~350 terms). A wrong guess only
//! shifts how strongly length normalisation bends the term frequency; rankings keep
//! BM25's shape (shorter documents and more occurrences score higher). Changing any of
//! these constants changes the stored vectors: it needs a reindex.
//!
//! Statistics are per collection: the document frequency `n` and count `N` behind the
//! IDF are counted over every chunk of every project in the collection, not per vector
//! store (Qdrant's multitenancy pattern has one IDF for the whole collection). Only the
//! scores are affected, never what a search may return.

use std::sync::LazyLock;

use qdrant_edge::TokenizerType;
use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};
use qdrant_edge::external::ordered_float::NotNan;

/// BM25 term-frequency saturation.
pub const K1: f64 = 1.2;
/// BM25 length normalisation.
pub const B: f64 = 0.75;
/// The assumed average document length, in tokens (after stopword removal).
pub const AVG_LEN: f64 = 256.0;

/// A sparse vector: parallel term indices and weights, indices unique.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVector {
    /// Term ids (murmur3 hashes of the processed tokens).
    pub indices: Vec<u32>,
    /// The weight of each term.
    pub values: Vec<f32>,
}

impl SparseVector {
    /// Whether the vector has no term (the text had only stopwords or punctuation).
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

static MODEL: LazyLock<EdgeBm25> = LazyLock::new(|| {
    let config = EdgeBm25Config {
        k: NotNan::new(K1).expect("k1 is a number"),
        b: NotNan::new(B).expect("b is a number"),
        avg_len: NotNan::new(AVG_LEN).expect("avg_len is a number"),
        tokenizer: TokenizerType::Word,
        language: Some("english".to_owned()),
        lowercase: Some(true),
        ..EdgeBm25Config::default()
    };
    EdgeBm25::new(config).expect("the bm25 configuration is valid")
});

/// The BM25 vector of a document (a chunk): term-frequency weights.
pub fn document(text: &str) -> SparseVector {
    let v = MODEL.embed_document(text);
    SparseVector { indices: v.indices, values: v.values }
}

/// The BM25 vector of a query: weight 1 for each distinct term.
pub fn query(text: &str) -> SparseVector {
    let v = MODEL.embed_query(text);
    SparseVector { indices: v.indices, values: v.values }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weight(v: &SparseVector, term_of: &str) -> f32 {
        let q = query(term_of);
        assert_eq!(q.indices.len(), 1, "{term_of:?} is one term");
        v.indices.iter().zip(&v.values).find(|(i, _)| **i == q.indices[0]).map(|(_, w)| *w).unwrap_or(0.0)
    }

    #[test]
    fn stopwords_case_and_stemming() {
        assert!(query("the and of a").is_empty());
        assert_eq!(query("Running RUNS"), query("run"));
        assert_eq!(query("Databases"), query("database"));
        let q = query("the quick brown fox");
        assert_eq!(q.indices.len(), 3);
        assert!(q.values.iter().all(|v| *v == 1.0));
    }

    #[test]
    fn document_weights_follow_bm25() {
        let short = document("zebra zebra lion");
        let long = document(&format!("zebra zebra lion {}", "giraffe ".repeat(300)));
        assert!(weight(&short, "zebra") > weight(&short, "lion"));
        assert!(weight(&short, "zebra") > weight(&long, "zebra"));
        // tf = 1, len = 3: 1·2.2 / (1 + 1.2·(0.25 + 0.75·3/256))
        let expected = 2.2 / (1.0 + 1.2 * (0.25 + 0.75 * 3.0 / 256.0));
        assert!((f64::from(weight(&short, "lion")) - expected).abs() < 1e-5);
        let mut sorted = short.indices.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), short.indices.len());
    }
}
