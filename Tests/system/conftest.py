"""Session fixtures for the booted-container suite; other test files reuse them.

`box` is one booted Debian bookworm (systemd-nspawn) with the project's .deb
installed and a user `alice` (linger on, token file written as
`openclaw gateway install` would). Use `box.run(cmd, user=None)` (root) or
`box.run(cmd, user="alice")` (with her XDG_RUNTIME_DIR and user bus, so
`systemctl --user` and `journalctl --user` work). The container is stopped at
the end of the session, also on failure, Ctrl-C, SIGTERM (see container.py).

Environment:
  OPENCLAW_TEST_CACHE   where the debootstrapped rootfs is cached
                        (default /var/cache/openclaw-gateway-tests)
  OPENCLAW_TEST_DEB     test this .deb instead of building one
  OPENCLAW_TEST_ROOT    "copy" to boot a copy of the rootfs instead of an overlay
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from container import Container
from rootfs import ensure_rootfs

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
INSIDE = "/opt/openclaw-tests"  # Tests/system, bound read-only into the container
USER = "alice"
PORT = 18789
URL = f"ws://127.0.0.1:{PORT}"
USER_TOKEN = f"/home/{USER}/.openclaw/gateway.token"
SYSTEM_TOKEN = "/etc/credstore/openclaw-gateway.token"  # root's: the service user cannot replace it

FIGURES: dict[str, str] = {}


def figure(name: str, value) -> None:
    """Record a number for the end-of-run summary (and print it at once)."""
    FIGURES[name] = str(value)
    print(f"[figure] {name}: {value}")


def pytest_sessionstart(session):
    session.config._openclaw_started = time.monotonic()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    started = getattr(config, "_openclaw_started", None)
    if started is not None:
        FIGURES["suite duration"] = f"{time.monotonic() - started:.1f}s"
    if FIGURES:
        terminalreporter.section("openclaw-gateway system figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")


@pytest.fixture(scope="session")
def deb() -> Path:
    given = os.environ.get("OPENCLAW_TEST_DEB")
    if given:
        return Path(given).resolve()
    started = time.monotonic()
    subprocess.run([str(REPO / "packaging/build-deb.sh")], check=True)
    figure("deb build", f"{time.monotonic() - started:.1f}s")
    debs = sorted(glob.glob(str(REPO / "out/openclaw_*_amd64.deb")), key=os.path.getmtime)
    assert debs, "packaging/build-deb.sh produced no out/openclaw_*_amd64.deb"
    return Path(debs[-1])


@pytest.fixture(scope="session")
def newer_deb(box, deb, tmp_path_factory):
    """The installed package's binary packaged again as VERSION+upgrade1, written to
    /root/openclaw-newer.deb in the box (lintian runs on it too); returns (old, new) versions.
    Whoever installs it puts /root/openclaw.deb back afterwards."""
    work = tmp_path_factory.mktemp("upgrade")
    version = box.run("dpkg-query -W -f='${Version}' openclaw").stdout.strip()
    subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "unpacked")], check=True)
    newer = f"{version}+upgrade1"
    env = {"OPENCLAW_BINARY": str(work / "unpacked/usr/bin/openclaw"), "OPENCLAW_VERSION": newer,
           "OPENCLAW_DEB_OUT": str(work / "out")}
    subprocess.run([str(REPO / "packaging/build-deb.sh")], check=True, env={**os.environ, **env})
    path = next((work / "out").glob("openclaw_*.deb"))
    box.write("/root/openclaw-newer.deb", path.read_bytes())
    return version, newer


@pytest.fixture(scope="session")
def rootfs() -> Path:
    started = time.monotonic()
    path = ensure_rootfs(log=print)
    figure("rootfs (debootstrap or cache)", f"{time.monotonic() - started:.1f}s")
    return path


@pytest.fixture(scope="session")
def box(rootfs, deb):
    container = Container(rootfs, binds_ro={str(HERE): INSIDE})
    try:
        started = time.monotonic()
        container.start()
        figure(f"container boot ({container.mode} root)", f"{time.monotonic() - started:.1f}s")
        container.write("/root/openclaw.deb", deb.read_bytes())
        container.run("dpkg -i /root/openclaw.deb", timeout=120)
        container.add_user(USER)
        # What `openclaw gateway install` does before enabling the units: the
        # user unit's LoadCredential= needs the token file.
        container.run("umask 077 && mkdir -p ~/.openclaw && od -An -tx1 -N32 /dev/urandom | tr -d ' \\n' > "
                      f"{USER_TOKEN}", user=USER)
        yield container
    finally:
        container.stop()


def gwclient(box: Container, mode: str, *args, token: str = USER_TOKEN, url: str = URL,
             check: bool = True, timeout: float = 60):
    """Run Tests/system/gwclient.py inside the container; returns the parsed JSON lines."""
    result = box.run(f"python3 {INSIDE}/gwclient.py {mode} {url} {token} {' '.join(map(str, args))}",
                     check=check, timeout=timeout)
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def gwclient_background(box: Container, mode: str, *args, token: str = USER_TOKEN, url: str = URL):
    return box.popen(f"exec python3 {INSIDE}/gwclient.py {mode} {url} {token} {' '.join(map(str, args))}")


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def unit_props(box: Container, unit: str, *props: str, user: str | None = USER) -> dict[str, str]:
    scope = "--user " if user else ""
    out = box.run(f"systemctl {scope}show {unit} " + " ".join(f"-p {p}" for p in props), user=user).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def as_user(box: Container, cmd: str, check: bool = True):
    """`box.run` as alice, with her user manager's environment."""
    return box.run(cmd, user=USER, check=check)


@pytest.fixture
def system_gateway(box):
    """The packaged system units running (port 18789: alice's stay stopped meanwhile)."""
    units = "openclaw-gateway.socket openclaw-gateway.service"
    as_user(box, f"systemctl --user stop {units}", check=False)
    box.run(f"systemctl reset-failed {units}; systemctl start {units}")
    yield
    box.run(f"rm -f /var/lib/openclaw/openclaw.json; systemctl stop {units}", check=False)


@pytest.fixture
def user_gateway(box):
    """alice's packaged user units running (start limit reset); stopped afterwards, her config removed."""
    units = "openclaw-gateway.socket openclaw-gateway.service"
    as_user(box, f"systemctl --user reset-failed {units}", check=False)
    as_user(box, f"systemctl --user start {units}")
    yield
    as_user(box, f"rm -f /home/{USER}/.openclaw/openclaw.json; systemctl --user stop {units}", check=False)
