//! Hybrid search over the index: every query runs lexically (BM25) and, with an
//! embedder, semantically; the ranked lists are fused by a convex combination of their
//! normalised scores (Bruch, Gai and Ingber, "An Analysis of Fusion Functions for Hybrid
//! Retrieval", ACM TOIS 2023), with weights set per query.
//!
//! Each list's scores are scaled to [0, 1] (min-max: its first hit 1, its last 0, a list
//! of one hit 1), so BM25's unbounded scores and cosines meet on one scale and a list
//! counts by how far apart its hits are, not only by their order. Reciprocal rank fusion,
//! used before, gave a chunk that BM25 ranked first on a few common words as much as the
//! dense list's best, and made hybrid search worse than dense search on paraphrased
//! questions.
//!
//! The weights follow how much of the query BM25's best chunk holds ([`coverage`]): a
//! question in the document's own words finds a chunk holding most of its terms, and
//! BM25 is then the surer list; a paraphrase matches only a stray term or two, and the
//! dense list decides ([`Fusion`], [`FUSION`]; chosen on both labelled sets,
//! docs/benchmarks.md). A chunk's score is the weighted sum over the lists of one query (a
//! list it is not in adds 0), averaged over the queries, and rescaled to
//! [[`SCORE_FLOOR`], 1]: it is 1 only for a chunk first in every list, and positive for
//! every chunk found. `ranking_options.score_threshold` applies to it.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::embed::Embedder;
use crate::index::{AttrFilter, Hit, IndexError, Query, VectorIndex, bm25};

/// How hybrid search weighs a query's two lists: the lexical list gets
/// `lexical_max · coverageᵖᵒʷᵉʳ`, the dense list the rest, where `coverage` is the share
/// of the query's BM25 terms that the lexical list's best chunk holds (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fusion {
    /// The lexical list's weight when its best chunk holds every term of the query.
    pub lexical_max: f64,
    /// How fast that weight falls as the best chunk holds fewer of the terms (0: not at
    /// all, a fixed convex combination).
    pub power: i32,
}

impl Fusion {
    /// The lexical and the dense list's weights for a query whose best lexical chunk
    /// holds `coverage` (0–1) of its terms.
    pub fn weights(&self, coverage: f64) -> (f64, f64) {
        let lexical = (self.lexical_max * coverage.clamp(0.0, 1.0).powi(self.power)).clamp(0.0, 1.0);
        (lexical, 1.0 - lexical)
    }
}

/// The score of a chunk at the bottom of every list it is in: scores lie in
/// [`SCORE_FLOOR`, 1] (OpenAI's are positive), a monotone rescaling that keeps the order.
pub const SCORE_FLOOR: f64 = 0.01;

/// The fusion in use, chosen on both labelled sets (docs/benchmarks.md has the sweep).
pub const FUSION: Fusion = Fusion { lexical_max: 0.8, power: 4 };

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
    fusion: Fusion,
}

impl Searcher {
    /// A searcher over `index`; lexical-only without an embedder.
    pub fn new(index: Arc<dyn VectorIndex>, embedder: Option<Arc<dyn Embedder>>) -> Self {
        Self { index, embedder, fusion: FUSION }
    }

    /// The same searcher with other fusion weights (for measuring; [`FUSION`] otherwise).
    pub fn with_fusion(mut self, fusion: Fusion) -> Self {
        self.fusion = fusion;
        self
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
        let queries = p.queries.len();
        let Some(embedder) = embedder else {
            let lists = lexical.await?.into_iter().map(|l| (l, 1.0)).collect();
            return Ok(fuse(lists, queries, p.max_results, p.score_threshold));
        };
        let embedding = async { embedder.embed(&p.queries).await.map_err(|e| IndexError::Unavailable(e.to_string())) };
        let (mut lists, vectors): (Vec<(Vec<Hit>, f64)>, _) = if mode == Mode::Dense {
            (Vec::new(), embedding.await)
        } else {
            let (lexical, vectors) = tokio::join!(lexical, embedding);
            (lexical?.into_iter().map(|l| (l, 0.0)).collect(), vectors)
        };
        for (i, vector) in vectors?.into_iter().enumerate() {
            let dense = self.index.search(&query("", Some(vector))).await?.semantic;
            if mode == Mode::Dense {
                lists.push((dense, 1.0));
                continue;
            }
            // the query's lexical list is lists[i]: its weight follows how much of the
            // query its best chunk holds
            let lexical = &mut lists[i];
            let coverage = lexical.0.first().map_or(0.0, |best| coverage(&p.queries[i], &best.text));
            let (lexical_weight, dense_weight) = self.fusion.weights(coverage);
            lexical.1 = lexical_weight;
            lists.push((dense, dense_weight));
        }
        Ok(fuse(lists, queries, p.max_results, p.score_threshold))
    }
}

/// The share of a query's distinct BM25 terms (stemmed, stopwords left out) that a text
/// holds; 0 for a query with no such term.
pub fn coverage(query: &str, text: &str) -> f64 {
    let q = bm25::query(query);
    if q.indices.is_empty() {
        return 0.0;
    }
    let d = bm25::document(text);
    let held = q.indices.iter().filter(|t| d.indices.contains(t)).count();
    held as f64 / q.indices.len() as f64
}

