#!/usr/bin/env python3
"""The chaos soak (scripts/soak.sh): the .deb in a booted Debian container
(Tests/system's Container), alice's socket-activated user gateway linked to
ngircd, and for DURATION seconds: scripts/soak/load.py's 1,000 clients in a
request loop, slow consumers, a sender, agent runs and an IRC observer, while
ngircd is restarted every minute and the gateway SIGKILLed (systemd restarts
it) every two minutes. Prints a Markdown table at the end and writes it to
out/soak-<date>.md. Exit status 1 when a check fails.

Environment: SOAK_DURATION (s, default 600), SOAK_CLIENTS (1000), SOAK_SLOW
(20), OPENCLAW_TEST_DEB (test this .deb instead of building one), and the
Tests/system variables (OPENCLAW_TEST_CACHE, OPENCLAW_TEST_ROOT).
"""
import datetime
import glob
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Tests/system"))
from container import Container  # noqa: E402
from rootfs import ensure_rootfs  # noqa: E402

USER = "alice"
TOKEN = f"/home/{USER}/.openclaw/gateway.token"
LEDGER = f"/home/{USER}/.openclaw/send-ledger.jsonl"
URL = "ws://127.0.0.1:18789"
IRC_PORT = 6667
CHANNEL = "#soak"
NICK = "soakbot"
INSIDE = "/opt/openclaw-soak"
NGIRCD_CONF = f"""[Global]
Name = irc.soak
Info = openclaw soak
Listen = 127.0.0.1
Ports = {IRC_PORT}
MotdPhrase = soak
[Limits]
MaxNickLength = 30
MaxConnectionsIP = 0
[Options]
PAM = no
Ident = no
DNS = no
"""
AGENT = "#!/bin/sh\n# The soak's agent backend: answers after a moment.\nsleep 1\necho \"soak reply\"\n"


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def build_deb() -> Path:
    given = os.environ.get("OPENCLAW_TEST_DEB")
    if given:
        return Path(given).resolve()
    subprocess.run([str(REPO / "packaging/build-deb.sh")], check=True)
    return Path(sorted(glob.glob(str(REPO / "out/openclaw_*_amd64.deb")), key=os.path.getmtime)[-1])


def host_file(path: str) -> bytes:
    return Path(path).read_bytes()


class Soak:
    def __init__(self, box: Container):
        self.box = box
        self.ircd = None
        self.events = []

    def user(self, cmd, check=True):
        return self.box.run(cmd, user=USER, check=check)

    def gateway_pid(self) -> int:
        out = self.user("systemctl --user show -p MainPID --value openclaw-gateway.service").stdout.strip()
        return int(out or 0)

    def sample(self):
        """(RSS KiB, open fds) of the running gateway, or None."""
        pid = self.gateway_pid()
        if not pid:
            return None
        r = self.box.run(f"grep VmRSS /proc/{pid}/status; ls /proc/{pid}/fd | wc -l", check=False)
        lines = r.stdout.split("\n")
        if r.returncode != 0 or len(lines) < 2:
            return None
        return int(lines[0].split()[1]), int(lines[1])

    def start_ircd(self):
        # nsenter forks into the PID namespace, so its own PID is not ngircd's: the pid file is.
        self.ircd = self.box.popen("echo $$ > /run/soak-ngircd.pid; exec /usr/local/sbin/ngircd -n -f /etc/soak-ngircd.conf"
                                   " >/dev/null 2>&1")

    def restart_ircd(self):
        killed_at = time.monotonic()
        self.box.run("pid=$(cat /run/soak-ngircd.pid) && kill -9 $pid && while kill -0 $pid 2>/dev/null; do sleep 0.05; done",
                     check=False)
        if self.ircd:
            self.ircd.wait(timeout=10)
        self.start_ircd()
        self.events.append(("ngircd restarted", killed_at))

    def kill_gateway(self):
        pid = self.gateway_pid()
        if pid:
            self.user("systemctl --user kill -s SIGKILL openclaw-gateway.service", check=False)
            self.events.append((f"gateway {pid} SIGKILLed", time.monotonic()))

    def setup(self, deb: Path):
        box = self.box
        box.write("/root/openclaw.deb", deb.read_bytes())
        box.run("dpkg -i /root/openclaw.deb", timeout=120)
        box.add_user(USER)
        # ngircd is not in the container's package list: the host's binary (Debian 12 too) and its one extra library.
        box.write("/usr/local/sbin/ngircd", host_file("/usr/sbin/ngircd"), mode=0o755)
        lib = os.path.realpath("/lib/x86_64-linux-gnu/libident.so.0")
        box.write("/usr/local/lib/libident.so.0", host_file(lib))
        box.run("ldconfig")
        box.write("/etc/soak-ngircd.conf", NGIRCD_CONF)
        box.write("/usr/local/bin/soak-agent", AGENT, mode=0o755)
        self.start_ircd()
        config = {"channels": {"irc": {"server": "127.0.0.1", "port": IRC_PORT, "nick": NICK, "channels": [CHANNEL],
                                       "reconnectMinMs": 500, "reconnectMaxMs": 3000, "pingIntervalMs": 10000}},
                  "agent": {"command": ["/usr/local/bin/soak-agent"], "maxConcurrent": 2, "timeoutSeconds": 30}}
        self.user("umask 077 && mkdir -p ~/.openclaw && od -An -tx1 -N32 /dev/urandom | tr -d ' \\n' > " + TOKEN)
        self.user(f"cat > ~/.openclaw/openclaw.json <<'EOF'\n{json.dumps(config)}\nEOF")
        self.user("systemctl --user start openclaw-gateway.socket")


