#!/usr/bin/env python3
"""Reads dnstap for the Unbound checks (ci/unbound-check); standard library only.

  unbound_tap.py json FILE          one JSON object per record, in the shape of
                                    `dnstap-kit read --format json` (Policy included)
  unbound_tap.py summary FILE       one line per record: TYPE PROTO QNAME QTYPE POLICY
                                    (PROTO with the http_protocol: DOH/HTTP2)
  unbound_tap.py expect FILE SPEC   the summary of FILE must equal the lines of SPEC
                                    as a multiset (order is not guaranteed), and a
                                    client response without response message (an
                                    rpz drop) must carry the query message of its
                                    client query
  unbound_tap.py meta FILE          the distinct identity/version pairs of FILE
  unbound_tap.py receive SOCK OUT   a unidirectional Frame Streams collector on the
                                    unix socket SOCK: one connection, copied to
                                    the file OUT; fails if the writer starts a
                                    bidirectional handshake (READY)
  unbound_tap.py same A B           `dnstap -j` outputs A (patched) and B (stock)
                                    hold the same messages, times (and TTLs),
                                    ports and DNS IDs aside, but for the
                                    deviations it explains and counts: the
                                    records of rpz drops (stock logs none) and
                                    the DOH label (stock 1.17.1 sets no
                                    socket_protocol for DNS over HTTPS)

FILE is a Frame Streams file, decoded here: neither Debian reader decodes the
Policy field (Message field 15), so this parses the protobuf wire format
itself (varints, length-delimited fields, fixed32 for the nanoseconds); or
the output of `dnstap-kit read --format json` (a file starting with "{"), so
that both decoders are checked against the same expectations.
"""

import collections
import ipaddress
import json
import re
import struct
import sys

MESSAGE_TYPES = {
    1: "AUTH_QUERY", 2: "AUTH_RESPONSE", 3: "RESOLVER_QUERY", 4: "RESOLVER_RESPONSE",
    5: "CLIENT_QUERY", 6: "CLIENT_RESPONSE", 7: "FORWARDER_QUERY", 8: "FORWARDER_RESPONSE",
    9: "STUB_QUERY", 10: "STUB_RESPONSE", 11: "TOOL_QUERY", 12: "TOOL_RESPONSE",
    13: "UPDATE_QUERY", 14: "UPDATE_RESPONSE",
}
SHORT = {"AUTH_QUERY": "AQ", "AUTH_RESPONSE": "AR", "RESOLVER_QUERY": "RQ",
         "RESOLVER_RESPONSE": "RR", "CLIENT_QUERY": "CQ", "CLIENT_RESPONSE": "CR",
         "FORWARDER_QUERY": "FQ", "FORWARDER_RESPONSE": "FR"}
FAMILIES = {1: "INET", 2: "INET6"}
PROTOCOLS = {1: "UDP", 2: "TCP", 3: "DOT", 4: "DOH", 5: "DNSCryptUDP", 6: "DNSCryptTCP", 7: "DOQ"}
HTTP_PROTOCOLS = {1: "HTTP1", 2: "HTTP2", 3: "HTTP3"}
ACTIONS = {1: "NXDOMAIN", 2: "NODATA", 3: "PASS", 4: "DROP", 5: "TRUNCATE", 6: "LOCAL_DATA"}
MATCHES = {1: "QNAME", 2: "CLIENT_IP", 3: "RESPONSE_IP", 4: "NS_NAME", 5: "NS_IP"}
QTYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
          33: "SRV", 43: "DS", 48: "DNSKEY", 64: "SVCB", 65: "HTTPS", 255: "ANY"}


def fail(msg):
    print(f"unbound_tap: {msg}", file=sys.stderr)
    sys.exit(1)


