"""What hostile clients, web pages and people who can write the state dir tried
(issue 14): each test is an attack that once crashed the gateway, got past its
auth, or locked the right user out."""
import json
import os
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import BIN, Gateway, call, client_params, free_port, handshake, open_ws, recv_json, recv_until
from test_agent import agent_config, run_agent, script
from test_cli_rpc import cli_env, run, run_on_tty
from test_messaging import CHANNEL, irc_config, ircd, observers, send_params, wait_linked  # noqa: F401 (fixtures)


def connect_code(url, token):
    ws = open_ws(url)
    recv_json(ws)
    ws.send(json.dumps({"type": "req", "id": "c", "method": "connect", "params": client_params(token)}))
    res = recv_until(ws, lambda f: f.get("type") == "res")
    ws.close()
    return "ok" if res["ok"] else res["error"]["details"]["code"]


# -- crashes any client can cause -------------------------------------------------------------

def test_out_of_range_ring_cursor_acts_like_an_unknown_one(gateway):
    ws, _ = handshake(gateway.url)
    first = call(ws, "logs.tail", {"limit": 5})["payload"]
    assert first["source"] == "memory"
    _, instance, seq = first["cursor"].split(":")
    for hostile in ["18446744073709551615", "18446744073709551614", str(int(seq) + 1000)]:
        r = call(ws, "logs.tail", {"cursor": f"mem:{instance}:{hostile}"}, id_=hostile)
        assert r["ok"] and r["payload"].get("reset") is True, r
        assert any("gateway ready" in line for line in r["payload"]["lines"])
    assert gateway.proc.poll() is None
    assert call(ws, "health", id_="h")["payload"]["ok"] is True


@pytest.mark.parametrize("ts", [-9223372036854775808, 9223372036854775807, -1])
def test_ledger_record_with_absurd_timestamp_is_skipped_not_a_crash_loop(make_gateway, ts):
    tmp = tempfile.mkdtemp(prefix="openclaw-e2e-")
    state = os.path.join(tmp, "state")
    os.makedirs(state, mode=0o700)
    good = {"op": "begin", "key": "k-good", "hash": "h", "id": "m1", "channel": "irc", "to": "#ops",
            "ts": int(time.time() * 1000)}
    bad = dict(good, key="k-bad", ts=ts)
    with open(os.path.join(state, "send-ledger.jsonl"), "w") as f:
        f.write(json.dumps(bad) + "\n" + json.dumps(good) + "\n")
    gw = Gateway(tmp)
    try:
        ws, _ = handshake(gw.url)
        assert call(ws, "health")["payload"]["ok"] is True
        assert "skipped 1 torn or unreadable line(s)" in gw.log_text()
        ledger = open(os.path.join(state, "send-ledger.jsonl")).read()
        assert "k-good" in ledger and "k-bad" not in ledger
    finally:
        gw.stop()
        subprocess.run(["rm", "-rf", tmp])


