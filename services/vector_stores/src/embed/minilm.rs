//! all-MiniLM-L6-v2 run in-process on the CPU (DESIGN.md §5).
//!
//! The model directory holds `model.safetensors`, `tokenizer.json` and `config.json`
//! (`scripts/setup-models` puts them in `<data-dir>/models/all-MiniLM-L6-v2`). Texts are
//! truncated to 256 word pieces (the length the model was trained with; the tokenizer
//! file says 128, so it is set explicitly), mean-pooled and L2-normalised, like
//! sentence-transformers. Passages being indexed are embedded whole instead: one vector
//! per window of [`WINDOW_PIECES`] word pieces, so an 800-token chunk (about 1,000 word
//! pieces) is seen entirely and a query finds it by its best-matching window
//! (docs/benchmarks.md, "file_search quality", says why windows of that size). Each text
//! (a passage: all its windows in one forward pass) runs through [`Encoder`] on a
//! blocking thread of its own, as many at once as there are cores: no padding, and no
//! thread pool to hand each operation to (see the `assistd-bert` crate).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use assistd_bert::Encoder;
use candle_core::Device;
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use tokenizers::utils::truncation::TruncationParams;
use tokenizers::{Encoding, Tokenizer};

use super::{EmbedError, Embedder};

/// The name of the model's directory under `<data-dir>/models`.
pub const DIR_NAME: &str = "all-MiniLM-L6-v2";
/// The most word pieces of a text that reach the model; the rest is cut off.
pub const MAX_TOKENS: usize = 256;

/// Word pieces per window of a passage (the windows do not overlap: the chunks do).
pub const WINDOW_PIECES: usize = 64;

/// The model, its size and its passage windows (`w64`) with their mean (`m`, the vector
/// that finds the candidates the windows rescore): a collection made with other windows,
/// without the mean, or with one vector per chunk as before windows, is another
/// collection.
const ID: &str = "minilm-l6-v2-384-w64m";
const DIM: usize = 384;
const LAYERS: usize = 6;

/// Where the model's files are by default: `<data-dir>/models/all-MiniLM-L6-v2`.
pub fn default_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models").join(DIR_NAME)
}

/// all-MiniLM-L6-v2 (384 dimensions), run in-process on the CPU.
///
/// Cheap to clone; clones share the model.
#[derive(Clone)]
pub struct MiniLm {
    inner: Arc<Inner>,
}

struct Inner {
    encoder: Encoder,
    /// Truncates to [`MAX_TOKENS`] (queries).
    tokenizer: Tokenizer,
    /// Does not truncate (passages, cut into windows).
    whole: Tokenizer,
    /// How many texts run at once: the cores (counted once; it reads cgroup files).
    parallel: usize,
}

/// The parts of the model's `config.json` that the encoder depends on.
#[derive(Debug, Deserialize)]
struct Config {
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    max_position_embeddings: usize,
    layer_norm_eps: f64,
    hidden_act: String,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm").field("id", &ID).finish_non_exhaustive()
    }
}

impl MiniLm {
    /// Loads the model from a directory holding `model.safetensors`, `tokenizer.json` and
    /// `config.json`.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let unavailable = |what: &str, e: &dyn std::fmt::Display| {
            EmbedError::Unavailable(format!("{what} in {}: {e}", dir.display()))
        };
        let file = |name: &str| {
            let path = dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(EmbedError::Unavailable(format!("{} is missing (run scripts/setup-models)", path.display())))
            }
        };
        let config_path = file("config.json")?;
        let tokenizer_path = file("tokenizer.json")?;
        let weights_path = file("model.safetensors")?;

        let config = std::fs::read(&config_path).map_err(|e| unavailable("cannot read config.json", &e))?;
        let config: Config =
            serde_json::from_slice(&config).map_err(|e| unavailable("cannot parse config.json", &e))?;
        if config.hidden_size != DIM || config.num_hidden_layers != LAYERS || config.hidden_act != "gelu" {
            return Err(EmbedError::Unavailable(format!(
                "{} is not all-MiniLM-L6-v2 (hidden size {}, {} layers, activation {:?})",
                dir.display(),
                config.hidden_size,
                config.num_hidden_layers,
                config.hidden_act
            )));
        }
        if config.max_position_embeddings < MAX_TOKENS {
            return Err(EmbedError::Unavailable(format!(
                "{} allows only {} positions",
                dir.display(),
                config.max_position_embeddings
            )));
        }

        let mut tokenizer =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| unavailable("cannot load tokenizer.json", &e))?;
        // The file's own padding (fixed, 128) would pad every text; each text runs alone.
        tokenizer.with_padding(None);
        let mut whole = tokenizer.clone();
        whole.with_truncation(None).map_err(|e| unavailable("cannot set truncation", &e))?;
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..TruncationParams::default() }))
            .map_err(|e| unavailable("cannot set truncation", &e))?;

        let weights = std::fs::read(&weights_path).map_err(|e| unavailable("cannot read model.safetensors", &e))?;
        let tensors = candle_core::safetensors::load_buffer(&weights, &Device::Cpu)
            .map_err(|e| unavailable("cannot parse model.safetensors", &e))?;
        drop(weights);
        let encoder = Encoder::load(&tensors, DIM, LAYERS, config.num_attention_heads, config.layer_norm_eps)
            .map_err(|e| unavailable("cannot load the model", &e))?;
        let parallel = std::thread::available_parallelism().map_or(1, usize::from);
        Ok(Self { inner: Arc::new(Inner { encoder, tokenizer, whole, parallel }) })
    }
}

