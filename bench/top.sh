#!/usr/bin/env bash
# What watching a service with sparts-top costs: sparts-top's own CPU and
# memory, refreshing every second against a service with 1,000 counters
# (bench/src/bin/many_counters.rs), and the service's requests/s under
# wrk while it is watched and while it is not.
#
#   bash bench/top.sh [ROUNDS] [SECONDS]     (default: 6 rounds of 10 s)
#
# sparts-top runs in a detached tmux terminal (100x32). Its CPU is its
# user+system time over 30 s (from /proc/PID/stat) divided by the 30 s, its
# memory the peak resident set (VmHWM). What being watched costs the
# service is measured twice: as its own CPU over 30 s watched less 30 s
# with sparts-top paused (SIGSTOP), the load at rest; and as throughput,
# which on a 2-core machine moves more between runs than watching moves
# it. For the throughput, each
# round runs `wrk -t2 -c64 -d<SECONDS>s` against `/` twice, once with
# sparts-top reading and once with it paused (SIGSTOP), alternating which
# goes first; the ratio is the median of the rounds' watched/unwatched.
#
# The last line is for scripts: `RATIO top_cpu_pct=<x> top_rss_mb=<y>
# top_service_cpu_pct=<w> top_rps_ratio=<z>`.
set -euo pipefail

ROUNDS=${1:-6}
SECS=${2:-10}
IDLE_SECS=30
cd "$(dirname "$0")/.."

source bench/lib.sh
apt_install wrk wrk
apt_install tmux tmux
cargo build --release -q -p sparts-bench --bin many_counters
cargo build --release -q -p sparts-tui --bin sparts-top

start service "$BIN/many_counters" --http-port 0
PORT_SERVICE=$PORT
SERVICE_PID=$PID
TMUX_SERVER="sparts-bench-top-$$"
tmux -L "$TMUX_SERVER" -f /dev/null new-session -d -s top -x 100 -y 32 \
    "$BIN/sparts-top http://127.0.0.1:$PORT_SERVICE"
trap 'tmux -L "$TMUX_SERVER" kill-server 2>/dev/null || true; cleanup' EXIT
TOP_PID=
for _ in $(seq 100); do
    TOP_PID=$(pgrep -f "^$BIN/sparts-top http://127.0.0.1:$PORT_SERVICE" || true)
    [ -n "$TOP_PID" ] && break
    sleep 0.05
done
[ -n "$TOP_PID" ] || { echo "sparts-top did not start" >&2; exit 1; }
sleep 3
tmux -L "$TMUX_SERVER" capture-pane -p -t top | grep -q 'Load.c0000' \
    || { echo "sparts-top does not show the counters:" >&2; tmux -L "$TMUX_SERVER" capture-pane -p -t top >&2; exit 1; }

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
# Percent of one core that PID used in a window of IDLE_SECS.
cpu_over_window() {
    local pid=$1 t0 t1
    t0=$(ticks "$pid"); sleep "$IDLE_SECS"; t1=$(ticks "$pid")
    awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v s="$IDLE_SECS" 'BEGIN { printf "%.2f", (b - a) / hz / s * 100 }'
}
s0=$(ticks "$SERVICE_PID")
CPU=$(cpu_over_window "$TOP_PID")
s1=$(ticks "$SERVICE_PID")
kill -STOP "$TOP_PID"
SERVICE_ALONE=$(cpu_over_window "$SERVICE_PID")
kill -CONT "$TOP_PID"
SERVICE_WATCHED=$(awk -v a="$s0" -v b="$s1" -v hz="$HZ" -v s="$IDLE_SECS" 'BEGIN { printf "%.2f", (b - a) / hz / s * 100 }')
SERVICE_COST=$(awk -v w="$SERVICE_WATCHED" -v a="$SERVICE_ALONE" 'BEGIN { printf "%.2f", w - a }')
RSS=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$TOP_PID/status")

wrk -t2 -c64 -d1s "http://127.0.0.1:$PORT_SERVICE/" >/dev/null
echo "round | sparts-top | requests/s"
for round in $(seq "$ROUNDS"); do
    if (( round % 2 )); then order="watched unwatched"; else order="unwatched watched"; fi
    for who in $order; do
        if [ "$who" = watched ]; then kill -CONT "$TOP_PID"; else kill -STOP "$TOP_PID"; fi
        read -r rps _ < <(wrk_run "$PORT_SERVICE" "$WORK/wrk-$who-$round.txt")
        echo "$rps" >>"$WORK/$who.rps"
        echo "$round | $who | $rps"
    done
    awk -v a="$(tail -1 "$WORK/watched.rps")" -v b="$(tail -1 "$WORK/unwatched.rps")" 'BEGIN { print a / b }' >>"$WORK/ratio.rps"
done
kill -CONT "$TOP_PID"
WATCHED=$(median <"$WORK/watched.rps")
UNWATCHED=$(median <"$WORK/unwatched.rps")
RATIO=$(median <"$WORK/ratio.rps")

awk -v cpu="$CPU" -v rss="$RSS" -v sw="$SERVICE_WATCHED" -v sa="$SERVICE_ALONE" -v sc="$SERVICE_COST" -v w="$WATCHED" -v u="$UNWATCHED" -v r="$RATIO" \
    -v rounds="$ROUNDS" -v secs="$SECS" -v idle="$IDLE_SECS" '
function met(ok) { return ok ? "met" : "MISSED" }
BEGIN {
    printf "\nsparts-top every 1 s against 1,000 counters; CPU over %d s; wrk -t2 -c64 -d%ss, median of %d rounds, %s\n\n", idle, secs, rounds, "'"$(nproc)"' cores"
    print "| measure | value | target | |"
    print "|---|---|---|---|"
    printf "| sparts-top CPU (%% of one core) | %.2f | <= 2 | %s |\n", cpu, met(cpu <= 2)
    printf "| sparts-top peak memory (MB) | %.1f | <= 20 | %s |\n", rss, met(rss <= 20)
    printf "| service CPU at rest, watched (%% of one core) | %.2f | | |\n", sw
    printf "| service CPU at rest, not watched | %.2f | | |\n", sa
    printf "| service CPU spent on being watched (%% of one core) | %.2f | | |\n", sc
    printf "| service requests/s, watched | %.0f | | |\n", w
    printf "| service requests/s, not watched | %.0f | | |\n", u
    printf "| watched / not watched | %.3f | >= 0.98 | %s |\n", r, met(r >= 0.98)
    printf "\nRATIO top_cpu_pct=%s top_rss_mb=%s top_service_cpu_pct=%s top_rps_ratio=%.3f\n", cpu, rss, sc, r
}'
