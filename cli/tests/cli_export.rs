//! `dnstap-kit export clickhouse` and `schema clickhouse` as processes,
//! without a server: what it says and does when none answers, and bad
//! URLs. (The real engines, 18.16 and current, are ci/clickhouse-check's.)

mod cli_support;

use std::process::Command;
use std::time::Duration;

use cli_support::*;
use dnstap_testkit::env::closed_port;

#[test]
fn a_server_that_is_down_is_waited_for_until_a_signal() {
    let dir = temp_dir("export-wait");
    let log = dir.join("export.log");
    let url = format!("http://127.0.0.1:{}", closed_port());
    let export = Process::spawn(
        "export",
        Command::new(kit_path()).args(["export", "clickhouse", "--url", &url, "/dev/null"]),
        &log,
    );
    let said = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(10), || said()
            .contains("waiting for it")),
        "{}",
        said()
    );
    assert!(said().contains("connection refused"), "{}", said());
    // Still waiting, not given up, a while later.
    std::thread::sleep(Duration::from_millis(700));
    assert!(wait_until(Duration::from_secs(5), || export.catches(libc::SIGTERM)));
    let run = export.stop(libc::SIGTERM, Duration::from_secs(10));
    assert_eq!(run.code, 1, "{}", said());
    assert!(
        said().contains("stopped while waiting for ClickHouse"),
        "{}",
        said()
    );
}

#[test]
fn urls_it_cannot_use_are_refused_at_once() {
    for url in [
        "https://127.0.0.1:8443",
        "127.0.0.1:8123",
        "http://127.0.0.1:8123/db",
    ] {
        let run = kit(&["export", "clickhouse", "--url", url, "/dev/null"], None);
        assert_eq!(run.code, 1, "{url}: {}", run.stderr);
        assert!(run.stderr.contains(url), "{url}: {}", run.stderr);
    }
    let run = kit(
        &[
            "pdns",
            "query",
            "--db",
            "clickhouse://127.0.0.1:1",
            "--rrname",
            "a.",
        ],
        None,
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("expected clickhouse://host:port/database"),
        "{}",
        run.stderr
    );
}

#[test]
fn schema_prints_statements_for_either_server() {
    let old = kit(&["schema", "clickhouse", "--server-version", "18.16"], None);
    let current = kit(
        &["schema", "clickhouse", "--database", "logs", "--table", "q"],
        None,
    );
    assert_eq!((old.code, current.code), (0, 0));
    for run in [&old, &current] {
        let statements = run.stdout.matches(";\n").count();
        assert_eq!(statements, 9, "{}", run.stdout);
    }
    assert!(old.stdout.contains("ENGINE = AggregatingMergeTree"));
    assert!(!old.stdout.contains("DateTime64"));
    assert!(
        current
            .stdout
            .contains("CREATE TABLE IF NOT EXISTS logs.q (")
    );
    assert!(current.stdout.contains("logs.q_per_minute"));
    assert!(current.stdout.contains("DateTime64(9, 'UTC')"));
}
