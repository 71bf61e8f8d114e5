//! `dnstap-kit check`: a conforming library file passes; crafted
//! violations are each named with their frame; real files from kdig and
//! stock Knot show what those producers leave out.

mod cli_support;

use std::time::Duration;

use cli_support::*;
use dnstap::proto;

#[test]
fn a_library_file_with_every_type_conforms() {
    let dir = temp_dir("check-ok");
    let path = dir.join("all.tap");
    write_library_file(&path, &library_messages(1..=14, Protocols::All));
    let run = kit(&["check", path_str(&path)], None);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for name in MESSAGE_TYPE_NAMES {
        assert!(
            run.stdout.contains(&format!("  {name:<20} {:>10}\n", 1)),
            "{name} not counted:\n{}",
            run.stdout
        );
    }
    assert!(
        run.stdout.ends_with(&format!(
            "{}: 14 frames, 0 violations in 0 frames; ended with STOP\n",
            path.display()
        )),
        "{}",
        run.stdout
    );
    // Two files: a total line.
    let run = kit(&["check", path_str(&path), path_str(&path)], None);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout
            .ends_with("total: 2 files, 28 frames, 0 violations in 0 frames\n"),
        "{}",
        run.stdout
    );
}

/// A CLIENT_QUERY changed by `change`.
fn client_query(change: impl FnOnce(&mut proto::Dnstap)) -> Vec<u8> {
    let mut record = client_query_record();
    change(&mut record);
    encode(&record)
}

fn message(record: &mut proto::Dnstap) -> &mut proto::Message {
    record.message.as_mut().unwrap()
}

