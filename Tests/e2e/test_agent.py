"""`agent` runs with CLI backends that are real shell scripts: streaming,
timeouts that kill the whole process group, failures, the queue, and
`deliver` onto a real IRC server."""
import json
import os
import random
import subprocess
import time
import uuid

import pytest

from conftest import BIN, call, handshake, recv_json
from test_messaging import CHANNEL, irc_config, ircd, observers, wait_linked  # noqa: F401 (fixtures)


def script(tmp_path, name, body):
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def agent_config(command, **extra):
    agent = {"command": command, "maxConcurrent": 2, "timeoutSeconds": 30}
    agent.update(extra)
    return {"agent": agent}


def run_agent(ws, params, id_="a", timeout=15.0):
    """Sends `agent`; returns (accepted, final frame, agent events of that run in order)."""
    ws.send(json.dumps({"type": "req", "id": id_, "method": "agent", "params": params}))
    accepted, final, events = None, None, []
    deadline = time.monotonic() + timeout
    while final is None:
        left = deadline - time.monotonic()
        assert left > 0, f"no final answer; accepted={accepted!r} events={events!r}"
        f = recv_json(ws, timeout=left)
        if f.get("type") == "res" and f.get("id") == id_:
            if accepted is None:
                accepted = f
                if not f["ok"]:
                    return accepted, None, events
            else:
                final = f
        elif f.get("event") == "agent" and accepted and f["payload"]["runId"] == accepted["payload"]["runId"]:
            events.append(f["payload"])
    return accepted, final, events


def processes_matching(marker):
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if marker in line and "ps -eo" not in line]


def test_accepted_then_streamed_chunks_then_final(make_gateway, tmp_path):
    backend = script(tmp_path, "chunked.sh",
                     'read -r msg\nprintf "hello "\nsleep 0.3\nprintf "from agent: %s\\n" "$msg"\nsleep 0.2\necho "run $OPENCLAW_RUN_ID"\n')
    gw = make_gateway(config=agent_config([backend]))
    ws, _ = handshake(gw.url)
    accepted, final, events = run_agent(ws, {"message": "hi there", "idempotencyKey": uuid.uuid4().hex})
    assert accepted["ok"] and accepted["payload"]["status"] == "accepted"
    run_id = accepted["payload"]["runId"]
    assert final["ok"], final
    p = final["payload"]
    assert p["status"] == "ok" and p["runId"] == run_id
    assert p["result"]["text"] == f"hello from agent: hi there\nrun {run_id}"
    assistant = [e for e in events if e["stream"] == "assistant"]
    assert len(assistant) >= 2, events  # streamed as it came, not in one piece
    assert "".join(e["data"]["text"] for e in assistant).strip() == p["result"]["text"]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert events[0]["stream"] == "lifecycle" and events[0]["data"]["phase"] == "start"
    assert events[-1]["stream"] == "lifecycle" and events[-1]["data"]["phase"] == "end"
    assert all(isinstance(e["ts"], int) for e in events)
    # agent.wait on a finished run returns its snapshot.
    w = call(ws, "agent.wait", {"runId": run_id, "timeoutMs": 1000}, id_="w")
    assert w["ok"] and w["payload"] == p
    ws.close()


def test_timeout_kills_the_process_group_and_leaves_no_orphans(make_gateway, tmp_path):
    marker = str(random.randint(100000, 999999))
    backend = script(tmp_path, "sleeper.sh",
                     f"sleep 3{marker} &\necho started\nsleep 4{marker}\necho never\n")
    gw = make_gateway(config=agent_config([backend]))
    ws, _ = handshake(gw.url)
    t0 = time.monotonic()
    accepted, final, events = run_agent(ws, {"message": "x", "idempotencyKey": uuid.uuid4().hex, "timeout": 1})
    assert accepted["ok"]
    assert not final["ok"] and final["error"]["code"] == "AGENT_TIMEOUT", final
    assert final["error"]["details"]["status"] == "timeout"
    assert final["error"]["details"]["result"]["text"] == "started"
    assert time.monotonic() - t0 < 6
    assert any(e["stream"] == "error" for e in events)
    time.sleep(0.2)
    assert processes_matching(marker) == []
    w = call(ws, "agent.wait", {"runId": accepted["payload"]["runId"]}, id_="w")
    assert w["payload"]["status"] == "timeout" and w["payload"]["error"]["code"] == "AGENT_TIMEOUT"
    ws.close()


