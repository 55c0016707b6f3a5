#!/usr/bin/python3
"""The soak's load, run inside the booted container (scripts/soak.py copies it in).

For DURATION seconds: CLIENTS WebSocket clients, each in a request loop
(`health` every PERIOD seconds, reconnecting with jittered backoff whenever the
gateway goes away); SLOW clients that complete the handshake, ask for large
answers and never read them (the gateway must shed them, not buffer for them); one sender issuing
`send` with a fresh idempotency key every SEND_PERIOD seconds, retrying the same
key while the answer is retryable; one agent client starting an `agent` run
every AGENT_PERIOD seconds; and an IRC observer in the channel recording every
PRIVMSG the gateway's nick sends. At the end it prints one JSON document.

Uses Debian's python3-websockets (10.x), like Tests/system/gwclient.py.

  load.py URL TOKEN_FILE IRC_PORT CHANNEL NICK DURATION [CLIENTS SLOW]
"""

import asyncio
import json
import os
import random
import socket
import sys
import time
import uuid

import websockets

CLIENT = {"id": "soak", "version": "0", "platform": "linux", "mode": "probe"}
PERIOD = 2.0
SEND_PERIOD = 1.0
AGENT_PERIOD = 10.0
SLOW_START = 40.0


class Stats:
    def __init__(self):
        self.answered = 0
        self.failed = 0          # an error response
        self.lost = 0            # no answer: the connection dropped under the request
        self.connects = 0
        self.connect_failures = 0
        self.reconnected_clients = set()
        self.connected_now = set()
        self.sends = {}          # key -> {"text", "outcome", "attempts"}
        self.agent = {"accepted": 0, "completed": 0, "failed": 0, "lost": 0}
        self.slow_dropped = 0
        self.slow_drop_after = []  # seconds from handshake to the gateway dropping it
        self.slow_total = 0
        self.observed = []       # texts the observer saw from the gateway's nick
        self.observer_reconnects = 0
        # In the channel right now: the sender waits for it, so a line the gateway delivers
        # while the observer is still rejoining after an ngircd restart is not miscounted as lost.
        self.observer_joined = asyncio.Event()


async def handshake(url, token):
    ws = await websockets.connect(url, open_timeout=10, close_timeout=1, max_size=None, ping_interval=None)
    try:
        challenge = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert challenge.get("event") == "connect.challenge", challenge
        await ws.send(json.dumps({"type": "req", "id": "c", "method": "connect", "params": {
            "minProtocol": 4, "maxProtocol": 4, "client": CLIENT, "auth": {"token": token}}}))
        while True:
            res = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if res.get("type") == "res" and res.get("id") == "c":
                assert res.get("ok"), res
                return ws
    except BaseException:
        await ws.close()
        raise


async def request(ws, method, params, rid, timeout=15):
    await ws.send(json.dumps({"type": "req", "id": rid, "method": method, "params": params}))
    deadline = time.monotonic() + timeout
    while True:
        raw = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
        # Broadcast events (presence on every reconnect: a thousand per storm, to each
        # client) are skipped undecoded, so this one process keeps up with 1,000 clients.
        if raw.startswith('{"type":"event"'):
            continue
        frame = json.loads(raw)
        if frame.get("type") == "res" and frame.get("id") == rid:
            return frame


async def connected(url, token, stats, name, stop):
    """Connects with jittered backoff until it works (or the run ends)."""
    backoff = 0.2
    while not stop.is_set():
        try:
            ws = await handshake(url, token)
            stats.connects += 1
            stats.connected_now.add(name)
            return ws
        except Exception:
            stats.connect_failures += 1
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, 5.0)
    return None


async def client(url, token, stats, n, stop):
    name = f"c{n}"
    first = True
    await asyncio.sleep(random.random() * 5)  # spread the first connects
    while not stop.is_set():
        ws = await connected(url, token, stats, name, stop)
        if ws is None:
            return
        if not first:
            stats.reconnected_clients.add(name)
        first = False
        i = 0
        try:
            while not stop.is_set():
                i += 1
                res = await request(ws, "health", {}, f"h{i}")
                if res.get("ok"):
                    stats.answered += 1
                else:
                    stats.failed += 1
                await asyncio.sleep(PERIOD * (0.5 + random.random()))
        except Exception:
            stats.lost += 1
        finally:
            stats.connected_now.discard(name)
            await ws.close()


async def slow_consumer(url, token, stats, n, stop):
    """Handshakes, asks for large answers (the presence list of every client), never reads them."""
    stats.slow_total += 1
    # After the host's start sample: their buffered backlog (each bounded by the gateway's
    # maxBufferedBytes) shows in the peak, not in the start-versus-end comparison.
    await asyncio.sleep(SLOW_START)
    ws = await connected(url, token, stats, f"s{n}", stop)
    if ws is None:
        return
    since = time.monotonic()
    try:
        while not stop.is_set():
            for i in range(10):
                await ws.send(json.dumps({"type": "req", "id": f"s{i}", "method": "system-presence", "params": {}}))
            await asyncio.sleep(1)
    except Exception:
        stats.slow_dropped += 1
        stats.slow_drop_after.append(round(time.monotonic() - since, 1))
    finally:
        stats.connected_now.discard(f"s{n}")
        ws.transport.abort()


