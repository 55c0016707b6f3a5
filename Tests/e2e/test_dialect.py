"""What upstream OpenClaw clients do on a connection (issue 13): `cancel` frames,
upstream's payload shapes, protocol 3 for probes and nodes, and the plain-HTTP
endpoints (/healthz, /readyz, /metrics read with prometheus_client's parser)."""
import json
import socket
import subprocess
import time
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import call, client_params, handshake, open_ws, recv_json, recv_until
from test_agent import agent_config, run_agent, script
from test_gateway_protocol import closed_code


def http(port, path, host="127.0.0.1"):
    """One plain HTTP/1.1 GET; returns (status, body)."""
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), body


def metrics(port, host="127.0.0.1"):
    """Samples of /metrics as {(name, frozenset(labels)): value}, via prometheus_client's text parser."""
    status, body = http(port, "/metrics", host)
    assert status == 200, body
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


# --- item 1: cancel frames, bad frames keep the connection ---------------------------------


def test_cancel_aborts_a_running_agent_run_and_the_connection_stays(make_gateway, tmp_path):
    backend = script(tmp_path, "slow.sh", 'read -r msg\necho "thinking about $msg"\nsleep 30\necho never\n')
    gw = make_gateway(config=agent_config([backend]))
    ws, _ = handshake(gw.url)
    key = f"k-{uuid.uuid4()}"
    ws.send(json.dumps({"type": "req", "id": "run", "method": "agent",
                        "params": {"message": "cancel me", "idempotencyKey": key}}))
    accepted = recv_until(ws, lambda f: f.get("type") == "res" and f.get("id") == "run")
    assert accepted["payload"]["status"] == "accepted" and accepted["payload"]["runId"] == key
    recv_until(ws, lambda f: f.get("event") == "agent" and f["payload"]["stream"] == "assistant")
    ws.send(json.dumps({"type": "cancel", "id": "run"}))
    final = recv_until(ws, lambda f: f.get("type") == "res" and f.get("id") == "run", timeout=5)
    assert final["ok"] and final["payload"]["status"] == "aborted"
    assert final["payload"]["error"]["code"] == "ABORTED"
    assert final["payload"]["result"]["payloads"] == [{"text": "thinking about cancel me"}]
    # The run is gone, its final snapshot stays for agent.wait; unknown ids are ignored.
    waited = call(ws, "agent.wait", {"runId": key}, id_="w")["payload"]
    assert waited["status"] == "aborted"
    ws.send(json.dumps({"type": "cancel", "id": "never-sent"}))
    ws.send(json.dumps({"type": "cancel", "id": "w"}))  # already answered
    assert call(ws, "health", id_="h")["payload"]["ok"] is True
    samples = metrics(gw.port)
    assert value(samples, "openclaw_cancels_total", outcome="applied") == 1
    assert value(samples, "openclaw_cancels_total", outcome="ignored") == 2
    assert value(samples, "openclaw_agent_runs_total", outcome="aborted") == 1


def test_cancel_drops_a_queued_run(make_gateway, tmp_path):
    backend = script(tmp_path, "slow.sh", "read -r msg\nsleep 30\n")
    gw = make_gateway(config=agent_config([backend], maxConcurrent=1))
    ws, _ = handshake(gw.url)
    for rid in ("first", "second"):
        ws.send(json.dumps({"type": "req", "id": rid, "method": "agent",
                            "params": {"message": rid, "idempotencyKey": f"{rid}-{uuid.uuid4()}"}}))
        recv_until(ws, lambda f, rid=rid: f.get("type") == "res" and f.get("id") == rid)
    ws.send(json.dumps({"type": "cancel", "id": "second"}))
    final = recv_until(ws, lambda f: f.get("type") == "res" and f.get("id") == "second")
    assert final["payload"]["status"] == "aborted" and "before it started" in final["payload"]["error"]["message"]
    ws.send(json.dumps({"type": "cancel", "id": "first"}))
    assert recv_until(ws, lambda f: f.get("type") == "res" and f.get("id") == "first")["payload"]["status"] == "aborted"


def test_cancel_without_an_id_is_answered_nothing_and_kept(gateway):
    ws, _ = handshake(gateway.url)
    ws.send(json.dumps({"type": "cancel"}))
    ws.send("{\"type\":\"req\",\"id\":\"cut")  # truncated JSON: logged, not answered
    assert call(ws, "health", id_="h")["payload"]["ok"] is True
    assert value(metrics(gateway.port), "openclaw_frames_rejected_total") == 2


def test_websocket_violations_still_close(gateway):
    ws, _ = handshake(gateway.url)
    ws.send(b"\x00binary")
    assert closed_code(ws) == 1003


# --- item 2: payload shapes ---------------------------------------------------------------


