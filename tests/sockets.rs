//! The writer against real collectors on unix and TCP sockets: handshake,
//! content, reconnects, misbehaving and stalled collectors, shutdown.

mod common;

use std::time::{Duration, Instant};

use common::*;
use dnstap::framestream::{ControlType, DNSTAP_CONTENT_TYPE};
use dnstap::proto;
use dnstap::{Logger, Options};
use prost::Message as _;

fn options(sink: &str, log: &LogLines) -> Options {
    let mut options = Options::new();
    options.set_sink(sink).unwrap();
    options.set_identity(b"ns1.test").unwrap();
    options.set_version(b"dnstap-kit test").unwrap();
    options.set_flush_interval_ms(20).unwrap();
    log.attach(&mut options);
    options
}

fn conforming_session(collector: Collector, count: u32) {
    let log = LogLines::default();
    let logger = Logger::new(&options(&collector.sink, &log)).unwrap();
    log_sequence(&logger, 0..count);
    let stats = logger.shutdown();
    assert_eq!(
        (stats.accepted, stats.written, stats.lost),
        (count as u64, count as u64, 0)
    );
    let sessions = collector.sessions();
    assert_eq!(sessions.len(), 1, "{}", log.dump());
    let session = &sessions[0];
    let ready = session.ready.as_ref().expect("READY first");
    assert_eq!(ready.kind, ControlType::Ready);
    assert_eq!(ready.content_types, vec![DNSTAP_CONTENT_TYPE.to_vec()]);
    let start = session.start.as_ref().unwrap();
    assert_eq!(
        (start.kind, start.content_types.clone()),
        (ControlType::Start, vec![DNSTAP_CONTENT_TYPE.to_vec()])
    );
    assert!(session.stopped, "STOP ends the stream");
    let sequence: Vec<u32> = session.frames.iter().map(|f| sequence(f)).collect();
    assert_eq!(
        sequence,
        (0..count).collect::<Vec<_>>(),
        "every message, in order"
    );
    let record = proto::Dnstap::decode(&session.frames[0][..]).unwrap();
    assert_eq!(record.identity.as_deref(), Some(&b"ns1.test"[..]));
    assert_eq!(record.version.as_deref(), Some(&b"dnstap-kit test"[..]));
    let message = record.message.unwrap();
    assert_eq!(message.query_address.as_deref(), Some(&[192, 0, 2, 1][..]));
    assert_eq!(message.query_port, Some(5353));
    assert_eq!(message.query_message.as_deref(), Some(QUERY));
    assert_eq!(
        stats.bytes,
        session
            .frames
            .iter()
            .map(|f| f.len() as u64 + 4)
            .sum::<u64>()
    );
}

#[test]
fn unix_socket_handshake_and_every_message() {
    let dir = temp_dir("unix");
    conforming_session(Collector::unix(&dir, Behaviour::Conforming), 5000);
}

#[test]
fn tcp_ipv4_and_ipv6_sinks() {
    conforming_session(Collector::tcp("127.0.0.1:0", Behaviour::Conforming), 2000);
    conforming_session(Collector::tcp("[::1]:0", Behaviour::Conforming), 2000);
}

#[test]
fn unidirectional_socket_sends_start_without_ready() {
    let dir = temp_dir("unidirectional");
    let collector = Collector::unix(&dir, Behaviour::Unidirectional);
    let log = LogLines::default();
    let mut options = options(&collector.sink, &log);
    options.set_bidirectional(false);
    let logger = Logger::new(&options).unwrap();
    log_sequence(&logger, 0..100);
    let stats = logger.shutdown();
    assert_eq!(stats.written, 100);
    // Without FINISH nothing tells the writer that the collector has read
    // the stream: wait for it here.
    assert!(wait_until(Duration::from_secs(5), || collector
        .sessions()
        .first()
        .is_some_and(|s| s.stopped)));
    let sessions = collector.sessions();
    assert!(sessions[0].ready.is_none());
    assert_eq!(sessions[0].start.as_ref().unwrap().kind, ControlType::Start);
    assert_eq!(sessions[0].frames.len(), 100);
    assert!(sessions[0].stopped);
}

/// A collector that refuses us must get a clear log line and a backoff,
/// not a busy loop of connections.
fn refused_with_backoff(behaviour: Behaviour, expected_line: &str) {
    let dir = temp_dir(&format!("{behaviour:?}"));
    let collector = Collector::unix(&dir, behaviour);
    let log = LogLines::default();
    let mut options = options(&collector.sink, &log);
    options.set_reconnect_max_ms(200).unwrap();
    let logger = Logger::new(&options).unwrap();
    log_sequence(&logger, 0..10);
    std::thread::sleep(Duration::from_millis(1500));
    let attempts = collector.connection_attempts();
    let stats = logger.shutdown();
    // Backoff 10, 20, 40, 80, 160, then every 200 ms: about 11 attempts in
    // 1.5 s, each also waiting for the answer. A busy loop makes hundreds.
    assert!(
        (3..=20).contains(&attempts),
        "{attempts} connection attempts in 1.5 s"
    );
    assert!(log.containing(expected_line) >= 1, "log:\n{}", log.dump());
    assert!(
        log.containing(expected_line) <= 2,
        "throttled to one line per interval:\n{}",
        log.dump()
    );
    assert_eq!(stats.written, 0);
    assert_eq!(stats.lost, 10);
    assert!(collector.frames().is_empty());
}

#[test]
fn content_type_mismatch_is_reported_and_retried_with_backoff() {
    refused_with_backoff(
        Behaviour::WrongContentType,
        "does not accept protobuf:dnstap.Dnstap",
    );
}

