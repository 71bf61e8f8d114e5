//! `tls:` sinks against real TLS collectors on loopback (rustls servers
//! with certificates made for the run): every message delivered, mutual
//! TLS, and each way the collector can fail to be the right one, which
//! must deliver nothing, say why in the log, count the failure, retry, and
//! never hold up the caller or shutdown.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use dnstap::framestream::ControlType;
use dnstap::tls::Verify;
use dnstap::{Error, LogOutcome, Logger, Options};
use dnstap_testkit::tls::{Ca, Issued, PemFiles, server_config};

fn options(sink: &str, log: &LogLines) -> Options {
    let mut options = Options::new();
    options.set_sink(sink).unwrap();
    options.set_flush_interval_ms(20).unwrap();
    options.set_reconnect_max_ms(100).unwrap();
    log.attach(&mut options);
    options
}

/// A conforming TLS collector on 127.0.0.1 presenting `server`.
fn tls_collector(server: &Issued, client_ca: Option<&Ca>) -> Collector {
    Collector::tls(
        "127.0.0.1:0",
        Behaviour::Conforming,
        server_config(server, client_ca),
    )
}

/// Options for `collector`'s sink that trust the CAs of `ca_file`.
fn trusting(collector: &Collector, ca_file: &Path, log: &LogLines) -> Options {
    let mut options = options(&collector.sink, log);
    options.set_tls_ca_file(Some(ca_file));
    options
}

/// A CA, and a collector certificate it issued for `names`.
fn pki(dir: &Path, names: &[&str]) -> (Ca, PemFiles) {
    let ca = Ca::new("dnstap test CA");
    let server = ca.issue(names).write(dir, "collector");
    (ca, server)
}

fn delivered(collector: &Collector, options: &Options, log: &LogLines, count: u32) {
    let logger = Logger::new(options).unwrap();
    log_sequence(&logger, 0..count);
    let stats = logger.shutdown();
    assert_eq!(
        (
            stats.accepted,
            stats.written,
            stats.lost,
            stats.failed_connects
        ),
        (count as u64, count as u64, 0, 0),
        "{}",
        log.dump()
    );
    let sessions = collector.sessions();
    assert_eq!(sessions.len(), 1, "{}", log.dump());
    assert_eq!(sessions[0].ready.as_ref().unwrap().kind, ControlType::Ready);
    assert!(sessions[0].stopped, "STOP, answered with FINISH");
    let sequence: Vec<u32> = sessions[0].frames.iter().map(|f| sequence(f)).collect();
    assert_eq!(sequence, (0..count).collect::<Vec<_>>());
    assert_eq!(
        log.containing("connected to collector tls:"),
        1,
        "{}",
        log.dump()
    );
}

#[test]
fn every_message_through_tls_verified_against_the_ip_address() {
    let dir = temp_dir("tls-ip");
    let ca = Ca::new("dnstap test CA");
    let server = ca.issue(&["127.0.0.1", "::1"]);
    for address in ["127.0.0.1:0", "[::1]:0"] {
        let collector =
            Collector::tls(address, Behaviour::Conforming, server_config(&server, None));
        let log = LogLines::default();
        let options = trusting(&collector, &ca.write(&dir, "ca"), &log);
        // More than the 256 KiB of a batch: many TLS records per write.
        delivered(&collector, &options, &log, 20_000);
        assert_eq!(
            log.containing("certificate verified for "),
            1,
            "{}",
            log.dump()
        );
    }
}

#[test]
fn the_server_name_is_verified_when_set() {
    let dir = temp_dir("tls-name");
    let (ca, _) = pki(&dir, &[]);
    let server = ca.issue(&["collector.test"]);
    let collector = tls_collector(&server, None);
    let log = LogLines::default();
    let mut options = trusting(&collector, &ca.write(&dir, "ca"), &log);
    options.set_tls_server_name(Some("collector.test")).unwrap();
    delivered(&collector, &options, &log, 500);
    assert_eq!(
        log.containing("certificate verified for collector.test"),
        1,
        "{}",
        log.dump()
    );
}

#[test]
fn mutual_tls_with_a_client_certificate() {
    let dir = temp_dir("tls-mutual");
    let (ca, _) = pki(&dir, &[]);
    let server = ca.issue(&["127.0.0.1"]);
    let clients = Ca::new("dnstap client CA");
    let client = clients.issue(&["ns1.test"]).write(&dir, "client");
    let collector = tls_collector(&server, Some(&clients));
    let log = LogLines::default();
    let mut options = trusting(&collector, &ca.write(&dir, "ca"), &log);
    options.set_tls_client_cert(Some((&client.cert, &client.key)));
    delivered(&collector, &options, &log, 500);
}

