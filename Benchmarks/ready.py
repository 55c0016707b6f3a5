#!/usr/bin/env python3
"""Start a daemon under our own NOTIFY_SOCKET and time exec -> READY=1.

usage: ready.py LOGFILE CMD [ARG...]

Prints "READY <ms> <pid>" once the child sends READY=1, then stays the
child's parent: SIGTERM/SIGINT are forwarded and the child's exit status is
ours. Datagrams are drained for the child's whole life, as systemd does, so
a gateway that reports STATUS= per connection never blocks on a full queue.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    log = open(sys.argv[1], "ab")
    sockdir = tempfile.mkdtemp(prefix="bench-notify-")
    path = os.path.join(sockdir, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    env.pop("WATCHDOG_USEC", None)
    env.pop("LISTEN_FDS", None)

    t0 = time.perf_counter_ns()
    child = subprocess.Popen(sys.argv[2:], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    ready = threading.Event()

    def drain() -> None:
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not ready.is_set() and b"READY=1" in data.split(b"\n"):
                ms = (time.perf_counter_ns() - t0) / 1e6
                print(f"READY {ms:.2f} {child.pid}", flush=True)
                ready.set()

    threading.Thread(target=drain, daemon=True).start()

    def forward(sig, _frame) -> None:
        if child.poll() is None:
            child.send_signal(sig)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)

    deadline = time.monotonic() + float(os.environ.get("READY_TIMEOUT", "20"))
    while not ready.is_set():
        if child.poll() is not None:
            print(f"ready.py: child exited with {child.returncode} before READY=1", file=sys.stderr)
            return 1
        if time.monotonic() > deadline:
            print("ready.py: no READY=1 in time", file=sys.stderr)
            child.kill()
            child.wait()
            return 1
        ready.wait(0.05)
    rc = child.wait()
    sock.close()
    os.unlink(path)
    os.rmdir(sockdir)
    return rc if rc >= 0 else 128 - rc


if __name__ == "__main__":
    sys.exit(main())
