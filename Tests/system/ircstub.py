#!/usr/bin/python3
"""A stand-in IRC server for the system tests, run inside the container: registers anyone,
answers PING, appends every PRIVMSG line to a log; one client at a time (the gateway's link,
and its next link after a restart).

  ircstub.py PORT LOGFILE
"""

import socket
import sys

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(4)
while True:
    c, _ = s.accept()
    buf = b""
    while True:
        data = c.recv(4096)
        if not data:
            break
        buf += data
        while b"\r\n" in buf:
            line, buf = buf.split(b"\r\n", 1)
            words = line.decode().split(" ")
            if words[0] == "USER":
                c.sendall(b":stub 001 clawbot :welcome\r\n")
            elif words[0] == "PING":
                c.sendall(b":stub PONG stub " + line.split(b" ", 1)[1] + b"\r\n")
            elif words[0] == "PRIVMSG":
                with open(sys.argv[2], "a") as log:
                    log.write(line.decode() + "\n")
    c.close()
