#!/usr/bin/env python3
"""Cross-language check of the gRPC task: Python's grpcio calls health
Check and lists services by reflection (v1alpha, what grpcio-reflection
speaks) on the grpc_hello example, then stops it with SIGTERM; then calls
health over TLS (ssl_channel_credentials with the test CA), with a client
certificate under mutual TLS.

Usage: scripts/grpc_python_check.py PATH/TO/grpc_hello
Needs: python3 -m pip install grpcio grpcio-health-checking grpcio-reflection
Exits 0 on success; prints a reason and exits 1 otherwise.
"""

import os
import queue
import re
import sys
import threading

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from example_process import running, stop

PATIENCE = 20  # seconds, for any one wait
STARTED = re.compile(r"GrpcTask Server Started on \S+ \(port (\d+)\)")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "examples", "tests", "fixtures", "tls")


def logged_port(child):
    lines = queue.Queue()

    def pump():
        for line in child.stderr:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    # The port is logged when the task binds; health answers SERVING only
    # once every task has started.
    port, seen = None, []
    while True:
        line = lines.get(timeout=PATIENCE)
        match = STARTED.search(line)
        if match:
            port = int(match.group(1))
        if port is not None and "All tasks started" in line:
            return port
        seen.append(line)
        if len(seen) > 100:
            raise RuntimeError(f"no start lines in {seen}")


def main():
    binary = sys.argv[1]
    with running([binary, "--grpc-port", "0"]) as child:
        port = logged_port(child)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for name in ["", "helloworld.Greeter", "sparts.admin.v1.Admin"]:
                reply = health.Check(
                    health_pb2.HealthCheckRequest(service=name), timeout=PATIENCE
                )
                if reply.status != health_pb2.HealthCheckResponse.SERVING:
                    raise RuntimeError(f"health of {name!r}: {reply}")
            services = sorted(ProtoReflectionDescriptorDatabase(channel).get_services())
            want = [
                "grpc.health.v1.Health",
                "grpc.reflection.v1alpha.ServerReflection",
                "helloworld.Greeter",
                "sparts.admin.v1.Admin",
            ]
            if services != want:
                raise RuntimeError(f"reflection listed {services}, want {want}")
        stop(child, "grpc_hello")
    print("grpc python check: health and reflection ok")
    check_tls(binary)


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def check_tls(binary):
    """Health over TLS, the client proving itself with the test client
    certificate (mutual TLS); the server names itself localhost."""
    with running(
        [binary, "--grpc-host", "127.0.0.1", "--grpc-port", "0",
         "--grpc-tls-cert", os.path.join(FIXTURES, "server.pem"),
         "--grpc-tls-key", os.path.join(FIXTURES, "server.key"),
         "--grpc-tls-client-ca", os.path.join(FIXTURES, "ca.pem")]
    ) as child:
        port = logged_port(child)
        credentials = grpc.ssl_channel_credentials(
            root_certificates=fixture("ca.pem"),
            private_key=fixture("client.key"),
            certificate_chain=fixture("client.pem"),
        )
        options = [("grpc.ssl_target_name_override", "localhost")]
        with grpc.secure_channel(f"127.0.0.1:{port}", credentials, options) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            reply = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=PATIENCE)
            if reply.status != health_pb2.HealthCheckResponse.SERVING:
                raise RuntimeError(f"health over TLS: {reply}")
        anonymous = grpc.ssl_channel_credentials(root_certificates=fixture("ca.pem"))
        with grpc.secure_channel(f"127.0.0.1:{port}", anonymous, options) as channel:
            try:
                health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=5
                )
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE:
                    raise RuntimeError(f"without a client certificate: {e.code()}") from e
            else:
                raise RuntimeError("a client without a certificate was served")
        stop(child, "grpc_hello over TLS")
    print("grpc python check: health over mutual TLS ok, no certificate refused")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - any failure is a failed check
        print(f"grpc python check failed: {e!r}", file=sys.stderr)
        sys.exit(1)
