"""`openclaw gateway install|status|start|stop|restart|uninstall` and `openclaw doctor`
as alice against her real user manager (RUNBOOK S1–S14, U1–U4).

The tests run in file order and share alice's units: each leaves the default
profile installed and running for the next, and the module's fixture
uninstalls everything at the end, so the packaged vendor units that the later
modules drive with systemctl are visible again.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from conftest import USER, USER_TOKEN, figure, gwclient, wait_for

HOME = f"/home/{USER}"
UNIT_DIR = f"{HOME}/.config/systemd/user"
SERVICE, SOCKET = "openclaw-gateway.service", "openclaw-gateway.socket"
LEGACY = f"{UNIT_DIR}/clawdbot-gateway.service"


def cli(box, args: str, check: bool = False):
    return box.run(f"openclaw {args}", user=USER, check=check)


def status_json(box, args: str = "") -> tuple[int, dict]:
    r = cli(box, f"gateway status --json {args}")
    return r.returncode, json.loads(r.stdout)


def mtimes(box) -> str:
    return box.run(f"stat -c '%Y %n' {UNIT_DIR}/{SERVICE} {UNIT_DIR}/{SOCKET}", user=USER).stdout


@pytest.fixture(scope="module", autouse=True)
def clean_user_units(box):
    """Start from nothing (the vendor units stopped, no install) and leave nothing behind."""
    box.run(f"systemctl --user stop {SOCKET} {SERVICE}; systemctl --user reset-failed", user=USER, check=False)
    cli(box, "gateway uninstall")
    yield
    cli(box, "gateway uninstall --profile work")
    cli(box, "gateway uninstall")
    box.run(f"rm -rf {LEGACY} {UNIT_DIR}/{SERVICE}.d {HOME}/.openclaw/openclaw.json; "
            "systemctl --user daemon-reload", user=USER, check=False)


def test_status_when_not_installed(box):
    code, doc = status_json(box)
    assert code == 3 and doc["state"] == "not-installed", doc
    assert doc["service"]["installed"] is False and doc["rpc"]["ok"] is False
    assert doc["configPath"] == f"{HOME}/.openclaw/openclaw.json"
    text = cli(box, "gateway status")
    assert text.returncode == 3 and "not installed" in text.stdout


def test_install_from_nothing_serves(box):
    started = time.monotonic()
    r = cli(box, "gateway install", check=True)
    figure("gateway install (user, from nothing → hello-ok)", f"{time.monotonic() - started:.2f}s")
    assert "Installed" in r.stdout and f"{UNIT_DIR}/{SOCKET}" in r.stdout
    assert box.run(f"systemctl --user is-active {SOCKET}", user=USER).stdout.strip() == "active"
    assert box.run(f"systemctl --user is-enabled {SOCKET}", user=USER).stdout.strip() == "enabled"
    assert gwclient(box, "hello")[0]["type"] == "hello-ok"
    unit = box.run(f"cat {UNIT_DIR}/{SERVICE}", user=USER).stdout
    assert "\nExecStart=/usr/bin/openclaw gateway --port 18789 --bind 127.0.0.1\n" in unit
    assert "\nLoadCredential=gateway-token:" + USER_TOKEN + "\n" in unit

    code, doc = status_json(box)
    assert code == 0 and doc["state"] == "running", doc
    assert doc["rpc"]["ok"] and doc["rpc"]["version"] and doc["service"]["listen"] == ["127.0.0.1:18789"]
    assert doc["service"]["activeState"] == "active" and doc["service"]["mainPid"]
    text = cli(box, "gateway status")
    print(text.stdout)
    print(json.dumps(doc, indent=2))
    assert text.returncode == 0 and "Service" in text.stdout and "RPC" in text.stdout

    times = []
    for _ in range(5):
        t = time.monotonic()
        box.run("openclaw gateway status --json >/dev/null", user=USER)
        times.append(time.monotonic() - t)
    figure("status --json wall time (best of 5, incl. nsenter)", f"{min(times) * 1000:.0f} ms")


def test_install_again_is_a_noop(box):
    before = mtimes(box)
    time.sleep(1.1)  # mtime has one-second resolution in `stat -c %Y`
    r = cli(box, "gateway install", check=True)
    assert "already installed" in r.stdout
    assert mtimes(box) == before


def test_force_after_port_change_serves_new_port(box):
    box.run(f"printf '{{\"gateway\":{{\"port\":18790}}}}' > {HOME}/.openclaw/openclaw.json", user=USER)
    try:
        cli(box, "gateway install --force", check=True)
        assert gwclient(box, "hello", url="ws://127.0.0.1:18790")[0]["type"] == "hello-ok"
        code, doc = status_json(box)
        assert code == 0 and doc["probeTarget"] == "ws://127.0.0.1:18790"
    finally:
        box.run(f"rm -f {HOME}/.openclaw/openclaw.json", user=USER)
        cli(box, "gateway install --force", check=True)
    assert gwclient(box, "hello")[0]["type"] == "hello-ok"


def test_stop_start_restart(box):
    r = cli(box, "gateway stop", check=True)
    assert box.run(f"systemctl --user is-active {SOCKET} {SERVICE}", user=USER, check=False).stdout.split() \
        == ["inactive", "inactive"]
    code, doc = status_json(box)
    assert code == 4 and doc["state"] == "not-running", doc
    assert cli(box, "gateway status").returncode == 4

    cli(box, "gateway start", check=True)
    code, doc = status_json(box)
    assert code == 0, doc
    pid = doc["service"]["mainPid"]

    started = time.monotonic()
    r = cli(box, "gateway restart", check=True)
    figure("gateway restart → new instance answers", f"{time.monotonic() - started:.2f}s")
    assert "answers" in r.stdout
    code, doc = status_json(box)
    assert code == 0 and doc["service"]["mainPid"] != pid, doc


def test_lifecycle_json_documents(box):
    """--json on stop/start/restart/install: one document naming what was done (docs/cli-json.md)."""
    stop = json.loads(cli(box, "gateway stop --json", check=True).stdout)
    assert stop["action"] == "stop" and stop["unit"] == SERVICE and stop["socketUnit"] == SOCKET
    assert stop["kind"] == "user" and SERVICE in stop["units"] and stop["probe"] is None
    start = json.loads(cli(box, "gateway start --json", check=True).stdout)
    assert start["action"] == "start" and start["probe"]["ok"] is True, start
    restart = json.loads(cli(box, "gateway restart --json", check=True).stdout)
    assert restart["action"] == "restart" and restart["probe"]["ok"] is True and restart["probe"]["pid"], restart
    again = json.loads(cli(box, "gateway install --json", check=True).stdout)
    assert again["action"] == "install" and again["outcome"] == "already-installed", again
    assert again["tokenFile"] == USER_TOKEN and again["linger"]["state"] in ("already-on", "enabled", "not-needed")
    # upstream's spellings of the same commands
    top = cli(box, "status --json")
    assert top.returncode == 0 and json.loads(top.stdout)["state"] == "running"
    assert json.loads(cli(box, "health --json --timeout 5000", check=True).stdout)["ok"] is True


def test_status_when_port_taken_by_another_process(box):
    cli(box, "gateway stop", check=True)
    # Holds the port until its stdin closes (killing nsenter would not reach it).
    squatter = box.popen("exec python3 -c \"import socket,sys; s=socket.socket(); "
                         "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', 18789)); "
                         "s.listen(); print('up', flush=True); sys.stdin.read()\"", stdin=subprocess.PIPE)
    try:
        assert squatter.stdout.readline().strip() == "up"
        r = cli(box, "gateway start")
        assert r.returncode != 0 and "openclaw-gateway.socket" in (r.stdout + r.stderr)
        code, doc = status_json(box)
        assert code == 4 and doc["service"]["socketActiveState"] == "failed", doc
        doctor = cli(box, "doctor")
        assert doctor.returncode != 0 and "port-conflict" in doctor.stdout
    finally:
        squatter.stdin.close()
        squatter.wait(timeout=10)
    cli(box, "gateway start", check=True)


def test_status_when_crashed(box):
    box.run(f"mkdir -p {UNIT_DIR}/{SERVICE}.d && printf '[Service]\\nExecStart=\\nExecStart=/bin/false\\n' "
            f"> {UNIT_DIR}/{SERVICE}.d/crash.conf && systemctl --user daemon-reload", user=USER)
    try:
        assert cli(box, "gateway restart").returncode != 0
        code, doc = status_json(box)
        assert code == 5 and doc["state"] == "unreachable", doc
        assert doc["service"]["lastExitCode"] == "exited" and doc["service"]["lastExitStatus"] == 1
        print(cli(box, "gateway status").stdout)
    finally:
        box.run(f"rm -r {UNIT_DIR}/{SERVICE}.d && systemctl --user daemon-reload", user=USER)
        box.run(f"systemctl --user reset-failed {SERVICE}", user=USER, check=False)
    cli(box, "gateway restart", check=True)


def test_deep_finds_legacy_unit_and_second_profile(box):
    box.run(f"printf '[Service]\\nExecStart=/bin/sleep 600\\n[Install]\\nWantedBy=default.target\\n' > {LEGACY} "
            "&& systemctl --user daemon-reload", user=USER)
    cli(box, "gateway install --profile work --port 18800", check=True)
    # A second profile serves beside the first, each with its own token.
    assert gwclient(box, "hello", url="ws://127.0.0.1:18800",
                    token=f"{HOME}/.openclaw-work/gateway.token")[0]["type"] == "hello-ok"
    assert gwclient(box, "hello")[0]["type"] == "hello-ok"

    code, doc = status_json(box, "--deep")
    assert code == 0, doc
    found = {(g["scope"], g["unit"]): g for g in doc["gateways"]}
    legacy = found[("user", "clawdbot-gateway.service")]
    assert legacy["legacy"] and not legacy["ours"]
    assert not found[("user", "openclaw-gateway-work.service")]["ours"] and found[("user", SERVICE)]["ours"]
    # The package's own system unit is another gateway this config did not install.
    assert not found[("system", SERVICE)]["ours"]
    assert any("clawdbot-gateway.service" in w for w in doc["warnings"])
    assert any("openclaw-gateway-work" in w for w in doc["warnings"])
    assert not any(w.startswith(f"user gateway unit not installed by this config: {SERVICE}") for w in doc["warnings"])

    code, work = status_json(box, "--profile work")
    assert code == 0 and work["probeTarget"] == "ws://127.0.0.1:18800"
    # install --port is remembered in the profile's config: RPC commands, a plain
    # re-install and doctor all agree with the unit.
    assert cli(box, "--profile work gateway health").returncode == 0
    again = cli(box, "gateway install --profile work")
    assert again.returncode == 0 and "already installed" in again.stdout
    assert "port-mismatch" not in cli(box, "--profile work doctor").stdout
    cli(box, "gateway uninstall --profile work", check=True)


def test_doctor_fixes_drifted_exec_start_and_legacy_unit(box):
    box.run(f"sed -i 's|^ExecStart=/usr/bin/openclaw|ExecStart=/opt/old/openclaw|' {UNIT_DIR}/{SERVICE} "
            "&& systemctl --user daemon-reload", user=USER)
    r = cli(box, "doctor")
    print(r.stdout)
    assert r.returncode != 0
    assert "exec-start-drift" in r.stdout and "/opt/old/openclaw" in r.stdout and "legacy-unit" in r.stdout

    r = cli(box, "doctor --fix")
    print(r.stdout)
    assert r.returncode == 0, r.stdout
    unit = box.run(f"cat {UNIT_DIR}/{SERVICE}", user=USER).stdout
    assert "ExecStart=/usr/bin/openclaw gateway" in unit
    assert box.run(f"test -e {LEGACY}", user=USER, check=False).returncode != 0
    assert cli(box, "doctor").returncode == 0
    assert status_json(box)[0] == 0


def test_uninstall_leaves_nothing_behind(box):
    r = cli(box, "gateway uninstall", check=True)
    assert f"{UNIT_DIR}/{SERVICE}" in r.stdout
    left = box.run(f"find {UNIT_DIR} -name 'openclaw-gateway*'", user=USER).stdout
    assert left == "", left
    assert box.run(f"systemctl --user is-active {SOCKET}", user=USER, check=False).stdout.strip() != "active"
    assert status_json(box)[0] == 3
    assert box.run(f"test -f {USER_TOKEN}", user=USER, check=False).returncode == 0, "the token is state: kept"


def test_install_and_uninstall_json(box):
    installed = json.loads(cli(box, "gateway install --json", check=True).stdout)
    assert installed["outcome"] == "installed" and f"{UNIT_DIR}/{SOCKET}" in installed["unitFiles"], installed
    assert installed["probe"]["ok"] is True
    removed = json.loads(cli(box, "gateway uninstall --json", check=True).stdout)
    assert removed["action"] == "uninstall" and f"{UNIT_DIR}/{SERVICE}" in removed["removedFiles"], removed
    assert removed["keptStateDir"] == f"{HOME}/.openclaw"


def test_without_user_manager_one_sentence(box):
    # Root through nsenter: no XDG_RUNTIME_DIR, no user bus (like sudo or su).
    r = box.run("env -u XDG_RUNTIME_DIR -u DBUS_SESSION_BUS_ADDRESS openclaw gateway install", check=False)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "--system" in out and "XDG_RUNTIME_DIR" in out, out
    assert "No medium" not in out and "errno" not in out
    assert len([line for line in out.splitlines() if line.strip()]) == 1, out
