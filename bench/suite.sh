#!/usr/bin/env bash
# Every comparison of sparts-rs against its baseline, side by side in one
# run, and one table of ratios against the targets.
#
#   bash bench/suite.sh [--quick]
#
# Builds sparts-bench in release once, then runs, in this order:
#   target/release/lifecycle                   empty service start -> exit and
#                                               peak RSS (200 runs), the same
#                                               with a config file, SIGTERM ->
#                                               exit of an idle one (50 runs)
#   target/release/config_load                 a config file of 1,000 keys:
#                                               what it adds to a start
#   target/release/queue                       QueueTask against a bare tokio
#                                               mpsc + oneshot loop, 1M items
#   target/release/queue_nats --rounds 3       QueueTask on NATS JetStream
#                                               against raw async-nats on the
#                                               same local nats-server: no-op
#                                               throughput, submit + await,
#                                               one of two replicas killed
#                                               (skipped, with a note in the
#                                               table, without nats-server)
#   target/release/telemetry                   Prometheus counter and histogram
#                                               recording, 1 and 2 threads;
#                                               rendering 1,000 series
#   bash bench/http.sh 3 8                     HttpTask against bare axum under
#                                               wrk (installed from Debian when
#                                               missing), 3 rounds of 8 s
#   bash bench/http_instructions.sh            the same two servers' user-space
#                                               instructions per request, under
#                                               callgrind (valgrind installed
#                                               when missing): steady where
#                                               requests/s is not
#   bash bench/edge.sh 3 8                     HttpTask over TLS (wrk) and
#                                               HTTP/2 (h2load, installed from
#                                               Debian's nghttp2-client when
#                                               missing) against a bare axum
#                                               edge server with the same
#                                               rustls setup, and TLS
#                                               handshakes/s
#   target/release/grpc_load 3 5               GrpcTask against bare tonic,
#                                               3 rounds of 5 s
#   bash bench/thrift_instructions.sh          the same two Thrift servers'
#                                               instructions per getStatus call,
#                                               under callgrind
#   target/release/thrift_load --rounds 3      ThriftServerTask against the
#     --seconds 4                               thrift crate's TServer at 1 and
#                                               64 connections, 3 rounds of 4 s,
#                                               then 8 busy connections beside
#                                               1,000 idle ones
# About 8 minutes of benchmarks on a 2-core machine, plus the build (seconds
# when up to date, about 6 minutes cold): under 15 minutes in all. Longer
# runs (bench/http.sh 5 10, thrift_load --rounds 5) give steadier medians.
#
# Each benchmark's own report goes to stderr and to
# target/bench-suite/<name>.log; the table is read from the last line of each,
# `RATIO key=value ...`. The table goes to stdout and to target/bench-suite.md,
# ready to paste into the README. A benchmark that fails leaves its rows "n/a"
# (not met) and the suite exits 1 after printing the table.
#
# --quick runs every benchmark briefly (one short round each), to check the
# script, not the numbers.
set -euo pipefail

cd "$(dirname "$0")/.."
SUITE_START=$(date +%s%N)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

if [ "${1:-}" = --quick ]; then
    LIFECYCLE_ARGS=(--runs 20 --idle-runs 5)
    CONFIG_ARGS=(--runs 5)
    HTTP_ARGS=(1 2)
    EDGE_ARGS=(1 2)
    GRPC_ARGS=(1 1)
    THRIFT_ARGS=(--rounds 1 --seconds 1)
    QUEUE_NATS_ARGS=(--rounds 1 --items 2000 --submits 1000 --kill-items 1000)
elif [ -n "${1:-}" ]; then
    echo "usage: bash bench/suite.sh [--quick]" >&2
    exit 2
else
    LIFECYCLE_ARGS=(--runs 200 --idle-runs 50)
    CONFIG_ARGS=(--runs 50)
    HTTP_ARGS=(3 8)
    EDGE_ARGS=(3 8)
    GRPC_ARGS=(3 5)
    THRIFT_ARGS=(--rounds 3 --seconds 4)
    QUEUE_NATS_ARGS=(--rounds 3 --items 20000 --submits 5000 --kill-items 5000)