/// A collector that must not get the log: nothing is delivered, the log
/// says `reason`, failures are counted and retried with backoff, the log
/// call never waits, and shutdown stays bounded.
fn refused(collector: &Collector, options: &Options, log: &LogLines, reason: &str) {
    let logger = Logger::new(options).unwrap();
    let started = Instant::now();
    for n in 0..10 {
        assert_eq!(logger.log(&client_query(n)).unwrap(), LogOutcome::Queued);
    }
    assert!(started.elapsed() < Duration::from_millis(100));
    assert!(
        wait_until(Duration::from_secs(8), || log.containing(reason) >= 1
            && logger.stats().failed_connects >= 2),
        "no line with {reason:?} and no retry:\n{}",
        log.dump()
    );
    let stopping = Instant::now();
    let stats = logger.shutdown();
    assert!(
        stopping.elapsed() < Duration::from_secs(4),
        "{:?}",
        stopping.elapsed()
    );
    assert_eq!((stats.written, stats.lost), (0, 10), "{}", log.dump());
    assert!(
        collector.frames().is_empty(),
        "nothing reaches the wrong collector"
    );
    assert!(
        collector.sessions().iter().all(|s| s.start.is_none()),
        "no stream was started"
    );
    assert_eq!(
        log.containing("connected to collector"),
        0,
        "{}",
        log.dump()
    );
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let dir = temp_dir("tls-wrong-name");
    let (ca, _) = pki(&dir, &[]);
    let server = ca.issue(&["other.test"]);
    let collector = tls_collector(&server, None);
    let log = LogLines::default();
    let mut options = trusting(&collector, &ca.write(&dir, "ca"), &log);
    options.set_tls_server_name(Some("collector.test")).unwrap();
    refused(
        &collector,
        &options,
        &log,
        "not valid for name \"collector.test\"",
    );
}

#[test]
fn a_certificate_for_another_address_is_refused() {
    let dir = temp_dir("tls-wrong-ip");
    let (ca, _) = pki(&dir, &[]);
    let server = ca.issue(&["127.0.0.2"]);
    let collector = tls_collector(&server, None);
    let log = LogLines::default();
    let options = trusting(&collector, &ca.write(&dir, "ca"), &log);
    refused(
        &collector,
        &options,
        &log,
        "not valid for name \"127.0.0.1\"",
    );
}

#[test]
fn a_certificate_from_an_unknown_ca_is_refused() {
    let dir = temp_dir("tls-unknown-ca");
    let (ca, _) = pki(&dir, &[]);
    let stranger = Ca::new("someone else").issue(&["127.0.0.1"]);
    let collector = tls_collector(&stranger, None);
    let log = LogLines::default();
    let options = trusting(&collector, &ca.write(&dir, "ca"), &log);
    refused(&collector, &options, &log, "UnknownIssuer");
}

#[test]
fn an_expired_certificate_is_refused() {
    let dir = temp_dir("tls-expired");
    let (ca, _) = pki(&dir, &[]);
    let server = ca.issue_expired(&["127.0.0.1"]);
    let collector = tls_collector(&server, None);
    let log = LogLines::default();
    let options = trusting(&collector, &ca.write(&dir, "ca"), &log);
    refused(&collector, &options, &log, "certificate expired");
}

#[test]
fn a_plaintext_collector_behind_a_tls_sink_gets_nothing() {
    let collector = Collector::tcp("127.0.0.1:0", Behaviour::Conforming);
    let log = LogLines::default();
    let sink = collector.sink.replacen("tcp:", "tls:", 1);
    let mut options = options(&sink, &log);
    options.set_tls_verify(Verify::None);
    refused(
        &collector,
        &options,
        &log,
        "cannot connect to collector tls:",
    );
    assert!(
        log.containing("plaintext collector") >= 1,
        "the line names the likely cause:\n{}",
        log.dump()
    );
    assert!(collector.sessions().iter().all(|s| s.ready.is_none()));
}

#[test]
fn a_client_without_a_certificate_where_one_is_required_is_refused() {
    let dir = temp_dir("tls-no-client-cert");
    let (ca, _) = pki(&dir, &[]);
    let server = ca.issue(&["127.0.0.1"]);
    let clients = Ca::new("dnstap client CA");
    let collector = tls_collector(&server, Some(&clients));
    let log = LogLines::default();
    let options = trusting(&collector, &ca.write(&dir, "ca"), &log);
    refused(&collector, &options, &log, "requires a client certificate");
}

#[test]
fn a_client_certificate_from_another_ca_is_refused() {
    let dir = temp_dir("tls-wrong-client-ca");
    let (ca, _) = pki(&dir, &[]);
    let server = ca.issue(&["127.0.0.1"]);
    let clients = Ca::new("dnstap client CA");
    let client = Ca::new("not the client CA")
        .issue(&["ns1.test"])
        .write(&dir, "client");
    let collector = tls_collector(&server, Some(&clients));
    let log = LogLines::default();
    let mut options = trusting(&collector, &ca.write(&dir, "ca"), &log);
    options.set_tls_client_cert(Some((&client.cert, &client.key)));
    refused(&collector, &options, &log, "refused our client certificate");
}