#[async_trait::async_trait]
impl Embedder for MiniLm {
    fn id(&self) -> &str {
        ID
    }

    fn dim(&self) -> usize {
        DIM
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self.tokenize(texts).await?;
        let tasks = encodings.into_iter().map(|encoding| {
            let inner = Arc::clone(&self.inner);
            blocking(move || {
                inner
                    .encoder
                    .embed(encoding.get_ids(), encoding.get_type_ids())
                    .map_err(|e| EmbedError::Backend(format!("model failed: {e}")))
            })
        });
        futures::stream::iter(tasks).buffered(self.inner.parallel).try_collect().await
    }

    fn windowed(&self) -> bool {
        true
    }

    async fn embed_passages(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let inner = Arc::clone(&self.inner);
        let owned = texts.to_vec();
        let windows = blocking(move || inner.windows(owned)).await?;
        // each text's windows in one forward pass, as many texts at once as there are cores
        let tasks = windows.into_iter().map(|ws| {
            let inner = Arc::clone(&self.inner);
            blocking(move || {
                let zeros = vec![0; WINDOW_PIECES + 2];
                let batch: Vec<(&[u32], &[u32])> = ws.iter().map(|w| (w.as_slice(), &zeros[..w.len()])).collect();
                let vectors =
                    inner.encoder.embed_many(&batch).map_err(|e| EmbedError::Backend(format!("model failed: {e}")))?;
                Ok(vectors.concat())
            })
        });
        futures::stream::iter(tasks).buffered(self.inner.parallel).try_collect().await
    }
}

impl MiniLm {
    /// Word pieces of each text, on the blocking pool.
    async fn tokenize(&self, texts: &[String]) -> Result<Vec<Encoding>, EmbedError> {
        let inner = Arc::clone(&self.inner);
        let owned = texts.to_vec();
        blocking(move || inner.tokenize(owned)).await
    }
}

/// Runs `f` on tokio's blocking pool.
async fn blocking<T, F>(f: F) -> Result<T, EmbedError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, EmbedError> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| EmbedError::Backend(format!("embedding task failed: {e}")))?
}

impl Inner {
    /// The windows of each text: its word pieces cut into runs of [`WINDOW_PIECES`], each
    /// between the model's `[CLS]` and `[SEP]` (one empty window for an empty text).
    fn windows(&self, texts: Vec<String>) -> Result<Vec<Vec<Vec<u32>>>, EmbedError> {
        let encodings = self
            .whole
            .encode_batch(texts, true)
            .map_err(|e| EmbedError::Backend(format!("tokenization failed: {e}")))?;
        Ok(encodings
            .iter()
            .map(|e| {
                let ids = e.get_ids();
                // [CLS] pieces… [SEP]
                let (Some(&cls), Some(&sep)) = (ids.first(), ids.last()) else { return vec![Vec::new()] };
                let pieces = &ids[1..ids.len() - 1];
                if pieces.is_empty() {
                    return vec![vec![cls, sep]];
                }
                pieces
                    .chunks(WINDOW_PIECES)
                    .map(|w| {
                        let mut ids = Vec::with_capacity(w.len() + 2);
                        ids.push(cls);
                        ids.extend_from_slice(w);
                        ids.push(sep);
                        ids
                    })
                    .collect()
            })
            .collect())
    }

