//! Hybrid search over the index: every query runs lexically (BM25) and, with an
//! embedder, semantically; the ranked lists of all queries are fused with reciprocal
//! rank fusion (k = 60).
//!
//! The score reported for a chunk is its fused score divided by the best fused score
//! possible for the lists that ran (first in every one of them), so it lies in (0, 1]
//! and is 1 only for a chunk every list put first. `ranking_options.score_threshold`
//! applies to that score.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::embed::Embedder;
use crate::index::{AttrFilter, Hit, IndexError, Query, VectorIndex};

/// The RRF constant.
pub const RRF_K: f64 = 60.0;

/// What to search.
#[derive(Debug, Clone)]
pub struct SearchParams {
    /// The project.
    pub project: String,
    /// The stores.
    pub vector_store_ids: Vec<String>,
    /// The queries (at least one).
    pub queries: Vec<String>,
    /// Attribute filter.
    pub filter: Option<AttrFilter>,
    /// Most results.
    pub max_results: usize,
    /// Minimum score, 0-1.
    pub score_threshold: f64,
}

/// A chunk found.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The store.
    pub vector_store_id: String,
    /// The file.
    pub file_id: String,
    /// The chunk's position in the file.
    pub position: u32,
    /// The chunk's text.
    pub text: String,
    /// The file's attributes.
    pub attributes: Map<String, Value>,
    /// Fused score, 0-1.
    pub score: f64,
}

/// The options of a client's search of one store, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    /// The queries as given (blank ones left out).
    pub queries: Vec<String>,
    /// Most results (1-50, default 10).
    pub max_results: usize,
    /// Minimum score (0-1).
    pub score_threshold: f64,
    /// Whether to rewrite the queries (see [`rewrite`]).
    pub rewrite: bool,
}

/// What a client's search answers: the queries run and what they found.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResults {
    /// The queries as run (rewritten when asked).
    pub search_query: Vec<String>,
    /// Best first.
    pub data: Vec<SearchResult>,
}

/// A chunk found, with its file's name.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    pub found: Found,
    /// The name learned while indexing (empty if unknown).
    pub filename: String,
}

/// Which lists a search uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// BM25 only.
    Lexical,
    /// BM25 and dense, fused.
    Hybrid,
    /// Dense only (for measuring; needs an embedder).
    Dense,
}

/// Searches an index, embedding queries when an embedder is configured.
#[derive(Clone)]
pub struct Searcher {
    index: Arc<dyn VectorIndex>,
    embedder: Option<Arc<dyn Embedder>>,
}

impl Searcher {
    /// A searcher over `index`; lexical-only without an embedder.
    pub fn new(index: Arc<dyn VectorIndex>, embedder: Option<Arc<dyn Embedder>>) -> Self {
        Self { index, embedder }
    }

    /// The index.
    pub fn index(&self) -> &Arc<dyn VectorIndex> {
        &self.index
    }

    /// The embedder, if any.
    pub fn embedder(&self) -> Option<&Arc<dyn Embedder>> {
        self.embedder.as_ref()
    }

    /// Which lists a search runs.
    pub fn mode(&self) -> Mode {
        if self.embedder.is_some() { Mode::Hybrid } else { Mode::Lexical }
    }

    /// Runs the search in the configured mode.
    pub async fn search(&self, p: &SearchParams) -> Result<Vec<Found>, IndexError> {
        self.search_with(p, self.mode()).await
    }

    /// Runs the search with `mode` (hybrid and dense need an embedder; without one it is
    /// lexical).
    ///
    /// The lexical searches run while the queries are being embedded, so a hybrid search
    /// takes the embedding plus the dense searches, not the lexical ones too.
    pub async fn search_with(&self, p: &SearchParams, mode: Mode) -> Result<Vec<Found>, IndexError> {
        let per_list = (p.max_results * 3).clamp(20, 150);
        let query = |text: &str, dense: Option<Vec<f32>>| Query {
            project: p.project.clone(),
            vector_store_ids: p.vector_store_ids.clone(),
            text: text.to_owned(),
            dense,
            filter: p.filter.clone(),
            limit: per_list,
        };
        let lexical = async {
            let mut lists = Vec::with_capacity(p.queries.len());
            for text in &p.queries {
                lists.push(self.index.search(&query(text, None)).await?.lexical);
            }
            Ok::<_, IndexError>(lists)
        };
        let embedder = self.embedder.as_ref().filter(|_| mode != Mode::Lexical);
        let Some(embedder) = embedder else {
            return Ok(fuse(lexical.await?, p.max_results, p.score_threshold));
        };
        let embedding = async { embedder.embed(&p.queries).await.map_err(|e| IndexError::Unavailable(e.to_string())) };
        let (mut lists, vectors) = if mode == Mode::Dense {
            (Vec::new(), embedding.await)
        } else {
            let (lexical, vectors) = tokio::join!(lexical, embedding);
            (lexical?, vectors)
        };
        for vector in vectors? {
            // no text: the dense list alone
            lists.push(self.index.search(&query("", Some(vector))).await?.semantic);
        }
        Ok(fuse(lists, p.max_results, p.score_threshold))
    }
}

