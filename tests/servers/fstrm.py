#!/usr/bin/env python3
"""Frame Streams, and the dnstap records in them, for the test scripts: a
reader and peers of their own, independent of dnstap-kit (python3 standard
library only). unbound_tap.py and knot_taps.py build on it.

  fstrm.py count FILE              "DATA CONTROL END": the data and control
                                   frames of a Frame Streams file; END is
                                   complete (STOP last), no-stop, cut (the
                                   file ends inside a frame) or empty (no
                                   file, or an empty one)
  fstrm.py json FILE               one JSON object per dnstap record, in the
                                   shape of `dnstap-kit read --format json`
                                   but with the DNS messages as hex; decoded
                                   here from the protobuf wire format, Policy
                                   (which neither Debian reader decodes)
                                   included
  fstrm.py send DEST FILE [CA]     a bidirectional writer: READY, ACCEPT, the
                                   file (START ... STOP) as fast as the
                                   collector at DEST (a unix socket path, or
                                   tcp:ADDR@PORT, or tls:ADDR@PORT verified
                                   against the CA file) takes it, FINISH;
                                   prints the seconds from connect to FINISH
  fstrm.py receive SOCKET OUT      a unidirectional collector: one connection
                                   on SOCKET, copied to the file OUT; fails
                                   if the writer starts a bidirectional
                                   handshake (READY)
  fstrm.py garbage SOCKET SECONDS  a collector that answers every connection
                                   with garbage instead of ACCEPT; prints how
                                   many it got in SECONDS
"""

import collections
import ipaddress
import json
import mmap
import os
import socket
import ssl
import struct
import sys
import time

CONTENT_TYPE = b"protobuf:dnstap.Dnstap"
ACCEPT, START, STOP, READY, FINISH = 1, 2, 3, 4, 5
CUT = "cut"
U32 = struct.Struct(">I").unpack_from

MESSAGE_TYPES = {
    1: "AUTH_QUERY", 2: "AUTH_RESPONSE", 3: "RESOLVER_QUERY", 4: "RESOLVER_RESPONSE",
    5: "CLIENT_QUERY", 6: "CLIENT_RESPONSE", 7: "FORWARDER_QUERY", 8: "FORWARDER_RESPONSE",
    9: "STUB_QUERY", 10: "STUB_RESPONSE", 11: "TOOL_QUERY", 12: "TOOL_RESPONSE",
    13: "UPDATE_QUERY", 14: "UPDATE_RESPONSE",
}
FAMILIES = {1: "INET", 2: "INET6"}
PROTOCOLS = {1: "UDP", 2: "TCP", 3: "DOT", 4: "DOH", 5: "DNSCryptUDP", 6: "DNSCryptTCP", 7: "DOQ"}
HTTP_PROTOCOLS = {1: "HTTP1", 2: "HTTP2", 3: "HTTP3"}
ACTIONS = {1: "NXDOMAIN", 2: "NODATA", 3: "PASS", 4: "DROP", 5: "TRUNCATE", 6: "LOCAL_DATA"}
MATCHES = {1: "QNAME", 2: "CLIENT_IP", 3: "RESPONSE_IP", 4: "NS_NAME", 5: "NS_IP"}
QTYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
          33: "SRV", 43: "DS", 48: "DNSKEY", 64: "SVCB", 65: "HTTPS", 255: "ANY"}


def fail(msg):
    print(f"{os.path.basename(sys.argv[0])}: {msg}", file=sys.stderr)
    sys.exit(1)


# Frame Streams

def walk(buf):
    """(kind, start, end) of each frame of buf: kind is None for a data frame
    (buf[start:end] is its payload), else the control type (buf[start:end]
    its fields); (CUT, offset, len(buf)) comes last when buf ends inside a
    frame (or in a control frame too short for its type)."""
    at, n = 0, len(buf)
    while at + 4 <= n:
        (length,) = U32(buf, at)
        if length:
            if at + 4 + length > n:
                break
            yield None, at + 4, at + 4 + length
            at += 4 + length
            continue
        if at + 12 > n:
            break
        (clen,) = U32(buf, at + 4)
        if clen < 4 or at + 8 + clen > n:
            break
        yield U32(buf, at + 8)[0], at + 12, at + 8 + clen
        at += 8 + clen
    if at < n:
        yield CUT, at, n