    /// Word pieces of each text, truncated, not padded.
    fn tokenize(&self, texts: Vec<String>) -> Result<Vec<Encoding>, EmbedError> {
        self.tokenizer.encode_batch(texts, true).map_err(|e| EmbedError::Backend(format!("tokenization failed: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::time::Instant;

    use super::*;

    /// The model directory: `ASSISTD_EMBEDDED_EMBEDDER`, else the shared cache, filled by
    /// `scripts/setup-models` when empty. Never skips: a missing model fails the test.
    fn model_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("ASSISTD_EMBEDDED_EMBEDDER") {
            let dir = PathBuf::from(dir);
            assert!(dir.is_dir(), "ASSISTD_EMBEDDED_EMBEDDER={} does not exist", dir.display());
            return dir;
        }
        let home = std::env::var_os("HOME").expect("HOME is not set");
        let data_dir = Path::new(&home).join(".cache/assistd/data");
        let dir = default_dir(&data_dir);
        if !dir.join("model.safetensors").is_file() {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/setup-models");
            let status = std::process::Command::new(&script)
                .arg(&data_dir)
                .status()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
            assert!(status.success(), "{} failed: {status}", script.display());
        }
        dir
    }

    fn model() -> &'static MiniLm {
        static MODEL: OnceLock<MiniLm> = OnceLock::new();
        MODEL.get_or_init(|| MiniLm::load(&model_dir()).expect("load all-MiniLM-L6-v2"))
    }

    fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| (*t).to_owned()).collect()
    }

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    /// `n` distinct words, each one word piece.
    fn words(n: usize, salt: &str) -> String {
        const VOCAB: [&str; 8] = ["river", "stone", "green", "house", "quick", "light", "table", "music"];
        (0..n).map(|i| if i % 50 == 49 { salt } else { VOCAB[i % VOCAB.len()] }).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn default_dir_is_under_models() {
        assert_eq!(default_dir(Path::new("/data")), Path::new("/data/models/all-MiniLM-L6-v2"));
    }

    #[test]
    fn load_reports_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let err = MiniLm::load(dir.path()).unwrap_err();
        assert!(matches!(&err, EmbedError::Unavailable(m) if m.contains("config.json")), "{err}");
    }

    #[tokio::test]
    async fn vectors_are_unit_length_and_sized() {
        let model = model();
        assert_eq!(model.id(), "minilm-l6-v2-384-w64m");
        assert_eq!(model.dim(), 384);
        let vectors = model.embed(&strings(&["This is an example sentence", "", "Each sentence is converted"])).await;
        let vectors = vectors.unwrap();
        assert_eq!(vectors.len(), 3);
        for v in &vectors {
            assert_eq!(v.len(), 384);
            assert!(v.iter().all(|x| x.is_finite()));
            assert!((dot(v, v).sqrt() - 1.0).abs() < 1e-4);
        }
        assert!(model.embed(&[]).await.unwrap().is_empty());
    }

