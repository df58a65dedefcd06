#!/usr/bin/env bash
# The whole test suite: formatting, lints, docs, unit, integration, process
# and doc tests. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --locked
cargo test --workspace --all-features --locked
