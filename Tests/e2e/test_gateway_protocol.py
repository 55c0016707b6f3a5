"""The gateway's wire protocol (PROTOCOL.md) against the real binary."""
import json
import signal
import socket
import time

import pytest
from websockets.exceptions import ConnectionClosed

from conftest import call, client_params, handshake, open_ws, recv_json, recv_until
from rawws import RawWS


def closed_code(ws, timeout=5.0):
    """Reads until the server closes; returns the close code it sent."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=deadline - time.monotonic())
    except ConnectionClosed as e:
        return e.rcvd.code if e.rcvd else None
    raise AssertionError("connection was not closed")


def assert_still_serving(ws):
    res = call(ws, "health", id_="still")
    assert res["ok"] and res["payload"]["ok"] is True


def test_hello_ok_shape(gateway):
    ws, hello = handshake(gateway.url)
    assert hello["type"] == "hello-ok"
    assert hello["protocol"] == 4
    assert hello["server"]["version"] and hello["server"]["connId"]
    for m in ["health", "status", "system-presence", "system-event", "logs.tail", "channels.status"]:
        assert m in hello["features"]["methods"]
    for e in ["tick", "presence", "health", "shutdown"]:
        assert e in hello["features"]["events"]
    snap = hello["snapshot"]
    assert snap["stateVersion"].keys() == {"presence", "health"}
    assert snap["configPath"].endswith("openclaw.json") and snap["stateDir"] == gateway.state
    assert snap["authMode"] == "token"
    assert any(p.get("mode") == "gateway" for p in snap["presence"])
    assert hello["policy"]["maxPayload"] > 0 and hello["policy"]["maxBufferedBytes"] > 0
    assert hello["policy"]["tickIntervalMs"] == 30000
    assert hello["auth"]["role"] == "operator"
    ws.close()


def test_health_status_and_unknown_method(gateway):
    ws, _ = handshake(gateway.url)
    health = call(ws, "health")
    assert health["ok"] and health["payload"]["ok"] is True
    assert isinstance(health["payload"]["channels"], dict) and health["payload"]["uptimeMs"] >= 0
    status = call(ws, "status", {}, id_="2")["payload"]
    assert status["activation"] == "self" and status["port"] == gateway.port
    assert status["clients"] == 1 and status["auth"] == {"mode": "token"}
    assert status["pid"] == gateway.proc.pid
    res = call(ws, "nope.method", id_="3")
    assert not res["ok"] and res["error"]["code"] == "INVALID_REQUEST"
    assert "unknown method: nope.method" in res["error"]["message"]
    res = call(ws, "system-event", {}, id_="4")
    assert res["error"]["code"] == "INVALID_REQUEST" and "text" in res["error"]["message"]
    ws.close()


def test_presence_events_when_a_client_comes_and_goes(gateway):
    a, hello = handshake(gateway.url)
    v0 = hello["snapshot"]["stateVersion"]["presence"]
    b, _ = handshake(gateway.url, client={"id": "second", "version": "2", "platform": "linux", "mode": "ui",
                                             "instanceId": "inst-b"})
    ev = recv_until(a, lambda f: f.get("event") == "presence"
                    and any(p.get("instanceId") == "inst-b" for p in f["payload"]["presence"]))
    assert ev["stateVersion"]["presence"] > v0
    seq1 = ev["seq"]
    b.close()
    ev2 = recv_until(a, lambda f: f.get("event") == "presence")
    assert ev2["seq"] > seq1
    assert not any(p.get("instanceId") == "inst-b" for p in ev2["payload"]["presence"])
    # system-event changes presence text and is broadcast
    assert call(a, "system-event", {"text": "busy"}, id_="se")["payload"] == {"ok": True}
    ev3 = recv_until(a, lambda f: f.get("event") == "presence")
    assert any(p.get("text") == "busy" for p in ev3["payload"]["presence"])
    a.close()


def test_tick_events_at_the_configured_interval(make_gateway):
    gw = make_gateway(config={"gateway": {"tickIntervalMs": 200}})
    ws, hello = handshake(gw.url)
    assert hello["policy"]["tickIntervalMs"] == 200
    ticks = []
    deadline = time.monotonic() + 3
    while len(ticks) < 3 and time.monotonic() < deadline:
        f = recv_json(ws)
        if f.get("event") == "tick":
            ticks.append(f)
    assert len(ticks) == 3
    assert ticks[0]["seq"] < ticks[1]["seq"] < ticks[2]["seq"]
    assert all(isinstance(t["payload"]["ts"], int) for t in ticks)
    ws.close()


def test_sigterm_sends_shutdown_then_1001_and_exits_0(gateway):
    ws, _ = handshake(gateway.url)
    gateway.proc.send_signal(signal.SIGTERM)
    ev = recv_until(ws, lambda f: f.get("event") == "shutdown")
    assert ev["payload"]["reason"]
    assert closed_code(ws) == 1001
    assert gateway.proc.wait(timeout=10) == 0
    gateway.notify.wait_for(lambda m: "STOPPING=1" in m)


def test_socket_activation_and_restart_close_code(make_gateway):
    gw = make_gateway(activate=True)
    ws, hello = handshake(gw.url)
    status = call(ws, "status")["payload"]
    assert status["activation"] == "socket"
    gw.notify.wait_for(lambda m: "READY=1" in m)
    gw.proc.send_signal(signal.SIGTERM)
    ev = recv_until(ws, lambda f: f.get("event") == "shutdown")
    assert "restartExpectedMs" in ev["payload"]
    assert closed_code(ws) == 1012


def test_non_connect_first_frame_is_closed_1008_others_keep_working(gateway):
    keeper, _ = handshake(gateway.url)
    ws = open_ws(gateway.url)
    recv_json(ws)  # challenge
    ws.send(json.dumps({"type": "req", "id": "x", "method": "health"}))
    res = recv_until(ws, lambda f: f.get("type") == "res")
    assert res["id"] == "x" and not res["ok"] and res["error"]["code"] == "INVALID_REQUEST"
    assert closed_code(ws) == 1008
    assert_still_serving(keeper)


def test_malformed_json_first_frame_closes_1008(gateway):
    keeper, _ = handshake(gateway.url)
    ws = open_ws(gateway.url)
    recv_json(ws)
    ws.send("{not json")
    assert closed_code(ws) == 1008
    assert_still_serving(keeper)


def test_bad_frames_after_hello_are_answered_and_the_connection_stays(gateway):
    """Upstream keeps the socket on a bad frame after hello-ok; only WebSocket-level violations close."""
    ws, _ = handshake(gateway.url)
    ws.send("[1,2,")  # malformed JSON, no id to answer
    ws.send(json.dumps({"id": "t", "method": "health"}))  # no type: answered by id
    res = recv_until(ws, lambda f: f.get("type") == "res" and f.get("id") == "t")
    assert not res["ok"] and res["error"]["code"] == "INVALID_REQUEST"
    ws.send(json.dumps({"type": "res", "id": "r", "ok": True}))  # not a client frame
    res = recv_until(ws, lambda f: f.get("type") == "res" and f.get("id") == "r")
    assert res["error"]["code"] == "INVALID_REQUEST" and "req and cancel" in res["error"]["message"]
    assert_still_serving(ws)
    assert "rejected frame: malformed JSON" in gateway.log_text()


@pytest.mark.parametrize("token,code", [("wrong", "AUTH_TOKEN_MISMATCH"), (None, "AUTH_TOKEN_MISSING")])
def test_wrong_or_missing_token(gateway, token, code):
    keeper, _ = handshake(gateway.url)
    ws = open_ws(gateway.url)
    recv_json(ws)
    ws.send(json.dumps({"type": "req", "id": "c", "method": "connect", "params": client_params(token)}))
    res = recv_until(ws, lambda f: f.get("type") == "res")
    assert not res["ok"] and res["error"]["details"]["code"] == code
    assert closed_code(ws) == 1008
    assert_still_serving(keeper)


def test_repeated_auth_failures_are_rate_limited(make_gateway):
    gw = make_gateway(config={"gateway": {"authFailuresPerMinute": 3}})
    codes = []
    for _ in range(5):
        ws = open_ws(gw.url)
        recv_json(ws)
        ws.send(json.dumps({"type": "req", "id": "c", "method": "connect", "params": client_params("bad")}))
        res = recv_until(ws, lambda f: f.get("type") == "res")
        codes.append(res["error"]["details"]["code"])
        ws.close()
    assert codes[:3] == ["AUTH_TOKEN_MISMATCH"] * 3
    assert codes[3:] == ["AUTH_RATE_LIMITED"] * 2
    # a limited peer is told when to retry; the right token still gets in (test_security.py)
    ws = open_ws(gw.url)
    recv_json(ws)
    ws.send(json.dumps({"type": "req", "id": "c", "method": "connect", "params": client_params("bad")}))
    res = recv_until(ws, lambda f: f.get("type") == "res")
    assert res["error"]["retryable"] is True and 0 < res["error"]["retryAfterMs"] <= 60_000


def test_wrong_protocol_closes_1002(gateway):
    keeper, _ = handshake(gateway.url)
    ws = open_ws(gateway.url)
    recv_json(ws)
    ws.send(json.dumps({"type": "req", "id": "c", "method": "connect",
                        "params": client_params("test-token", minProtocol=1, maxProtocol=3,
                                                client={"id": "cli", "version": "1", "platform": "linux",
                                                        "mode": "cli"})}))
    res = recv_until(ws, lambda f: f.get("type") == "res")
    assert res["error"]["code"] == "INVALID_REQUEST"
    assert res["error"]["details"]["expectedProtocol"] == 4
    assert closed_code(ws) == 1002
    assert_still_serving(keeper)


def test_oversized_frames_close_1009(make_gateway):
    gw = make_gateway(config={"gateway": {"maxPayload": 4096}})
    keeper, _ = handshake(gw.url)
    # before hello-ok: 64 KiB limit
    raw = RawWS(gw.port)
    raw.recv_json()
    raw.send_frame(1, b"x" * (70 * 1024))
    assert raw.recv_close_code() == 1009
    # after hello-ok: policy.maxPayload
    ws, hello = handshake(gw.url)
    assert hello["policy"]["maxPayload"] == 4096
    ws.send(json.dumps({"type": "req", "id": "big", "method": "system-event", "params": {"text": "y" * 5000}}))
    assert closed_code(ws) == 1009
    assert_still_serving(keeper)


def test_unmasked_client_frame_closes_1002(gateway):
    keeper, _ = handshake(gateway.url)
    raw = RawWS(gateway.port)
    raw.recv_json()
    raw.send_frame(1, json.dumps({"type": "req", "id": "c", "method": "connect",
                                  "params": client_params("test-token")}).encode(), mask=False)
    assert raw.recv_close_code() == 1002
    assert_still_serving(keeper)


def test_handshake_timeout_closes_1008(make_gateway):
    gw = make_gateway(config={"gateway": {"handshakeTimeoutMs": 300}})
    keeper, _ = handshake(gw.url)
    ws = open_ws(gw.url)
    recv_json(ws)
    t0 = time.monotonic()
    assert closed_code(ws) == 1008
    assert time.monotonic() - t0 < 3
    assert_still_serving(keeper)


def test_ping_pong(gateway):
    ws, _ = handshake(gateway.url)
    pong = ws.ping(b"are-you-there")
    assert pong.wait(timeout=5)
    ws.close()


def test_fragmented_request_and_control_frame_between_fragments(gateway):
    raw = RawWS(gateway.port)
    raw.recv_json()
    raw.send_json({"type": "req", "id": "c", "method": "connect", "params": client_params("test-token")})
    assert raw.recv_json()["payload"]["type"] == "hello-ok"
    body = json.dumps({"type": "req", "id": "frag", "method": "health"}).encode()
    raw.send_frame(1, body[:10], fin=False)
    raw.send_frame(9, b"ping-in-between")
    raw.send_frame(0, body[10:20], fin=False)
    raw.send_frame(0, body[20:], fin=True)
    op, payload = raw.recv_frame()
    while op != 10:
        op, payload = raw.recv_frame()
    assert payload == b"ping-in-between"
    while True:
        frame = raw.recv_json()
        if frame.get("type") == "res":
            break
    assert frame["id"] == "frag" and frame["ok"]
    raw.close()


def test_invalid_utf8_and_reserved_bits(gateway):
    raw = RawWS(gateway.port)
    raw.recv_json()
    raw.send_frame(1, b'{"a":"\xff"}')
    assert raw.recv_close_code() == 1007
    raw2 = RawWS(gateway.port)
    raw2.recv_json()
    raw2.send_frame(1, b"{}", rsv=4)
    assert raw2.recv_close_code() == 1002


def test_slow_consumer_is_closed_and_others_keep_working(make_gateway):
    gw = make_gateway(config={"gateway": {"maxBufferedBytes": 65536}})
    keeper, _ = handshake(gw.url)
    raw = RawWS(gw.port, rcvbuf=4096)
    raw.recv_json()
    raw.send_json({"type": "req", "id": "c", "method": "connect", "params": client_params("test-token")})
    raw.recv_json()
    # Ask for far more output than the kernel buffers plus maxBufferedBytes hold, never reading.
    req = json.dumps({"type": "req", "id": "p", "method": "system-presence"}).encode()
    closed = False
    for i in range(20000):
        try:
            raw.send_frame(1, req)
        except OSError:
            closed = True
            break
    time.sleep(0.5)
    assert_still_serving(keeper)
    st = call(keeper, "status", id_="st")["payload"]
    assert st["clients"] == 1 or closed
    raw.close()


def test_http_on_the_same_port(gateway):
    def http(request: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as s:
            s.sendall(request)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return data
                data += chunk

    r = http(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 200")
    assert json.loads(r.split(b"\r\n\r\n", 1)[1]) == {"ok": True, "version": "0.1.0"}
    assert http(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 404")
    bad = http(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n")
    assert bad.startswith(b"HTTP/1.1 400")
    old = http(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
    assert old.startswith(b"HTTP/1.1 426") and b"Sec-WebSocket-Version: 13" in old
    assert http(b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400")


def test_logs_tail_with_cursor(gateway):
    ws, _ = handshake(gateway.url)
    first = call(ws, "logs.tail", {"limit": 50})["payload"]
    assert first["source"] in ("memory", "journal") and first["cursor"]
    assert any("gateway ready" in line for line in first["lines"])
    call(ws, "system-event", {"text": "marker-123"}, id_="m")
    nxt = call(ws, "logs.tail", {"cursor": first["cursor"]}, id_="n")["payload"]
    assert any("marker-123" in line for line in nxt["lines"])
    assert not any("gateway ready" in line for line in nxt["lines"])
    again = call(ws, "logs.tail", {"cursor": nxt["cursor"]}, id_="o")["payload"]
    assert again["lines"] == []
    bad = call(ws, "logs.tail", {"limit": 0}, id_="p")
    assert bad["error"]["code"] == "INVALID_REQUEST" and "limit" in bad["error"]["message"]