    /// A passage gets one vector per window of 64 word pieces, all of it seen; a short one
    /// gets the vector its text gets as a query.
    #[tokio::test]
    async fn passages_are_embedded_by_windows() {
        let model = model();
        assert!(model.windowed());
        // 300 one-piece words: 64 + 64 + 64 + 64 + 44
        let long = words(300, "zebra");
        let short = "A man is eating food.".to_owned();
        let got = model.embed_passages(&[long.clone(), short.clone(), String::new()]).await.unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].len(), 5 * DIM);
        for w in got[0].chunks(DIM) {
            assert!((dot(w, w).sqrt() - 1.0).abs() < 1e-4);
        }
        let alone = model.embed(&[short, String::new()]).await.unwrap();
        assert!(max_diff(&got[1], &alone[0]) < 1e-6);
        assert!(max_diff(&got[2], &alone[1]) < 1e-6);
        // window i is words 64·i.. embedded on their own (the windows run in one forward
        // pass, attention kept within each)
        let words: Vec<&str> = long.split(' ').collect();
        let alone: Vec<String> = words.chunks(WINDOW_PIECES).map(|w| w.join(" ")).collect();
        let alone = model.embed(&alone).await.unwrap();
        assert_eq!(alone.len(), 5);
        for (i, (window, alone)) in got[0].chunks(DIM).zip(&alone).enumerate() {
            assert!(max_diff(window, alone) < 1e-5, "window {i} differs by {}", max_diff(window, alone));
        }
    }

    #[tokio::test]
    async fn similar_sentences_are_closer() {
        let v = model()
            .embed(&strings(&[
                "A man is eating food.",
                "A man is eating a piece of bread.",
                "A man is riding a horse.",
            ]))
            .await
            .unwrap();
        let (bread, horse) = (dot(&v[0], &v[1]), dot(&v[0], &v[2]));
        println!("cosine: food/bread {bread:.4}, food/horse {horse:.4}");
        assert!(bread > horse + 0.3, "food/bread {bread} vs food/horse {horse}");
    }

    #[tokio::test]
    async fn many_texts_equal_one_by_one_in_order() {
        let model = model();
        // different lengths, more texts than cores, so they finish out of order
        let texts: Vec<String> = (0..37).map(|i| words(1 + (i * 37) % 300, "zebra")).collect();
        let together = model.embed(&texts).await.unwrap();
        assert_eq!(together.len(), texts.len());
        for (text, vector) in texts.iter().zip(&together) {
            let alone = model.embed(std::slice::from_ref(text)).await.unwrap();
            assert_eq!(&alone[0], vector);
        }
    }

    /// candle's BERT (`candle_transformers`), on padded batches with an attention mask,
    /// gives the same vectors: an independent check of the encoder's arithmetic.
    #[tokio::test]
    async fn matches_candles_bert() {
        use candle_core::{DType, Tensor};
        use candle_transformers::models::bert::{BertModel, Config};
        use tokenizers::utils::padding::{PaddingParams, PaddingStrategy, pad_encodings};

        let dir = model_dir();
        let config: Config = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        let vb = candle_var_builder(&dir);
        let bert = BertModel::load(vb, &config).unwrap();
        let texts = vec![
            "A man is eating pasta.".to_owned(),
            "x".to_owned(),
            String::new(),
            "`<a href=\"foo\">` link reference definitions".to_owned(),
            words(60, "zebra"),
            words(400, "zebra"),
        ];
        let mut encodings = model().inner.tokenize(texts.clone()).unwrap();
        let padding = PaddingParams { strategy: PaddingStrategy::BatchLongest, ..PaddingParams::default() };
        pad_encodings(&mut encodings, &padding).unwrap();
        let (rows, cols) = (encodings.len(), encodings[0].len());
        let flat = |part: fn(&Encoding) -> &[u32]| {
            Tensor::from_vec(encodings.iter().flat_map(part).copied().collect::<Vec<u32>>(), (rows, cols), &Device::Cpu)
                .unwrap()
        };
        let mask = flat(Encoding::get_attention_mask);
        let hidden = bert.forward(&flat(Encoding::get_ids), &flat(Encoding::get_type_ids), Some(&mask)).unwrap();
        let mask = mask.to_dtype(DType::F32).unwrap().unsqueeze(2).unwrap();
        let mean = hidden.broadcast_mul(&mask).unwrap().sum(1).unwrap().broadcast_div(&mask.sum(1).unwrap()).unwrap();
        let norms = mean.sqr().unwrap().sum_keepdim(1).unwrap().sqrt().unwrap();
        let expected = mean.broadcast_div(&norms).unwrap().to_vec2::<f32>().unwrap();

        let got = model().embed(&texts).await.unwrap();
        let mut worst = 0.0f32;
        for ((text, a), b) in texts.iter().zip(&expected).zip(&got) {
            let diff = max_diff(a, b);
            assert!(diff < 1e-5, "{text:?}: the encoder differs from candle's BERT by {diff}");
            worst = worst.max(diff);
        }
        println!("largest difference from candle's BERT: {worst:e}");
    }

    /// The model's tensors for candle's `BertModel`.
    fn candle_var_builder(dir: &Path) -> candle_nn::VarBuilder<'static> {
        let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
        let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).unwrap();
        candle_nn::VarBuilder::from_tensors(tensors, candle_core::DType::F32, &Device::Cpu)
    }

    #[tokio::test]
    async fn truncates_at_256_tokens() {
        let model = model();
        // Same first 200 words, different next ones: past the tokenizer file's own limit
        // (128) but within 256, so the vectors differ.
        let a = format!("{} apple banana cherry", words(200, "zebra"));
        let b = format!("{} tiger lion wolf", words(200, "zebra"));
        // Same first 300 words: whatever follows is cut off.
        let c = format!("{} apple banana cherry", words(300, "zebra"));
        let d = format!("{} tiger lion wolf", words(300, "zebra"));
        let v = model.embed(&[a, b, c, d]).await.unwrap();
        assert!(max_diff(&v[0], &v[1]) > 1e-3, "words 200..203 were ignored");
        assert!(max_diff(&v[2], &v[3]) < 1e-5, "words after 256 tokens changed the vector");
    }

    /// The cosine similarities that sentence-transformers' own semantic search example
    /// prints for all-MiniLM-L6-v2 (UKPLab/sentence-transformers,
    /// `examples/sentence_transformer/applications/semantic-search/README.md`, whose
    /// `semantic_search.py` loads `all-MiniLM-L6-v2`), to four decimals.
    #[tokio::test]
    async fn matches_sentence_transformers_reference() {
        const REFERENCE: [(&str, &str, f32); 15] = [
            ("A man is eating pasta.", "A man is eating food.", 0.7035),
            ("A man is eating pasta.", "A man is eating a piece of bread.", 0.5272),
            ("A man is eating pasta.", "A man is riding a horse.", 0.1889),
            ("A man is eating pasta.", "A man is riding a white horse on an enclosed ground.", 0.1047),
            ("A man is eating pasta.", "A cheetah is running behind its prey.", 0.0980),
            ("Someone in a gorilla costume is playing a set of drums.", "A monkey is playing drums.", 0.6433),
            ("Someone in a gorilla costume is playing a set of drums.", "A woman is playing violin.", 0.2564),
            ("Someone in a gorilla costume is playing a set of drums.", "A man is riding a horse.", 0.1389),
            (
                "Someone in a gorilla costume is playing a set of drums.",
                "A man is riding a white horse on an enclosed ground.",
                0.1191,
            ),
            (
                "Someone in a gorilla costume is playing a set of drums.",
                "A cheetah is running behind its prey.",
                0.1080,
            ),
            ("A cheetah chases prey on across a field.", "A cheetah is running behind its prey.", 0.8253),
            ("A cheetah chases prey on across a field.", "A man is eating food.", 0.1399),
            ("A cheetah chases prey on across a field.", "A monkey is playing drums.", 0.1292),
            (
                "A cheetah chases prey on across a field.",
                "A man is riding a white horse on an enclosed ground.",
                0.1097,
            ),
            ("A cheetah chases prey on across a field.", "A man is riding a horse.", 0.0650),
        ];
        let model = model();
        let queries: Vec<String> = REFERENCE.iter().map(|(q, _, _)| (*q).to_owned()).collect();
        let docs: Vec<String> = REFERENCE.iter().map(|(_, d, _)| (*d).to_owned()).collect();
        let (q, d) = (model.embed(&queries).await.unwrap(), model.embed(&docs).await.unwrap());
        let mut worst = 0.0f32;
        for (i, (query, doc, expected)) in REFERENCE.iter().enumerate() {
            let got = dot(&q[i], &d[i]);
            assert!((got - expected).abs() < 1e-4, "{query:?} / {doc:?}: {got:.5}, expected {expected}");
            worst = worst.max((got - expected).abs());
        }
        println!("largest difference from the reference: {worst:.6}");
        let example = model.embed(&strings(&["This is an example sentence"])).await.unwrap();
        println!("\"This is an example sentence\" starts {:?}", &example[0][..8]);
    }

    /// Throughput on 256-token chunks; printed, not asserted (run with `--nocapture`).
    #[tokio::test]
    async fn throughput() {
        let model = model();
        let chunks: Vec<String> = (0..32).map(|i| words(300, &format!("w{i}"))).collect();
        let n = chunks.len();
        let tokens = model.inner.tokenize(chunks.clone()).unwrap();
        assert!(tokens.iter().all(|e| e.len() == MAX_TOKENS));
        model.embed(&chunks[..2]).await.unwrap();
        let (start, cpu_start) = (Instant::now(), cpu_seconds());
        model.embed(&chunks).await.unwrap();
        let secs = start.elapsed().as_secs_f64();
        // CPU time tells what the machine could do unshared (other tests and builds
        // running at the same time slow the wall clock down).
        let cpu = cpu_seconds().zip(cpu_start).map(|(end, start)| end - start);
        println!(
            "minilm throughput: {n} chunks of {MAX_TOKENS} tokens in {secs:.2}s = {:.2} chunks/s; \
             {} cpu-s = {} chunks per cpu-s; {} threads",
            n as f64 / secs,
            cpu.map_or("?".to_owned(), |c| format!("{c:.2}")),
            cpu.map_or("?".to_owned(), |c| format!("{:.2}", n as f64 / c)),
            std::thread::available_parallelism().map_or(0, usize::from),
        );
    }

    /// User and system CPU time of this process so far (Linux), in seconds.
    fn cpu_seconds() -> Option<f64> {
        const TICKS_PER_SECOND: f64 = 100.0;
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        Some(ticks / TICKS_PER_SECOND)
    }
}