/// Reciprocal rank fusion of ranked lists, best first, normalised to (0, 1].
pub fn fuse(lists: Vec<Vec<Hit>>, max_results: usize, score_threshold: f64) -> Vec<Found> {
    let ran = lists.len().max(1) as f64;
    let best = ran / (RRF_K + 1.0);
    let mut fused: HashMap<(String, String, u32), (f64, Hit)> = HashMap::new();
    for list in lists {
        for (rank, hit) in list.into_iter().enumerate() {
            let add = 1.0 / (RRF_K + rank as f64 + 1.0);
            let key = (hit.vector_store_id.clone(), hit.file_id.clone(), hit.position);
            fused.entry(key).and_modify(|(s, _)| *s += add).or_insert((add, hit));
        }
    }
    let mut out: Vec<Found> = fused
        .into_values()
        .map(|(s, h)| Found {
            vector_store_id: h.vector_store_id,
            file_id: h.file_id,
            position: h.position,
            text: h.text,
            attributes: h.attributes,
            score: (s / best).min(1.0),
        })
        .filter(|f| f.score >= score_threshold)
        .collect();
    out.sort_by(|a, b| {
        b.score.total_cmp(&a.score).then_with(|| a.file_id.cmp(&b.file_id)).then_with(|| a.position.cmp(&b.position))
    });
    out.truncate(max_results);
    out
}

/// A query as `rewrite_query` rewrites it for search: lowercased words without
/// punctuation or question words ("What is the default port?" → "default port").
/// (OpenAI rewrites with a model; this is a deterministic stand-in.)
pub fn rewrite(query: &str) -> String {
    const DROP: &[&str] = &[
        "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "is", "are", "was", "were", "do",
        "does", "did", "the", "a", "an", "of", "to", "in", "on", "for", "can", "could", "should", "would", "i", "me",
        "my", "you", "your", "please", "tell", "about", "there", "it", "its", "be",
    ];
    let words: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric() && c != '-' && c != '_')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !DROP.contains(&w.as_str()))
        .collect();
    if words.is_empty() { query.trim().to_owned() } else { words.join(" ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(file: &str, pos: u32) -> Hit {
        Hit {
            vector_store_id: "vs".into(),
            file_id: file.into(),
            position: pos,
            text: format!("{file}:{pos}"),
            attributes: Map::new(),
            score: 0.0,
        }
    }

    #[test]
    fn fusion_rewards_agreement_and_normalises() {
        let lexical = vec![hit("a", 0), hit("b", 0), hit("c", 0)];
        let semantic = vec![hit("b", 0), hit("a", 0), hit("d", 0)];
        let out = fuse(vec![lexical, semantic], 10, 0.0);
        assert_eq!(out.len(), 4);
        // a and b tie (1st + 2nd each); both beat c and d, each in one list only.
        assert!(out[0].score > out[2].score);
        assert!(out.iter().all(|f| f.score > 0.0 && f.score <= 1.0));
        let top_everywhere = fuse(vec![vec![hit("a", 0)], vec![hit("a", 0)]], 10, 0.0);
        assert!((top_everywhere[0].score - 1.0).abs() < 1e-9);
    }

    #[test]
    fn threshold_and_limit() {
        let list: Vec<Hit> = (0..30).map(|i| hit("f", i)).collect();
        let out = fuse(vec![list.clone()], 5, 0.0);
        assert_eq!(out.len(), 5);
        assert_eq!(out[0].position, 0);
        let out = fuse(vec![list], 50, 0.9);
        assert!(out.iter().all(|f| f.score >= 0.9));
        assert!(out.len() < 30);
    }

    #[test]
    fn rewrite_drops_question_words() {
        assert_eq!(rewrite("What is the default port?"), "default port");
        assert_eq!(rewrite("???"), "???");
    }
}
