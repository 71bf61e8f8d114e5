#!/usr/bin/env python3
"""The independent side of ci/clickhouse-check; standard library only, but
for `chdb-server`, which needs the chdb package (a current ClickHouse engine).

  ch_tool.py expect JSONL           the query log rows a correct export makes of
                                    the records of `dnstap-kit read --format
                                    json` (JSONL), computed here from that JSON:
                                    one normalized line per row, sorted
  ch_tool.py rows                   the rows of the query on stdin (the SELECT of
                                    `ch_tool.py select`, FORMAT JSONEachRow), in
                                    the same normalized form, sorted
  ch_tool.py select TABLE VARIANT   that SELECT, for a table of the 18.16 or the
                                    current DDL
  ch_tool.py post URL                the DDL on stdin (`dnstap-kit schema
                                    clickhouse`), statement by statement, to the
                                    HTTP interface at URL
  ch_tool.py chdb-server PORT DIR   ClickHouse's HTTP interface on 127.0.0.1:PORT
                                    for what dnstap-kit sends, answered by chdb
                                    (the ClickHouse engine in a Python module)
                                    with its data in DIR: SQL in the body, or
                                    an INSERT … FORMAT RowBinary in the `query`
                                    parameter with the rows in the body, which
                                    the engine reads itself through file(…,
                                    RowBinary, <the table's columns>); URL
                                    settings are SET first

A normalized row: time (seconds.nanoseconds), identity, version, type,
family, protocol, both addresses (IPv6 text, IPv4 mapped) and ports, qname,
qtype, qclass, rcode, opcode, flags word, edns, do, udp size, both sizes,
query_zone, policy (type, rule, action, match, value), http_protocol and
both messages in hex; tab-separated.
"""

import base64
import ipaddress
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from fstrm import QTYPES  # noqa: E402  (the mnemonics: shared)

TYPE_NUMBERS = {name: number for number, name in QTYPES.items()}
RCODES = {"NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3, "NOTIMP": 4, "REFUSED": 5}
OPCODES = {"QUERY": 0, "NOTIFY": 4, "UPDATE": 5}
FLAG_BITS = {"qr": 0x8000, "aa": 0x0400, "tc": 0x0200, "rd": 0x0100, "ra": 0x0080,
             "z": 0x0040, "ad": 0x0020, "cd": 0x0010}
CLASSES = {"IN": 1, "CH": 3}


def fail(msg):
    print(f"ch_tool: {msg}", file=sys.stderr)
    sys.exit(1)


def number(names, text):
    if isinstance(text, int):
        return text
    if text in names:
        return names[text]
    if text.startswith(("TYPE", "CLASS")):
        return int(text.lstrip("TYPECLAS"))
    fail(f"no number for {text!r}")


def mapped(text):
    """An address as the export stores it: IPv6, IPv4 mapped; '::' if absent."""
    if not text:
        return "::"
    address = ipaddress.ip_address(text)
    if address.version == 4:
        address = ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + address.packed)
    return str(address)


def from_hex(text):
    return str(ipaddress.IPv6Address(bytes.fromhex(text)))


def rfc3339(text):
    """'2026-11-22T00:00:00.123456789Z' -> (seconds, nanoseconds)."""
    import calendar
    import time
    whole, frac = text.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")), int(frac)


def expected_row(record):
    m = record["message"]
    query = m["type"].endswith("_QUERY")
    times = [m.get("query_time"), m.get("response_time")]
    if not query:
        times.reverse()
    stamp = next((t for t in times if t), None)
    seconds, nanos = rfc3339(stamp) if stamp else (0, 0)
    first, second = ("query_message", "response_message") if query else ("response_message", "query_message")
    dns = m.get(first) or m.get(second) or {}
    if "error" in dns:
        fail(f"a message that does not parse: {dns}")
    edns = dns.get("edns")
    flags = sum(FLAG_BITS[f] for f in dns.get("flags", []))
    opcode = number(OPCODES, dns.get("opcode", 0))
    rcode = number(RCODES, dns.get("rcode", 0))
    if dns:
        flags |= opcode << 11 | rcode & 0xF
    policy = m.get("policy", {})
    wire = {k: base64.b64decode(m[k]["wire"]) if k in m else b"" for k in ("query_message", "response_message")}
    return [
        f"{seconds}.{nanos:09d}", record.get("identity", ""), record.get("version", ""), m["type"],
        m.get("socket_family", ""), m.get("socket_protocol", ""),
        mapped(m.get("query_address")), m.get("query_port", 0),
        mapped(m.get("response_address")), m.get("response_port", 0),
        dns.get("qname", "").lower(), number(TYPE_NUMBERS, dns.get("qtype", 0)),
        number(CLASSES, dns.get("qclass", 0)), rcode, opcode, flags,
        int(edns is not None), int(bool(edns and edns["do"])), edns["udp_size"] if edns else 0,
        len(wire["query_message"]), len(wire["response_message"]), m.get("query_zone", ""),
        policy.get("type", ""), policy.get("rule", ""), policy.get("action", ""),
        policy.get("match", ""), policy.get("value", ""), m.get("http_protocol", ""),
        wire["query_message"].hex().upper(), wire["response_message"].hex().upper(),
    ]


