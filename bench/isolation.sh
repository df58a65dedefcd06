#!/usr/bin/env bash
# What a runtime of its own buys a CPU-bound task: HTTP hello's latency
# under wrk with no such task (none), with it on a runtime of its own of one
# worker thread (TaskSpec::runtime) at niceness 19 (niced) and at 0
# (dedicated), and with it on the service's runtime (TaskSpec::task,
# shared), one server after the other, alternating; the others are
# stopped (SIGSTOP) while one is measured.
#
#   bash bench/isolation.sh [ROUNDS] [SECONDS] [BURN_MS]
#                                   (default: 5 rounds of 5 s, 20 ms)
#
# The CPU task computes for BURN_MS between yields. The table gives each
# server's median requests/s and p99 over the rounds, and each p99 against
# the server without the CPU task, and the p99 of one connection's
# requests (wrk -t1 -c1), the latency a probe sees. Target: with the task on its own
# runtime, p99 within 1.2 times that of the server without it. wrk runs
# on the same machine: on 2 cores every core is busy, and the kernel gives
# a thread at niceness 0 its share whatever runtime it belongs to.
#
# The last line is for scripts: `RATIO isolation_p99_none_ms=<a>
# isolation_p99_niced_ms=<b> isolation_p99_dedicated_ms=<c>
# isolation_p99_shared_ms=<d> isolation_niced_ratio=<b/a>
# isolation_dedicated_ratio=<c/a> isolation_shared_ratio=<d/a>`.
set -euo pipefail

ROUNDS=${1:-5}
SECS=${2:-5}
export BURN_MS=${3:-20}
cd "$(dirname "$0")/.."

source bench/lib.sh
apt_install wrk wrk
cargo build --release -q -p sparts-bench --bin http_beside_cpu

MODES=(none niced dedicated shared)
declare -A PORTS=() SERVER=()
for mode in "${MODES[@]}"; do
    if [ "$mode" = niced ]; then
        CPU_TASK=dedicated start "$mode" "$BIN/http_beside_cpu" --http-port 0 --cpu-nice 19
    else
        CPU_TASK=$mode start "$mode" "$BIN/http_beside_cpu" --http-port 0
    fi
    PORTS[$mode]=$PORT
    SERVER[$mode]=$PID
    # One at a time: a CPU task of one server would load the others' runs.
    kill -STOP "$PID"
done

# p99 in ms of one connection's requests one after the other: the latency
# a probe or an admin call sees, with the server not saturated.
one_connection_p99() {
    wrk -t1 -c1 -d"${SECS}s" --latency "http://127.0.0.1:$1/" | awk '
        $1 == "99%" {
            v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v)
            if (unit == "us") v /= 1000; else if (unit == "s") v *= 1000
            print v
        }'
}

echo "round | CPU task | requests/s | p99 (ms) | p99, one connection (ms)"
for round in $(seq "$ROUNDS"); do
    for i in 0 1 2 3; do
        mode=${MODES[$(( (i + round) % 4 ))]}
        pid=${SERVER[$mode]}
        kill -CONT "$pid"
        sleep 0.2
        read -r rps p99 < <(wrk_run "${PORTS[$mode]}" "$WORK/wrk-$mode-$round.txt")
        one=$(one_connection_p99 "${PORTS[$mode]}")
        kill -STOP "$pid"
        echo "$rps" >>"$WORK/$mode.rps"
        echo "$p99" >>"$WORK/$mode.p99"
        echo "$one" >>"$WORK/$mode.one"
        echo "$round | $mode | $rps | $p99 | $one"
    done
done

declare -A RPS=() P99=() ONE=()
for mode in "${MODES[@]}"; do
    RPS[$mode]=$(median <"$WORK/$mode.rps")
    P99[$mode]=$(median <"$WORK/$mode.p99")
    ONE[$mode]=$(median <"$WORK/$mode.one")
done
for pid in "${PIDS[@]}"; do kill -CONT "$pid" 2>/dev/null || true; done

echo
echo "wrk -t2 -c64 -d${SECS}s --latency, median of $ROUNDS rounds, $(nproc) cores, the CPU task yielding every $BURN_MS ms"
echo
echo "| CPU task | requests/s | p99 (ms) | p99 vs none | p99, one connection (ms) | vs none |"
echo "|---|---|---|---|---|---|"
for mode in "${MODES[@]}"; do
    awk -v m="$mode" -v r="${RPS[$mode]}" -v p="${P99[$mode]}" -v n="${P99[none]}" -v o="${ONE[$mode]}" -v on="${ONE[none]}" \
        'BEGIN { printf "| %s | %.0f | %.2f | %.2f | %.3f | %.2f |\n", m, r, p, p / n, o, o / on }'
done
awk -v n="${P99[none]}" -v i="${P99[niced]}" -v d="${P99[dedicated]}" -v s="${P99[shared]}" \
    -v on="${ONE[none]}" -v oi="${ONE[niced]}" -v od="${ONE[dedicated]}" -v os="${ONE[shared]}" 'BEGIN {
    printf "\nRATIO isolation_p99_none_ms=%.2f isolation_p99_niced_ms=%.2f isolation_p99_dedicated_ms=%.2f isolation_p99_shared_ms=%.2f isolation_niced_ratio=%.2f isolation_dedicated_ratio=%.2f isolation_shared_ratio=%.2f", n, i, d, s, i / n, d / n, s / n
    printf " isolation_one_p99_none_ms=%.3f isolation_one_p99_niced_ms=%.3f isolation_one_p99_dedicated_ms=%.3f isolation_one_p99_shared_ms=%.3f\n", on, oi, od, os
}'