def content_type_field(content_type=CONTENT_TYPE):
    """The fields of a READY, ACCEPT or START frame naming content_type."""
    return struct.pack(">II", 1, len(content_type)) + content_type


def control_frame(kind, content_type=None):
    body = struct.pack(">I", kind)
    if content_type:
        body += content_type_field(content_type)
    return struct.pack(">II", 0, len(body)) + body


def mapped(path):
    """The bytes of a file, mapped: the captures of a benchmark are large."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return b""
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def payloads(path):
    """The data frames of a Frame Streams file that ends on a frame boundary."""
    buf, out = mapped(path), []
    for kind, start, end in walk(buf):
        if kind == CUT:
            fail(f"{path}: ends inside a frame at byte {start}")
        if kind is None:
            out.append(bytes(buf[start:end]))
    return out


def count(path):
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return "0 0 empty"
    data = control = 0
    last = None
    for kind, _, _ in walk(mapped(path)):
        if kind is None:
            data += 1
        elif kind != CUT:
            control += 1
        last = kind
    return f"{data} {control} {'complete' if last == STOP else 'cut' if last == CUT else 'no-stop'}"


# dnstap: the protobuf wire format

def varint(buf, at):
    shift = value = 0
    while True:
        b = buf[at]
        at += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, at
        shift += 7


def fields(buf):
    """{field number: [values]} of one protobuf message."""
    out, at = collections.defaultdict(list), 0
    while at < len(buf):
        key, at = varint(buf, at)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, at = varint(buf, at)
        elif wire == 2:
            n, at = varint(buf, at)
            value, at = buf[at:at + n], at + n
        elif wire == 5:
            (value,) = struct.unpack_from("<I", buf, at)
            at += 4
        elif wire == 1:
            (value,) = struct.unpack_from("<Q", buf, at)
            at += 8
        else:
            fail(f"unsupported protobuf wire type {wire}")
        out[num].append(value)
    return out


def name(wire, at=0):
    """Text of a (possibly compressed) wire-format name, and the offset after it."""
    labels, end, hops = [], None, 0
    while True:
        n = wire[at]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = at + 2
            at = ((n & 0x3F) << 8) | wire[at + 1]
            hops += 1
            if hops > 64:
                fail("name compression loop")
            continue
        at += 1
        if n == 0:
            break
        labels.append(wire[at:at + n].decode("ascii", "backslashreplace"))
        at += n
    return ".".join(labels) + ".", end if end is not None else at


def question(msg):
    """(qname, qtype, rcode) of a DNS message, or None."""
    if not msg or len(msg) < 12 or struct.unpack_from(">H", msg, 4)[0] < 1:
        return None
    qname, at = name(msg, 12)
    (qtype,) = struct.unpack_from(">H", msg, at)
    return qname, QTYPES.get(qtype, f"TYPE{qtype}"), msg[3] & 0x0F


def ip(b):
    return str(ipaddress.ip_address(bytes(b))) if len(b) in (4, 16) else b.hex()


def decode(payload):
    """One dnstap record as a dict, in the shape of `dnstap-kit read --format
    json`, with the DNS messages as hex and their qname, qtype and rcode."""
    d = fields(payload)
    rec = {"type": "MESSAGE" if d.get(15, [0])[0] == 1 else str(d.get(15))}
    if 1 in d:
        rec["identity"] = d[1][0].decode("utf-8", "backslashreplace")
    if 2 in d:
        rec["version"] = d[2][0].decode("utf-8", "backslashreplace")
    if 14 not in d:
        return rec
    m = fields(d[14][0])
    msg = {"type": MESSAGE_TYPES.get(m[1][0], str(m[1][0]))}
    if 2 in m:
        msg["socket_family"] = FAMILIES.get(m[2][0], str(m[2][0]))
    if 3 in m:
        msg["socket_protocol"] = PROTOCOLS.get(m[3][0], str(m[3][0]))
    if 16 in m:
        msg["http_protocol"] = HTTP_PROTOCOLS.get(m[16][0], str(m[16][0]))
    for num, key in ((4, "query_address"), (5, "response_address")):
        if num in m:
            msg[key] = ip(m[num][0])
    for num, key in ((6, "query_port"), (7, "response_port"), (8, "query_time_sec"),
                     (9, "query_time_nsec"), (12, "response_time_sec"),
                     (13, "response_time_nsec")):
        if num in m:
            msg[key] = m[num][0]
    if 11 in m:
        msg["query_zone"] = name(m[11][0])[0]
    for num, key in ((10, "query_message"), (14, "response_message")):
        if num in m:
            msg[key] = m[num][0].hex()
            q = question(m[num][0])
            if q:
                msg["qname"], msg["qtype"] = q[0], q[1]
                if num == 14:
                    msg["rcode"] = q[2]
    if 15 in m:
        p = fields(m[15][0])
        pol = {}
        if 1 in p:
            pol["type"] = p[1][0].decode("utf-8", "backslashreplace")
        match = MATCHES.get(p[4][0], str(p[4][0])) if 4 in p else None
        if 2 in p:
            pol["rule"] = name(p[2][0])[0]
        if 3 in p:
            pol["action"] = ACTIONS.get(p[3][0], str(p[3][0]))
        if match:
            pol["match"] = match
        if 5 in p:
            v = p[5][0]
            pol["value"] = ip(v) if match in ("CLIENT_IP", "RESPONSE_IP", "NS_IP") else name(v)[0]
        msg["policy"] = pol
    rec["message"] = msg
    return rec


def records(path):
    return [decode(p) for p in payloads(path)]


# Peers on a unix socket

def read_control(conn):
    """The type of the next frame, which must be a control frame."""
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                fail("the collector closed the connection")
            data += chunk
        return data
    escape, length = struct.unpack(">II", exactly(8))
    if escape != 0:
        fail("a data frame where a control frame was due")
    return U32(exactly(length), 0)[0]


def connect(destination, ca_file):
    """A unix socket path, or tcp:ADDR@PORT / tls:ADDR@PORT (verified against CA_FILE)."""
    kind, _, address = destination.partition(":")
    if kind not in ("tcp", "tls"):
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(destination)
        return conn
    host, _, port = address.rpartition("@")
    conn = socket.create_connection((host, int(port)))
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if kind == "tcp":
        return conn
    context = ssl.create_default_context(cafile=ca_file)
    return context.wrap_socket(conn, server_hostname=host)


def send(destination, path, ca_file=None):
    data = mapped(path)
    started = time.monotonic()
    conn = connect(destination, ca_file)
    conn.sendall(control_frame(READY, CONTENT_TYPE))
    if read_control(conn) != ACCEPT:
        fail("no ACCEPT")
    conn.sendall(data)
    if read_control(conn) != FINISH:
        fail("no FINISH")
    print("%.3f" % (time.monotonic() - started))


def listen(sock_path, backlog, timeout):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    server.bind(sock_path)
    server.listen(backlog)
    server.settimeout(timeout)
    return server


def receive(sock_path, out):
    """A unidirectional stream (START, data, STOP) is a Frame Streams file as is."""
    server = listen(sock_path, 1, 60)
    conn, _ = server.accept()
    conn.settimeout(60)
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    conn.close()
    server.close()
    with open(out, "wb") as f:
        f.write(data)
    first = next(walk(data), (CUT, 0, 0))[0]
    if first != START:
        fail(f"{sock_path}: the stream starts with frame {first}, not START (2): "
             "a bidirectional handshake?")
    print(f"fstrm.py: {sock_path}: unidirectional stream, {len(data)} bytes")


def garbage(sock_path, seconds):
    server = listen(sock_path, 16, 0.1)
    connections, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            conn, _ = server.accept()
        except socket.timeout:
            continue
        connections += 1
        conn.sendall(b"\x00\x00\x00\x00\x00\x00\x00\x10" + os.urandom(16))
        conn.close()
    print(connections)


def main(argv):
    if len(argv) == 3 and argv[1] == "count":
        print(count(argv[2]))
    elif len(argv) == 3 and argv[1] == "json":
        for rec in records(argv[2]):
            print(json.dumps(rec))
    elif len(argv) in (4, 5) and argv[1] == "send":
        send(*argv[2:])
    elif len(argv) == 4 and argv[1] == "receive":
        receive(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "garbage":
        garbage(argv[2], float(argv[3]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
