#!/usr/bin/env bash
# The demo under mixed load for a while: HTTP with wrk, gRPC SayHello and
# Thrift getStatus with bench/src/bin/soak_load.rs, its queue fed by the
# producer, the counters read every second over HTTP, gRPC and Thrift; a
# restart (SIGHUP) every minute. Every 10 s it samples the demo's RSS, open
# fds and threads.
#
#   bash bench/soak.sh [MINUTES]     (default 10)
#
# Reports RSS growth after the first minute, fds and threads at the end
# against the start (both sampled 5 s after a restart), and the load's
# errors: those within 5 s of a restart apart from the rest. Targets over
# 10 minutes: RSS growth at most 5 %, fds and threads back to their start
# values, no error at all, restarts included. A call that provably reached
# no handler (refused at a GOAWAY, or reset unread) is sent again, as
# gRPC's own clients do, and counted apart.
#
# The last line is for scripts: `RATIO soak_minutes=<m> soak_rss_growth_pct=<x>
# soak_fds_start=<a> soak_fds_end=<b> soak_threads_start=<c>
# soak_threads_end=<d> soak_errors=<e> soak_errors_at_restarts=<f>
# soak_wrk_errors=<g> soak_resent=<h>`.
set -euo pipefail

MINUTES=${1:-10}
SECS=$((MINUTES * 60))
cd "$(dirname "$0")/.."

source bench/lib.sh
apt_install wrk wrk
cargo build --release -q -p sparts-examples --bin demo
cargo build --release -q -p sparts-bench --bin soak_load

# Fixed ports: a restart binds them again.
read -r HTTP GRPC THRIFT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
start demo "$BIN/demo" --http-port "$HTTP" --grpc-port "$GRPC" --thrift-port "$THRIFT" \
    --dbus-bus-name "org.sparts.Soak$$" --producer-interval 0.2
DEMO=$PID
for _ in $(seq 200); do grep -q "All tasks started" "$WORK/demo.log" && break; sleep 0.05; done

sample() {
    local rss fds threads
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$DEMO/status")
    threads=$(awk '/^Threads/ { print $2 }' "/proc/$DEMO/status")
    fds=$(ls "/proc/$DEMO/fd" | wc -l)
    echo "$1 $rss $fds $threads" >>"$WORK/samples"
    echo "t=$1 s  RSS ${rss} kB  fds $fds  threads $threads"
}

wrk -t1 -c16 -d"${SECS}s" "http://127.0.0.1:$HTTP/" >"$WORK/wrk.txt" 2>&1 &
WRK=$!
PIDS+=("$WRK")
"$BIN/soak_load" "$HTTP" "$GRPC" "$THRIFT" "$SECS" >"$WORK/load.txt" 2>&1 &
LOAD=$!
PIDS+=("$LOAD")

t0=$(date +%s)
: >"$WORK/restarts"
next_restart=60
while :; do
    sleep 10
    t=$(( $(date +%s) - t0 ))
    (( t >= SECS )) && break
    if (( t >= next_restart )); then
        kill -HUP "$DEMO"
        echo "$t" >>"$WORK/restarts"
        echo "t=$t s  SIGHUP"
        next_restart=$((next_restart + 60))
        sleep 5
        t=$(( $(date +%s) - t0 ))
    fi
    sample "$t"
done
wait "$LOAD" || true
wait "$WRK" || true
kill -0 "$DEMO" || { echo "the demo died:" >&2; tail -20 "$WORK/demo.log" >&2; exit 1; }

# Errors of the load within 5 s after a restart, and the others.
read -r AT_RESTARTS OUTSIDE < <(awk '
    NR == FNR { r[++n] = $1; next }
    /^t=/ { split($1, a, "="); t = a[2]; split($3, b, "="); e = b[2]
            near = 0; for (i = 1; i <= n; i++) if (t >= r[i] && t <= r[i] + 5) near = 1
            if (near) at += e; else out += e }
    END { print at + 0, out + 0 }' "$WORK/restarts" "$WORK/load.txt")
WRK_ERRORS=$(awk '/Socket errors|Non-2xx/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i } END { print s + 0 }' "$WORK/wrk.txt")
OK=$(awk '/^t=/ { split($2, a, "="); s += a[2] } END { print s + 0 }' "$WORK/load.txt")
RESENT=$(awk '/^t=/ { split($4, a, "="); s += a[2] } END { print s + 0 }' "$WORK/load.txt")

awk -v minutes="$MINUTES" -v at="$AT_RESTARTS" -v out="$OUTSIDE" -v wrk="$WRK_ERRORS" -v ok="$OK" -v resent="$RESENT" \
    -v restarts="$(wc -l <"$WORK/restarts")" -v rps="$(awk '/Requests\/sec/ { print $2 }' "$WORK/wrk.txt")" '
function met(ok) { return ok ? "met" : "MISSED" }
{ t[NR] = $1; rss[NR] = $2; fds[NR] = $3; th[NR] = $4 }
END {
    # The first sample at or after one minute is the baseline of growth.
    base = 1; for (i = 1; i <= NR; i++) if (t[i] >= 60) { base = i; break }
    growth = (rss[NR] - rss[base]) / rss[base] * 100
    printf "\nthe demo for %d minutes: wrk -t1 -c16 on / (%.0f req/s), soak_load (gRPC, Thrift, admin reads), %d restarts\n\n", minutes, rps, restarts
    print "| measure | start | end | target | |"
    print "|---|---|---|---|---|"
    printf "| RSS (kB; start: first sample after 1 min) | %d | %d (%+.1f %%) | growth <= 5 %% | %s |\n", rss[base], rss[NR], growth, met(growth <= 5)
    printf "| open fds | %d | %d | back to start | %s |\n", fds[1], fds[NR], met(fds[NR] <= fds[1])
    printf "| threads | %d | %d | back to start | %s |\n", th[1], th[NR], met(th[NR] <= th[1])
    printf "| soak_load calls answered | | %d | | |\n", ok
    printf "| soak_load calls sent again (no server saw the first) | | %d | | |\n", resent
    printf "| soak_load errors, outside restarts | | %d | 0 | %s |\n", out, met(out == 0)
    printf "| soak_load errors, within 5 s of a restart | | %d | 0 | %s |\n", at, met(at == 0)
    printf "| wrk socket errors and non-2xx | | %d | 0 | %s |\n", wrk, met(wrk == 0)
    printf "\nRATIO soak_minutes=%d soak_rss_growth_pct=%.2f soak_fds_start=%d soak_fds_end=%d soak_threads_start=%d soak_threads_end=%d soak_errors=%d soak_errors_at_restarts=%d soak_wrk_errors=%d soak_resent=%d\n", minutes, growth, fds[1], fds[NR], th[1], th[NR], out, at, wrk, resent
}' "$WORK/samples"
grep '^error' "$WORK/load.txt" | head -20 || true