def frames(path):
    """Data frames of a Frame Streams file (control frames skipped)."""
    with open(path, "rb") as f:
        data = f.read()
    at, out = 0, []
    while at < len(data):
        if at + 4 > len(data):
            fail(f"{path}: truncated frame length at byte {at}")
        (n,) = struct.unpack_from(">I", data, at)
        at += 4
        if n == 0:  # control frame: length, then type and fields
            (n,) = struct.unpack_from(">I", data, at)
            at += 4 + n
            continue
        if at + n > len(data):
            fail(f"{path}: truncated data frame at byte {at}")
        out.append(data[at:at + n])
        at += n
    if at != len(data):
        fail(f"{path}: trailing bytes")
    return out


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


def from_kit(rec):
    """A record of `dnstap-kit read --format json` in the shape decode() gives."""
    m = rec.get("message")
    if m is None:
        return rec
    msg = {k: v for k, v in m.items()
           if k not in ("query_message", "response_message", "policy")}
    for key in ("query_message", "response_message"):
        if key in m:
            msg[key] = m[key].get("wire", "")
            if "qname" in m[key]:
                msg["qname"], msg["qtype"] = m[key]["qname"], m[key].get("qtype")
    if "policy" in m:
        msg["policy"] = {k: v for k, v in m["policy"].items() if not k.endswith("_wire")}
    out = dict(rec)
    out["message"] = msg
    return out


def records(path):
    with open(path, "rb") as f:
        first = f.read(1)
    if first == b"{":
        with open(path) as f:
            return [from_kit(json.loads(line)) for line in f if line.strip()]
    return [decode(f) for f in frames(path)]


def dropped(m):
    """A CLIENT_RESPONSE without response message: the record of an rpz drop."""
    return m["type"] == "CLIENT_RESPONSE" and "response_message" not in m


def summary(path):
    """TYPE PROTO QNAME QTYPE POLICY per record, " noresp" after the record
    of a drop; its question is that of its own (query) message."""
    lines = []
    for m in (r["message"] for r in records(path) if "message" in r):
        qname, qtype = m.get("qname"), m.get("qtype")
        proto = m.get("socket_protocol", "-")
        if "http_protocol" in m:
            proto += "/" + m["http_protocol"]
        extra = " noresp" if dropped(m) else ""
        p = m.get("policy")
        pol = "-"
        if p:
            pol = "{}:{}:{}:{}:{}".format(p.get("type"), p.get("action"), p.get("match"),
                                          p.get("rule"), p.get("value"))
        lines.append("{} {} {} {} {}{}".format(SHORT.get(m["type"], m["type"]), proto,
                                               qname or "-", qtype or "-", pol, extra))
    return lines


def drops_carry_queries(path):
    """The record of each drop carries, as received, the query message of the
    CLIENT_QUERY of the same client address, port and protocol."""
    recs = [r["message"] for r in records(path) if "message" in r]
    queries = collections.defaultdict(set)
    for m in recs:
        if m["type"] == "CLIENT_QUERY":
            key = (m.get("query_address"), m.get("query_port"), m.get("socket_protocol"))
            queries[key].add(m.get("query_message"))
    drops = [m for m in recs if dropped(m)]
    for m in drops:
        key = (m.get("query_address"), m.get("query_port"), m.get("socket_protocol"))
        if "query_message" not in m or m["query_message"] not in queries[key]:
            fail(f"{path}: the record of a drop to {key[0]} port {key[1]} does not carry "
                 "the query message of its client query")
    return len(drops)


def expect(path, spec):
    got = collections.Counter(summary(path))
    with open(spec) as f:
        want = collections.Counter(l.strip() for l in f if l.strip() and not l.startswith("#"))
    if got == want:
        drops = drops_carry_queries(path)
        carry = f"; the {drops} records of drops carry their query" if drops else ""
        print(f"unbound_tap: {path}: the {sum(got.values())} records are as expected{carry}")
        return
    for line in sorted((want - got).elements()):
        print(f"  missing: {line}")
    for line in sorted((got - want).elements()):
        print(f"  unexpected: {line}")
    fail(f"{path}: records differ from {spec}")


ID = re.compile(r"(id: )\d+")
# the TTL of a record line ("name<TAB>ttl<TAB>class..."): an answer from the
# cache counts down with the clock, so it is a time too
TTL = re.compile(r"^([^;\t\n][^\t\n]*\t)\d+(\t)", re.M)


