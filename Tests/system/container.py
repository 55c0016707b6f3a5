"""A booted Debian under systemd-nspawn that always goes away again.

The host has no systemd as PID 1, so the container is started with
``--register=no --keep-unit``. Its root is an overlay over the cached rootfs
(the cache is never written), with a plain copy as the fallback where
overlayfs cannot be mounted. The container's PID 1 is found among the
descendants of the nspawn process this object started, never by name: other
engineers' containers may be running on the same host.

Every container registers itself so that atexit and SIGTERM/SIGHUP tear it
down even when pytest's own finalizers do not get to run.
"""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

_LIVE: set["Container"] = set()


def _stop_all() -> None:
    for container in list(_LIVE):
        container.stop()


def _on_signal(signum, _frame):
    _stop_all()
    # Let pytest and atexit unwind the rest, then exit with the signal's code.
    raise SystemExit(128 + signum)


atexit.register(_stop_all)
for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


class CommandFailed(AssertionError):
    pass


def _inside_env() -> dict[str, str]:
    """The host's environment minus OPENCLAW_*: nsenter and runuser pass it into the box, where a
    host's OPENCLAW_GATEWAY_TOKEN (scripts/bench.sh exports one) would be the CLI's secret."""
    return {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}


def _status_field(pid: int, field: str) -> str | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ppid = _status_field(int(entry), "PPid")
            if ppid is not None:
                children.setdefault(int(ppid), []).append(int(entry))
    found, queue = [], [root]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


