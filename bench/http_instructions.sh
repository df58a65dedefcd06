#!/usr/bin/env bash
# HTTP hello world, counted in instructions: the user-space instructions
# each server executes per request, sparts' HttpTask (everything on:
# counters, the request histogram, route labels) against bare axum, under
# valgrind's callgrind. Unlike requests/s under wrk, which move by ±5 % on
# a busy 2-core machine, the counts are the same from run to run, so they
# show a change of 1 % in the request path.
#
#   bash bench/http_instructions.sh [REQUESTS]     (default 2000)
#
# Each server runs under callgrind, answers 200 requests to warm up (the
# counters are then zeroed), then REQUESTS requests of `GET /` on one
# keep-alive connection from Python's http.client, and dumps its counts.
# Requests/s also pays for the kernel's loopback and for the client, which
# this does not count: a gap here is a smaller gap under wrk.
#
# The last line is for scripts: `RATIO http_instr=<sparts>
# http_instr_bare=<axum> http_instr_ratio=<x>` (instructions per request).
set -euo pipefail

REQUESTS=${1:-2000}
cd "$(dirname "$0")/.."

source bench/lib.sh
apt_install valgrind valgrind
cargo build --release -q -p sparts-bench --bin bare_axum --bin sparts_http_hello

# requests PORT N: N requests of `GET /` on one connection.
requests() {
    python3 - "$1" "$2" <<'EOF'
import http.client, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
for _ in range(n):
    conn.request("GET", "/")
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        sys.exit(f"GET / answered {response.status}")
EOF
}

BARE=$(callgrind_per bare "$REQUESTS" requests "$BIN/bare_axum" 0)
SPARTS=$(callgrind_per sparts "$REQUESTS" requests "$BIN/sparts_http_hello" --http-port 0)
RATIO=$(awk -v a="$SPARTS" -v b="$BARE" 'BEGIN { printf "%.3f", a / b }')

printf '\nuser-space instructions per request of GET / (callgrind, %d requests on one connection)\n\n' "$REQUESTS"
echo "| server | instructions per request |"
echo "|---|---|"
printf '| bare axum | %.0f |\n| sparts HttpTask | %.0f |\n| ratio | %s |\n' "$BARE" "$SPARTS" "$RATIO"
printf '\nRATIO http_instr=%.0f http_instr_bare=%.0f http_instr_ratio=%s\n' "$SPARTS" "$BARE" "$RATIO"
