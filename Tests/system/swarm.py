"""Host side of handover_client.py: the clients that a restart must not disturb.

Used by test_handover.py and by the restart row of `make bench` (Benchmarks/restart.py):
`Swarm` starts the client inside a booted `Container` and drives it line by line (the
commands are listed in handover_client.py); `Swarm.restart` runs a restart command between
two marks, so the client can time the first answer from the new process and the latency of
the requests alive across the restart.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading

SERVICE = "openclaw-gateway.service"


def main_pid(box, user: str | None) -> int:
    scope = "--user " if user else ""
    return int(box.run(f"systemctl {scope}show -P MainPID {SERVICE}", user=user).stdout.strip() or 0)


class Swarm:
    def __init__(self, box, inside: str, url: str, clients: int, looping: int, token_file: str):
        self.box = box
        self.proc = box.popen(f"cd {inside} && exec python3 handover_client.py "
                              f"{url} {token_file} {clients} {looping}", stdin=subprocess.PIPE)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        ready = self.next(120)
        if ready.get("ready") != clients:
            self.stop()
            raise AssertionError(f"only {ready.get('ready')} of {clients} clients connected: {ready}")

    def _pump(self):
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.lines.put(json.loads(line))
        self.lines.put(None)

    def next(self, timeout: float) -> dict:
        try:
            doc = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"handover_client.py said nothing for {timeout}s") from None
        if doc is None:
            raise AssertionError(f"handover_client.py exited: {self.proc.stderr.read()}")
        return doc

    def ask(self, command: str, timeout: float = 30) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.next(timeout)

    def restart(self, name: str, command: str, user: str | None) -> tuple[subprocess.CompletedProcess, int, int]:
        """Runs `command` between marks NAME-begin and NAME-end: (its result, old MainPID, new MainPID)."""
        old = main_pid(self.box, user)
        self.ask(f"mark {name}-begin")
        result = self.box.run(command, user=user, check=False, timeout=180)
        new = main_pid(self.box, user)
        self.ask(f"mark {name}-end {new}")
        return result, old, new

    def finish(self) -> dict:
        summary = self.ask("finish", timeout=60)
        self.stop()
        return summary

    def stop(self):
        """Closing its stdin ends it (killing nsenter would not reach the client inside)."""
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
