//! all-MiniLM-L6-v2 run in-process with candle, on the CPU (DESIGN.md §5).
//!
//! The model directory holds `model.safetensors`, `tokenizer.json` and `config.json`
//! (`scripts/setup-models` puts them in `<data-dir>/models/all-MiniLM-L6-v2`). Texts are
//! truncated to 256 word pieces (the length the model was trained with; the tokenizer
//! file says 128, so it is set explicitly), padded to the longest text of each batch,
//! mean-pooled over the attention mask and L2-normalised, like sentence-transformers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::utils::padding::{PaddingParams, PaddingStrategy, pad_encodings};
use tokenizers::utils::truncation::TruncationParams;
use tokenizers::{Encoding, Tokenizer};

use super::query_model::QueryModel;
use super::{EmbedError, Embedder};

/// The name of the model's directory under `<data-dir>/models`.
pub const DIR_NAME: &str = "all-MiniLM-L6-v2";
/// The most word pieces of a text that reach the model; the rest is cut off.
pub const MAX_TOKENS: usize = 256;
/// How many texts run through the model at once.
pub const BATCH_SIZE: usize = 32;

const ID: &str = "minilm-l6-v2-384";
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
    model: BertModel,
    /// The same model for one text at a time, for queries.
    queries: QueryModel,
    tokenizer: Tokenizer,
    padding: PaddingParams,
    device: Device,
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
        if config.hidden_size != DIM || config.num_hidden_layers != LAYERS {
            return Err(EmbedError::Unavailable(format!(
                "{} is not all-MiniLM-L6-v2 (hidden size {}, {} layers)",
                dir.display(),
                config.hidden_size,
                config.num_hidden_layers
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
        // The file's own padding (fixed, 128) would pad every text; padding is done per
        // batch instead, with the file's padding token.
        let padding = PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..tokenizer.get_padding().cloned().unwrap_or_default()
        };
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..TruncationParams::default() }))
            .map_err(|e| unavailable("cannot set truncation", &e))?;

        let device = Device::Cpu;
        let weights = std::fs::read(&weights_path).map_err(|e| unavailable("cannot read model.safetensors", &e))?;
        let tensors = candle_core::safetensors::load_buffer(&weights, &device)
            .map_err(|e| unavailable("cannot parse model.safetensors", &e))?;
        drop(weights);
        let queries = QueryModel::load(&tensors, DIM, LAYERS, config.layer_norm_eps)
            .map_err(|e| unavailable("cannot load the model for queries", &e))?;
        let tensors = tensors
            .into_iter()
            .map(|(name, t)| Ok((name.clone(), for_matmul(&name, t)?)))
            .collect::<candle_core::Result<_>>()
            .map_err(|e| unavailable("cannot load the model", &e))?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let model = BertModel::load(vb, &config).map_err(|e| unavailable("cannot load the model", &e))?;

        Ok(Self { inner: Arc::new(Inner { model, queries, tokenizer, padding, device }) })
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
        self.run_batches(encodings).await
    }

    /// Each query on its own blocking thread, through [`QueryModel`]: the same vectors
    /// as [`embed`](Self::embed) gives, several times faster for one short text.
    async fn embed_queries(&self, queries: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if queries.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self.tokenize(queries).await?;
        let tasks = encodings.into_iter().map(|e| {
            let inner = Arc::clone(&self.inner);
            blocking(move || {
                inner
                    .queries
                    .embed(e.get_ids(), e.get_type_ids())
                    .map_err(|e| EmbedError::Backend(format!("model failed: {e}")))
            })
        });
        futures::future::try_join_all(tasks).await
    }
}

impl MiniLm {
    /// Word pieces of each text, on the blocking pool.
    async fn tokenize(&self, texts: &[String]) -> Result<Vec<Encoding>, EmbedError> {
        let inner = Arc::clone(&self.inner);
        let owned = texts.to_vec();
        blocking(move || inner.tokenize(owned)).await
    }

    /// The f32 model's vectors of `encodings`, in order, in batches.
    async fn run_batches(&self, encodings: Vec<Encoding>) -> Result<Vec<Vec<f32>>, EmbedError> {
        // Texts of similar length share a batch, so that little padding is computed.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| encodings[i].len());
        let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); encodings.len()];
        let mut slots: Vec<Option<Encoding>> = encodings.into_iter().map(Some).collect();
        for indices in order.chunks(BATCH_SIZE) {
            let batch: Vec<Encoding> = indices.iter().filter_map(|&i| slots[i].take()).collect();
            let inner = Arc::clone(&self.inner);
            let embedded = blocking(move || inner.run(batch)).await?;
            for (&i, vector) in indices.iter().zip(embedded) {
                vectors[i] = vector;
            }
        }
        Ok(vectors)
    }
}

