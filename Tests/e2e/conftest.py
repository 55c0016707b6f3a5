"""Fixtures that start the real `openclaw` binary and talk to it with Python
`websockets`, a WebSocket implementation nobody on this project wrote."""
import json
import os
import resource
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect as ws_connect

REPO = Path(__file__).resolve().parents[2]


def openclaw_bin() -> str:
    env = os.environ.get("OPENCLAW_BIN")
    if env:
        return env
    out = subprocess.run(["swift", "build", "--show-bin-path"], cwd=REPO, capture_output=True, text=True, check=True)
    return str(Path(out.stdout.strip()) / "openclaw")


BIN = openclaw_bin()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, directory: str):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages: list[str] = []

    def wait_for(self, predicate, timeout=10.0) -> str:
        deadline = time.monotonic() + timeout
        for m in self.messages:
            if predicate(m):
                return m
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            self.messages.append(data)
            if predicate(data):
                return data
        raise AssertionError(f"no matching sd_notify message; got {self.messages!r}")

    def close(self):
        self.sock.close()


class Gateway:
    """One running gateway process with its own state dir, config and port."""

    def __init__(self, tmp: str, config: dict | None = None, token: str | None = "test-token",
                 extra_env: dict | None = None, args: list[str] | None = None, activate: bool = False,
                 max_fds: int | tuple[int, int] | None = None):
        self.dir = tmp
        self.port = free_port()
        self.token = token
        self.state = os.path.join(tmp, "state")
        os.makedirs(self.state, exist_ok=True)
        cfg = {"gateway": {"tickIntervalMs": 30000}}
        if config:
            for k, v in config.items():
                if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                    cfg[k].update(v)
                else:
                    cfg[k] = v
        with open(os.path.join(self.state, "openclaw.json"), "w") as f:
            json.dump(cfg, f)
        self.notify = NotifySocket(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "LISTEN_", "NOTIFY_", "WATCHDOG_"))}
        env.update({"OPENCLAW_STATE_DIR": self.state, "NOTIFY_SOCKET": self.notify.path, "HOME": tmp})
        if token:
            env["OPENCLAW_GATEWAY_TOKEN"] = token
        env.update(extra_env or {})
        self.env = env
        cmd = [BIN, "gateway", "--port", str(self.port)] + (args or [])
        if activate:
            # systemd-socket-activate passes only the variables named with -E.
            passed = [f"-E{k}={v}" for k, v in env.items() if k.startswith(("OPENCLAW_", "NOTIFY_", "HOME", "WATCHDOG_"))]
            cmd = ["systemd-socket-activate", "-l", f"127.0.0.1:{self.port}", "--fdname=gateway"] + passed + cmd
        self.stderr_path = os.path.join(tmp, "gateway.stderr")
        self.stderr = open(self.stderr_path, "wb")
        # max_fds: one number (soft = hard) or a (soft, hard) pair.
        fds = max_fds if isinstance(max_fds, tuple) else (max_fds, max_fds)
        limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, fds)) if max_fds else None
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.stderr, stderr=subprocess.STDOUT, preexec_fn=limit)
        if not activate:
            self.notify.wait_for(lambda m: "READY=1" in m, timeout=15)
        else:
            wait_port(self.port)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        self.stderr.flush()
        return Path(self.stderr_path).read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()
        self.notify.close()
        return self.proc.returncode


def wait_port(port: int, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"port {port} never accepted")


def client_params(token=None, **over):
    params = {
        "minProtocol": 4, "maxProtocol": 4,
        "client": {"id": "pytest", "version": "1.0", "platform": "linux", "mode": "probe"},
    }
    if token is not None:
        params["auth"] = {"token": token}
    params.update(over)
    return params


def open_ws(url, **kw):
    return ws_connect(url, open_timeout=5, close_timeout=2, max_size=None, **kw)


def recv_json(ws, timeout=5.0):
    return json.loads(ws.recv(timeout=timeout))


def recv_until(ws, predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out waiting for a matching frame")
        frame = recv_json(ws, timeout=left)
        if predicate(frame):
            return frame


def handshake(url, token="test-token", **over):
    """Opens a connection and completes connect → hello-ok; returns (ws, hello payload)."""
    ws = open_ws(url)
    challenge = recv_json(ws)
    assert challenge["type"] == "event" and challenge["event"] == "connect.challenge"
    ws.send(json.dumps({"type": "req", "id": "hs", "method": "connect", "params": client_params(token, **over)}))
    res = recv_until(ws, lambda f: f.get("type") == "res" and f.get("id") == "hs")
    assert res["ok"], res
    return ws, res["payload"]


def call(ws, method, params=None, id_="1", timeout=5.0):
    req = {"type": "req", "id": id_, "method": method}
    if params is not None:
        req["params"] = params
    ws.send(json.dumps(req))
    return recv_until(ws, lambda f: f.get("type") == "res" and f.get("id") == id_, timeout=timeout)


@pytest.fixture
def make_gateway():
    started: list[Gateway] = []
    dirs = []

    def make(**kw) -> Gateway:
        tmp = tempfile.mkdtemp(prefix="openclaw-e2e-")
        dirs.append(tmp)
        gw = Gateway(tmp, **kw)
        started.append(gw)
        return gw

    yield make
    for gw in started:
        gw.stop()
    for d in dirs:
        subprocess.run(["rm", "-rf", d])


@pytest.fixture
def gateway(make_gateway) -> Gateway:
    return make_gateway()