def test_nonzero_exit_is_an_error_with_stderr(make_gateway, tmp_path):
    backend = script(tmp_path, "fail.sh", "echo partial\necho boom >&2\nexit 3\n")
    gw = make_gateway(config=agent_config([backend]))
    ws, _ = handshake(gw.url)
    accepted, final, _ = run_agent(ws, {"message": "x", "idempotencyKey": uuid.uuid4().hex})
    assert final["ok"]
    p = final["payload"]
    assert p["status"] == "error" and p["exitCode"] == 3 and p["result"]["text"] == "partial"
    assert "exited with status 3" in p["error"]["message"] and "boom" in p["error"]["message"]
    ws.close()


def test_bounded_concurrency_queues_the_rest(make_gateway, tmp_path):
    backend = script(tmp_path, "slow.sh", "read -r msg\nsleep 0.7\necho \"done $msg\"\n")
    gw = make_gateway(config=agent_config([backend], maxConcurrent=1))
    ws, _ = handshake(gw.url)
    for i in range(2):
        ws.send(json.dumps({"type": "req", "id": f"a{i}", "method": "agent",
                            "params": {"message": str(i), "idempotencyKey": uuid.uuid4().hex}}))
    finals, events = {}, []
    deadline = time.monotonic() + 15
    accepted = {}
    while len(finals) < 2:
        f = recv_json(ws, timeout=max(0.1, deadline - time.monotonic()))
        if f.get("type") == "res":
            (finals if f["id"] in accepted else accepted)[f["id"]] = (f, time.monotonic())
        elif f.get("event") == "agent":
            events.append(f["payload"])
    second = accepted["a1"][0]["payload"]["runId"]
    phases = [e["data"].get("phase") for e in events if e["runId"] == second and e["stream"] == "lifecycle"]
    assert phases[:2] == ["queued", "start"], phases
    assert finals["a0"][0]["payload"]["result"]["text"] == "done 0"
    assert finals["a1"][0]["payload"]["result"]["text"] == "done 1"
    assert finals["a1"][1] - finals["a0"][1] > 0.5  # ran after, not alongside
    ws.close()


def test_same_idempotency_key_joins_the_same_run(make_gateway, tmp_path):
    backend = script(tmp_path, "count.sh", f"echo run >> {tmp_path}/runs\nsleep 0.3\necho ok\n")
    gw = make_gateway(config=agent_config([backend]))
    ws, _ = handshake(gw.url)
    key = uuid.uuid4().hex
    a1, f1, _ = run_agent(ws, {"message": "x", "idempotencyKey": key}, id_="x1")
    a2, f2, _ = run_agent(ws, {"message": "x", "idempotencyKey": key}, id_="x2")
    assert a1["payload"]["runId"] == a2["payload"]["runId"] and f1["payload"] == f2["payload"]
    assert (tmp_path / "runs").read_text() == "run\n"
    ws.close()


def test_agent_wait_times_out_on_a_running_run(make_gateway, tmp_path):
    backend = script(tmp_path, "slow.sh", "sleep 2\necho late\n")
    gw = make_gateway(config=agent_config([backend]))
    ws, _ = handshake(gw.url)
    ws.send(json.dumps({"type": "req", "id": "a", "method": "agent",
                        "params": {"message": "x", "idempotencyKey": uuid.uuid4().hex}}))
    accepted = recv_json(ws)
    while accepted.get("id") != "a":
        accepted = recv_json(ws)
    w = call(ws, "agent.wait", {"runId": accepted["payload"]["runId"], "timeoutMs": 200}, id_="w")
    assert w["ok"] and w["payload"]["status"] == "timeout"
    w2 = call(ws, "agent.wait", {"runId": accepted["payload"]["runId"], "timeoutMs": 5000}, id_="w2")
    assert w2["payload"]["status"] == "ok" and w2["payload"]["result"]["text"] == "late"
    bad = call(ws, "agent.wait", {"runId": "nope"}, id_="w3")
    assert not bad["ok"] and "runId" in bad["error"]["message"]
    ws.close()


def test_agent_validation_and_missing_backend(gateway):
    ws, _ = handshake(gateway.url)
    r = call(ws, "agent", {"message": "x"})
    assert not r["ok"] and "idempotencyKey" in r["error"]["message"]
    r = call(ws, "agent", {"idempotencyKey": "k"}, id_="2")
    assert not r["ok"] and "message" in r["error"]["message"]
    r = call(ws, "agent", {"message": "x", "idempotencyKey": "k", "deliver": True}, id_="3")
    assert not r["ok"] and "to" in r["error"]["message"]
    r = call(ws, "agent", {"message": "x", "idempotencyKey": "k"}, id_="4")
    assert not r["ok"] and r["error"]["code"] == "UNAVAILABLE" and "agent.command" in r["error"]["message"]
    ws.close()


