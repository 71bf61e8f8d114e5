#!/usr/bin/env python3
"""Checks the dnstap output of a ci/knot-check run (python3 standard library).

  knot_taps.py patched RUN VERSION PORT TRAFFIC START END [--update-types]
  knot_taps.py compare PATCHED_RUN STOCK_RUN [--update-types] [--bare-stock-updates]
  knot_taps.py count SINK BATCHES TRAFFIC FILE [--update-types]
      exits 0 when FILE (a running stream: no STOP yet) holds as many whole
      data frames as SINK logs for BATCHES of TRAFFIC, 1 otherwise

Records are decoded by the reference readers: golang-dnstap (`dnstap -j`) for
the fields, dnstap-ldns (`-q`) must decode the same number of records (it
prints "[unhandled Dnstap.Message.Type]" for UPDATE_*, which it predates).
The Frame Streams structure (START with the content type, whole frames,
STOP at the end, nothing after it) is parsed by fstrm.py.

`patched` asserts, for the run of tests/servers/knot/check.conf.in:
  - per sink file: the multiset of (type, qname, qtype, protocol, family) the
    traffic gives, each record's fields (identity, version, addresses, server
    port, times, which DNS messages it carries: responses carry their query
    only with responses-with-queries), the file structure;
  - file.running.tap (copied while knotd ran, after batch A): batch A, frames
    whole, no STOP yet;
  - knotd.log: one "closed, no loss" line per sink at shutdown (none at the
    reloads), accepted == written == the expected count, nothing lost;
  - stats.A / zone-stats.A (knotc stats after batch A): accepted per instance.
`compare` asserts that the stock run (stock knotd with Knot's own mod-dnstap,
same traffic, no reloads) logged the same records field for field, times,
ports and DNS message IDs aside. --update-types: the stock knotd logs DNS
UPDATE as AUTH_* (3.2), mapped to UPDATE_*. --bare-stock-updates: the stock
knotd logs UPDATE_* records without DNS messages and times (3.4.4 and later:
dt_message_fill() fills them for the AUTH, CLIENT, ... types only), so
UPDATE_* records are compared without them; each stock UPDATE_* record must
indeed have none.
"""
import collections
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timezone

import fstrm

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def frames(path, complete=True):
    """Checks a Frame Streams file: START with the content type, whole data
    frames, STOP at the end (complete) or not yet, nothing after it; returns
    the number of data frames."""
    buf = fstrm.mapped(path)
    stream = fstrm.walk(buf)
    kind, start, end = next(stream, (fstrm.CUT, 0, 0))
    if kind != fstrm.START:
        raise ValueError(f"{path}: no START frame")
    if buf[start:end] != fstrm.content_type_field():
        raise ValueError(f"{path}: START does not carry the content type {fstrm.CONTENT_TYPE!r}")
    count, stopped = 0, False
    for kind, start, end in stream:
        if stopped:
            raise ValueError(f"{path}: {len(buf) - start} bytes after STOP")
        if kind == fstrm.CUT:
            raise ValueError(f"{path}: partial frame at byte {start}")
        if kind is None:
            count += 1
        elif kind == fstrm.STOP:
            stopped = True
        else:
            raise ValueError(f"{path}: control frame {kind} at byte {start}")
    if complete and not stopped:
        raise ValueError(f"{path}: no STOP frame (stream not ended)")
    if not complete and stopped:
        raise ValueError(f"{path}: STOP frame in a stream that should still run")
    return count


def decode(path, complete=True):
    """The records of a dnstap file, as golang-dnstap's JSON objects."""
    try:
        count = frames(path, complete)
    except (OSError, ValueError) as err:
        fail(str(err))
        return []
    out = subprocess.run(["dnstap", "-r", path, "-j"], capture_output=True, text=True, check=True).stdout
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    ldns = subprocess.run(["dnstap-ldns", "-r", path, "-q"], capture_output=True, text=True).stdout
    ldns_lines = [line for line in ldns.splitlines() if line.strip()]
    if len(records) != count or len(ldns_lines) != count:
        fail(f"{path}: {count} data frames, golang-dnstap decoded {len(records)}, dnstap-ldns {len(ldns_lines)}")
    for line, rec in zip(ldns_lines, records):
        mtype = rec.get("message", {}).get("type", "")
        short = {"AUTH_QUERY": " AQ ", "AUTH_RESPONSE": " AR "}.get(mtype)
        if short and short not in line:
            fail(f"{path}: dnstap-ldns says '{line}' for a {mtype}")
        if mtype.startswith("UPDATE_") and "[unhandled Dnstap.Message.Type]" not in line:
            fail(f"{path}: dnstap-ldns says '{line}' for a {mtype}")
    return records


