//! Latency histograms and the final report.

use std::time::Duration;

use anyhow::Context;
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::Scenario;

/// Highest trackable latency: one hour, in microseconds.
const MAX_MICROS: u64 = 3_600_000_000;

/// What one worker (or all of them, merged) saw in the measured window.
pub struct WorkerStats {
    /// Latencies of successful requests, in microseconds.
    hist: Histogram<u64>,
    /// Failed requests.
    errors: u64,
    /// The first failure's description.
    first_error: Option<String>,
}

impl WorkerStats {
    /// Empty stats.
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            hist: Histogram::new_with_bounds(1, MAX_MICROS, 3).context("creating a histogram")?,
            errors: 0,
            first_error: None,
        })
    }

    /// Records a successful request's latency.
    pub fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
        self.hist.saturating_record(us);
    }

    /// Counts a failed request.
    pub fn error(&mut self, description: String) {
        self.errors += 1;
        self.first_error.get_or_insert(description);
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: Self) -> anyhow::Result<()> {
        self.hist.add(&other.hist).context("merging histograms")?;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        Ok(())
    }
}

/// The result of one run; serialized as the `--json` output.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: &'static str,
    /// Concurrent workers.
    pub concurrency: usize,
    /// gRPC channels the workers shared (0 for REST).
    pub grpc_channels: usize,
    /// Measured seconds.
    pub duration_s: f64,
    /// Warm-up seconds.
    pub warmup_s: f64,
    /// Requests completed in the measured window, failed ones included.
    pub requests: u64,
    /// Failed requests (non-2xx, gRPC status other than OK, transport errors).
    pub errors: u64,
    /// Completed requests per second.
    pub rps: f64,
    /// Median latency of successful requests, ms.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Maximum, ms.
    pub max_ms: f64,
    /// Mean, ms.
    pub mean_ms: f64,
    /// The first failure, if any.
    pub first_error: Option<String>,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl Report {
    /// Summarizes merged stats.
    pub fn new(
        scenario: Scenario,
        concurrency: usize,
        grpc_channels: usize,
        duration: Duration,
        warmup: Duration,
        stats: &WorkerStats,
    ) -> Self {
        let h = &stats.hist;
        let requests = h.len() + stats.errors;
        let secs = duration.as_secs_f64();
        Self {
            scenario: scenario.name(),
            concurrency,
            grpc_channels,
            duration_s: secs,
            warmup_s: warmup.as_secs_f64(),
            requests,
            errors: stats.errors,
            rps: requests as f64 / secs,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
            first_error: stats.first_error.clone(),
        }
    }

    /// One human-readable line.
    pub fn human_line(&self) -> String {
        format!(
            "{:<20} c={} d={:.1}s requests={} errors={} {:.1} req/s p50={:.3}ms p90={:.3}ms p99={:.3}ms max={:.3}ms",
            self.scenario,
            self.concurrency,
            self.duration_s,
            self.requests,
            self.errors,
            self.rps,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.max_ms,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_summarizes_merged_stats() {
        let mut a = WorkerStats::new().unwrap();
        let mut b = WorkerStats::new().unwrap();
        for i in 1..=100u64 {
            a.record(Duration::from_millis(i));
        }
        b.error("HTTP 500".into());
        b.error("HTTP 503".into());
        a.merge(b).unwrap();
        let r = Report::new(Scenario::RestListMessages, 4, 0, Duration::from_secs(2), Duration::ZERO, &a);
        assert_eq!(r.requests, 102);
        assert_eq!(r.errors, 2);
        assert!((r.rps - 51.0).abs() < 1e-9);
        assert!((r.p50_ms - 50.0).abs() < 0.1, "{}", r.p50_ms);
        assert!((r.p99_ms - 99.0).abs() < 0.1, "{}", r.p99_ms);
        assert!((r.max_ms - 100.0).abs() < 0.1, "{}", r.max_ms);
        assert_eq!(r.first_error.as_deref(), Some("HTTP 500"));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["scenario"], "rest-list-messages");
        assert_eq!(json["requests"], 102);
    }
}
