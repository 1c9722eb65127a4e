//! `assistd-bench`: a closed-loop load generator for assistd's message endpoints.
//!
//! It creates one thread over REST, seeds it with messages, then runs `--concurrency`
//! workers that each issue one request at a time until the deadline, over REST
//! (one shared keep-alive HTTP/1.1 client) or gRPC (one or more shared HTTP/2
//! channels). Latencies of successful requests go into an HdrHistogram (µs).
//!
//! Only loopback base URLs are accepted: this tool is for measuring a local server.

mod grpc;
mod rest;
mod stats;

use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use clap::{Parser, ValueEnum};
use tokio::time::Instant;

use stats::{Report, WorkerStats};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(name = "assistd-bench", version, about)]
struct Args {
    /// Server base URL without /v1, e.g. http://127.0.0.1:8080 (loopback only)
    #[arg(long, env = "ASSISTD_BENCH_BASE_URL")]
    base_url: String,
    /// API key sent as `Authorization: Bearer KEY`
    #[arg(long, env = "ASSISTD_BENCH_API_KEY", hide_env_values = true)]
    api_key: String,
    /// What to measure
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// Number of concurrent workers, each with one request in flight
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Measured seconds (fractions allowed)
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Warm-up seconds before measuring (requests run but are not recorded)
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Messages to add to the thread before the run
    #[arg(long, default_value_t = 100)]
    seed_messages: usize,
    /// gRPC scenarios: spread workers over this many HTTP/2 channels
    #[arg(long, default_value_t = 1)]
    grpc_channels: usize,
    /// Print one JSON object on stdout (the human line goes to stderr)
    #[arg(long)]
    json: bool,
    /// Exit 0 even when some requests failed
    #[arg(long)]
    allow_errors: bool,
}

/// A benchmark scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// POST /v1/threads/{id}/messages
    RestCreateMessage,
    /// GET /v1/threads/{id}/messages?limit=20
    RestListMessages,
    /// ThreadService/CreateMessage
    GrpcCreateMessage,
    /// ThreadService/ListMessages with limit 20
    GrpcListMessages,
}

impl Scenario {
    /// The scenario's command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Self::RestCreateMessage => "rest-create-message",
            Self::RestListMessages => "rest-list-messages",
            Self::GrpcCreateMessage => "grpc-create-message",
            Self::GrpcListMessages => "grpc-list-messages",
        }
    }

    fn is_grpc(self) -> bool {
        matches!(self, Self::GrpcCreateMessage | Self::GrpcListMessages)
    }
}

/// Page size of the list scenarios.
pub const LIST_LIMIT: u32 = 20;

/// One worker's way of issuing a request.
enum Caller {
    Rest(rest::RestCaller),
    Grpc(grpc::GrpcCaller),
}

