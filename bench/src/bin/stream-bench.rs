//! `stream-bench`: streaming runs through assistd against a fast fake chat backend.
//!
//! It starts its own OpenAI-compatible fake backend on loopback, then starts the
//! assistd binary given with `--assistd` (SQLite in a temp dir, or `--database-url`)
//! pointed at it, and measures:
//!
//! 1. time to first token (TTFT): the backend's own (a client calling the fake
//!    directly, up to its first content chunk) and through assistd (`POST
//!    /v1/threads/{id}/runs` with `stream: true`, up to the first
//!    `thread.message.delta`), sequentially, one fresh thread per run; the difference
//!    of the medians is the added TTFT;
//! 2. the token relay rate: one run whose backend sends `--relay-tokens` chunks as
//!    fast as it can, received through assistd versus directly;
//! 3. `--concurrent` streamed runs at once (one thread each) whose backend sends a
//!    token every `--token-interval-ms`: errors (any run not ending
//!    `thread.run.completed` + `done`), and assistd's resident memory with every
//!    stream open, minus before, per stream.
//!
//! The fake backend runs in this process, so the machine's cores are shared by the
//! client, the backend and assistd, as they would be on one small box.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use futures::StreamExt;
use hdrhistogram::Histogram;
use serde_json::json;

#[derive(Debug, Parser)]
#[command(name = "stream-bench", about)]
struct Args {
    /// The assistd binary to start
    #[arg(long)]
    assistd: String,
    /// PostgreSQL URL for assistd (default: SQLite in a temp dir)
    #[arg(long)]
    database_url: Option<String>,
    /// Sequential runs for the TTFT measurement
    #[arg(long, default_value_t = 200)]
    ttft_runs: usize,
    /// Chunks in the relay-rate run
    #[arg(long, default_value_t = 20_000)]
    relay_tokens: usize,
    /// Streamed runs open at once
    #[arg(long, default_value_t = 1000)]
    concurrent: usize,
    /// Tokens per run in the concurrent phase
    #[arg(long, default_value_t = 20)]
    concurrent_tokens: usize,
    /// Pause between tokens in the concurrent phase
    #[arg(long, default_value_t = 500)]
    token_interval_ms: u64,
    /// Print the results as one JSON object on stdout
    #[arg(long)]
    json: bool,
}

/// How the fake backend answers: `tokens` chunks, `interval` apart (none: as fast
/// as the socket takes them).
#[derive(Clone, Copy)]
struct Script {
    tokens: usize,
    interval: Duration,
}

struct Backend {
    script: std::sync::Mutex<Script>,
}

