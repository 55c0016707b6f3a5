"""What a hostile or careless client sends must not cost the gateway unbounded
memory, other clients' connections or its event loop (issue 14, items 11-16)."""
import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import BIN, call, client_params, free_port, handshake, open_ws, recv_json
from rawws import RawWS

MB = 1_000_000


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def wait_rss_below(pid: int, limit_kb: int, timeout=15.0) -> int:
    """The gateway trims freed memory every 5 s: poll until RSS is under the limit."""
    deadline = time.monotonic() + timeout
    while True:
        rss = rss_kb(pid)
        if rss <= limit_kb or time.monotonic() > deadline:
            return rss
        time.sleep(0.25)


def fast_text_frame(payload: bytes) -> bytes:
    """A masked client text frame with an all-zero key (masking is then a no-op: fast in Python)."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    return header + b"\0\0\0\0" + payload


def drain_notify(gw):
    """Reads sd_notify messages as systemd would: an unread notify socket (queue of 10
    datagrams) would block the gateway's STATUS= updates during a long burst."""
    def run():
        try:
            while True:
                gw.notify.sock.settimeout(None)
                gw.notify.messages.append(gw.notify.sock.recv(4096).decode())
        except OSError:
            pass
    threading.Thread(target=run, daemon=True).start()


def raw_client(port: int, token="test-token", rcvbuf=None, **over) -> RawWS:
    ws = RawWS(port, rcvbuf=rcvbuf)
    assert ws.recv_json()["event"] == "connect.challenge"
    ws.send_json({"type": "req", "id": "hs", "method": "connect", "params": client_params(token, **over)})
    while True:
        frame = ws.recv_json()
        if frame.get("id") == "hs":
            assert frame["ok"], frame
            return ws


def raw_call(ws: RawWS, method: str, params: dict, id_="1") -> dict:
    ws.sock.sendall(fast_text_frame(json.dumps({"type": "req", "id": id_, "method": method, "params": params}).encode()))
    while True:
        frame = ws.recv_json()
        if frame.get("type") == "res" and frame.get("id") == id_:
            return frame


# item 11: client strings are bounded; an oversized answer is an error, not a close

def test_presence_text_and_client_strings_are_bounded(gateway):
    ws, _ = handshake(gateway.url)
    ok = call(ws, "system-event", {"text": "é" * 512})  # 1024 bytes: the limit
    assert ok["ok"], ok
    res = call(ws, "system-event", {"text": "x" * 1025}, id_="2")
    assert not res["ok"]
    assert res["error"]["code"] == "INVALID_REQUEST"
    assert res["error"]["details"] == {"field": "text", "maxBytes": 1024}
    ws.close()

    ws = open_ws(gateway.url)
    recv_json(ws)
    params = client_params("test-token")
    params["client"]["displayName"] = "d" * 2000
    ws.send(json.dumps({"type": "req", "id": "hs", "method": "connect", "params": params}))
    res = recv_json(ws)
    assert not res["ok"] and res["error"]["details"]["field"] == "client.displayName", res
    ws.close()


def test_big_presence_texts_do_not_stop_handshakes(gateway):
    """The reported attack: five read-scoped sockets set ~1 MB presence texts and read
    nothing, so presence events skip them; every later hello-ok would carry 5 MB."""
    hogs = [raw_client(gateway.port, scopes=["operator.read"], rcvbuf=4096) for _ in range(5)]
    for i, ws in enumerate(hogs):
        ws.sock.sendall(fast_text_frame(json.dumps({"type": "req", "id": f"h{i}", "method": "system-event",
                                                    "params": {"text": "p" * (MB - 200)}}).encode()))
    time.sleep(0.6)  # past the coalesced presence broadcast
    for _ in range(3):
        ws, hello = handshake(gateway.url)
        assert hello["type"] == "hello-ok"
        assert call(ws, "health")["ok"]
        ws.close()
    for ws in hogs:
        ws.close()


def test_oversized_response_is_an_error_and_the_connection_stays(make_gateway):
    gw = make_gateway(config={"gateway": {"maxBufferedBytes": 8192}})
    crowd = [raw_client(gw.port, client={"id": f"c{i}", "displayName": "n" * 1000}) for i in range(12)]
    ws, _ = handshake(gw.url)
    res = call(ws, "system-presence")
    assert not res["ok"], "a presence list of 12 x 1 KB names cannot fit 8 KB"
    assert res["error"]["code"] == "UNAVAILABLE"
    assert res["error"]["details"]["code"] == "RESPONSE_TOO_LARGE"
    assert res["error"]["details"]["maxBufferedBytes"] == 8192
    assert call(ws, "health", id_="2")["ok"], "the connection must survive a refused answer"
    ws.close()
    for c in crowd:
        c.close()


