#!/bin/sh
# Regenerates sparts-grpc/src/generated from sparts-grpc/proto with protox
# (no protoc needed). The generator is its own small package, outside the
# workspace, so CI never builds it.
set -eu
cd "$(dirname "$0")/../sparts-grpc/codegen"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-../../target/codegen}" cargo run --quiet