impl Caller {
    /// Issues one request; `Err` carries a short description of the failure.
    async fn call(&mut self, n: u64) -> Result<(), String> {
        match self {
            Self::Rest(c) => c.call(n).await,
            Self::Grpc(c) => c.call(n).await,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(report) => {
            let line = report.human_line();
            if args.json {
                eprintln!("{line}");
                match serde_json::to_string(&report) {
                    Ok(json) => println!("{json}"),
                    Err(e) => {
                        eprintln!("error: encoding the report: {e}");
                        return ExitCode::from(2);
                    }
                }
            } else {
                println!("{line}");
            }
            if let Some(sample) = &report.first_error {
                eprintln!("first error: {sample}");
            }
            if report.requests == 0 {
                eprintln!("error: no request completed in the measured window");
                ExitCode::FAILURE
            } else if report.errors > 0 && !args.allow_errors {
                eprintln!(
                    "error: {} of {} requests failed (pass --allow-errors to exit 0)",
                    report.errors, report.requests
                );
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Parses a seconds argument.
fn seconds(name: &str, v: f64, allow_zero: bool) -> anyhow::Result<Duration> {
    ensure!(
        v.is_finite() && (v > 0.0 || (allow_zero && v == 0.0)),
        "--{name} must be a positive number of seconds, got {v}"
    );
    Duration::try_from_secs_f64(v).with_context(|| format!("--{name} {v}"))
}

/// Checks that `base_url` is an http URL on a loopback address and returns it
/// without a trailing slash (and without a trailing `/v1`).
fn loopback_base_url(base_url: &str) -> anyhow::Result<String> {
    let url = reqwest::Url::parse(base_url).with_context(|| format!("--base-url {base_url}"))?;
    ensure!(url.scheme() == "http", "--base-url must be http:// (plain HTTP/1.1 and h2c), got {}", url.scheme());
    let host = url.host_str().context("--base-url has no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!("--base-url must be a loopback address (127.0.0.1, ::1, localhost), got {host}");
    }
    ensure!(url.query().is_none() && url.fragment().is_none(), "--base-url must not have a query or fragment");
    let s = url.as_str().trim_end_matches('/');
    Ok(s.strip_suffix("/v1").unwrap_or(s).to_owned())
}

/// Sets up, warms up, measures and summarizes one scenario.
async fn run(args: &Args) -> anyhow::Result<Report> {
    ensure!(args.concurrency >= 1, "--concurrency must be at least 1");
    ensure!(args.grpc_channels >= 1, "--grpc-channels must be at least 1");
    let duration = seconds("duration", args.duration, false)?;
    let warmup = seconds("warmup", args.warmup, true)?;
    let base = loopback_base_url(&args.base_url)?;

    // Setup over REST: one thread with `seed_messages` messages in it.
    let http = rest::client(&args.api_key, args.concurrency)?;
    let thread_id = rest::create_thread(&http, &base).await?;
    rest::seed_messages(&http, &base, &thread_id, args.seed_messages).await?;
    let listed = rest::count_listed(&http, &base, &thread_id).await?;
    let expected = args.seed_messages.min(LIST_LIMIT as usize);
    if listed != expected {
        eprintln!("warning: a list of the seeded thread returned {listed} messages, expected {expected}");
    }

    let callers: Vec<Caller> = if args.scenario.is_grpc() {
        let channels = grpc::connect(&base, args.grpc_channels).await?;
        let auth = grpc::auth_value(&args.api_key)?;
        (0..args.concurrency)
            .map(|i| {
                Caller::Grpc(grpc::GrpcCaller::new(
                    args.scenario,
                    channels[i % channels.len()].clone(),
                    &thread_id,
                    auth.clone(),
                ))
            })
            .collect()
    } else {
        (0..args.concurrency)
            .map(|_| Caller::Rest(rest::RestCaller::new(args.scenario, &http, &base, &thread_id)))
            .collect()
    };

    let counter = Arc::new(AtomicU64::new(args.seed_messages as u64));
    let start = Instant::now() + warmup;
    let end = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for caller in callers {
        tasks.spawn(worker(caller, Arc::clone(&counter), start, end));
    }
    let mut total = WorkerStats::new()?;
    while let Some(res) = tasks.join_next().await {
        total.merge(res.context("a worker panicked")??)?;
    }
    Ok(Report::new(
        args.scenario,
        args.concurrency,
        if args.scenario.is_grpc() { args.grpc_channels } else { 0 },
        duration,
        warmup,
        &total,
    ))
}

/// Issues requests back to back until `end`. Requests started before `start` are
/// warm-up and not recorded; a request still in flight at `end` is dropped unrecorded.
async fn worker(
    mut caller: Caller,
    counter: Arc<AtomicU64>,
    start: Instant,
    end: Instant,
) -> anyhow::Result<WorkerStats> {
    let mut stats = WorkerStats::new()?;
    loop {
        let t0 = Instant::now();
        if t0 >= end {
            break;
        }
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let Ok(result) = tokio::time::timeout_at(end, caller.call(n)).await else {
            break;
        };
        if t0 < start {
            continue;
        }
        match result {
            Ok(()) => stats.record(t0.elapsed()),
            Err(e) => stats.error(e),
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_must_be_loopback() {
        assert_eq!(loopback_base_url("http://127.0.0.1:8080/").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(loopback_base_url("http://localhost:1/v1").unwrap(), "http://localhost:1");
        assert_eq!(loopback_base_url("http://[::1]:9").unwrap(), "http://[::1]:9");
        assert!(loopback_base_url("http://10.0.0.1:8080").is_err());
        assert!(loopback_base_url("http://example.com").is_err());
        assert!(loopback_base_url("https://127.0.0.1:8080").is_err());
    }

    #[test]
    fn seconds_are_checked() {
        assert!(seconds("d", 0.0, false).is_err());
        assert!(seconds("d", -1.0, true).is_err());
        assert!(seconds("d", f64::NAN, true).is_err());
        assert_eq!(seconds("w", 0.0, true).unwrap(), Duration::ZERO);
        assert_eq!(seconds("d", 1.5, false).unwrap(), Duration::from_millis(1500));
    }

    #[test]
    fn scenario_names_match_clap() {
        for s in Scenario::value_variants() {
            let v = s.to_possible_value().unwrap();
            assert_eq!(v.get_name(), s.name());
        }
    }
}
