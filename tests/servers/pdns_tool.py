#!/usr/bin/env python3
"""The independent side of ci/pdns-check and ci/bench-pdns; standard library only.

  pdns_tool.py hostile PORT NS          a poisoning authoritative server for
                                        evil.test on 127.0.0.1:PORT (UDP), its
                                        NS RRset pointing at NS; see `answer`
  pdns_tool.py expect FILE              the passive DNS a correct sensor stores
                                        from the Frame Streams FILE, as rows
                                        (below), computed here from the bytes:
                                        its own protobuf and DNS parsing, its own
                                        bailiwick rule; the counts of RRsets it
                                        set aside go to stderr
  pdns_tool.py sqlite DB                the rows of a dnstap-kit SQLite store,
                                        read with Python's sqlite3
  pdns_tool.py generate N NAMES OUT     N synthetic RESOLVER_RESPONSE records
                                        (below) into the Frame Streams file OUT
  pdns_tool.py prefix N NAMES BATCH [--plus-full]
                                        rows on stdin (a store killed while
                                        ingesting `generate N NAMES`) must be
                                        exactly the first M records' for an M
                                        that is a multiple of BATCH (whole
                                        batches), plus all N records' with
                                        --plus-full (ingested again); prints M

Rows, one per key, sorted: rrname, rrtype (number), bailiwick, rdata (a
compact JSON array), time_first, time_last, count, sensor_id; tab-separated.
"""

import ipaddress
import json
import socket
import sqlite3
import struct
import sys

from fstrm import CONTENT_TYPE, START, STOP, control_frame, fields, name, payloads

A, NS, CNAME, SOA, MX, TXT, AAAA, DNAME, OPT = 1, 2, 5, 6, 15, 16, 28, 39, 41
RESOLVER_RESPONSE, FORWARDER_RESPONSE = 4, 8


