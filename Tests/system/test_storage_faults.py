"""The installed user gateway on a full disk: its state dir is a 64 KiB tmpfs
mounted inside the booted container (profile "faults", port 18843), and a
small IRC stub stands in for the server. A `message send` on the full disk is
refused with UNAVAILABLE naming the cause, `gateway health --json` shows the
send ledger not ok, and once the filler is removed the gateway records again by
itself and the same send goes out. Profile and mount removed afterwards."""

from __future__ import annotations

import json

from conftest import INSIDE, USER, wait_for

PROFILE, PORT, STATE = "faults", 18843, f"/home/{USER}/.openclaw-faults"
IRC_PORT = 16667


def openclaw(box, args, check=True):
    return box.run(f"openclaw --profile {PROFILE} {args}", user=USER, check=check, timeout=60)


def health(box):
    return json.loads(openclaw(box, "gateway health --json", check=False).stdout)


def test_a_full_state_dir_refuses_sends_and_recovers_by_itself(box):
    units = f"openclaw-gateway-{PROFILE}.socket openclaw-gateway-{PROFILE}.service"
    openclaw(box, "gateway uninstall", check=False)
    stub = box.popen(f"exec python3 {INSIDE}/ircstub.py {IRC_PORT} /root/irc.log")
    try:
        openclaw(box, f"gateway install --port {PORT}")
        box.run(f"systemctl --user stop {units}", user=USER)
        # The installed state dir moves onto a tiny tmpfs owned by alice.
        box.run(f"mv {STATE} {STATE}.orig && mkdir {STATE} && "
                f"mount -t tmpfs -o size=64k,mode=0700,uid=$(id -u {USER}),gid=$(id -g {USER}) tmpfs {STATE} && "
                f"cp -a {STATE}.orig/. {STATE}/")
        config = {"gateway": {"port": PORT}, "channels": {"irc": {"server": "127.0.0.1", "port": IRC_PORT, "nick": "clawbot"}}}
        box.run(f"printf '%s' '{json.dumps(config)}' > {STATE}/openclaw.json", user=USER)
        box.run(f"systemctl --user start {units}", user=USER)
        wait_for(lambda: health(box).get("channels"), 15, what="the gateway to answer health")
        box.run(f"dd if=/dev/zero of={STATE}/filler bs=4k", user=USER, check=False)

        refused = openclaw(box, "message send --target bob --message on-full-disk --idempotency-key k1", check=False)
        assert refused.returncode != 0, refused.stdout
        assert "No space left on device" in refused.stderr and "nothing was sent" in refused.stderr, refused.stderr
        unhealthy = openclaw(box, "gateway health --json", check=False)
        assert unhealthy.returncode == 1, unhealthy.stdout  # documented: exit 1 when ok is false
        ledger = json.loads(unhealthy.stdout)["storage"]["sendLedger"]
        assert ledger["ok"] is False and "No space left on device" in ledger["error"], ledger
        assert "on-full-disk" not in box.run("cat /root/irc.log", check=False).stdout
        # The operator's two diagnostics name the store, the cause and what to do.
        status = json.loads(openclaw(box, "gateway status --json", check=False).stdout)
        assert any("sendLedger cannot record" in w and "No space left on device" in w for w in status["warnings"]), status
        doctor = openclaw(box, "doctor --json", check=False)
        faults = [f for f in json.loads(doctor.stdout)["findings"] if f["id"] == "storage-fault"]
        assert doctor.returncode == 1 and faults and "No space left on device" in faults[0]["message"], doctor.stdout

        box.run(f"rm {STATE}/filler", user=USER)
        wait_for(lambda: health(box)["storage"]["sendLedger"]["ok"], 10, what="the ledger to record again")
        sent = openclaw(box, "message send --target bob --message on-full-disk --idempotency-key k1 --json")
        assert json.loads(sent.stdout)["messageId"], sent.stdout
        assert box.run("cat /root/irc.log").stdout.count("on-full-disk") == 1
    finally:
        stub.kill()
        box.run(f"systemctl --user stop {units}", user=USER, check=False)
        box.run(f"umount -l {STATE}; rm -rf {STATE}; mv {STATE}.orig {STATE}; rm -f /root/irc.log", check=False)
        openclaw(box, "gateway uninstall", check=False)