#[test]
fn chain_only_skips_the_name_and_none_accepts_any_certificate() {
    let dir = temp_dir("tls-verify-modes");
    let (ca, _) = pki(&dir, &[]);
    let ca_file = ca.write(&dir, "ca");
    let wrong_name = ca.issue(&["other.test"]);
    let collector = tls_collector(&wrong_name, None);
    let log = LogLines::default();
    let mut chain = trusting(&collector, &ca_file, &log);
    chain.set_tls_verify(Verify::Chain);
    delivered(&collector, &chain, &log, 100);

    // The chain is still checked in that mode.
    let stranger = Ca::new("someone else").issue(&["127.0.0.1"]);
    let unknown = tls_collector(&stranger, None);
    let log = LogLines::default();
    let mut chain = trusting(&unknown, &ca_file, &log);
    chain.set_tls_verify(Verify::Chain);
    refused(&unknown, &chain, &log, "UnknownIssuer");

    let log = LogLines::default();
    let unknown = tls_collector(&stranger, None);
    let mut none = options(&unknown.sink, &log);
    none.set_tls_verify(Verify::None);
    delivered(&unknown, &none, &log, 100);
    assert_eq!(log.containing("NOT authenticated"), 1, "{}", log.dump());
}

#[test]
fn a_peer_that_stalls_in_the_handshake_hits_the_deadline_and_fini_stays_bounded() {
    // Accepts connections and never answers: the ClientHello goes nowhere.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = LogLines::default();
    let mut options = options(&format!("tls:127.0.0.1@{port}"), &log);
    options.set_tls_verify(Verify::None);
    let logger = Logger::new(&options).unwrap();
    log_sequence(&logger, 0..10);
    assert!(
        wait_until(Duration::from_secs(8), || log
            .containing("timed out in the TLS handshake")
            >= 1),
        "{}",
        log.dump()
    );
    // Shut down while the writer is inside a handshake with the stalled peer.
    std::thread::sleep(Duration::from_millis(300));
    let stopping = Instant::now();
    let stats = logger.shutdown();
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "fini took {:?}",
        stopping.elapsed()
    );
    assert_eq!((stats.written, stats.lost), (0, 10));
    assert!(stats.failed_connects >= 1);
    drop(listener);
}

fn init_error(options: &Options) -> String {
    match Logger::new(options) {
        Ok(_) => panic!("the logger started"),
        Err(err @ Error::Tls(_)) => err.to_string(),
        Err(other) => panic!("not a TLS error: {other:?}"),
    }
}

#[test]
fn unusable_files_fail_at_init_with_a_reason() {
    let dir = temp_dir("tls-files");
    let ca = Ca::new("dnstap test CA");
    let ca_file = ca.write(&dir, "ca");
    let client = ca.issue(&["ns1.test"]).write(&dir, "client");
    let other = ca.issue(&["ns2.test"]).write(&dir, "other");
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let log = LogLines::default();
    let sink = "tls:127.0.0.1@9";

    let mut missing = options(sink, &log);
    missing.set_tls_ca_file(Some(&dir.join("absent.pem")));
    assert!(init_error(&missing).contains("cannot read CA file"));

    let mut empty = options(sink, &log);
    empty.set_tls_ca_file(Some(&garbage));
    assert!(init_error(&empty).contains("holds no PEM CERTIFICATE"));

    let mut no_key = options(sink, &log);
    no_key.set_tls_ca_file(Some(&ca_file));
    no_key.set_tls_client_cert(Some((&client.cert, &garbage)));
    assert!(init_error(&no_key).contains("holds no unencrypted PEM private key"));

    let mut mismatch = options(sink, &log);
    mismatch.set_tls_ca_file(Some(&ca_file));
    mismatch.set_tls_client_cert(Some((&client.cert, &other.key)));
    assert!(init_error(&mismatch).contains("do not go together"));

    let mut key_as_cert = options(sink, &log);
    key_as_cert.set_tls_ca_file(Some(&client.key));
    assert!(init_error(&key_as_cert).contains("holds no PEM CERTIFICATE"));

    // TLS settings on a plain sink are a mistake, not silently ignored.
    let mut plain = options("tcp:127.0.0.1@9", &log);
    plain.set_tls_ca_file(Some(&ca_file));
    assert!(matches!(Logger::new(&plain), Err(Error::Invalid(_))));

    let mut bad_name = Options::new();
    assert!(bad_name.set_tls_server_name(Some("not a name!")).is_err());
}
