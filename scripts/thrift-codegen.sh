#!/bin/sh
# Regenerates the checked-in Thrift code with Debian's thrift-compiler (0.17):
#   sparts-thrift/idl/fb303.thrift  -> sparts-thrift/src/generated/fb303.rs
#   examples/idl/foobar.thrift      -> examples/src/foobar.rs
# With --check it regenerates into a scratch directory and fails when the
# checked-in files differ (CI runs it that way). Users of the crates never
# need the compiler.
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
check=false
[ "${1:-}" = "--check" ] && check=true
command -v thrift >/dev/null || { echo "thrift-codegen: the thrift compiler is missing (apt-get install thrift-compiler)" >&2; exit 1; }
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
status=0
gen() { # IDL OUTPUT
    thrift --gen rs -out "$scratch" "$root/$1"
    name="$(basename "$1" .thrift)"
    if $check; then
        if ! cmp -s "$scratch/$name.rs" "$root/$2"; then
            echo "thrift-codegen: $2 is not what $1 generates; run scripts/thrift-codegen.sh" >&2
            status=1
        fi
    else
        cp "$scratch/$name.rs" "$root/$2"
    fi
}
gen sparts-thrift/idl/fb303.thrift sparts-thrift/src/generated/fb303.rs
gen examples/idl/foobar.thrift examples/src/foobar.rs
exit $status
