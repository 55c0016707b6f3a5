"""Wrong answers users noticed (issue 14 item 20)."""
import os
import signal
import time

from conftest import call, handshake


def wait_status(ws, predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    n = 0
    while True:
        n += 1
        status = call(ws, "status", id_=f"s{n}")["payload"]
        if predicate(status) or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_good_reload_clears_a_failed_reloads_last_error(gateway):
    config = os.path.join(gateway.state, "openclaw.json")
    good = open(config).read()
    ws, _ = handshake(gateway.url)
    with open(config, "w") as f:
        f.write("{ broken")
    gateway.proc.send_signal(signal.SIGHUP)
    status = wait_status(ws, lambda s: "lastError" in s)
    assert status["lastError"].startswith("reload failed: "), status
    with open(config, "w") as f:
        f.write(good)
    gateway.proc.send_signal(signal.SIGHUP)
    status = wait_status(ws, lambda s: "lastError" not in s)
    assert "lastError" not in status, status
    assert gateway.log_text().count("configuration reloaded") == 1
    ws.close()


def test_health_duration_is_measured_not_zero(gateway):
    ws, _ = handshake(gateway.url)
    durations = [call(ws, "health", id_=f"h{i}")["payload"]["durationMs"] for i in range(5)]
    assert all(isinstance(d, (int, float)) and 0 < d < 1000 for d in durations), durations
    ws.close()


def test_ledger_trouble_at_start_up_is_not_called_configuration(make_gateway, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "send-ledger.jsonl").mkdir()  # unreadable as a ledger
    gw = make_gateway(extra_env={"OPENCLAW_STATE_DIR": str(state)})
    text = gw.log_text()
    assert "configuration:" not in text, text
    assert "send-ledger.jsonl" in text, text
