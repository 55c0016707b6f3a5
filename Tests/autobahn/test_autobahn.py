"""The Autobahn TestSuite (cases 1-10) against AutobahnEcho: an echo server made
of the gateway's own WebSocketCodec and NetIO.

Every case must come out OK or INFORMATIONAL: FAILED, NON-STRICT or
UNIMPLEMENTED (for the behaviour or the closing handshake) fails the test.
NON-STRICT is a failure on purpose: 6.4.3/6.4.4 (invalid UTF-8 arriving in the
middle of a text frame) are NON-STRICT when the codec waits for the frame's end.
Cases 12/13 need permessage-deflate, which the gateway does not negotiate.

AUTOBAHN_ECHO=path of the echo binary (the Makefile builds it); the report is
written to AUTOBAHN_REPORT_DIR (default: a temporary directory).
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import wstest_env

ACCEPTED = {"OK", "INFORMATIONAL"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_autobahn_cases_1_to_10():
    echo = os.environ.get("AUTOBAHN_ECHO")
    assert echo and os.access(echo, os.X_OK), "set AUTOBAHN_ECHO to the AutobahnEcho binary (make autobahn builds it)"
    wstest = wstest_env.wstest()
    keep = os.environ.get("AUTOBAHN_REPORT_DIR")
    report_dir = keep or tempfile.mkdtemp(prefix="autobahn-")
    port = free_port()
    server = subprocess.Popen([echo, str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().startswith("listening"), "AutobahnEcho did not start"
        spec = {
            "outdir": report_dir,
            "servers": [{"agent": "openclaw-codec", "url": f"ws://127.0.0.1:{port}"}],
            "cases": [f"{n}.*" for n in range(1, 11)],
            "exclude-cases": [],
            "exclude-agent-cases": {},
        }
        spec_path = os.path.join(report_dir, "fuzzingclient.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        started = time.monotonic()
        run = subprocess.run([wstest, "-m", "fuzzingclient", "-s", spec_path], cwd=report_dir,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
        elapsed = time.monotonic() - started
        assert run.returncode == 0, run.stdout[-3000:]
        assert server.poll() is None, f"AutobahnEcho exited with {server.returncode} during the run"
    finally:
        server.kill()
        server.wait()

    with open(os.path.join(report_dir, "index.json")) as f:
        results = json.load(f)["openclaw-codec"]
    tally = {}
    bad = []
    for case, r in sorted(results.items(), key=lambda kv: [int(p) for p in kv[0].split(".")]):
        tally[r["behavior"]] = tally.get(r["behavior"], 0) + 1
        if r["behavior"] not in ACCEPTED or r["behaviorClose"] not in ACCEPTED:
            bad.append(f"{case}: {r['behavior']} (close: {r['behaviorClose']})")
    summary = ", ".join(f"{n} {b}" for b, n in sorted(tally.items()))
    print(f"\nAutobahn 1-10: {len(results)} cases in {elapsed:.0f} s: {summary}; report {report_dir}/index.html")
    assert len(results) > 290, f"only {len(results)} cases ran"
    for case in ("6.4.3", "6.4.4"):
        assert results[case]["behavior"] == "OK", f"{case}: {results[case]['behavior']}"
    assert not bad, "cases not OK:\n" + "\n".join(bad)
    if not keep:
        shutil.rmtree(report_dir)
