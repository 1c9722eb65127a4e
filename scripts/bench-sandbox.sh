#!/usr/bin/env bash
# The code_interpreter sandbox's benchmark (services/sandbox/examples/bench.rs): warm and
# cold cell latency, cells per second, and the memory of open sessions. Needs bwrap and
# the sessions' Python (scripts/setup-sandbox, run first).
#
#   scripts/bench-sandbox.sh [--sessions 50]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/assistd/target}"
scripts/setup-sandbox
exec cargo run -q --release -p assistd-sandbox --example bench -- "$@"
