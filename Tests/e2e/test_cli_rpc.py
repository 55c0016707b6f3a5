"""The `openclaw` commands that talk to a running gateway (health, call, logs,
message send, agent), run as a user would: the real binary against a real
gateway from the conftest fixture, output read from its stdout/stderr."""
import json
import os
import pty
import re
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import BIN, free_port, wait_port


def cli_env(gw=None, **extra):
    """A clean environment: no inherited OPENCLAW_*, the gateway's state dir and token when given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "LISTEN_", "NOTIFY_"))}
    env.pop("NO_COLOR", None)
    if gw is not None:
        env["OPENCLAW_STATE_DIR"] = gw.state
        env["HOME"] = gw.dir
        if gw.token:
            env["OPENCLAW_GATEWAY_TOKEN"] = gw.token
        env["OPENCLAW_GATEWAY_URL"] = gw.url
    else:
        home = tempfile.mkdtemp(prefix="openclaw-cli-")
        env["HOME"] = home
        env["OPENCLAW_STATE_DIR"] = os.path.join(home, "state")
    env.update(extra)
    return env


def run(args, env, timeout=20):
    return subprocess.run([BIN, *args], env=env, capture_output=True, text=True, timeout=timeout)


def one_sentence(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


def write_port_to_config(gw):
    """Points the config at the fixture's port, so the CLI finds the gateway without --url."""
    path = os.path.join(gw.state, "openclaw.json")
    with open(path) as f:
        cfg = json.load(f)
    cfg.setdefault("gateway", {})["port"] = gw.port
    with open(path, "w") as f:
        json.dump(cfg, f)


# --- health / call ---------------------------------------------------------

def test_health_text_and_json(gateway):
    env = cli_env(gateway)
    res = run(["gateway", "health"], env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Gateway: healthy")
    assert "\x1b[" not in res.stdout  # not a terminal: no colour

    res = run(["gateway", "health", "--json"], env)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["ok"] is True and "channels" in doc


def test_target_comes_from_the_profile_config(gateway):
    write_port_to_config(gateway)
    env = cli_env(gateway)
    del env["OPENCLAW_GATEWAY_URL"]
    res = run(["gateway", "call", "status", "--json"], env)
    assert res.returncode == 0, res.stderr
    status = json.loads(res.stdout)
    assert status["port"] == gateway.port
    assert status["pid"] == gateway.proc.pid


def test_url_flag_beats_env(gateway):
    env = cli_env(gateway, OPENCLAW_GATEWAY_URL=f"ws://127.0.0.1:{free_port()}")
    res = run(["gateway", "health", "--url", gateway.url], env)
    assert res.returncode == 0, res.stderr


def test_wrong_token_is_one_clear_sentence(gateway):
    env = cli_env(gateway, OPENCLAW_GATEWAY_TOKEN="wrong")
    res = run(["gateway", "health"], env)
    assert res.returncode == 7  # up, but it refuses our secret (README's exit codes)
    line = one_sentence(res.stderr)
    assert gateway.url in line and "token" in line


def test_call_params_and_errors(gateway):
    env = cli_env(gateway)
    res = run(["gateway", "call", "logs.tail", "--params", '{"limit": 2}'], env)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)  # pretty-printed, still one JSON document
    assert len(doc["lines"]) <= 2 and "cursor" in doc

    res = run(["gateway", "call", "status", "--json"], env)
    assert res.returncode == 0
    assert len(res.stdout.strip().splitlines()) == 1

    res = run(["gateway", "call", "no.such.method"], env)
    assert res.returncode == 1
    assert "unknown method" in one_sentence(res.stderr)

    res = run(["gateway", "call", "status", "--params", "{nope"], env)
    assert res.returncode == 2
    assert "--params is not valid JSON" in one_sentence(res.stderr)


# --- logs ------------------------------------------------------------------

def system_event(env, text):
    res = run(["gateway", "call", "system-event", "--params", json.dumps({"text": text})], env)
    assert res.returncode == 0, res.stderr