class Container:
    def __init__(self, rootfs: Path, *, binds_ro: dict[str, str] | None = None, log=print):
        self.rootfs = rootfs
        self.binds_ro = binds_ro or {}
        self.log = log
        self.name = f"ocgw-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=os.environ.get("OPENCLAW_TEST_TMP")))
        self.root = self.workdir / "root"
        self.console_log = self.workdir / "console.log"
        self.mode = ""
        self.nspawn: subprocess.Popen | None = None
        self.pid1: int | None = None
        self._overlay_mounted = False

    # -- lifecycle ---------------------------------------------------------

    def _make_root(self) -> None:
        upper, work = self.workdir / "upper", self.workdir / "work"
        for d in (self.root, upper, work):
            d.mkdir()
        opts = f"lowerdir={self.rootfs},upperdir={upper},workdir={work}"
        if os.environ.get("OPENCLAW_TEST_ROOT") != "copy" and subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", opts, str(self.root)],
            stderr=subprocess.DEVNULL,
        ).returncode == 0:
            self._overlay_mounted = True
            self.mode = "overlay"
            return
        subprocess.run(["cp", "-a", "--reflink=auto", f"{self.rootfs}/.", str(self.root)], check=True)
        self.mode = "copy"

    def start(self, timeout: float = 60) -> "Container":
        _LIVE.add(self)
        started = time.monotonic()
        self._make_root()
        prepared = time.monotonic()
        cmd = [
            "systemd-nspawn", "-q", "-D", str(self.root), "-M", self.name,
            "--boot", "--register=no", "--keep-unit", "--private-network",
            "--console=pipe",
        ]
        cmd += [f"--bind-ro={host}:{inside}" for host, inside in self.binds_ro.items()]
        console = open(self.console_log, "wb")
        self.nspawn = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT)
        console.close()
        deadline = time.monotonic() + timeout
        while self.pid1 is None:
            if self.nspawn.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited {self.nspawn.returncode}: {self.console_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError("container PID 1 not found")
            for pid in _descendants(self.nspawn.pid):
                nspid = (_status_field(pid, "NSpid") or "").split()
                if len(nspid) > 1 and nspid[-1] == "1":
                    self.pid1 = pid
                    break
            else:
                time.sleep(0.05)
        state = ""
        while time.monotonic() < deadline:
            state = self.run("systemctl is-system-running --wait", check=False, timeout=timeout).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(0.2)
        if state == "degraded":
            self.log("container degraded:\n" + self.run("systemctl --failed --no-legend", check=False).stdout)
        elif state != "running":
            raise RuntimeError(f"container did not boot ({state!r}): {self.console_tail()}")
        self.log(f"container {self.name} ({self.mode} root {prepared - started:.2f}s) "
                 f"booted in {time.monotonic() - prepared:.1f}s, PID 1 = {self.pid1}")
        return self

    def stop(self) -> None:
        """Idempotent: poweroff, then SIGKILL what is left; unmount and remove the root."""
        if self not in _LIVE:
            return
        _LIVE.discard(self)
        if self.nspawn is not None and self.nspawn.poll() is None:
            self.nspawn.terminate()  # nspawn asks the container's systemd to power off
            try:
                self.nspawn.wait(timeout=15)
            except subprocess.TimeoutExpired:
                if self.pid1 is not None:
                    try:
                        os.kill(self.pid1, signal.SIGKILL)  # takes the whole PID namespace down
                    except ProcessLookupError:
                        pass
                self.nspawn.kill()
                self.nspawn.wait(timeout=15)
        if self._overlay_mounted:
            for _ in range(50):
                if subprocess.run(["umount", str(self.root)], stderr=subprocess.DEVNULL).returncode == 0:
                    break
                time.sleep(0.1)
            else:
                subprocess.run(["umount", "-l", str(self.root)])
            self._overlay_mounted = False
        shutil.rmtree(self.workdir, ignore_errors=True)

    def console_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.console_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- running commands inside -------------------------------------------

    def run(self, cmd: str, *, user: str | None = None, check: bool = True, timeout: float = 60,
            input: str | None = None) -> subprocess.CompletedProcess:
        """Run a shell command inside the container, as root or as `user` with its user manager's env."""
        result = subprocess.run(self._argv(cmd, user), capture_output=True, text=True, timeout=timeout, input=input,
                                env=_inside_env())
        if check and result.returncode != 0:
            raise CommandFailed(
                f"{'as ' + user if user else 'as root'}: {cmd}\nexit {result.returncode}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}")
        return result

    def popen(self, cmd: str, *, user: str | None = None, **kwargs) -> subprocess.Popen:
        """Start a long-running command inside (for clients that run during a test), as root or `user`."""
        return subprocess.Popen(self._argv(cmd, user), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=_inside_env(), **kwargs)

    def _argv(self, cmd: str, user: str | None) -> list[str]:
        """nsenter into every namespace of the container; as `user`, with its user manager's env."""
        assert self.pid1 is not None, "container not started"
        if user is not None:
            uid = self.uid(user)
            inner = ["runuser", "-u", user, "--", "env", f"XDG_RUNTIME_DIR=/run/user/{uid}",
                     f"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/{uid}/bus", "sh", "-c", cmd]
        else:
            inner = ["sh", "-c", cmd]
        return ["nsenter", "-t", str(self.pid1), "-a", "-w", *inner]

    def host_pid(self, pid: int) -> int:
        """The host's pid of the container's process `pid` (for host tools such as strace)."""
        assert self.nspawn is not None, "container not started"
        for candidate in _descendants(self.nspawn.pid):
            nspid = (_status_field(candidate, "NSpid") or "").split()
            if len(nspid) > 1 and nspid[1] == str(pid):
                return candidate
        raise LookupError(f"no process {pid} in container {self.name}")

    def uid(self, user: str) -> int:
        return int(self.run(f"id -u {shlex.quote(user)}").stdout)

    def write(self, path: str, data: str | bytes, mode: int = 0o644) -> None:
        """Write a file into the container's root from the host (not under its /tmp or /run mounts)."""
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)
        target.chmod(mode)

    def add_user(self, user: str, linger: bool = True, timeout: float = 30) -> int:
        """Create `user`; with linger, wait until its user manager and bus are up."""
        self.run(f"id {user} >/dev/null 2>&1 || useradd -m -s /bin/bash {user}")
        uid = self.uid(user)
        if linger:
            self.run(f"loginctl enable-linger {user}")
            deadline = time.monotonic() + timeout
            while True:
                r = self.run(f"systemctl is-active user@{uid}.service && test -S /run/user/{uid}/bus", check=False)
                if r.returncode == 0:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"user@{uid} did not start: {r.stdout}{r.stderr}")
                time.sleep(0.1)
            self.run("systemctl --user is-system-running --wait", user=user, check=False, timeout=timeout)
        return uid
