"""Cached Debian bookworm root filesystem for the booted-container tests.

debootstrap takes about a minute and needs the network, so the tree is built
once under ``${OPENCLAW_TEST_CACHE:-/var/cache/openclaw-gateway-tests}`` and
reused; a stamp file keyed on everything that shapes the tree (suite, variant,
package list, the setup steps' version) makes a change rebuild it. Tests never
write to the cached tree: they boot an overlay of it (see ``container.py``).

Run as a script to build or refresh the cache without running the suite.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

SUITE = "bookworm"
VARIANT = "minbase"
PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "dbus-user-session", "libsystemd0",
    "libpam-systemd", "procps", "iproute2", "python3", "python3-websockets",
    # A Node agent backend (V8 needs a sandbox without MemoryDenyWriteExecute).
    "nodejs",
)
# Bump when _prepare() changes what it writes into the tree.
SETUP_VERSION = "3"


def cache_dir() -> Path:
    return Path(os.environ.get("OPENCLAW_TEST_CACHE", "/var/cache/openclaw-gateway-tests"))


def stamp_key() -> str:
    text = "\n".join([SUITE, VARIANT, SETUP_VERSION, *PACKAGES])
    return hashlib.sha256(text.encode()).hexdigest()


def _prepare(root: Path) -> None:
    """Make the tree boot fast and quietly inside nspawn with a private network."""
    (root / "etc/hostname").write_text("openclaw-test\n")
    # No getty/console login prompts and no network waiting in a --private-network box.
    for unit in ("console-getty.service", "getty@tty1.service", "systemd-networkd-wait-online.service"):
        link = root / "etc/systemd/system" / unit
        if not link.exists() and not link.is_symlink():
            link.symlink_to("/dev/null")
    # Persistent storage: journald splits per-user journal files only there, and
    # `journalctl --user` as a normal user reads nothing else. Tests run on an
    # overlay, so the cached tree keeps no logs. No rate limit: tests log bursts.
    conf = root / "etc/systemd/journald.conf.d"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "openclaw-test.conf").write_text("[Journal]\nStorage=persistent\nRateLimitBurst=0\n")
    # apt caches are dead weight in a tree that is never upgraded.
    shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)


def ensure_rootfs(log=print) -> Path:
    """Return the cached root filesystem, building it first when missing or stale."""
    base = cache_dir()
    base.mkdir(parents=True, exist_ok=True)
    # Keyed by content: branches with different package lists keep their own
    # tree instead of rebuilding one under each other's running containers.
    name = f"rootfs-{SUITE}-{stamp_key()[:12]}"
    root = base / name
    stamp = base / f"{name}.stamp"
    with open(base / ".lock", "w") as lock:
        # Another run (another engineer, CI) may be building the same cache.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if root.is_dir() and stamp.is_file() and stamp.read_text().strip() == stamp_key():
            return root
        if shutil.which("debootstrap") is None:
            subprocess.run(["apt-get", "install", "-y", "debootstrap"], check=True)
        started = time.monotonic()
        log(f"building {root} with debootstrap (cache miss)")
        tmp = base / f"{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        stamp.unlink(missing_ok=True)
        subprocess.run(
            ["debootstrap", f"--variant={VARIANT}", "--include=" + ",".join(PACKAGES),
             SUITE, str(tmp), "http://deb.debian.org/debian"],
            check=True, stdout=subprocess.DEVNULL,
        )
        _prepare(tmp)
        shutil.rmtree(root, ignore_errors=True)
        tmp.rename(root)
        stamp.write_text(stamp_key() + "\n")
        log(f"rootfs built in {time.monotonic() - started:.1f}s")
        return root


if __name__ == "__main__":
    print(ensure_rootfs(), file=sys.stdout)
