"""`openclaw gateway install --system` as root (RUNBOOK U5): a system unit in
/etc/systemd/system that runs as alice, driven over the system bus.

Uses profile "sys" on its own port, so the packaged system unit
(openclaw-gateway, user openclaw, port 18789) that test_system_unit.py drives
is not touched.
"""

from __future__ import annotations

import json

import pytest

from conftest import USER, gwclient

PROFILE, PORT = "sys", 18900
UNIT = f"openclaw-gateway-{PROFILE}"
TOKEN = f"/etc/credstore/{UNIT}.token"  # root's: systemd reads it as root
FLAGS = f"--system --profile {PROFILE}"


@pytest.fixture(scope="module", autouse=True)
def clean_system_profile(box):
    box.run(f"openclaw gateway uninstall {FLAGS}", check=False)
    yield
    box.run(f"openclaw gateway uninstall {FLAGS}", check=False)


def status(box) -> tuple[int, dict]:
    r = box.run(f"openclaw gateway status --json {FLAGS}", check=False)
    return r.returncode, json.loads(r.stdout)


def test_system_install_status_uninstall(box):
    code, doc = status(box)
    assert code == 3, doc

    r = box.run(f"openclaw gateway install {FLAGS} --user-name {USER} --port {PORT}")
    assert f"/etc/systemd/system/{UNIT}.service" in r.stdout
    unit = box.run(f"cat /etc/systemd/system/{UNIT}.service").stdout
    assert f"\nUser={USER}\n" in unit and "\nWantedBy=multi-user.target\n" in unit
    assert box.run(f"stat -c '%a %U' {TOKEN}").stdout.split() == ["600", "root"]
    assert box.run(f"stat -c '%a %U' /home/{USER}/.openclaw-{PROFILE}").stdout.split() == ["700", USER]
    assert box.run(f"systemctl is-enabled {UNIT}.socket").stdout.strip() == "enabled"
    assert gwclient(box, "hello", url=f"ws://127.0.0.1:{PORT}", token=TOKEN)[0]["type"] == "hello-ok"

    code, doc = status(box)
    assert code == 0 and doc["service"]["scope"] == "system", doc
    pid = doc["service"]["mainPid"]
    assert box.run(f"ps -o user= -p {pid}").stdout.strip() == USER
    # Without --system, status still finds the system unit (upstream called it "not installed").
    r = box.run(f"openclaw gateway status --json --profile {PROFILE}", check=False)
    assert r.returncode == 0 and json.loads(r.stdout)["service"]["scope"] == "system"

    box.run(f"openclaw gateway restart {FLAGS}")
    assert status(box)[1]["service"]["mainPid"] != pid

    box.run(f"openclaw gateway uninstall {FLAGS}")
    assert box.run(f"ls /etc/systemd/system | grep {UNIT}", check=False).stdout == ""
    assert status(box)[0] == 3