fi
# The counts the NATS rows name: the value after each flag.
nats_arg() {
    local i
    for ((i = 0; i < ${#QUEUE_NATS_ARGS[@]} - 1; i++)); do
        [ "${QUEUE_NATS_ARGS[i]}" = "$1" ] && echo "${QUEUE_NATS_ARGS[i + 1]}"
    done
    return 0
}

LOGS=target/bench-suite
BIN=${CARGO_TARGET_DIR:-target}/release
cargo build --release -p sparts-bench
# On its own: async-nats in the same build changes how the others compile.
cargo build --release -p sparts-bench --features nats --bin queue_nats
BUILT=$(date +%s%N)
mkdir -p "$LOGS"

declare -A R=()
FAILED=()
LOADS=()

# bench NAME CMD...: runs one benchmark, its report on stderr and in
# $LOGS/NAME.log, and reads its last RATIO line into R.
bench() {
    local name=$1; shift
    local log="$LOGS/$name.log" t0 line pair
    t0=$(date +%s%N)
    LOADS+=("$name $(cut -d' ' -f1 /proc/loadavg)")
    echo >&2
    echo "=== $name: $* (${LOADS[-1]#* } load)" >&2
    if ! "$@" 2>&1 | tee "$log" >&2; then
        echo "=== $name FAILED" >&2
        FAILED+=("$name")
    fi
    line=$(grep '^RATIO ' "$log" | tail -1 || true)
    for pair in ${line#RATIO}; do
        R[${pair%%=*}]=${pair#*=}
    done
    echo "=== $name: $(( ($(date +%s%N) - t0) / 1000000000 )) s" >&2
}

bench lifecycle "$BIN/lifecycle" "${LIFECYCLE_ARGS[@]}"
bench config "$BIN/config_load" "${CONFIG_ARGS[@]}"
bench queue "$BIN/queue"
# It runs its own nats-server; without one its rows say so rather than fail.
NATS_MISSING=
if command -v nats-server >/dev/null; then
    bench queue_nats "$BIN/queue_nats" "${QUEUE_NATS_ARGS[@]}"
else
    NATS_MISSING="skipped: nats-server is not installed (apt-get install nats-server)"
    echo "=== queue_nats: $NATS_MISSING" >&2
fi
bench telemetry "$BIN/telemetry"
bench http bash bench/http.sh "${HTTP_ARGS[@]}"
bench http_instr bash bench/http_instructions.sh
bench edge bash bench/edge.sh "${EDGE_ARGS[@]}"
bench grpc "$BIN/grpc_load" "${GRPC_ARGS[@]}"
bench thrift "$BIN/thrift_load" "${THRIFT_ARGS[@]}"
bench thrift_instr bash bench/thrift_instructions.sh

SUITE_END=$(date +%s%N)

# v KEY: the value the benchmarks reported, or empty when missing or not a number.
v() {
    local x=${R[$1]:-}
    [[ $x =~ ^[0-9]+(\.[0-9]+)?$ ]] && echo "$x"
    return 0
}

# num VALUE [DIGITS]: VALUE with thousands separators, DIGITS decimals.
num() {
    [ -n "$1" ] || { echo n/a; return; }
    awk -v x="$1" -v d="${2:-0}" 'BEGIN {
        s = sprintf("%." d "f", x); i = index(s, "."); frac = ""
        if (i) { frac = substr(s, i); s = substr(s, 1, i - 1) }
        while (match(s, /[0-9][0-9][0-9][0-9]/)) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
        print s frac
    }'
}

# met VALUE OP LIMIT [OP2 LIMIT2 VALUE2]: "yes" when VALUE OP LIMIT holds
# (and VALUE2 OP2 LIMIT2), "**no**" otherwise, missing values included.
met() {
    local ok=1
    while [ $# -ge 3 ]; do
        if [ -z "$1" ] || ! awk -v x="$1" -v y="$3" -v op="$2" 'BEGIN {
            exit !((op == ">=" && x >= y) || (op == "<=" && x <= y) || (op == "<" && x < y))
        }'; then ok=0; fi
        shift 3
    done
    if (( ok )); then echo yes; else echo "**no**"; fi
}

# unit VALUE UNIT: "VALUE UNIT", or n/a.
unit() { if [ -n "$1" ]; then echo "$1 $2"; else echo n/a; fi; }

flood_idle=${R[idle_flood_idle]:-1000}
flood_busy=${R[idle_flood_busy]:-8}
if [ "$(v idle_flood_tserver_unanswered)" = 0 ]; then
    tserver_flood="p99 $(unit "$(v idle_flood_tserver_p99_ms)" ms)"
elif [ -n "$(v idle_flood_tserver_unanswered)" ]; then
    tserver_flood="TServer: ${R[idle_flood_tserver_unanswered]} of $flood_busy connections got no answer within ${R[idle_flood_call_timeout_s]:-?} s ($(v idle_flood_tserver_calls) calls answered)"
else
    tserver_flood=n/a
fi
# The SIGTERM row judges the median; a max over the target is said too.
max_met() {
    if [ "$(met "$(v sigterm_exit_max_ms)" '<=' 20)" != yes ]; then echo " (max: **no**)"; fi
}
mb() { if [ -n "$1" ]; then echo "$(num "$1" 2) MB"; else echo n/a; fi; }

# The NATS JetStream rows: A is judged (>= 0.8 of raw async-nats doing the
# same per-item pull and double ack), B and C are reported.
nats_rows() {
    local a b c
    a="QueueTask on NATS JetStream, items/s (4 workers, $(num "$(nats_arg --items)") no-op items from 8 producers; median of $(nats_arg --rounds)) vs raw async-nats: consumer.messages() with its defaults (200 per request), decode, ack"
    b="NATS QueueTask \`submit\` + await, 64 in flight, items/s (p99) vs raw publish + pull + request/reply"
    c="NATS QueueTask, one of two replica processes SIGKILLed at a third of $(num "$(nats_arg --kill-items)") items of 1 ms: from the kill until every item is done (until every item was delivered once)"
    if [ -n "$NATS_MISSING" ]; then
        echo "| $a | $NATS_MISSING | | | ≥ 0.8 | skipped |"
        echo "| $b | $NATS_MISSING | | | — | |"
        echo "| $c | $NATS_MISSING | | | — | |"
        return
    fi
    echo "| $a | $(num "$(v queue_nats_items_per_s)") | $(num "$(v queue_nats_raw_items_per_s)") | $(num "$(v queue_nats_ratio)" 3) | ≥ 0.8 | $(met "$(v queue_nats_ratio)" '>=' 0.8) |"
    echo "| $b | $(num "$(v queue_nats_submit_items_per_s)") ($(unit "$(v queue_nats_submit_p99_ms)" ms)) | $(num "$(v queue_nats_raw_submit_items_per_s)") ($(unit "$(v queue_nats_raw_submit_p99_ms)" ms)) | $(num "$(v queue_nats_submit_ratio)" 3) | — | |"
    echo "| $c | $(unit "$(v queue_nats_kill_recovery_s)" s) ($(unit "$(v queue_nats_kill_drain_s)" s)) | ack wait $(unit "$(v queue_nats_ack_wait_s)" s) | — | — | |"
}

{
    printf 'sparts-rs benchmark suite, %s, %s cores (%s), load average before %s, after %s: `bash bench/suite.sh%s`\n\n' \
        "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" \
        "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
        "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)" "${1:+ $1}"
    echo "| comparison | sparts-rs | baseline | ratio | target | met? |"
    echo "|---|---:|---:|---:|---|:---:|"
    echo "| HTTP hello req/s vs bare axum (wrk -t2 -c64, ${HTTP_ARGS[0]} × ${HTTP_ARGS[1]} s) | $(num "$(v http_rps)") | $(num "$(v http_rps_bare)") | $(num "$(v http_rps_ratio)" 3) | ≥ 0.97 | $(met "$(v http_rps_ratio)" '>=' 0.97) |"
    echo "| HTTP hello user-space instructions per request vs bare axum (callgrind) | $(num "$(v http_instr)") | $(num "$(v http_instr_bare)") | $(num "$(v http_instr_ratio)" 3) | — | |"
    echo "| HTTP hello p99 vs bare axum | $(unit "$(v http_p99_ms)" ms) | $(unit "$(v http_p99_bare_ms)" ms) | $(num "$(v http_p99_ratio)" 3) | ≤ 1.1 | $(met "$(v http_p99_ratio)" '<=' 1.1) |"
    echo "| HTTPS hello req/s vs bare axum + rustls (wrk -t2 -c64 keep-alive, ${EDGE_ARGS[0]} × ${EDGE_ARGS[1]} s) | $(num "$(v https_rps)") | $(num "$(v https_rps_bare)") | $(num "$(v https_ratio)" 3) | ≥ 0.95 | $(met "$(v https_ratio)" '>=' 0.95) |"
    echo "| HTTP/2 hello req/s vs bare axum h2c (h2load -t2 -c32 -m8) | $(num "$(v h2_rps)") | $(num "$(v h2_rps_bare)") | $(num "$(v h2_ratio)" 3) | ≥ 0.95 | $(met "$(v h2_ratio)" '>=' 0.95) |"
    echo "| TLS handshakes/s, a connection per request (wrk -c16, Connection: close) | $(num "$(v handshakes)") | $(num "$(v handshakes_bare)") | $(num "$(v handshakes_ratio)" 3) | reported | |"
    echo "| gRPC SayHello req/s vs bare tonic (64 in flight, 4 connections, ${GRPC_ARGS[0]} × ${GRPC_ARGS[1]} s) | $(num "$(v grpc_rps)") | $(num "$(v grpc_rps_bare)") | $(num "$(v grpc_rps_ratio)" 3) | ≥ 0.97 | $(met "$(v grpc_rps_ratio)" '>=' 0.97) |"
    echo "| gRPC SayHello p99 vs bare tonic | $(unit "$(v grpc_p99_ms)" ms) | $(unit "$(v grpc_p99_bare_ms)" ms) | $(num "$(v grpc_p99_ratio)" 3) | ≤ 1.1 | $(met "$(v grpc_p99_ratio)" '<=' 1.1) |"
    echo "| Thrift getStatus calls/s, 1 connection, vs TServer (64 threads; ${THRIFT_ARGS[1]} × ${THRIFT_ARGS[3]} s) | $(num "$(v thrift_1conn_calls_per_s)") | $(num "$(v thrift_1conn_tserver_calls_per_s)") | $(num "$(v thrift_1conn)" 3) | ≥ 1.0 | $(met "$(v thrift_1conn)" '>=' 1.0) |"
    echo "| Thrift getStatus on 1 connection, per call: process CPU µs (client and server) / cross-CPU wake-up interrupts, vs TServer | $(num "$(v thrift_1conn_cpu_us)" 1) / $(num "$(v thrift_1conn_ipis)" 2) | $(num "$(v thrift_1conn_tserver_cpu_us)" 1) / $(num "$(v thrift_1conn_tserver_ipis)" 2) | — | reported | |"
    echo "| Thrift getStatus, user-space instructions per call (callgrind, 1 connection), vs TServer | $(num "$(v thrift_instr)") | $(num "$(v thrift_instr_tserver)") | $(num "$(v thrift_instr_ratio)" 3) | — | — |"
    echo "| Thrift getStatus calls/s, 64 connections, vs TServer | $(num "$(v thrift_64conn_calls_per_s)") | $(num "$(v thrift_64conn_tserver_calls_per_s)") | $(num "$(v thrift_64conn)" 3) | ≥ 1.0 | $(met "$(v thrift_64conn)" '>=' 1.0) |"
    echo "| Thrift, $flood_busy busy connections beside $(num "$flood_idle") idle ones, p99 | $(unit "$(v idle_flood_p99_ms)" ms) ($(num "$(v idle_flood_calls_per_s)") calls/s) | $tserver_flood | — | < 5 ms | $(met "$(v idle_flood_p99_ms)" '<' 5) |"
    echo "| QueueTask items/s (1 worker, 1M no-op items) vs bare tokio mpsc + oneshot | $(num "$(v queue_items_per_s)") | $(num "$(v queue_bare_items_per_s)") | $(num "$(v queue_ratio)" 3) | ≥ 0.5 and ≥ 500,000/s | $(met "$(v queue_ratio)" '>=' 0.5 "$(v queue_items_per_s)" '>=' 500000) |"
    nats_rows
    echo "| Prometheus counter increment, ns (uncontended / 2 threads on one series) | $(num "$(v counter_ns)" 2) / $(num "$(v counter_2t_ns)" 2) | — | — | ≤ 10 ns uncontended | $(met "$(v counter_ns)" '<=' 10) |"
    echo "| Prometheus histogram observation, ns (uncontended / 2 threads on one series) | $(num "$(v histogram_ns)" 2) / $(num "$(v histogram_2t_ns)" 2) | — | — | ≤ 50 ns uncontended | $(met "$(v histogram_ns)" '<=' 50) |"
    echo "| render 1,000 series on /metrics (counters; 1,000 histograms: $(unit "$(v render_1000_histograms_ms)" ms)) | $(unit "$(v render_1000_counters_ms)" ms) | — | — | ≤ 1 ms | $(met "$(v render_1000_counters_ms)" '<=' 1) |"
    echo "| empty service, start → exit (median of ${LIFECYCLE_ARGS[1]}) | $(unit "$(v empty_exit_ms)" ms) | $(unit "$(v noop_exit_ms)" ms) (no-op Rust program) | — | ≤ 5 ms | $(met "$(v empty_exit_ms)" '<=' 5) |"
    echo "| empty service with a config file, start → exit (median of ${LIFECYCLE_ARGS[1]}) | $(unit "$(v config_exit_ms)" ms) | $(unit "$(v empty_exit_ms)" ms) (without) | — | ≤ 5 ms | $(met "$(v config_exit_ms)" '<=' 5) |"
    echo "| a config file of 1,000 keys, what it adds to a start (median of ${CONFIG_ARGS[1]}) | $(unit "$(v config_1000_keys_ms)" ms) | — | — | ≤ 5 ms | $(met "$(v config_1000_keys_ms)" '<=' 5) |"
    echo "| empty service, peak RSS (max of ${LIFECYCLE_ARGS[1]}) | $(mb "$(v empty_peak_rss_mb)") | $(mb "$(v noop_peak_rss_mb)") (no-op Rust program) | — | ≤ 5 MB | $(met "$(v empty_peak_rss_mb)" '<=' 5) |"
    echo "| idle service, SIGTERM → exit (median / max of ${LIFECYCLE_ARGS[3]}) | $(unit "$(v sigterm_exit_ms)" ms) / $(unit "$(v sigterm_exit_max_ms)" ms) | — | — | ≤ 20 ms | $(met "$(v sigterm_exit_ms)" '<=' 20)$(max_met) |"
    echo
    printf 'Total wall time %s s (build %s s, benchmarks %s s).' \
        "$(( (SUITE_END - SUITE_START) / 1000000000 ))" \
        "$(( (BUILT - SUITE_START) / 1000000000 ))" \
        "$(( (SUITE_END - BUILT) / 1000000000 ))"
    if [ ${#FAILED[@]} -gt 0 ]; then printf ' FAILED: %s.' "${FAILED[*]}"; fi
    printf ' Load average (1 min) as each benchmark started: %s.\n' "$(IFS=,; echo "${LOADS[*]}" | sed 's/,/, /g')"
} | tee target/bench-suite.md

[ ${#FAILED[@]} -eq 0 ]
