//! The embedded chat model (DESIGN.md §5): SmolLM2-135M-Instruct, a Q4_1 GGUF run
//! in-process on the CPU with candle, so that a fresh install answers with no backend.
//!
//! - The file is `<data-dir>/models/SmolLM2-135M-Instruct.Q4_1.gguf` ([`Embedded::FILE_NAME`],
//!   [`Embedded::default_path`]); `scripts/setup-models` puts it there.
//! - The tokenizer (byte-level BPE) is built from the GGUF metadata; see [`tokenizer`].
//! - The weights are dequantized to f32 as they are loaded (about 650 MB in memory): candle
//!   has no SIMD Q4_1 kernel on x86, f32 is several times faster (see `weights.rs`).
//! - Prompts are rendered with SmolLM2's ChatML template. The model is not offered tools:
//!   `request.tools` is ignored, and tool calls and results are rendered as plain text.
//! - The weights are loaded once and shared behind a mutex: **one generation runs at a
//!   time** (others wait their turn), which is fine for a 135M model on a CPU. Each
//!   generation runs on a blocking thread and feeds a channel the returned stream reads
//!   from; dropping the stream stops the generation at the next token.

pub mod tokenizer;
mod weights;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::quantized_llama::{self, ModelWeights};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use self::tokenizer::{GgufTokenizer, Utf8Stream};
use super::{ChatEvent, ChatMessage, ChatModel, ChatRequest, ChatStream, ModelError, ModelInfo, UserPart};

/// Most new tokens when the request sets no `max_tokens`.
pub const DEFAULT_MAX_TOKENS: u32 = 512;
/// Sampling temperature when the request sets none (SmolLM2's model card uses 0.2).
pub const DEFAULT_TEMPERATURE: f64 = 0.2;
/// Nucleus sampling when the request sets none (SmolLM2's model card uses 0.9).
pub const DEFAULT_TOP_P: f64 = 0.9;
/// Penalty on tokens used in the last [`REPEAT_LAST_N`] of the answer.
pub const REPEAT_PENALTY: f32 = 1.1;
/// How many recent answer tokens the repeat penalty looks at.
pub const REPEAT_LAST_N: usize = 64;
/// The system prompt SmolLM2's chat template adds when the conversation has none.
pub const DEFAULT_SYSTEM_PROMPT: &str = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// The embedded SmolLM2 chat model. Cheap to clone (the weights are shared).
#[derive(Clone)]
pub struct Embedded {
    /// The model's name: its file's name without `.gguf`.
    name: String,
    weights: Arc<Mutex<ModelWeights>>,
    tokenizer: Arc<GgufTokenizer>,
    /// Tokens of prompt and answer together.
    context_length: usize,
    /// Fixed sampling seed; `None` = a fresh one per request.
    seed: Option<u64>,
    /// Tokens sampled so far, all requests together.
    sampled: Arc<AtomicU64>,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded").field("context_length", &self.context_length).finish_non_exhaustive()
    }
}

impl Embedded {
    /// The model file's name in `<data-dir>/models/`.
    pub const FILE_NAME: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

    /// Where the model file is by convention: `<data-dir>/models/`[`Self::FILE_NAME`].
    pub fn default_path(data_dir: &Path) -> PathBuf {
        data_dir.join("models").join(Self::FILE_NAME)
    }

