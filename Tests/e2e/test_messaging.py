"""`send` through a real IRC server: Debian's ngircd on loopback with its own
config, the gateway linked to it, and an observer client (plain sockets)
joined to the channel to count what actually arrives."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from conftest import BIN, Gateway, call, free_port, handshake, recv_until

CHANNEL = "#ops"


class IRCServer:
    """ngircd in the foreground (-n) with a config in a temp dir."""

    def __init__(self):
        if not os.path.exists("/usr/sbin/ngircd"):
            pytest.skip("ngircd is not installed (apt-get install ngircd)")
        self.dir = tempfile.mkdtemp(prefix="openclaw-ngircd-")
        self.port = free_port()
        self.conf = os.path.join(self.dir, "ngircd.conf")
        with open(self.conf, "w") as f:
            f.write(f"""[Global]
Name = irc.test
Info = openclaw e2e
Listen = 127.0.0.1
Ports = {self.port}
MotdPhrase = test
AdminInfo1 = test
AdminInfo2 = test
AdminEMail = test@example.invalid
[Limits]
MaxNickLength = 30
PingTimeout = 120
PongTimeout = 20
[Options]
PAM = no
Ident = no
DNS = no
""")
        self.proc = None
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "ngircd.log"), "ab")
        self.proc = subprocess.Popen(["/usr/sbin/ngircd", "-n", "-f", self.conf], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("ngircd did not start listening")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def close(self):
        self.kill()
        subprocess.run(["rm", "-rf", self.dir])


class Observer:
    """A minimal IRC client that records every PRIVMSG it sees."""

    def __init__(self, port, nick="observer", channel=CHANNEL):
        self.nick = nick
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.messages: list[tuple[str, str, str, bytes]] = []  # (from, target, text, raw line)
        self.lines: list[bytes] = []
        self.lock = threading.Lock()
        self.registered = threading.Event()
        self.joined = threading.Event()
        self.closed = False
        self.send(f"NICK {nick}")
        self.send(f"USER {nick} 0 * :observer")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.registered.wait(10), "observer did not register"
        if channel:
            self.send(f"JOIN {channel}")
            assert self.joined.wait(10), "observer did not join"

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def _read(self):
        buf = b""
        self.sock.settimeout(None)
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\r\n" in buf:
                raw, buf = buf.split(b"\r\n", 1)
                line = raw.decode("utf-8", "replace")
                parts = line.split(" ")
                with self.lock:
                    self.lines.append(raw)
                if parts[0] == "PING":
                    self.send("PONG " + " ".join(parts[1:]))
                elif len(parts) > 1 and parts[1] == "001":
                    self.registered.set()
                elif len(parts) > 2 and parts[1] == "JOIN" and parts[0][1:].startswith(self.nick + "!"):
                    self.joined.set()
                elif len(parts) > 3 and parts[1] == "PRIVMSG":
                    sender = parts[0][1:].split("!")[0]
                    text = line.split(" :", 1)[1] if " :" in line else parts[3]
                    with self.lock:
                        self.messages.append((sender, parts[2], text, raw))

    def texts(self, sender=None):
        """Texts from nicks starting with `sender` (the gateway may hold an alternate such as clawbot_)."""
        with self.lock:
            return [m[2] for m in self.messages if sender is None or m[0].startswith(sender)]

    def raw_privmsgs(self):
        with self.lock:
            return [m[3] for m in self.messages]

    def wait_for(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return
            time.sleep(0.05)
        raise AssertionError(f"observer never saw it; messages: {self.messages!r}")

    def close(self):
        try:
            self.send("QUIT :bye")
        except OSError:
            pass
        self.sock.close()


def irc_config(port, nick="clawbot", **extra):
    irc = {"server": "127.0.0.1", "port": port, "nick": nick, "channels": [CHANNEL],
           "reconnectMinMs": 200, "reconnectMaxMs": 1000, "pingIntervalMs": 5000}
    irc.update(extra)
    return {"channels": {"irc": irc}}


def wait_linked(url, linked=True, timeout=15.0):
    ws, _ = handshake(url)
    try:
        deadline = time.monotonic() + timeout
        n = 0
        while time.monotonic() < deadline:
            n += 1
            res = call(ws, "health", id_=f"h{n}")
            if res["payload"]["channels"].get("irc", {}).get("linked") == linked:
                return res["payload"]
            time.sleep(0.1)
        raise AssertionError(f"irc never became linked={linked}: {res!r}")
    finally:
        ws.close()


def send_params(key, message="hi", to=CHANNEL, **extra):
    p = {"to": to, "message": message, "idempotencyKey": key}
    p.update(extra)
    return p


@pytest.fixture
def ircd():
    server = IRCServer()
    yield server
    server.close()


@pytest.fixture
def observers():
    made = []

    def make(port, **kw):
        o = Observer(port, **kw)
        made.append(o)
        return o

    yield make
    for o in made:
        o.close()


@pytest.fixture
def irc_gateway(make_gateway, ircd):
    gw = make_gateway(config=irc_config(ircd.port))
    wait_linked(gw.url)
    return gw


def test_health_reports_the_linked_channel(irc_gateway):
    ws, hello = handshake(irc_gateway.url)
    health = call(ws, "health")["payload"]
    assert health["ok"] is True
    assert health["linkChannel"]["id"] == "irc" and health["linkChannel"]["linked"] is True
    assert health["linkChannel"]["authAgeMs"] >= 0
    irc = health["channels"]["irc"]
    assert irc["configured"] and irc["linked"] and irc["connected"]
    assert call(ws, "channels.status", id_="2")["payload"]["irc"]["linked"] is True
    status = call(ws, "status", id_="3")["payload"]
    assert status["channels"]["irc"]["linked"] is True and "since" in status["channels"]["irc"]
    ws.close()


def test_cli_send_arrives_once_and_the_same_key_delivers_nothing_new(irc_gateway, ircd, observers):
    obs = observers(ircd.port)
    key = "cli-" + uuid.uuid4().hex
    cmd = [BIN, "message", "send", "--url", irc_gateway.url, "--token", "test-token",
           "--target", CHANNEL, "--message", "hi", "--idempotency-key", key, "--json"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    assert first.returncode == 0, first.stderr
    obs.wait_for(lambda o: o.texts("clawbot") == ["hi"])
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["messageId"] == json.loads(first.stdout)["messageId"]
    time.sleep(1.0)
    assert obs.texts("clawbot") == ["hi"]


def test_send_result_idempotency_and_conflicting_payload(irc_gateway, ircd, observers):
    obs = observers(ircd.port)
    ws, _ = handshake(irc_gateway.url)
    key = uuid.uuid4().hex
    res = call(ws, "send", send_params(key, "hello ops"), timeout=10)
    assert res["ok"], res
    p = res["payload"]
    assert p["channel"] == "irc" and p["to"] == CHANNEL and p["messageId"] and p["deliveredAt"] > 0
    obs.wait_for(lambda o: o.texts("clawbot") == ["hello ops"])
    # Two concurrent retries of the same key: both get the first result.
    ws.send(json.dumps({"type": "req", "id": "r1", "method": "send", "params": send_params(key, "hello ops")}))
    ws.send(json.dumps({"type": "req", "id": "r2", "method": "send", "params": send_params(key, "hello ops")}))
    for rid in ("r1", "r2"):
        r = recv_until(ws, lambda f, rid=rid: f.get("type") == "res" and f.get("id") == rid)
        assert r["ok"] and r["payload"] == p
    conflict = call(ws, "send", send_params(key, "something else"), id_="c")
    assert not conflict["ok"] and conflict["error"]["code"] == "INVALID_REQUEST"
    assert "idempotencyKey" in conflict["error"]["message"]
    time.sleep(0.5)
    assert obs.texts("clawbot") == ["hello ops"]
    ws.close()


def test_send_validation_names_the_field(irc_gateway):
    ws, _ = handshake(irc_gateway.url)
    cases = [
        ({"to": CHANNEL, "message": "x"}, "idempotencyKey"),
        ({"message": "x", "idempotencyKey": "k1"}, "to"),
        ({"to": CHANNEL, "idempotencyKey": "k2"}, "message"),
        ({"to": CHANNEL, "message": "x", "idempotencyKey": "k3", "channel": "whatsapp"}, "channel"),
        ({"to": "two words", "message": "x", "idempotencyKey": "k4"}, "to"),
    ]
    for i, (params, field) in enumerate(cases):
        r = call(ws, "send", params, id_=f"v{i}")
        assert not r["ok"] and r["error"]["code"] == "INVALID_REQUEST", r
        assert field in r["error"]["message"], r
    ws.close()


def test_long_utf8_message_is_split_under_512_bytes(irc_gateway, ircd, observers):
    obs = observers(ircd.port)
    ws, _ = handshake(irc_gateway.url)
    words = ["słowo", "漢字テキスト", "🙂🙂", "plain"] * 60
    text = " ".join(words)
    assert len(text.encode()) > 1500
    res = call(ws, "send", send_params(uuid.uuid4().hex, text), timeout=20)
    assert res["ok"], res
    obs.wait_for(lambda o: " ".join(o.texts("clawbot")) == text, timeout=15)
    raws = obs.raw_privmsgs()
    assert len(raws) >= 3
    # As relayed to the observer, with the gateway's full prefix, each line stays within RFC 2812's 512 bytes.
    assert all(len(r) + 2 <= 512 for r in raws), [len(r) for r in raws]
    ws.close()


def test_inbound_privmsg_becomes_a_chat_inbound_event(irc_gateway, ircd, observers):
    ws, _ = handshake(irc_gateway.url)
    obs = observers(ircd.port, nick="alice")
    obs.send(f"PRIVMSG {CHANNEL} :hello gateway")
    obs.send("PRIVMSG clawbot :direct hi")
    ev = recv_until(ws, lambda f: f.get("event") == "chat.inbound", timeout=10)
    assert ev["payload"]["channel"] == "irc" and ev["payload"]["from"] == "alice"
    assert ev["payload"]["to"] == CHANNEL and ev["payload"]["text"] == "hello gateway"
    assert ev["payload"]["chatType"] == "group" and isinstance(ev["seq"], int)
    ev2 = recv_until(ws, lambda f: f.get("event") == "chat.inbound", timeout=10)
    assert ev2["payload"]["chatType"] == "direct" and ev2["payload"]["text"] == "direct hi"
    ws.close()


def test_nick_collision_registers_under_an_alternate(make_gateway, ircd, observers):
    squatter = observers(ircd.port, nick="clawbot", channel=None)
    watcher = observers(ircd.port, nick="watcher")
    gw = make_gateway(config=irc_config(ircd.port))
    health = wait_linked(gw.url)
    assert health["ok"] is True
    ws, _ = handshake(gw.url)
    assert call(ws, "send", send_params(uuid.uuid4().hex, "from the alternate"), timeout=10)["ok"]
    watcher.wait_for(lambda o: ("clawbot_", CHANNEL, "from the alternate") in [m[:3] for m in o.messages])
    assert squatter.texts() == []
    ws.close()


def test_sigkill_between_ledger_write_and_reply_still_delivers_once(ircd, observers):
    obs = observers(ircd.port)
    tmp = tempfile.mkdtemp(prefix="openclaw-e2e-")
    key = "crash-" + uuid.uuid4().hex
    gw = Gateway(tmp, config=irc_config(ircd.port), extra_env={"OPENCLAW_TEST_CRASH_AFTER_LEDGER_WRITE": "1"})
    try:
        wait_linked(gw.url)
        ws, _ = handshake(gw.url)
        ws.send(json.dumps({"type": "req", "id": "s", "method": "send", "params": send_params(key, "exactly once")}))
        assert gw.proc.wait(timeout=10) == -signal.SIGKILL
        with pytest.raises(Exception):
            recv_until(ws, lambda f: f.get("id") == "s", timeout=2)
        ledger = open(os.path.join(gw.state, "send-ledger.jsonl")).read()
        assert '"op":"begin"' in ledger and key in ledger and '"op":"done"' not in ledger
        gw.stop()
        time.sleep(0.5)
        assert obs.texts("clawbot") == []

        os.unlink(os.path.join(tmp, "notify.sock"))
        gw = Gateway(tmp, config=irc_config(ircd.port))  # same state dir, no crash hook
        wait_linked(gw.url)
        ws, _ = handshake(gw.url)
        first = call(ws, "send", send_params(key, "exactly once"), timeout=10)
        assert first["ok"], first
        obs.wait_for(lambda o: o.texts("clawbot") == ["exactly once"])
        again = call(ws, "send", send_params(key, "exactly once"), id_="2", timeout=10)
        assert again["ok"] and again["payload"]["messageId"] == first["payload"]["messageId"]
        time.sleep(1.0)
        assert obs.texts("clawbot") == ["exactly once"]
        ws.close()
    finally:
        gw.stop()
        subprocess.run(["rm", "-rf", tmp])


def test_in_doubt_entry_is_refused_not_resent(ircd, observers, make_gateway):
    """A ledger left with a hand-off but no completion (died after bytes may have left)."""
    obs = observers(ircd.port)
    tmp = tempfile.mkdtemp(prefix="openclaw-e2e-")
    try:
        state = os.path.join(tmp, "state")
        os.makedirs(state)
        p = send_params("doubt", "maybe sent")
        # A real send writes begin/handoff/done; cutting `done` off leaves what a crash after the hand-off leaves.
        gw = Gateway(tmp, config=irc_config(ircd.port))
        wait_linked(gw.url)
        ws, _ = handshake(gw.url)
        assert call(ws, "send", p, timeout=10)["ok"]
        ws.close()
        gw.stop()
        path = os.path.join(state, "send-ledger.jsonl")
        lines = [line for line in open(path).read().splitlines() if '"op":"done"' not in line]
        assert any('"op":"handoff"' in line for line in lines)
        open(path, "w").write("\n".join(lines) + "\n")
        os.unlink(os.path.join(tmp, "notify.sock"))
        gw = Gateway(tmp, config=irc_config(ircd.port))
        wait_linked(gw.url)
        ws, _ = handshake(gw.url)
        r = call(ws, "send", p, timeout=10)
        assert not r["ok"] and r["error"]["code"] == "UNAVAILABLE" and r["error"]["retryable"] is False
        assert r["error"]["details"]["inDoubt"] is True
        time.sleep(0.5)
        assert obs.texts("clawbot") == ["maybe sent"]
        ws.close()
        gw.stop()
    finally:
        subprocess.run(["rm", "-rf", tmp])


def test_irc_server_down_unavailable_then_relinks(irc_gateway, ircd, observers):
    ws, _ = handshake(irc_gateway.url)
    ircd.kill()
    ev = recv_until(ws, lambda f: f.get("event") == "health" and f["payload"]["ok"] is False, timeout=15)
    assert ev["payload"]["channels"]["irc"]["linked"] is False
    assert "stateVersion" in ev
    health = call(ws, "health", id_="h")["payload"]
    assert health["ok"] is False and health["channels"]["irc"]["connected"] is False
    assert health["channels"]["irc"].get("lastError")
    r = call(ws, "send", send_params(uuid.uuid4().hex, "while down"), id_="s")
    assert not r["ok"] and r["error"]["code"] == "UNAVAILABLE" and r["error"]["retryable"] is True
    ircd.start()
    recv_until(ws, lambda f: f.get("event") == "health" and f["payload"]["ok"] is True, timeout=20)
    obs = observers(ircd.port)
    r = call(ws, "send", send_params(uuid.uuid4().hex, "back again"), id_="s2", timeout=10)
    assert r["ok"], r
    obs.wait_for(lambda o: o.texts("clawbot") == ["back again"])
    ws.close()


def test_no_channel_configured_is_not_linked(gateway):
    ws, _ = handshake(gateway.url)
    r = call(ws, "send", send_params("k"))
    assert not r["ok"] and r["error"]["code"] == "NOT_LINKED"
    health = call(ws, "health", id_="h")["payload"]
    assert health["ok"] is True and health["channels"] == {} and "linkChannel" not in health
    ws.close()


def test_tls_is_refused_with_a_clear_error(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "openclaw.json").write_text(json.dumps(
        {"channels": {"irc": {"server": "127.0.0.1", "port": 6697, "nick": "bot", "tls": True}}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "LISTEN_", "NOTIFY_"))}
    env.update({"OPENCLAW_STATE_DIR": str(state), "HOME": str(tmp_path), "OPENCLAW_GATEWAY_TOKEN": "t"})
    r = subprocess.run([BIN, "gateway", "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert "TLS is not supported" in r.stderr + r.stdout


def test_flood_control_paces_lines(make_gateway, ircd, observers):
    obs = observers(ircd.port)
    gw = make_gateway(config=irc_config(ircd.port, floodBurst=2, floodIntervalMs=300))
    wait_linked(gw.url)
    ws, _ = handshake(gw.url)
    lines = [f"line {i}" for i in range(8)]
    t0 = time.monotonic()
    r = call(ws, "send", send_params(uuid.uuid4().hex, "\n".join(lines)), timeout=15)
    elapsed = time.monotonic() - t0
    assert r["ok"], r
    # 8 PRIVMSGs + the confirming PING, 2 at once, then one per 300 ms: at least 7 × 0.3 s.
    assert elapsed >= 1.9, elapsed
    obs.wait_for(lambda o: o.texts("clawbot") == lines)
    ws.close()


@pytest.mark.parametrize("command", [["message", "send", "--target", CHANNEL, "--message", "hi"],
                                     ["agent", "--message", "hi"]])
def test_no_gateway_fails_fast_naming_the_url(tmp_path, command):
    url = f"ws://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
    env.update({"OPENCLAW_STATE_DIR": str(tmp_path), "HOME": str(tmp_path)})
    t0 = time.monotonic()
    r = subprocess.run([BIN] + command + ["--url", url], env=env, capture_output=True, text=True, timeout=10)
    assert time.monotonic() - t0 < 2.0
    assert r.returncode != 0
    assert url in r.stderr + r.stdout