/// A weight as the model's layers will use it.
///
/// A dense layer computes `x · Wᵀ` from its `(out, in)` weight. Stored row-major, `Wᵀ`
/// is a strided view that the matrix multiplication copies into a packed buffer on
/// every call (the whole matrix, for a query of a few tokens: most of the time a query
/// took). So each dense weight is kept transposed in memory, `(in, out)` row-major,
/// and handed to the layer as the `(out, in)` view of that: the layer's `Wᵀ` is then
/// contiguous and multiplied in place. Embedding tables and 1-D weights stay as they are.
fn for_matmul(name: &str, t: Tensor) -> candle_core::Result<Tensor> {
    if t.rank() == 2 && name.ends_with(".weight") && !name.contains("embeddings") {
        t.to_dtype(DType::F32)?.t()?.contiguous()?.t()
    } else {
        Ok(t)
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
    /// Word pieces of each text, truncated, not padded.
    fn tokenize(&self, texts: Vec<String>) -> Result<Vec<Encoding>, EmbedError> {
        self.tokenizer.encode_batch(texts, true).map_err(|e| EmbedError::Backend(format!("tokenization failed: {e}")))
    }

    /// One normalised vector per encoding.
    fn run(&self, mut batch: Vec<Encoding>) -> Result<Vec<Vec<f32>>, EmbedError> {
        pad_encodings(&mut batch, &self.padding).map_err(|e| EmbedError::Backend(format!("padding failed: {e}")))?;
        let rows = batch.len();
        let cols = batch.first().map_or(0, Encoding::len);
        let flat = |part: fn(&Encoding) -> &[u32]| -> Vec<u32> { batch.iter().flat_map(part).copied().collect() };
        let ids = flat(Encoding::get_ids);
        let type_ids = flat(Encoding::get_type_ids);
        let mask = flat(Encoding::get_attention_mask);
        self.forward(rows, cols, ids, type_ids, mask).map_err(|e| EmbedError::Backend(format!("model failed: {e}")))
    }

    fn forward(
        &self,
        rows: usize,
        cols: usize,
        ids: Vec<u32>,
        type_ids: Vec<u32>,
        mask: Vec<u32>,
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let device = &self.device;
        let ids = Tensor::from_vec(ids, (rows, cols), device)?;
        let type_ids = Tensor::from_vec(type_ids, (rows, cols), device)?;
        let mask = Tensor::from_vec(mask, (rows, cols), device)?;
        // (rows, cols, DIM)
        let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?;
        // Mean over the real tokens only.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12f32, f32::MAX)?;
        mean.broadcast_div(&norms)?.to_vec2::<f32>()
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
        assert_eq!(model.id(), "minilm-l6-v2-384");
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
    async fn batch_equals_one_by_one() {
        let model = model();
        // Different lengths, so each text is padded in the batch; more than one batch.
        let texts: Vec<String> = (0..BATCH_SIZE + 5).map(|i| words(1 + i * 7, "zebra")).collect();
        let batched = model.embed(&texts).await.unwrap();
        for (text, vector) in texts.iter().zip(&batched) {
            let alone = model.embed(std::slice::from_ref(text)).await.unwrap();
            let diff = max_diff(&alone[0], vector);
            assert!(diff < 1e-5, "batched and alone differ by {diff}");
        }
    }

    #[tokio::test]
    async fn padding_does_not_change_results() {
        let model = model();
        let short = "A man is eating food.".to_owned();
        let alone = model.embed(std::slice::from_ref(&short)).await.unwrap();
        let padded = model.embed(&[short, words(300, "zebra")]).await.unwrap();
        let diff = max_diff(&alone[0], &padded[0]);
        assert!(diff < 1e-5, "padding changed the vector by {diff}");
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

    /// The query model gives the f32 batch model's vectors, for short and long texts.
    #[tokio::test]
    async fn query_vectors_match_the_batch_model() {
        let model = model();
        let queries = vec![
            "A man is eating pasta.".to_owned(),
            "default port".to_owned(),
            "How do I indent a code block in Markdown?".to_owned(),
            "`<a href=\"foo\">` link reference definitions".to_owned(),
            "x".to_owned(),
            String::new(),
            words(60, "zebra"),
            // cut at 256 word pieces, like a document
            words(400, "zebra"),
        ];
        let batch = model.embed(&queries).await.unwrap();
        let fast = model.embed_queries(&queries).await.unwrap();
        assert_eq!(fast.len(), queries.len());
        let mut worst = 0.0f32;
        for ((q, a), b) in queries.iter().zip(&batch).zip(&fast) {
            assert_eq!(b.len(), DIM);
            assert!((dot(b, b) - 1.0).abs() < 1e-4, "{q:?} is not unit length");
            let diff = max_diff(a, b);
            assert!(diff < 1e-5, "{q:?}: the query model differs from the batch model by {diff}");
            worst = worst.max(diff);
        }
        println!("largest difference between the query and the batch model: {worst:e}");
        assert!(model.embed_queries(&[]).await.unwrap().is_empty());
    }

    /// Throughput on 256-token chunks; printed, not asserted (run with `--nocapture`).
    #[tokio::test]
    async fn throughput() {
        let model = model();
        let chunks: Vec<String> = (0..BATCH_SIZE).map(|i| words(300, &format!("w{i}"))).collect();
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