def fail(msg):
    print(f"pdns_tool: {msg}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------------------
# DNS wire format: names as tuples of lowercase labels.

def read_name(wire, at):
    """(labels as given, offset after the name), following compression (the
    test zones' labels hold no dots)."""
    text_name, end = name(wire, at)
    return labels(text_name), end


def lower(labels):
    return tuple(label.lower() for label in labels)


def text(labels):
    return "".join(label.decode("ascii") + "." for label in labels) or "."


def name_wire(labels):
    return b"".join(bytes([len(l)]) + l for l in labels) + b"\0"


def below(name, zone):
    """name is zone or below it."""
    return len(name) >= len(zone) and name[len(name) - len(zone):] == zone


def rdata(wire, at, rdlen, rtype):
    """(canonical wire, presentation text, target name or None) of one RDATA."""
    end = at + rdlen
    if rtype == A:
        return wire[at:end], str(ipaddress.IPv4Address(wire[at:end])), None
    if rtype == AAAA:
        return wire[at:end], str(ipaddress.IPv6Address(wire[at:end])), None
    if rtype in (NS, CNAME, DNAME):
        target = lower(read_name(wire, at)[0])
        return name_wire(target), text(target), target
    if rtype == MX:
        target = lower(read_name(wire, at + 2)[0])
        pref = wire[at:at + 2]
        return pref + name_wire(target), f"{struct.unpack('>H', pref)[0]} {text(target)}", None
    if rtype == SOA:
        mname, after = read_name(wire, at)
        rname, after = read_name(wire, after)
        mname, rname = lower(mname), lower(rname)
        numbers = wire[after:after + 20]
        return (name_wire(mname) + name_wire(rname) + numbers,
                " ".join([text(mname), text(rname)] + [str(n) for n in struct.unpack(">5I", numbers)]),
                None)
    if rtype == TXT:
        strings, at2 = [], at
        while at2 < end:
            n = wire[at2]
            strings.append(wire[at2 + 1:at2 + 1 + n])
            at2 += 1 + n
        return wire[at:end], " ".join('"' + s.decode("ascii") + '"' for s in strings), None
    fail(f"type {rtype} is not one the test zones serve")


def parse(wire):
    """Header fields and the records [(section, owner, type, class, rdata)],
    OPT left out; None if the message is not one the sensor may use."""
    ident, flags, qd, an, ns, ar = struct.unpack_from(">6H", wire, 0)
    if not flags & 0x8000 or qd != 1 or flags & 0x0200 or (flags >> 11) & 0xF != 0 \
            or flags & 0xF not in (0, 3):
        return None
    qname, at = read_name(wire, 12)
    at += 4
    records = []
    for section, count in ((1, an), (2, ns), (3, ar)):
        for _ in range(count):
            owner, at = read_name(wire, at)
            rtype, rclass, _ttl, rdlen = struct.unpack_from(">HHIH", wire, at)
            at += 10
            if rtype != OPT:
                records.append((section, lower(owner), rtype, rclass, rdata(wire, at, rdlen, rtype)))
            at += rdlen
    if at != len(wire):
        return None
    return lower(qname), records


def bailiwick_rule(qname, zone, records):
    """The RRsets kept [(owner, type, [(wire, text)])] and the numbers set
    aside: (out of bailiwick, off the answer's chain)."""
    sets = {}
    for section, owner, rtype, rclass, data in records:
        if rclass != 1:
            fail("the test zones are class IN")
        sets.setdefault((section, owner, rtype), {})[data[0]] = data
    inside = {k: v for k, v in sets.items() if below(k[1], zone)}
    out = len(sets) - len(inside)
    chain, grew = {qname}, True
    while grew:
        grew = False
        for (section, owner, rtype), rrs in inside.items():
            if section != 1:
                continue
            target = next(iter(rrs.values()))[2]
            for name in list(chain):
                step = None
                if rtype == CNAME and owner == name:
                    step = target
                elif rtype == DNAME and name != owner and below(name, owner):
                    step = name[:len(name) - len(owner)] + target
                if step is not None and step not in chain and len(name_wire(step)) <= 255:
                    chain.add(step)
                    grew = True

    def on_chain(owner, rtype):
        return any(owner == n or (rtype == DNAME and n != owner and below(n, owner)) for n in chain)

    kept, off = [], 0
    for (section, owner, rtype), rrs in inside.items():
        if section == 1 and not on_chain(owner, rtype):
            off += 1
        else:
            kept.append((owner, rtype, [rrs[w] for w in sorted(rrs)]))
    return kept, out, off


def expect(path):
    rows, out, off = {}, 0, 0
    for payload in payloads(path):
        d = fields(payload)
        if d.get(15, [0])[0] != 1 or 14 not in d:
            continue
        m = fields(d[14][0])
        if m[1][0] != RESOLVER_RESPONSE or 14 not in m or 11 not in m:
            continue
        parsed = parse(m[14][0])
        if parsed is None:
            continue
        qname, records = parsed
        zone = lower(read_name(m[11][0], 0)[0])
        when = (m.get(12) or m[8])[0]
        sensor = d[1][0].decode() if 1 in d else ""
        kept, o, f = bailiwick_rule(qname, zone, records)
        out, off = out + o, off + f
        keys = {(text(owner), rtype, text(zone), tuple(t for _w, t, _n in rrs)) for owner, rtype, rrs in kept}
        for key in keys:
            first, last, count, first_sensor = rows.get(key, (when, when, 0, sensor))
            if (when, sensor) < (first, first_sensor):
                first_sensor = sensor
            rows[key] = (min(first, when), max(last, when), count + 1, first_sensor)
    print_rows([(k[0], k[1], k[2], list(k[3])) + v for k, v in rows.items()])
    print(f"rrsets_out_of_bailiwick={out} rrsets_off_chain={off}", file=sys.stderr)


def print_rows(rows):
    """(rrname, rrtype, bailiwick, [rdata], first, last, count, sensor) as
    lines, sorted as the checks sort PostgreSQL's."""
    lines = [[rrname, rrtype, bailiwick, json.dumps(rdata_list, separators=(",", ":"), ensure_ascii=False),
              str(first), str(last), str(count), sensor]
             for rrname, rrtype, bailiwick, rdata_list, first, last, count, sensor in rows]
    for line in sorted(lines, key=lambda l: (l[0], l[1], l[2], l[3])):
        print("\t".join([line[0], str(line[1])] + line[2:]))


def dump_sqlite(path):
    # Read-write: after a kill -9 the first reader recovers the WAL.
    db = sqlite3.connect(path)
    rows = db.execute("SELECT rrname, rrtype, bailiwick, rdata, time_first, time_last, count, sensor_id "
                      "FROM pdns").fetchall()
    print_rows([r[:3] + (json.loads(r[3]),) + r[4:] for r in rows])


# ---------------------------------------------------------------------------
# The poisoning server.

def rr(owner, rtype, data, ttl=300):
    return name_wire(owner) + struct.pack(">HHIH", rtype, 1, ttl, len(data)) + data


def labels(text_name):
    return tuple(l.encode() for l in text_name.rstrip(".").split(".") if l)


def answer(query, ns_target):
    """evil.test's answer: honest records, and what a poisoner adds to them:
    an answer for another name than the QNAME (mail.evil.test), an NS
    RRset above the zone (test.), a foreign A in additional (www.example.test)."""
    ident, flags = struct.unpack_from(">HH", query, 0)
    qname, at = read_name(query, 12)
    qtype = struct.unpack_from(">H", query, at)[0]
    question = query[12:at + 4]
    zone, name = labels("evil.test"), lower(qname)
    ns = rr(zone, NS, name_wire(labels(ns_target)))
    glue = rr(labels(ns_target), A, bytes([127, 0, 0, 1]))
    foreign = rr(labels("www.example.test"), A, bytes([6, 6, 6, 6]))
    above = rr(labels("test"), NS, name_wire(labels("ns.attacker.test")))
    soa = rr(zone, SOA, name_wire(labels(ns_target)) + name_wire(labels("hostmaster.evil.test"))
             + struct.pack(">5I", 1, 3600, 900, 604800, 300))
    rcode, an, au, ad = 0, [], [ns, above], [glue, foreign]
    if name == zone and qtype == NS:
        an, au = [ns], [above]
    elif name == labels("www.evil.test") and qtype == A:
        an = [rr(name, A, bytes([192, 0, 2, 66])), rr(labels("mail.evil.test"), A, bytes([6, 6, 6, 7]))]
    elif name == zone and qtype == SOA:
        an = [soa]
    elif name == labels(ns_target) and qtype == A:
        an, ad = [glue], [foreign]
    else:
        rcode = 3 if name != zone and name != labels(ns_target) else 0
        au, ad = [soa, above], [foreign]
    if struct.unpack_from(">H", query, 10)[0]:  # the query had EDNS: answer with it
        ad = ad + [b"\0" + struct.pack(">HHIH", OPT, 1232, 0, 0)]
    header = struct.pack(">6H", ident, 0x8400 | (flags & 0x0100) | rcode, 1, len(an), len(au), len(ad))
    return header + question + b"".join(an + au + ad)


def hostile(port, ns_target):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    while True:
        query, peer = sock.recvfrom(4096)
        try:
            sock.sendto(answer(query, ns_target), peer)
        except (IndexError, struct.error):
            continue


# ---------------------------------------------------------------------------
# Synthetic streams, whose passive DNS is known by construction.

T0 = 1_700_000_000


def pb_key(field, wire):
    return bytes([(field << 3) | wire])


def pb_varint(value):
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        out.append(b | (0x80 if value else 0))
        if not value:
            return bytes(out)


def pb_bytes(field, data):
    return pb_key(field, 2) + pb_varint(len(data)) + data


def synthetic(i, names):
    """Record i: host h<j>.gen.test (j = i mod NAMES) answered from gen.test at
    T0 + i: its A (192.0.2.x, x from j) and gen.test's NS; and a foreign A
    that the bailiwick rule must set aside."""
    j = i % names
    qname = labels(f"h{j}.gen.test")
    zone = labels("gen.test")
    question = name_wire(qname) + struct.pack(">HH", A, 1)
    records = [rr(qname, A, bytes([192, 0, 2 + j // 250 % 200, j % 250])),
               rr(zone, NS, name_wire(labels("ns.gen.test"))),
               rr(labels("www.example.test"), A, bytes([6, 6, 6, 6]))]
    wire = struct.pack(">6H", i & 0xFFFF, 0x8400, 1, 1, 1, 1) + question + b"".join(records)
    message = (pb_key(1, 0) + pb_varint(RESOLVER_RESPONSE) + pb_bytes(11, name_wire(zone))
               + pb_key(12, 0) + pb_varint(T0 + i) + pb_bytes(14, wire))
    return pb_bytes(1, b"gen") + pb_bytes(14, message) + pb_key(15, 0) + pb_varint(1)


def generate(n, names, out):
    with open(out, "wb") as f:
        f.write(control_frame(START, CONTENT_TYPE))
        for i in range(n):
            payload = synthetic(i, names)
            f.write(struct.pack(">I", len(payload)) + payload)
        f.write(control_frame(STOP))


def synthetic_rows(m, names):
    """The rows of the first m records of `generate`."""
    rows = {}
    if m:
        rows[("gen.test.", NS, '["ns.gen.test."]')] = (T0, T0 + m - 1, m)
    for j in range(min(m, names)):
        count = (m - 1 - j) // names + 1
        address = f"192.0.2.{j % 250}" if j // 250 % 200 == 0 else f"192.0.{2 + j // 250 % 200}.{j % 250}"
        rows[(f"h{j}.gen.test.", A, json.dumps([address]))] = (T0 + j, T0 + j + (count - 1) * names, count)
    return rows


def prefix(n, names, batch, plus_full):
    found = {}
    for line in sys.stdin:
        rrname, rrtype, bailiwick, rdata_json, first, last, count, sensor = line.rstrip("\n").split("\t")
        if bailiwick != "gen.test." or sensor != "gen":
            fail(f"unexpected row: {line.strip()}")
        found[(rrname, int(rrtype), json.dumps(json.loads(rdata_json)))] = (int(first), int(last), int(count))
    ns = found.get(("gen.test.", NS, '["ns.gen.test."]'), (0, 0, 0))[2]
    m = ns - n if plus_full else ns
    if m % batch or not 0 <= m <= n:
        fail(f"the store holds {m} records' worth: not whole batches of {batch}")
    want = synthetic_rows(m, names)
    if plus_full:
        for key, (first, last, count) in synthetic_rows(n, names).items():
            f0, l0, c0 = want.get(key, (first, last, 0))
            want[key] = (min(first, f0), max(last, l0), count + c0)
    if found != want:
        wrong = sorted(k for k in set(found) | set(want) if found.get(k) != want.get(k))[:3]
        fail(f"not the first {m} records' rows: {[(k, found.get(k), want.get(k)) for k in wrong]}")
    print(m)


def main(argv):
    if len(argv) == 4 and argv[1] == "hostile":
        hostile(int(argv[2]), argv[3])
    elif len(argv) == 3 and argv[1] == "expect":
        expect(argv[2])
    elif len(argv) == 3 and argv[1] == "sqlite":
        dump_sqlite(argv[2])
    elif len(argv) == 5 and argv[1] == "generate":
        generate(int(argv[2]), int(argv[3]), argv[4])
    elif len(argv) in (5, 6) and argv[1] == "prefix":
        prefix(int(argv[2]), int(argv[3]), int(argv[4]), argv[5:] == ["--plus-full"])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv)