#[test]
fn crafted_violations_are_each_named_with_their_frame() {
    let dir = temp_dir("check-bad");
    let looping = {
        let mut q = query(9, "example.com", 1);
        q.truncate(12);
        q[5] = 1; // QDCOUNT 1
        q[11] = 0; // ARCOUNT 0
        q.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        q
    };
    let frames: Vec<(Vec<u8>, &[&str])> = vec![
        // 1: conforming.
        (client_query(|_| {}), &[]),
        // 2: a recommended field missing.
        (
            client_query(|r| {
                message(r).query_time_sec = None;
                message(r).query_time_nsec = None;
            }),
            &["CLIENT_QUERY: missing query_time (recommended for CLIENT_QUERY)"],
        ),
        // 3: an INET address of 16 bytes.
        (
            client_query(|r| message(r).query_address = Some(vec![0; 16])),
            &["CLIENT_QUERY: query_address is 16 bytes; INET addresses are 4"],
        ),
        // 4: http_protocol without DOH.
        (
            client_query(|r| message(r).http_protocol = Some(2)),
            &["CLIENT_QUERY: http_protocol is set but socket_protocol is not DOH"],
        ),
        // 5: policy enums out of range.
        (
            client_query(|r| {
                message(r).policy = Some(proto::Policy {
                    r#type: Some("RPZ".into()),
                    action: Some(9),
                    r#match: Some(7),
                    ..Default::default()
                })
            }),
            &[
                "CLIENT_QUERY: policy.action 9 is not a value the schema defines",
                "CLIENT_QUERY: policy.match 7 is not a value the schema defines",
            ],
        ),
        // 6: a DNS message with a compression loop.
        (
            client_query(|r| message(r).query_message = Some(looping.clone())),
            &[
                "CLIENT_QUERY: query_message does not parse as DNS: question 1: too many compression pointers",
            ],
        ),
        // 7: a response message without QR.
        (
            client_query(|r| {
                let m = message(r);
                m.r#type = proto::message::Type::ClientResponse as i32;
                m.response_message = m.query_message.take();
                m.response_time_sec = m.query_time_sec;
                m.response_time_nsec = m.query_time_nsec;
            }),
            &["CLIENT_RESPONSE: response_message has the QR bit clear"],
        ),
        // 8: not a protobuf.
        (
            b"\xff\xff\xff\xff".to_vec(),
            &["(not a Dnstap protobuf): not a valid dnstap.Dnstap protobuf"],
        ),
        // 9: a message type the schema does not define.
        (
            client_query(|r| message(r).r#type = 15),
            &["Message.type 15: Message.type 15 is not a value the schema defines"],
        ),
        // 10: Dnstap.type missing.
        (
            {
                let m =
                    prost::Message::encode_to_vec(client_query_record().message.as_ref().unwrap());
                let mut r = Vec::new();
                put_bytes(&mut r, 14, &m);
                r
            },
            &["CLIENT_QUERY: Dnstap.type (required) is missing"],
        ),
        // 11: nanoseconds out of range.
        (
            client_query(|r| message(r).query_time_nsec = Some(1_000_000_000)),
            &["CLIENT_QUERY: query_time_nsec 1000000000 is not below 10^9"],
        ),
        // 12: an address without a family.
        (
            client_query(|r| message(r).socket_family = None),
            &[
                "CLIENT_QUERY: missing socket_family (recommended for CLIENT_QUERY)",
                "CLIENT_QUERY: query_address without socket_family",
            ],
        ),
        // 13: a query_zone that is not a name.
        (
            client_query(|r| message(r).query_zone = Some(vec![7, b'e', b'x'])),
            &["CLIENT_QUERY: query_zone is not a wire-format name: unexpected end of input"],
        ),
        // 14: an unknown socket protocol.
        (
            client_query(|r| message(r).socket_protocol = Some(9)),
            &["CLIENT_QUERY: socket_protocol 9 is not a value the schema defines"],
        ),
        // 15: bytes after the DNS message.
        (
            client_query(|r| {
                message(r)
                    .query_message
                    .as_mut()
                    .unwrap()
                    .extend_from_slice(&[1, 2])
            }),
            &["CLIENT_QUERY: query_message has 2 bytes after the last record"],
        ),
        // 16: a port above 65535.
        (
            client_query(|r| message(r).query_port = Some(70000)),
            &["CLIENT_QUERY: query_port 70000 does not fit 16 bits"],
        ),
        // 17: MESSAGE without a message.
        (
            client_query(|r| r.message = None),
            &["(no message): Dnstap.type is MESSAGE but there is no message"],
        ),
        // 18: a query message with QR set, and a resolver query without
        // its zone and server.
        (
            client_query(|r| {
                let m = message(r);
                m.r#type = proto::message::Type::ResolverQuery as i32;
                m.query_message.as_mut().unwrap()[2] |= 0x80;
            }),
            &[
                "RESOLVER_QUERY: missing response_address (recommended for RESOLVER_QUERY)",
                "RESOLVER_QUERY: missing response_port (recommended for RESOLVER_QUERY)",
                "RESOLVER_QUERY: missing query_zone (recommended for RESOLVER_QUERY)",
                "RESOLVER_QUERY: query_message has the QR bit set",
            ],
        ),
    ];
    let path = dir.join("bad.tap");
    let payloads: Vec<Vec<u8>> = frames.iter().map(|(p, _)| p.clone()).collect();
    std::fs::write(&path, dnstap_stream(&payloads)).unwrap();
    let run = kit(&["check", path_str(&path)], None);
    assert_eq!(run.code, 4, "{}\n{}", run.stdout, run.stderr);
    let name = path.display().to_string();
    let violation_lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with(&format!("{name}: frame ")))
        .collect();
    let mut expected_count = 0;
    for (i, (_, expected)) in frames.iter().enumerate() {
        let prefix = format!("{name}: frame {}: ", i + 1);
        let found: Vec<&str> = violation_lines
            .iter()
            .filter(|l| l.starts_with(&prefix))
            .map(|l| &l[prefix.len()..])
            .collect();
        assert_eq!(found.len(), expected.len(), "frame {}: {found:?}", i + 1);
        for (line, want) in found.iter().zip(expected.iter()) {
            assert!(
                line.starts_with(want),
                "frame {}: {line:?} vs {want:?}",
                i + 1
            );
        }
        expected_count += expected.len();
    }
    assert_eq!(violation_lines.len(), expected_count);
    assert!(
        run.stdout.ends_with(&format!(
            "{name}: 18 frames, {expected_count} violations in 17 frames; ended with STOP\n"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  CLIENT_QUERY                 13\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("  Message.type 15               1\n"));
}

#[test]
fn unknown_fields_are_counted_not_violations() {
    let dir = temp_dir("check-lag");
    let mut tail = Vec::new();
    put_uint(&mut tail, 30, 1);
    let mut message =
        prost::Message::encode_to_vec(client_query_record().message.as_ref().unwrap());
    put_uint(&mut message, 17, 3);
    let path = dir.join("lag.tap");
    std::fs::write(
        &path,
        dnstap_stream(&[record_with_message(&message, &tail)]),
    )
    .unwrap();
    let run = kit(&["check", path_str(&path)], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "1 frames, 0 violations in 0 frames, 2 fields the schema does not define; ended with STOP"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn truncated_and_unreadable_inputs_have_their_own_exit_codes() {
    let dir = temp_dir("check-ends");
    let complete = dnstap_stream(&[
        encode(&client_query_record()),
        encode(&client_query_record()),
    ]);
    let unterminated = dir.join("unterminated.tap");
    std::fs::write(&unterminated, &complete[..complete.len() - 12]).unwrap();
    let run = kit(&["check", path_str(&unterminated)], None);
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("2 frames, 0 violations in 0 frames; no STOP frame")
    );
    let cut = dir.join("cut.tap");
    std::fs::write(&cut, &complete[..complete.len() - 15]).unwrap();
    let run = kit(&["check", path_str(&cut)], None);
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("1 frames, 0 violations in 0 frames; cut inside a frame")
    );
    // Violations outrank a missing STOP.
    let bad = dir.join("bad-unterminated.tap");
    let mut bytes = dnstap_stream(&[client_query(|r| message(r).socket_protocol = Some(99))]);
    bytes.truncate(bytes.len() - 12);
    std::fs::write(&bad, bytes).unwrap();
    assert_eq!(kit(&["check", path_str(&bad)], None).code, 4);
    // Unreadable input outranks everything.
    let other = dir.join("other.fstrm");
    std::fs::write(&other, frame_stream(b"text/plain", &[b"x".to_vec()], true)).unwrap();
    let run = kit(&["check", path_str(&bad), path_str(&other)], None);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("content type \"text/plain\""),
        "{}",
        run.stderr
    );
    let run = kit(&["check", path_str(&dir.join("missing.tap"))], None);
    assert_eq!(run.code, 1);
    let run = kit(&["check"], None);
    assert_eq!(run.code, 2, "clap: a file is required");
}

#[test]
fn kdig_and_stock_knot_files_lack_only_query_time_on_responses() {
    require!("knotd", "kdig");
    let dir = temp_dir("check-knot");
    let port = 5420;
    let knot_tap = dir.join("knot.tap");
    let knot = start_knot(&dir, port, Some(&knot_tap));
    let kdig_tap = dir.join("kdig.tap");
    let run = kdig(port, &kdig_tap, "www.knot.test", "A", &["+tcp"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    knot.stop(libc::SIGTERM, Duration::from_secs(15));
    for (file, response) in [(&kdig_tap, "TOOL_RESPONSE"), (&knot_tap, "AUTH_RESPONSE")] {
        let run = kit(&["check", path_str(file)], None);
        let violations: Vec<&str> = run
            .stdout
            .lines()
            .filter(|l| l.contains(": frame "))
            .collect();
        assert!(!violations.is_empty(), "{}", run.stdout);
        for line in &violations {
            assert!(
                line.ends_with(&format!(
                    "{response}: missing query_time (recommended for {response})"
                )),
                "{line}"
            );
        }
        assert_eq!(run.code, 4);
    }
}