# item 12: memory that grows with what clients send comes back

def test_rss_returns_after_100_one_megabyte_system_events(gateway):
    pid = gateway.proc.pid
    ws = raw_client(gateway.port)
    raw_call(ws, "health", {})
    start = rss_kb(pid)
    for i in range(100):
        raw_call(ws, "system-event", {"text": "s" * (MB - 200)}, id_=str(i))
    ws.close()
    rss = wait_rss_below(pid, start + 40_000)
    assert rss <= start + 40_000, f"RSS {start} kB -> {rss} kB after the client left"


def test_closed_connections_release_what_they_read(gateway):
    """120 clients each send 1 MB and leave while 250 others stay connected."""
    pid = gateway.proc.pid
    drain_notify(gateway)
    idle = [raw_client(gateway.port, client={"id": f"idle{i}"}) for i in range(250)]
    start = rss_kb(pid)
    request = fast_text_frame(json.dumps({"type": "req", "id": "big", "method": "health",
                                          "params": {"pad": "z" * (MB - 200)}}).encode())
    for i in range(120):
        ws = raw_client(gateway.port, client={"id": f"burst{i}"})
        ws.sock.sendall(request)
        while ws.recv_json().get("id") != "big":
            pass
        ws.close()
    for ws in idle:
        ws.sock.setblocking(False)

    def drain_idle():  # idle clients read their presence events, as live ones would
        for ws in idle:
            try:
                while ws.sock.recv(1 << 16):
                    pass
            except BlockingIOError:
                pass

    deadline = time.monotonic() + 15
    while True:
        drain_idle()
        rss = rss_kb(pid)
        if rss <= start + 40_000 or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert rss <= start + 40_000, f"RSS {start} kB -> {rss} kB after 120 x 1 MB clients left"
    for ws in idle:
        ws.close()


# item 16: logging never blocks the loop

