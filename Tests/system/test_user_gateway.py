"""The packaged user units, driven as alice with the real systemctl/journalctl."""

import json
import time

import pytest

from conftest import USER, figure, gwclient, gwclient_background, unit_props, wait_for

SERVICE = "openclaw-gateway.service"
SOCKET = "openclaw-gateway.socket"
# From units/user/openclaw-gateway.service.in.
WATCHDOG_SEC, ABORT_SEC, RESTART_SEC = 30, 5, 5


def user(box, cmd, check=True):
    return box.run(cmd, user=USER, check=check)


@pytest.fixture
def listening(box):
    """The user socket listening, the service's start limit and failed state reset."""
    user(box, f"systemctl --user reset-failed {SERVICE} {SOCKET}", check=False)
    user(box, f"systemctl --user start {SOCKET}")
    yield
    user(box, f"systemctl --user reset-failed {SERVICE}", check=False)


def running_pid(box):
    props = unit_props(box, SERVICE, "ActiveState", "SubState", "MainPID")
    return int(props["MainPID"]) if (props["ActiveState"], props["SubState"]) == ("active", "running") else 0


def test_socket_activation_and_status(box, listening):
    user(box, f"systemctl --user stop {SERVICE}")
    assert unit_props(box, SERVICE, "ActiveState")["ActiveState"] == "inactive", "runs before any connection"
    assert user(box, f"systemctl --user is-active {SOCKET}").stdout.strip() == "active"

    started = time.monotonic()
    hello = gwclient(box, "hello")[0]
    figure("first connection → hello-ok (activation included)", f"{time.monotonic() - started:.2f}s")
    assert hello["type"] == "hello-ok" and hello["protocol"] == 4

    pid = wait_for(lambda: running_pid(box), 10, what="active (running)")
    status = user(box, f"systemctl --user status --no-pager {SERVICE}", check=False).stdout
    print(status)
    assert "active (running)" in status
    text = unit_props(box, SERVICE, "StatusText")["StatusText"]
    assert text, "the gateway sent no STATUS="
    assert f'Status: "{text}"' in status
    assert box.run(f"ps -o comm= -p {pid}").stdout.strip() == "openclaw"


def test_journal_lines_fields_and_priorities(box, listening):
    conn_id = gwclient(box, "hello")[0]["server"]["connId"]

    def entries():
        out = user(box, f"journalctl --user -u {SERVICE} -o json --no-pager").stdout
        docs = [json.loads(line) for line in out.splitlines() if line.strip()]
        return [d for d in docs if d.get("_COMM") == "openclaw"] if any(
            d.get("OPENCLAW_CONN_ID") == conn_id for d in docs) else None

    own = wait_for(entries, 10, what=f"a journal entry with OPENCLAW_CONN_ID={conn_id}")
    fields = sorted({k for d in own for k in d if k.startswith("OPENCLAW_")})
    priorities = sorted({d.get("PRIORITY") for d in own})
    figure("gateway journal fields", " ".join(fields))
    figure("gateway journal priorities", " ".join(priorities))
    assert "OPENCLAW_CONN_ID" in fields
    # The plain text view shows the gateway's own lines too, under its identifier.
    line = next(d for d in own if d.get("OPENCLAW_CONN_ID") == conn_id)
    text = user(box, f"journalctl --user -u {SERVICE} --no-pager -o short").stdout
    assert f"{line['SYSLOG_IDENTIFIER']}[{line['_PID']}]: {line['MESSAGE']}" in text, text


def test_watchdog_kills_hung_gateway_and_clients_reconnect(box, listening):
    gwclient(box, "hello")
    pid = wait_for(lambda: running_pid(box), 10, what="a running gateway")
    restarts = int(unit_props(box, SERVICE, "NRestarts")["NRestarts"])
    holder = gwclient_background(box, "hold")
    assert json.loads(holder.stdout.readline()).get("hello") is not None

    started = time.monotonic()
    box.run(f"kill -STOP {pid}")
    limit = WATCHDOG_SEC + ABORT_SEC + RESTART_SEC + 10
    new_pid = wait_for(lambda: (p := running_pid(box)) and p != pid and p, limit, 0.2, "a restarted gateway")
    back = gwclient(box, "until-hello", 20)[0]
    recovery = time.monotonic() - started
    figure("watchdog: SIGSTOP → new gateway serving hello-ok", f"{recovery:.1f}s (limit {limit}s)")
    assert recovery < limit
    assert new_pid != pid
    assert int(unit_props(box, SERVICE, "NRestarts")["NRestarts"]) == restarts + 1
    assert back["server"]["connId"]
    holder.wait(timeout=10)
    lines = [json.loads(line) for line in holder.stdout.read().splitlines() if line.startswith("{")]
    assert lines and "close" in lines[-1], "the held client did not see its connection end"
    log = user(box, f"journalctl --user -u {SERVICE} --no-pager").stdout
    assert "Watchdog timeout" in log, log[-2000:]


