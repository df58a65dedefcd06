#!/usr/bin/env bash
# Thrift getStatus on one connection, counted in instructions: the
# user-space instructions each server executes per call, sparts'
# ThriftServerTask against the thrift crate's TServer serving the same
# fb303 handler, under valgrind's callgrind. Calls/s on one connection is a
# round trip through the kernel and moves by ±10 % on a busy 2-core
# machine; the counts are the same from run to run, so they show where a
# server's own time goes.
#
#   bash bench/thrift_instructions.sh [CALLS]     (default 5000)
#
# Each server (bench/src/bin/thrift_fb303_server.rs, with and without
# --tserver; sparts with --thrift-busy-poll 0) runs under callgrind, answers 200 calls to warm up (the
# counters are then zeroed), then CALLS framed binary getStatus calls on
# one connection from a small Python client, and dumps its counts. TServer
# zeroes a 4 KiB buffer per reply with memset, which callgrind counts as
# many cheap instructions: compare the two as a guide, and calls/s
# (thrift_load) as the measure.
#
# The last line is for scripts: `RATIO thrift_instr=<sparts>
# thrift_instr_tserver=<TServer> thrift_instr_ratio=<x>` (per call).
set -euo pipefail

CALLS=${1:-5000}
cd "$(dirname "$0")/.."

source bench/lib.sh
apt_install valgrind valgrind
cargo build --release -q -p sparts-bench --bin thrift_fb303_server

# calls PORT N: N getStatus calls, framed strict binary, on one connection.
calls() {
    python3 - "$1" "$2" <<'PY'
import socket, struct, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
conn = socket.create_connection(("127.0.0.1", port), timeout=60)
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
name = b"getStatus"
def exact(k):
    data = b""
    while len(data) < k:
        more = conn.recv(k - len(data))
        if not more:
            sys.exit("the server closed the connection")
        data += more
    return data
for seq in range(n):
    body = struct.pack(">iI", -2147418111, len(name)) + name + struct.pack(">i", seq) + b"\0"
    conn.sendall(struct.pack(">I", len(body)) + body)
    (length,) = struct.unpack(">I", exact(4))
    reply = exact(length)
    if reply[:4] != b"\x80\x01\x00\x02":
        sys.exit(f"getStatus answered {reply[:16]!r}")
PY
}

# Busy polling off: it spends the wait for the next call polling, which
# callgrind would count as the call's work (and slows 50-fold, past the
# real-time budget the polling keeps to).
SPARTS=$(callgrind_per sparts "$CALLS" calls "$BIN/thrift_fb303_server" --thrift-host 127.0.0.1 --thrift-port 0 --thrift-busy-poll 0)
# TServer cannot stop: it goes with its process, as every server here does.
TSERVER=$(callgrind_per tserver "$CALLS" calls "$BIN/thrift_fb303_server" --tserver --thrift-port 0)
RATIO=$(awk -v a="$SPARTS" -v b="$TSERVER" 'BEGIN { printf "%.3f", a / b }')

printf '\nuser-space instructions per getStatus call (callgrind, %d calls on one connection)\n\n' "$CALLS"
echo "| server | instructions per call |"
echo "|---|---|"
printf '| thrift TServer | %.0f |\n| sparts ThriftServerTask | %.0f |\n| ratio | %s |\n' "$TSERVER" "$SPARTS" "$RATIO"
printf '\nRATIO thrift_instr=%.0f thrift_instr_tserver=%.0f thrift_instr_ratio=%s\n' "$SPARTS" "$TSERVER" "$RATIO"