async def sender(url, token, channel, stats, stop):
    """A fresh key per message; the same key again while the answer says retryable."""
    ws = None
    n = 0
    while not stop.is_set():
        n += 1
        key = f"soak-{n}-{uuid.uuid4().hex[:8]}"
        text = f"soak message {n}"
        entry = stats.sends[key] = {"text": text, "outcome": "unsent", "attempts": 0}
        while not stop.is_set():
            await stats.observer_joined.wait()
            if ws is None:
                ws = await connected(url, token, stats, "sender", stop)
                if ws is None:
                    break
            entry["attempts"] += 1
            try:
                res = await request(ws, "send", {"to": channel, "message": text, "idempotencyKey": key},
                                    f"{key}-{entry['attempts']}", timeout=20)
            except Exception:
                entry["outcome"] = "no answer"
                await ws.close()
                ws = None
                continue
            if res.get("ok"):
                entry["outcome"] = "delivered"
                entry["at"] = time.monotonic()  # the container shares the host's CLOCK_MONOTONIC
                break
            err = res.get("error", {})
            if (err.get("details") or {}).get("inDoubt"):
                entry["outcome"] = "in doubt"
                break
            entry["outcome"] = "refused: " + err.get("code", "?")
            if not err.get("retryable"):
                break
            await asyncio.sleep(min(5.0, max(0.2, (err.get("retryAfterMs") or 500) / 1000)))
        await asyncio.sleep(SEND_PERIOD)
    if ws is not None:
        await ws.close()


async def agent_runs(url, token, stats, stop):
    ws = None
    n = 0
    while not stop.is_set():
        n += 1
        if ws is None:
            ws = await connected(url, token, stats, "agent", stop)
            if ws is None:
                return
        try:
            res = await request(ws, "agent", {"message": f"soak {n}", "idempotencyKey": uuid.uuid4().hex}, f"a{n}")
            if not res.get("ok"):
                stats.agent["failed"] += 1
            else:
                stats.agent["accepted"] += 1
                run_id = res["payload"]["runId"]
                done = await request(ws, "agent.wait", {"runId": run_id, "timeoutMs": 30000}, f"w{n}", timeout=40)
                status = (done.get("payload") or {}).get("status")
                stats.agent["completed" if done.get("ok") and status == "ok" else "failed"] += 1
        except Exception:
            stats.agent["lost"] += 1
            await ws.close()
            ws = None
        await asyncio.sleep(AGENT_PERIOD)
    if ws is not None:
        await ws.close()


async def observer(irc_port, channel, nick, stats, stop):
    """Joins the channel and records what `nick` (or its alternates) says; rejoins after restarts."""
    first = True
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", irc_port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        if not first:
            stats.observer_reconnects += 1
        first = False
        writer.write(b"NICK soakobs\r\nUSER soakobs 0 * :observer\r\n")
        try:
            while not stop.is_set():
                line = await reader.readline()
                if not line:
                    break
                parts = line.decode("utf-8", "replace").rstrip("\r\n").split(" ")
                if parts[0] == "PING":
                    writer.write(("PONG " + " ".join(parts[1:]) + "\r\n").encode())
                elif len(parts) > 1 and parts[1] == "001":
                    writer.write(f"JOIN {channel}\r\n".encode())
                elif len(parts) > 2 and parts[1] == "JOIN" and parts[0][1:].startswith("soakobs!"):
                    stats.observer_joined.set()
                elif len(parts) > 3 and parts[1] == "PRIVMSG" and parts[0][1:].startswith(nick):
                    text = line.decode("utf-8", "replace").rstrip("\r\n").split(" :", 1)[1]
                    stats.observed.append(text)
        except (OSError, asyncio.IncompleteReadError):
            pass
        stats.observer_joined.clear()
        writer.close()


async def main():
    url, token_file, irc_port, channel, nick, duration = sys.argv[1:7]
    clients = int(sys.argv[7]) if len(sys.argv) > 7 else 1000
    slow = int(sys.argv[8]) if len(sys.argv) > 8 else 20
    token = open(token_file).read().strip()
    stats = Stats()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(observer(int(irc_port), channel, nick, stats, stop))]
    tasks += [asyncio.create_task(client(url, token, stats, n, stop)) for n in range(clients)]
    tasks += [asyncio.create_task(slow_consumer(url, token, stats, n, stop)) for n in range(slow)]
    tasks.append(asyncio.create_task(sender(url, token, channel, stats, stop)))
    tasks.append(asyncio.create_task(agent_runs(url, token, stats, stop)))
    started = time.monotonic()
    while time.monotonic() - started < float(duration):
        await asyncio.sleep(5)
        print(json.dumps({"progress": round(time.monotonic() - started), "connected": len(stats.connected_now),
                          "answered": stats.answered, "sends": len(stats.sends)}), flush=True)
    # Let every client reconnect after the last fault before counting who is back.
    stop_at = time.monotonic() + 60
    while time.monotonic() < stop_at and len([c for c in stats.connected_now if c.startswith("c")]) < clients:
        await asyncio.sleep(0.5)
    back = len([c for c in stats.connected_now if c.startswith("c")])
    # The host samples the gateway now, with the clients connected, then lets us stop.
    print(json.dumps({"steady": back}), flush=True)
    for _ in range(100):
        if os.path.exists("/run/soak-sampled"):
            break
        await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait(tasks, timeout=20)
    print(json.dumps({"result": {
        "clients": clients, "clientsConnectedAtEnd": back, "reconnectedClients": len(stats.reconnected_clients),
        "connects": stats.connects, "connectFailures": stats.connect_failures,
        "answered": stats.answered, "failed": stats.failed, "lostInFlight": stats.lost,
        "sends": stats.sends, "observed": stats.observed, "observerReconnects": stats.observer_reconnects,
        "agent": stats.agent, "slow": {"total": stats.slow_total, "dropped": stats.slow_dropped, "dropAfter": sorted(stats.slow_drop_after)},
    }}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