def test_health_has_upstream_fields_and_keeps_its_own(gateway):
    ws, hello = handshake(gateway.url)
    for health in (call(ws, "health")["payload"], hello["snapshot"]["health"]):
        assert health["ok"] is True and health["uptimeMs"] >= 0 and health["channels"] == {}
        assert health["channelOrder"] == [] and health["channelLabels"] == {}
        assert health["heartbeatSeconds"] == 0 and health["defaultAgentId"] == "main"
        sessions = health["sessions"]
        assert sessions == {"path": f"{gateway.state}/sessions", "count": 0, "recent": []}
        assert health["agents"] == [{"agentId": "main", "isDefault": True,
                                     "heartbeat": {"enabled": False, "every": "disabled", "everyMs": None},
                                     "sessions": sessions}]


def test_last_heartbeat_is_null_and_advertised(gateway):
    ws, hello = handshake(gateway.url)
    assert "last-heartbeat" in hello["features"]["methods"]
    res = call(ws, "last-heartbeat")
    assert res["ok"] is True and "payload" in res and res["payload"] is None


def test_missing_scope_names_the_scope(gateway):
    ws, _ = handshake(gateway.url, scopes=["operator.read"])
    res = call(ws, "send", {"to": "#x", "message": "m", "idempotencyKey": "k"})
    assert res["error"]["code"] == "FORBIDDEN"
    assert res["error"]["details"] == {"code": "MISSING_SCOPE", "missingScope": "operator.write"}
    assert call(ws, "health", id_="2")["ok"]


def test_agent_final_carries_payloads_and_the_idempotency_key_as_run_id(make_gateway, tmp_path):
    gw = make_gateway(config=agent_config([script(tmp_path, "echo.sh", 'read -r m\necho "you said: $m"\n')]))
    ws, _ = handshake(gw.url)
    accepted, final, _ = run_agent(ws, {"message": "hi", "idempotencyKey": "my-key-1"})
    assert accepted["payload"]["runId"] == "my-key-1"
    assert final["payload"]["runId"] == "my-key-1" and final["payload"]["status"] == "ok"
    assert final["payload"]["result"] == {"text": "you said: hi", "payloads": [{"text": "you said: hi"}]}


# --- item 3: admission ----------------------------------------------------------------------


def connect_frame(ws, **over):
    recv_json(ws)
    ws.send(json.dumps({"type": "req", "id": "c", "method": "connect", "params": client_params("test-token", **over)}))
    return recv_until(ws, lambda f: f.get("type") == "res" and f.get("id") == "c")


def test_protocol_3_is_admitted_for_probes(gateway):
    ws, hello = handshake(gateway.url, minProtocol=3, maxProtocol=3)  # client.mode is "probe"
    assert hello["protocol"] == 3 and hello["auth"]["role"] == "operator"
    assert call(ws, "health")["payload"]["ok"] is True


def test_node_role_gets_no_operator_scopes(gateway):
    node = {"id": "node-host", "version": "1", "platform": "linux", "mode": "node"}
    ws, hello = handshake(gateway.url, minProtocol=3, maxProtocol=3, role="node", client=node,
                          scopes=["operator.admin", "operator.read"])
    assert hello["protocol"] == 3 and hello["auth"] == {"role": "node", "scopes": []}
    res = call(ws, "health")
    assert res["error"]["code"] == "FORBIDDEN" and res["error"]["details"]["missingScope"] == "operator.read"
    ws4, hello4 = handshake(gateway.url, role="node", client=node)
    assert hello4["protocol"] == 4 and hello4["auth"]["scopes"] == []


