"""fb303 getStatus in a loop on ONE framed binary connection, as a Python
sparts client would call a service: the client of bench/thrift_python.sh.

    python3 bench/thrift_python_client.py GEN_DIR PORT binary|accelerated SECONDS

GEN_DIR holds `thrift --gen py` output of sparts-thrift/idl/fb303.thrift.
Prints `<calls/s> <fastbinary: yes|no>`.
"""
import sys
import time

gen_dir, port, protocol, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
sys.path.insert(0, gen_dir)

from thrift.protocol import TBinaryProtocol  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402
from sparts.fb303 import FacebookService  # noqa: E402
from sparts.fb303.ttypes import fb_status  # noqa: E402

try:
    from thrift.protocol import fastbinary  # noqa: F401
    FAST = "yes"
except ImportError:
    FAST = "no"

transport = TTransport.TFramedTransport(TSocket.TSocket("127.0.0.1", port))
if protocol == "accelerated":
    proto = TBinaryProtocol.TBinaryProtocolAccelerated(transport)
else:
    proto = TBinaryProtocol.TBinaryProtocol(transport)
client = FacebookService.Client(proto)

# The server may still be binding: retry for a few seconds.
deadline = time.monotonic() + 5
while True:
    try:
        transport.open()
        break
    except TTransport.TTransportException:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.02)

assert client.getStatus() == fb_status.ALIVE

# Warm-up, then the measured loop.
end = time.perf_counter() + 0.5
while time.perf_counter() < end:
    client.getStatus()
calls = 0
start = time.perf_counter()
end = start + seconds
while True:
    client.getStatus()
    calls += 1
    now = time.perf_counter()
    if now >= end:
        break
transport.close()
print(f"{calls / (now - start):.0f} {FAST}")