    /// Loads the weights and the tokenizer from a GGUF file. Blocking and CPU-bound
    /// (about a second): call it from `spawn_blocking` in async code.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let backend = |what: &str, e: &dyn std::fmt::Display| {
            ModelError::Backend(format!("loading the embedded model {}: {what}: {e}", path.display()))
        };
        let mut file = std::fs::File::open(path).map_err(|e| backend("opening", &e))?;
        let content = gguf_file::Content::read(&mut file).map_err(|e| backend("reading the gguf header", &e))?;
        let tokenizer = GgufTokenizer::from_gguf(&content).map_err(|e| backend("building the tokenizer", &e))?;
        let context_length = match content.metadata.get("llama.context_length").map(|v| v.to_u32()) {
            Some(Ok(n)) if n > 0 => n as usize,
            _ => 2048,
        }
        // The rotary embeddings are precomputed up to this length.
        .min(quantized_llama::MAX_SEQ_LEN);
        let weights = weights::load_f32(content, std::io::BufReader::new(file))
            .map_err(|e| backend("reading the weights", &e))?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "embedded".into());
        Ok(Self {
            name,
            weights: Arc::new(Mutex::new(weights)),
            tokenizer: Arc::new(tokenizer),
            context_length,
            seed: None,
            sampled: Arc::default(),
        })
    }

    /// Samples with this seed on every request (reproducible answers); by default each
    /// request gets a fresh seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Most tokens of prompt and answer together.
    pub fn context_length(&self) -> usize {
        self.context_length
    }

    /// The prompt's token ids, truncated to `budget` tokens: whole messages are dropped
    /// oldest first (the leading system message is kept), then tokens from the front.
    fn prompt_ids(&self, messages: &[ChatMessage], budget: usize) -> Result<Vec<u32>, ModelError> {
        let tok = &*self.tokenizer;
        let turns = render_turns(messages);
        let mut chunks = Vec::with_capacity(turns.len());
        for (role, content) in &turns {
            let mut ids = vec![tok.im_start];
            ids.extend(tok.encode(&format!("{role}\n{content}")).map_err(tokenizer_error)?);
            ids.push(tok.im_end);
            ids.extend(tok.encode("\n").map_err(tokenizer_error)?);
            chunks.push(ids);
        }
        let mut tail = vec![tok.im_start];
        tail.extend(tok.encode("assistant\n").map_err(tokenizer_error)?);

        let total = |chunks: &[Vec<u32>]| chunks.iter().map(Vec::len).sum::<usize>() + tail.len();
        // chunks[0] is always the system message (render_turns adds one).
        while total(&chunks) > budget && chunks.len() > 2 {
            chunks.remove(1);
        }
        let mut ids: Vec<u32> = chunks.into_iter().flatten().chain(tail).collect();
        if ids.len() > budget {
            ids.drain(..ids.len() - budget);
        }
        Ok(ids)
    }
}

fn tokenizer_error(e: impl std::fmt::Display) -> ModelError {
    ModelError::Backend(format!("embedded model tokenizer: {e}"))
}

fn candle_error(e: candle_core::Error) -> ModelError {
    ModelError::Backend(format!("embedded model: {e}"))
}

/// The conversation as ChatML turns `(role, content)`, with SmolLM2's default system
/// prompt first when there is no system message first.
fn render_turns(messages: &[ChatMessage]) -> Vec<(&'static str, String)> {
    let mut turns = Vec::with_capacity(messages.len() + 1);
    if !matches!(messages.first(), Some(ChatMessage::System(_))) {
        turns.push(("system", DEFAULT_SYSTEM_PROMPT.to_owned()));
    }
    for message in messages {
        turns.push(match message {
            ChatMessage::System(text) => ("system", text.clone()),
            ChatMessage::User(parts) => {
                let text: Vec<&str> = parts
                    .iter()
                    .map(|part| match part {
                        UserPart::Text(text) => text.as_str(),
                        UserPart::ImageUrl { .. } => "[image omitted]",
                    })
                    .collect();
                ("user", text.join("\n"))
            }
            ChatMessage::Assistant { content, tool_calls } => {
                let mut text = content.clone().unwrap_or_default();
                for call in tool_calls {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(&format!("Called tool {}({})", call.name, call.arguments));
                }
                ("assistant", text)
            }
            ChatMessage::Tool { content, .. } => ("user", format!("Tool result: {content}")),
        });
    }
    turns
}

fn sampling(request: &ChatRequest) -> Sampling {
    let temperature = request.temperature.unwrap_or(DEFAULT_TEMPERATURE);
    if temperature <= 1e-6 {
        return Sampling::ArgMax;
    }
    match request.top_p.unwrap_or(DEFAULT_TOP_P) {
        p if p > 0.0 && p < 1.0 => Sampling::TopP { p, temperature },
        _ => Sampling::All { temperature },
    }
}

/// Streams the answer: `Text` pieces (whole UTF-8 characters), then `Finish` (`stop` at
/// `<|im_end|>`/eos, `length` at `max_tokens` or the context's end), then `Usage`
/// (completion tokens count every token sampled, the final `<|im_end|>` included).
/// Errors come through the stream; `stream` itself does not fail.
#[async_trait::async_trait]
impl ChatModel for Embedded {
    async fn list_models(&self) -> Result<Vec<ModelInfo>, ModelError> {
        Ok(vec![ModelInfo { id: self.name.clone(), created: 0, owned_by: "assistd (embedded)".into() }])
    }

    fn context_window(&self) -> Option<u64> {
        Some(self.context_length as u64)
    }

    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        let model = self.clone();
        let (tx, rx) = mpsc::channel(64);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = model.generation(&request).and_then(|job| job.run(&tx)) {
                tracing::warn!(error = %e, "embedded model generation failed");
                let _ = tx.blocking_send(Err(e));
            }
        });
        Ok(Box::pin(ReceiverStream::new(rx)))
    }
}

