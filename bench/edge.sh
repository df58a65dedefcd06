#!/usr/bin/env bash
# The network edge: sparts' HttpTask against a bare axum server built the
# way a hand-written edge server is (hyper-util's auto builder, rustls with
# the same configuration: ring, ALPN h2 and http/1.1), side by side:
#
#   HTTPS          wrk -t2 -c64 over TLS, keep-alive: requests/s
#   HTTP/2         h2load -t2 -c32 -m8 in clear, prior knowledge: requests/s
#   handshakes     wrk -t2 -c16 over TLS with `Connection: close`: a fresh
#                  connection, so a full TLS handshake, per request
#
#   bash bench/edge.sh [ROUNDS] [SECONDS]     (default: 3 rounds of 8 s)
#
# Each round runs both servers in turn, alternating which goes first; the
# table shows the medians, and as ratios the median of each round's
# sparts/bare ratio. The certificate is the tests' (examples/tests/fixtures/tls).
# wrk and h2load (Debian's wrk and nghttp2-client) are installed if missing.
#
# The last line is for scripts: `RATIO https_rps=.. https_rps_bare=..
# https_ratio=.. h2_rps=.. h2_rps_bare=.. h2_ratio=.. handshakes=..
# handshakes_bare=.. handshakes_ratio=..`.
set -euo pipefail

ROUNDS=${1:-3}
SECS=${2:-8}
cd "$(dirname "$0")/.."

source bench/lib.sh
apt_install wrk wrk
apt_install h2load nghttp2-client
cargo build --release -q -p sparts-bench --bin bare_axum_edge --bin sparts_http_hello

TLS=examples/tests/fixtures/tls
start bare_tls "$BIN/bare_axum_edge" 0 "$TLS/server.pem" "$TLS/server.key"
BARE_TLS=$PORT
start sparts_tls "$BIN/sparts_http_hello" --http-host 127.0.0.1 --http-port 0 \
    --http-tls-cert "$TLS/server.pem" --http-tls-key "$TLS/server.key"
SPARTS_TLS=$PORT
start bare_h2c "$BIN/bare_axum_edge" 0
BARE_H2C=$PORT
start sparts_h2c "$BIN/sparts_http_hello" --http-host 127.0.0.1 --http-port 0
SPARTS_H2C=$PORT

# measure KIND PORT: one run's requests/s.
measure() {
    local out="$WORK/$1-$2-$RANDOM.txt"
    case $1 in
        https)
            wrk -t2 -c64 -d"${SECS}s" "https://127.0.0.1:$2/" >"$out"
            awk '/Requests\/sec:/ { print $2 }' "$out" ;;
        handshakes)
            wrk -t2 -c16 -d"${SECS}s" -H "Connection: close" "https://127.0.0.1:$2/" >"$out"
            awk '/Requests\/sec:/ { print $2 }' "$out" ;;
        h2)
            h2load -t2 -c32 -m8 -D "$SECS" "http://127.0.0.1:$2/" >"$out"
            grep -q "0 failed, 0 errored" "$out" || { cat "$out" >&2; exit 1; }
            awk '/^finished in/ { gsub(",", ""); print $4 }' "$out" ;;
    esac
}

for kind in https h2 handshakes; do
    case $kind in
        https|handshakes) bare=$BARE_TLS; sparts=$SPARTS_TLS ;;
        h2) bare=$BARE_H2C; sparts=$SPARTS_H2C ;;
    esac
    # Warm up (sessions, page faults).
    SECS=1 measure "$kind" "$bare" >/dev/null
    SECS=1 measure "$kind" "$sparts" >/dev/null
    for round in $(seq "$ROUNDS"); do
        if (( round % 2 )); then order="bare sparts"; else order="sparts bare"; fi
        for who in $order; do
            port=$bare; [ "$who" = sparts ] && port=$sparts
            rps=$(measure "$kind" "$port")
            echo "$rps" >>"$WORK/$kind.$who"
            echo "$kind round $round: $who $rps requests/s" >&2
        done
        awk -v a="$(tail -1 "$WORK/$kind.sparts")" -v b="$(tail -1 "$WORK/$kind.bare")" \
            'BEGIN { print a / b }' >>"$WORK/$kind.ratio"
    done
done

row() { median <"$WORK/$1.$2"; }
awk -v hs="$(row https sparts)" -v hb="$(row https bare)" -v hr="$(row https ratio)" \
    -v ts="$(row h2 sparts)" -v tb="$(row h2 bare)" -v tr="$(row h2 ratio)" \
    -v ks="$(row handshakes sparts)" -v kb="$(row handshakes bare)" -v kr="$(row handshakes ratio)" \
    -v rounds="$ROUNDS" -v secs="$SECS" -v cores="$(nproc)" '
function met(ok) { return ok ? "met" : "MISSED" }
BEGIN {
    printf "\nmedian of %d rounds of %d s (ratios: median of the per-round ratios), loopback, %s cores\n\n", rounds, secs, cores
    print "| measure | sparts HttpTask | bare axum | ratio | target | |"
    print "|---|---|---|---|---|---|"
    printf "| HTTPS requests/s (wrk -c64, keep-alive) | %.0f | %.0f | %.3f | >= 0.95 | %s |\n", hs, hb, hr, met(hr >= 0.95)
    printf "| HTTP/2 requests/s (h2load -c32 -m8, h2c) | %.0f | %.0f | %.3f | >= 0.95 | %s |\n", ts, tb, tr, met(tr >= 0.95)
    printf "| TLS handshakes/s (a connection per request) | %.0f | %.0f | %.3f | reported | |\n", ks, kb, kr
    printf "\nRATIO https_rps=%.0f https_rps_bare=%.0f https_ratio=%.3f h2_rps=%.0f h2_rps_bare=%.0f h2_ratio=%.3f handshakes=%.0f handshakes_bare=%.0f handshakes_ratio=%.3f\n", hs, hb, hr, ts, tb, tr, ks, kb, kr
}'
