"""Fault injection on the send ledger, the record that keeps `send` exactly-once:
a full filesystem (a 64 KiB tmpfs), fsync failing with EIO (an LD_PRELOAD shim,
since no kernel filesystem here can be told to fail fsync), a read-only state
dir, and a torn last line left by a crash.

In each case the gateway starts and keeps serving, refuses `send` with
UNAVAILABLE naming the cause (nothing reaches IRC that was not recorded first),
shows the condition in `health` and `status` (storage.sendLedger), and records
again by itself once the disk takes writes again — the retry under the same key
is then delivered exactly once. Mounting needs root (skipped otherwise)."""
import json
import os
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, Gateway, call, handshake
from test_messaging import Observer, ircd, irc_config, send_params, wait_linked  # noqa: F401 (ircd: fixture)

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
/* fsync/fdatasync fail with EIO while the file named by OPENCLAW_TEST_FAIL_FSYNC exists. */
static int failing(void) {
    const char *flag = getenv("OPENCLAW_TEST_FAIL_FSYNC");
    return flag && access(flag, F_OK) == 0;
}
int fsync(int fd) {
    if (failing()) { errno = EIO; return -1; }
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    return real(fd);
}
int fdatasync(int fd) {
    if (failing()) { errno = EIO; return -1; }
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    return real(fd);
}
"""


@pytest.fixture
def store():
    """A 64 KiB tmpfs for the state dir, and a directory beside it for the config."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    tmp = tempfile.mkdtemp(prefix="openclaw-faults-")
    mount = os.path.join(tmp, "store")
    os.makedirs(mount)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", mount], check=True)
    yield tmp, mount
    subprocess.run(["umount", "-l", mount])
    subprocess.run(["rm", "-rf", tmp])


@pytest.fixture
def gateways():
    started = []
    yield started
    for gw in started:
        gw.stop()


def start(gateways, tmp, mount, port, extra_env=None):
    if os.path.exists(os.path.join(tmp, "notify.sock")):  # left by a gateway this test killed
        os.unlink(os.path.join(tmp, "notify.sock"))
    env = {"OPENCLAW_STATE_DIR": mount, "OPENCLAW_CONFIG_PATH": os.path.join(tmp, "state", "openclaw.json")}
    gw = Gateway(tmp, config=irc_config(port), extra_env={**env, **(extra_env or {})})
    gateways.append(gw)
    wait_linked(gw.url)
    return gw


def ledger_health(gw, method="health"):
    ws, _ = handshake(gw.url)
    try:
        return call(ws, method)["payload"]
    finally:
        ws.close()


def send(gw, key, message):
    ws, _ = handshake(gw.url)
    try:
        return call(ws, "send", send_params(key, message), timeout=10)
    finally:
        ws.close()


