"""The packaged system unit is first class for `--system` commands (issue 9 item 3).

The .deb ships openclaw-gateway.{socket,service} in /usr/lib/systemd/system,
running as `openclaw` with its state in /var/lib/openclaw. Root's `--system`
commands must read User=, the state dir and LoadCredential= from the unit over
D-Bus, never look in /root/.openclaw, and never turn it into a root gateway.
"""

from __future__ import annotations

import json

import pytest

from conftest import SYSTEM_TOKEN, USER, gwclient, unit_props, wait_for

SERVICE = "openclaw-gateway.service"
SOCKET = "openclaw-gateway.socket"


@pytest.fixture
def packaged_enabled(box):
    # alice's user units listen on the same port.
    box.run(f"systemctl --user stop {SOCKET} {SERVICE}", user=USER, check=False)
    box.run(f"systemctl reset-failed {SERVICE} {SOCKET}", check=False)
    box.run("rm -rf /root/.openclaw")
    box.run(f"systemctl enable --now {SERVICE}")
    wait_for(lambda: unit_props(box, SERVICE, "SubState", user=None)["SubState"] == "running", 15,
             what="packaged service running")
    yield
    box.run(f"systemctl disable --now {SOCKET} {SERVICE}", check=False)
    box.run(f"rm -f /etc/systemd/system/{SERVICE} /etc/systemd/system/{SOCKET}", check=False)
    box.run("systemctl daemon-reload")


def test_root_commands_find_the_packaged_gateway(box, packaged_enabled):
    r = box.run("openclaw gateway status --system --json", check=False)
    doc = json.loads(r.stdout)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert doc["state"] == "running" and doc["service"]["scope"] == "system", doc
    assert doc["configPath"] == "/var/lib/openclaw/openclaw.json", doc
    assert box.run(f"ps -o user= -p {doc['service']['mainPid']}").stdout.strip() == "openclaw"

    r = box.run("openclaw doctor --system", check=False)
    assert "not installed" not in r.stdout, r.stdout

    pid = unit_props(box, SERVICE, "MainPID", user=None)["MainPID"]
    r = box.run("openclaw doctor --system --fix", check=False)
    assert "not installed" not in r.stdout, r.stdout
    assert box.run(f"ls /etc/systemd/system/{SERVICE}", check=False).returncode != 0, r.stdout  # doctor wrote an override unit
    props = unit_props(box, SERVICE, "User", "MainPID", user=None)
    assert props["User"] == "openclaw", props
    assert box.run(f"ps -o user= -p {props['MainPID']}").stdout.strip() == "openclaw"
    assert props["MainPID"] == pid, "doctor restarted a healthy packaged gateway"
    assert box.run("test -e /root/.openclaw", check=False).returncode != 0, "a --system command wrote root's home"

    # A drifted vendor unit is reported, never shadowed by a rewritten copy in /etc/systemd/system.
    vendor = box.run(f"systemctl show -P FragmentPath {SERVICE}").stdout.strip()
    box.run(f"cp {vendor} /root/vendor.service && sed -i 's/ --bind 127.0.0.1$//' {vendor} && systemctl daemon-reload")
    try:
        r = box.run("openclaw doctor --system --fix", check=False)
        assert "exec-start-drift" in r.stdout and "reinstall the package" in r.stdout, r.stdout
        assert box.run(f"ls /etc/systemd/system/{SERVICE}", check=False).returncode != 0, r.stdout
    finally:
        box.run(f"cp /root/vendor.service {vendor} && systemctl daemon-reload")

    r = box.run("env -u OPENCLAW_STATE_DIR openclaw gateway reload --system", check=False)
    assert r.returncode == 0 and "applied" in r.stdout, (r.stdout, r.stderr)
    assert gwclient(box, "hello", token=SYSTEM_TOKEN)[0]["type"] == "hello-ok"


def test_install_system_without_user_name(box):
    """Without --user-name, install takes the package's `openclaw` account, or refuses saying what to pass."""
    profile, port = "pkgacct", 18931
    unit = f"openclaw-gateway-{profile}.service"
    try:
        box.run(f"openclaw gateway install --system --profile {profile} --port {port}")
        assert "\nUser=openclaw\n" in box.run(f"cat /etc/systemd/system/{unit}").stdout
        pid = wait_for(lambda: int(unit_props(box, unit, "MainPID", user=None)["MainPID"]) or None, 15,
                       what="MainPID")
        assert box.run(f"ps -o user= -p {pid}").stdout.strip() == "openclaw"
        code = box.run(f"openclaw gateway status --system --profile {profile} --json", check=False).returncode
        assert code == 0
    finally:
        box.run(f"openclaw gateway uninstall --system --profile {profile}", check=False)

    # Without the package's account, install refuses and says what to pass (the account is renamed for
    # the check and put back).
    box.run("usermod -l openclaw-away openclaw")
    try:
        r = box.run(f"openclaw gateway install --system --profile {profile} --port {port}", check=False)
        assert r.returncode != 0 and "--user-name" in r.stderr and "root" in r.stderr, r.stderr
        assert box.run(f"ls /etc/systemd/system/{unit}", check=False).returncode != 0
    finally:
        box.run("usermod -l openclaw openclaw-away")
