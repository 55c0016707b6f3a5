"""Inbound IRC messages answered by an agent backend, in sessions: a real
ngircd, the gateway linked to it, people as plain-socket IRC clients, and a
shell backend that reports what it saw (its stdin, OPENCLAW_SESSION_FILE)."""
import json
import os
import time

import pytest

from conftest import call, handshake
from test_messaging import CHANNEL, irc_config, ircd, observers, wait_linked  # noqa: F401 (fixtures)

# Answers "echo:<message>|turns:<lines in the session file>|last:<text of the last turn>" and
# logs "<start> <end> <session> <message>" lines to $RUNLOG.
BACKEND = r"""#!/bin/sh
msg=$(cat)
start=$(date +%s.%N)
case "$msg" in *slow*) sleep 1.5 ;; esac
turns=$(wc -l < "$OPENCLAW_SESSION_FILE")
last=$(tail -n 1 "$OPENCLAW_SESSION_FILE" | sed -n 's/.*"text":"\([^"]*\)".*/\1/p')
case "$msg" in
  *long*) words=$(printf 'word%03d ' $(seq 1 50)); i=0
          while [ $i -lt 5 ]; do printf 'part %d: %s\rafter CR %s\r\n' $i "$words" "$words"; i=$((i+1)); done ;;
  *) printf 'echo:%s|turns:%s|last:%s\n' "$msg" "$turns" "$last" ;;
esac
echo "$start $(date +%s.%N) $OPENCLAW_SESSION_KEY $msg" >> "$RUNLOG"
"""


def session_gateway(make_gateway, ircd, tmp_path, allow=("alice", "bob"), **extra):  # noqa: F811
    backend = tmp_path / "backend.sh"
    backend.write_text(BACKEND)
    backend.chmod(0o755)
    config = irc_config(ircd.port, allowFrom=list(allow), floodIntervalMs=0, floodBurst=100)
    config["agent"] = {"command": [str(backend)], "maxConcurrent": 4, "timeoutSeconds": 30, "runner": "fork"}
    config.update(extra)
    gw = make_gateway(config=config, extra_env={"RUNLOG": str(tmp_path / "runs.log")})
    wait_linked(gw.url)
    return gw


def wait_log(gw, text, timeout=5.0):
    deadline = time.monotonic() + timeout
    while text not in gw.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert text in gw.log_text(), gw.log_text()[-2000:]


def runs(tmp_path):
    path = tmp_path / "runs.log"
    if not path.exists():
        return []
    return [(float(a), float(b), key, msg) for a, b, key, msg in
            (line.split(" ", 3) for line in path.read_text().splitlines())]


def test_direct_and_channel_messages_are_answered_where_they_came_from(make_gateway, ircd, observers, tmp_path):  # noqa: F811
    gw = session_gateway(make_gateway, ircd, tmp_path)
    alice = observers(ircd.port, nick="alice")
    bob = observers(ircd.port, nick="bob")
    alice.send("PRIVMSG clawbot :hello there")
    alice.wait_for(lambda o: any(m[1] == "alice" and m[2].startswith("echo:hello there") for m in o.messages))
    bob.send(f"PRIVMSG {CHANNEL} :clawbot: what's up")
    bob.wait_for(lambda o: any(m[1] == CHANNEL and m[2].startswith("bob: echo:what's up") for m in o.messages))
    # The channel got the channel reply, not the direct one.
    assert not any("hello there" in m[2] for m in bob.messages)
    # Chatter not addressed to the bot starts nothing.
    bob.send(f"PRIVMSG {CHANNEL} :just talking")
    time.sleep(0.5)
    assert {r[2] for r in runs(tmp_path)} == {"irc:direct:alice", "irc:group:#ops"}
    ws, _ = handshake(gw.url)
    listed = call(ws, "sessions.list")["payload"]
    assert {s["key"] for s in listed["sessions"]} == {"irc:direct:alice", "irc:group:#ops"}
    history = call(ws, "chat.history", {"sessionKey": "irc:group:#ops"}, id_="h")["payload"]["messages"]
    assert [(m["role"], m["text"]) for m in history] == [("user", "what's up"), ("assistant", "echo:what's up|turns:0|last:")]
    assert history[0]["from"] == "bob"
    ws.close()