def near_ircd_kill(at, events, window=2.0):
    """True when a send confirmed at `at` was followed within `window` s by an ngircd kill:
    the server had processed the line (its PONG came back) but may have died before
    relaying it to the channel, a loss at the IRC server that no client can prevent."""
    return any("ngircd" in name and 0 <= t - at <= window for name, t in events)


def ledger_accounting(ledger_text: str, sends: dict, observed: list, events=()):
    """What the ledger recorded per key against what the observer saw."""
    phase = {}
    for line in ledger_text.splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        key = r.get("key")
        if r.get("op") == "begin":
            phase[key] = "begun"
        elif r.get("op") == "handoff" and key in phase:
            phase[key] = "in doubt"
        elif r.get("op") == "done" and key in phase:
            phase[key] = "done"
        elif r.get("op") == "abort":
            phase.pop(key, None)
    seen = {}
    for text in observed:
        seen[text] = seen.get(text, 0) + 1
    counts = {"done": 0, "in doubt": 0, "never sent": 0, "lost": 0, "lost at a killed ircd": 0, "duplicated": 0,
              "in doubt, arrived": 0, "in doubt, not arrived": 0, "unrecorded but seen": 0}
    for key, entry in sends.items():
        n = seen.get(entry["text"], 0)
        p = phase.get(key)
        if n > 1:
            counts["duplicated"] += 1
        if p == "done":
            counts["done"] += 1
            if n == 0:
                at_kill = "at" in entry and near_ircd_kill(entry["at"], events)
                counts["lost at a killed ircd" if at_kill else "lost"] += 1
        elif p == "in doubt":
            counts["in doubt"] += 1
            counts["in doubt, arrived" if n else "in doubt, not arrived"] += 1
        else:
            counts["never sent"] += 1
            if n:
                counts["unrecorded but seen"] += 1
    return counts


