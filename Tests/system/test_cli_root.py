"""The CLI as root (issue 6: "as a normal user and as root").

test_cli_system_service.py covers install/status --json/restart/uninstall of a
`--system` profile. This file covers what it leaves out: the text status,
`gateway health` and `doctor --system` against the running system gateway,
uninstall unloading the units (not only removing the files), the wall time of
`status --json --system`, and root's user-mode commands without a user manager.

Uses profile "ops" on port 18810 (alice's state in ~/.openclaw-ops), so neither
the packaged system unit nor the other files' profiles are touched.
"""

from __future__ import annotations

import json
import time

import pytest

from conftest import USER, figure

PROFILE, PORT = "ops", 18810
UNIT = f"openclaw-gateway-{PROFILE}"
STATE = f"/home/{USER}/.openclaw-{PROFILE}"
TOKEN = f"/etc/credstore/{UNIT}.token"  # a system unit's token is root's
FLAGS = f"--system --profile {PROFILE}"
URL = f"ws://127.0.0.1:{PORT}"
UNIT_FILES = [f"/etc/systemd/system/{UNIT}.socket", f"/etc/systemd/system/{UNIT}.service"]
# Root through nsenter has no XDG_RUNTIME_DIR and no user bus, like `sudo` or `su`.
NO_USER_MANAGER = "env -u XDG_RUNTIME_DIR -u DBUS_SESSION_BUS_ADDRESS"


@pytest.fixture(scope="module", autouse=True)
def clean_ops_profile(box):
    box.run(f"openclaw gateway uninstall {FLAGS}", check=False)
    yield
    box.run(f"openclaw gateway uninstall {FLAGS}", check=False)
    box.run(f"rm -rf {STATE}", check=False)


@pytest.fixture(scope="module")
def installed(box):
    # `--port` alone is an override the config does not remember: doctor would then call the unit's
    # port a drift and `doctor --fix` would move it back to 18789. The profile's config says it too.
    box.run(f"umask 077 && mkdir -p {STATE} && printf '{{\"gateway\":{{\"port\":{PORT}}}}}' "
            f"> {STATE}/openclaw.json", user=USER)
    r = box.run(f"openclaw gateway install {FLAGS} --user-name {USER} --port {PORT}")
    print(r.stdout)
    assert f"Gateway answers at {URL}." in r.stdout, r.stdout
    return r


def status_json(box) -> tuple[int, dict]:
    r = box.run(f"openclaw gateway status --json {FLAGS}", check=False)
    return r.returncode, json.loads(r.stdout)


def test_status_text_and_json_running(box, installed):
    text = box.run(f"openclaw gateway status {FLAGS}", check=False)
    print(text.stdout)
    assert text.returncode == 0, text.stdout + text.stderr
    out = text.stdout
    assert "Service" in out and "RPC" in out
    assert f"/etc/systemd/system/{UNIT}.service" in out and f"127.0.0.1:{PORT}" in out and URL in out
    assert "\x1b[" not in out, "colour on a pipe"

    code, doc = status_json(box)
    print(json.dumps(doc, indent=2))
    assert code == 0 and doc["state"] == "running", doc
    service, rpc = doc["service"], doc["rpc"]
    assert service["scope"] == "system" and service["installed"] is True
    assert service["activeState"] == "active" and service["listen"] == [f"127.0.0.1:{PORT}"]
    assert box.run(f"ps -o user= -p {service['mainPid']}").stdout.strip() == USER
    assert doc["probeTarget"] == URL and rpc["ok"] is True and rpc["version"]

    baseline, times = [], []
    for _ in range(5):
        t = time.monotonic()
        box.run("true")
        baseline.append(time.monotonic() - t)
        t = time.monotonic()
        box.run(f"openclaw gateway status --json {FLAGS} >/dev/null")
        times.append(time.monotonic() - t)
    figure("status --json --system wall time as root (best of 5, incl. nsenter)", f"{min(times) * 1000:.0f} ms")
    figure("nsenter + sh baseline (best of 5)", f"{min(baseline) * 1000:.0f} ms")


def test_health_against_system_gateway(box, installed):
    # Root's own config knows neither the port nor alice's token: both are given, the token by env.
    r = box.run(f"OPENCLAW_GATEWAY_TOKEN=$(cat {TOKEN}) openclaw gateway health --url {URL}", check=False)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    r = box.run(f"OPENCLAW_GATEWAY_TOKEN=$(cat {TOKEN}) openclaw gateway health --json --url {URL}")
    assert json.loads(r.stdout)["ok"] is True
    # A wrong token is refused in one sentence, not a stack of errors.
    r = box.run(f"openclaw gateway health --url {URL} --token wrong", check=False)
    assert r.returncode != 0 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_doctor_system_is_clean(box, installed):
    r = box.run(f"openclaw doctor {FLAGS}", check=False)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No problems found." in r.stdout


def test_uninstall_unloads_everything(box, installed):
    r = box.run(f"openclaw gateway uninstall {FLAGS}")
    assert all(path in r.stdout for path in UNIT_FILES), r.stdout
    assert box.run(f"ls /etc/systemd/system | grep {UNIT}", check=False).stdout == ""
    assert box.run(f"find /etc/systemd/system -name '{UNIT}*'").stdout == ""
    for unit in (f"{UNIT}.socket", f"{UNIT}.service"):
        props = box.run(f"systemctl show -p LoadState -p ActiveState {unit}").stdout.split()
        assert props == ["LoadState=not-found", "ActiveState=inactive"], (unit, props)
    assert box.run(f"systemctl list-units --all --plain --no-legend '{UNIT}*'").stdout.strip() == ""
    listening = [row.split()[1] for row in box.run("cat /proc/net/tcp").stdout.splitlines()[1:]
                 if row.split()[3] == "0A"]
    assert f"0100007F:{PORT:04X}" not in listening, listening
    code, doc = status_json(box)
    assert code == 3 and doc["state"] == "not-installed", doc
    assert box.run(f"test -f {TOKEN}", check=False).returncode == 0, "the token is state: kept"


def test_root_without_user_manager_says_so_once(box):
    sentence = "no systemd user manager for this login"
    for command in ("gateway start", "gateway uninstall", "doctor", "doctor --fix"):
        r = box.run(f"{NO_USER_MANAGER} openclaw {command}", check=False)
        out = r.stdout + r.stderr
        assert r.returncode == 1 and r.stdout == "", (command, out)
        assert r.stderr.startswith(f"error: {sentence}") and "`--system` to install" in r.stderr, (command, out)
        assert len(r.stderr.splitlines()) == 1 and "No such file or directory" not in out, (command, out)
    assert box.run("test -e /root/.openclaw", check=False).returncode != 0, "doctor --fix wrote state for root"

    # status keeps its report (config path, probe target, the RPC section for a gateway that may
    # still answer), with the sentence in the Service section; --json stays one document.
    r = box.run(f"{NO_USER_MANAGER} openclaw gateway status", check=False)
    print(r.stdout)
    assert r.returncode == 1 and r.stdout.count(sentence) == 1 and "--system" in r.stdout, r.stdout + r.stderr
    assert "Service" in r.stdout and "RPC" in r.stdout and "No such file or directory" not in r.stdout
    r = box.run(f"{NO_USER_MANAGER} openclaw gateway status --json", check=False)
    doc = json.loads(r.stdout)
    assert r.returncode == 1 and doc["exitCode"] == 1 and doc["state"] == "error", doc
    assert doc["service"]["error"].startswith(sentence) and "--system" in doc["service"]["error"], doc
