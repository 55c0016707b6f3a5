#!/usr/bin/env python3
"""The restart row of `make bench`: 1,000 clients through `openclaw gateway restart`.

A restart hands the clients over through systemd's fd store, so it can only be measured
under a real service manager; the benchmark host has none (PID 1 is not systemd). This
boots the system suite's container (Tests/system: cached Debian rootfs, systemd-nspawn),
installs BINARY packaged as a .deb, starts alice's socket-activated user gateway, connects
Tests/system/handover_client.py's 1,000 clients (50 of them keep one `status` in flight)
and restarts the gateway RESTARTS times. Per restart: the time from the restart command to
the first answer from the new process, and the p99 latency of the requests alive across
that window. Prints one table cell on stdout; exit 0 measured with nothing disturbed,
3 measured but clients noticed (closed, lost answers, refused connects), 1 not measured
(the cell says why).

  Benchmarks/restart.py BINARY        (scripts/bench.sh passes its release binary)
  BENCH_RESTART_CLIENTS=1000 BENCH_RESTARTS=3
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SYSTEM = REPO / "Tests/system"
sys.path.insert(0, str(SYSTEM))
from container import Container  # noqa: E402
from rootfs import ensure_rootfs  # noqa: E402
from swarm import Swarm  # noqa: E402

USER = "alice"
TOKEN = f"/home/{USER}/.openclaw/gateway.token"
INSIDE = "/opt/openclaw-tests"
URL = "ws://127.0.0.1:18789"
LOOPING = 50
BASELINE_PER_CLIENT = 20


def log(msg: str) -> None:
    print(f"bench restart: {msg}", file=sys.stderr, flush=True)


class NotMeasured(Exception):
    pass


def package(binary: str, out: Path) -> Path:
    env = {**os.environ, "OPENCLAW_BINARY": binary, "OPENCLAW_DEB_OUT": str(out)}
    r = subprocess.run([str(REPO / "packaging/build-deb.sh")], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise NotMeasured(f"packaging/build-deb.sh failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
    return next(out.glob("openclaw_*.deb"))


def start_gateway(box: Container, deb: Path) -> None:
    box.write("/root/openclaw.deb", deb.read_bytes())
    box.run("dpkg -i /root/openclaw.deb", timeout=120)
    box.add_user(USER)
    box.run("umask 077 && mkdir -p ~/.openclaw && od -An -tx1 -N32 /dev/urandom | tr -d ' \\n' > " + TOKEN
            + " && printf '%s' '{\"gateway\": {\"tickIntervalMs\": 2000}}' > ~/.openclaw/openclaw.json", user=USER)
    box.run("systemctl --user start openclaw-gateway.socket openclaw-gateway.service", user=USER)


def measure(box: Container, clients: int, restarts: int) -> tuple[str, bool]:
    swarm = Swarm(box, INSIDE, URL, clients, LOOPING, TOKEN)
    try:
        # A baseline first: the latency before any restart, to read the restart windows against.
        deadline = time.monotonic() + 60
        while sum(swarm.ask("check")["pids"].values()) < BASELINE_PER_CLIENT * LOOPING:
            if time.monotonic() > deadline:
                raise NotMeasured(f"the {LOOPING} looping clients got under {BASELINE_PER_CLIENT} answers each in 60 s")
            time.sleep(0.05)
        for n in range(1, restarts + 1):
            result, old, new = swarm.restart(f"restart{n}", "openclaw gateway restart", USER)
            if result.returncode != 0:
                raise NotMeasured(f"`openclaw gateway restart` failed: {result.stderr.strip()[:200]}")
            deadline = time.monotonic() + 60
            while True:  # until the new process answered a looping client, or the clients were closed
                check = swarm.ask("check")
                if check["closed"] or check["pids"].get(str(new)):
                    break
                if time.monotonic() > deadline:
                    raise NotMeasured(f"restart {n}: the new process (pid {new}, was {old}) answered nothing in 60 s")
                time.sleep(0.05)
            if check["closed"]:
                break
    finally:
        summary = swarm.finish()
    disturbed = summary["closed_count"] + summary["lost"] + summary["prober"]["refused"] + summary["prober"]["failed"]
    if summary["closed_count"]:
        closed = summary["closed"][0]
        return (f"not measured: restart {len(summary['windows'])} closed {summary['closed_count']} of "
                f"{clients} clients ({closed['code']} {closed['reason']!r}): no hand-over to time", False)
    first = [w["first_new_answer_s"] * 1e3 for w in summary["windows"]]
    p99 = [w["p99_ms"] for w in summary["windows"]]
    cell = (f"first answer from the new process: median {statistics.median(first):.0f} ms "
            f"({' / '.join(f'{v:.0f}' for v in first)}) · p99 across the restart: median "
            f"{statistics.median(p99):.0f} ms (max {max(w['max_ms'] for w in summary['windows']):.0f} ms; "
            f"p99 before the restarts {summary['steady']['p99_ms']} ms) · {summary['closed_count']} closed, "
            f"{summary['lost']} lost of {summary['sent']} requests, {summary['prober']['refused']} refused")
    return cell, disturbed == 0


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    clients = int(os.environ.get("BENCH_RESTART_CLIENTS", "1000"))
    restarts = int(os.environ.get("BENCH_RESTARTS", "3"))
    box = None
    work = Path(tempfile.mkdtemp(prefix="openclaw-bench-restart-"))
    try:
        if os.geteuid() != 0:
            raise NotMeasured("needs root (systemd-nspawn boots the test container)")
        for tool in ("systemd-nspawn", "debootstrap"):
            if shutil.which(tool) is None:
                raise NotMeasured(f"{tool} is missing (apt-get install systemd-container debootstrap)")
        log("packaging the binary")
        deb = package(sys.argv[1], work)
        log("booting the test container")
        box = Container(ensure_rootfs(log=log), binds_ro={str(SYSTEM): INSIDE}, log=log)
        box.start()
        start_gateway(box, deb)
        log(f"{clients} clients, {restarts} restarts")
        cell, undisturbed = measure(box, clients, restarts)
        print(cell)
        return 0 if undisturbed else 3
    except NotMeasured as exc:
        print(f"not measured: {exc}")
        return 1
    except Exception as exc:  # noqa: BLE001 - the table says why instead of a number
        print(f"not measured: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
        return 1
    finally:
        if box is not None:
            box.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
