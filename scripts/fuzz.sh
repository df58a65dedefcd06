#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ (cargo-fuzz, libFuzzer, AddressSanitizer)
# for SECONDS each, starting from its checked-in corpus under
# fuzz/corpus/<target>; a crash fails the script and leaves its input under
# fuzz/artifacts/<target>/. What a run finds is kept in a scratch copy of
# the corpus, so a run changes nothing checked in.
#
#   scripts/fuzz.sh [SECONDS]     (default 60; CI runs 30)
#
# cargo-fuzz needs nightly's -Z flags; the stable toolchain takes them with
# RUSTC_BOOTSTRAP=1, which this script sets for its own builds only.
# cargo-fuzz is installed from crates.io if missing.
set -euo pipefail
SECS=${1:-60}
cd "$(dirname "$0")/.."

command -v cargo-fuzz >/dev/null || cargo install --locked --quiet cargo-fuzz
export RUSTC_BOOTSTRAP=1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in $(cargo fuzz list --fuzz-dir fuzz); do
    mkdir -p "$scratch/$target"
    cp fuzz/corpus/"$target"/* "$scratch/$target/"
    echo "fuzzing $target for $SECS s"
    if ! cargo fuzz run --fuzz-dir fuzz "$target" "$scratch/$target" -- \
        -max_total_time="$SECS" -rss_limit_mb=1024 -print_final_stats=1 \
        >"$scratch/$target.log" 2>&1; then
        tail -40 "$scratch/$target.log" >&2
        echo "fuzz target $target failed: its input is under fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$scratch/$target.log" || true
done
