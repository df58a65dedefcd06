#!/usr/bin/env bash
# Every core number of sparts-rs in one command: the lifecycle benchmark
# (start, stop, SIGTERM, memory) and the counters' hot paths.
#
#   bash bench/run.sh [lifecycle options, e.g. --runs 500 --idle-runs 100]
set -euo pipefail

cd "$(dirname "$0")/.."
cargo build --release -p sparts-bench
target/release/lifecycle "$@"
echo
target/release/counters
