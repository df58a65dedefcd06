"""An example binary as the cross-language checks run it: started with its
log on a pipe, stopped with SIGTERM and expected to exit 0, and killed if
a check fails first, so that no process outlives its check."""

import contextlib
import signal
import subprocess

PATIENCE = 20  # seconds, for any one wait


@contextlib.contextmanager
def running(argv):
    """The process of `argv`, its stderr (the log) on a text pipe."""
    child = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def stop(child, what):
    """Sends SIGTERM to `child` and fails unless it exits 0."""
    child.send_signal(signal.SIGTERM)
    code = child.wait(timeout=PATIENCE)
    if code != 0:
        raise RuntimeError(f"{what} exited {code} after SIGTERM")
