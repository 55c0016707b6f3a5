"""The packaged system units: run as the `openclaw` system user, log to the system journal, serve."""

import json

import pytest

from conftest import SYSTEM_TOKEN, USER, gwclient, unit_props, wait_for
from test_user_gateway import descriptor_limits

SERVICE = "openclaw-gateway.service"
SOCKET = "openclaw-gateway.socket"


@pytest.fixture
def system_socket(box):
    # The user units listen on the same port: the package enables neither.
    box.run(f"systemctl --user stop {SOCKET} {SERVICE}", user=USER, check=False)
    box.run(f"systemctl reset-failed {SERVICE} {SOCKET}", check=False)
    box.run(f"systemctl start {SOCKET}")
    yield
    box.run(f"systemctl stop {SOCKET} {SERVICE}", check=False)


def test_package_prepared_system_user_and_token(box):
    assert box.run("getent passwd openclaw").stdout.split(":")[5] == "/var/lib/openclaw"
    assert box.run(f"stat -c '%U %a' {SYSTEM_TOKEN}").stdout.split() == ["root", "600"]
    assert box.run(f"systemctl is-enabled {SOCKET}", check=False).stdout.strip() == "disabled"


def test_system_unit_starts_as_its_user_serves_and_logs(box, system_socket):
    assert unit_props(box, SERVICE, "ActiveState", user=None)["ActiveState"] == "inactive"
    conn_id = gwclient(box, "hello", token=SYSTEM_TOKEN)[0]["server"]["connId"]
    props = wait_for(lambda: (p := unit_props(box, SERVICE, "ActiveState", "SubState", "MainPID", user=None))
                     ["SubState"] == "running" and p, 10, what="system service running")
    assert box.run(f"ps -o user= -p {props['MainPID']}").stdout.strip() == "openclaw"

    def logged():
        out = box.run(f"journalctl -u {SERVICE} -o json --no-pager").stdout
        docs = (json.loads(line) for line in out.splitlines() if line)
        return next((d for d in docs if d.get("OPENCLAW_CONN_ID") == conn_id), None)

    line = wait_for(logged, 10, what="the connection in journalctl -u")
    assert line["_UID"] == box.run("id -u openclaw").stdout.strip()
    text = box.run(f"journalctl -u {SERVICE} --no-pager").stdout
    assert f"{line['SYSLOG_IDENTIFIER']}[{line['_PID']}]: {line['MESSAGE']}" in text, text


def test_system_service_sandbox_is_in_force(box, system_socket):
    gwclient(box, "hello", token=SYSTEM_TOKEN)
    pid = wait_for(lambda: int(unit_props(box, SERVICE, "MainPID", user=None)["MainPID"]), 10, what="MainPID")
    ns = f"nsenter -t {pid} -m"
    assert box.run(f"{ns} touch /usr/.openclaw-probe", check=False).returncode != 0, "ProtectSystem=strict"
    assert box.run(f"{ns} ls -A /home").stdout.strip() == "", "ProtectHome=tmpfs"
    box.run(f"{ns} touch /var/lib/openclaw/.probe && {ns} rm /var/lib/openclaw/.probe")
    assert box.run(f"{ns} ls /dev/vda /dev/mem", check=False).returncode != 0, "PrivateDevices"


def test_system_service_runs_with_a_raised_descriptor_limit(box, system_socket):
    gwclient(box, "hello", token=SYSTEM_TOKEN)
    pid = wait_for(lambda: int(unit_props(box, SERVICE, "MainPID", user=None)["MainPID"]), 10, what="MainPID")
    soft, hard = descriptor_limits(box, pid)
    # 65536, or less where the container itself allows less (its PID 1's hard limit).
    assert soft == hard >= min(65536, descriptor_limits(box, 1)[1]) > 1024, (soft, hard)
