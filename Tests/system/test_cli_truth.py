"""Diagnostics never lie (issue 9): status, restart and friends say who answered
and why a command failed, with the documented exit codes.

Profile "twin" on port 18820: alice's user gateway, and a system unit of the
same profile (run as alice, so the same state directory and token) whose
socket cannot bind because alice's gateway holds the port. Profile "twin" is
removed from both managers at the end.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from conftest import USER

PROFILE, PORT = "twin", 18820
STATE = f"/home/{USER}/.openclaw-{PROFILE}"
UNIT = f"openclaw-gateway-{PROFILE}"


def alice(box, args: str, env: str = ""):
    return box.run(f"{env} openclaw --profile {PROFILE} {args}", user=USER, check=False)


def root(box, args: str):
    return box.run(f"openclaw --profile {PROFILE} {args}", check=False)


@pytest.fixture(scope="module", autouse=True)
def twin(box):
    box.run(f"umask 077 && mkdir -p {STATE} && printf '{{\"gateway\":{{\"port\":{PORT}}}}}' > {STATE}/openclaw.json",
            user=USER)
    yield
    root(box, "gateway uninstall --system")
    alice(box, "gateway uninstall")
    box.run(f"rm -rf {STATE}", check=False)


@pytest.fixture(scope="module")
def user_gateway_holds_the_port(box):
    """The system unit installed and stopped, then alice's user gateway of the same profile on its port,
    then the system socket started: it fails (address in use) while alice's gateway answers there."""
    r = root(box, f"gateway install --system --user-name {USER} --port {PORT}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert root(box, "gateway stop --system").returncode == 0
    # alice's gateway accepts the system unit's secret (its token is root's, /etc/credstore): what
    # status must see through is a hello-ok from a gateway that is not the unit's.
    box.run(f"umask 077 && cat /etc/credstore/{UNIT}.token > {STATE}/gateway.token && chown {USER}: {STATE}/gateway.token")
    r = alice(box, f"gateway install --port {PORT}")
    assert r.returncode == 0, r.stdout + r.stderr
    box.run(f"systemctl start {UNIT}.socket", check=False)
    state = box.run(f"systemctl show -p ActiveState --value {UNIT}.socket").stdout.strip()
    assert state == "failed", state
    user_pid = int(box.run(f"systemctl --user show -p MainPID --value {UNIT}.service", user=USER).stdout)
    if user_pid == 0:  # socket-activated and idle: one connection starts it
        alice(box, "gateway status")
        user_pid = int(box.run(f"systemctl --user show -p MainPID --value {UNIT}.service", user=USER).stdout)
    assert user_pid > 0
    return user_pid


def test_status_names_another_gateway_instead_of_false_green(box, user_gateway_holds_the_port):
    user_pid = user_gateway_holds_the_port
    r = root(box, "gateway status --system --json")
    doc = json.loads(r.stdout)
    print(json.dumps(doc, indent=2))
    assert r.returncode == 6 and doc["state"] == "other-gateway" and doc["exitCode"] == 6, doc
    assert doc["service"]["scope"] == "system" and doc["service"]["socketActiveState"] == "failed"
    other = doc["otherGateway"]
    assert other["pid"] == user_pid and other["unit"].startswith(f"{UNIT}.service (user unit of {USER})"), other
    assert doc["rpc"]["identity"]["pid"] == user_pid and doc["rpc"]["identity"]["profile"] == PROFILE
    # S7: the specific cause from the socket's latest run, not systemd's generic "Failed to listen".
    assert f"Failed to create listening socket (127.0.0.1:{PORT}): Address already in use" in doc["lastErrorLine"], doc

    text = root(box, "gateway status --system")
    print(text.stdout)
    assert text.returncode == 6
    assert "another gateway answers on this address" in text.stdout and f"pid {user_pid}" in text.stdout
    assert "Result:      ok" not in text.stdout

    # The user's own view of the same gateway is green, and the identity check costs no round trip.
    code = alice(box, "gateway status --json")
    mine = json.loads(code.stdout)
    assert code.returncode == 0 and mine["otherGateway"] is None, code.stdout
    # S9 without --deep: the system install of the same profile is named; the package's idle units are not foreign.
    assert {"profile": PROFILE, "scope": "system", "activeState": "failed", "listen": [f"127.0.0.1:{PORT}"]} \
        in mine["otherInstances"], mine["otherInstances"]
    assert not any("openclaw-gateway.s" in w for w in mine["warnings"]), mine["warnings"]
    # start --system does not wait 30 s for hello-ok from the wrong gateway either.
    started = time.monotonic()
    r = root(box, "gateway start --system")
    assert r.returncode != 0 and time.monotonic() - started < 10, r.stdout + r.stderr
    root(box, "gateway uninstall --system")
    box.run(f"systemctl reset-failed {UNIT}.socket {UNIT}.service", check=False)


def test_auth_refusal_is_a_definite_answer(box, user_gateway_holds_the_port):
    wrong = "OPENCLAW_GATEWAY_TOKEN=not-the-token"
    started = time.monotonic()
    r = alice(box, "gateway restart", env=wrong)
    took = time.monotonic() - started
    print(r.stdout, r.stderr, f"{took:.1f}s")
    assert r.returncode == 7 and took < 10, (r.returncode, took, r.stderr)
    assert "is up, but it refuses our secret" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr

    r = alice(box, "gateway status --json", env=wrong)
    doc = json.loads(r.stdout)
    assert r.returncode == 7 and doc["state"] == "auth-refused", doc
    assert doc["rpc"]["authRefusal"] == "AUTH_TOKEN_MISMATCH", doc["rpc"]
    assert "refuses our secret" in alice(box, "gateway status", env=wrong).stdout

    r = alice(box, "gateway health", env=wrong)
    assert r.returncode == 7, r.stderr
    # The right secret still gets in (the refusals above were all from this one client).
    assert alice(box, "gateway health").returncode == 0


def main_pid(box) -> str:
    return box.run(f"systemctl --user show -p MainPID --value {UNIT}.service", user=USER).stdout.strip()


def test_doctor_json_lists_checks_and_exits_by_its_fixes(box, user_gateway_holds_the_port):
    r = alice(box, "doctor --json")
    doc = json.loads(r.stdout)
    print(json.dumps(doc, indent=2))
    assert set(doc) >= {"schemaVersion", "ok", "findings", "fixed", "fixFailure", "remaining", "checked"}, doc
    assert any(line.startswith("token: ") for line in doc["checked"]), doc["checked"]
    assert (r.returncode == 0) == doc["ok"]
    assert "Checked and fine:" in alice(box, "doctor").stdout

    # A legacy unit is migrated without restarting the healthy gateway beside it.
    alice(box, "gateway status")  # socket-activated: make sure it runs
    before = main_pid(box)
    legacy = f"/home/{USER}/.config/systemd/user/clawdbot-gateway.service"
    box.run(f"printf '[Service]\\nExecStart=/bin/sleep 600\\n' > {legacy} && systemctl --user daemon-reload "
            "&& systemctl --user start clawdbot-gateway.service", user=USER)
    assert "legacy gateway unit: clawdbot-gateway.service" in alice(box, "gateway status").stdout
    r = alice(box, "doctor --fix")
    print(r.stdout)
    assert "migrated legacy user unit clawdbot-gateway.service" in r.stdout and main_pid(box) == before, r.stdout

    # A missing token is regenerated and the gateway restarted to load it: the CLI gets in with it.
    box.run(f"rm {STATE}/gateway.token", user=USER)
    try:
        r = alice(box, "gateway restart")
        print(r.stderr)
        assert r.returncode == 1 and "243/CREDENTIALS" in r.stderr and "doctor --fix" in r.stderr, r.stderr
    finally:
        r = alice(box, "doctor --fix")
    print(r.stdout)
    assert r.returncode == 0 and "restarted" in r.stdout, r.stdout
    assert main_pid(box) != before and alice(box, "gateway health").returncode == 0

    # A fix that fails is a failure (exit 1), not "Fixed" with exit 0.
    box.run(f"rm {STATE}/gateway.token && chown root:root {STATE} && chmod 755 {STATE}")
    try:
        r = alice(box, "doctor --fix")
        print(r.stdout, r.stderr)
        assert r.returncode == 1 and "Stopped fixing:" in r.stdout, r.stdout
        doc = json.loads(alice(box, "doctor --fix --json").stdout)
        assert doc["ok"] is False and doc["fixFailure"], doc
    finally:
        box.run(f"chown {USER}:{USER} {STATE} && chmod 700 {STATE}")
    assert alice(box, "doctor --fix").returncode == 0


def test_messages_carry_profile_scope_and_the_right_exit(box):
    never = "openclaw --profile neverwas"
    r = box.run(f"{never} gateway uninstall", user=USER, check=False)
    assert r.returncode == 3 and "nothing to uninstall" in r.stderr, r.stderr
    r = box.run(f"{never} gateway start", user=USER, check=False)
    assert r.returncode == 3 and f"`{never} gateway install`" in r.stderr, r.stderr
    r = box.run(f"{never} gateway status", user=USER, check=False)
    assert r.returncode == 3 and f"`{never} gateway install`" in r.stdout, r.stdout
    assert "openclaw.json (not present: defaults)" in r.stdout, r.stdout
    # Not root: --system says it needs root, not "Operation not permitted"/"Access denied".
    r = box.run("openclaw gateway start --system", user=USER, check=False)  # the packaged unit exists
    print(r.stderr)
    assert r.returncode != 0 and "needs root" in r.stderr and "not permitted" not in r.stderr, r.stderr
    # A broken config is exit 1 (could not tell), not 5.
    box.run(f"cp {STATE}/openclaw.json {STATE}/openclaw.json.bak && printf '{{broken' > {STATE}/openclaw.json", user=USER)
    try:
        r = alice(box, "gateway status --json")
        doc = json.loads(r.stdout)
        assert r.returncode == 1 and doc["state"] == "error" and doc["configError"], doc
        # The gateway's own fatal error is an error in the journal, with fields (issue 9, item 6).
        assert alice(box, "gateway restart").returncode != 0
        out = box.run(f"journalctl --user -u {UNIT}.service -p err -o json --no-pager", user=USER).stdout
        entries = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        fatal = [e for e in entries if e.get("OPENCLAW_FATAL") == "config"]
        print(json.dumps(fatal[-1:], indent=1))
        assert fatal and fatal[-1]["SYSLOG_IDENTIFIER"] == "openclaw-gateway" and fatal[-1]["PRIORITY"] == "3", entries
        assert fatal[-1]["OPENCLAW_CONFIG_PATH"] == f"{STATE}/openclaw.json" and fatal[-1]["OPENCLAW_CONFIG_LINE"] == "1"
        assert fatal[-1]["OPENCLAW_PROFILE"] == PROFILE
    finally:
        box.run(f"mv {STATE}/openclaw.json.bak {STATE}/openclaw.json", user=USER)
    assert alice(box, "gateway restart").returncode == 0


def test_install_refuses_a_taken_port_and_undoes_a_failed_start(box):
    units = f"/home/{USER}/.config/systemd/user"
    sq_state = f"/home/{USER}/.openclaw-sq"
    # alice's own process: she may see which pid holds the port (another user's needs root).
    squatter = box.popen(f"exec runuser -u {USER} -- python3 -c \"import socket,sys; s=socket.socket(); "
                         "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', 18830)); "
                         "s.listen(); print('up', flush=True); sys.stdin.read()\"", stdin=subprocess.PIPE)
    try:
        assert squatter.stdout.readline().strip() == "up"
        r = box.run("openclaw --profile sq gateway install --port 18830", user=USER, check=False)
        print(r.stderr)
        assert r.returncode == 1 and "port 18830 is already in use by pid" in r.stderr and "python3" in r.stderr
        assert "nothing was installed" in r.stderr
        assert box.run(f"ls {units}/openclaw-gateway-sq.socket {sq_state}/gateway.token", check=False).returncode != 0
    finally:
        squatter.stdin.close()
        squatter.wait(timeout=10)

    # Another profile of the same user on that port is named as such.
    r = box.run(f"openclaw --profile sq gateway install --port {PORT}", user=USER, check=False)
    assert r.returncode == 1 and f"{UNIT}.socket (user manager)" in r.stderr, r.stderr

    # A gateway that cannot start (a channel it rejects) is not left installed and enabled.
    box.run(f"umask 077 && mkdir -p {sq_state} && printf '%s' "
            "'{\"gateway\":{\"port\":18831},\"channels\":{\"irc\":{\"server\":\"x\",\"nick\":\"1bad\"}}}' "
            f"> {sq_state}/openclaw.json", user=USER)
    try:
        started = time.monotonic()
        r = box.run("openclaw --profile sq gateway install", user=USER, check=False)
        print(r.stderr)
        assert r.returncode == 1 and "the install was undone" in r.stderr and time.monotonic() - started < 15
        assert "channels.irc.nick" in r.stderr, r.stderr
        assert box.run(f"ls {units}/openclaw-gateway-sq.socket", check=False).returncode != 0
        assert box.run("openclaw --profile sq gateway status", user=USER, check=False).returncode == 3
    finally:
        box.run("openclaw --profile sq gateway uninstall", user=USER, check=False)
        box.run(f"rm -rf {sq_state}", check=False)


def test_status_says_why_it_restarted_and_drops_stale_status_text(box, user_gateway_holds_the_port):
    from conftest import wait_for
    alice(box, "gateway status")  # socket-activated: make sure it runs
    before = main_pid(box)
    box.run(f"systemctl --user kill -s SIGKILL {UNIT}.service", user=USER)
    wait_for(lambda: main_pid(box) not in ("0", before), 20, what="systemd's automatic restart")
    r = alice(box, "gateway status")
    print(r.stdout)
    line = next((l for l in r.stdout.splitlines() if "Last restart:" in l), "")
    assert "UTC" in line and ("KILL" in line or "signal" in line), r.stdout
    assert json.loads(alice(box, "gateway status --json").stdout)["lastRestart"], "lastRestart in JSON"

    assert alice(box, "gateway stop").returncode == 0
    doc = json.loads(alice(box, "gateway status --json").stdout)
    assert doc["service"]["statusText"] is None and "Status:" not in alice(box, "gateway status").stdout, doc
    assert alice(box, "gateway start").returncode == 0


def test_one_source_of_truth_for_the_secret(box, user_gateway_holds_the_port):
    # What upstream's docs tell people to edit: a token in the config that the installed gateway does not check.
    box.run(f"cp {STATE}/openclaw.json {STATE}/openclaw.json.bak && printf '%s' "
            f"'{{\"gateway\":{{\"port\":{PORT},\"auth\":{{\"token\":\"edited-by-hand\"}}}}}}' > {STATE}/openclaw.json",
            user=USER)
    try:
        # The CLI presents the file the unit's LoadCredential= names: nothing is refused, nothing hangs.
        assert alice(box, "gateway health").returncode == 0
        started = time.monotonic()
        assert alice(box, "gateway restart").returncode == 0 and time.monotonic() - started < 10
        assert alice(box, "gateway status").returncode == 0
        r = alice(box, "doctor")
        print(r.stdout)
        assert r.returncode == 1 and "token-disagree" in r.stdout and "No problems found" not in r.stdout, r.stdout
        r = alice(box, "doctor --fix")
        assert r.returncode == 0 and "gateway.auth.token" in r.stdout, r.stdout
        token = box.run(f"cat {STATE}/gateway.token", user=USER).stdout.strip()
        assert json.loads(box.run(f"cat {STATE}/openclaw.json", user=USER).stdout)["gateway"]["auth"]["token"] == token
        # The environment still wins when given: a wrong one is refused, and doctor names it.
        r = alice(box, "doctor", env="OPENCLAW_GATEWAY_TOKEN=stale")
        assert "token-env-disagree" in r.stdout, r.stdout
    finally:
        box.run(f"mv {STATE}/openclaw.json.bak {STATE}/openclaw.json", user=USER)
