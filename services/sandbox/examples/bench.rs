//! The sandbox's benchmark (scripts/bench-sandbox.sh): a trivial cell in a warm session,
//! the first cell of a new session (cold start, no heavy imports), cells per second over
//! concurrent sessions, and the memory of 50 open sessions (proportional set size, so
//! shared pages are counted once), bare and with numpy and pandas imported.
//!
//!   cargo run --release -p assistd-sandbox --example bench [-- --sessions 50]

use std::sync::Arc;
use std::time::{Duration, Instant};

use assistd_sandbox::local::{LocalSandbox, default_python};
use assistd_sandbox::{Cell, Limits, Outcome, Sandbox, SessionKey};

fn cell(owner: &str, code: &str) -> Cell {
    Cell { session: SessionKey::new("bench", owner), expect: vec![], files: vec![], code: code.into() }
}

async fn run(sb: &LocalSandbox, owner: &str, code: &str) -> Duration {
    let started = Instant::now();
    let e = sb.execute(cell(owner, code)).await.expect("the cell ran");
    assert_eq!(e.outcome, Outcome::Completed, "{}", e.logs);
    started.elapsed()
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn summary(name: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "| {name} | {} | {:.1} | {:.1} | {:.1} |",
        times.len(),
        pct(&times, 0.5),
        pct(&times, 0.9),
        pct(&times, 0.99)
    );
}

/// Proportional set size of every process below this one, in bytes.
fn descendants_pss() -> u64 {
    let me = std::process::id();
    let mut parents = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else { continue };
        let ppid: u32 = after.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
        parents.insert(pid, ppid);
    }
    let below = |mut pid: u32| {
        while let Some(&p) = parents.get(&pid) {
            if p == me {
                return true;
            }
            pid = p;
        }
        false
    };
    parents
        .keys()
        .filter(|&&pid| below(pid))
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok())
        .filter_map(|s| s.lines().find(|l| l.starts_with("Pss:")).map(str::to_owned))
        .filter_map(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()))
        .sum::<u64>()
        * 1024
}

#[tokio::main]
async fn main() {
    let sessions: usize = std::env::args()
        .skip_while(|a| a != "--sessions")
        .nth(1)
        .map(|n| n.parse().expect("--sessions N"))
        .unwrap_or(50);
    let limits = Limits { max_sessions: sessions + 8, ..Limits::default() };
    let sb = Arc::new(LocalSandbox::new(None, &default_python(), limits));
    sb.available().expect("the sandbox can run here (scripts/setup-sandbox)");

    println!("| measure | cells | p50 ms | p90 ms | p99 ms |\n|---|---:|---:|---:|---:|");
    let mut cold = Vec::new();
    for i in 0..30 {
        cold.push(run(&sb, &format!("cold-{i}"), "x = 1 + 1").await);
        sb.close(&SessionKey::new("bench", &format!("cold-{i}"))).await;
    }
    summary("first cell of a new session (cold)", cold);
    run(&sb, "warm", "x = 0").await;
    let mut warm = Vec::new();
    for _ in 0..300 {
        warm.push(run(&sb, "warm", "x += 1").await);
    }
    summary("trivial cell, warm session", warm);
    run(&sb, "warm", "import numpy as np, pandas as pd").await;
    let mut pandas = Vec::new();
    for _ in 0..100 {
        pandas.push(run(&sb, "warm", "pd.DataFrame({'a': np.arange(100)}).a.sum()").await);
    }
    summary("small pandas cell, warm session", pandas);
    sb.close(&SessionKey::new("bench", "warm")).await;

    // cells per second: 8 sessions, each running trivial cells back to back for 5 s
    let workers = 8;
    for w in 0..workers {
        run(&sb, &format!("tp-{w}"), "x = 0").await;
    }
    let until = Instant::now() + Duration::from_secs(5);
    let counts = futures_join(workers, |w| {
        let sb = sb.clone();
        async move {
            let mut n = 0u64;
            while Instant::now() < until {
                run(&sb, &format!("tp-{w}"), "x += 1").await;
                n += 1;
            }
            n
        }
    })
    .await;
    let total: u64 = counts.iter().sum();
    println!("\ncells per second, {workers} warm sessions for 5 s: {:.0}", total as f64 / 5.0);
    for w in 0..workers {
        sb.close(&SessionKey::new("bench", &format!("tp-{w}"))).await;
    }

    // memory: `sessions` open at once, bare, then with numpy and pandas imported
    let base = descendants_pss();
    for i in 0..sessions {
        run(&sb, &format!("mem-{i}"), "x = 1").await;
    }
    let bare = descendants_pss().saturating_sub(base);
    for i in 0..sessions {
        run(&sb, &format!("mem-{i}"), "import numpy, pandas").await;
    }
    let heavy = descendants_pss().saturating_sub(base);
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "\n{sessions} open sessions: {:.0} MiB in all ({:.1} MiB each) bare; {:.0} MiB ({:.1} MiB each) with numpy and pandas imported",
        mib(bare),
        mib(bare) / sessions as f64,
        mib(heavy),
        mib(heavy) / sessions as f64
    );
}

/// Runs `n` tasks made by `make` at once and collects their results.
async fn futures_join<F, Fut>(n: usize, make: F) -> Vec<u64>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = u64> + Send + 'static,
{
    let handles: Vec<_> = (0..n).map(|w| tokio::spawn(make(w))).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("a worker"));
    }
    out
}