def test_logs_limit_and_json(gateway):
    env = cli_env(gateway)
    for i in range(3):
        system_event(env, f"marker-{i}")
    res = run(["logs", "--limit", "2"], env)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 2
    assert "marker-2" in res.stdout or "client" in res.stdout

    res = run(["logs", "--json"], env)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["cursor"] and any("marker-1" in line for line in doc["lines"])


class Follower:
    """`openclaw logs --follow` running in the background; its stdout lines collected by a thread."""

    def __init__(self, args, env):
        self.proc = subprocess.Popen([BIN, "logs", "--follow", *args], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(re.search(pattern, line) for line in self.lines):
                return
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r}; saw {self.lines!r}")

    def stop(self) -> str:
        self.proc.terminate()
        self.proc.wait(timeout=5)
        self.thread.join(timeout=5)
        return self.proc.stderr.read()


def test_logs_follow_survives_a_gateway_restart(gateway):
    env = cli_env(gateway)
    system_event(env, "before-follow")
    follow = Follower(["--interval", "100", "--limit", "50"], env)
    try:
        follow.wait_for("before-follow")
        system_event(env, "while-following")
        follow.wait_for("while-following")

        # Restart: a new process on the same port and state dir.
        port = gateway.port
        gateway.stop()
        genv = dict(gateway.env)
        genv.pop("NOTIFY_SOCKET", None)
        with open(os.path.join(gateway.dir, "gateway2.stderr"), "wb") as err:
            second = subprocess.Popen([BIN, "gateway", "--port", str(port)], env=genv, stdout=err,
                                      stderr=subprocess.STDOUT)
        try:
            wait_port(port)
            system_event(env, "after-restart")
            follow.wait_for("after-restart", timeout=15)
            time.sleep(0.5)  # a few more polls: nothing may repeat
        finally:
            second.terminate()
            second.wait(timeout=10)
    finally:
        stderr = follow.stop()
    seen = follow.lines
    for marker in ("before-follow", "while-following", "after-restart"):
        hits = [line for line in seen if f"system event: {marker}" in line]
        assert len(hits) == 1, (marker, seen)
    assert len(seen) == len(set(seen)), seen  # every line is stamped with its time: equal means duplicated
    assert "reconnected" in stderr.lower(), stderr


def test_logs_follow_json_lines(gateway):
    env = cli_env(gateway)
    system_event(env, "json-follow")
    follow = Follower(["--json", "--interval", "100"], env)
    try:
        follow.wait_for("json-follow")
    finally:
        follow.stop()
    docs = [json.loads(line) for line in follow.lines]
    assert all(set(d) == {"line", "cursor"} for d in docs)


# --- message send / agent ---------------------------------------------------

def test_send_without_a_channel_fails_and_prints_the_key(gateway):
    env = cli_env(gateway)
    res = run(["message", "send", "--target", "#ops", "--message", "hi"], env)
    assert res.returncode == 1
    key = re.search(r"Idempotency key: ([0-9a-f-]{36})", res.stderr)
    assert key, res.stderr
    assert f"--idempotency-key {key.group(1)}" in res.stderr.splitlines()[-1]

    res = run(["message", "send", "--target", "#ops", "--message", "hi", "--idempotency-key", "k-1"], env)
    assert res.returncode == 1
    assert "Idempotency key:" not in res.stderr  # a given key is not announced again
    assert "--idempotency-key k-1" in one_sentence(res.stderr)


AGENT_SCRIPT = """#!/bin/sh
read msg
printf 'you said: '
sleep 0.2
printf '%s\\n' "$msg"
"""


@pytest.fixture
def agent_gateway(make_gateway, tmp_path):
    script = tmp_path / "agent.sh"
    script.write_text(AGENT_SCRIPT)
    script.chmod(0o755)
    return make_gateway(config={"agent": {"command": [str(script)], "timeoutSeconds": 30}})


