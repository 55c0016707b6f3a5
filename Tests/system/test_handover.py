"""Issue 11: a restart is invisible to connected clients (systemd's fd store).

handover_client.py holds the clients inside the box, keeps a `status` request in flight on
some of them and connects a prober in a loop; the tests restart the gateway under it and
check what a user's client would notice: no close, no `shutdown` event, every request id
answered exactly once, event `seq` without a gap, the new process answering, no refused or
failed connect, and the store empty again afterwards. A SIGKILL in the middle of a hand-over
(the old process held at a syscall by strace's delay injection, from the host) must leave
every client resumed or closed with 1012 and a reason, none hanging, nothing in the store.
With the store disabled (FileDescriptorStoreMax=0) a restart closes with 1012 as before.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from conftest import INSIDE, SYSTEM_TOKEN, URL, USER, USER_TOKEN, figure, wait_for
from swarm import SERVICE, Swarm, main_pid

USER_CONFIG = f"/home/{USER}/.openclaw/openclaw.json"
IRC_PORT, IRC_LOG = 16668, "/root/irc-handover.log"
SYSTEM_CONFIG = "/var/lib/openclaw/openclaw.json"
NO_STORE = f"/home/{USER}/.config/systemd/user/{SERVICE}.d/no-fdstore.conf"


@pytest.fixture
def swarm(box):
    started: list[Swarm] = []

    def start(clients: int, looping: int, token: str = USER_TOKEN) -> Swarm:
        started.append(Swarm(box, INSIDE, URL, clients, looping, token))
        return started[-1]

    yield start
    for one in started:
        one.stop()


def store_count(box, user: str | None) -> int:
    """How many fds systemd holds for the service (NFileDescriptorStore)."""
    scope = "--user " if user else ""
    return int(box.run(f"systemctl {scope}show -P NFileDescriptorStore {SERVICE}", user=user).stdout.strip())


def journal(box, user: str | None, lines: int = 30) -> str:
    """The service's latest journal lines, without the per-client connect/disconnect ones."""
    scope = "--user " if user else ""
    out = box.run(f"journalctl {scope}-u {SERVICE} -n 400 -o short-monotonic --no-pager",
                  user=user, check=False).stdout.splitlines()
    return "\n".join([line for line in out if not line.endswith(("client connected", "client disconnected"))][-lines:])


def write_config(box, path: str, owner: str, tick_ms: int, **sections):
    config = json.dumps({"gateway": {"tickIntervalMs": tick_ms}, **sections})
    box.run(f"umask 077 && printf '%s' '{config}' > {path} && chown {owner}: {path}")


@pytest.fixture
def fast_ticks(box):
    """alice's gateway ticks every 500 ms, so every client hears from the new process at once
    (written before `user_gateway` starts it; that fixture removes the file)."""
    write_config(box, USER_CONFIG, USER, 500)


def restarted(box, clients: Swarm, name: str, command: str, user: str | None) -> int:
    """Runs a restart between two marks; the new MainPID once it answered a looping client."""
    r, old, new = clients.restart(name, command, user)
    assert r.returncode == 0, f"{command}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    assert new not in (0, old), f"{command}: MainPID {old} -> {new}"

    def answered_by_new():
        check = clients.ask("check")
        if check["closed"]:
            summary = clients.finish()
            raise AssertionError(f"{name}: {summary['closed_count']} of {summary['clients']} clients were closed, "
                                 f"e.g. {summary['closed'][:3]}; shutdown events {summary['shutdown_events']}, "
                                 f"lost requests {summary['lost']}\n{journal(box, user)}")
        return check["pids"].get(str(new))

    wait_for(answered_by_new, 30, interval=0.2, what=f"{name}: a request answered by the new gateway (pid {new})")
    return new


def assert_invisible(box, clients: Swarm, user: str | None, tick_s: float) -> dict:
    """Every client heard from the new process; then the summary says nothing was noticed."""
    wait_for(lambda: clients.ask("check")["silent"] == 0, 2 * tick_s + 5, interval=0.2,
             what="an event from the new gateway on every client")
    probe = clients.ask("probe 10", timeout=60)
    s = clients.finish()
    assert s["closed_count"] == 0, (s["closed"], journal(box, user))
    assert probe["hanging"] == 0 and probe["answered"] == s["clients"], probe
    assert s["shutdown_events"] == 0, s
    assert s["gap_clients"] == 0, s["gaps"]
    assert s["lost"] == 0 and s["answered_twice"] == 0 and s["sent"] > 0, s
    assert s["not_ok_count"] == 0, s["not_ok"]
    p = s["prober"]
    assert p["refused"] == 0 and p["failed"] == 0 and p["ok"] > 0, p
    assert all(w["first_new_answer_s"] is not None for w in s["windows"]), s["windows"]
    assert wait_for(lambda: store_count(box, user) == 0, 10, what="the store empty after the take-over")
    return s