def question(text):
    """(opcode, id, qname, qtype) of a message as golang-dnstap prints it."""
    head = re.search(r"opcode: (\w+), status: \w+, id: (\d+)", text or "")
    q = re.search(r";; QUESTION SECTION:\n;(\S+)\s+IN\s+(\S+)", text or "")
    if not head or not q:
        return None
    return head.group(1), int(head.group(2)), q.group(1), q.group(2)


Entry = collections.namedtuple("Entry", "batch transport name qtype response")


def read_traffic(path):
    entries = []
    for line in open(path):
        fields = line.split("#", 1)[0].split()
        if fields:
            batch, transport, name, qtype, response = fields
            entries.append(Entry(batch, transport, name, qtype, response == "yes"))
    return entries


def in_zone(name, zone):
    name, zone = name.lower().rstrip("."), zone.lower().rstrip(".")
    return name == zone or name.endswith("." + zone)


# The instances of check.conf.in: which messages each logs.
SINKS = {
    "file": dict(queries=True, responses=True, with_queries=False, zone=None),
    "unix": dict(queries=True, responses=False, with_queries=False, zone=None),
    "tcp": dict(queries=False, responses=True, with_queries=True, zone=None),
    "zone": dict(queries=True, responses=True, with_queries=False, zone="knot.test"),
}


def expected(entries, batches, sink, update_types):
    spec = SINKS[sink]
    out = collections.Counter()
    for e in entries:
        if e.batch not in batches or (spec["zone"] and not in_zone(e.name, spec["zone"])):
            continue
        proto = "TCP" if e.transport.startswith("tcp") else "UDP"
        family = "INET6" if e.transport.endswith("6") else "INET"
        kind = "UPDATE" if e.transport == "update" and update_types else "AUTH"
        name = e.name + "."
        if spec["queries"]:
            out[(kind + "_QUERY", name, e.qtype, proto, family)] += 1
        if spec["responses"] and e.response:
            out[(kind + "_RESPONSE", name, e.qtype, proto, family)] += 1
    return out


def observed(records):
    out = collections.Counter()
    for r in records:
        m = r.get("message", {})
        text = m.get("query_message") if m.get("type", "").endswith("_QUERY") else m.get("response_message")
        q = question(text)
        out[(m.get("type"), q[2] if q else None, q[3] if q else None, m.get("socket_protocol"),
             m.get("socket_family"))] += 1
    return out


def compare_counts(what, want, got):
    if want != got:
        missing, extra = want - got, got - want
        fail(f"{what}: missing {sorted(missing.items())}, unexpected {sorted(extra.items())}")


