#!/usr/bin/env bash
# The cost of OpenTelemetry on HTTP hello, side by side under the load of
# bench/http.sh: sparts' HttpTask (sparts_http_hello) built without the
# `otel` feature ("off"), built with it but no endpoint ("idle"), and built
# with it exporting every request's span (--otel-sampler always_on) over
# OTLP/gRPC to a local sink on the same machine ("on";
# bench/src/bin/otlp_sink.rs counts what it receives).
#
#   bash bench/otel.sh [ROUNDS] [SECONDS]     (default: 3 rounds of 8 s)
#
# Each round runs `wrk -t2 -c64 -d<SECONDS>s --latency` against `/` of the
# three servers, one after the other, rotating which goes first. The table
# shows medians of the rounds, and as ratios the median of each round's
# idle/off and on/off ratios. The sink shares the machine's cores with the
# server it receives from, as a local collector or agent would. The spans
# the sink received are set against the requests the "on" server counted:
# what the batch processor's bounded queue could not hold was dropped.
#
# The last line is for scripts: `RATIO otel_off_rps=<r> otel_idle_rps=<r>
# otel_on_rps=<r> otel_idle_ratio=<x> otel_on_ratio=<y> otel_off_p99_ms=<p>
# otel_on_p99_ms=<p> otel_spans=<n> otel_requests=<n>`.
set -euo pipefail

ROUNDS=${1:-3}
SECS=${2:-8}
cd "$(dirname "$0")/.."

source bench/lib.sh
apt_install wrk wrk
# One binary per feature set: the second build replaces the first's.
cargo build --release -q -p sparts-bench --bin sparts_http_hello
cp "$BIN/sparts_http_hello" "$WORK/hello_off"
cargo build --release -q -p sparts-bench --features otel --bin sparts_http_hello --bin otlp_sink
cp "$BIN/sparts_http_hello" "$WORK/hello_otel"

start sink "$BIN/otlp_sink" 0
SINK_PID=$PID
SINK_PORT=$PORT
start off "$WORK/hello_off" --http-port 0
OFF_PORT=$PORT
start idle "$WORK/hello_otel" --http-port 0
IDLE_PORT=$PORT
start on "$WORK/hello_otel" --http-port 0 \
    --otel-endpoint "http://127.0.0.1:$SINK_PORT" --otel-protocol grpc --otel-sampler always_on
ON_PORT=$PORT
ON_PID=$PID

for port in "$OFF_PORT" "$IDLE_PORT" "$ON_PORT"; do
    wrk -t2 -c64 -d1s "http://127.0.0.1:$port/" >/dev/null
done

echo "round | server | requests/s | p99 (ms)"
for round in $(seq "$ROUNDS"); do
    case $(( round % 3 )) in
        1) order="off idle on" ;;
        2) order="idle on off" ;;
        0) order="on off idle" ;;
    esac
    for who in $order; do
        case $who in off) port=$OFF_PORT ;; idle) port=$IDLE_PORT ;; on) port=$ON_PORT ;; esac
        read -r rps p99 < <(wrk_run "$port" "$WORK/wrk-$who-$round.txt")
        echo "$rps" >>"$WORK/$who.rps"
        echo "$p99" >>"$WORK/$who.p99"
        echo "$round | $who | $rps | $p99"
    done
    for who in idle on; do
        awk -v a="$(tail -1 "$WORK/$who.rps")" -v b="$(tail -1 "$WORK/off.rps")" 'BEGIN { print a / b }' >>"$WORK/ratio-$who.rps"
    done
done

# The requests the exporting server counted, then its spans flushed at its
# shutdown, then what the sink received.
REQUESTS=$(curl -sf "http://127.0.0.1:$ON_PORT/admin/counters?filter=^HttpTask.requests$" \
    | sed -E 's/.*: *([0-9]+)(\.[0-9]*)?[^0-9]*$/\1/')
kill -TERM "$ON_PID"; wait "$ON_PID" || true
kill -TERM "$SINK_PID"; wait "$SINK_PID" || true
SPANS=$(grep -o 'SINK spans=[0-9]*' "$WORK/sink.log" | cut -d= -f2)
DROPPED=$(grep -o 'dropped_span_count=[0-9]*' "$WORK/on.log" | cut -d= -f2 || true)

OFF_RPS=$(median <"$WORK/off.rps");   OFF_P99=$(median <"$WORK/off.p99")
IDLE_RPS=$(median <"$WORK/idle.rps"); IDLE_P99=$(median <"$WORK/idle.p99")
ON_RPS=$(median <"$WORK/on.rps");     ON_P99=$(median <"$WORK/on.p99")
IDLE_RATIO=$(median <"$WORK/ratio-idle.rps")
ON_RATIO=$(median <"$WORK/ratio-on.rps")

printf '\nwrk -t2 -c64 -d%ss --latency, median of %d rounds (ratios: median of the per-round ratios), loopback, %s cores\n\n' \
    "$SECS" "$ROUNDS" "$(nproc)"
echo "| sparts_http_hello | requests/s | p99 (ms) | ratio to off |"
echo "|---|---:|---:|---:|"
printf '| without the otel feature (off) | %.0f | %.2f | 1 |\n' "$OFF_RPS" "$OFF_P99"
printf '| otel feature, no endpoint (idle) | %.0f | %.2f | %.3f |\n' "$IDLE_RPS" "$IDLE_P99" "$IDLE_RATIO"
printf '| otel feature, always_on, OTLP/gRPC to a local sink (on) | %.0f | %.2f | %.3f |\n' "$ON_RPS" "$ON_P99" "$ON_RATIO"
printf '\nspans received by the sink: %s of %s requests counted by the "on" server (dropped at its queue: %s)\n' \
    "${SPANS:-?}" "${REQUESTS:-?}" "${DROPPED:-0}"
printf '\nRATIO otel_off_rps=%.0f otel_idle_rps=%.0f otel_on_rps=%.0f otel_idle_ratio=%.3f otel_on_ratio=%.3f otel_off_p99_ms=%.2f otel_on_p99_ms=%.2f otel_spans=%s otel_requests=%s\n' \
    "$OFF_RPS" "$IDLE_RPS" "$ON_RPS" "$IDLE_RATIO" "$ON_RATIO" "$OFF_P99" "$ON_P99" "${SPANS:-0}" "${REQUESTS:-0}"
