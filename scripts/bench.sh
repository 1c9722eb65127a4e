#!/usr/bin/env bash
# Load benchmark of assistd's message endpoints over REST and gRPC, against a bare
# axum + sqlx baseline (bench/src/bin/baseline.rs) serving the same REST routes.
#
# Builds release binaries, then runs BENCH_ROUNDS rounds; in each, the baseline and
# assistd are started in turn (A/B, each on a throw-away data directory and a fresh
# database) and the same assistd-bench scenarios run against each at the same
# concurrency: the REST ones against both, the gRPC ones against assistd. It prints a
# Markdown table of each scenario's median over the rounds (req/s, p50, p99) and the
# ratio assistd / baseline. With BENCH_DATABASE_URL set (an admin postgres:// URL that
# may CREATE DATABASE), it then repeats everything on PostgreSQL (a fresh database per
# server start, dropped afterwards). Servers are always stopped on exit.
#
# Environment:
#   BENCH_ROUNDS         A/B rounds (default 3)
#   BENCH_DURATION       measured seconds per scenario (default 10)
#   BENCH_WARMUP         warm-up seconds per scenario (default 2)
#   BENCH_CONCURRENCY    concurrent workers (default 64)
#   BENCH_GRPC_CHANNELS  HTTP/2 channels for the gRPC scenarios (default 1)
#   BENCH_DATABASE_URL   postgres://USER[:PASS]@HOST[:PORT]/DB: also run on PostgreSQL
#   BENCH_SQLITE=0       skip SQLite (with BENCH_DATABASE_URL: PostgreSQL only)
#   BENCH_BASELINE=0     assistd alone (no baseline, no ratio)
#   BENCH_OTLP=1         also run assistd on SQLite with traces exported to a local OTLP sink
#   CARGO_TARGET_DIR     cargo target dir (default $HOME/.cache/assistd/target)
#   BENCH_SERVER_LOG     the server's log filter (ASSISTD_LOG; default warn)
#   BENCH_SKIP_BUILD=1   use the binaries already built
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/assistd/target}
ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONCURRENCY=${BENCH_CONCURRENCY:-64}
GRPC_CHANNELS=${BENCH_GRPC_CHANNELS:-1}
SERVER_LOG_LEVEL=${BENCH_SERVER_LOG:-warn}
API_KEY=sk-bench
SCENARIOS=(rest-create-message rest-list-messages grpc-create-message grpc-list-messages)
REST_SCENARIOS=(rest-create-message rest-list-messages)

ASSISTD="$CARGO_TARGET_DIR/release/assistd"
BENCH="$CARGO_TARGET_DIR/release/assistd-bench"
BASELINE="$CARGO_TARGET_DIR/release/baseline"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/assistd-bench.XXXXXX")
SERVER_PID=""
PG_DB=""
PG_ADMIN_URL=""
FAILED=0
# one line per measurement: backend target scenario rps p50 p99 errors
RESULTS=""

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

# Waits for "$2 listening on 127.0.0.1:PORT" in $1/server.out and sets PORT.
wait_listening() {
    local dir=$1 name=$2
    PORT=""
    for _ in $(seq 600); do
        PORT=$(sed -n "s/^$name listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p" "$dir/server.out" | head -n1)
        [[ -n "$PORT" ]] && return 0
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            log "$name exited before listening; last log lines:"
            sed '/^Stack backtrace:/,$d' "$dir/server.log" | tail -n 20 >&2 || true
            SERVER_PID=""
            return 1
        fi
        sleep 0.1
    done
    log "$name did not report its address within 60 s; last log lines:"
    tail -n 20 "$dir/server.log" >&2 || true
    return 1
}

# Starts assistd with the given extra environment (NAME=VALUE...) and sets PORT.
start_assistd() {
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
    wait_listening "$dir" assistd
}

# Starts the baseline on database URL $2 and sets PORT.
start_baseline() {
    local dir=$1 url=$2
    mkdir -p "$dir"
    : >"$dir/server.out"
    "$BASELINE" --listen 127.0.0.1:0 --database-url "$url" --api-key "$API_KEY" \
        >"$dir/server.out" 2>"$dir/server.log" &
    SERVER_PID=$!
    wait_listening "$dir" baseline
}

# A fresh PostgreSQL database for one server start: sets PG_DB and PG_URL.
fresh_database() {
    PG_DB="assistd_bench_$$_$1"
    psql "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$PG_DB\"" >/dev/null
    PG_URL=$(with_database "$PG_ADMIN_URL" "$PG_DB")
}

