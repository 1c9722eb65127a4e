//! Retrieval quality on real text: the CommonMark spec (from the npm package
//! `commonmark-spec@0.31.2`, fetched into the fixtures cache) split into its sections,
//! each indexed as one file the way ingestion does it (800/400-token chunks), and a
//! labelled set of questions, each answered by one section. Reports recall@5 and MRR
//! for lexical-only (BM25) and hybrid (BM25 + all-MiniLM-L6-v2, fused with RRF) search,
//! and fails when either drops below the baseline recorded in
//! `tests/retrieval_baseline.json` (`ASSISTD_RECORD_BASELINE=1` records a new one).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use assistd_vector_stores::embed::Embedder;
use assistd_vector_stores::embed::minilm::MiniLm;
use assistd_vector_stores::index::edge::EdgeIndex;
use assistd_vector_stores::index::{ChunkPoint, VectorIndex};
use assistd_vector_stores::ingest::chunk;
use assistd_vector_stores::search::{Fusion, Mode, SearchParams, Searcher};

/// Questions and the section (its `## ` title) that answers each.
const LABELLED: &[(&str, &str)] = &[
    ("How many spaces of indentation turn lines into a code block?", "Indented code blocks"),
    ("Which characters can form a horizontal rule made of three or more of them?", "Thematic breaks"),
    ("How do I start a code block with a line of backticks or tildes and an info string?", "Fenced code blocks"),
    ("How is a heading underlined with = or - characters?", "Setext headings"),
    ("How many # characters can open a heading?", "ATX headings"),
    ("Which start conditions begin a block of raw HTML tags like <pre> or <script>?", "HTML blocks"),
    ("How do I define a link label with a destination and title to use later?", "Link reference definitions"),
    ("What happens to leading spaces in a sequence of non-blank lines of text?", "Paragraphs"),
    ("Are blank lines between block-level elements ignored?", "Blank lines"),
    ("What does the > marker do, and how does laziness work for quoted text?", "Block quotes"),
    ("How wide can the indentation after a bullet or ordered list marker be?", "List items"),
    ("When is a list loose rather than tight?", "Lists"),
    ("Which ASCII punctuation characters can be escaped with a backslash?", "Backslash escapes"),
    ("How are &amp; and &#35; style references to characters decoded?", "Entity and numeric character references"),
    ("How are backtick strings of equal length used to mark inline code?", "Code spans"),
    ("What is a left-flanking delimiter run for * and _ emphasis?", "Emphasis and strong emphasis"),
    ("How is an inline link written with text in brackets and a destination in parentheses?", "Links"),
    ("How do I embed a picture with alt text using an exclamation mark?", "Images"),
    ("How are absolute URIs and email addresses in angle brackets turned into links?", "Autolinks"),
    ("Which open tags, closing tags, comments and processing instructions are passed through inline?", "Raw HTML"),
    ("How do two trailing spaces or a backslash at the end of a line force a line break?", "Hard line breaks"),
    ("What does a regular line ending inside a paragraph become?", "Soft line breaks"),
    ("How are tab characters expanded to a tab stop of 4 characters?", "Tabs"),
    ("What counts as a Unicode whitespace character or a blank line?", "Characters and lines"),
    ("What replaces the U+0000 null character for security?", "Insecure characters"),
    ("Does block structure take precedence over inline structure like code spans?", "Precedence"),
    (
        "Why is a specification of Markdown needed, given the ambiguities of the original description?",
        "Why is a spec needed?",
    ),
    ("Who designed Markdown and what were its goals of readability?", "What is Markdown?"),
    ("What are the two phases of the parsing strategy for block and inline structure?", "Overview"),
    ("How does the algorithm process the delimiter stack for nested emphasis and links?", "Phase 2: inline structure"),
    ("How are open blocks matched against each new line in the first parsing phase?", "Phase 1: block structure"),
    ("Which characters are considered textual content that is not otherwise interpreted?", "Textual content"),
];

/// The sections of the spec: `## ` headings outside the example blocks.
fn sections(spec: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut in_example = false;
    for line in spec.lines() {
        if line.starts_with("````````````````````````````````") {
            in_example = !in_example;
        }
        if !in_example && let Some(title) = line.strip_prefix("## ") {
            out.push((title.trim().to_owned(), String::new()));
            continue;
        }
        if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

fn fixtures() -> PathBuf {
    let dir = std::env::var_os("ASSISTD_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/assistd/fixtures"));
    if !dir.join("commonmark-spec/spec.txt").is_file() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fetch-fixtures");
        let ok = std::process::Command::new(script).env("ASSISTD_FIXTURES", &dir).status().unwrap().success();
        assert!(ok, "scripts/fetch-fixtures failed");
    }
    dir
}