def test_restart_is_invisible_to_20_clients(box, fast_ticks, user_gateway, swarm):
    clients = swarm(20, 5)
    restarted(box, clients, "restart", "openclaw gateway restart", USER)
    s = assert_invisible(box, clients, USER, 0.5)
    figure("hand-over, 20 clients: restart -> first answer from the new process",
           f"{s['windows'][0]['first_new_answer_s'] * 1e3:.0f} ms")


@pytest.fixture
def agent_backend(box):
    """alice's gateway with fast ticks and the Node agent backend (a "slow" message takes over 3 s)."""
    write_config(box, USER_CONFIG, USER, 500, agent={"command": ["node", f"{INSIDE}/agent_backend.js"],
                                                     "timeoutSeconds": 60})


def test_agent_run_cut_by_a_hand_over_is_answered_on_the_same_connection(box, agent_backend, user_gateway, swarm):
    """What cannot move (docs/handover.md): a run in flight ends with an error answer that crosses the
    hand-over on the connection that asked for it; that connection, like every other, stays."""
    clients = swarm(3, 1)
    accepted = clients.ask("agent slow, cut by a restart", timeout=40)["agent"]
    assert accepted and accepted["ok"] and accepted["payload"]["status"] == "accepted", accepted
    restarted(box, clients, "restart", "openclaw gateway restart", USER)
    final = clients.ask("agent-final 20", timeout=30)
    assert final["close"] is None and final["agent"], (final, journal(box, USER))
    assert final["agent"]["payload"]["status"] == "error", final
    assert "the gateway stopped during the run" in json.dumps(final["agent"]), final
    assert_invisible(box, clients, USER, 0.5)


@pytest.fixture
def original_package_back(box):
    """The upgrade below installs openclaw-newer.deb; the next modules get the original again."""
    yield
    box.run("systemctl stop openclaw-gateway.socket openclaw-gateway.service", check=False)
    box.run("dpkg -i /root/openclaw.deb", timeout=120)


@pytest.fixture
def system_ticks(box):
    """The system gateway ticks every 2 s (written before `system_gateway` starts it; that fixture removes it)."""
    write_config(box, SYSTEM_CONFIG, "openclaw", 2000)


def test_1000_clients_through_three_restarts_and_an_upgrade(box, newer_deb, original_package_back, system_ticks,
                                                            system_gateway, swarm):
    """The packaged system unit: its postinst try-restarts it on upgrade (user gateways are only named)."""
    old_version, new_version = newer_deb
    clients = swarm(1000, 50, token=SYSTEM_TOKEN)
    for n in (1, 2, 3):
        before = restarted(box, clients, f"restart{n}", "openclaw gateway restart --system", None)
    pid = restarted(box, clients, "upgrade", "dpkg -i /root/openclaw-newer.deb", None)
    rpc = json.loads(box.run("openclaw gateway status --system --json").stdout)["rpc"]
    assert rpc["version"] == new_version != old_version and rpc["pid"] == pid, rpc
    assert rpc["clients"] >= 1000, rpc
    # status tells who handed the clients over, and that none of them was closed.
    handover = rpc["handover"]
    assert handover["fromPid"] == before and handover["clients"] >= 1000 and handover["closed"] == 0, handover
    s = assert_invisible(box, clients, None, 2.0)
    for w in s["windows"]:
        figure(f"hand-over, 1000 clients, {w['name']}: first answer from the new process / p99 across it",
               f"{w['first_new_answer_s'] * 1e3:.0f} ms / {w['p99_ms']} ms ({w['requests']} requests)")