# Runs scenarios $4.. against the server on PORT, recording each as backend $1, target $2.
measure() {
    local backend=$1 target=$2 round=$3
    shift 3
    local s out rc
    for s in "$@"; do
        log "round $round, $backend, $target, $s: concurrency $CONCURRENCY, ${WARMUP}s warm-up, ${DURATION}s measured"
        rc=0
        out=$("$BENCH" --base-url "http://127.0.0.1:$PORT" --api-key "$API_KEY" \
            --scenario "$s" --concurrency "$CONCURRENCY" --duration "$DURATION" \
            --warmup "$WARMUP" --grpc-channels "$GRPC_CHANNELS" --json) || rc=$?
        if [[ -z "$out" ]]; then
            log "$backend $target $s: assistd-bench failed (exit $rc)"
            FAILED=1
            continue
        fi
        [[ $rc -eq 0 ]] || FAILED=1
        local f=() k
        for k in rps p50_ms p99_ms errors; do
            f+=("$(json_field "$k" <<<"$out")")
        done
        RESULTS+="$backend|$target|$s|${f[0]}|${f[1]}|${f[2]}|${f[3]}"$'\n'
    done
}

# One backend: BENCH_ROUNDS rounds of baseline then assistd. $1 names it ("sqlite",
# "postgres"); the rest is assistd's extra environment.
run_backend() {
    local backend=$1
    shift
    local round dir url
    for round in $(seq "$ROUNDS"); do
        if [[ "${BENCH_BASELINE:-1}" != 0 ]]; then
            dir="$TMP/$backend-baseline-$round"
            if [[ "$backend" == postgres ]]; then
                fresh_database "b$round" && url=$PG_URL
            else
                mkdir -p "$dir" && url="sqlite://$dir/baseline.db"
            fi
            log "starting the baseline ($backend, round $round)"
            if start_baseline "$dir" "$url"; then
                measure "$backend" baseline "$round" "${REST_SCENARIOS[@]}"
            else
                FAILED=1
            fi
            stop_server
            drop_database
        fi
        dir="$TMP/$backend-assistd-$round"
        local env=("$@")
        if [[ "$backend" == postgres ]]; then
            fresh_database "a$round" && env+=(ASSISTD_DATABASE_URL="$PG_URL")
        fi
        log "starting assistd ($backend, round $round)"
        if start_assistd "$dir" "${env[@]}"; then
            measure "$backend" assistd "$round" "${SCENARIOS[@]}"
        else
            FAILED=1
        fi
        stop_server
        drop_database
    done
}

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    log "building release binaries into $CARGO_TARGET_DIR"
    (cd "$ROOT" && cargo build --release -p assistd -p assistd-bench)
fi
[[ -x "$ASSISTD" && -x "$BENCH" && -x "$BASELINE" ]] || {
    log "missing $ASSISTD, $BENCH or $BASELINE"
    exit 1
}

if [[ -n "${BENCH_DATABASE_URL:-}" ]]; then
    command -v psql >/dev/null 2>&1 || {
        log "BENCH_DATABASE_URL is set but psql is not installed"
        exit 1
    }
    PG_ADMIN_URL=$BENCH_DATABASE_URL
fi

[[ "${BENCH_SQLITE:-1}" == 0 ]] || run_backend sqlite

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
    BENCH_BASELINE=0 run_backend "sqlite + OTLP" OTEL_EXPORTER_OTLP_ENDPOINT="http://$SINK_ADDR"
    kill "$SINK_PID" 2>/dev/null || true
    wait "$SINK_PID" 2>/dev/null || true
    log "$(cat "$TMP/sink.log")"
fi

[[ -z "${BENCH_DATABASE_URL:-}" ]] || run_backend postgres

mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
echo
echo "## assistd benchmark"
echo
echo "Machine: $(nproc) CPUs, ${cpu_model:-unknown CPU}, $(awk -v kb="$mem_kb" 'BEGIN {printf "%.1f GiB", kb / 1048576}') memory; $(uname -sr)"
echo "Run: release build, $ROUNDS rounds of baseline then assistd, ${DURATION}s measured after ${WARMUP}s warm-up per scenario, $CONCURRENCY workers, one thread (seeded with 100 messages for the list scenarios); client and server on the same machine. Medians over the rounds; ratio = assistd / baseline."
echo
echo "| backend | scenario | server | req/s | p50 ms | p99 ms | errors | req/s ratio |"
echo "|---|---|---|---:|---:|---:|---:|---:|"
# medians per backend, scenario and server, and the req/s ratio where both ran
printf '%s' "$RESULTS" | awk -F'|' '
    function median(list,   n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    NF >= 7 {
        key = $1 "|" $3 "|" $2
        if (!(key in rps)) { order[++count] = key }
        rps[key] = rps[key] " " $4; p50[key] = p50[key] " " $5; p99[key] = p99[key] " " $6; errors[key] += $7
    }
    END {
        for (i = 1; i <= count; i++) {
            key = order[i]; split(key, k, "|")
            base = k[1] "|" k[2] "|baseline"
            ratio = ""
            if (k[3] == "assistd" && (base in rps)) ratio = sprintf("%.2f", median(rps[key]) / median(rps[base]))
            printf "| %s | %s | %s | %.0f | %.2f | %.2f | %d | %s |\n", k[1], k[2], k[3], median(rps[key]), median(p50[key]), median(p99[key]), errors[key], ratio
        }
    }' | sort -t'|' -k2,2 -k3,3 -k4,4r
exit "$FAILED"
