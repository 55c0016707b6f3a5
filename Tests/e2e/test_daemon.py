"""systemd-facing behaviour of the daemon process: sd_notify, start-up errors, reload."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

from conftest import BIN, Gateway, call, free_port, handshake


def test_notify_ready_status_watchdog_stopping(make_gateway):
    gw = make_gateway(extra_env={"WATCHDOG_USEC": "400000"})  # ping every 200 ms
    ready = gw.notify.wait_for(lambda m: "READY=1" in m)
    assert "STATUS=serving 0 clients on 127.0.0.1:%d" % gw.port in ready
    t0 = time.monotonic()
    gw.notify.wait_for(lambda m: m.strip() == "WATCHDOG=1")
    gw.notify.messages.clear()
    gw.notify.wait_for(lambda m: m.strip() == "WATCHDOG=1")
    assert time.monotonic() - t0 < 2
    ws, _ = handshake(gw.url)
    gw.notify.wait_for(lambda m: "STATUS=serving 1 client on" in m)
    st = call(ws, "status")["payload"]
    assert st["watchdogUsec"] == 400000
    gw.proc.send_signal(signal.SIGTERM)
    gw.notify.wait_for(lambda m: "STOPPING=1" in m)
    assert gw.proc.wait(timeout=10) == 0


def test_watchdog_stops_when_the_loop_hangs(make_gateway):
    gw = make_gateway(extra_env={"WATCHDOG_USEC": "200000"})
    gw.notify.wait_for(lambda m: m.strip() == "WATCHDOG=1")
    gw.proc.send_signal(signal.SIGSTOP)  # a hung loop
    time.sleep(0.3)
    gw.notify.messages.clear()
    try:
        gw.notify.wait_for(lambda m: "WATCHDOG=1" in m, timeout=0.8)
        raise AssertionError("a stopped gateway kept pinging")
    except AssertionError as e:
        assert "no matching" in str(e)
    gw.proc.send_signal(signal.SIGCONT)
    gw.notify.wait_for(lambda m: "WATCHDOG=1" in m, timeout=2)


def test_sighup_reloads_config(make_gateway):
    gw = make_gateway()
    with open(os.path.join(gw.state, "openclaw.json"), "w") as f:
        json.dump({"gateway": {"tickIntervalMs": 250}}, f)
    gw.notify.messages.clear()
    gw.proc.send_signal(signal.SIGHUP)
    reloading = gw.notify.wait_for(lambda m: "RELOADING=1" in m)
    assert "MONOTONIC_USEC=" in reloading
    gw.notify.wait_for(lambda m: "READY=1" in m)
    ws, hello = handshake(gw.url)
    assert hello["policy"]["tickIntervalMs"] == 250
    # a broken file keeps the old config and says why
    with open(os.path.join(gw.state, "openclaw.json"), "w") as f:
        f.write('{"gateway": {\n  "port": 1,,\n}}')
    gw.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert gw.proc.poll() is None
    st = call(ws, "status")["payload"]
    assert "line 2" in st["lastError"]


def run_gateway(args, env_extra=None, timeout=10):
    tmp = tempfile.mkdtemp(prefix="openclaw-e2e-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "LISTEN_", "NOTIFY_"))}
    env.update({"OPENCLAW_STATE_DIR": tmp, "HOME": tmp})
    env.update(env_extra or {})
    return tmp, subprocess.run([BIN, "gateway"] + args, env=env, capture_output=True, text=True, timeout=timeout)


def test_broken_config_names_file_and_line():
    tmp = tempfile.mkdtemp(prefix="openclaw-e2e-")
    path = os.path.join(tmp, "openclaw.json")
    with open(path, "w") as f:
        f.write('{\n  "gateway": {\n    "port": 18789\n    "bind": "x"\n  }\n}\n')
    _, r = run_gateway(["--port", str(free_port())], {"OPENCLAW_CONFIG_PATH": path})
    assert r.returncode != 0
    assert path in r.stderr and "line 4" in r.stderr
    assert "Traceback" not in r.stderr and "Fatal error" not in r.stderr


def test_port_in_use_names_the_port_and_what_to_run():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        _, r = run_gateway(["--port", str(port)])
    assert r.returncode != 0
    assert f"port {port}" in r.stderr and "openclaw gateway status" in r.stderr


def test_non_loopback_bind_without_auth_is_refused():
    _, r = run_gateway(["--port", str(free_port()), "--bind", "0.0.0.0"])
    assert r.returncode != 0 and "without auth" in r.stderr


def test_loopback_without_token_runs_with_auth_none(make_gateway):
    gw = make_gateway(token=None)
    ws, hello = handshake(gw.url, token=None)
    assert hello["snapshot"]["authMode"] == "none"


def test_credential_token_wins_over_env(make_gateway):
    creds = tempfile.mkdtemp(prefix="openclaw-creds-")
    with open(os.path.join(creds, "gateway-token"), "w") as f:
        f.write("from-credential\n")
    gw = make_gateway(token="from-env", extra_env={"CREDENTIALS_DIRECTORY": creds})
    ws, hello = handshake(gw.url, token="from-credential")
    assert hello["type"] == "hello-ok"


def test_profile_and_env_port(make_gateway):
    tmp = tempfile.mkdtemp(prefix="openclaw-e2e-")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "LISTEN_", "NOTIFY_"))}
    env.update({"HOME": tmp, "OPENCLAW_GATEWAY_PORT": str(port), "OPENCLAW_GATEWAY_TOKEN": "t"})
    p = subprocess.Popen([BIN, "gateway", "--profile", "work"], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                ws, hello = handshake(f"ws://127.0.0.1:{port}", token="t")
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert hello["snapshot"]["stateDir"] == os.path.join(tmp, ".openclaw-work")
        assert call(ws, "status")["payload"]["profile"] == "work"
    finally:
        p.terminate()
        p.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_descriptors_pauses_accept_without_spinning(make_gateway):
    gw = make_gateway(max_fds=48)
    keeper, _ = handshake(gw.url)
    held = []
    for _ in range(80):  # more than the gateway may hold: the rest wait in the backlog
        held.append(socket.create_connection(("127.0.0.1", gw.port), timeout=5))
    time.sleep(0.5)
    before = cpu_seconds(gw.proc.pid)
    time.sleep(1.5)
    assert cpu_seconds(gw.proc.pid) - before < 0.5, "the loop spins on a listener it cannot accept from"
    assert "accept" in call(keeper, "status")["payload"].get("lastError", "")
    for s in held:
        s.close()
    ws, hello = handshake(gw.url)  # serving again once descriptors are free
    assert hello["type"] == "hello-ok"
    assert gw.proc.poll() is None