class HeldAt:
    """strace (on the host) holds `pid` when it enters `syscall`, so the test can kill it right there."""

    def __init__(self, box, pid: int, syscall: str, log):
        self.syscall, self.log, self.host_pid = syscall, log, box.host_pid(pid)
        self.proc = subprocess.Popen(["strace", "-qq", "-p", str(self.host_pid), "-o", str(log),
                                      "-e", f"trace={syscall}", "-e", f"inject={syscall}:delay_enter=20000000"])
        wait_for(lambda: self._status("TracerPid") not in (None, "0"), 10, what="strace attached")

    def _status(self, field: str) -> str | None:
        try:
            with open(f"/proc/{self.host_pid}/status") as f:
                return next((line.split(":", 1)[1].strip() for line in f if line.startswith(field + ":")), None)
        except OSError:
            return None

    def reached(self) -> bool:
        if f"{self.syscall}(" in self.log.read_text():
            return True
        if self.proc.poll() is not None:
            raise AssertionError(f"the old gateway exited without calling {self.syscall}: it handed nothing over")
        return False

    def kill(self):
        os.kill(self.host_pid, signal.SIGKILL)
        # strace sleeps out its delay before it notices that its tracee is gone.
        self.stop()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@pytest.mark.parametrize("syscall, stored, resumed", [
    # memfd_create comes after the client fds are stored and before their state is: the next
    # instance cannot resume them and must close each with 1012 and a reason.
    ("memfd_create", "the connections, not their state", False),
    # exit_group: everything is in the store, so the next instance resumes every client.
    ("exit_group", "the connections and their state", True),
])
def test_sigkill_during_hand_over_leaves_nothing_hanging(box, fast_ticks, user_gateway, swarm, tmp_path,
                                                         syscall, stored, resumed):
    clients = swarm(20, 5)
    held = HeldAt(box, main_pid(box, USER), syscall, tmp_path / "strace.log")
    try:
        restart = box.popen("exec openclaw gateway restart", user=USER)
        wait_for(held.reached, 15, interval=0.02, what=f"the old gateway at {syscall} during the restart")
        in_store = store_count(box, USER)
        held.kill()
    finally:
        held.stop()
    restart.communicate(timeout=60)
    assert in_store > 0, f"nothing in the store when the old gateway reached {syscall}\n{journal(box, USER)}"
    wait_for(lambda: store_count(box, USER) == 0, 15, what="the store emptied by the next instance")
    probe = clients.ask("probe 10", timeout=60)
    s = clients.finish()
    assert probe["hanging"] == 0, (probe, journal(box, USER))
    assert all(c["code"] == 1012 and c["reason"] for c in s["closed"]), (s["closed"], journal(box, USER))
    assert probe["answered"] + s["closed_count"] == s["clients"], (probe, s["closed_count"])
    expected = s["clients"] if resumed else 0
    assert probe["answered"] == expected, (f"with {stored} stored, {probe['answered']} of {s['clients']} "
                                           f"clients resumed, {expected} expected", probe, journal(box, USER))
    assert s["prober"]["refused"] == 0, s["prober"]
    figure(f"SIGKILL at {syscall} ({stored} stored, {in_store} fds)",
           f"{probe['answered']} resumed, {s['closed_count']} closed 1012")


@pytest.fixture
def store_disabled(box):
    box.run(f"mkdir -p {os.path.dirname(NO_STORE)} && printf '[Service]\\nFileDescriptorStoreMax=0\\n' > {NO_STORE}"
            f" && chown -R {USER}: /home/{USER}/.config")
    box.run("systemctl --user daemon-reload", user=USER)
    yield
    box.run(f"rm -f {NO_STORE}")
    box.run("systemctl --user daemon-reload", user=USER)


def test_without_the_store_a_restart_closes_with_1012(box, store_disabled, fast_ticks, user_gateway, swarm):
    clients = swarm(20, 0)
    box.run("openclaw gateway restart", user=USER)
    wait_for(lambda: clients.ask("check")["closed"] == 20, 15, what="every client closed")
    s = clients.finish()
    assert {c["code"] for c in s["closed"]} == {1012}, s["closed"]
    assert s["shutdown_events"] == 20 and s["prober"]["refused"] == 0, s
    assert store_count(box, USER) == 0