fn chunk(delta: serde_json::Value, finish: Option<&str>) -> bytes::Bytes {
    let c = json!({"id": "c", "object": "chat.completion.chunk", "model": "fake",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    bytes::Bytes::from(format!("data: {c}\n\n"))
}

async fn completions(axum::extract::State(b): axum::extract::State<Arc<Backend>>) -> axum::response::Response {
    let script = *b.script.lock().unwrap_or_else(|e| e.into_inner());
    let body = async_stream_body(script);
    axum::response::Response::builder()
        .header("content-type", "text/event-stream")
        .body(axum::body::Body::from_stream(body))
        .unwrap_or_default()
}

fn async_stream_body(s: Script) -> impl futures::Stream<Item = Result<bytes::Bytes, Infallible>> {
    futures::stream::unfold(0usize, move |i| async move {
        if i < s.tokens {
            if i > 0 && !s.interval.is_zero() {
                tokio::time::sleep(s.interval).await;
            }
            Some((Ok(chunk(json!({"content": "tok "}), None)), i + 1))
        } else if i == s.tokens {
            let mut out = chunk(json!({}), Some("stop")).to_vec();
            out.extend_from_slice(
                format!(
                    "data: {}\n\ndata: [DONE]\n\n",
                    json!({"id": "c", "object": "chat.completion.chunk", "choices": [],
                           "usage": {"prompt_tokens": 10, "completion_tokens": s.tokens, "total_tokens": 10 + s.tokens}})
                )
                .as_bytes(),
            );
            Some((Ok(bytes::Bytes::from(out)), i + 1))
        } else {
            None
        }
    })
}

struct Assistd {
    child: std::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Assistd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const KEY: &str = "sk-stream-bench";

fn start_assistd(args: &Args, backend_url: &str) -> anyhow::Result<Assistd> {
    use std::io::BufRead;
    let dir = tempfile::tempdir()?;
    let mut cmd = std::process::Command::new(&args.assistd);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(dir.path());
    for (k, _) in std::env::vars() {
        if k.starts_with("ASSISTD_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("ASSISTD_API_KEYS", KEY).env("ASSISTD_LLM_BASE_URL", backend_url).env("ASSISTD_LOG", "warn");
    if let Some(db) = &args.database_url {
        cmd.env("ASSISTD_DATABASE_URL", db);
    }
    cmd.stdout(std::process::Stdio::piped()).stderr(std::fs::File::create(dir.path().join("server.log"))?);
    let mut child = cmd.spawn().context("starting assistd")?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    let addr = line.trim().strip_prefix("assistd listening on ").context("assistd did not start")?.to_owned();
    Ok(Assistd { child, base: format!("http://{addr}"), _dir: dir })
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS")?;
    line.split_whitespace().nth(1).context("VmRSS")?.parse().context("VmRSS")
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn post(&self, path: &str, body: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let r = self.http.post(format!("{}{path}", self.base)).bearer_auth(KEY).json(&body).send().await?;
        ensure!(r.status().is_success(), "{path}: {}", r.status());
        Ok(r.json().await?)
    }

    async fn thread(&self) -> anyhow::Result<String> {
        let t = self.post("/v1/threads", json!({"messages": [{"role": "user", "content": "hi"}]})).await?;
        Ok(t["id"].as_str().context("thread id")?.to_owned())
    }

    /// Streams a run; returns (time to first text delta, text deltas, whether it
    /// ended `thread.run.completed` then `done`).
    async fn stream(&self, thread: &str, assistant: &str) -> anyhow::Result<(Duration, usize, bool)> {
        let start = Instant::now();
        let r = self
            .http
            .post(format!("{}/v1/threads/{thread}/runs", self.base))
            .bearer_auth(KEY)
            .json(&json!({"assistant_id": assistant, "stream": true}))
            .send()
            .await?;
        ensure!(r.status().is_success(), "stream: {}", r.status());
        let mut body = r.bytes_stream();
        let mut buf = Vec::new();
        let mut first = None;
        let mut deltas = 0;
        let mut events: Vec<String> = Vec::new();
        while let Some(chunk) = body.next().await {
            buf.extend_from_slice(&chunk?);
            while let Some(pos) = buf.windows(2).position(|w| w == b"\n\n") {
                let frame: Vec<u8> = buf.drain(..pos + 2).collect();
                let frame = String::from_utf8_lossy(&frame);
                if let Some(name) = frame.lines().find_map(|l| l.strip_prefix("event: ")) {
                    if name == "thread.message.delta" {
                        deltas += 1;
                        first.get_or_insert_with(|| start.elapsed());
                    }
                    events.push(name.to_owned());
                }
            }
        }
        let n = events.len();
        let ok = n >= 2 && events[n - 2] == "thread.run.completed" && events[n - 1] == "done";
        Ok((first.context("no text delta")?, deltas, ok))
    }
}

impl Api {
    /// Streams a response (`POST /v1/responses`, `stream: true`); returns (time to the
    /// first `response.output_text.delta`, whether it ended `response.completed`).
    async fn stream_response(&self) -> anyhow::Result<(Duration, bool)> {
        let start = Instant::now();
        let r = self
            .http
            .post(format!("{}/v1/responses", self.base))
            .bearer_auth(KEY)
            .json(&json!({"model": "fake", "input": "hi", "stream": true}))
            .send()
            .await?;
        ensure!(r.status().is_success(), "responses stream: {}", r.status());
        let mut body = r.bytes_stream();
        let mut buf = Vec::new();
        let mut first = None;
        let mut last = String::new();
        while let Some(chunk) = body.next().await {
            buf.extend_from_slice(&chunk?);
            while let Some(pos) = buf.windows(2).position(|w| w == b"\n\n") {
                let frame: Vec<u8> = buf.drain(..pos + 2).collect();
                let frame = String::from_utf8_lossy(&frame);
                if let Some(name) = frame.lines().find_map(|l| l.strip_prefix("event: ")) {
                    if name == "response.output_text.delta" {
                        first.get_or_insert_with(|| start.elapsed());
                    }
                    last = name.to_owned();
                }
            }
        }
        Ok((first.context("no output_text delta")?, last == "response.completed"))
    }
}

async fn direct_ttft(http: &reqwest::Client, url: &str) -> anyhow::Result<(Duration, usize)> {
    let start = Instant::now();
    let r = http.post(url).json(&json!({"model": "m", "stream": true, "messages": []})).send().await?;
    let mut body = r.bytes_stream();
    let mut first = None;
    let mut n = 0;
    while let Some(c) = body.next().await {
        let c = c?;
        first.get_or_insert_with(|| start.elapsed());
        n += c.windows(6).filter(|w| w == b"\"tok \"").count();
    }
    Ok((first.context("no chunk")?, n))
}

fn pct(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let backend = Arc::new(Backend { script: std::sync::Mutex::new(Script { tokens: 1, interval: Duration::ZERO }) });
    let set = |s: Script| *backend.script.lock().unwrap_or_else(|e| e.into_inner()) = s;
    let app =
        axum::Router::new().route("/v1/chat/completions", axum::routing::post(completions)).with_state(backend.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let backend_url = format!("http://{}/v1", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let server = start_assistd(&args, &backend_url)?;
    let pid = server.child.id();
    let api = Api { http: reqwest::Client::builder().pool_max_idle_per_host(2048).build()?, base: server.base.clone() };
    let a = api.post("/v1/assistants", json!({"model": "fake"})).await?;
    let assistant = a["id"].as_str().context("assistant id")?.to_owned();
    let direct_url = format!("{backend_url}/chat/completions");

    // 1. TTFT, 8 tokens per answer
    set(Script { tokens: 8, interval: Duration::ZERO });
    let mut direct = Histogram::<u64>::new(3)?;
    let mut through = Histogram::<u64>::new(3)?;
    let mut responses = Histogram::<u64>::new(3)?;
    // runs and responses interleaved, each beside a direct call, so both see the same machine
    for i in 0..args.ttft_runs + 20 {
        let (d, _) = direct_ttft(&api.http, &direct_url).await?;
        let t = api.thread().await?;
        let (ttft, _, ok) = api.stream(&t, &assistant).await?;
        ensure!(ok, "a TTFT run did not complete");
        let (r_ttft, r_ok) = api.stream_response().await?;
        ensure!(r_ok, "a TTFT response did not complete");
        if i >= 20 {
            direct.record(d.as_micros() as u64)?;
            through.record(ttft.as_micros() as u64)?;
            responses.record(r_ttft.as_micros() as u64)?;
        }
    }

    // 2. relay rate
    set(Script { tokens: args.relay_tokens, interval: Duration::ZERO });
    let start = Instant::now();
    let (_, n_direct) = direct_ttft(&api.http, &direct_url).await?;
    let direct_rate = n_direct as f64 / start.elapsed().as_secs_f64();
    let t = api.thread().await?;
    let start = Instant::now();
    let (_, relayed, ok) = api.stream(&t, &assistant).await?;
    let relay_rate = relayed as f64 / start.elapsed().as_secs_f64();
    ensure!(ok && relayed == args.relay_tokens, "relay run: {relayed} of {} deltas", args.relay_tokens);

    // 3. concurrent streams
    let mut threads = Vec::with_capacity(args.concurrent);
    for _ in 0..args.concurrent {
        threads.push(api.thread().await?);
    }
    set(Script { tokens: args.concurrent_tokens, interval: Duration::from_millis(args.token_interval_ms) });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_kib(pid)?;
    let opened = Arc::new(AtomicUsize::new(0));
    let api = Arc::new(api);
    let start = Instant::now();
    let tasks: Vec<_> = threads
        .into_iter()
        .map(|t| {
            let api = api.clone();
            let assistant = assistant.clone();
            let opened = opened.clone();
            tokio::spawn(async move {
                let r = api.stream(&t, &assistant).await;
                opened.fetch_add(1, Ordering::Relaxed);
                r
            })
        })
        .collect();
    // Sample memory while the streams are open (they last tokens × interval).
    let mut rss_peak = rss_before;
    let open_for = Duration::from_millis(args.token_interval_ms * args.concurrent_tokens as u64);
    while start.elapsed() < open_for && opened.load(Ordering::Relaxed) == 0 {
        rss_peak = rss_peak.max(rss_kib(pid)?);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut errors = 0;
    let mut first_error = None;
    let mut c_ttft = Histogram::<u64>::new(3)?;
    for t in tasks {
        match t.await? {
            Ok((ttft, _, true)) => c_ttft.record(ttft.as_micros() as u64)?,
            Ok((_, _, false)) => {
                errors += 1;
                first_error.get_or_insert("a run did not end completed".to_owned());
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e.to_string());
            }
        }
    }
    let wall = start.elapsed();
    let per_stream_kib = (rss_peak.saturating_sub(rss_before)) as f64 / args.concurrent as f64;

    let report = json!({
        "ttft_ms": {
            "backend_p50": pct(&direct, 0.5), "backend_p99": pct(&direct, 0.99),
            "assistd_p50": pct(&through, 0.5), "assistd_p99": pct(&through, 0.99),
            "added_p50": pct(&through, 0.5) - pct(&direct, 0.5),
            "added_p99": pct(&through, 0.99) - pct(&direct, 0.99),
        },
        "responses_ttft_ms": {
            "assistd_p50": pct(&responses, 0.5), "assistd_p99": pct(&responses, 0.99),
            "added_p50": pct(&responses, 0.5) - pct(&direct, 0.5),
            "added_p99": pct(&responses, 0.99) - pct(&direct, 0.99),
        },
        "relay_tokens_per_s": {"direct": direct_rate.round(), "assistd": relay_rate.round()},
        "concurrent": {
            "streams": args.concurrent, "errors": errors, "first_error": first_error,
            "wall_s": wall.as_secs_f64(), "ttft_p50_ms": pct(&c_ttft, 0.5), "ttft_p99_ms": pct(&c_ttft, 0.99),
            "rss_before_kib": rss_before, "rss_open_kib": rss_peak, "kib_per_stream": per_stream_kib,
        },
    });
    if args.json {
        println!("{report}");
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    if errors > 0 {
        bail!("{errors} of {} concurrent runs failed", args.concurrent);
    }
    Ok(())
}