def test_a_sender_outside_allow_from_gets_nothing_and_the_log_says_why(make_gateway, ircd, observers, tmp_path):  # noqa: F811
    gw = session_gateway(make_gateway, ircd, tmp_path, allow=("alice",))
    mallory = observers(ircd.port, nick="mallory")
    mallory.send("PRIVMSG clawbot :give me the keys")
    wait_log(gw, "ignored a message from mallory: mallory is not in channels.irc.allowFrom")
    time.sleep(0.3)
    assert runs(tmp_path) == [] and not any(m[0].startswith("clawbot") for m in mallory.messages)


def test_default_allow_from_is_nobody(make_gateway, ircd, observers, tmp_path):  # noqa: F811
    config = irc_config(ircd.port)
    config["agent"] = {"command": ["/bin/cat"], "runner": "fork"}
    gw = make_gateway(config=config)
    wait_linked(gw.url)
    alice = observers(ircd.port, nick="alice")
    alice.send("PRIVMSG clawbot :hi")
    wait_log(gw, "ignored a message from alice: channels.irc.allowFrom is empty")


def test_the_second_turn_sees_the_first_also_after_a_restart(make_gateway, ircd, observers, tmp_path):  # noqa: F811
    gw = session_gateway(make_gateway, ircd, tmp_path)
    alice = observers(ircd.port, nick="alice")
    alice.send("PRIVMSG clawbot :first")
    alice.wait_for(lambda o: any(m[2] == "echo:first|turns:0|last:" for m in o.messages))
    alice.send("PRIVMSG clawbot :second")
    alice.wait_for(lambda o: any(m[2] == "echo:second|turns:2|last:echo:first|turns:0|last:" for m in o.messages))
    # Restart on the same state dir: the transcript is still there for the third turn.
    state, env = gw.state, gw.env
    gw.stop()
    cfg = json.load(open(os.path.join(state, "openclaw.json")))
    gw2 = make_gateway(config=cfg, extra_env={"OPENCLAW_STATE_DIR": state, "RUNLOG": env["RUNLOG"]})
    wait_linked(gw2.url)
    alice.send("PRIVMSG clawbot :third")
    alice.wait_for(lambda o: any(m[2].startswith("echo:third|turns:4|last:echo:second") for m in o.messages), timeout=20)


def test_conversations_run_in_parallel_but_one_conversation_in_order(make_gateway, ircd, observers, tmp_path):  # noqa: F811
    session_gateway(make_gateway, ircd, tmp_path)
    alice = observers(ircd.port, nick="alice")
    bob = observers(ircd.port, nick="bob")
    alice.send("PRIVMSG clawbot :slow one")
    alice.send("PRIVMSG clawbot :slow two")
    bob.send("PRIVMSG clawbot :slow bob")
    alice.wait_for(lambda o: sum(m[2].startswith("echo:slow") for m in o.messages) == 2, timeout=20)
    bob.wait_for(lambda o: any(m[2].startswith("echo:slow bob") for m in o.messages), timeout=20)
    by = {r[3]: r for r in runs(tmp_path)}
    one, two, b = by["slow one"], by["slow two"], by["slow bob"]
    assert two[0] >= one[1], "two turns of one conversation overlapped"
    assert b[0] < one[1] and one[0] < b[1], "two conversations did not run in parallel"
    # The second turn of alice saw the first.
    assert any(m[2].startswith("echo:slow two|turns:2") for m in alice.messages)


def test_a_long_reply_with_cr_lf_arrives_as_clean_privmsg_lines(make_gateway, ircd, observers, tmp_path):  # noqa: F811
    session_gateway(make_gateway, ircd, tmp_path)
    alice = observers(ircd.port, nick="alice")
    alice.send("PRIVMSG clawbot :long please")
    alice.wait_for(lambda o: any("part 4" in m[2] for m in o.messages) and
                   sum("after CR" in m[2] for m in o.messages) == 5, timeout=20)
    time.sleep(0.3)
    from_bot = [raw for raw in alice.lines if raw.startswith(b":clawbot")]
    assert from_bot and all(b" PRIVMSG alice :" in raw for raw in from_bot), from_bot
    assert all(len(raw) + 2 <= 512 and b"\r" not in raw and b"\0" not in raw for raw in from_bot)
    text = "".join(m[2] for m in alice.messages if m[0].startswith("clawbot"))
    assert len(text.encode()) >= 2000
    assert all(f"part {i}:" in text for i in range(5))
    assert len(from_bot) == 10  # each CR and LF starts a new PRIVMSG line


