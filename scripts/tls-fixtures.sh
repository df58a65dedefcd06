#!/usr/bin/env bash
# Writes the TLS test fixtures in examples/tests/fixtures/tls: a CA, two
# server certificates for 127.0.0.1 and localhost (the second for the
# rotation test), a client certificate for mutual TLS, and a key that
# matches none of them. Valid for a century, so the checked-in files do not
# expire under the tests; run again (openssl) to renew or change them.
#
#   bash scripts/tls-fixtures.sh
set -euo pipefail
cd "$(dirname "$0")/../examples/tests/fixtures/tls"
DAYS=36500
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ec ca.key
openssl req -x509 -new -key ca.key -sha256 -days $DAYS -subj "/CN=sparts-rs test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.pem

# sign NAME CN EXTENDED-KEY-USAGE [SAN]
sign() {
    ec "$1.key"
    openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature"
        echo "extendedKeyUsage=$3"
        [ -n "${4:-}" ] && echo "subjectAltName=$4"
    } > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days $DAYS \
        -sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    rm "$1.csr" "$1.ext"
}
sign server localhost serverAuth "IP:127.0.0.1,DNS:localhost"
sign rotated localhost serverAuth "IP:127.0.0.1,DNS:localhost"
sign client sparts-test-client clientAuth
ec stray.key
# Only the CA's certificate is needed by the tests; its key and serial go.
rm -f ca.key ca.srl