def irc_agent_gateway(make_gateway, ircd, observers, tmp_path, prefix):
    """A gateway linked to `ircd` whose agent answers "<prefix>: <message>", and an observer in the channel."""
    backend = script(tmp_path, "reply.sh", f'read -r msg\necho "{prefix}: $msg"\n')
    obs = observers(ircd.port)
    config = irc_config(ircd.port)
    config.update(agent_config([backend]))
    gw = make_gateway(config=config)
    wait_linked(gw.url)
    return gw, obs


def test_deliver_puts_the_reply_on_irc(make_gateway, ircd, observers, tmp_path):  # noqa: F811
    gw, obs = irc_agent_gateway(make_gateway, ircd, observers, tmp_path, "agent says")
    ws, _ = handshake(gw.url)
    accepted, final, _ = run_agent(ws, {"message": "pong", "idempotencyKey": uuid.uuid4().hex,
                                        "deliver": True, "to": CHANNEL})
    assert final["ok"], final
    p = final["payload"]
    assert p["status"] == "ok" and p["deliveryStatus"] == "delivered", p
    assert p["delivery"]["channel"] == "irc" and p["delivery"]["to"] == CHANNEL
    obs.wait_for(lambda o: o.texts("clawbot") == ["agent says: pong"])
    ws.close()


@pytest.mark.parametrize("deliver", [False, True])
def test_cli_agent_waits_for_the_final_answer(make_gateway, ircd, observers, tmp_path, deliver):  # noqa: F811
    gw, obs = irc_agent_gateway(make_gateway, ircd, observers, tmp_path, "cli got")
    cmd = [BIN, "agent", "--url", gw.url, "--token", "test-token", "--message", "hey", "--json"]
    if deliver:
        cmd += ["--deliver", "--to", CHANNEL]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if "unknown command" in (r.stderr + r.stdout).lower():
        pytest.skip("openclaw agent is not built yet")
    assert r.returncode == 0, r.stderr
    assert "cli got: hey" in r.stdout
    if deliver:
        obs.wait_for(lambda o: o.texts("clawbot") == ["cli got: hey"])
    else:
        time.sleep(0.3)
        assert obs.texts("clawbot") == []


def test_sigkilled_gateway_takes_its_runs_processes_with_it(make_gateway, tmp_path):
    marker = str(random.randint(100000, 999999))
    # The leader gets the marker as an argument; its children and grandchild carry it in theirs.
    backend = script(tmp_path, "orphans.sh",
                     f"sleep 3{marker} &\nsh -c 'sleep 4{marker}; true' &\necho started\nsleep 5{marker}\n")
    gw = make_gateway(config=agent_config([backend, marker]))
    ws, _ = handshake(gw.url)
    ws.send(json.dumps({"type": "req", "id": "a", "method": "agent",
                        "params": {"message": "x", "idempotencyKey": uuid.uuid4().hex}}))

    def run_processes():
        return subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()

    deadline = time.monotonic() + 10
    while len(run_processes()) < 5:  # the script, 3 sleeps and the sh between
        assert time.monotonic() < deadline, run_processes()
        time.sleep(0.05)
    gw.proc.kill()
    gw.proc.wait()
    deadline = time.monotonic() + 2
    while run_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    left = run_processes()
    assert left == [], subprocess.run(["ps", "-o", "pid,ppid,pgid,stat,args", "-p", ",".join(left)],
                                      capture_output=True, text=True).stdout
    ws.close()


def test_a_callers_timeout_cannot_outlast_the_configured_one(make_gateway, tmp_path):
    backend = script(tmp_path, "sleepy.sh", "sleep 30\n")
    gw = make_gateway(config=agent_config([backend], timeoutSeconds=1))
    ws, _ = handshake(gw.url)
    t0 = time.monotonic()
    _, final, _ = run_agent(ws, {"message": "x", "idempotencyKey": uuid.uuid4().hex, "timeout": 600})
    assert not final["ok"] and final["error"]["code"] == "AGENT_TIMEOUT", final
    assert time.monotonic() - t0 < 6
    ws.close()


def test_a_known_key_with_another_message_is_refused(make_gateway, tmp_path):
    backend = script(tmp_path, "ok.sh", "cat\n")
    gw = make_gateway(config=agent_config([backend]))
    ws, _ = handshake(gw.url)
    key = uuid.uuid4().hex
    _, final, _ = run_agent(ws, {"message": "first", "idempotencyKey": key})
    assert final["ok"]
    refused = call(ws, "agent", {"message": "second", "idempotencyKey": key}, id_="again")
    assert not refused["ok"] and refused["error"]["code"] == "INVALID_REQUEST"
    assert "different message" in refused["error"]["message"]
    ws.close()