def median(values):
    return values[len(values) // 2] if values else "n/a"


def main():
    duration = int(os.environ.get("SOAK_DURATION", "600"))
    clients = int(os.environ.get("SOAK_CLIENTS", "1000"))
    slow = int(os.environ.get("SOAK_SLOW", "20"))
    deb = build_deb()
    box = Container(ensure_rootfs(log=log), binds_ro={str(REPO / "scripts/soak"): INSIDE}, log=log)
    box.start()
    try:
        soak = Soak(box)
        soak.setup(deb)
        load = box.popen(f"ulimit -n 65536; exec python3 {INSIDE}/load.py {URL} {TOKEN} {IRC_PORT} '{CHANNEL}' {NICK} "
                         f"{duration} {clients} {slow}")
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(iter(load.stdout.readline, "")), daemon=True)
        reader.start()
        # Warm-up: every client connected once, then the first sample.
        deadline = time.monotonic() + 60
        progress = []
        while time.monotonic() < deadline:
            progress = [json.loads(l) for l in lines if l.startswith('{"progress"')]
            if progress and progress[-1]["connected"] >= clients:
                break
            time.sleep(1)
        start_sample = soak.sample()
        log(f"warm: {progress[-1] if progress else '?'}; gateway RSS/fds {start_sample}")
        t0 = time.monotonic()
        next_irc, next_kill = t0 + 60, t0 + 120
        peak = start_sample
        while load.poll() is None and time.monotonic() - t0 < duration:
            now = time.monotonic()
            if now >= next_irc:
                soak.restart_ircd()
                log("ngircd restarted")
                next_irc += 60
            if now >= next_kill:
                soak.kill_gateway()
                log("gateway SIGKILLed")
                next_kill += 120
            s = soak.sample()
            if s and peak:
                peak = (max(peak[0], s[0]), max(peak[1], s[1]))
            time.sleep(2)
        # load.py says "steady" once every client is back after the last fault (or 30 s passed):
        # the end sample is taken then, with the clients connected, like the start one.
        deadline = time.monotonic() + 120
        while not any(l.startswith('{"steady"') for l in lines) and time.monotonic() < deadline:
            time.sleep(0.5)
        end_sample = soak.sample()
        box.run("touch /run/soak-sampled")
        load.wait(timeout=180)
        reader.join(timeout=5)
        results = [json.loads(l)["result"] for l in lines if l.startswith('{"result"')]
        if not results:
            raise SystemExit("load.py printed no result:\n" + "".join(lines[-20:]) + load.stderr.read()[-3000:])
        r = results[0]
        ledger = box.run(f"cat {LEDGER}", check=False).stdout
        acc = ledger_accounting(ledger, r["sends"], r["observed"], soak.events)
        restarts = soak.user("systemctl --user show -p NRestarts --value openclaw-gateway.service").stdout.strip()
    finally:
        box.stop()

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    built = datetime.datetime.fromtimestamp(deb.stat().st_mtime, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    kills = sum(1 for e in soak.events if "SIGKILL" in e[0])
    irc = sum(1 for e in soak.events if "ngircd" in e[0])
    rss_ok = start_sample and end_sample and end_sample[0] <= start_sample[0] * 1.10
    fd_ok = start_sample and end_sample and end_sample[1] <= start_sample[1] * 1.10
    sends_ok = acc["lost"] == 0 and acc["duplicated"] == 0 and acc["unrecorded but seen"] == 0
    back_ok = r["clientsConnectedAtEnd"] == clients
    ok = "✅", "❌"
    rows = [
        ("duration · faults", f"{duration} s · ngircd restarted {irc}× · gateway SIGKILLed {kills}× (systemd NRestarts={restarts})", ""),
        ("gateway RSS: start → end (peak)", f"{start_sample[0] / 1024:.1f} → {end_sample[0] / 1024:.1f} MiB ({peak[0] / 1024:.1f})"
         if start_sample and end_sample else "n/a", ok[0] if rss_ok else ok[1]),
        ("gateway fds: start → end (peak)", f"{start_sample[1]} → {end_sample[1]} ({peak[1]})" if start_sample and end_sample else "n/a",
         ok[0] if fd_ok else ok[1]),
        ("clients back at the end", f"{r['clientsConnectedAtEnd']} / {clients} ({r['reconnectedClients']} reconnected at least once; "
         f"{r['connects']} handshakes, {r['connectFailures']} refused/failed attempts)", ok[0] if back_ok else ok[1]),
        ("requests", f"{r['answered']} answered · {r['failed']} error answers · "
         f"{r['lostInFlight']} client connections cut (kills)", ""),
        ("sends (ledger vs IRC observer)", f"{len(r['sends'])} keys: {acc['done']} done, {acc['in doubt']} in doubt "
         f"({acc['in doubt, arrived']} arrived, {acc['in doubt, not arrived']} not), {acc['never sent']} never sent · "
         f"lost {acc['lost']} (+ {acc['lost at a killed ircd']} confirmed by the server < 2 s before it was killed, never relayed) · "
         f"duplicated {acc['duplicated']} · seen unrecorded {acc['unrecorded but seen']}",
         ok[0] if sends_ok else ok[1]),
        ("agent runs", f"{r['agent']['accepted']} accepted · {r['agent']['completed']} completed · "
         f"{r['agent']['failed']} failed · {r['agent']['lost']} cut by a kill", ""),
        ("slow consumers", f"{r['slow']['dropped']} of {r['slow']['total']} dropped, "
         f"median {median(r['slow']['dropAfter'])} s after their handshake", ""),
    ]
    table = [f"openclaw soak — {date}, {deb.name} built {built}, {clients} clients + {slow} slow consumers, "
             f"2 shared cores (load average {os.getloadavg()[0]:.1f} at the end)", "",
             "| measure | result | check |", "| --- | --- | --- |"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    text = "\n".join(table) + "\n"
    print("\n" + text)
    out = REPO / "out"
    out.mkdir(exist_ok=True)
    (out / f"soak-{datetime.date.today()}.md").write_text(text)
    (out / f"soak-{datetime.date.today()}.json").write_text(json.dumps({"result": r, "accounting": acc}, indent=1))
    sys.exit(0 if rss_ok and fd_ok and sends_ok and back_ok else 1)


if __name__ == "__main__":
    main()
