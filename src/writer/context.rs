//! What the writer's parts share while it runs: the settings, the state
//! shared with the logger, and log lines, throttled when they repeat.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use super::shared::Shared;
use crate::log::{LogFn, LogLevel, log_line};
use crate::stats::WriterCounters;

/// Repeated failures and drops are reported at most this often.
pub(crate) const REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// The settings the writer takes from the logger's options.
pub(crate) struct WriterConfig {
    pub identity: Vec<u8>,
    pub version: Vec<u8>,
    pub flush_interval: Duration,
    pub reconnect_max: Duration,
    pub queue_capacity: u32,
    pub log: Option<LogFn>,
}

/// Limits a repeating message to one line per interval, with a count.
#[derive(Default)]
struct Throttle {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    /// The number of suppressed repeats if a line is due now.
    fn due(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self.last.is_some_and(|last| now < last + REPORT_INTERVAL) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// The failures that repeat with every retry, each limited on its own so
/// that one does not hide another.
#[derive(Clone, Copy)]
pub(crate) enum Failure {
    OpenFile,
    Write,
    Connect,
    ShortConnection,
}

const FAILURE_KINDS: usize = Failure::ShortConnection as usize + 1;

/// What the outputs need from the writer.
pub(crate) struct Context<'a> {
    pub config: &'a WriterConfig,
    pub shared: &'a Shared,
    throttles: RefCell<[Throttle; FAILURE_KINDS]>,
}

impl<'a> Context<'a> {
    pub fn new(config: &'a WriterConfig, shared: &'a Shared) -> Context<'a> {
        Context {
            config,
            shared,
            throttles: RefCell::default(),
        }
    }

    pub fn counters(&self) -> &WriterCounters {
        &self.shared.counters
    }

    pub fn log(&self, level: LogLevel, message: &str) {
        log_line(&self.config.log, level, message);
    }

    /// A warning that may repeat with every retry: one line per interval
    /// and kind of failure.
    pub fn log_throttled(&self, failure: Failure, message: &str) {
        let due = self.throttles.borrow_mut()[failure as usize].due();
        if let Some(suppressed) = due {
            let note = match suppressed {
                0 => String::new(),
                n => format!(" ({n} similar failures since the last report)"),
            };
            self.log(LogLevel::Warning, &format!("{message}{note}"));
        }
    }

    /// `deadline`, or earlier if shutdown has set a drain deadline.
    pub fn clamp(&self, deadline: Instant) -> Instant {
        self.shared
            .drain_deadline()
            .map_or(deadline, |drain| deadline.min(drain))
    }
}
