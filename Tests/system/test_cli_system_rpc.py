"""The RPC commands' `--system` (gateway health, gateway call, logs) against a system install.

Root's own config knows neither the port nor the token of a gateway installed with
`--system --user-name alice`; `--system` resolves them the way the service commands do
(the unit's User=, that account's state dir, the socket's listen address), so no --url and
no token are needed. A caller who may not read alice's files is told, in one sentence, to
use sudo or --token.

Uses profile "rpc" on port 18830 (alice's state in ~/.openclaw-rpc); removes it afterwards.
"""

from __future__ import annotations

import json

from conftest import USER

PROFILE, PORT = "rpc", 18830
UNIT = f"openclaw-gateway-{PROFILE}"
STATE = f"/home/{USER}/.openclaw-{PROFILE}"
TOKEN = f"/etc/credstore/{UNIT}.token"  # a system unit's token is root's
# `runuser` as root, without a login session: a caller who is neither root nor alice.
AS_NOBODY = "runuser -u nobody -- env HOME=/tmp"


def test_rpc_commands_reach_the_system_install(box):
    box.run(f"openclaw gateway uninstall --system --profile {PROFILE}", check=False)
    try:
        r = box.run(f"openclaw gateway install --system --user-name {USER} --profile {PROFILE} --port {PORT}")
        assert f"Gateway answers at ws://127.0.0.1:{PORT}." in r.stdout, r.stdout
        assert box.run("test -e /root/.openclaw-rpc", check=False).returncode != 0

        # Root's own (missing) config and token: the default port, no secret. The problem --system solves.
        r = box.run(f"openclaw --profile {PROFILE} gateway health", check=False)
        assert r.returncode != 0, r.stdout + r.stderr

        r = box.run(f"openclaw --profile {PROFILE} gateway health --system", check=False)
        print(r.stdout)
        assert r.returncode == 0, r.stdout + r.stderr

        r = box.run(f"openclaw --profile {PROFILE} gateway call status --system --json")
        status = json.loads(r.stdout)
        assert status["port"] == PORT and status["profile"] == PROFILE and status["stateDir"] == STATE, status

        r = box.run(f"openclaw --profile {PROFILE} logs --system --limit 5")
        lines = r.stdout.splitlines()
        assert 1 <= len(lines) <= 5, r.stdout + r.stderr

        # alice reads her own install; `--system` needs no sudo for her.
        r = box.run(f"openclaw --profile {PROFILE} gateway health --system --json", user=USER, check=False)
        assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True, r.stdout + r.stderr

        # Anyone else cannot read the token: one sentence naming both ways out; --token is the other.
        r = box.run(f"{AS_NOBODY} openclaw --profile {PROFILE} gateway health --system", check=False)
        print(r.stderr)
        assert r.returncode == 1 and r.stdout == "" and len(r.stderr.splitlines()) == 1, r.stdout + r.stderr
        assert r.stderr.startswith(f"error: you may not read {STATE}/"), r.stderr
        assert "sudo" in r.stderr and "--token" in r.stderr, r.stderr
        r = box.run(f"{AS_NOBODY} openclaw --profile {PROFILE} gateway health --system --token $(cat {TOKEN})",
                    check=False)
        assert r.returncode == 0, r.stdout + r.stderr

        box.run(f"openclaw gateway uninstall --system --profile {PROFILE}")
        r = box.run(f"openclaw --profile {PROFILE} gateway health --system", check=False)
        print(r.stderr)
        assert r.returncode == 3 and f"{UNIT}.service is not installed as a system service" in r.stderr, r.stderr
        assert f"openclaw --profile {PROFILE} gateway install --system" in r.stderr, r.stderr
    finally:
        box.run(f"openclaw gateway uninstall --system --profile {PROFILE}", check=False)
        box.run(f"rm -rf {STATE}", check=False)