def test_stop_sends_shutdown_then_close_and_ends_inactive(box, listening):
    gwclient(box, "hello")
    wait_for(lambda: running_pid(box), 10, what="a running gateway")
    holder = gwclient_background(box, "hold")
    assert json.loads(holder.stdout.readline()).get("hello") is not None

    started = time.monotonic()
    user(box, f"systemctl --user stop {SERVICE}")
    figure("systemctl --user stop with one client", f"{time.monotonic() - started:.2f}s")
    holder.wait(timeout=10)
    events = [json.loads(line) for line in holder.stdout.read().splitlines() if line.startswith("{")]
    names = [e.get("event") for e in events if e.get("type") == "event"]
    assert "shutdown" in names, events
    assert events[-1].get("close") in (1001, 1012), events
    props = unit_props(box, SERVICE, "ActiveState", "Result")
    assert props == {"ActiveState": "inactive", "Result": "success"}, props


def test_restart_while_clients_connect_refuses_none(box, listening):
    gwclient(box, "hello")
    wait_for(lambda: running_pid(box), 10, what="a running gateway")
    loop = gwclient_background(box, "loop", 8)
    time.sleep(1.5)
    user(box, f"systemctl --user restart {SERVICE}")
    time.sleep(2)
    user(box, f"systemctl --user restart {SERVICE}")
    out, err = loop.communicate(timeout=30)
    counts = json.loads(out.splitlines()[-1])
    figure("restart ×2 during a connect loop: refused connections",
           f"{counts['refused']} (ok {counts['ok']}, dropped mid-handshake {counts['dropped']}, "
           f"other {counts['other']})")
    assert counts["refused"] == 0, counts
    assert counts["ok"] > 0, counts
    assert running_pid(box)


def test_user_service_sandbox_is_in_force(box, listening):
    gwclient(box, "hello")
    pid = wait_for(lambda: running_pid(box), 10, what="a running gateway")
    ns = f"nsenter -t {pid} -m"
    assert box.run(f"{ns} touch /usr/.openclaw-probe", check=False).returncode != 0, "ProtectSystem=strict"
    assert box.run(f"{ns} touch /home/{USER}/.openclaw-probe", check=False).returncode != 0, "ProtectHome=read-only"
    box.run(f"{ns} touch /home/{USER}/.openclaw/.probe && {ns} rm /home/{USER}/.openclaw/.probe")
    box.run("touch /tmp/host-side-probe")
    assert box.run(f"{ns} test -e /tmp/host-side-probe", check=False).returncode != 0, "PrivateTmp"


def descriptor_limits(box, pid):
    """(soft, hard) "Max open files" of a process, as /proc shows it."""
    line = next(l for l in box.run(f"cat /proc/{pid}/limits").stdout.splitlines() if l.startswith("Max open files"))
    return tuple(int(v) for v in line.split()[3:5])


def test_user_service_runs_with_a_raised_descriptor_limit(box, listening):
    """LimitNOFILE= in the unit: at the default soft 1024 the gateway refused clients (EMFILE)."""
    gwclient(box, "hello")
    pid = wait_for(lambda: running_pid(box), 10, what="a running gateway")
    soft, hard = descriptor_limits(box, pid)
    # 65536, or less where the container itself allows less (its PID 1's hard limit).
    assert soft == hard >= min(65536, descriptor_limits(box, 1)[1]) > 1024, (soft, hard)


def test_missing_token_keeps_the_socket_from_listening(box, listening):
    user(box, f"systemctl --user stop {SOCKET} {SERVICE}")
    token = "~/.openclaw/gateway.token"
    user(box, f"mv {token} {token}.away")
    try:
        assert user(box, f"systemctl --user start {SOCKET}", check=False).returncode != 0
        assert unit_props(box, SOCKET, "AssertResult")["AssertResult"] == "no"
        assert unit_props(box, SOCKET, "ActiveState")["ActiveState"] != "active"
        tried = gwclient(box, "until-hello", 1, token=f"/home/{USER}/.openclaw/gateway.token.away", check=False)
        assert "ConnectionRefusedError" in tried[0]["error"], tried
    finally:
        user(box, f"mv {token}.away {token}")


def test_crash_loop_is_stopped_by_the_start_limit(box, listening):
    """A gateway that dies at once: StartLimitBurst= ends the loop; the socket stops too."""
    dropin = f"/home/{USER}/.config/systemd/user/{SERVICE}.d"
    user(box, f"mkdir -p {dropin} && printf '[Service]\\nExecStart=\\nExecStart=/bin/false\\nRestartSec=100ms\\n'"
              f" > {dropin}/crash.conf && systemctl --user daemon-reload")
    try:
        user(box, f"systemctl --user start {SERVICE}", check=False)
        socket = wait_for(lambda: (p := unit_props(box, SOCKET, "ActiveState", "Result"))
                          ["Result"] == "service-start-limit-hit" and p, 20, 0.2, "the socket giving up")
        assert socket["ActiveState"] == "failed"
        props = unit_props(box, SERVICE, "ActiveState", "NRestarts")
        figure("crash loop stopped by the start limit after", f"{props['NRestarts']} starts")
        assert props["ActiveState"] == "failed"
        assert "Start request repeated too quickly" in user(
            box, f"journalctl --user -u {SERVICE} --no-pager").stdout
    finally:
        user(box, f"rm -r {dropin} && systemctl --user daemon-reload && "
                  f"systemctl --user reset-failed {SERVICE} {SOCKET}")
