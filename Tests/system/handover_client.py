#!/usr/bin/python3
"""The clients of test_handover.py (and the restart bench row), run inside the container.

One asyncio process holds CLIENTS handshaken connections; LOOPING of them keep one
`status` request in flight each (recording every id sent and the pid that answered
it), every client checks that its events' `seq` has no gap, and a prober connects
and handshakes in a loop, counting refusals. The host drives it line by line on
stdin and reads one JSON document per line on stdout:

  (start)           -> {"ready": N, "failed": [...]}
  mark NAME [PID]   -> {"mark": NAME}            timestamps a moment (restart begin/end; the end
                                                 names the new process's pid)
  check             -> {"pids": {PID: answers}, "closed": N, "silent": N}
                       silent: open clients that got no event since the last mark
  probe SECS        -> {"answered": N, "closed": {CODE: N}, "reasons": [...], "hanging": N}
                       one `status` on every open client; hanging = no answer, no close
  agent MESSAGE     -> {"agent": FRAME}          the last client starts an `agent` run: its first answer
  agent-final SECS  -> {"agent": FRAME or null, "close": [CODE, REASON] or null}   its second answer
  send ID KEY TO TEXT -> {"sent": ID}         the last client sends a `send` (request id ID, idempotencyKey
                                                 KEY), not waiting for its answer
  answers SECS ID.. -> {"answers": {ID: FRAME or null}, "close": ...}   the answers to those sends, once
                       all came or SECS passed
  finish            -> the summary (see summary()), then exit

Debian's python3-websockets (10.x), like gwclient.py.

  handover_client.py URL TOKEN_FILE CLIENTS LOOPING
"""

import asyncio
import json
import resource
import sys
import time

import websockets

from gwclient import handshake

HANDSHAKES_IN_FLIGHT = 64  # below gateway.maxPendingConnections (256)
REQUEST_PAUSE = 0.02       # per looping client: ~50 requests/s each, so the box is not saturated
PROBER_PAUSE = 0.1
LOST_AFTER = 20.0          # a request unanswered this long is counted lost, the loop goes on
AGENT_ID = "agent-run"
SEND_PREFIX = "send-"    # ids of `send` requests (their answers are kept by id)


def emit(doc):
    print(json.dumps(doc), flush=True)


def top_level_seq(raw):
    """The event's own `seq`: the writer puts it after `payload`, so the last one is top-level
    (tick/presence payloads carry none). Avoids decoding 1,000 presence lists per broadcast."""
    at = raw.rfind('"seq":')
    if at < 0:
        return None
    end = at + 6
    while end < len(raw) and raw[end].isdigit():
        end += 1
    return int(raw[at + 6:end])