def parse_time(stamp):
    """Seconds since the epoch of golang-dnstap's UTC RFC 3339 time."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z$", stamp)
    if not m:
        return float("nan")
    base = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return base.timestamp() + float(m.group(2) or 0)


def check_fields(path, sink, records, version, port, window):
    spec = SINKS[sink]
    ident, vers = {
        "file": ("knot-test", f"knot-{version}-test"),
        "unix": ("knot-test-unix", ""),
        "tcp": (None, f"Knot DNS {version}"),  # identity: the host name
        "zone": ("", f"Knot DNS {version}"),
    }[sink]
    for i, r in enumerate(records):
        where = f"{path} record {i + 1}"
        m = r.get("message", {})
        mtype = m.get("type", "")
        if r.get("type") != "MESSAGE":
            fail(f"{where}: type {r.get('type')}")
        if ident is None:
            if not r.get("identity"):
                fail(f"{where}: no identity (the host name is the default)")
        elif r.get("identity", "") != ident:
            fail(f"{where}: identity {r.get('identity')!r}, want {ident!r}")
        if r.get("version", "") != vers:
            fail(f"{where}: version {r.get('version')!r}, want {vers!r}")
        loopback = "::1" if m.get("socket_family") == "INET6" else "127.0.0.1"
        for key, want in (("query_address", loopback), ("response_address", loopback),
                          ("response_port", port)):
            if m.get(key) != want:
                fail(f"{where}: {key} {m.get(key)!r}, want {want!r}")
        if not m.get("query_port"):
            fail(f"{where}: no query_port")
        is_query = mtype.endswith("_QUERY")
        have = {k for k in ("query_time", "response_time", "query_message", "response_message") if k in m}
        want = {"query_time", "query_message"} if is_query else {"response_time", "response_message"}
        if not is_query and spec["with_queries"]:
            want.add("query_message")
        if have != want:
            fail(f"{where} ({mtype}): carries {sorted(have)}, want {sorted(want)}")
        stamp = m.get("query_time" if is_query else "response_time")
        if not stamp or not window[0] - 1 <= parse_time(stamp) <= window[1] + 1:
            fail(f"{where}: time {stamp} outside the run")
        if not is_query and "query_message" in m:
            q, a = question(m["query_message"]), question(m.get("response_message"))
            if not q or not a or q[1:] != a[1:]:
                fail(f"{where}: query {q} does not match response {a}")


def sinks_of(conf):
    text = open(conf).read()
    return dict(re.findall(r"- id: (\w+)\n\s+sink: (\S+)", text))


def check_patched(run, version, port, traffic, window, update_types):
    entries = read_traffic(traffic)
    files = {
        "file.running.tap": ("file", "A", False),
        "file.1.tap": ("file", "AB", True),
        "file.tap": ("file", "C", True),
        "zone.1.tap": ("zone", "AB", True),
        "zone.tap": ("zone", "C", True),
        "unix.tap": ("unix", "ABC", True),
        "tcp.tap": ("tcp", "ABC", True),
    }
    hosts = set()
    for name, (sink, batches, complete) in files.items():
        path = os.path.join(run, name)
        records = decode(path, complete)
        compare_counts(f"{name} ({sink}, batches {batches})", expected(entries, batches, sink, update_types),
                       observed(records))
        check_fields(path, sink, records, version, port, window)
        if sink == "tcp":
            hosts |= {r.get("identity") for r in records}
        print(f"{name}: {len(records)} records of sink '{sink}', batches {batches}")
    if len(hosts) > 1:
        fail(f"tcp.tap: several identities {hosts}")

    # Server log: the handles live across the reloads, close at shutdown, lose nothing.
    log = open(os.path.join(run, "knotd.log")).read()
    stop = log.find("stopping server")
    for sink, spec in sinks_of(os.path.join(run, "knot.conf")).items():
        n = sum(expected(entries, "ABC", sink, update_types).values())
        line = (f"sink '{spec}' closed, no loss: accepted {n}, written {n}, lost 0, dropped 0, failed 0")
        found = [m.start() for m in re.finditer(re.escape(line), log)]
        if len(found) != 1 or found[0] < stop:
            fail(f"knotd.log: want one '{line}' after 'stopping server', found {len(found)}")
    for bad in ("messages lost", "error:", "failed to"):
        for line in log.splitlines():
            if bad in line and "mod-dnstap" in line:
                fail(f"knotd.log: {line}")

    # knotc stats after batch A: the global instances in configuration order.
    stats = open(os.path.join(run, "stats.A")).read()
    got = [int(v) for v in re.findall(r"^mod-dnstap\.accepted = (\d+)$", stats, re.M)]
    want = [sum(expected(entries, "A", s, update_types).values()) for s in ("file", "unix", "tcp")]
    if got != want:
        fail(f"knotc stats: mod-dnstap.accepted {got}, want {want}")
    zstats = open(os.path.join(run, "zone-stats.A")).read()
    got = [int(v) for v in re.findall(r"mod-dnstap\.accepted = (\d+)$", zstats, re.M)]
    want = [sum(expected(entries, "A", "zone", update_types).values())]
    if got != want:
        fail(f"knotc zone-stats knot.test: mod-dnstap.accepted {got}, want {want}")
    for text in (stats, zstats):  # 3.4 prints no zero counters, 3.2 does
        for ctr, value in re.findall(r"mod-dnstap\.(dropped|failed|lost) = (\d+)$", text, re.M):
            if int(value) != 0:
                fail(f"knotc stats: mod-dnstap.{ctr} = {value}")
    print("knotd.log: each sink closed once, at shutdown, accepted == written, nothing lost")


def normalize(record, update_types, version_map, bare_updates=False):
    r = json.loads(json.dumps(record))
    m = r.get("message", {})
    for key in ("query_time", "response_time", "query_port", "response_port"):
        m.pop(key, None)
    if update_types and m.get("type", "").startswith("AUTH_"):
        q = question(m.get("query_message") or m.get("response_message"))
        if q and q[0] == "UPDATE":
            m["type"] = m["type"].replace("AUTH_", "UPDATE_")
    if bare_updates and m.get("type", "").startswith("UPDATE_"):
        m.pop("query_message", None)
        m.pop("response_message", None)
    for key in ("query_message", "response_message"):
        if key in m:
            m[key] = re.sub(r"id: \d+", "id: ID", m[key])
    if r.get("version") in version_map:
        r["version"] = version_map[r["version"]]
    return json.dumps(r, sort_keys=True)


def check_compare(patched, stock, update_types, bare_updates):
    version_map = {}
    pv, sv = (open(os.path.join(d, "version")).read().strip() for d in (patched, stock))
    if pv != sv:
        version_map[f"Knot DNS {sv}"] = f"Knot DNS {pv}"
    pairs = {
        "file": (["file.1.tap", "file.tap"], "file.tap"),
        "zone": (["zone.1.tap", "zone.tap"], "zone.tap"),
        "unix": (["unix.tap"], "unix.tap"),
        "tcp": (["tcp.tap"], "tcp.tap"),
    }
    for sink, (mine, theirs) in pairs.items():
        got = collections.Counter(normalize(r, False, {}, bare_updates)
                                  for f in mine for r in decode(os.path.join(patched, f)))
        stock_records = decode(os.path.join(stock, theirs))
        if bare_updates:
            for r in stock_records:
                m = r.get("message", {})
                carried = {k for k in ("query_message", "response_message", "query_time", "response_time") if k in m}
                if m.get("type", "").startswith("UPDATE_") and carried:
                    fail(f"{sink}: stock {sv} logs {sorted(carried)} in {m['type']}: drop --bare-stock-updates")
        want = collections.Counter(normalize(r, update_types, version_map, bare_updates) for r in stock_records)
        if got != want:
            for rec in list((want - got).elements())[:5]:
                fail(f"{sink}: stock {sv} has, patched {pv} not: {rec}")
            for rec in list((got - want).elements())[:5]:
                fail(f"{sink}: patched {pv} has, stock {sv} not: {rec}")
            fail(f"{sink}: patched {pv} and stock {sv} differ")
        else:
            updates = sum(n for rec, n in got.items() if '"type": "UPDATE_' in rec)
            print(f"{sink}: {sum(got.values())} records, identical to stock knotd {sv}"
                  + (f" (its default version mapped to {pv})" if version_map else "")
                  + (f" ({updates} UPDATE_* without DNS messages, as stock logs them)" if bare_updates else ""))


def main(argv):
    update_types = "--update-types" in argv
    bare_updates = "--bare-stock-updates" in argv
    args = [a for a in argv if a not in ("--update-types", "--bare-stock-updates")]
    if len(args) == 7 and args[0] == "patched":
        _, run, version, port, traffic, start, end = args
        check_patched(run, version, int(port), traffic, (float(start), float(end)), update_types)
    elif len(args) == 3 and args[0] == "compare":
        check_compare(args[1], args[2], update_types, bare_updates)
    elif len(args) == 5 and args[0] == "count":
        _, sink, batches, traffic, path = args
        want = sum(expected(read_traffic(traffic), batches, sink, update_types).values())
        try:
            return 0 if frames(path, complete=False) == want else 1
        except (OSError, ValueError):
            return 1
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if FAILURES:
        print(f"knot_taps.py: {len(FAILURES)} failures", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
