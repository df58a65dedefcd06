# Shared by the bench scripts that run servers as processes: sourced after
# `cd` to the repository root.
#
#   apt_install COMMAND PACKAGE   installs PACKAGE from Debian if COMMAND is missing
#   start NAME CMD...             starts a server logging to $WORK/NAME.log,
#                                 waits for its logged port; sets PID and PORT
#   wrk_run PORT OUT              one `wrk -t2 -c64 -d${SECS}s` run against
#                                 PORT, its report in OUT; prints "rps p99"
#                                 (p99 in ms)
#   median                        the median of the numbers on stdin
#   rounds_against_bare BARE SPARTS
#                                 warms both ports up, then $ROUNDS rounds of
#                                 wrk_run against each, alternating which goes
#                                 first; each run's rps and p99 appended to
#                                 $WORK/{bare,sparts}.{rps,p99}, each round's
#                                 sparts/bare ratios to $WORK/ratio.{rps,p99}
# The scratch directory $WORK and the servers started are cleaned up on exit.

apt_install() {
    command -v "$1" >/dev/null && return 0
    echo "installing $2..." >&2
    apt-get install -y "$2" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "$2" >/dev/null; }
}

BIN=${CARGO_TARGET_DIR:-target}/release
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

start() {
    local name=$1; shift
    # Emptied here, not by the background job's redirection, which may run
    # after the first look below and leave the previous server's port.
    : >"$WORK/$name.log"
    "$@" >>"$WORK/$name.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    PORT=
    for _ in $(seq 200); do
        PORT=$(grep -m1 -o '(port [0-9]*' "$WORK/$name.log" | cut -d' ' -f2 || true)
        [ -n "$PORT" ] && return 0
        sleep 0.02
    done
    echo "$name did not start:" >&2
    cat "$WORK/$name.log" >&2
    exit 1
}

wrk_run() {
    wrk -t2 -c64 -d"${SECS}s" --latency "http://127.0.0.1:$1/" >"$2"
    awk '
        /Requests\/sec:/ { rps = $2 }
        $1 == "99%" {
            v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v)
            if (unit == "us") v /= 1000; else if (unit == "s") v *= 1000
            p99 = v
        }
        END { printf "%s %s\n", rps, p99 }' "$2"
}

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

rounds_against_bare() {
    local bare_port=$1 sparts_port=$2 round who port order rps p99
    # Warm up both (connection pools, page faults).
    wrk -t2 -c64 -d1s "http://127.0.0.1:$bare_port/" >/dev/null
    wrk -t2 -c64 -d1s "http://127.0.0.1:$sparts_port/" >/dev/null
    echo "round | server | requests/s | p99 (ms)"
    for round in $(seq "$ROUNDS"); do
        if (( round % 2 )); then order="bare sparts"; else order="sparts bare"; fi
        for who in $order; do
            port=$bare_port; [ "$who" = sparts ] && port=$sparts_port
            read -r rps p99 < <(wrk_run "$port" "$WORK/wrk-$who-$round.txt")
            echo "$rps" >>"$WORK/$who.rps"
            echo "$p99" >>"$WORK/$who.p99"
            echo "$round | $who | $rps | $p99"
        done
        awk -v a="$(tail -1 "$WORK/sparts.rps")" -v b="$(tail -1 "$WORK/bare.rps")" 'BEGIN { print a / b }' >>"$WORK/ratio.rps"
        awk -v a="$(tail -1 "$WORK/sparts.p99")" -v b="$(tail -1 "$WORK/bare.p99")" 'BEGIN { print a / b }' >>"$WORK/ratio.p99"
    done
}

# callgrind_per NAME N DRIVE CMD...: the user-space instructions per unit of
# work of the server CMD under callgrind. `DRIVE PORT COUNT` does COUNT
# units (requests, calls) on one connection: 200 to warm up, then the
# counters are zeroed, N counted and dumped; the server is then killed.
callgrind_per() {
    local name=$1 n=$2 drive=$3; shift 3
    local out="$WORK/$name.callgrind"
    start "$name" valgrind --tool=callgrind --callgrind-out-file="$out" "$@"
    "$drive" "$PORT" 200
    callgrind_control --zero "$PID" >/dev/null
    "$drive" "$PORT" "$n"
    callgrind_control --dump "$PID" >/dev/null
    kill -KILL "$PID"; wait "$PID" || true
    # The dump after the zeroing is the highest-numbered part.
    local part
    part=$(ls "$out".* | sort -t. -k3 -n | tail -1)
    awk -v n="$n" '/^(summary|totals):/ { print $2 / n; exit }' "$part"
}
