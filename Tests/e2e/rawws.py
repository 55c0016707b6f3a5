"""A deliberately minimal WebSocket peer over a raw socket, for the frames a
well-behaved library refuses to send (unmasked, fragmented, oversized)."""
import base64
import json
import os
import socket
import struct


class RawWS:
    def __init__(self, port, timeout=5.0, rcvbuf=None):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during upgrade")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def send_frame(self, opcode, payload: bytes, fin=True, mask=True, rsv=0):
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
        elif n < 65536:
            header = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
        else:
            header = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
        if mask:
            key = os.urandom(4)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            header += key
        self.sock.sendall(header + payload)

    def send_json(self, obj):
        self.send_frame(1, json.dumps(obj).encode())

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("eof")
            self.buf += chunk

    def recv_frame(self):
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        off = 2
        if n == 126:
            self._need(4)
            n = struct.unpack("!H", self.buf[2:4])[0]
            off = 4
        elif n == 127:
            self._need(10)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            off = 10
        self._need(off + n)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return b0 & 0x0F, payload

    def recv_json(self):
        while True:
            op, payload = self.recv_frame()
            if op == 1:
                return json.loads(payload)
            if op == 8:
                raise ConnectionError(f"close {close_code(payload)}")

    def recv_close_code(self):
        """Reads frames until the close frame; returns its code."""
        while True:
            op, payload = self.recv_frame()
            if op == 8:
                return close_code(payload)

    def close(self):
        self.sock.close()


def close_code(payload: bytes):
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
