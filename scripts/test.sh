#!/usr/bin/env bash
# The whole test suite: formatting, lints, docs, unit, integration, process
# and doc tests. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
# The canonical examples stay within the original's line counts.
bash scripts/example-lines.sh >/dev/null || { bash scripts/example-lines.sh; exit 1; }
# The facade: core alone and each transport feature alone must build, so a
# user who picks one transport compiles no other.
for features in "" http grpc thrift dbus full otel "http otel" tui; do
    echo "checking sparts with features: ${features:-(none)}"
    cargo check -p sparts --no-default-features ${features:+--features "$features"} --locked --quiet
done
# Core's optional parts (the CPU profiler, the directory watcher,
# OpenTelemetry): none and each alone must build with their tests; clippy
# rather than check, so that a cfg left dangling (an unused import) fails too.
for features in "" cpu-profile watcher otel; do
    echo "checking sparts-core with features: ${features:-(none)}"
    cargo clippy -p sparts-core --no-default-features ${features:+--features "$features"} --all-targets --locked --quiet -- -D warnings
done
# The transports are peers: no transport crate depends on another, and
# thrift or grpc alone compiles no HTTP server (sparts-http, axum) nor the
# Thrift HTTP client (ureq); those come with the `http` feature.
for features in thrift grpc; do
    tree=$(cargo tree -p sparts --no-default-features --features "$features" -e normal \
        --prefix none --locked)
    if found=$(grep -E '^(sparts-http|axum|ureq) ' <<<"$tree"); then
        echo "sparts with only $features resolves:" $(sort -u <<<"$found") >&2
        exit 1
    fi
done
transports=(sparts-http sparts-grpc sparts-thrift sparts-dbus)
# sparts-tui reads the admin model in process or over HTTP with hyper's
# client, and sparts-nats speaks only NATS: no transport crate either.
for crate in sparts-tui sparts-nats; do
    tree=$(cargo tree -p "$crate" -e normal --prefix none --locked)
    for transport in "${transports[@]}"; do
        if grep -q "^$transport " <<<"$tree"; then
            echo "$crate depends on $transport: it depends on sparts-core only" >&2
            exit 1
        fi
    done
done
for transport in "${transports[@]}"; do
    tree=$(cargo tree -p "$transport" --all-features -e normal --prefix none --locked)
    for other in "${transports[@]}"; do
        if [ "$other" != "$transport" ] && grep -q "^$other " <<<"$tree"; then
            echo "$transport depends on $other: transports depend on sparts-core only" >&2
            exit 1
        fi
    done
done
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --locked
# The D-Bus tests need a session bus: dbus-run-session starts a private one
# for the duration of the tests (they skip themselves without it).
# Libraries, integration tests and doc tests; binaries hold no unit tests,
# so their test harnesses (one more link each) are not built. The examples'
# binaries are built all the same: their process tests run them.
session=()
command -v dbus-run-session >/dev/null && session=(dbus-run-session --)
"${session[@]}" cargo test --workspace --all-features --locked --lib --test '*'
cargo test --workspace --all-features --locked --doc
bin="${CARGO_TARGET_DIR:-target}/debug"
# Across languages: Python's grpcio calls health and reflection on the
# grpc_hello example (.ci/run installs the modules).
if python3 -c 'import grpc, grpc_health.v1.health_pb2, grpc_reflection.v1alpha.reflection_pb2' 2>/dev/null; then
    python3 scripts/grpc_python_check.py "$bin/grpc_hello"
else
    echo "skipping the Python gRPC check: python3 -m pip install grpcio grpcio-health-checking grpcio-reflection"
fi
# Across languages: Apache Thrift's Python client calls the thrift_fb303
# example and the demo's multiplexed port (plain and multiplexed), with code Debian's thrift-compiler generates from the same IDL;
# the same compiler checks the checked-in generated Rust is current
# (.ci/run installs both).
if command -v thrift >/dev/null && python3 -c 'import thrift' 2>/dev/null; then
    ./scripts/thrift-codegen.sh --check
    python3 scripts/thrift_python_check.py "$bin/thrift_fb303" "$bin/demo"
else
    echo "skipping the Python Thrift check: apt-get install thrift-compiler; python3 -m pip install thrift"
fi
# The decoders under coverage-guided fuzzing (cargo-fuzz, libFuzzer), each
# target briefly from its checked-in corpus: a new decoder bug fails the
# build. scripts/fuzz.sh installs cargo-fuzz if missing.
bash scripts/fuzz.sh 30