fn embedder_dir() -> PathBuf {
    let dir = std::env::var_os("ASSISTD_EMBEDDED_EMBEDDER").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/assistd/data/models/all-MiniLM-L6-v2")
    });
    if !dir.join("model.safetensors").is_file() {
        let data = dir.parent().and_then(Path::parent).expect("<data-dir>/models/all-MiniLM-L6-v2");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/setup-models");
        let ok = std::process::Command::new(script).arg(data).status().unwrap().success();
        assert!(ok, "scripts/setup-models failed");
    }
    dir
}

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Quality {
    recall_at_5: f64,
    mrr: f64,
}

async fn index(dir: &Path, sections: &[(String, String)], embedder: Option<&Arc<dyn Embedder>>) -> Arc<EdgeIndex> {
    let index = Arc::new(EdgeIndex::open(dir, embedder.map(|e| e.dense())).unwrap());
    for (title, body) in sections {
        let chunks = chunk::chunk(body, 800, 400);
        let texts: Vec<String> = chunks.iter().map(|c| c.text.clone()).collect();
        let dense = match embedder {
            Some(e) => Some(e.embed_passages(&texts).await.unwrap()),
            None => None,
        };
        let points = texts
            .into_iter()
            .enumerate()
            .map(|(i, text)| ChunkPoint {
                project: "p".into(),
                vector_store_id: "vs_spec".into(),
                file_id: title.clone(),
                position: i as u32,
                text,
                attributes: Default::default(),
                dense: dense.as_ref().map(|d| d[i].clone()),
            })
            .collect();
        index.upsert(points).await.unwrap();
    }
    index
}

async fn measure(searcher: &Searcher, mode: Mode) -> Quality {
    let (mut hits5, mut rr) = (0.0, 0.0);
    for (question, answer) in LABELLED {
        let p = SearchParams {
            project: "p".into(),
            vector_store_ids: vec!["vs_spec".into()],
            queries: vec![(*question).into()],
            filter: None,
            max_results: 50,
            score_threshold: 0.0,
        };
        let found = searcher.search_with(&p, mode).await.unwrap();
        let mut files: Vec<&str> = Vec::new();
        for f in &found {
            if !files.contains(&f.file_id.as_str()) {
                files.push(&f.file_id);
            }
        }
        if let Some(rank) = files.iter().position(|f| f == answer) {
            if rank < 5 {
                hits5 += 1.0;
            }
            rr += 1.0 / (rank as f64 + 1.0);
        }
    }
    let n = LABELLED.len() as f64;
    Quality { recall_at_5: hits5 / n, mrr: rr / n }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrieval_quality_meets_the_baseline() {
    let spec = std::fs::read_to_string(fixtures().join("commonmark-spec/spec.txt")).unwrap();
    let sections = sections(&spec);
    for (_, answer) in LABELLED {
        assert!(sections.iter().any(|(t, _)| t == answer), "no section {answer}");
    }
    let embedder: Arc<dyn Embedder> = Arc::new(MiniLm::load(&embedder_dir()).unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let lexical_index = index(&tmp.path().join("lexical"), &sections, None).await;
    let hybrid_index = index(&tmp.path().join("hybrid"), &sections, Some(&embedder)).await;
    let lexical = measure(&Searcher::new(lexical_index, None), Mode::Lexical).await;
    let searcher = Searcher::new(hybrid_index, Some(embedder));
    let dense = measure(&searcher, Mode::Dense).await;
    let hybrid = measure(&searcher, Mode::Hybrid).await;
    println!(
        "retrieval quality, {} questions over {} CommonMark spec sections:\n  lexical: recall@5 {:.3}, MRR {:.3}\n  dense:   recall@5 {:.3}, MRR {:.3}\n  hybrid:  recall@5 {:.3}, MRR {:.3}",
        LABELLED.len(),
        sections.len(),
        lexical.recall_at_5,
        lexical.mrr,
        dense.recall_at_5,
        dense.mrr,
        hybrid.recall_at_5,
        hybrid.mrr
    );
    // other fusion weights (docs/benchmarks.md has the table)
    for power in [0, 2, 4, 8] {
        for lexical_max in [0.3, 0.5, 0.8, 1.0] {
            let q = measure(&searcher.clone().with_fusion(Fusion { lexical_max, power }), Mode::Hybrid).await;
            println!(
                "  hybrid, lexical_max {lexical_max} power {power}: recall@5 {:.3}, MRR {:.3}",
                q.recall_at_5, q.mrr
            );
        }
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/retrieval_baseline.json");
    if std::env::var("ASSISTD_RECORD_BASELINE").as_deref() == Ok("1") {
        let json = serde_json::json!({"lexical": lexical, "dense": dense, "hybrid": hybrid});
        std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap() + "\n").unwrap();
        return;
    }
    let baseline: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for (name, got) in [("lexical", lexical), ("dense", dense), ("hybrid", hybrid)] {
        let base: Quality = serde_json::from_value(baseline[name].clone()).unwrap();
        assert!(got.recall_at_5 + 1e-9 >= base.recall_at_5, "{name} recall@5 fell: {got:?} < {base:?}");
        assert!(got.mrr + 1e-9 >= base.mrr, "{name} MRR fell: {got:?} < {base:?}");
    }
}
