//! The file sink: a valid Frame Streams file while running and after
//! shutdown, rotation with reopen, open errors at init.

use std::time::Duration;

use dnstap::{Error, LogOutcome, Logger, Options};
use dnstap_testkit::*;

fn file_options(path: &std::path::Path, log: &LogLines) -> Options {
    let mut options = Options::new();
    options
        .set_sink(&format!("file:{}", path.display()))
        .unwrap();
    options.set_flush_interval_ms(20).unwrap();
    log.attach(&mut options);
    options
}

#[test]
fn file_holds_every_message_and_ends_with_stop() {
    let dir = temp_dir("file");
    let path = dir.join("out.tap");
    let log = LogLines::default();
    let logger = Logger::new(&file_options(&path, &log)).unwrap();
    log_sequence(&logger, 0..10_000);
    let stats = logger.shutdown();
    assert_eq!(
        (stats.accepted, stats.written, stats.lost),
        (10_000, 10_000, 0)
    );
    let (frames, stopped) = read_file(&path);
    assert!(stopped);
    let sequence: Vec<u32> = frames.iter().map(|f| sequence(f)).collect();
    assert_eq!(sequence, (0..10_000).collect::<Vec<_>>());
    let size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(size, 42 + stats.bytes + 12, "START + data frames + STOP");
}

#[test]
fn file_is_written_while_the_logger_runs() {
    let dir = temp_dir("file-live");
    let path = dir.join("live.tap");
    let log = LogLines::default();
    let logger = Logger::new(&file_options(&path, &log)).unwrap();
    log_sequence(&logger, 0..3);
    // The flush interval (20 ms) moves the messages to the file without
    // shutdown; libfstrm's file writer keeps them in stdio until exit.
    let seen = wait_until(Duration::from_secs(5), || {
        let (frames, stopped) = read_file(&path);
        !stopped && frames.len() == 3
    });
    assert!(seen, "3 messages in the file before shutdown");
    assert_eq!(logger.stats().written, 3);
    drop(logger);
    assert!(read_file(&path).1, "STOP after shutdown");
}

#[test]
fn reopen_after_rename_starts_a_new_complete_file() {
    let dir = temp_dir("rotate");
    let path = dir.join("dnstap.tap");
    let rotated = dir.join("dnstap.tap.1");
    let log = LogLines::default();
    let logger = Logger::new(&file_options(&path, &log)).unwrap();
    log_sequence(&logger, 0..500);
    assert!(wait_until(Duration::from_secs(5), || logger
        .stats()
        .written
        == 500));
    std::fs::rename(&path, &rotated).unwrap();
    logger.reopen();
    assert!(
        wait_until(Duration::from_secs(5), || path.exists()),
        "{}",
        log.dump()
    );
    log_sequence(&logger, 500..1000);
    let stats = logger.shutdown();
    let (old, old_stopped) = read_file(&rotated);
    let (new, new_stopped) = read_file(&path);
    assert!(old_stopped && new_stopped, "each file is a complete stream");
    assert_eq!(old.len() + new.len(), stats.written as usize);
    assert_eq!(stats.written, 1000);
    assert_eq!(
        old.iter().map(|f| sequence(f)).collect::<Vec<_>>(),
        (0..500).collect::<Vec<_>>()
    );
    assert_eq!(stats.reconnects, 1);
}

#[test]
fn reopen_without_rename_keeps_the_file() {
    let dir = temp_dir("no-rotate");
    let path = dir.join("dnstap.tap");
    let log = LogLines::default();
    let logger = Logger::new(&file_options(&path, &log)).unwrap();
    log_sequence(&logger, 0..10);
    assert!(wait_until(Duration::from_secs(5), || logger
        .stats()
        .written
        == 10));
    logger.reopen();
    assert!(wait_until(Duration::from_secs(5), || log
        .containing("was not rotated")
        == 1));
    log_sequence(&logger, 10..20);
    let stats = logger.shutdown();
    let (frames, stopped) = read_file(&path);
    assert!(stopped);
    assert_eq!(frames.len(), 20, "nothing truncated");
    assert_eq!(stats.reconnects, 0);
}

#[test]
fn unopenable_file_fails_init_with_the_reason() {
    let dir = temp_dir("bad-file");
    let log = LogLines::default();
    let options = file_options(&dir.join("missing-dir").join("x.tap"), &log);
    let Err(Error::Io(reason)) = Logger::new(&options) else {
        panic!("init must fail")
    };
    assert!(
        reason.contains("missing-dir") && reason.contains("No such file"),
        "{reason}"
    );
}

#[test]
fn init_and_shutdown_repeat_with_several_loggers_alive() {
    let dir = temp_dir("many");
    let log = LogLines::default();
    for round in 0..10 {
        let loggers: Vec<Logger> = (0..3)
            .map(|i| Logger::new(&file_options(&dir.join(format!("{i}.tap")), &log)).unwrap())
            .collect();
        for (i, logger) in loggers.iter().enumerate() {
            log_sequence(logger, 0..(i as u32 + 1) * 10);
        }
        for (i, logger) in loggers.into_iter().enumerate() {
            let stats = logger.shutdown();
            assert_eq!(stats.written, (i as u64 + 1) * 10, "round {round}");
            assert_eq!(
                read_file(&dir.join(format!("{i}.tap"))).0.len(),
                (i + 1) * 10
            );
        }
    }
}

#[test]
fn sampling_keeps_one_in_n() {
    let dir = temp_dir("sample");
    let path = dir.join("sampled.tap");
    let log = LogLines::default();
    let mut options = file_options(&path, &log);
    options.set_sample_rate(10).unwrap();
    let logger = Logger::new(&options).unwrap();
    let outcomes: Vec<LogOutcome> = (0..100)
        .map(|n| logger.log(&client_query(n)).unwrap())
        .collect();
    let stats = logger.shutdown();
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == LogOutcome::Queued)
            .count(),
        10
    );
    assert_eq!(
        (stats.accepted, stats.sampled_out, stats.written),
        (10, 90, 10)
    );
    assert_eq!(read_file(&path).0.len(), 10);
}
