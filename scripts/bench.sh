#!/usr/bin/env bash
# Load benchmark of assistd's message endpoints over REST and gRPC.
#
# Builds release binaries, starts `assistd serve` on a free loopback port with a
# throw-away data directory, runs the four assistd-bench scenarios against it and
# prints a Markdown table. With BENCH_DATABASE_URL set (an admin postgres:// URL that
# may CREATE DATABASE), it then repeats everything on a fresh PostgreSQL database,
# dropped afterwards. The server is always stopped on exit.
#
# Environment:
#   BENCH_DURATION       measured seconds per scenario (default 10)
#   BENCH_WARMUP         warm-up seconds per scenario (default 2)
#   BENCH_CONCURRENCY    concurrent workers (default 64)
#   BENCH_GRPC_CHANNELS  HTTP/2 channels for the gRPC scenarios (default 1)
#   BENCH_DATABASE_URL   postgres://USER[:PASS]@HOST[:PORT]/DB: also run on PostgreSQL
#   BENCH_OTLP=1         also run on SQLite with traces exported to a local OTLP sink
#   CARGO_TARGET_DIR     cargo target dir (default $HOME/.cache/assistd/target)
#   BENCH_SERVER_LOG     the server's log filter (ASSISTD_LOG; default warn)
#   BENCH_SKIP_BUILD=1   use the binaries already built
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/assistd/target}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONCURRENCY=${BENCH_CONCURRENCY:-64}
GRPC_CHANNELS=${BENCH_GRPC_CHANNELS:-1}
SERVER_LOG_LEVEL=${BENCH_SERVER_LOG:-warn}
API_KEY=sk-bench
SCENARIOS=(rest-create-message rest-list-messages grpc-create-message grpc-list-messages)

ASSISTD="$CARGO_TARGET_DIR/release/assistd"
BENCH="$CARGO_TARGET_DIR/release/assistd-bench"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/assistd-bench.XXXXXX")
SERVER_PID=""
PG_DB=""
PG_ADMIN_URL=""
ROWS=()
FAILED=0

log() { echo "bench: $*" >&2; }

stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}

drop_database() {
    if [[ -n "$PG_DB" ]]; then
        psql "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 -qc "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 ||
            psql "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 -qc "DROP DATABASE IF EXISTS \"$PG_DB\"" >/dev/null 2>&1 ||
            log "warning: could not drop database $PG_DB"
        PG_DB=""
    fi
}

