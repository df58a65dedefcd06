#!/usr/bin/env bash
# The whole test suite: formatting, lints, docs, unit, integration, process
# and doc tests. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --locked
# The D-Bus tests need a session bus: dbus-run-session starts a private one
# for the duration of the tests (they skip themselves without it).
if command -v dbus-run-session >/dev/null; then
    dbus-run-session -- cargo test --workspace --all-features --locked
else
    cargo test --workspace --all-features --locked
fi
