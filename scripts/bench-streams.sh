#!/usr/bin/env bash
# Streaming benchmark of the run engine (bench/src/bin/stream-bench.rs): added
# time-to-first-token over the backend's own, token relay rate, and concurrent streamed
# runs (errors, memory per open stream) against a fast fake chat backend. Builds the
# release binaries, then runs stream-bench, which starts assistd itself (SQLite in a
# temp dir, or BENCH_DATABASE_URL) and stops it on exit.
#
# Environment:
#   BENCH_CONCURRENT     streamed runs open at once (default 1000)
#   BENCH_TTFT_RUNS      sequential runs for the TTFT figures (default 200)
#   BENCH_DATABASE_URL   postgres:// URL of an existing database for assistd
#   BENCH_SKIP_BUILD=1   use the binaries already built
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/assistd/target}
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    (cd "$ROOT" && cargo build --release --bin assistd -p assistd && cargo build --release -p assistd-bench --bin stream-bench)
fi
# two sockets per open stream (client side and backend side), on both ends
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
args=(--assistd "$CARGO_TARGET_DIR/release/assistd" --concurrent "${BENCH_CONCURRENT:-1000}" --ttft-runs "${BENCH_TTFT_RUNS:-200}")
[[ -n "${BENCH_DATABASE_URL:-}" ]] && args+=(--database-url "$BENCH_DATABASE_URL")
exec "$CARGO_TARGET_DIR/release/stream-bench" "${args[@]}"