cleanup() {
    local rc=$?
    [[ -n "${SINK_PID:-}" ]] && kill "$SINK_PID" 2>/dev/null
    stop_server
    drop_database
    if [[ $rc -ne 0 && -d "$TMP" ]]; then
        log "keeping $TMP for inspection (server logs: $TMP/*/server.log)"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Reads one field of a flat JSON object on stdin.
json_field() {
    if command -v jq >/dev/null 2>&1; then
        jq -r --arg k "$1" '.[$k] // empty'
    else
        sed -n "s/.*\"$1\":\(\"[^\"]*\"\|[-0-9.eE+]*\).*/\1/p" | tr -d '"'
    fi
}

# The URL with its database (path) replaced by $2; the query string is kept.
with_database() {
    local url=$1 name=$2 scheme rest authority query=""
    scheme=${url%%://*}
    rest=${url#*://}
    if [[ "$rest" == *\?* ]]; then
        query="?${rest#*\?}"
        rest=${rest%%\?*}
    fi
    authority=${rest%%/*}
    printf '%s://%s/%s%s' "$scheme" "$authority" "$name" "$query"
}

# Starts the server with the given extra environment (NAME=VALUE...) and sets PORT.
start_server() {
    local dir=$1
    shift
    mkdir -p "$dir/data"
    : >"$dir/server.out"
    # Run from the data dir with only our ASSISTD_* settings.
    (
        cd "$dir"
        for v in $(compgen -e | grep '^ASSISTD_' || true); do unset "$v"; done
        exec env ASSISTD_API_KEYS="$API_KEY" ASSISTD_LOG="$SERVER_LOG_LEVEL" "$@" \
            "$ASSISTD" serve --listen 127.0.0.1:0 --data-dir "$dir/data"
    ) >"$dir/server.out" 2>"$dir/server.log" &
    SERVER_PID=$!
    PORT=""
    for _ in $(seq 600); do
        PORT=$(sed -n 's/^assistd listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$dir/server.out" | head -n1)
        [[ -n "$PORT" ]] && return 0
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            log "the server exited before listening; last log lines:"
            sed '/^Stack backtrace:/,$d' "$dir/server.log" | tail -n 20 >&2 || true
            SERVER_PID=""
            return 1
        fi
        sleep 0.1
    done
    log "the server did not report its address within 60 s; last log lines:"
    tail -n 20 "$dir/server.log" >&2 || true
    return 1
}

# Runs every scenario against a fresh server; $1 names the backend in the table.
run_backend() {
    local backend=$1
    shift
    local dir="$TMP/$backend"
    log "starting assistd ($backend)"
    if ! start_server "$dir" "$@"; then
        ROWS+=("| $backend | (server failed to start; see above) | | | | | | | | |")
        FAILED=1
        return 0
    fi
    log "assistd ($backend) listening on 127.0.0.1:$PORT (logs: $dir/server.log)"
    local s out rc
    for s in "${SCENARIOS[@]}"; do
        log "$backend $s: concurrency $CONCURRENCY, ${WARMUP}s warm-up, ${DURATION}s measured"
        rc=0
        out=$("$BENCH" --base-url "http://127.0.0.1:$PORT" --api-key "$API_KEY" \
            --scenario "$s" --concurrency "$CONCURRENCY" --duration "$DURATION" \
            --warmup "$WARMUP" --grpc-channels "$GRPC_CHANNELS" --json) || rc=$?
        if [[ -z "$out" ]]; then
            log "$backend $s: assistd-bench failed (exit $rc)"
            ROWS+=("| $backend | $s | $CONCURRENCY | failed | | | | | | |")
            FAILED=1
            continue
        fi
        [[ $rc -eq 0 ]] || FAILED=1
        local f=() k
        for k in requests errors rps p50_ms p90_ms p99_ms max_ms; do
            f+=("$(json_field "$k" <<<"$out")")
        done
        ROWS+=("$(printf '| %s | %s | %s | %s | %s | %.0f | %.2f | %.2f | %.2f | %.2f |' \
            "$backend" "$s" "$CONCURRENCY" "${f[0]}" "${f[1]}" "${f[2]}" "${f[3]}" "${f[4]}" "${f[5]}" "${f[6]}")")
    done
    stop_server
}

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    log "building release binaries into $CARGO_TARGET_DIR"
    (cd "$ROOT" && cargo build --release -p assistd -p assistd-bench)
fi
[[ -x "$ASSISTD" && -x "$BENCH" ]] || {
    log "missing $ASSISTD or $BENCH"
    exit 1
}

run_backend sqlite

if [[ "${BENCH_OTLP:-0}" == 1 ]]; then
    # The same SQLite run with traces exported to a local OTLP sink, to measure the
    # cost of tracing (metrics are always on).
    SINK="$CARGO_TARGET_DIR/release/otlp-sink"
    "$SINK" 127.0.0.1:0 >"$TMP/sink.out" 2>"$TMP/sink.log" &
    SINK_PID=$!
    SINK_ADDR=""
    for _ in $(seq 100); do
        SINK_ADDR=$(sed -n 's/^otlp-sink listening on \(.*\)$/\1/p' "$TMP/sink.out" | head -n1)
        [[ -n "$SINK_ADDR" ]] && break
        sleep 0.1
    done
    log "OTLP sink at $SINK_ADDR"
    run_backend "sqlite + OTLP" OTEL_EXPORTER_OTLP_ENDPOINT="http://$SINK_ADDR"
    kill "$SINK_PID" 2>/dev/null || true
    wait "$SINK_PID" 2>/dev/null || true
    log "$(cat "$TMP/sink.log")"
fi

if [[ -n "${BENCH_DATABASE_URL:-}" ]]; then
    command -v psql >/dev/null 2>&1 || {
        log "BENCH_DATABASE_URL is set but psql is not installed"
        exit 1
    }
    PG_ADMIN_URL=$BENCH_DATABASE_URL
    PG_DB="assistd_bench_$$"
    log "creating database $PG_DB"
    psql "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$PG_DB\"" >/dev/null
    run_backend postgres ASSISTD_DATABASE_URL="$(with_database "$PG_ADMIN_URL" "$PG_DB")"
    drop_database
fi

mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
echo
echo "## assistd benchmark"
echo
echo "Machine: $(nproc) CPUs, ${cpu_model:-unknown CPU}, $(awk -v kb="$mem_kb" 'BEGIN {printf "%.1f GiB", kb / 1048576}') memory; $(uname -sr)"
echo "Run: release build, ${DURATION}s measured after ${WARMUP}s warm-up per scenario, $CONCURRENCY workers, one thread seeded with 100 messages; client and server on the same machine."
echo
echo "| backend | scenario | concurrency | requests | errors | req/s | p50 ms | p90 ms | p99 ms | max ms |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
exit "$FAILED"
