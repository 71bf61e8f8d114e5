//! `export nats` and the `nats://` inputs as processes: URL and flag
//! errors, the shared log export's buffer and counters against a server
//! that is down, and a round trip through a real nats-server with
//! JetStream (skipped when it is not installed, unless ci/test requires
//! it). The 3-node cluster and its failures are ci/nats-check's.

mod cli_support;

use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use cli_support::*;
use dnstap_testkit::env::{closed_port, tool_installed};
use prost::Message as _;

fn records(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut record = client_query_record();
            record.identity = Some(format!("ns{i}").into_bytes());
            record.encode_to_vec()
        })
        .collect()
}

#[test]
fn bad_urls_and_flags_are_refused() {
    let cases: [(&[&str], &str); 4] = [
        (&["read", "nats://127.0.0.1/S"], "is not ADDR:PORT"),
        (&["check", "nats://127.0.0.1:1"], "no /TOPIC or /STREAM"),
        (
            &[
                "export",
                "nats",
                "--server",
                "127.0.0.1:4222",
                "--subject",
                "s",
                "/dev/null",
            ],
            "does not start with nats://",
        ),
        (
            &[
                "export",
                "kafka",
                "--brokers",
                "127.0.0.1",
                "--topic",
                "t",
                "/dev/null",
            ],
            "is not ADDR:PORT",
        ),
    ];
    for (args, says) in cases {
        let run = kit(args, None);
        assert_eq!(run.code, 1, "{args:?}");
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn a_log_that_is_down_fills_the_buffer_and_the_rest_is_counted() {
    let dir = temp_dir("export-nats-down");
    let file = dir.join("five.fs");
    std::fs::write(&file, dnstap_stream(&records(5))).unwrap();
    let server = format!("nats://127.0.0.1:{}", closed_port());
    let args = [
        "export",
        "nats",
        "--server",
        &server,
        "--subject",
        "s",
        "--buffer-records",
        "2",
        "--linger",
        "1",
        "--stats-interval",
        "0",
        file.to_str().unwrap(),
    ];
    let run = kit(&args, None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("is unavailable"), "{}", run.stderr);
    assert!(run.stderr.contains("the buffer is full"), "{}", run.stderr);
    // Retries depend on the clock; what became of each record does not.
    assert!(
        run.stderr.contains("records=5 sent=0 retried="),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("dropped=2 buffered=0 overflowed=3"),
        "{}",
        run.stderr
    );
}

#[test]
fn records_go_through_jetstream_and_a_consumer_resumes() {
    if !tool_installed("nats-server", "apt-get install nats-server (or ci/setup)") {
        return;
    }
    let dir = temp_dir("export-nats");
    let port = closed_port();
    let address = format!("127.0.0.1:{port}");
    let _server = Process::spawn(
        "nats-server",
        Command::new("nats-server").args([
            "-js",
            "-sd",
            dir.join("js").to_str().unwrap(),
            "-a",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ]),
        &dir.join("nats.log"),
    );
    assert!(wait_until(Duration::from_secs(10), || TcpStream::connect(
        &address
    )
    .is_ok()));
    let file = dir.join("ten.fs");
    std::fs::write(&file, dnstap_stream(&records(10))).unwrap();
    let server = format!("nats://{address}");
    let export = |path: &str| {
        kit(
            &[
                "export",
                "nats",
                "--server",
                &server,
                "--subject",
                "dt.test",
                "--stream",
                "DT",
                "--batch-records",
                "3",
                "--stats-interval",
                "0",
                path,
            ],
            None,
        )
    };
    let run = export(file.to_str().unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("created stream DT"), "{}", run.stderr);
    assert!(run.stderr.contains("records=10 sent=10"), "{}", run.stderr);
    let url = format!("nats://{address}/DT");
    let read = || kit(&["read", "--format", "json", "--consumer", "t", &url], None);
    let first = read();
    assert_eq!(first.code, 0, "{}", first.stderr);
    let expected = kit(&["read", "--format", "json", file.to_str().unwrap()], None);
    assert_eq!(first.stdout, expected.stdout);
    // Committed: the same consumer has nothing more, until more comes.
    assert_eq!(read().stdout, "");
    assert_eq!(export(file.to_str().unwrap()).code, 0);
    assert_eq!(read().lines().len(), 10);
}
