"""Issue 10 items 1-2: reload works for the user and the system unit (and `openclaw gateway
reload` reports the gateway's own result), and a stop tells clients the truth (a restart hands
them over instead: test_handover.py)."""

from __future__ import annotations

import json

from conftest import SYSTEM_TOKEN, USER, USER_TOKEN, as_user as user, gwclient, gwclient_background, unit_props, wait_for

SERVICE, SOCKET = "openclaw-gateway.service", "openclaw-gateway.socket"
USER_CONFIG = f"/home/{USER}/.openclaw/openclaw.json"
SYSTEM_CONFIG = "/var/lib/openclaw/openclaw.json"
# `openclaw gateway reload --system` for the packaged system unit, whose state is /var/lib/openclaw.
SYSTEM_CLI = "OPENCLAW_STATE_DIR=/var/lib/openclaw openclaw gateway reload --system"
BROKEN = '{"gateway": {"tickIntervalMs": 30000,,}}'


def test_user_unit_reloads_with_systemctl(box, user_gateway):
    pid = unit_props(box, SERVICE, "MainPID")["MainPID"]
    r = user(box, f"systemctl --user reload {SERVICE}", check=False)
    assert r.returncode == 0, r.stdout + r.stderr + user(box, f"journalctl --user -u {SERVICE} -n 20 --no-pager").stdout
    props = unit_props(box, SERVICE, "ActiveState", "MainPID")
    assert props == {"ActiveState": "active", "MainPID": pid}, props


def test_system_unit_reloads_with_systemctl(box, system_gateway):
    r = box.run(f"systemctl reload {SERVICE}", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert unit_props(box, SERVICE, "ActiveState", user=None)["ActiveState"] == "active"


def test_gateway_reload_reports_applied_and_the_config_error(box, user_gateway):
    user(box, f"printf '%s' '{{\"gateway\": {{\"tickIntervalMs\": 20000}}}}' > {USER_CONFIG}")
    ok = user(box, "openclaw gateway reload", check=False)
    assert ok.returncode == 0 and "applied" in ok.stdout, ok.stdout + ok.stderr

    user(box, f"printf '%s' '{BROKEN}' > {USER_CONFIG}")
    bad = user(box, "openclaw gateway reload", check=False)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "kept its previous configuration" in bad.stderr
    assert f"{USER_CONFIG} line 1, column" in bad.stderr, bad.stderr
    # Still serving the previous configuration.
    assert gwclient(box, "hello")[0]["type"] == "hello-ok"


def test_gateway_reload_system_unit(box, system_gateway):
    ok = box.run(SYSTEM_CLI, check=False)
    assert ok.returncode == 0 and "applied" in ok.stdout, ok.stdout + ok.stderr
    box.run(f"printf '%s' '{BROKEN}' > {SYSTEM_CONFIG} && chown openclaw: {SYSTEM_CONFIG}")
    bad = box.run(SYSTEM_CLI, check=False)
    assert bad.returncode == 1 and f"{SYSTEM_CONFIG} line 1, column" in bad.stderr, bad.stdout + bad.stderr
    assert gwclient(box, "hello", token=SYSTEM_TOKEN)[0]["type"] == "hello-ok"


def test_gateway_reload_when_stopped_says_so(box):
    user(box, f"systemctl --user stop {SERVICE} {SOCKET}", check=False)
    r = user(box, "openclaw gateway reload", check=False)
    assert r.returncode == 1 and "not running" in r.stderr and "openclaw gateway start" in r.stderr, r.stderr


def held_until_closed(box, action, token=USER_TOKEN):
    """A client holding a connection while `action` runs; its shutdown event and close frame."""
    holder = gwclient_background(box, "hold", token=token)
    assert json.loads(holder.stdout.readline()).get("hello") is not None
    action()
    holder.wait(timeout=20)
    events = [json.loads(line) for line in holder.stdout.read().splitlines() if line.startswith("{")]
    shutdown = [e for e in events if e.get("type") == "event" and e.get("event") == "shutdown"]
    assert shutdown, events
    return shutdown[0]["payload"], events[-1]


def test_stop_says_going_away_and_a_service_stop_says_come_back(box, user_gateway):
    """A restart closes no client at all (the fd store hand-over: test_handover.py, which also
    keeps the 1012 close of a restart with the store disabled); stops still close."""
    payload, close = held_until_closed(box, lambda: user(box, "openclaw gateway stop"))
    assert close["close"] == 1001, (payload, close)
    assert "restartExpectedMs" not in payload and payload["reason"] == "gateway stopping", payload

    # systemctl alike: stopping the socket too is a stop; the service alone leaves the socket to restart it.
    user(box, "openclaw gateway start")
    _, close = held_until_closed(box, lambda: user(box, f"systemctl --user stop {SOCKET} {SERVICE}"))
    assert close["close"] == 1001, close
    user(box, f"systemctl --user start {SOCKET} {SERVICE}")
    payload, close = held_until_closed(box, lambda: user(box, f"systemctl --user stop {SERVICE}"))
    assert close["close"] == 1012 and "restartExpectedMs" in payload, (payload, close)
    wait_for(lambda: gwclient(box, "hello", check=False), 10, what="the socket activating again")


def test_system_unit_stop_says_going_away(box, system_gateway):
    """The packaged system unit finds its own unit despite ProtectProc=invisible (PID 1 hidden):
    a stop there is a stop (1001), not a restart."""
    payload, close = held_until_closed(box, lambda: box.run("openclaw gateway stop --system"), token=SYSTEM_TOKEN)
    assert close["close"] == 1001 and "restartExpectedMs" not in payload, (payload, close)