def normalized(path):
    """`dnstap -j` records without times, ports and DNS IDs."""
    out = []
    with open(path) as f:
        for line in f:
            if not line.startswith("{"):
                continue
            rec = json.loads(line)
            m = rec.get("message", {})
            for key in ("query_time", "response_time", "query_port", "response_port"):
                m.pop(key, None)
            for key in ("query_message", "response_message"):
                if key in m:
                    m[key] = TTL.sub(r"\1TTL\2", ID.sub(r"\1ID", m[key]))
            out.append(json.dumps(rec, sort_keys=True))
    return collections.Counter(out)


def without_protocol(line):
    """A normalized record without its socket_protocol, and that protocol."""
    rec = json.loads(line)
    proto = rec.get("message", {}).pop("socket_protocol", None)
    return json.dumps(rec, sort_keys=True), proto


def same(a, b):
    """A is the patched server's output, B stock Unbound's on the same traffic."""
    na, nb = normalized(a), normalized(b)
    only_a, only_b = na - nb, nb - na
    deviations = collections.Counter()
    for line in list(only_a.elements()):
        m = json.loads(line).get("message", {})
        if dropped(m):
            only_a[line] -= 1
            deviations["the records of rpz drops, with the query and the Policy "
                       "(stock logs nothing for a drop)"] += 1
        elif m.get("socket_protocol") == "DOH":
            bare, _ = without_protocol(line)
            stock = next((s for s in only_b if only_b[s] > 0 and
                          without_protocol(s)[0] == bare), None)
            if stock is not None:
                only_a[line] -= 1
                only_b[stock] -= 1
                stock_proto = without_protocol(stock)[1]
                deviations["DNS over HTTPS labelled socket_protocol DOH (stock: {}; "
                           "http_protocol HTTP2 is not shown by dnstap -j)".format(
                               "none" if stock_proto in (None, "<nil>") else stock_proto)] += 1
    only_a, only_b = +only_a, +only_b
    for line in sorted(only_a.elements()):
        print(f"  only in {a}: {line}")
    for line in sorted(only_b.elements()):
        print(f"  only in {b}: {line}")
    if only_a or only_b:
        fail(f"{a} and {b} differ")
    print(f"unbound_tap: {a} has each of the {sum(nb.values())} messages of {b}, and "
          f"{sum(deviations.values())} explained deviations:")
    for what, n in sorted(deviations.items()):
        print(f"  {n} x {what}")


def receive(sock_path, out):
    """A unidirectional stream (START, data, STOP) is a Frame Streams file as is."""
    import os
    import socket
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    srv.bind(sock_path)
    srv.listen(1)
    srv.settimeout(60)
    conn, _ = srv.accept()
    conn.settimeout(60)
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    conn.close()
    srv.close()
    with open(out, "wb") as f:
        f.write(data)
    if len(data) < 12 or data[:4] != b"\0\0\0\0":
        fail(f"{sock_path}: the stream does not start with a control frame")
    (ctype,) = struct.unpack_from(">I", data, 8)
    if ctype != 2:
        fail(f"{sock_path}: the first control frame is type {ctype}, not START (2): "
             "a bidirectional handshake?")
    print(f"unbound_tap: {sock_path}: unidirectional stream, {len(data)} bytes")


def main(argv):
    if len(argv) == 3 and argv[1] == "json":
        for rec in records(argv[2]):
            print(json.dumps(rec))
    elif len(argv) == 3 and argv[1] == "summary":
        for line in sorted(summary(argv[2])):
            print(line)
    elif len(argv) == 3 and argv[1] == "meta":
        pairs = {(r.get("identity", "-"), r.get("version", "-")) for r in records(argv[2])}
        for identity, version in sorted(pairs):
            print(f"{identity}\t{version}")
    elif len(argv) == 4 and argv[1] == "expect":
        expect(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "receive":
        receive(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "same":
        same(argv[2], argv[3])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
