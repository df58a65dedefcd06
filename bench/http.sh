#!/usr/bin/env bash
# HTTP hello world: sparts' HttpTask (counters and info logging on) against
# a bare axum server, side by side in one run, plus the sparts server's idle
# memory and its SIGTERM-to-exit time.
#
#   bash bench/http.sh [ROUNDS] [SECONDS]     (default: 5 rounds of 10 s)
#
# Each round runs `wrk -t2 -c64 -d<SECONDS>s --latency` against `/` of both
# servers on loopback, one after the other, alternating which goes first.
# The table shows the median of the rounds, and as ratios the median of each
# round's sparts/bare ratio: the two runs of a round see the same machine
# load, so their ratio is steadier than a ratio of medians.
#
# The last line is for scripts: `RATIO http_rps=<sparts> http_rps_bare=<axum>
# http_rps_ratio=<x> http_p99_ms=<sparts> http_p99_bare_ms=<axum>
# http_p99_ratio=<y> http_idle_rss_mb=<z> http_stop_ms=<median>
# http_stop_max_ms=<max>` (MB = 2^20 bytes, as the table).
set -euo pipefail

ROUNDS=${1:-5}
SECS=${2:-10}
cd "$(dirname "$0")/.."

source bench/lib.sh
apt_install wrk wrk
cargo build --release -q -p sparts-bench --bin bare_axum --bin sparts_http_hello

# Idle memory of a fresh sparts server, before any load.
start idle "$BIN/sparts_http_hello" --http-port 0
sleep 0.5
IDLE_RSS_KB=$(awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status")
kill -TERM "$PID"; wait "$PID" || true

start bare "$BIN/bare_axum" 0
BARE_PORT=$PORT
start sparts "$BIN/sparts_http_hello" --http-port 0
SPARTS_PORT=$PORT
SPARTS_PID=$PID

rounds_against_bare "$BARE_PORT" "$SPARTS_PORT"
LOADED_RSS_KB=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SPARTS_PID/status")
kill -TERM "$SPARTS_PID"; wait "$SPARTS_PID" || true

# SIGTERM to exit, no request in flight: fresh servers that served one request.
STOP_MS=()
for _ in 1 2 3 4 5; do
    start stop "$BIN/sparts_http_hello" --http-port 0
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/"
    sleep 0.1
    t0=$(date +%s%N)
    kill -TERM "$PID"
    code=0; wait "$PID" || code=$?
    t1=$(date +%s%N)
    [ "$code" = 0 ] || { echo "sparts_http_hello exited $code after SIGTERM" >&2; exit 1; }
    STOP_MS+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')")
done

BARE_RPS=$(median <"$WORK/bare.rps");     SPARTS_RPS=$(median <"$WORK/sparts.rps")
BARE_P99=$(median <"$WORK/bare.p99");     SPARTS_P99=$(median <"$WORK/sparts.p99")
RATIO_RPS=$(median <"$WORK/ratio.rps");   RATIO_P99=$(median <"$WORK/ratio.p99")
STOP_MED=$(printf '%s\n' "${STOP_MS[@]}" | median)
STOP_MAX=$(printf '%s\n' "${STOP_MS[@]}" | sort -g | tail -1)

awk -v br="$BARE_RPS" -v sr="$SPARTS_RPS" -v bp="$BARE_P99" -v sp="$SPARTS_P99" \
    -v rr="$RATIO_RPS" -v rp="$RATIO_P99" -v idle="$IDLE_RSS_KB" -v loaded="$LOADED_RSS_KB" -v smed="$STOP_MED" -v smax="$STOP_MAX" \
    -v rounds="$ROUNDS" -v secs="$SECS" '
function met(ok) { return ok ? "met" : "MISSED" }
BEGIN {
    printf "\nwrk -t2 -c64 -d%ss --latency, median of %d rounds (ratios: median of the per-round ratios), loopback, %s\n\n", secs, rounds, "'"$(nproc)"' cores"
    print "| measure | sparts HttpTask | bare axum | ratio | target | |"
    print "|---|---|---|---|---|---|"
    printf "| requests/s | %.0f | %.0f | %.3f | >= 0.97 | %s |\n", sr, br, rr, met(rr >= 0.97)
    printf "| p99 latency (ms) | %.2f | %.2f | %.3f | <= 1.1 | %s |\n", sp, bp, rp, met(rp <= 1.1)
    printf "| requests/s vs Python sparts (2,100-2,450) | %.0f | | %.0fx | >= 20x of 2,450 | %s |\n", sr, sr / 2450, met(sr >= 20 * 2450)
    printf "| idle RSS (MB) | %.2f | | | <= 8 | %s |\n", idle / 1024, met(idle / 1024 <= 8)
    printf "| RSS after the load (MB) | %.2f | | | | |\n", loaded / 1024
    printf "| SIGTERM -> exit, median of 5 (ms) | %.2f | | | <= 50 | %s |\n", smed, met(smed <= 50)
    printf "| SIGTERM -> exit, max of 5 (ms) | %.2f | | | <= 50 | %s |\n", smax, met(smax <= 50)
}'
printf '\nRATIO http_rps=%.0f http_rps_bare=%.0f http_rps_ratio=%.3f http_p99_ms=%.2f http_p99_bare_ms=%.2f http_p99_ratio=%.3f http_idle_rss_mb=%.2f http_stop_ms=%.2f http_stop_max_ms=%.2f\n' \
    "$SPARTS_RPS" "$BARE_RPS" "$RATIO_RPS" "$SPARTS_P99" "$BARE_P99" "$RATIO_P99" \
    "$(awk -v k="$IDLE_RSS_KB" 'BEGIN { print k / 1024 }')" "$STOP_MED" "$STOP_MAX"
