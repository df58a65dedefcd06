#!/usr/bin/env bash
# The Python client's figure: fb303 getStatus in a loop on ONE framed binary
# connection from Apache Thrift's Python library, against sparts'
# ThriftServerTask and against the thrift crate's TServer serving the same
# handler. The original Python sparts, through this client, did about 2,300
# to 3,000 getStatus calls/s on one connection.
#
#   bash bench/thrift_python.sh [ROUNDS] [SECONDS]     (default: 3 rounds of 5 s)
#
# Needs `thrift` (Debian's thrift-compiler) and the `thrift` Python package:
# both are installed if missing. Each round runs the client with
# TBinaryProtocol and with TBinaryProtocolAccelerated (the C extension
# fastbinary, when the package has it) against both servers in turn,
# alternating which goes first; the table shows the medians.
set -euo pipefail

ROUNDS=${1:-3}
SECS=${2:-5}
cd "$(dirname "$0")/.."

source bench/lib.sh
apt_install thrift thrift-compiler
python3 -c 'import thrift' 2>/dev/null || pip install -q thrift
cargo build --release -q -p sparts-bench --bin thrift_fb303_server

mkdir "$WORK/gen-py"
thrift --gen py -out "$WORK/gen-py" sparts-thrift/idl/fb303.thrift

start sparts "$BIN/thrift_fb303_server" --thrift-host 127.0.0.1 --thrift-port 0
SPARTS_PORT=$PORT
start tserver "$BIN/thrift_fb303_server" --tserver --thrift-port 0
TSERVER_PORT=$PORT

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

FAST=no
echo "round | protocol | server | calls/s"
for round in $(seq "$ROUNDS"); do
    if (( round % 2 )); then order="sparts tserver"; else order="tserver sparts"; fi
    for protocol in binary accelerated; do
        for who in $order; do
            port=$SPARTS_PORT; [ "$who" = tserver ] && port=$TSERVER_PORT
            out=$(python3 bench/thrift_python_client.py "$WORK/gen-py" "$port" "$protocol" "$SECS")
            read -r rate FAST <<<"$out"
            echo "$rate" >>"$WORK/$who-$protocol.rate"
            echo "$round | $protocol | $who | $rate"
        done
    done
done

echo
echo "Python thrift $(python3 -c 'import importlib.metadata as m; print(m.version("thrift"))') client (TSocket + TFramedTransport), getStatus on one connection, median of $ROUNDS rounds of ${SECS} s, $(nproc) cores"
echo
echo "| client protocol | sparts ThriftServerTask | thrift TServer | sparts/TServer | sparts vs original (2,300-3,000) |"
echo "|---|---|---|---|---|"
for protocol in binary accelerated; do
    s=$(median <"$WORK/sparts-$protocol.rate")
    t=$(median <"$WORK/tserver-$protocol.rate")
    label=TBinaryProtocol
    [ "$protocol" = accelerated ] && label="TBinaryProtocolAccelerated (fastbinary: $FAST)"
    awk -v l="$label" -v s="$s" -v t="$t" 'BEGIN { printf "| %s | %.0f | %.0f | %.3f | %.1fx of 3,000 |\n", l, s, t, s / t, s / 3000 }'
done