/// Fuses weighted ranked lists (best first) of `queries` queries: the weighted sum of each
/// chunk's min-max-normalised scores, divided by `queries`, rescaled to
/// [[`SCORE_FLOOR`], 1] (see the module doc).
pub fn fuse(lists: Vec<(Vec<Hit>, f64)>, queries: usize, max_results: usize, score_threshold: f64) -> Vec<Found> {
    let queries = queries.max(1) as f64;
    let mut fused: HashMap<(String, String, u32), (f64, Hit)> = HashMap::new();
    for (list, weight) in lists {
        let (Some(first), Some(last)) = (list.first(), list.last()) else { continue };
        let (top, bottom) = (f64::from(first.score), f64::from(last.score));
        let spread = top - bottom;
        for hit in list {
            let normalised = if spread > 0.0 { (f64::from(hit.score) - bottom) / spread } else { 1.0 };
            let add = weight * normalised / queries;
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
            score: (SCORE_FLOOR + (1.0 - SCORE_FLOOR) * s).clamp(SCORE_FLOOR, 1.0),
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

    fn hit(file: &str, pos: u32, score: f32) -> Hit {
        Hit {
            vector_store_id: "vs".into(),
            file_id: file.into(),
            position: pos,
            text: format!("{file}:{pos}"),
            attributes: Map::new(),
            score,
        }
    }

    fn order(found: &[Found]) -> Vec<&str> {
        found.iter().map(|f| f.file_id.as_str()).collect()
    }

    #[test]
    fn fusion_weighs_normalised_scores() {
        // BM25 puts a first on a few common words, barely ahead; the dense list is sure of b
        let lexical = vec![hit("a", 0, 5.1), hit("b", 0, 5.0), hit("c", 0, 1.0)];
        let dense = vec![hit("b", 0, 0.80), hit("d", 0, 0.40), hit("a", 0, 0.30)];
        let out = fuse(vec![(lexical.clone(), 0.1), (dense.clone(), 0.9)], 1, 10, 0.0);
        assert_eq!(order(&out), ["b", "d", "a", "c"]);
        // b: 0.1 * (4.0 / 4.1) + 0.9 * 1, rescaled
        let b = 0.1 * 4.0 / 4.1 + 0.9;
        assert!((out[0].score - (SCORE_FLOOR + (1.0 - SCORE_FLOOR) * b)).abs() < 1e-6, "{}", out[0].score);
        // c is last in the one list it is in
        assert_eq!(out[3].score, SCORE_FLOOR);
        assert!(out.iter().all(|f| f.score > 0.0 && f.score <= 1.0));
        // with the weights the other way round, BM25's order wins
        let out = fuse(vec![(lexical, 0.9), (dense, 0.1)], 1, 10, 0.0);
        assert_eq!(order(&out), ["b", "a", "d", "c"]);
    }

    #[test]
    fn first_everywhere_scores_one_and_queries_average() {
        let one = |f: &str| vec![hit(f, 0, 3.0), hit("z", 0, 1.0)];
        let out = fuse(vec![(one("a"), 0.1), (one("a"), 0.9)], 1, 10, 0.0);
        assert!((out[0].score - 1.0).abs() < 1e-9);
        // two queries: a is first for one of them only
        let out = fuse(vec![(one("a"), 0.1), (one("a"), 0.9), (one("b"), 0.1), (one("b"), 0.9)], 2, 10, 0.0);
        assert_eq!(order(&out)[..2], ["a", "b"]);
        assert!((out[0].score - (SCORE_FLOOR + (1.0 - SCORE_FLOOR) * 0.5)).abs() < 1e-9, "{}", out[0].score);
        // a list of one hit, or of equal scores, counts fully; empty lists add nothing
        let out = fuse(vec![(vec![hit("a", 0, 0.2)], 1.0), (Vec::new(), 1.0)], 1, 10, 0.0);
        assert!((out[0].score - 1.0).abs() < 1e-9);
    }

    #[test]
    fn weights_follow_coverage() {
        assert_eq!(FUSION.weights(1.0), (0.8, 0.19999999999999996));
        assert_eq!(FUSION.weights(0.0), (0.0, 1.0));
        let (half, _) = FUSION.weights(0.5);
        assert!((half - 0.8 / 16.0).abs() < 1e-12);
        let fixed = Fusion { lexical_max: 0.3, power: 0 };
        assert_eq!(fixed.weights(0.0), fixed.weights(1.0));
        assert_eq!(coverage("How do sea otters sleep?", "Sea otters hold hands while they sleep."), 1.0);
        let some = coverage("Where do otters rest at night?", "Sea otters hold hands while they sleep.");
        assert!(some > 0.0 && some < 0.5, "{some}");
        assert_eq!(coverage("the of and", "anything"), 0.0);
    }

    #[test]
    fn threshold_and_limit() {
        let list: Vec<Hit> = (0..30).map(|i| hit("f", i, 30.0 - i as f32)).collect();
        let out = fuse(vec![(list.clone(), 1.0)], 1, 5, 0.0);
        assert_eq!(out.len(), 5);
        assert_eq!(out[0].position, 0);
        let out = fuse(vec![(list, 1.0)], 1, 50, 0.9);
        assert!(out.iter().all(|f| f.score >= 0.9));
        assert_eq!(out.len(), 3, "29/29, 28/29 and 27/29 (rescaled) are at least 0.9");
    }

    #[test]
    fn rewrite_drops_question_words() {
        assert_eq!(rewrite("What is the default port?"), "default port");
        assert_eq!(rewrite("???"), "???");
    }
}
