"""SIGHUP applies `channels` and `agent` too: an unchanged channel keeps its
IRC connection, a changed one relinks with the new settings, a broken one
fails the whole reload, and new agent runs use the new backend while runs in
flight finish on the old one. A real ngircd on loopback, as in test_messaging."""
import json
import os
import signal
import threading
import time
import uuid

import pytest

from conftest import call, handshake, recv_json
from test_agent import agent_config, run_agent, script
from test_messaging import CHANNEL, irc_config, ircd, observers, send_params, wait_linked  # noqa: F401 (fixtures)

NEW_CHANNEL = "#deploys"


def full_config(*parts):
    """The whole file as the `Gateway` fixture writes it (its `gateway` section, then `parts`)."""
    cfg = {"gateway": {"tickIntervalMs": 30000}}
    for part in parts:
        cfg.update(part)
    return cfg


def write_config(gw, cfg):
    path = os.path.join(gw.state, "openclaw.json")
    with open(path, "w") as f:
        f.write(cfg if isinstance(cfg, str) else json.dumps(cfg))


def sighup(gw):
    """Sends SIGHUP and waits for the reload to finish (READY=1 after RELOADING=1)."""
    gw.notify.messages.clear()
    gw.proc.send_signal(signal.SIGHUP)
    gw.notify.wait_for(lambda m: "RELOADING=1" in m)
    gw.notify.wait_for(lambda m: "READY=1" in m)


def lines_from(obs, command, nick):
    """Raw lines of `command` (QUIT, JOIN, …) the observer saw from `nick` exactly."""
    prefix = f":{nick}!".encode()
    with obs.lock:
        return [line for line in obs.lines if line.startswith(prefix) and line.split(b" ")[1:2] == [command.encode()]]


def events_for(ws, seconds):
    """Every event frame that arrives within `seconds`."""
    frames, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = recv_json(ws, timeout=left)
        except TimeoutError:
            break
        if frame.get("type") == "event":
            frames.append(frame)
    return frames


@pytest.fixture
def linked_gateway(make_gateway, ircd):
    gw = make_gateway(config=irc_config(ircd.port))
    wait_linked(gw.url)
    return gw


def test_unchanged_channel_config_keeps_the_irc_connection(linked_gateway, ircd, observers):
    obs = observers(ircd.port)
    ws, _ = handshake(linked_gateway.url)
    since = call(ws, "status", id_="s1")["payload"]["channels"]["irc"]["since"]
    # The same settings written differently (key order, a tick change): the channel must stay as it is.
    irc = irc_config(ircd.port)["channels"]["irc"]
    write_config(linked_gateway, {"channels": {"irc": dict(reversed(list(irc.items())))},
                                  "gateway": {"tickIntervalMs": 20000}})
    sighup(linked_gateway)
    events = events_for(ws, 1.5)
    assert not [e for e in events if e["event"] == "health"], events
    assert lines_from(obs, "QUIT", "clawbot") == [] and lines_from(obs, "JOIN", "clawbot") == []
    status = call(ws, "status", id_="s2")["payload"]
    assert status["channels"]["irc"]["linked"] is True and status["channels"]["irc"]["since"] == since
    assert "lastError" not in status
    assert call(ws, "send", send_params(uuid.uuid4().hex, "still here"), id_="send", timeout=10)["ok"]
    obs.wait_for(lambda o: o.texts("clawbot") == ["still here"])
    ws.close()
    _, hello = handshake(linked_gateway.url)
    assert hello["policy"]["tickIntervalMs"] == 20000  # the gateway section still applies


def test_added_channel_then_new_nick_relink_with_the_new_settings(linked_gateway, ircd, observers):
    obs = observers(ircd.port)
    watcher = observers(ircd.port, nick="watcher", channel=NEW_CHANNEL)
    ws, _ = handshake(linked_gateway.url)

    write_config(linked_gateway, full_config(irc_config(ircd.port, channels=[CHANNEL, NEW_CHANNEL])))
    sighup(linked_gateway)
    # The old connection says goodbye before the new one registers, so the nick is free again.
    watcher.wait_for(lambda o: lines_from(o, "JOIN", "clawbot"))
    assert len(lines_from(obs, "QUIT", "clawbot")) == 1
    down = [e for e in events_for(ws, 0.5) if e["event"] == "health"]
    health = wait_linked(linked_gateway.url)
    assert health["ok"] is True and health["linkChannel"]["label"].startswith("IRC clawbot@")
    assert down[0]["payload"]["ok"] is False and down[-1]["payload"]["ok"] is True  # the relink shows in `health` events

    write_config(linked_gateway, full_config(irc_config(ircd.port, nick="clawbot2", channels=[CHANNEL, NEW_CHANNEL])))
    sighup(linked_gateway)
    watcher.wait_for(lambda o: lines_from(o, "JOIN", "clawbot2"))
    obs.wait_for(lambda o: lines_from(o, "JOIN", "clawbot2"))
    assert len(lines_from(obs, "QUIT", "clawbot")) == 2
    health = wait_linked(linked_gateway.url)
    assert health["linkChannel"]["label"].startswith("IRC clawbot2@")
    r = call(ws, "send", send_params(uuid.uuid4().hex, "under a new nick", to=NEW_CHANNEL), id_="send", timeout=10)
    assert r["ok"], r
    watcher.wait_for(lambda o: o.texts("clawbot2") == ["under a new nick"])
    ws.close()


