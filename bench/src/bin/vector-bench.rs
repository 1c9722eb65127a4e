//! Benchmarks of the vector stores pipeline, in process (no HTTP): ingestion
//! throughput (parse + chunk [+ embed] + index, in MB/s of parsed text) over real
//! documents, and search latency on qdrant-edge at a given number of chunks.
//!
//! ```text
//! vector-bench ingest --fixtures DIR [--hybrid --embedder DIR] [--passes N]
//! vector-bench search [--chunks 100000] [--queries 1000] [--hybrid --embedder DIR] --fixtures DIR
//! vector-bench embed --embedder DIR --fixtures DIR [--queries 1000] [--words N]
//! ```
//! Hybrid search indexes the chunks with random unit vectors (embedding 100k chunks with
//! MiniLM on a laptop CPU takes hours; dense search cost does not depend on what the
//! vectors mean) but embeds every query for real, so its latency includes the
//! embedding of the query.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use assistd_vector_stores::embed::Embedder;
use assistd_vector_stores::embed::minilm::{MiniLm, WINDOW_PIECES};
use assistd_vector_stores::index::edge::EdgeIndex;
use assistd_vector_stores::index::{ChunkPoint, VectorIndex};
use assistd_vector_stores::ingest::{chunk, parse};
use assistd_vector_stores::search::{Mode, SearchParams, Searcher};
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Ingestion throughput over the fixture documents.
    Ingest {
        /// The fixtures dir (scripts/fetch-fixtures).
        #[arg(long)]
        fixtures: PathBuf,
        /// Embed with MiniLM too.
        #[arg(long)]
        hybrid: bool,
        /// The MiniLM model dir.
        #[arg(long)]
        embedder: Option<PathBuf>,
        /// Times the corpus is ingested (as different files).
        #[arg(long, default_value_t = 5)]
        passes: usize,
    },
    /// Search latency at a number of chunks.
    Search {
        /// The fixtures dir (for text).
        #[arg(long)]
        fixtures: PathBuf,
        /// Chunks in the index.
        #[arg(long, default_value_t = 100_000)]
        chunks: usize,
        /// Queries measured.
        #[arg(long, default_value_t = 1000)]
        queries: usize,
        /// Hybrid (BM25 + dense) instead of lexical.
        #[arg(long)]
        hybrid: bool,
        /// The MiniLM model dir.
        #[arg(long)]
        embedder: Option<PathBuf>,
    },
    /// Latency of embedding one short query with MiniLM, the part of a hybrid search
    /// that the index does not do.
    Embed {
        /// The fixtures dir (for text).
        #[arg(long)]
        fixtures: PathBuf,
        /// The MiniLM model dir.
        #[arg(long)]
        embedder: PathBuf,
        /// Queries measured.
        #[arg(long, default_value_t = 1000)]
        queries: usize,
        /// Words per query (default: 3 to 7, as in `search`).
        #[arg(long)]
        words: Option<usize>,
    },
}

/// The documents: every PDF, DOCX and the CommonMark spec in the fixtures.
fn corpus(fixtures: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut add_dir = |dir: PathBuf, ext: &str| -> anyhow::Result<()> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == ext))
            .collect();
        paths.sort();
        for p in paths {
            out.push((p.file_name().unwrap_or_default().to_string_lossy().into_owned(), std::fs::read(&p)?));
        }
        Ok(())
    };
    add_dir(fixtures.join("pdf-parse/test/data"), "pdf")?;
    add_dir(fixtures.join("mammoth/test/test-data"), "docx")?;
    out.push(("spec.md".into(), std::fs::read(fixtures.join("commonmark-spec/spec.txt"))?));
    Ok(out)
}

fn embedder(dir: Option<PathBuf>) -> anyhow::Result<Arc<dyn Embedder>> {
    let dir = dir.context("--embedder DIR is needed with --hybrid")?;
    Ok(Arc::new(MiniLm::load(&dir).map_err(|e| anyhow::anyhow!(e.to_string()))?))
}