def wait_recovered(gw, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = ledger_health(gw)
        if health["storage"]["sendLedger"]["ok"]:
            return health
        time.sleep(0.2)
    raise AssertionError(f"the ledger never recovered: {health['storage']!r}")


def assert_refused(gw, key, message, cause):
    res = send(gw, key, message)
    assert not res["ok"], res
    err = res["error"]
    assert err["code"] == "UNAVAILABLE" and err["retryable"] is True, err
    assert cause in err["message"] and cause in err["details"]["cause"], err
    for method in ("health", "status"):
        ledger = ledger_health(gw, method)["storage"]["sendLedger"]
        assert ledger["ok"] is False and cause in ledger["error"] and ledger["since"], ledger
    assert ledger_health(gw)["ok"] is False
    # What an operator runs: `openclaw gateway status` names the store, the cause and what to do.
    r = subprocess.run([BIN, "gateway", "status", "--url", gw.url, "--json"], capture_output=True, text=True,
                       timeout=20, env=gw.env)
    doc = json.loads(r.stdout)
    assert doc["rpc"]["storage"]["sendLedger"]["ok"] is False, doc["rpc"]
    warning = [w for w in doc["warnings"] if "sendLedger cannot record" in w]
    assert warning and cause in warning[0] and "recovers by itself" in warning[0], doc["warnings"]


def fill(path):
    """Writes until the filesystem is full; returns the filler's path."""
    filler = os.path.join(path, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_full_disk_refuses_then_recovers_and_delivers_once(store, ircd, gateways):
    tmp, mount = store
    gw = start(gateways, tmp, mount, ircd.port)
    observer = Observer(ircd.port)
    try:
        filler = fill(mount)
        assert_refused(gw, "full-1", "while full", "No space left on device")
        time.sleep(0.5)
        assert "while full" not in observer.texts(), "sent what it could not record"
        os.unlink(filler)
        wait_recovered(gw)
        res = send(gw, "full-1", "while full")
        assert res["ok"], res
        observer.wait_for(lambda o: "while full" in o.texts())
        assert send(gw, "full-1", "while full")["payload"] == res["payload"]
        time.sleep(0.3)
        assert observer.texts().count("while full") == 1
        log = gw.log_text()
        assert "No space left on device" in log and "recording again" in log
    finally:
        observer.close()


def test_fsync_eio_refuses_then_recovers(store, ircd, gateways):
    tmp, mount = store
    shim = os.path.join(tmp, "failfsync.so")
    source = os.path.join(tmp, "failfsync.c")
    with open(source, "w") as f:
        f.write(SHIM)
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", shim, source, "-ldl"], check=True)
    flag = os.path.join(tmp, "fail-fsync")
    gw = start(gateways, tmp, mount, ircd.port, {"LD_PRELOAD": shim, "OPENCLAW_TEST_FAIL_FSYNC": flag})
    observer = Observer(ircd.port)
    try:
        assert send(gw, "eio-0", "before")["ok"]
        open(flag, "w").close()
        assert_refused(gw, "eio-1", "during eio", "Input/output error")
        time.sleep(0.5)
        assert "during eio" not in observer.texts()
        os.unlink(flag)
        wait_recovered(gw)
        assert send(gw, "eio-1", "during eio")["ok"]
        # What was recorded before the fault survived the rewrite: the same key answers, nothing new is sent.
        assert send(gw, "eio-0", "before")["ok"]
        observer.wait_for(lambda o: "during eio" in o.texts())
        time.sleep(0.3)
        assert observer.texts().count("before") == 1 and observer.texts().count("during eio") == 1
    finally:
        observer.close()


def test_read_only_state_dir_starts_refuses_and_recovers(store, ircd, gateways):
    tmp, mount = store
    subprocess.run(["mount", "-o", "remount,ro", mount], check=True)
    gw = start(gateways, tmp, mount, ircd.port)
    observer = Observer(ircd.port)
    try:
        assert_refused(gw, "ro-1", "read only", "Read-only file system")
        # The session store (transcripts) could not create its directory either: reported, not fatal.
        sessions = ledger_health(gw)["storage"]["sessions"]
        assert sessions["ok"] is False and "Read-only file system" in sessions["error"], sessions
        subprocess.run(["mount", "-o", "remount,rw", mount], check=True)
        wait_recovered(gw)
        deadline = time.monotonic() + 10
        while not ledger_health(gw)["storage"]["sessions"]["ok"]:
            assert time.monotonic() < deadline, "the session store never recovered"
            time.sleep(0.2)
        assert send(gw, "ro-1", "read only")["ok"]
        observer.wait_for(lambda o: "read only" in o.texts())
    finally:
        observer.close()


def test_torn_last_line_after_a_crash(store, ircd, gateways):
    tmp, mount = store
    ledger = os.path.join(mount, "send-ledger.jsonl")
    gw = start(gateways, tmp, mount, ircd.port)
    observer = Observer(ircd.port)
    try:
        assert send(gw, "torn-1", "before the crash")["ok"]
        observer.wait_for(lambda o: "before the crash" in o.texts())
        gw.stop(signal.SIGKILL)
        # The crash cut the last record (`done`) in the middle.
        with open(ledger, "rb") as f:
            data = f.read()
        assert data.endswith(b"\n")
        with open(ledger, "wb") as f:
            f.write(data[:len(data) - 20])
        gw = start(gateways, tmp, mount, ircd.port)
        assert ledger_health(gw)["storage"]["sendLedger"]["ok"] is True
        assert "skipped 1 torn or unreadable line" in gw.log_text()
        with open(ledger, "rb") as f:
            assert f.read().endswith(b"\n"), "the torn line was not rewritten away"
        # The record before the torn one decides: handed off, no `done`: in doubt, never re-sent.
        res = send(gw, "torn-1", "before the crash")
        assert not res["ok"] and res["error"]["code"] == "UNAVAILABLE" and res["error"]["details"]["inDoubt"], res
        assert send(gw, "torn-2", "after the crash")["ok"]
        observer.wait_for(lambda o: "after the crash" in o.texts())
        assert observer.texts().count("before the crash") == 1
    finally:
        observer.close()


def test_a_full_disk_fails_session_turns_as_unavailable_with_the_cause(store, gateways, tmp_path):
    """The session transcript writer on a full state dir: the turn's caller gets UNAVAILABLE naming
    ENOSPC, storage.sessions shows it, and the next turn once there is room is recorded whole."""
    tmp, mount = store
    backend = tmp_path / "echo.sh"
    backend.write_text("#!/bin/sh\nprintf 'reply:%s' \"$(cat)\"\n")
    backend.chmod(0o755)
    env = {"OPENCLAW_STATE_DIR": mount, "OPENCLAW_CONFIG_PATH": os.path.join(tmp, "state", "openclaw.json")}
    gw = Gateway(tmp, config={"agent": {"command": [str(backend)], "runner": "fork"}}, extra_env=env)
    gateways.append(gw)
    ws, _ = handshake(gw.url)
    try:
        def turn(message, key):
            assert call(ws, "agent", {"message": message, "sessionKey": "s", "idempotencyKey": key}, id_=key)["ok"]
            while True:
                frame = json.loads(ws.recv(timeout=10))
                if frame.get("type") == "res" and frame["id"] == key:
                    return frame

        final = turn("before", "t1")
        assert final["ok"], final
        filler = fill(mount)
        final = turn("x" * 20000, "t2")
        assert not final["ok"] and final["error"]["code"] == "UNAVAILABLE", final
        assert "No space left on device" in final["error"]["message"], final
        assert final["error"]["details"]["transcriptError"]["errno"] == 28
        sessions = call(ws, "health", id_="h")["payload"]["storage"]["sessions"]
        assert sessions["ok"] is False and "No space left on device" in sessions["error"], sessions
        os.unlink(filler)
        final = turn("after", "t3")
        assert final["ok"], final
        history = call(ws, "chat.history", {"sessionKey": "s"}, id_="h2")["payload"]["messages"]
        assert [m["text"] for m in history] == ["before", "reply:before", "after", "reply:after"], history
        assert call(ws, "health", id_="h3")["payload"]["storage"]["sessions"]["ok"] is True
    finally:
        ws.close()


def test_transcript_store_recovers_by_itself_once_space_returns(store, ircd, gateways):
    """Session transcripts: after a failed write (ENOSPC) storage.sessions clears by itself once
    space returns (a durable probe write every 2 s), before any further turn."""
    tmp, mount = store
    backend = os.path.join(tmp, "backend.sh")
    with open(backend, "w") as f:
        f.write("#!/bin/sh\ncat >/dev/null\necho reply\n")
    os.chmod(backend, 0o755)
    env = {"OPENCLAW_STATE_DIR": mount, "OPENCLAW_CONFIG_PATH": os.path.join(tmp, "state", "openclaw.json")}
    gw = Gateway(tmp, config={**irc_config(ircd.port), "agent": {"command": [backend], "timeoutSeconds": 10}}, extra_env=env)
    gateways.append(gw)

    def turn(key):
        # A session of its own each time: its new transcript needs a fresh page (tmpfs fills by pages).
        ws, _ = handshake(gw.url)
        try:
            started = call(ws, "chat.send", {"sessionKey": f"session-{key}", "message": "hello", "idempotencyKey": key})
            assert started["ok"], started
            return call(ws, "agent.wait", {"runId": started["payload"]["runId"], "timeoutMs": 10000}, id_="w", timeout=15)
        finally:
            ws.close()

    turn("t1")
    assert ledger_health(gw)["storage"]["sessions"]["ok"] is True
    filler = fill(mount)
    turn("t2")
    sessions = ledger_health(gw)["storage"]["sessions"]
    assert sessions["ok"] is False and "No space left on device" in sessions["error"], sessions
    assert ledger_health(gw)["ok"] is False
    os.unlink(filler)
    deadline = time.monotonic() + 10
    while not ledger_health(gw)["storage"]["sessions"]["ok"]:
        assert time.monotonic() < deadline, "the session store never recovered"
        time.sleep(0.2)
    assert "sessions: recording again" in gw.log_text()


def test_a_reply_that_cannot_be_recorded_is_never_sent(ircd, gateways, tmp_path):  # noqa: F811
    """"Never send what it could not record first", for session turns: only the transcripts sit on
    a 64 KiB tmpfs (the send ledger has room). Once it is full, an inbound IRC message whose reply
    does not fit gets no reply on IRC (the observer sees nothing), the turn's chat event is "error"
    naming ENOSPC, storage.sessions shows it; with space back the next message is answered."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    tmp = str(tmp_path)
    sessions = os.path.join(tmp, "state", "sessions")
    os.makedirs(sessions)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", sessions], check=True)
    try:
        backend = tmp_path / "backend.sh"
        # A reply bigger than a tmpfs page for "big", so its append needs a page the full disk lacks.
        backend.write_text("#!/bin/sh\nmsg=$(cat)\ncase \"$msg\" in *big*) printf 'big:%06000d\\n' 0 ;; "
                           "*) echo \"reply:$msg\" ;; esac\n")
        backend.chmod(0o755)
        config = {**irc_config(ircd.port, allowFrom=["alice"]), "agent": {"command": [str(backend)], "runner": "fork"}}
        gw = Gateway(tmp, config=config)
        gateways.append(gw)
        wait_linked(gw.url)
        alice = Observer(ircd.port, nick="alice", channel=None)
        ws, _ = handshake(gw.url)
        try:
            def replies():
                return [m[2] for m in alice.messages if m[0] == "clawbot"]

            def chat_end():
                while True:
                    frame = json.loads(ws.recv(timeout=10))
                    if frame.get("event") == "chat" and frame["payload"]["state"] in ("final", "error"):
                        return frame["payload"]

            alice.send("PRIVMSG clawbot :first")
            assert chat_end()["state"] == "final"
            alice.wait_for(lambda o: "reply:first" in replies())
            filler = fill(sessions)
            alice.send("PRIVMSG clawbot :big one")
            end = chat_end()
            assert end["state"] == "error" and "No space left on device" in end["errorMessage"], end
            status = call(ws, "health", id_="h")["payload"]["storage"]["sessions"]
            assert status["ok"] is False and "No space left on device" in status["error"], status
            time.sleep(0.5)  # a reply sent anyway would have reached alice by now
            assert not any(r.startswith("big:") for r in replies()), replies()
            os.unlink(filler)
            alice.send("PRIVMSG clawbot :big again")
            assert chat_end()["state"] == "final"
            alice.wait_for(lambda o: any(r.startswith("big:") for r in replies()))
            history = call(ws, "chat.history", {"sessionKey": "irc:direct:alice"}, id_="h2")["payload"]["messages"]
            assert [m["text"][:4] for m in history] == ["firs", "repl", "big ", "big:"], history
        finally:
            ws.close()
            alice.close()
    finally:
        for gw in gateways:
            gw.stop()
        subprocess.run(["umount", "-l", sessions])