def test_removed_channel_is_unlinked_and_leaves_health(linked_gateway, ircd, observers):
    obs = observers(ircd.port)
    ws, _ = handshake(linked_gateway.url)
    write_config(linked_gateway, full_config())
    sighup(linked_gateway)
    ev = next(e for e in events_for(ws, 1.0) if e["event"] == "health")
    assert ev["payload"]["channels"] == {} and ev["payload"]["ok"] is True
    obs.wait_for(lambda o: lines_from(o, "QUIT", "clawbot"))
    r = call(ws, "send", send_params(uuid.uuid4().hex), id_="send")
    assert not r["ok"] and r["error"]["code"] == "NOT_LINKED"
    ws.close()


@pytest.mark.parametrize("broken", [{"tls": True}, {"nick": None}], ids=["tls", "missing-nick"])
def test_broken_channel_config_fails_the_whole_reload(linked_gateway, ircd, observers, broken):
    obs = observers(ircd.port)
    ws, _ = handshake(linked_gateway.url)
    irc = {k: v for k, v in irc_config(ircd.port, **{"nick": "other", **broken})["channels"]["irc"].items() if v is not None}
    # The valid gateway change in the same file is not applied either.
    write_config(linked_gateway, {"gateway": {"tickIntervalMs": 250}, "channels": {"irc": irc}})
    sighup(linked_gateway)
    assert linked_gateway.proc.poll() is None
    status = call(ws, "status", id_="st")["payload"]
    assert status["lastError"].startswith("reload failed: channels.irc."), status
    assert ("TLS" if "tls" in broken else "nick") in status["lastError"]
    assert "reload failed" in linked_gateway.log_text()
    assert status["channels"]["irc"]["linked"] is True
    time.sleep(0.5)
    assert lines_from(obs, "QUIT", "clawbot") == []
    r = call(ws, "send", send_params(uuid.uuid4().hex, "old link works"), id_="send", timeout=10)
    assert r["ok"], r
    obs.wait_for(lambda o: o.texts("clawbot") == ["old link works"])
    ws.close()
    _, hello = handshake(linked_gateway.url)
    assert hello["policy"]["tickIntervalMs"] == 30000


def test_new_agent_runs_use_the_new_backend_and_runs_in_flight_finish_on_the_old(make_gateway, tmp_path):
    old = script(tmp_path, "old.sh", 'cat >/dev/null\nsleep 1.5\necho "old backend"\n')
    new = script(tmp_path, "new.sh", 'cat >/dev/null\necho "new backend"\n')
    gw = make_gateway(config=agent_config([old]))
    slow_ws, _ = handshake(gw.url)
    slow = {}
    t = threading.Thread(target=lambda: slow.update(zip(("accepted", "final", "events"), run_agent(
        slow_ws, {"message": "first", "idempotencyKey": uuid.uuid4().hex}))))
    t.start()
    time.sleep(0.5)  # the old backend is running
    write_config(gw, full_config(agent_config([new])))
    sighup(gw)
    ws, _ = handshake(gw.url)
    _, final, _ = run_agent(ws, {"message": "second", "idempotencyKey": uuid.uuid4().hex})
    assert final["ok"] and final["payload"]["result"]["text"] == "new backend", final
    t.join(10)
    assert slow["final"]["ok"] and slow["final"]["payload"]["result"]["text"] == "old backend", slow

    # A broken agent section fails the reload as a whole; the backend stays.
    write_config(gw, full_config({"agent": {"command": []}}))
    sighup(gw)
    assert "agent.command" in call(ws, "status", id_="st")["payload"]["lastError"]
    _, final, _ = run_agent(ws, {"message": "third", "idempotencyKey": uuid.uuid4().hex}, id_="b")
    assert final["payload"]["result"]["text"] == "new backend"

    # Removed: new runs are refused.
    write_config(gw, full_config())
    sighup(gw)
    accepted, _, _ = run_agent(ws, {"message": "fourth", "idempotencyKey": uuid.uuid4().hex}, id_="c")
    assert not accepted["ok"] and accepted["error"]["code"] == "UNAVAILABLE"
    ws.close()
    slow_ws.close()