def test_a_new_process_that_fails_to_start_closes_the_handed_over_clients(box, fast_ticks, user_gateway, swarm):
    """The config broken between two restarts: the old process hands its clients over, the new one
    fails on the config. Nobody is left hanging on a socket no process serves: each client gets
    1012 with the reason, the store is emptied, and `restart` names the cause and what to run."""
    clients = swarm(20, 5)
    box.run(f"printf '{{\"gateway\": ' > {USER_CONFIG}")
    r = box.run("openclaw gateway restart", user=USER, check=False, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "openclaw.json" in out and "openclaw gateway status" in out, out
    wait_for(lambda: clients.ask("check")["closed"] == 20, 15, what="every handed-over client closed")
    s = clients.finish()
    assert {(c["code"], c["reason"]) for c in s["closed"]} == {(1012, "gateway failed to start")}, \
        (s["closed"], journal(box, USER))
    assert store_count(box, USER) == 0
    assert "handing over 20 client connection(s)" in journal(box, USER, 400), journal(box, USER)


@pytest.fixture
def paced_irc(box):
    """alice's gateway linked to the IRC stub, three lines at once and then one a minute. A send is
    its PRIVMSG and a PING whose PONG confirms it: of three sends, the first is confirmed, the
    second's line is written but unconfirmed, the third waits unwritten when the restart comes."""
    stub = box.popen(f"exec python3 {INSIDE}/ircstub.py {IRC_PORT} {IRC_LOG}")
    write_config(box, USER_CONFIG, USER, 500, channels={"irc": {
        "server": "127.0.0.1", "port": IRC_PORT, "nick": "clawbot", "floodBurst": 3, "floodIntervalMs": 60000}})
    yield
    stub.kill()
    box.run(f"rm -f {IRC_LOG}", check=False)


def irc_linked(box) -> bool:
    r = box.run("openclaw gateway health --json", user=USER, check=False)
    try:
        return json.loads(r.stdout)["channels"]["irc"]["linked"] is True
    except (ValueError, KeyError, TypeError):
        return False


def resend(box, n: int) -> subprocess.CompletedProcess:
    return box.run(f"openclaw message send --target bob --message across-{n} --idempotency-key key-{n} --json",
                   user=USER, check=False)


def test_irc_sends_cut_by_a_hand_over_are_answered_on_the_same_connection(box, paced_irc, user_gateway, swarm):
    """What cannot move (docs/handover.md), answered on the connection that asked, which stays: a
    `send` whose line went out unconfirmed is in doubt (never sent again, not even under its key),
    one not yet written is UNAVAILABLE and retryable, and its key sent again to the new process
    goes out once; a confirmed one keeps its messageId."""
    wait_for(lambda: irc_linked(box), 20, what="alice's gateway linked to the IRC stub")
    clients = swarm(3, 1)
    for n in (1, 2, 3):
        clients.ask(f"send {n} key-{n} bob across-{n}")
    first = clients.ask("answers 10 1")["answers"]["send-1"]
    assert first and first["ok"], first
    wait_for(lambda: "across-2" in box.run(f"cat {IRC_LOG}").stdout, 10, what="the second line at the IRC stub")
    assert clients.ask("answers 1 2 3")["answers"] == {"send-2": None, "send-3": None}, "paced sends answered early"
    restarted(box, clients, "restart", "openclaw gateway restart", USER)
    got = clients.ask("answers 10 2 3")
    assert got["close"] is None, got
    doubt, waiting = got["answers"]["send-2"], got["answers"]["send-3"]
    assert doubt and doubt["error"]["code"] == "UNAVAILABLE" and doubt["error"]["details"]["inDoubt"] is True, \
        (doubt, journal(box, USER))
    assert doubt["error"].get("retryable") is False, doubt
    assert waiting and waiting["error"]["code"] == "UNAVAILABLE" and waiting["error"].get("retryable") is True, waiting
    wait_for(lambda: irc_linked(box), 20, what="the new gateway linked to the IRC stub again")
    sent = resend(box, 3)
    assert sent.returncode == 0 and json.loads(sent.stdout)["messageId"], sent.stdout + sent.stderr
    refused = resend(box, 2)
    assert refused.returncode != 0 and "doubt" in refused.stderr.lower(), refused.stdout + refused.stderr
    repeated = resend(box, 1)
    assert json.loads(repeated.stdout)["messageId"] == first["payload"]["messageId"], (repeated.stdout, first)
    wait_for(lambda: "across-3" in box.run(f"cat {IRC_LOG}").stdout, 10, what="the resent line at the IRC stub")
    log = box.run(f"cat {IRC_LOG}").stdout
    assert [log.count(f"across-{n}") for n in (1, 2, 3)] == [1, 1, 1], log
    assert_invisible(box, clients, USER, 0.5)