fn points(file: &str, texts: Vec<String>, dense: Option<Vec<Vec<f32>>>) -> Vec<ChunkPoint> {
    let mut dense = dense.map(Vec::into_iter);
    texts
        .into_iter()
        .enumerate()
        .map(|(i, text)| ChunkPoint {
            project: "bench".into(),
            vector_store_id: "vs_bench".into(),
            file_id: file.to_owned(),
            position: i as u32,
            text,
            attributes: Default::default(),
            dense: dense.as_mut().and_then(Iterator::next),
        })
        .collect()
}

async fn ingest(fixtures: &Path, hybrid: bool, embedder_dir: Option<PathBuf>, passes: usize) -> anyhow::Result<()> {
    let docs = corpus(fixtures)?;
    let embedder = if hybrid { Some(embedder(embedder_dir)?) } else { None };
    let tmp = tempfile::tempdir()?;
    let index =
        EdgeIndex::open(tmp.path(), embedder.as_ref().map(|e| e.dense())).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (mut text_bytes, mut chunks, mut failed) = (0usize, 0usize, 0usize);
    let (mut t_parse, mut t_chunk, mut t_embed, mut t_index) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let started = Instant::now();
    for pass in 0..passes {
        for (name, bytes) in &docs {
            let t = Instant::now();
            let text = match parse::parse(name, bytes) {
                Ok(t) => t,
                Err(_) => {
                    failed += 1;
                    continue;
                }
            };
            t_parse += t.elapsed();
            text_bytes += text.len();
            let t = Instant::now();
            let texts: Vec<String> = chunk::chunk(&text, 800, 400).into_iter().map(|c| c.text).collect();
            t_chunk += t.elapsed();
            chunks += texts.len();
            let t = Instant::now();
            let dense = match &embedder {
                Some(e) => Some(e.embed_passages(&texts).await.map_err(|e| anyhow::anyhow!("{e}"))?),
                None => None,
            };
            t_embed += t.elapsed();
            let t = Instant::now();
            index.upsert(points(&format!("{pass}-{name}"), texts, dense)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            t_index += t.elapsed();
        }
    }
    let total = started.elapsed().as_secs_f64();
    let mb = text_bytes as f64 / 1e6;
    println!(
        "ingest ({}): {} documents x {passes} passes ({failed} unparseable skipped), {mb:.2} MB of text, {chunks} chunks in {total:.2} s = {:.4} MB/s",
        if hybrid { "hybrid" } else { "lexical" },
        docs.len(),
        mb / total
    );
    println!(
        "  parse {:.2} s, chunk {:.2} s, embed {:.2} s, index {:.2} s",
        t_parse.as_secs_f64(),
        t_chunk.as_secs_f64(),
        t_embed.as_secs_f64(),
        t_index.as_secs_f64()
    );
    Ok(())
}

async fn search(
    fixtures: &Path,
    n: usize,
    queries: usize,
    hybrid: bool,
    embedder_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let spec = std::fs::read_to_string(fixtures.join("commonmark-spec/spec.txt"))?;
    let words: Vec<&str> = spec.split_whitespace().collect();
    let embedder = if hybrid { Some(embedder(embedder_dir)?) } else { None };
    let dense = embedder.as_ref().map(|e| e.dense());
    let tmp = tempfile::tempdir()?;
    let index = Arc::new(EdgeIndex::open(tmp.path(), dense).map_err(|e| anyhow::anyhow!("{e}"))?);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let started = Instant::now();
    let per_file = 100;
    for f in 0..n.div_ceil(per_file) {
        let count = per_file.min(n - f * per_file);
        let texts: Vec<String> = (0..count)
            .map(|_| {
                let at = rng.random_range(0..words.len() - 160);
                words[at..at + 150].join(" ")
            })
            .collect();
        // random unit vectors: one per chunk, or one per window (150 words are about 200
        // word pieces: 4 windows)
        let dense = dense.map(|d| {
            let windows = if d.windows { 200usize.div_ceil(WINDOW_PIECES) } else { 1 };
            (0..count)
                .map(|_| {
                    (0..windows)
                        .flat_map(|_| {
                            let v: Vec<f32> = (0..d.dim).map(|_| rng.random_range(-1.0f32..1.0)).collect();
                            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                            v.into_iter().map(move |x| x / norm)
                        })
                        .collect()
                })
                .collect()
        });
        index.upsert(points(&format!("file-{f}"), texts, dense)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    println!("indexed {n} chunks in {:.1} s", started.elapsed().as_secs_f64());
    let searcher = Searcher::new(index, embedder.clone());
    let mut embed_hist = Histogram::<u64>::new(3)?;
    let mode = if hybrid { Mode::Hybrid } else { Mode::Lexical };
    let mut hist = Histogram::<u64>::new(3)?;
    let mut empty = 0;
    for i in 0..queries + 50 {
        let len = rng.random_range(3..8);
        let at = rng.random_range(0..words.len() - 10);
        let q = words[at..at + len].join(" ");
        let p = SearchParams {
            project: "bench".into(),
            vector_store_ids: vec!["vs_bench".into()],
            queries: vec![q],
            filter: None,
            max_results: 10,
            score_threshold: 0.0,
        };
        if let Some(e) = &embedder
            && i >= 50
        {
            // the query's embedding alone, to see what part of a hybrid search it is
            let t = Instant::now();
            e.embed(&p.queries).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            embed_hist.record((t.elapsed().as_micros() as u64).max(1))?;
        }
        let t = Instant::now();
        let found = searcher.search_with(&p, mode).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let us = t.elapsed().as_micros() as u64;
        if found.is_empty() {
            empty += 1;
        }
        if i >= 50 {
            hist.record(us.max(1))?;
        }
    }
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "search ({}) at {n} chunks, {queries} queries ({empty} found nothing), 10 results: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        if hybrid { "hybrid" } else { "lexical" },
        ms(0.5),
        ms(0.99),
        hist.max() as f64 / 1000.0
    );
    if !embed_hist.is_empty() {
        let ms = |q: f64| embed_hist.value_at_quantile(q) as f64 / 1000.0;
        println!("  of which embedding the query alone: p50 {:.2} ms, p99 {:.2} ms", ms(0.5), ms(0.99));
    }
    Ok(())
}

async fn embed(fixtures: &Path, dir: PathBuf, queries: usize, words_per_query: Option<usize>) -> anyhow::Result<()> {
    let spec = std::fs::read_to_string(fixtures.join("commonmark-spec/spec.txt"))?;
    let words: Vec<&str> = spec.split_whitespace().collect();
    let embedder = embedder(Some(dir))?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut hist = Histogram::<u64>::new(3)?;
    for i in 0..queries + 50 {
        let len = words_per_query.unwrap_or_else(|| rng.random_range(3..8));
        let at = rng.random_range(0..words.len() - len);
        let q = vec![words[at..at + len].join(" ")];
        let t = Instant::now();
        embedder.embed(&q).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        if i >= 50 {
            hist.record((t.elapsed().as_micros() as u64).max(1))?;
        }
    }
    let words = words_per_query.map_or("3-7".to_owned(), |n| n.to_string());
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "embedding one query of {words} words, {queries} queries: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(0.5),
        ms(0.99),
        hist.max() as f64 / 1000.0
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Ingest { fixtures, hybrid, embedder, passes } => ingest(&fixtures, hybrid, embedder, passes).await,
        Cmd::Search { fixtures, chunks, queries, hybrid, embedder } => {
            search(&fixtures, chunks, queries, hybrid, embedder).await
        }
        Cmd::Embed { fixtures, embedder, queries, words } => embed(&fixtures, embedder, queries, words).await,
    }
}
