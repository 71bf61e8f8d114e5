//! `dnstap-kit pdns` end to end on crafted streams, with the real SQLite:
//! what a poisoner adds stays out and is counted, honest RRsets are stored
//! in canonical form, queries and events say what they should, and merging
//! does not depend on batching, order or restarts. (PostgreSQL, and a real
//! Unbound in front, are ci/pdns-check's.)

mod cli_support;

use std::path::Path;

use cli_support::*;
use dnstap::proto;
use dnstap::proto::message::Type as MessageType;
use dnstap_testkit::wire::Builder;
use serde_json::{Value, json};

const ZONE: &str = "example.test";

/// A response record: `zone` asked for `qname`, answered with `wire` at
/// `time`, as logged by the sensor "s1".
fn response(message_type: MessageType, zone: &str, time: u64, wire: Vec<u8>) -> Vec<u8> {
    encode(&proto::Dnstap {
        identity: Some(b"s1".to_vec()),
        r#type: proto::dnstap::Type::Message as i32,
        message: Some(proto::Message {
            r#type: message_type as i32,
            response_time_sec: Some(time),
            query_zone: Some(wire_name(zone)),
            response_message: Some(wire),
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn question(counts: [u16; 4], flags: u16, qname: &str, qtype: u16) -> Builder {
    Builder::new(7, flags, counts).name(qname).u16(qtype).u16(1)
}

/// www.example.test A from example.test's server: a CNAME to web (whose two
/// A records come unordered and in mixed case), NS and glue; and what a
/// poisoner adds: an A for a name of another zone, an NS above the zone,
/// an answer for a name that is not on the query's chain.
fn poisoned_answer(flags: u16) -> Vec<u8> {
    question([1, 4, 2, 2], flags, "www.example.test", 1)
        .name("WWW.example.test")
        .rr(5, 1, 300, &wire_name("Web.Example.Test"))
        .name("web.example.test")
        .rr(1, 1, 300, &[192, 0, 2, 2])
        .name("web.EXAMPLE.test")
        .rr(1, 1, 60, &[192, 0, 2, 1])
        .name("mail.example.test")
        .rr(1, 1, 300, &[6, 6, 6, 7])
        .name("example.test")
        .rr(2, 1, 300, &wire_name("ns1.example.test"))
        .name("test")
        .rr(2, 1, 300, &wire_name("ns.attacker.test"))
        .name("ns1.example.test")
        .rr(1, 1, 300, &[192, 0, 2, 53])
        .name("www.bank.test")
        .rr(1, 1, 300, &[6, 6, 6, 6])
        .0
}

fn ns_answer(target: &str) -> Vec<u8> {
    question([1, 1, 0, 0], 0x8400, ZONE, 2)
        .name(ZONE)
        .rr(2, 1, 300, &wire_name(target))
        .0
}

/// The crafted stream: two poisoned answers, an NS change, and records the
/// sensor must not use.
fn stream() -> Vec<Vec<u8>> {
    vec![
        response(
            MessageType::ResolverResponse,
            ZONE,
            1000,
            poisoned_answer(0x8400),
        ),
        response(
            MessageType::ResolverResponse,
            ZONE,
            1010,
            poisoned_answer(0x8400),
        ),
        response(
            MessageType::ResolverResponse,
            ZONE,
            1020,
            ns_answer("ns2.example.test"),
        ),
        response(
            MessageType::ClientResponse,
            ZONE,
            1030,
            poisoned_answer(0x8400),
        ),
        response(
            MessageType::ForwarderResponse,
            ".",
            1040,
            poisoned_answer(0x8400),
        ),
        response(
            MessageType::ResolverResponse,
            ZONE,
            1050,
            poisoned_answer(0x8600),
        ),
    ]
}

fn write_stream(path: &Path, payloads: &[Vec<u8>]) {
    std::fs::write(path, dnstap_stream(payloads)).unwrap();
}

fn ingest(db: &Path, files: &[&Path], extra: &[&str]) -> Run {
    let mut args = vec!["pdns", "ingest", "--db", path_str(db)];
    args.extend(files.iter().map(|f| path_str(f)));
    args.extend_from_slice(extra);
    let run = kit(&args, None);
    assert_eq!(run.code, 0, "ingest: {}", run.stderr);
    run
}

fn query(db: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["pdns", "query", "--db", path_str(db)];
    all.extend_from_slice(args);
    let run = kit(&all, None);
    assert_eq!(run.code, 0, "query {args:?}: {}", run.stderr);
    run.stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// `name=value` of the counters line.
fn counter(run: &Run, name: &str) -> u64 {
    let line = run.stderr.lines().last().unwrap_or_default();
    line.split_whitespace()
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        .parse()
        .unwrap()
}

#[test]
fn poisoned_records_stay_out_and_are_counted() {
    let dir = temp_dir("pdns-poison");
    let file = dir.join("in.fs");
    write_stream(&file, &stream());
    let db = dir.join("pdns.sqlite");
    let events = dir.join("events.ndjson");
    let run = ingest(&db, &[&file], &["--events", path_str(&events)]);
    for (name, value) in [
        ("messages", 6),
        ("used", 3),
        ("not_resolver_response", 1),
        ("forwarder_response", 1),
        ("truncated", 1),
        // Two poisoned answers: the foreign A and the NS above the zone
        // each, and the answer off the chain each.
        ("rrsets_out_of_bailiwick", 4),
        ("rrsets_off_chain", 2),
        // CNAME, A, NS, glue twice; the new NS once.
        ("rrsets", 9),
        ("new_keys", 5),
    ] {
        assert_eq!(counter(&run, name), value, "{name}: {}", run.stderr);
    }

    let everything = query(&db, &["--rrname", "*.test."]);
    let expected = [
        (
            "example.test.",
            "NS",
            vec!["ns1.example.test."],
            1000,
            1010,
            2,
        ),
        (
            "example.test.",
            "NS",
            vec!["ns2.example.test."],
            1020,
            1020,
            1,
        ),
        ("ns1.example.test.", "A", vec!["192.0.2.53"], 1000, 1010, 2),
        (
            "web.example.test.",
            "A",
            vec!["192.0.2.1", "192.0.2.2"],
            1000,
            1010,
            2,
        ),
        (
            "www.example.test.",
            "CNAME",
            vec!["web.example.test."],
            1000,
            1010,
            2,
        ),
    ];
    let expected: Vec<Value> = expected
        .into_iter()
        .map(|(rrname, rrtype, rdata, first, last, count)| {
            json!({"rrname": rrname, "rrtype": rrtype, "rdata": rdata, "time_first": first,
                   "time_last": last, "count": count, "bailiwick": "example.test.", "sensor_id": "s1"})
        })
        .collect();
    assert_eq!(everything, expected);
    assert!(query(&db, &["--rdata", "6.6.6.6"]).is_empty());
    assert!(query(&db, &["--rdata", "6.6.6.7"]).is_empty());
    assert!(query(&db, &["--rdata", "ns.attacker.test"]).is_empty());

    // Lookups by name, by RDATA, by type, by time.
    let www = query(&db, &["--rrname", "WWW.Example.Test"]);
    assert_eq!(www, [expected[4].clone()]);
    assert_eq!(query(&db, &["--rdata", "192.0.2.1"]), [expected[3].clone()]);
    assert_eq!(query(&db, &["--rdata", "Web.example.test"]), www);
    assert_eq!(
        query(&db, &["--rrname", "*.example.test", "--rrtype", "a"]),
        [expected[2].clone(), expected[3].clone()]
    );
    assert_eq!(
        query(&db, &["--rrname", "*.test", "--after", "1015"]),
        [expected[1].clone()]
    );
    assert_eq!(
        query(&db, &["--rrname", "example.test", "--before", "1005"]),
        [expected[0].clone()]
    );
    assert!(query(&db, &["--rrname", "*.www.example.test"]).is_empty());
    assert!(
        query(
            &db,
            &["--rrname", "www.example.test", "--bailiwick", "test"]
        )
        .is_empty()
    );

    // The NS history, and the events: five new keys, one NS change.
    let changes = query(&db, &["--changes", "--rrtype", "NS", "--rrname", ZONE]);
    assert_eq!(changes, [expected[0].clone(), expected[1].clone()]);
    let events: Vec<Value> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["new", "new", "new", "new", "new", "ns_change"]);
    assert_eq!(
        events[5],
        json!({"event": "ns_change", "rrname": "example.test.", "rrtype": "NS",
               "bailiwick": "example.test.",
               "old": {"rdata": ["ns1.example.test."], "time_first": 1000, "time_last": 1010, "count": 2},
               "new": {"rdata": ["ns2.example.test."], "time_first": 1020, "time_last": 1020, "count": 1},
               "sensor_id": "s1"})
    );

    // The text form, for people.
    let run = kit(
        &[
            "pdns",
            "query",
            "--db",
            path_str(&db),
            "--rrname",
            "web.example.test",
            "--format",
            "text",
        ],
        None,
    );
    assert_eq!(
        run.stdout,
        ";; bailiwick example.test.  count 2  first 1970-01-01 00:16:40  last 1970-01-01 00:16:50 UTC  sensor s1\n\
         web.example.test.\tA\t192.0.2.1\nweb.example.test.\tA\t192.0.2.2\n\n"
    );
}

#[test]
fn forwarders_are_used_only_when_trusted() {
    let dir = temp_dir("pdns-forwarders");
    let file = dir.join("in.fs");
    write_stream(&file, &stream()[4..5]);
    let db = dir.join("pdns.sqlite");
    let run = ingest(&db, &[&file], &["--trust-forwarders", "--sensor-id", "fwd"]);
    assert_eq!(counter(&run, "used"), 1);
    // The forward zone is the root: the forwarder vouches for everything,
    // the answer chain still applies.
    assert_eq!(counter(&run, "rrsets_off_chain"), 1);
    let rows = query(&db, &["--rdata", "6.6.6.6"]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["bailiwick"], ".");
    assert_eq!(rows[0]["sensor_id"], "fwd");
}

/// Every row, as COF lines.
fn dump(db: &Path) -> Vec<Value> {
    query(db, &["--rrname", "*"])
}

#[test]
fn merging_does_not_depend_on_batches_order_or_restarts() {
    let dir = temp_dir("pdns-merge");
    let all = stream();
    let (whole, first, second) = (dir.join("all.fs"), dir.join("a.fs"), dir.join("b.fs"));
    write_stream(&whole, &all);
    write_stream(&first, &all[..2]);
    write_stream(&second, &all[2..]);

    let one = dir.join("one.sqlite");
    ingest(&one, &[&whole], &[]);
    // One message per transaction, the second half first, in two runs.
    let shards = dir.join("shards.sqlite");
    ingest(&shards, &[&second], &["--batch", "1"]);
    ingest(&shards, &[&first], &["--batch", "1"]);
    assert_eq!(dump(&one), dump(&shards));

    // Ingesting again doubles the counts and keeps the times.
    let before = dump(&one);
    ingest(&one, &[&whole], &[]);
    let after = dump(&one);
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a["count"], b["count"].as_i64().unwrap() * 2);
        assert_eq!(
            (&a["time_first"], &a["time_last"]),
            (&b["time_first"], &b["time_last"])
        );
    }
}

#[test]
fn standard_input_and_foreign_databases() {
    let dir = temp_dir("pdns-stdin");
    let db = dir.join("pdns.sqlite");
    let run = kit(
        &["pdns", "ingest", "-", "--db", path_str(&db)],
        Some(&dnstap_stream(&stream())),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(dump(&db).len(), 5);

    // Another schema version is refused, and so is somebody else's database.
    let connection = rusqlite::Connection::open(&db).unwrap();
    connection
        .execute("UPDATE pdns_meta SET value = '99'", [])
        .unwrap();
    drop(connection);
    for args in [
        vec!["pdns", "ingest", "--db", path_str(&db), "/dev/null"],
        vec!["pdns", "query", "--db", path_str(&db), "--rrname", "*"],
    ] {
        let run = kit(&args, None);
        assert_eq!(run.code, 1);
        assert!(run.stderr.contains("schema version 99"), "{}", run.stderr);
    }
    let other = dir.join("other.sqlite");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute("CREATE TABLE t (x)", [])
        .unwrap();
    let run = kit(
        &["pdns", "ingest", "--db", path_str(&other), "/dev/null"],
        None,
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("without passive DNS"), "{}", run.stderr);
    // A query does not create a database.
    let missing = dir.join("missing.sqlite");
    let run = kit(
        &[
            "pdns",
            "query",
            "--db",
            path_str(&missing),
            "--rrname",
            "x.",
        ],
        None,
    );
    assert_eq!(run.code, 1);
    assert!(!missing.exists());
}
