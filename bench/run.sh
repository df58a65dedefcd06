#!/usr/bin/env bash
# Every benchmark of sparts-rs in one command: the lifecycle (start, stop,
# SIGTERM, memory), the counters' hot paths, and the built-in tasks
# (periodic drift, directory-watcher latency, queue throughput).
#
#   bash bench/run.sh [lifecycle options, e.g. --runs 500 --idle-runs 100]
set -euo pipefail

cd "$(dirname "$0")/.."
cargo build --release -p sparts-bench
for bench in lifecycle counters periodic watcher queue telemetry; do
    [ -x "target/release/$bench" ] || continue
    echo
    case "$bench" in
        lifecycle) target/release/lifecycle "$@" ;;
        periodic) target/release/periodic --repeat 3 ;;
        watcher) target/release/watcher --files 200 ;;
        *) "target/release/$bench" ;;
    esac
done
