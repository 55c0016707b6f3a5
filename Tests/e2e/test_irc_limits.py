"""IRC behaviour under pressure (issue 14 items 15 and 20): a bounded send queue and
no kick loop, against a real ngircd."""
import json
import time
import uuid

import pytest

from conftest import call, handshake, recv_until
from test_messaging import CHANNEL, irc_config, ircd, observers, send_params, wait_linked  # noqa: F401 (fixtures)


def test_send_queue_is_bounded_per_client_with_retry_after(make_gateway, ircd, observers):
    # Slow pacing (1 line per 2 s after a burst of 1): the queue fills and stays full.
    gw = make_gateway(config=irc_config(ircd.port, floodBurst=1, floodIntervalMs=2000))
    wait_linked(gw.url)
    hog, _ = handshake(gw.url)
    big = "x" * 16_000  # ~35 IRC lines
    for i in range(6):
        hog.send(json.dumps({"type": "req", "id": f"b{i}", "method": "send",
                             "params": send_params(f"big-{uuid.uuid4()}", message=big)}))
    refused = [recv_until(hog, lambda f, i=i: f.get("id") == f"b{i}", timeout=5) for i in (3, 4, 5)]
    for r in refused:
        assert not r["ok"] and r["error"]["code"] == "UNAVAILABLE", r
        assert r["error"]["retryable"] is True and r["error"]["retryAfterMs"] >= 1000, r
        assert "send queue is full" in r["error"]["message"]
    # Another client still gets in: the hog's share is bounded.
    other, _ = handshake(gw.url)
    other.send(json.dumps({"type": "req", "id": "o", "method": "send",
                           "params": send_params(f"small-{uuid.uuid4()}", message="hello")}))
    with pytest.raises(TimeoutError):  # queued (answered once delivered), not refused
        recv_until(other, lambda f: f.get("id") == "o", timeout=0.5)
    hog.close()
    other.close()


def test_empty_message_names_the_message_field(make_gateway, ircd):
    gw = make_gateway(config=irc_config(ircd.port))
    wait_linked(gw.url)
    ws, _ = handshake(gw.url)
    r = call(ws, "send", send_params(f"e-{uuid.uuid4()}", message="\n\n"))
    assert not r["ok"] and r["error"]["details"]["field"] == "message", r
    ws.close()


def test_kick_does_not_cause_a_rejoin_loop(make_gateway, ircd, observers):
    op = observers(ircd.port, nick="chanop")  # first in the channel: channel operator
    gw = make_gateway(config=irc_config(ircd.port))
    wait_linked(gw.url)

    def bot_joins():
        with op.lock:
            return [l for l in op.lines if b" JOIN " in l and l.startswith(b":clawbot")]

    deadline = time.monotonic() + 10
    while not bot_joins():
        assert time.monotonic() < deadline, "the bot never joined"
        time.sleep(0.05)
    # The op kicks the bot every time it joins, for 3 s.
    kicked = 0
    end = time.monotonic() + 3
    while time.monotonic() < end:
        if len(bot_joins()) > kicked:
            kicked += 1
            op.send(f"KICK {CHANNEL} clawbot :go away")
        time.sleep(0.02)
    assert len(bot_joins()) <= 2, f"the bot rejoined {len(bot_joins())} times in 3 s"
    assert "kicked from #ops by chanop (go away); rejoining in 5 s" in gw.log_text()
