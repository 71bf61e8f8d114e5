#!/usr/bin/env python3
"""The independent side of ci/nats-check and ci/bench-log: asks a NATS
JetStream server over the client protocol (standard library only).

  js_tool.py leader ADDR:PORT STREAM   the server_name of the stream's leader;
                                       exits 1 while it has none (an election)
  js_tool.py ready ADDR:PORT           exits 0 once JetStream answers $JS.API.INFO
                                       without an error (a meta leader is elected)
"""

import json
import socket
import sys


def request(server, subject, timeout=3.0):
    """Sends an empty request to `subject` and returns the reply's JSON."""
    host, port = server.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        f = s.makefile("rb")
        if not f.readline().startswith(b"INFO "):
            raise RuntimeError("not a NATS server")
        s.sendall(b'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\n'
                  b"SUB _INBOX.js_tool 1\r\n"
                  + f"PUB {subject} _INBOX.js_tool 0\r\n\r\n".encode())
        while True:
            line = f.readline()
            if not line:
                raise RuntimeError("connection closed")
            words = line.split()
            if words[0] == b"PING":
                s.sendall(b"PONG\r\n")
            elif words[0] in (b"MSG", b"HMSG"):
                total = int(words[-1])
                headers = int(words[-2]) if words[0] == b"HMSG" else 0
                body = f.read(total + 2)[headers:total]
                if not body:
                    raise RuntimeError("a status instead of an answer")
                return json.loads(body)


def main(argv):
    if len(argv) == 4 and argv[1] == "leader":
        try:
            info = request(argv[2], f"$JS.API.STREAM.INFO.{argv[3]}")
        except (OSError, RuntimeError, ValueError):
            return 1
        leader = info.get("cluster", {}).get("leader")
        if not leader:
            return 1
        print(leader)
    elif len(argv) == 3 and argv[1] == "ready":
        try:
            return 1 if "error" in request(argv[2], "$JS.API.INFO") else 0
        except (OSError, RuntimeError, ValueError):
            return 1
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