#[test]
fn garbage_instead_of_accept_is_reported_and_retried_with_backoff() {
    refused_with_backoff(Behaviour::Garbage, "cannot connect to collector");
}

#[test]
fn a_collector_that_closes_after_the_handshake_gets_backoff_not_a_loop() {
    let dir = temp_dir("close-after-handshake");
    let collector = Collector::unix(&dir, Behaviour::CloseAfterHandshake);
    let log = LogLines::default();
    let mut options = options(&collector.sink, &log);
    options.set_reconnect_max_ms(200).unwrap();
    let logger = Logger::new(&options).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let attempts = collector.connection_attempts();
    logger.shutdown();
    assert!(
        (3..=20).contains(&attempts),
        "{attempts} connections in 1.5 s:\n{}",
        log.dump()
    );
    let flaps = log.containing("ms after the handshake");
    assert!(
        (1..=2).contains(&flaps),
        "throttled to one line per interval:\n{}",
        log.dump()
    );
    assert_eq!(
        log.containing("connected to collector"),
        1,
        "{}",
        log.dump()
    );
}

#[test]
fn logging_resumes_after_the_collector_restarts() {
    let dir = temp_dir("restart");
    let log = LogLines::default();
    let mut first = Collector::unix(&dir, Behaviour::Conforming);
    let logger = Logger::new(&options(&first.sink, &log)).unwrap();
    log_sequence(&logger, 0..100);
    assert!(first.wait_for_frames(100, Duration::from_secs(5)));
    first.shutdown();
    // The writer notices the closed connection before its next write, so
    // messages logged while no collector listens wait in the queue.
    assert!(wait_until(Duration::from_secs(5), || log
        .containing("collector closed the connection")
        == 1));
    log_sequence(&logger, 100..200);
    let resumed = Instant::now();
    let second = Collector::unix(&dir, Behaviour::Conforming);
    assert!(
        second.wait_for_frames(100, Duration::from_secs(5)),
        "log:\n{}",
        log.dump()
    );
    let delay = resumed.elapsed();
    let stats = logger.shutdown();
    assert_eq!(stats.reconnects, 1);
    assert_eq!((stats.accepted, stats.written, stats.lost), (200, 200, 0));
    let sequence: Vec<u32> = second.frames().iter().map(|f| sequence(f)).collect();
    assert_eq!(sequence, (100..200).collect::<Vec<_>>());
    assert!(delay < Duration::from_secs(3), "resumed after {delay:?}");
}

#[test]
fn stalled_collector_never_blocks_callers_and_shutdown_is_bounded() {
    let dir = temp_dir("stall");
    let collector = Collector::unix(&dir, Behaviour::StallAfterHandshake);
    let log = LogLines::default();
    let mut options = options(&collector.sink, &log);
    options.set_queue_capacity(1000).unwrap();
    let logger = Logger::new(&options).unwrap();
    assert!(wait_until(Duration::from_secs(5), || collector
        .sessions()
        .iter()
        .any(|s| s.start.is_some())));
    let big = vec![0u8; 60_000];
    let mut fields = client_query(0);
    fields.response_message = &big;
    let offered = 20_000;
    let mut slowest = Duration::ZERO;
    for _ in 0..offered {
        let started = Instant::now();
        logger.log(&fields).unwrap();
        slowest = slowest.max(started.elapsed());
    }
    let running = logger.stats();
    assert!(running.dropped > 0, "the queue filled: {running:?}");
    let stopping = Instant::now();
    let stats = logger.shutdown();
    let shutdown = stopping.elapsed();
    println!("slowest log call {slowest:?}, shutdown {shutdown:?}, {stats:?}");
    assert!(
        shutdown < Duration::from_secs(3),
        "shutdown took {shutdown:?}"
    );
    assert_eq!(stats.accepted + stats.dropped, offered);
    assert_eq!(stats.accepted, stats.written + stats.lost);
    assert!(stats.lost > 0);
    // Generous: a blocked call would take the full stall (seconds).
    assert!(
        slowest < Duration::from_millis(200),
        "a log call took {slowest:?}"
    );
}

#[test]
fn missing_collector_loses_only_what_was_accepted_and_says_so() {
    let dir = temp_dir("absent");
    let log = LogLines::default();
    let sink = format!("unix:{}", dir.join("nobody.sock").display());
    let logger = Logger::new(&options(&sink, &log)).unwrap();
    log_sequence(&logger, 0..50);
    let started = Instant::now();
    let stats = logger.shutdown();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!((stats.accepted, stats.written, stats.lost), (50, 0, 50));
    assert!(
        log.containing("No such file or directory") >= 1,
        "{}",
        log.dump()
    );
    assert_eq!(
        log.containing("50 messages lost at shutdown"),
        1,
        "{}",
        log.dump()
    );
}

#[test]
fn reopen_reconnects_a_socket_sink() {
    let dir = temp_dir("reopen-socket");
    let collector = Collector::unix(&dir, Behaviour::Conforming);
    let log = LogLines::default();
    let logger = Logger::new(&options(&collector.sink, &log)).unwrap();
    log_sequence(&logger, 0..10);
    assert!(collector.wait_for_frames(10, Duration::from_secs(5)));
    logger.reopen();
    assert!(wait_until(Duration::from_secs(5), || collector
        .sessions()
        .len()
        == 2));
    log_sequence(&logger, 10..20);
    let stats = logger.shutdown();
    let sessions = collector.sessions();
    assert!(sessions[0].stopped, "the first stream was ended with STOP");
    assert_eq!(sessions[0].frames.len() + sessions[1].frames.len(), 20);
    assert_eq!((stats.written, stats.reconnects), (20, 1));
}