def test_undrained_stderr_pipe_does_not_freeze_the_gateway(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "openclaw.json").write_text('{"gateway": {"tickIntervalMs": 30000}}')
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "LISTEN_", "NOTIFY_", "JOURNAL_", "INVOCATION_"))}
    env.update({"OPENCLAW_STATE_DIR": str(state), "HOME": str(tmp_path), "OPENCLAW_GATEWAY_TOKEN": "test-token"})
    # stderr is a pipe that nobody reads: once its 64 KB fill up, a blocking write never returns.
    proc = subprocess.Popen([BIN, "gateway", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "gateway never listened"
                time.sleep(0.05)
        ws, _ = handshake(f"ws://127.0.0.1:{port}")
        for i in range(400):  # ~400 KB of log lines
            assert call(ws, "system-event", {"text": f"{i} " + "l" * 1000}, id_=str(i), timeout=5)["ok"]
        assert call(ws, "health", id_="h")["ok"]
        ws.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# item 13: unauthenticated sockets and the total output

def upgraded(port: int, rcvbuf=None) -> RawWS:
    ws = RawWS(port, rcvbuf=rcvbuf)
    assert ws.recv_json()["event"] == "connect.challenge"
    return ws


def test_pongs_before_hello_are_capped(make_gateway):
    """100 sockets that never authenticate ping without reading: the gateway drops them
    once 64 KiB of pongs are queued instead of holding megabytes for each."""
    gw = make_gateway(config={"gateway": {"handshakeTimeoutMs": 60000}})
    drain_notify(gw)
    pid = gw.proc.pid
    start = rss_kb(pid)
    pings = b"".join(struct.pack("!BB", 0x89, 0x80 | 125) + b"\0\0\0\0" + b"p" * 125 for _ in range(20_000))
    socks = [upgraded(gw.port, rcvbuf=4096) for _ in range(100)]
    for ws in socks:
        try:
            ws.sock.sendall(pings)  # 2.6 MB of pings, 2.5 MB of pongs
        except OSError:
            pass  # already dropped
    peak = 0
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:  # while the gateway reads the pings
        peak = max(peak, rss_kb(pid) - start)
        time.sleep(0.05)
    assert peak < 16_000, f"RSS grew {peak} kB for 100 unauthenticated sockets"
    assert "slow consumer" in gw.log_text()
    for ws in socks:
        ws.close()


def test_unauthenticated_connections_are_capped_oldest_first(make_gateway):
    gw = make_gateway(config={"gateway": {"maxPendingConnections": 16, "handshakeTimeoutMs": 60000}})
    idle = [upgraded(gw.port) for _ in range(40)]
    ws, hello = handshake(gw.url)  # never locked out by sockets that hold the handshake open
    assert hello["type"] == "hello-ok"
    ws.close()
    # 41 pending sockets against a cap of 16: the 25 oldest were closed with 1013.
    assert [s.recv_close_code() for s in idle[:25]] == [1013] * 25
    for s in idle[26:]:
        s.sock.settimeout(0.05)
        with pytest.raises(TimeoutError):
            s.recv_frame()
    assert "unauthenticated connection(s) closed" in gw.log_text()
    for s in idle:
        s.close()


def test_total_output_budget_drops_lagging_clients_not_fast_ones(make_gateway):
    gw = make_gateway(config={"gateway": {"outputBudgetBytes": 1 << 20, "maxBufferedBytes": 1 << 20}})
    fast, _ = handshake(gw.url)
    laggards = [raw_client(gw.port, client={"id": f"lag{i}"}, rcvbuf=4096) for i in range(8)]
    burst = b"".join(fast_text_frame(json.dumps({"type": "req", "id": str(n), "method": "status"}).encode())
                     for n in range(400))
    for ws in laggards:
        ws.sock.sendall(burst)  # ~400 KB of answers each, never read
    for i in range(20):
        assert call(fast, "health", id_=f"f{i}")["ok"]
    assert gw.log_text().count("slow consumer") >= 1, "the budget never dropped a laggard"
    for ws in laggards:
        ws.close()
    fast.close()


# item 14: descriptors

def fd_limits(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no Max open files")


def test_soft_descriptor_limit_is_raised_to_the_hard_one(make_gateway):
    gw = make_gateway(max_fds=(64, 4096))
    assert fd_limits(gw.proc.pid) == (4096, 4096)
    clients = [raw_client(gw.port, client={"id": f"fd{i}"}) for i in range(120)]  # beyond the old soft 64
    assert raw_call(clients[-1], "health", {})["ok"]
    for c in clients:
        c.close()


def test_out_of_descriptors_is_logged_once_not_every_retry(make_gateway):
    gw = make_gateway(max_fds=48)
    assert "only 48 file descriptors allowed" in gw.log_text()
    held = [socket.create_connection(("127.0.0.1", gw.port), timeout=5) for _ in range(80)]
    deadline = time.monotonic() + 5
    while "cannot accept" not in gw.log_text():
        assert time.monotonic() < deadline, "EMFILE never reported"
        time.sleep(0.05)
    time.sleep(2.0)  # eight retries at 250 ms
    lines = [l for l in gw.log_text().splitlines() if "cannot accept" in l]
    assert len(lines) == 1, lines
    assert "LimitNOFILE" in lines[0]
    for s in held:
        s.close()
    ws, hello = handshake(gw.url)
    assert hello["type"] == "hello-ok"
    ws.close()


# item 18: a FIFO at the config path

def test_fifo_config_fails_reload_and_start_instead_of_blocking(gateway, tmp_path):
    config = os.path.join(gateway.state, "openclaw.json")
    os.unlink(config)
    os.mkfifo(config)
    ws, _ = handshake(gateway.url)
    gateway.proc.send_signal(signal.SIGHUP)
    assert call(ws, "health", timeout=3)["ok"], "the loop must not block opening a FIFO"
    deadline = time.monotonic() + 5
    while "is not a regular file (a FIFO)" not in gateway.log_text():
        assert time.monotonic() < deadline, gateway.log_text()
        time.sleep(0.05)
    ws.close()

    env = dict(gateway.env, NOTIFY_SOCKET="")
    r = subprocess.run([BIN, "gateway", "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert f"{config} is not a regular file (a FIFO)" in r.stderr


# item 12: finished agent runs

def test_finished_agent_runs_do_not_pin_their_output(make_gateway, tmp_path):
    from test_agent import agent_config, run_agent, script
    backend = script(tmp_path, "big.sh", 'read -r msg\nhead -c 1000000 /dev/zero | tr "\\\\0" "a"\n')
    gw = make_gateway(config=agent_config([backend]))
    drain_notify(gw)
    ws, _ = handshake(gw.url)
    accepted, final, _ = run_agent(ws, {"message": "warm-up", "idempotencyKey": "warm"}, id_="w", timeout=30)
    assert final["ok"] and len(final["payload"]["result"]["text"]) == 1_000_000, final
    start = rss_kb(gw.proc.pid)
    for i in range(40):
        run_agent(ws, {"message": "go", "idempotencyKey": f"k{i}"}, id_=f"r{i}", timeout=30)
    ws.close()
    rss = wait_rss_below(gw.proc.pid, start + 40_000)
    assert rss <= start + 40_000, f"RSS {start} kB -> {rss} kB after 40 runs of 1 MB output"
