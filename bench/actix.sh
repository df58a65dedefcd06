#!/usr/bin/env bash
# actix-web hello world: the `actix_hello` example (an actix-web server as a
# sparts task, on its own thread, beside an HttpTask) against a bare
# actix-web server, side by side in one run. Both keep actix's default
# worker count (one per available CPU), so they serve on the same threads.
#
#   bash bench/actix.sh [ROUNDS] [SECONDS]     (default: 5 rounds of 10 s)
#
# Each round runs `wrk -t2 -c64 -d<SECONDS>s --latency` against `/` of both
# servers on loopback, one after the other, alternating which goes first.
# The table shows the median of the rounds, and as ratios the median of each
# round's sparts/bare ratio: the two runs of a round see the same machine
# load, so their ratio is steadier than a ratio of medians.
#
# The last line is for scripts: `RATIO actix_rps=<sparts> actix_rps_bare=<bare>
# actix_rps_ratio=<x> actix_p99_ms=<sparts> actix_p99_bare_ms=<bare>
# actix_p99_ratio=<y>`.
set -euo pipefail

ROUNDS=${1:-5}
SECS=${2:-10}
cd "$(dirname "$0")/.."

source bench/lib.sh
apt_install wrk wrk
cargo build --release -q -p sparts-bench --bin bare_actix
cargo build --release -q -p sparts-examples --features actix --bin actix_hello

start bare "$BIN/bare_actix" 0
BARE_PORT=$PORT
start sparts "$BIN/actix_hello" --actix-port 0 --http-port 0
SPARTS_PID=$PID
# The example logs two ports; the actix task's comes first (tasks bind in
# registration order), but name it rather than trust the order.
SPARTS_PORT=$(grep -m1 -o 'Actix Server Started on .* (port [0-9]*' "$WORK/sparts.log" | grep -o '[0-9]*$')

rounds_against_bare "$BARE_PORT" "$SPARTS_PORT"

# SIGTERM to exit of the loaded server: actix's graceful stop, no request
# in flight.
t0=$(date +%s%N)
kill -TERM "$SPARTS_PID"
code=0; wait "$SPARTS_PID" || code=$?
t1=$(date +%s%N)
[ "$code" = 0 ] || { echo "actix_hello exited $code after SIGTERM" >&2; exit 1; }
STOP_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')

BARE_RPS=$(median <"$WORK/bare.rps");     SPARTS_RPS=$(median <"$WORK/sparts.rps")
BARE_P99=$(median <"$WORK/bare.p99");     SPARTS_P99=$(median <"$WORK/sparts.p99")
RATIO_RPS=$(median <"$WORK/ratio.rps");   RATIO_P99=$(median <"$WORK/ratio.p99")

awk -v br="$BARE_RPS" -v sr="$SPARTS_RPS" -v bp="$BARE_P99" -v sp="$SPARTS_P99" \
    -v rr="$RATIO_RPS" -v rp="$RATIO_P99" -v stop="$STOP_MS" -v rounds="$ROUNDS" -v secs="$SECS" '
function met(ok) { return ok ? "met" : "MISSED" }
BEGIN {
    printf "\nwrk -t2 -c64 -d%ss --latency, median of %d rounds (ratios: median of the per-round ratios), loopback, %s\n\n", secs, rounds, "'"$(nproc)"' cores"
    print "| measure | sparts actix_hello | bare actix-web | ratio | target | |"
    print "|---|---|---|---|---|---|"
    printf "| requests/s | %.0f | %.0f | %.3f | >= 0.97 | %s |\n", sr, br, rr, met(rr >= 0.97)
    printf "| p99 latency (ms) | %.2f | %.2f | %.3f | | |\n", sp, bp, rp
    printf "| SIGTERM -> exit after the load (ms) | %.2f | | | | |\n", stop
}'
printf '\nRATIO actix_rps=%.0f actix_rps_bare=%.0f actix_rps_ratio=%.3f actix_p99_ms=%.2f actix_p99_bare_ms=%.2f actix_p99_ratio=%.3f\n' \
    "$SPARTS_RPS" "$BARE_RPS" "$RATIO_RPS" "$SPARTS_P99" "$BARE_P99" "$RATIO_P99"