def actual_row(row):
    return [
        f"{row['sec']}.{row['ns']:09d}", row["identity"], row["version"], row["message_type"],
        row["socket_family"], row["socket_protocol"], from_hex(row["query_address"]), row["query_port"],
        from_hex(row["response_address"]), row["response_port"], row["qname"], row["qtype"],
        row["qclass"], row["rcode"], row["opcode"], row["flags"], row["edns"], row["edns_do"],
        row["edns_udp_size"], row["query_size"], row["response_size"], row["query_zone"],
        row["policy_type"], row["policy_rule"], row["policy_action"], row["policy_match"],
        row["policy_value"], row["http_protocol"], row["query_message"], row["response_message"],
    ]


def print_rows(rows):
    for line in sorted("\t".join(str(v) for v in row) for row in rows):
        print(line)


def select(table, variant):
    if variant == "18.16":
        sec, ns = "toUInt32(time)", "time_ns"
    else:
        sec, ns = "toUnixTimestamp(time)", "toUInt32(toUnixTimestamp64Nano(time) % 1000000000)"
    address = "hex({})"  # FixedString(16) and IPv6 alike: the 16 bytes
    columns = [f"{sec} AS sec", f"{ns} AS ns"]
    for name in ("identity", "version", "message_type", "socket_family", "socket_protocol"):
        columns.append(name)
    columns += [address.format("query_address") + " AS query_address", "query_port",
                address.format("response_address") + " AS response_address", "response_port"]
    columns += ["qname", "qtype", "qclass", "rcode", "opcode", "flags", "edns", "edns_do", "edns_udp_size",
                "query_size", "response_size", "query_zone", "policy_type", "policy_rule", "policy_action",
                "policy_match", "policy_value", "http_protocol", "hex(query_message) AS query_message",
                "hex(response_message) AS response_message"]
    return f"SELECT {', '.join(columns)} FROM {table} FORMAT JSONEachRow"


def post(url, text):
    import urllib.error
    import urllib.request
    for statement in text.split(";\n"):
        statement = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
        if not statement:
            continue
        try:
            urllib.request.urlopen(url, statement.encode(), timeout=60).read()
        except urllib.error.HTTPError as err:
            fail(f"{statement.splitlines()[0]} …: {err.read().decode(errors='replace')}")


def chdb_server(port, directory):
    import http.server
    import re
    import urllib.parse

    from chdb import session

    engine = session.Session(directory)

    def run(sql, settings):
        """SQL as the HTTP interface runs it: FORMAT at its end, else TabSeparated."""
        format_at = re.search(r"\s*FORMAT\s+(\w+)\s*$", sql)
        output = format_at.group(1) if format_at else "TabSeparated"
        if format_at:
            sql = sql[:format_at.start()]
        for name, value in settings.items():
            engine.query(f"SET {name} = {value}")
        return engine.query(sql, output).bytes()

    def insert(query, rows):
        match = re.fullmatch(r"INSERT INTO `([^`]+)`\.`([^`]+)` \((.*)\) FORMAT RowBinary", query.strip())
        if not match:
            raise ValueError(f"not an insert dnstap-kit makes: {query}")
        database, table, names = match.groups()
        names = [n.strip().strip("`") for n in names.split(",")]
        types = dict(line.split("\t") for line in engine.query(
            f"SELECT name, type FROM system.columns WHERE database = '{database}' AND table = '{table}'",
            "TabSeparatedRaw").bytes().decode().splitlines())
        # Aggregate states are not what dnstap-kit inserts: plain types only.
        structure = ", ".join(f"{n} {types[n]}" for n in names).replace("'", "\\'")
        path = os.path.join(directory, "insert.bin")
        with open(path, "wb") as out:
            out.write(rows)
        engine.query(f"INSERT INTO `{database}`.`{table}` ({', '.join(names)}) "
                     f"SELECT * FROM file('{path}', RowBinary, '{structure}')")
        return b""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            settings = {k: v for k, v in params.items() if k not in ("query", "query_id")}
            try:
                if "query" in params:
                    answer = insert(params["query"], body)
                else:
                    answer = run(body.decode(), settings)
                status = 200
            except Exception as err:  # the engine's exception, as ClickHouse answers it
                answer, status = f"Code: 0. DB::Exception: {err}".encode(), 500
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main(argv):
    if len(argv) == 3 and argv[1] == "expect":
        with open(argv[2]) as f:
            records = [json.loads(line) for line in f if line.strip()]
        print_rows(expected_row(r) for r in records if "message" in r)
    elif len(argv) == 2 and argv[1] == "rows":
        print_rows(actual_row(json.loads(line)) for line in sys.stdin if line.strip())
    elif len(argv) == 4 and argv[1] == "select":
        print(select(argv[2], argv[3]))
    elif len(argv) == 3 and argv[1] == "post":
        post(argv[2], sys.stdin.read())
    elif len(argv) == 4 and argv[1] == "chdb-server":
        chdb_server(int(argv[2]), argv[3])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv)