def test_agent_streams_and_waits_for_the_final_reply(agent_gateway):
    env = cli_env(agent_gateway)
    res = run(["agent", "--message", "hello"], env)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "you said: hello\n"

    res = run(["agent", "--message", "hello", "--json"], env)
    assert res.returncode == 0, res.stderr
    final = json.loads(res.stdout)
    assert final["status"] == "ok" and final["result"]["text"].rstrip("\n") == "you said: hello"

    res = run(["agent", "--message", "hello", "--no-wait"], env)
    assert res.returncode == 0, res.stderr
    assert re.search(r"run id \S+", res.stdout)


def test_agent_timeout_is_an_error(make_gateway, tmp_path):
    script = tmp_path / "slow.sh"
    script.write_text("#!/bin/sh\nsleep 30\n")
    script.chmod(0o755)
    gw = make_gateway(config={"agent": {"command": [str(script)]}})
    t0 = time.monotonic()
    res = run(["agent", "--message", "x", "--timeout", "1"], cli_env(gw))
    assert res.returncode == 1
    assert "timed out" in one_sentence(res.stderr)
    assert time.monotonic() - t0 < 10


# --- fail fast when no gateway runs (G2) -----------------------------------

DOWN_COMMANDS = [
    ["gateway", "health"],
    ["gateway", "call", "status"],
    ["logs"],
    ["logs", "--follow"],
    ["message", "send", "--target", "#ops", "--message", "hi"],
    ["agent", "--message", "hi"],
]


@pytest.mark.parametrize("args", DOWN_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_fails_fast_when_no_gateway_runs(args):
    port = free_port()  # nothing listens here
    env = cli_env(None, OPENCLAW_GATEWAY_PORT=str(port))
    t0 = time.monotonic()
    res = run(args, env, timeout=10)
    elapsed = time.monotonic() - t0
    assert res.returncode != 0
    assert elapsed < 2.0, elapsed
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and f"ws://127.0.0.1:{port}" in line, res.stderr
    assert "openclaw gateway status" in line


def test_fails_fast_on_a_silent_port():
    """A port that accepts but never answers the upgrade still ends within the connect timeout."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        env = cli_env(None)
        t0 = time.monotonic()
        res = run(["gateway", "health", "--url", f"ws://127.0.0.1:{port}"], env, timeout=30)
        assert res.returncode != 0
        assert time.monotonic() - t0 < 15
        assert f"ws://127.0.0.1:{port}" in res.stderr


# --- colour ----------------------------------------------------------------

def run_on_tty(args, env):
    """Runs the CLI with stdout on a pseudo-terminal; returns what it printed there."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(BIN, [BIN, *args], env)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    os.close(fd)
    return out.decode(errors="replace")


def test_colour_only_on_a_terminal_without_no_color(gateway):
    env = cli_env(gateway, TERM="xterm")
    assert "\x1b[32mhealthy" in run_on_tty(["gateway", "health"], env)
    assert "\x1b[" not in run_on_tty(["gateway", "health"], {**env, "NO_COLOR": "1"})
    assert "\x1b[" not in run(["gateway", "health"], env).stdout


# --- usage -----------------------------------------------------------------

def test_usage_errors_exit_2_with_one_sentence():
    env = cli_env(None)
    for args in (["logs", "--bogus"], ["gateway", "frob"], ["message", "send"], [], ["gateway", "install", "--port", "x"]):
        res = run(args, env)
        assert res.returncode == 2, (args, res)
        assert "--help" in one_sentence(res.stderr)
        assert res.stdout == ""


def test_help_and_version():
    env = cli_env(None)
    res = run(["--version"], env)
    assert res.returncode == 0 and re.fullmatch(r"openclaw \S+\n", res.stdout)
    res = run(["gateway", "call", "--help"], env)
    assert res.returncode == 0 and res.stdout.startswith("Usage: openclaw gateway call METHOD")