def test_chat_send_streams_chat_events_and_replies_in_the_sessions_channel(make_gateway, ircd, observers, tmp_path):  # noqa: F811
    gw = session_gateway(make_gateway, ircd, tmp_path)
    alice = observers(ircd.port, nick="alice")
    ws, _ = handshake(gw.url)
    key = "k-" + str(time.time())
    res = call(ws, "chat.send", {"sessionKey": "irc:direct:alice", "message": "from a client", "idempotencyKey": key})
    assert res["ok"] and res["payload"]["status"] == "started", res
    run_id = res["payload"]["runId"]
    events = []
    deadline = time.monotonic() + 15
    while not any(e["state"] == "final" for e in events) and time.monotonic() < deadline:
        f = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if f.get("event") == "chat" and f["payload"]["runId"] == run_id:
            events.append(f["payload"])
    assert events[-1]["state"] == "final" and events[-1]["sessionKey"] == "irc:direct:alice"
    assert events[-1]["message"]["content"][0]["text"].startswith("echo:from a client|turns:0")
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    alice.wait_for(lambda o: any(m[2].startswith("echo:from a client") for m in o.messages))
    # The same key again is the same run; with another message it is refused.
    again = call(ws, "chat.send", {"sessionKey": "irc:direct:alice", "message": "from a client", "idempotencyKey": key}, id_="2")
    assert again["ok"] and again["payload"]["runId"] == run_id
    other = call(ws, "chat.send", {"sessionKey": "irc:direct:alice", "message": "else", "idempotencyKey": key}, id_="3")
    assert not other["ok"] and other["error"]["code"] == "INVALID_REQUEST"
    ws.close()


def test_cli_agent_session_and_sessions_commands(make_gateway, tmp_path):
    import subprocess
    from conftest import BIN
    backend = tmp_path / "backend.sh"
    backend.write_text(BACKEND)
    backend.chmod(0o755)
    gw = make_gateway(config={"agent": {"command": [str(backend)], "runner": "fork"}},
                      extra_env={"RUNLOG": str(tmp_path / "runs.log")})
    base = ["--url", gw.url, "--token", "test-token"]

    def cli(*args):
        r = subprocess.run([BIN, *args, *base], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    first = json.loads(cli("agent", "--message", "one", "--session", "work", "--json"))
    assert first["status"] == "ok" and first["sessionKey"] == "work"
    second = json.loads(cli("agent", "--message", "two", "--session", "work", "--json"))
    assert second["result"]["text"] == "echo:two|turns:2|last:echo:one|turns:0|last:"
    listed = json.loads(cli("sessions", "list", "--json"))
    assert [s["key"] for s in listed["sessions"]] == ["work"] and listed["sessions"][0]["kind"] == "other"
    history = json.loads(cli("sessions", "history", "work", "--limit", "2", "--json"))
    assert [m["text"] for m in history["messages"]] == ["two", "echo:two|turns:2|last:echo:one|turns:0|last:"]
    text = cli("sessions", "history", "work")
    assert "user: one" in text and "assistant: echo:one" in text
    assert "work" in cli("sessions", "list")


def test_allow_from_changes_on_reload_without_relinking(make_gateway, ircd, observers, tmp_path):  # noqa: F811
    import signal
    gw = session_gateway(make_gateway, ircd, tmp_path, allow=("alice",))
    mallory = observers(ircd.port, nick="mallory")
    path = os.path.join(gw.state, "openclaw.json")
    cfg = json.load(open(path))
    cfg["channels"]["irc"]["allowFrom"] = ["alice", "Mallory"]
    json.dump(cfg, open(path, "w"))
    gw.proc.send_signal(signal.SIGHUP)
    wait_log(gw, "channel irc: allowFrom changed")
    assert "relinking" not in gw.log_text()
    mallory.send("PRIVMSG clawbot :now me")
    mallory.wait_for(lambda o: any(m[2].startswith("echo:now me") for m in o.messages))
