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
# The scratch directory $WORK and the servers started are cleaned up on exit.

apt_install() {
    command -v "$1" >/dev/null && return 0
    echo "installing $2..." >&2
    apt-get install -y "$2" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "$2" >/dev/null; }
}

BIN=target/release
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
