#!/usr/bin/env bash
# How much code the canonical examples take, against the original Python
# sparts doing the same things (its README and demo/ files): lines that are
# neither blank nor comments, imports included, `#![...]` lines left out,
# code as rustfmt formats it. Prints a markdown table; exits 1 when an
# example takes more than its limit (about 1.25 times the original's, and
# thrift_fb303 no more than it took already) or the eight together more
# than the original's 110.
#
#   bash scripts/example-lines.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# example, Python sparts' count, the most it may take
examples=(
    "empty_server 2 3"
    "http_hello 5 6"
    "print_clock 9 11"
    "dev_watcher 8 10"
    "producer_consumer 25 31"
    "option_example 26 32"
    "dbus_service 17 21"
    "thrift_fb303 18 14"
)
budget=110
# The foreign loops (the original's glib, Twisted and Tornado tasks had no
# demo of their own): example, the most it may take. Options, imports and
# the loop's own set-up included; the integration itself is a few lines.
# actix_hello binds its socket in `init`, so that a port in use stops the
# start, and hands it to the thread: 10 of its lines.
loops=(
    "glib_loop 30"
    "actix_hello 46"
)
# The examples of this project's own, with no Python count to hold them
# to: example, the most it may take.
others=(
    "tui_demo 24"
)

count() {
    grep -vE '^\s*(//|$)' "$1" | grep -cvE '^\s*#!\['
}

over=0
total=0
python_total=0
echo "| service | Python sparts | sparts-rs | at most |"
echo "|---|---:|---:|---:|"
for row in "${examples[@]}"; do
    read -r name python most <<<"$row"
    lines=$(count "examples/src/bin/$name.rs")
    total=$((total + lines))
    python_total=$((python_total + python))
    mark=""
    if [ "$lines" -gt "$most" ]; then
        mark=" **over**"
        over=1
    fi
    echo "| \`$name\` | $python | $lines$mark | $most |"
done
mark=""
if [ "$total" -gt "$budget" ]; then
    mark=" **over**"
    over=1
fi
echo "| **total** | **$python_total** | **$total**$mark | $budget |"
# Rows of examples held to a limit only: ARRAY_NAME LABEL.
limited() {
    local -n rows=$1
    local row name most lines mark
    for row in "${rows[@]}"; do
        read -r name most <<<"$row"
        lines=$(count "examples/src/bin/$name.rs")
        mark=""
        if [ "$lines" -gt "$most" ]; then
            mark=" **over**"
            over=1
        fi
        echo "| \`$name\`$2 | — | $lines$mark | $most |"
    done
}
limited loops " (foreign loop)"
limited others ""
exit "$over"