def test_ledger_compaction_never_follows_a_planted_temp_symlink(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    tmp = tempfile.mkdtemp(prefix="openclaw-e2e-")
    state = os.path.join(tmp, "state")
    os.makedirs(state, mode=0o700)
    with open(os.path.join(state, "send-ledger.jsonl"), "w") as f:
        f.write('{"op":"begin","key":"k","hash":"h","id":"m","ts":1}\n{"torn')  # a torn tail forces compaction
    os.symlink(victim, os.path.join(state, "send-ledger.jsonl.tmp"))
    gw = Gateway(tmp)
    try:
        assert victim.read_text() == "precious\n"
        assert not os.path.islink(os.path.join(state, "send-ledger.jsonl"))
    finally:
        gw.stop()
        subprocess.run(["rm", "-rf", tmp])


def test_state_dir_writable_by_everyone_is_refused_and_an_open_token_file_warned(tmp_path, make_gateway):
    r = run_gateway_expecting_refusal(tmp_path, {}, {"OPENCLAW_GATEWAY_TOKEN": "t"}, state_mode=0o777)
    assert r.returncode == 1 and "writable by every user" in r.stderr and "chmod 700" in r.stderr, r.stderr
    tmp = tempfile.mkdtemp(prefix="openclaw-e2e-")
    state = os.path.join(tmp, "state")
    os.makedirs(state, mode=0o700)
    with open(os.path.join(state, "gateway.token"), "w") as f:
        f.write("file-token\n")
    os.chmod(os.path.join(state, "gateway.token"), 0o644)
    gw = Gateway(tmp, token=None)
    try:
        assert connect_code(gw.url, "file-token") == "ok"
        assert "readable by other users" in gw.log_text() and "chmod 600" in gw.log_text()
    finally:
        gw.stop()
        subprocess.run(["rm", "-rf", tmp])


# -- auth silently off ------------------------------------------------------------------------

def run_gateway_expecting_refusal(tmp_path, config, env_extra, state_mode=0o700):
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(state_mode)
    (state / "openclaw.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "LISTEN_", "NOTIFY_"))}
    env.update({"OPENCLAW_STATE_DIR": str(state), "HOME": str(tmp_path)}, **env_extra)
    return subprocess.run([BIN, "gateway", "--port", str(free_port())], env=env, capture_output=True, text=True,
                          timeout=15)


def test_password_mode_with_only_a_token_variable_refuses_to_start(tmp_path):
    r = run_gateway_expecting_refusal(tmp_path, {"gateway": {"auth": {"mode": "password"}}},
                                      {"OPENCLAW_GATEWAY_TOKEN": "a-token"})
    assert r.returncode == 1
    assert "OPENCLAW_GATEWAY_PASSWORD" in r.stderr and "password" in r.stderr, r.stderr


def test_token_mode_without_any_token_refuses_to_start(tmp_path):
    r = run_gateway_expecting_refusal(tmp_path, {"gateway": {"auth": {"mode": "token"}}},
                                      {"OPENCLAW_GATEWAY_PASSWORD": "a-password"})
    assert r.returncode == 1
    assert "OPENCLAW_GATEWAY_TOKEN" in r.stderr, r.stderr


def test_token_file_still_guards_when_a_password_variable_is_set(make_gateway):
    tmp = tempfile.mkdtemp(prefix="openclaw-e2e-")
    state = os.path.join(tmp, "state")
    os.makedirs(state, mode=0o700)
    with open(os.path.join(state, "gateway.token"), "w") as f:
        f.write("file-token\n")
    os.chmod(os.path.join(state, "gateway.token"), 0o600)
    gw = Gateway(tmp, token=None, extra_env={"OPENCLAW_GATEWAY_PASSWORD": "stray-password"})
    try:
        assert connect_code(gw.url, None) == "AUTH_TOKEN_MISSING"
        assert connect_code(gw.url, "file-token") == "ok"
        assert "auth token" in gw.log_text() and "auth none" not in gw.log_text()
    finally:
        gw.stop()
        subprocess.run(["rm", "-rf", tmp])


def test_password_mode_uses_the_password_variable_next_to_a_token_variable(make_gateway):
    gw = make_gateway(config={"gateway": {"auth": {"mode": "password"}}},
                      extra_env={"OPENCLAW_GATEWAY_PASSWORD": "the-password"})
    ws = open_ws(gw.url)
    recv_json(ws)
    ws.send(json.dumps({"type": "req", "id": "c", "method": "connect",
                        "params": dict(client_params(), auth={"password": "the-password"})}))
    assert recv_until(ws, lambda f: f.get("type") == "res")["ok"]
    assert connect_code(gw.url, "test-token") == "AUTH_PASSWORD_MISSING"


# -- local lockout ----------------------------------------------------------------------------

def test_fifty_wrong_tokens_never_block_the_right_one(make_gateway):
    gw = make_gateway(config={"gateway": {"authFailuresPerMinute": 3}})
    codes = [connect_code(gw.url, f"guess-{i}") for i in range(50)]
    assert codes[:3] == ["AUTH_TOKEN_MISMATCH"] * 3
    assert set(codes[3:]) == {"AUTH_RATE_LIMITED"}
    # Another client on the same loopback address, with the right token, right now.
    assert connect_code(gw.url, "test-token") == "ok"
    # Once throttled, failures are not logged one by one.
    assert gw.log_text().count("auth failed") == 4


# -- cross-site WebSocket hijacking and DNS rebinding ------------------------------------------

def upgrade_status(port, host, origin=None):
    head = (f"GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
    if origin:
        head += f"Origin: {origin}\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall((head + "\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1])


def test_web_pages_and_rebound_names_cannot_open_a_socket(make_gateway):
    gw = make_gateway(token=None)  # the worst case: no secret at all
    own = f"127.0.0.1:{gw.port}"
    assert upgrade_status(gw.port, own, "http://evil.example") == 403
    assert upgrade_status(gw.port, own, "null") == 403
    assert upgrade_status(gw.port, f"localhost:{gw.port}", f"http://localhost:{gw.port + 1}") == 403
    assert upgrade_status(gw.port, f"evil.example:{gw.port}") == 403  # DNS rebinding: the page's own name
    assert upgrade_status(gw.port, f"127.0.0.1.evil.example:{gw.port}") == 403
    assert "upgrade refused: 403" in gw.log_text()
    # Native clients send no Origin; the gateway's own origin is fine too.
    assert upgrade_status(gw.port, own) == 101
    assert upgrade_status(gw.port, f"localhost:{gw.port}") == 101
    assert upgrade_status(gw.port, f"[::1]:{gw.port}") == 101
    assert upgrade_status(gw.port, own, f"http://{own}") == 101


def test_allowed_origins_and_hosts_come_from_the_config(make_gateway):
    gw = make_gateway(config={"gateway": {"allowedOrigins": ["https://app.example"],
                                          "allowedHosts": ["gw.example"]}})
    assert upgrade_status(gw.port, f"127.0.0.1:{gw.port}", "https://app.example") == 101
    assert upgrade_status(gw.port, f"127.0.0.1:{gw.port}", "https://other.example") == 403
    assert upgrade_status(gw.port, "gw.example") == 101


# -- IRC targets are bytes -------------------------------------------------------------------

HOSTILE_TARGETS = [
    "#ops\u0600,#secret",       # U+0600 + comma: one grapheme, two targets on the wire
    "#ops,\u0301#secret",       # comma + combining mark
    "#ops \u0301x",             # a space glued to a mark: an extra IRC parameter
    "#ops\r\nQUIT",             # CR LF: was sent to #opsQUIT
    "#ops\u202e",               # a right-to-left override in a channel name
    "#" + "a" * 600,            # a line the server drops the link for
    "#" + "a" * 500_000,        # a 500 KB ledger record
    "#secret",                  # well-formed, but not a configured channel: never JOINed
]


def test_irc_targets_are_validated_as_bytes_and_never_reach_the_wire(make_gateway, ircd, observers):
    secret = observers(ircd.port, nick="spy", channel="#secret")
    ops = observers(ircd.port, nick="opsobs")
    gw = make_gateway(config=irc_config(ircd.port))
    wait_linked(gw.url)
    ws, _ = handshake(gw.url)
    for i, to in enumerate(HOSTILE_TARGETS):
        r = call(ws, "send", send_params(f"hostile-{i}", "leak", to=to), id_=f"h{i}", timeout=10)
        assert not r["ok"] and r["error"]["code"] == "INVALID_REQUEST", (to[:40], r)
        assert r["error"]["details"]["field"] == "to"
    ledger = os.path.join(gw.state, "send-ledger.jsonl")
    assert not os.path.exists(ledger) or os.path.getsize(ledger) < 4096
    # The link survived and a proper send still goes out.
    assert call(ws, "send", send_params("fine", "hello ops"), id_="ok", timeout=10)["ok"]
    ops.wait_for(lambda o: "hello ops" in o.texts("clawbot"))
    assert secret.texts() == [] and "leak" not in ops.texts()


# -- the agent backend's environment ----------------------------------------------------------

def test_agent_backend_gets_no_gateway_secrets_or_systemd_channels(make_gateway, tmp_path):
    creds = tmp_path / "creds"
    creds.mkdir()
    backend = script(tmp_path, "env.sh", 'read -r msg\nenv | cut -d= -f1 | sort | tr "\\n" " "\n')
    gw = make_gateway(config=agent_config([backend]),
                      extra_env={"CREDENTIALS_DIRECTORY": str(creds), "OPENCLAW_GATEWAY_PASSWORD": "pw",
                                 "OPENCLAW_MARKER": "kept"})
    ws, _ = handshake(gw.url)
    accepted, final, _ = run_agent(ws, {"message": "x", "idempotencyKey": uuid.uuid4().hex})
    names = set(final["payload"]["result"]["text"].split())
    assert "OPENCLAW_MARKER" in names and "PATH" in names and "OPENCLAW_RUN_ID" in names
    leaked = names & {"OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_PASSWORD", "CREDENTIALS_DIRECTORY",
                      "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"}
    assert not leaked


# -- control characters in logs and on terminals ----------------------------------------------

FORGERY = "hi\x1b]0;pwned\x07\r\n2026-01-01T00:00:00.000Z ERROR forged line\x1b[2J\u009b31m"


def test_client_text_is_escaped_in_the_log_and_in_logs_tail(gateway):
    ws, _ = handshake(gateway.url)
    assert call(ws, "system-event", {"text": FORGERY})["ok"]
    tail = call(ws, "logs.tail", {"limit": 50}, id_="t")["payload"]["lines"]
    logged = [line for line in tail if "system event" in line]
    assert len(logged) == 1
    assert "\\x1b]0;pwned\\x07\\r\\n2026" in logged[0] and "\\u009b31m" in logged[0]
    assert not any(c in "".join(tail) for c in "\x1b\x07\r\n\u009b")
    text = gateway.log_text()
    assert "\x1b" not in text and "\u009b" not in text
    assert not any(line.startswith("2026-01-01T00:00:00.000Z ERROR forged") for line in text.splitlines())


def test_cli_never_writes_raw_escapes_from_the_gateway_to_a_terminal(make_gateway, tmp_path):
    backend = script(tmp_path, "rude.sh", 'read -r msg\nprintf "ok\\033]0;pwned\\007\\033[2J\\tdone\\n"\n')
    gw = make_gateway(config=agent_config([backend]))
    env = cli_env(gw, TERM="xterm")
    shown = run_on_tty(["agent", "--message", "x"], env)
    assert "\x1b]0;" not in shown and "\x1b[2J" not in shown and "\x07" not in shown
    assert "ok\\x1b]0;pwned\\x07\\x1b[2J\tdone" in shown.replace("\r\n", "\n")
    # Piped, the agent's bytes pass through exactly (scripts may want them).
    assert run(["agent", "--message", "x"], env).stdout == "ok\x1b]0;pwned\x07\x1b[2J\tdone\n"
