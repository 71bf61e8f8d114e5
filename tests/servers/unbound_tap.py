#!/usr/bin/env python3
"""Checks the dnstap of the Unbound runs (ci/unbound-check); standard library only.

  unbound_tap.py summary FILE       one line per record: TYPE PROTO QNAME QTYPE POLICY
                                    (PROTO with the http_protocol: DOH/HTTP2)
  unbound_tap.py expect FILE SPEC   the summary of FILE must equal the lines of SPEC
                                    as a multiset (order is not guaranteed), and a
                                    client response without response message (an
                                    rpz drop) must carry the query message of its
                                    client query
  unbound_tap.py meta FILE          the distinct identity/version pairs of FILE
  unbound_tap.py same A B           `dnstap -j` outputs A (patched) and B (stock)
                                    hold the same messages, times (and TTLs),
                                    ports and DNS IDs aside, but for the
                                    deviations it explains and counts: the
                                    records of rpz drops (stock logs none) and
                                    the DOH label (stock 1.17.1 sets no
                                    socket_protocol for DNS over HTTPS)

FILE is a Frame Streams file, decoded by fstrm.py (neither Debian reader
decodes the Policy field, Message field 15), or the output of `dnstap-kit
read --format json` (a file starting with "{"), so that both decoders are
checked against the same expectations.
"""

import collections
import json
import re
import sys

import fstrm

SHORT = {"AUTH_QUERY": "AQ", "AUTH_RESPONSE": "AR", "RESOLVER_QUERY": "RQ",
         "RESOLVER_RESPONSE": "RR", "CLIENT_QUERY": "CQ", "CLIENT_RESPONSE": "CR",
         "FORWARDER_QUERY": "FQ", "FORWARDER_RESPONSE": "FR"}


def fail(msg):
    print(f"unbound_tap: {msg}", file=sys.stderr)
    sys.exit(1)


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
    return fstrm.records(path)


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


def main(argv):
    if len(argv) == 3 and argv[1] == "summary":
        for line in sorted(summary(argv[2])):
            print(line)
    elif len(argv) == 3 and argv[1] == "meta":
        pairs = {(r.get("identity", "-"), r.get("version", "-")) for r in records(argv[2])}
        for identity, version in sorted(pairs):
            print(f"{identity}\t{version}")
    elif len(argv) == 4 and argv[1] == "expect":
        expect(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "same":
        same(argv[2], argv[3])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