impl Embedded {
    /// Tokenizes the prompt (CPU-bound: on the blocking thread too).
    fn generation(self, request: &ChatRequest) -> Result<Generation, ModelError> {
        let max_new = request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS) as usize;
        // Room kept for the answer; a long prompt may take the rest.
        let reserve = max_new.clamp(1, self.context_length / 4);
        let prompt = self.prompt_ids(&request.messages, self.context_length - reserve)?;
        let seed = self.seed.unwrap_or_else(|| {
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or_default()
        });
        Ok(Generation {
            weights: self.weights,
            tokenizer: self.tokenizer,
            prompt,
            max_new,
            context_length: self.context_length,
            logits: LogitsProcessor::from_sampling(seed, sampling(request)),
            sampled: self.sampled,
        })
    }
}

type Sender = mpsc::Sender<Result<ChatEvent, ModelError>>;

/// One generation, run on a blocking thread.
struct Generation {
    weights: Arc<Mutex<ModelWeights>>,
    tokenizer: Arc<GgufTokenizer>,
    prompt: Vec<u32>,
    max_new: usize,
    context_length: usize,
    logits: LogitsProcessor,
    sampled: Arc<AtomicU64>,
}

/// The receiver is gone: stop quietly.
struct Cancelled;

impl Generation {
    fn run(mut self, tx: &Sender) -> Result<(), ModelError> {
        let send = |event: ChatEvent| tx.blocking_send(Ok(event)).map_err(|_| Cancelled);
        let prompt_tokens = self.prompt.len() as u64;
        let mut completion_tokens = 0usize;
        let mut text = Utf8Stream::default();
        let mut finish = "length";

        if self.max_new > 0 {
            // Waits for the generation before this one to end.
            let mut weights = self.weights.lock().unwrap_or_else(PoisonError::into_inner);
            if tx.is_closed() {
                return Ok(());
            }
            // index_pos 0 starts afresh: the layers drop their previous KV cache.
            let input = Tensor::new(self.prompt.as_slice(), &Device::Cpu).and_then(|t| t.unsqueeze(0));
            let mut logits = input.and_then(|t| weights.forward(&t, 0)).map_err(candle_error)?;
            let mut pos = self.prompt.len();
            let mut recent: Vec<u32> = Vec::new();
            loop {
                // A small model loops on its own words: penalise the tokens it just used
                // (as candle's examples do: 1.1 over the last 64).
                let next = logits
                    .squeeze(0)
                    .and_then(|l| l.to_dtype(DType::F32))
                    .and_then(|l| {
                        let from = recent.len().saturating_sub(REPEAT_LAST_N);
                        candle_transformers::utils::apply_repeat_penalty(&l, REPEAT_PENALTY, &recent[from..])
                    })
                    .and_then(|l| self.logits.sample(&l))
                    .map_err(candle_error)?;
                recent.push(next);
                completion_tokens += 1;
                self.sampled.fetch_add(1, Ordering::Relaxed);
                if self.tokenizer.is_stop(next) {
                    finish = "stop";
                    break;
                }
                let piece = text.push(self.tokenizer.token_bytes(next));
                if !piece.is_empty() && send(ChatEvent::Text(piece)).is_err() {
                    return Ok(());
                }
                if completion_tokens >= self.max_new || pos >= self.context_length {
                    break;
                }
                let input = Tensor::new(&[next], &Device::Cpu).and_then(|t| t.unsqueeze(0));
                logits = input.and_then(|t| weights.forward(&t, pos)).map_err(candle_error)?;
                pos += 1;
            }
        }
        let rest = text.finish();
        let _ = (|| {
            if !rest.is_empty() {
                send(ChatEvent::Text(rest))?;
            }
            send(ChatEvent::Finish(finish.to_owned()))?;
            send(ChatEvent::Usage { prompt_tokens, completion_tokens: completion_tokens as u64 })
        })();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::time::Instant;

    use futures::StreamExt;

    use super::*;
    use crate::model::ToolCall;

    /// The real model, from `$ASSISTD_EMBEDDED_MODEL` or `<repo>/data/models/` (put there
    /// by `scripts/setup-models`); `None`, with a note, when it is in neither place.
    fn model() -> Option<&'static Embedded> {
        static MODEL: OnceLock<Option<Embedded>> = OnceLock::new();
        MODEL
            .get_or_init(|| {
                let path = match std::env::var_os("ASSISTD_EMBEDDED_MODEL") {
                    Some(path) => PathBuf::from(path),
                    None => Embedded::default_path(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data")),
                };
                if !path.is_file() {
                    eprintln!("note: {} is absent (run scripts/setup-models): skipping", path.display());
                    return None;
                }
                let started = Instant::now();
                let model = Embedded::load(&path).expect("loading the embedded model");
                eprintln!("loaded {} in {:?}", path.display(), started.elapsed());
                Some(model.with_seed(42))
            })
            .as_ref()
    }

    fn user(text: &str) -> ChatMessage {
        ChatMessage::User(vec![UserPart::Text(text.to_owned())])
    }

    /// The streamed text pieces, the finish reason and the usage.
    async fn run(model: &Embedded, request: ChatRequest) -> (Vec<String>, Option<String>, Option<(u64, u64)>) {
        let mut stream = model.stream(request).await.expect("stream");
        let (mut pieces, mut finish, mut usage) = (Vec::new(), None, None);
        while let Some(event) = stream.next().await {
            match event.expect("event") {
                ChatEvent::Text(text) => {
                    assert!(finish.is_none() && usage.is_none(), "text after the end");
                    pieces.push(text);
                }
                ChatEvent::Finish(reason) => finish = Some(reason),
                ChatEvent::Usage { prompt_tokens, completion_tokens } => {
                    usage = Some((prompt_tokens, completion_tokens))
                }
                other => panic!("unexpected event {other:?}"),
            }
        }
        (pieces, finish, usage)
    }

    #[test]
    fn turns_follow_smollm2_template() {
        let turns = render_turns(&[
            user("hi"),
            ChatMessage::Assistant {
                content: None,
                tool_calls: vec![ToolCall { id: "call_1".into(), name: "f".into(), arguments: "{}".into() }],
            },
            ChatMessage::Tool { tool_call_id: "call_1".into(), content: "42".into() },
        ]);
        assert_eq!(
            turns,
            [
                ("system", DEFAULT_SYSTEM_PROMPT.to_owned()),
                ("user", "hi".to_owned()),
                ("assistant", "Called tool f({})".to_owned()),
                ("user", "Tool result: 42".to_owned()),
            ]
        );
        let turns = render_turns(&[ChatMessage::System("be brief".into()), user("hi")]);
        assert_eq!(turns, [("system", "be brief".to_owned()), ("user", "hi".to_owned())]);
    }

    #[test]
    fn sampling_follows_the_request() {
        let request = |temperature, top_p| ChatRequest { temperature, top_p, ..Default::default() };
        assert!(matches!(sampling(&request(Some(0.0), None)), Sampling::ArgMax));
        assert!(matches!(sampling(&request(None, None)), Sampling::TopP { p, .. } if p == DEFAULT_TOP_P));
        assert!(
            matches!(sampling(&request(Some(0.7), Some(1.0))), Sampling::All { temperature } if temperature == 0.7)
        );
    }

    #[test]
    fn tokenizer_round_trips() {
        let Some(model) = model() else { return };
        let tok = &model.tokenizer;
        for text in ["héllo 世界", "Hello, world! 12345\n\n  indented\ttab", "emoji 🦀 and ümlauts"] {
            let ids = tok.encode(text).unwrap();
            assert!(!ids.is_empty());
            assert_eq!(tok.decode(&ids), text);
        }
        // Digits are split one by one, as SmolLM2's tokenizer does.
        assert_eq!(tok.encode("2024").unwrap().len(), 4);
        // Special tokens are never made from text.
        let ids = tok.encode("<|im_end|>").unwrap();
        assert!(!ids.contains(&tok.im_end) && ids.len() > 1, "{ids:?}");
        assert!(tok.is_stop(tok.im_end));
        assert!(tok.token_bytes(tok.im_start).is_empty());
    }

    #[test]
    fn long_prompts_are_cut_from_the_front() {
        let Some(model) = model() else { return };
        let messages = vec![
            ChatMessage::System("You answer briefly.".into()),
            user(&"old news ".repeat(300)),
            user("What is the capital of France?"),
        ];
        let full = model.prompt_ids(&messages, usize::MAX).unwrap();
        let cut = model.prompt_ids(&messages, 100).unwrap();
        assert!(full.len() > 300 && cut.len() <= 100);
        let text = model.tokenizer.decode(&cut);
        // The old message went; the system message and the question stayed.
        assert!(text.starts_with("system\nYou answer briefly.\n"), "{text:?}");
        assert!(text.contains("What is the capital of France?") && !text.contains("old news"), "{text:?}");
        assert!(text.ends_with("assistant\n"));
        // A single message too long for the budget: its front is cut.
        let cut = model.prompt_ids(&[user(&"word ".repeat(500))], 50).unwrap();
        assert_eq!(cut.len(), 50);
        // (control tokens decode to nothing)
        assert!(model.tokenizer.decode(&cut).ends_with("word word \nassistant\n"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_a_question() {
        let Some(model) = model() else { return };
        let question = "What is the capital of France? Answer in one word.";
        let request = ChatRequest {
            model: "smollm2".into(),
            messages: vec![user(question)],
            temperature: Some(0.0),
            max_tokens: Some(64),
            ..Default::default()
        };
        let started = Instant::now();
        let (pieces, finish, usage) = run(model, request.clone()).await;
        let elapsed = started.elapsed();
        let text = pieces.concat();
        let (prompt_tokens, completion_tokens) = usage.expect("usage");
        eprintln!(
            "answer: {text:?} ({prompt_tokens} prompt + {completion_tokens} completion tokens in {elapsed:?}, \
             {:.1} tokens/s overall)",
            completion_tokens as f64 / elapsed.as_secs_f64()
        );
        assert!(pieces.len() > 1 || completion_tokens <= 3, "the answer comes in pieces");
        assert!(pieces.iter().all(|p| !p.is_empty()));
        assert!(text.contains("Paris"), "{text:?}");
        assert_eq!(finish.as_deref(), Some("stop"));
        assert!(prompt_tokens > 10 && (1..64).contains(&completion_tokens));

        // Greedy decoding is deterministic.
        let (again, _, _) = run(model, request.clone()).await;
        assert_eq!(again.concat(), text);

        // max_tokens cuts the answer.
        let request =
            ChatRequest { messages: vec![user("Write a long story about a dragon.")], max_tokens: Some(5), ..request };
        let (pieces, finish, usage) = run(model, request).await;
        assert_eq!(finish.as_deref(), Some("length"), "{pieces:?}");
        let (_, completion_tokens) = usage.expect("usage");
        assert!((1..=5).contains(&completion_tokens), "{completion_tokens}");
    }

    /// Generation speed (release build): `cargo test --release -p assistd-runs --lib
    /// model::embedded::tests::throughput -- --ignored --nocapture`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a measurement, not a test"]
    async fn throughput() {
        let Some(model) = model() else { return };
        let request = ChatRequest {
            messages: vec![user("Write a long story about a dragon.")],
            temperature: Some(0.0),
            max_tokens: Some(128),
            ..Default::default()
        };
        let started = Instant::now();
        let mut stream = model.stream(request).await.unwrap();
        let (mut first, mut usage, mut text) = (None, None, String::new());
        while let Some(event) = stream.next().await {
            match event.unwrap() {
                ChatEvent::Text(piece) => {
                    first.get_or_insert(started.elapsed());
                    text.push_str(&piece);
                }
                ChatEvent::Usage { prompt_tokens, completion_tokens } => {
                    usage = Some((prompt_tokens, completion_tokens))
                }
                _ => {}
            }
        }
        let (total, first, (prompt, completion)) = (started.elapsed(), first.unwrap(), usage.unwrap());
        eprintln!("{text}");
        eprintln!(
            "{prompt} prompt tokens: first token after {first:?}; {completion} tokens in {total:?}: \
             {:.1} tokens/s after the first",
            (completion - 1) as f64 / (total - first).as_secs_f64()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_stream_stops_generation() {
        let Some(model) = model() else { return };
        // The same weights, with a token count of its own.
        let model = Embedded { sampled: Arc::default(), ..model.clone() };
        let request = ChatRequest {
            messages: vec![user("Write a long story about a dragon.")],
            temperature: Some(0.0),
            max_tokens: Some(2000),
            ..Default::default()
        };
        let mut stream = model.stream(request).await.unwrap();
        assert!(matches!(stream.next().await, Some(Ok(ChatEvent::Text(_)))));
        drop(stream);
        // The generation held the weights when it sent that text: once we get them, it has ended.
        let weights = model.weights.clone();
        tokio::task::spawn_blocking(move || drop(weights.lock())).await.unwrap();
        // At most a channel's worth (64) of tokens more than were read.
        let sampled = model.sampled.load(Ordering::Relaxed);
        assert!(sampled < 100, "{sampled} tokens sampled");
    }
}
