#!/usr/bin/python3
"""A protocol-speaking client that the system tests run inside the container.

It uses Debian's python3-websockets (10.x) and speaks PROTOCOL.md's handshake:
wait for the connect.challenge event, send a connect request with the token,
expect a hello-ok response. Each mode prints one JSON document per line on
stdout so the host side can parse it.

  gwclient.py hello URL TOKEN_FILE            hello-ok payload, exit 0
  gwclient.py hold URL TOKEN_FILE             hello, then every event and the close
  gwclient.py until-hello URL TOKEN_FILE SECS retry until a hello-ok, print how long it took
  gwclient.py loop URL TOKEN_FILE SECS        connect+handshake in a loop, count outcomes
"""

import asyncio
import json
import sys
import time

import websockets

CLIENT = {"id": "system-test", "version": "0", "platform": "linux", "mode": "probe"}


def emit(doc):
    print(json.dumps(doc), flush=True)


async def handshake(url, token, timeout=10):
    ws = await websockets.connect(url, open_timeout=timeout, close_timeout=2, max_size=None)
    try:
        challenge = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if challenge.get("event") != "connect.challenge":
            raise RuntimeError(f"expected connect.challenge, got {challenge}")
        await ws.send(json.dumps({
            "type": "req", "id": "c1", "method": "connect",
            "params": {"minProtocol": 4, "maxProtocol": 4, "client": CLIENT, "auth": {"token": token}},
        }))
        res = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if res.get("type") != "res" or not res.get("ok") or res["payload"].get("type") != "hello-ok":
            raise RuntimeError(f"expected hello-ok, got {res}")
        return ws, res["payload"]
    except BaseException:
        await ws.close()
        raise


def close_info(ws):
    """The close code/reason the gateway sent (1006 when the connection just dropped)."""
    return {"close": ws.close_code, "reason": ws.close_reason}


async def hello(url, token):
    ws, payload = await handshake(url, token)
    emit(payload)
    await ws.close()


async def hold(url, token):
    ws, payload = await handshake(url, token)
    emit({"hello": payload.get("server", {})})
    try:
        async for message in ws:
            emit(json.loads(message))
    except websockets.ConnectionClosed:
        pass
    emit(close_info(ws))


async def until_hello(url, token, seconds):
    started = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        try:
            ws, payload = await handshake(url, token, timeout=5)
            await ws.close()
            emit({"elapsed": time.monotonic() - started, "attempts": attempts, "server": payload.get("server", {})})
            return
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException, RuntimeError) as exc:
            if time.monotonic() - started > seconds:
                emit({"error": repr(exc), "attempts": attempts})
                sys.exit(1)
            await asyncio.sleep(0.1)


async def loop(url, token, seconds):
    counts = {"ok": 0, "refused": 0, "dropped": 0, "other": 0}
    errors = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            ws, _ = await handshake(url, token)
            await ws.close()
            counts["ok"] += 1
        except ConnectionRefusedError:
            counts["refused"] += 1
        except websockets.ConnectionClosed as exc:
            # The gateway went away mid-handshake (shutdown, 1012): not a refusal.
            counts["dropped"] += 1
            errors.append(repr(exc))
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException, RuntimeError) as exc:
            counts["other"] += 1
            errors.append(repr(exc))
    emit({**counts, "errors": errors[:10]})


def main():
    mode, url, token_file, *rest = sys.argv[1:]
    with open(token_file) as f:
        token = f.read().strip()
    if mode == "hello":
        asyncio.run(hello(url, token))
    elif mode == "hold":
        asyncio.run(hold(url, token))
    elif mode == "until-hello":
        asyncio.run(until_hello(url, token, float(rest[0])))
    elif mode == "loop":
        asyncio.run(loop(url, token, float(rest[0])))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