class Client:
    def __init__(self, n, ws):
        self.n, self.ws = n, ws
        self.seq = 0
        self.gaps = []           # (last seq, next seq) where next != last + 1
        self.shutdown_events = 0
        self.last_event = time.monotonic()
        self.pending = {}        # request id -> future
        self.close = None        # (code, reason) once closed
        self.agent_answers = asyncio.Queue()  # `agent` is answered twice: accepted, then final
        self.send_answers = {}   # `send` request id -> its answer

    async def read(self, run):
        try:
            async for raw in self.ws:
                if raw.startswith('{"type":"event"'):
                    self.last_event = time.monotonic()
                    seq = top_level_seq(raw)
                    if seq is not None:
                        if seq != self.seq + 1:
                            self.gaps.append((self.seq, seq))
                        self.seq = seq
                    if raw.startswith('{"type":"event","event":"shutdown"'):
                        self.shutdown_events += 1
                    continue
                frame = json.loads(raw)
                if frame.get("id") == AGENT_ID:
                    self.agent_answers.put_nowait(frame)
                    continue
                if str(frame.get("id")).startswith(SEND_PREFIX):
                    if frame["id"] in self.send_answers:
                        run.unexpected.append(frame["id"])
                    self.send_answers[frame["id"]] = frame
                    continue
                future = self.pending.pop(frame.get("id"), None)
                if future is None or future.done():
                    run.unexpected.append(frame.get("id"))  # a duplicate or unknown answer
                else:
                    future.set_result(frame)
        except websockets.ConnectionClosed:
            pass
        self.close = (self.ws.close_code, self.ws.close_reason)
        for future in self.pending.values():
            if not future.done():
                future.set_result(None)

    async def request(self, rid, timeout):
        """The answer, or None when none came within `timeout` or the connection closed under it.
        Raises ConnectionClosed when the request could not be sent at all."""
        future = asyncio.get_running_loop().create_future()
        self.pending[rid] = future
        try:
            await self.ws.send(json.dumps({"type": "req", "id": rid, "method": "status", "params": {}}))
        except websockets.ConnectionClosed:
            del self.pending[rid]
            raise
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            return None

    async def agent(self, message):
        await self.ws.send(json.dumps({"type": "req", "id": AGENT_ID, "method": "agent", "params": {
            "message": message, "idempotencyKey": f"handover-{time.monotonic_ns()}"}}))
        return await self.agent_answer(30)

    async def send(self, rid, key, to, text):
        await self.ws.send(json.dumps({"type": "req", "id": rid, "method": "send", "params": {
            "to": to, "message": text, "idempotencyKey": key}}))

    async def answers(self, rids, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.close is None and not all(r in self.send_answers for r in rids):
            await asyncio.sleep(0.05)
        return {r: self.send_answers.get(r) for r in rids}

    async def agent_answer(self, timeout):
        try:
            return await asyncio.wait_for(self.agent_answers.get(), timeout)
        except asyncio.TimeoutError:
            return None

    async def probe(self, timeout):
        try:
            return await self.request(f"p{self.n}-{time.monotonic_ns()}", timeout)
        except websockets.ConnectionClosed:
            return None


class Run:
    def __init__(self, url, token):
        self.url, self.token = url, token
        self.clients = []
        self.stopping = False
        self.sent = 0
        self.answered = set()    # ids answered (ok or not); a second answer lands in unexpected
        self.not_ok = []         # ids answered ok:false, with the error
        self.unexpected = []
        self.samples = []        # (sent, answered, pid) of every answered request
        self.marks = []          # (name, t, pid or None)
        self.prober = {"ok": 0, "refused": 0, "failed": 0, "errors": []}

    async def connect_all(self, count):
        gate = asyncio.Semaphore(HANDSHAKES_IN_FLIGHT)
        failed = []

        async def one(n):
            async with gate:
                try:
                    ws, _ = await handshake(self.url, self.token)
                except Exception as exc:  # noqa: BLE001 - reported to the host as is
                    failed.append(repr(exc))
                    return
            client = Client(n, ws)
            self.clients.append(client)
            asyncio.create_task(client.read(self))

        await asyncio.gather(*(one(n) for n in range(count)))
        return failed

    async def loop_requests(self, client):
        i = 0
        while not self.stopping and client.close is None:
            i += 1
            rid = f"r{client.n}-{i}"
            sent = time.monotonic()
            try:
                res = await client.request(rid, LOST_AFTER)
            except websockets.ConnectionClosed:
                break  # closed before this one went out: not sent, not lost
            self.sent += 1
            if res is None:  # unanswered: stays missing from self.answered
                if client.close is not None:
                    break
                continue
            self.answered.add(rid)
            if res.get("ok"):
                self.samples.append((sent, time.monotonic(), res["payload"].get("pid")))
            else:
                self.not_ok.append((rid, res.get("error")))
            await asyncio.sleep(REQUEST_PAUSE)

    async def probe_connects(self):
        while not self.stopping:
            try:
                ws, _ = await handshake(self.url, self.token)
                await ws.close()
                self.prober["ok"] += 1
            except ConnectionRefusedError as exc:
                self.prober["refused"] += 1
                self.prober["errors"].append(repr(exc))
            except Exception as exc:  # noqa: BLE001 - every other failure counts, named
                self.prober["failed"] += 1
                self.prober["errors"].append(repr(exc))
            await asyncio.sleep(PROBER_PAUSE)

    def open_clients(self):
        return [c for c in self.clients if c.close is None]

    def check(self):
        pids = {}
        for _, _, pid in self.samples:
            pids[pid] = pids.get(pid, 0) + 1
        since = self.marks[-1][1] if self.marks else 0
        return {"pids": pids, "closed": len(self.clients) - len(self.open_clients()),
                "silent": sum(1 for c in self.open_clients() if c.last_event < since)}

    async def probe(self, seconds):
        """One `status` on every open client: answered, closed (code and reason) or hanging."""
        probed = self.open_clients()
        results = await asyncio.gather(*(c.probe(seconds) for c in probed))
        answered = sum(1 for r in results if r is not None and r.get("ok"))
        closed, reasons = {}, set()
        for c in self.clients:
            if c.close is not None:
                closed[c.close[0]] = closed.get(c.close[0], 0) + 1
                reasons.add(f"{c.close[0]} {c.close[1]}")
        return {"answered": answered, "closed": closed, "reasons": sorted(reasons)[:10],
                "hanging": sum(1 for r, c in zip(results, probed) if r is None and c.close is None)}

    def restart_windows(self):
        """Per restart (marks NAME-begin, NAME-end PID): time from the begin mark to the first
        answer from the new process PID, and the latency of requests alive during that window."""
        windows = []
        ends = {name: (t, pid) for name, t, pid in self.marks}
        for name, begin, _ in self.marks:
            if not name.endswith("-begin"):
                continue
            base = name[:-len("-begin")]
            end, new_pid = ends.get(f"{base}-end", (begin, None))
            first_new = min((a for _, a, pid in self.samples if a > begin and pid == new_pid), default=None)
            until = first_new if first_new is not None else end
            alive = sorted(a - s for s, a, _ in self.samples if s <= until and a >= begin)
            windows.append({"name": base, "command_s": end - begin,
                            "first_new_answer_s": None if first_new is None else first_new - begin,
                            "requests": len(alive), **percentiles(alive)})
        return windows

    def summary(self):
        steady_end = self.marks[0][1] if self.marks else float("inf")
        steady = sorted(a - s for s, a, _ in self.samples if a < steady_end)
        return {
            "clients": len(self.clients),
            "closed": [{"client": c.n, "code": c.close[0], "reason": c.close[1]} for c in self.clients
                       if c.close is not None][:20],
            "closed_count": sum(1 for c in self.clients if c.close is not None),
            "shutdown_events": sum(c.shutdown_events for c in self.clients),
            "gaps": [{"client": c.n, "gaps": c.gaps[:3]} for c in self.clients if c.gaps][:20],
            "gap_clients": sum(1 for c in self.clients if c.gaps),
            "sent": self.sent, "answered": len(self.answered), "lost": self.sent - len(self.answered),
            "answered_twice": len(self.unexpected), "unexpected": self.unexpected[:10],
            "not_ok": self.not_ok[:10], "not_ok_count": len(self.not_ok),
            "prober": {**self.prober, "errors": self.prober["errors"][:10]},
            "steady": percentiles(steady), "windows": self.restart_windows(),
            "pids": self.check()["pids"],
        }


def percentiles(latencies):
    if not latencies:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    at = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    return {"p50_ms": round(at(0.5) * 1e3, 2), "p99_ms": round(at(0.99) * 1e3, 2),
            "max_ms": round(latencies[-1] * 1e3, 2)}


def raise_fd_limit(count):
    """One descriptor per client plus the prober's: the soft limit goes up to the hard one
    (nsenter'd processes inherit the host's; the box cannot raise it further)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < count + 64:
        sys.exit(f"RLIMIT_NOFILE hard limit {hard} is below {count + 64} for {count} clients")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def main(url, token, count, looping):
    raise_fd_limit(count)
    run = Run(url, token)
    failed = await run.connect_all(count)
    emit({"ready": len(run.clients), "failed": failed[:10]})
    tasks = [asyncio.create_task(run.loop_requests(c)) for c in run.clients[:looping]]
    tasks.append(asyncio.create_task(run.probe_connects()))
    stdin = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    while line := (await stdin.readline()).decode().split():
        if line[0] == "mark":
            run.marks.append((line[1], time.monotonic(), int(line[2]) if len(line) > 2 else None))
            emit({"mark": line[1]})
        elif line[0] == "check":
            emit(run.check())
        elif line[0] == "probe":
            emit(await run.probe(float(line[1])))
        elif line[0] == "agent":
            emit({"agent": await run.clients[-1].agent(" ".join(line[1:]))})
        elif line[0] == "agent-final":
            last = run.clients[-1]
            emit({"agent": await last.agent_answer(float(line[1])), "close": last.close})
        elif line[0] == "send":
            rid = SEND_PREFIX + line[1]
            await run.clients[-1].send(rid, line[2], line[3], " ".join(line[4:]))
            emit({"sent": rid})
        elif line[0] == "answers":
            last = run.clients[-1]
            answers = await last.answers([SEND_PREFIX + r for r in line[2:]], float(line[1]))
            emit({"answers": answers, "close": last.close})
        elif line[0] == "finish":
            break
    run.stopping = True
    await asyncio.wait(tasks, timeout=LOST_AFTER + 5)
    emit(run.summary())


if __name__ == "__main__":
    url, token_file, clients, looping = sys.argv[1:5]
    with open(token_file) as f:
        asyncio.run(main(url, f.read().strip(), int(clients), int(looping)))