def test_protocol_3_operator_and_unknown_role_are_refused(gateway):
    cli = {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"}
    ws = open_ws(gateway.url)
    res = connect_frame(ws, minProtocol=3, maxProtocol=3, client=cli)
    assert res["error"]["details"]["expectedProtocol"] == 4
    assert closed_code(ws) == 1002
    ws = open_ws(gateway.url)
    res = connect_frame(ws, role="admin")
    assert res["error"]["code"] == "INVALID_REQUEST" and "unknown role" in res["error"]["message"]
    assert closed_code(ws) == 1008


# --- item 4: HTTP on the same port --------------------------------------------------------


def test_healthz_and_readyz_without_channels(gateway):
    status, body = http(gateway.port, "/healthz")
    assert status == 200 and json.loads(body) == {"ok": True, "version": "0.1.0"}
    status, body = http(gateway.port, "/readyz")
    assert status == 200 and json.loads(body) == {"ready": True}


def test_readyz_is_503_naming_an_unlinked_channel(make_gateway):
    from test_messaging import irc_config
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    gw = make_gateway(config=irc_config(dead))
    status, body = http(gw.port, "/readyz")
    assert status == 503
    assert json.loads(body) == {"ready": False, "reasons": ["channel irc: not linked (disconnected)"]}
    assert http(gw.port, "/healthz")[0] == 200  # alive, just not ready
    samples = metrics(gw.port)
    assert value(samples, "openclaw_channel_linked", channel="irc") == 0


def test_metrics_parse_and_counters_move(gateway):
    before = metrics(gateway.port)
    assert value(before, "openclaw_build_info", version="0.1.0") == 1
    ws, _ = handshake(gateway.url)
    for i in range(3):
        call(ws, "health", id_=f"h{i}")
    call(ws, "nope", id_="x")
    bad = open_ws(gateway.url)
    connect_frame(bad, auth={"token": "wrong"})
    after = metrics(gateway.port)
    assert value(after, "openclaw_clients") == 1
    assert value(after, "openclaw_connections_accepted_total") >= value(before, "openclaw_connections_accepted_total") + 2
    assert value(after, "openclaw_requests_total", method="health", outcome="ok") == 3
    assert value(after, "openclaw_requests_total", method="other", outcome="INVALID_REQUEST") == 1
    assert value(after, "openclaw_request_duration_seconds_count", method="health") == 3
    assert value(after, "openclaw_request_duration_seconds_bucket", method="health", le="+Inf") == 3
    assert value(after, "openclaw_auth_failures_total", code="AUTH_TOKEN_MISMATCH") == 1
    assert value(after, "openclaw_events_sent_total", event="connect.challenge") >= 2


def test_metrics_access_is_configurable(make_gateway):
    off = make_gateway(config={"gateway": {"metrics": "off"}})
    assert http(off.port, "/metrics")[0] == 404
    ip = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    ip = next((a for a in ip if ":" not in a and not a.startswith("127.")), None)
    if ip is None:
        pytest.skip("no non-loopback IPv4 address to connect from")
    lan = make_gateway(args=["--bind", "0.0.0.0"])
    status, body = http(lan.port, "/metrics", host=ip)
    assert status == 403 and b"gateway.metrics" in body
    anyone = make_gateway(args=["--bind", "0.0.0.0"], config={"gateway": {"metrics": "any"}})
    assert value(metrics(anyone.port, host=ip), "openclaw_build_info", version="0.1.0") == 1


# --- the replay: what upstream's client does on one connection ----------------------------


def test_upstream_client_session_replay(make_gateway, tmp_path):
    """challenge → connect → health → last-heartbeat → agent (expectFinal) → a request that
    times out client-side and is cancelled → more requests; every answer well-formed, the
    connection open at the end."""
    backend = script(tmp_path, "agent.sh", 'read -r m\ncase "$m" in slow*) sleep 30;; esac\necho "reply: $m"\n')
    gw = make_gateway(config=agent_config([backend]))
    ws = open_ws(gw.url)
    challenge = recv_json(ws)
    assert challenge["event"] == "connect.challenge" and challenge["payload"]["nonce"]
    app = {"id": "openclaw-macos", "version": "2026.1.0", "platform": "macos", "mode": "ui",
           "instanceId": str(uuid.uuid4())}
    ws.send(json.dumps({"type": "req", "id": str(uuid.uuid4()), "method": "connect",
                        "params": client_params("test-token", client=app, role="operator",
                                                scopes=["operator.admin"], caps=[])}))
    hello = recv_until(ws, lambda f: f.get("type") == "res")
    answers = [hello]
    assert hello["ok"] and hello["payload"]["protocol"] == 4

    def request(method, params=None, timeout=5.0):
        rid = str(uuid.uuid4())
        frame = {"type": "req", "id": rid, "method": method}
        if params is not None:
            frame["params"] = params
        ws.send(json.dumps(frame))
        res = recv_until(ws, lambda f: f.get("type") == "res" and f.get("id") == rid, timeout=timeout)
        answers.append(res)
        return rid, res

    assert request("health")[1]["payload"]["sessions"]["count"] == 0
    assert request("last-heartbeat")[1]["payload"] is None
    # agent with expectFinal: skip the accepted answer, wait for the final one on the same id.
    rid, accepted = request("agent", {"message": "hello", "idempotencyKey": "replay-1"})
    assert accepted["payload"]["status"] == "accepted"
    final = recv_until(ws, lambda f: f.get("type") == "res" and f.get("id") == rid, timeout=10)
    answers.append(final)
    assert final["payload"]["result"]["payloads"] == [{"text": "reply: hello"}]
    # A request the client gives up on: it sends cancel and moves on.
    rid, accepted = request("agent", {"message": "slow one", "idempotencyKey": "replay-2"})
    time.sleep(0.3)  # the client's timeout
    ws.send(json.dumps({"type": "cancel", "id": rid}))
    answers.append(recv_until(ws, lambda f: f.get("type") == "res" and f.get("id") == rid))
    assert answers[-1]["payload"]["status"] == "aborted"
    for method in ("status", "system-presence", "channels.status", "health"):
        assert request(method)[1]["ok"], answers[-1]
    for a in answers:
        assert a["type"] == "res" and isinstance(a["id"], str) and isinstance(a["ok"], bool)
        assert ("payload" in a) if a["ok"] else (a["error"]["code"] and a["error"]["message"])
    # Still open: a tick-less gateway answers one more request on the same socket.
    assert request("health")[1]["payload"]["ok"] is True
    ws.close()


# --- item 5: the CLI forms upstream's scripts use -----------------------------------------


def test_cli_top_level_health_with_timeout(gateway):
    from test_cli_rpc import cli_env, run as cli
    r = cli(["health", "--json", "--timeout", "3000"], cli_env(gateway))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["sessions"]["count"] == 0
    r = cli(["health", "--timeout", "3000"], cli_env(gateway))
    assert r.returncode == 0 and r.stdout.startswith("Gateway: healthy")


def test_cli_message_send_short_options_reach_the_gateway(gateway):
    from test_cli_rpc import cli_env, run as cli
    r = cli(["message", "send", "-t", "#ops", "-m", "hi", "--timeout", "3000"], cli_env(gateway))
    assert r.returncode == 1 and "(NOT_LINKED)" in r.stderr.splitlines()[-1]


def test_cli_call_expect_final_and_timeout_cancels(make_gateway, tmp_path):
    from test_cli_rpc import cli_env, one_sentence, run as cli
    backend = script(tmp_path, "agent.sh", 'read -r m\ncase "$m" in slow*) sleep 30;; esac\necho "reply: $m"\n')
    gw = make_gateway(config=agent_config([backend]))
    env = cli_env(gw)
    r = cli(["gateway", "call", "agent", "--expect-final", "--json",
             "--params", json.dumps({"message": "hi", "idempotencyKey": "cli-final"})], env)
    assert r.returncode == 0, r.stderr
    final = json.loads(r.stdout)
    assert final["status"] == "ok" and final["runId"] == "cli-final"
    assert final["result"]["payloads"] == [{"text": "reply: hi"}]
    # Without --expect-final the first answer is the accepted one.
    r = cli(["gateway", "call", "agent", "--json", "--params", json.dumps({"message": "x", "idempotencyKey": "cli-acc"})], env)
    assert json.loads(r.stdout)["status"] == "accepted"
    # --timeout runs out: the CLI fails naming it and cancels the request, which aborts the run.
    r = cli(["gateway", "call", "agent", "--expect-final", "--timeout", "800",
             "--params", json.dumps({"message": "slow", "idempotencyKey": "cli-slow"})], env)
    assert r.returncode == 1 and "agent" in one_sentence(r.stderr)
    ws, _ = handshake(gw.url)
    assert call(ws, "agent.wait", {"runId": "cli-slow", "timeoutMs": 5000})["payload"]["status"] == "aborted"


def test_cli_gateway_run_and_doctor_repair_in_help():
    from test_cli_rpc import cli_env, run as cli
    env = cli_env()
    assert "same as 'openclaw gateway'" in cli(["gateway", "run", "--help"], env).stdout
    assert "--repair" in cli(["doctor", "--help"], env).stdout
    root = cli(["--help"], env).stdout
    assert "\n  status " in root and "\n  health " in root
    for verb in ("install", "uninstall", "start", "stop", "restart"):
        assert "--json" in cli(["gateway", verb, "--help"], env).stdout


def test_health_sessions_come_from_the_session_store(tmp_path):
    """Sessions on disk at start-up show in health.sessions; their age moves between calls
    (the cached part of health is rebuilt when it must be)."""
    from conftest import Gateway
    sessions = tmp_path / "state" / "sessions"
    sessions.mkdir(parents=True)
    (sessions / "irc%3Agroup%3A%23ops.jsonl").write_text('{"role":"user","text":"hi","ts":1}\n')
    gw = Gateway(str(tmp_path))
    try:
        ws, _ = handshake(gw.url)
        first = call(ws, "health", id_="1")["payload"]["sessions"]
        assert first["path"] == f"{gw.state}/sessions" and first["count"] == 1
        assert [r["key"] for r in first["recent"]] == ["irc:group:#ops"] and first["recent"][0]["updatedAt"] > 0
        time.sleep(0.05)
        second = call(ws, "health", id_="2")["payload"]
        assert second["sessions"]["recent"][0]["age"] > first["recent"][0]["age"]
        assert second["agents"][0]["sessions"] == second["sessions"]
    finally:
        gw.stop()
