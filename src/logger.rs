//! The Rust API: one logger = one queue, one writer thread, one sink.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use crate::error::Error;
use crate::log::{LogFn, LogLevel, log_line};
use crate::options::Options;
use crate::record::{MessageFields, QueuedMessage};
use crate::stats::Stats;
use crate::writer::{self, Shared};

/// What became of a message handed to [`Logger::log`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogOutcome {
    Queued,
    /// The queue was full; counted in `dropped`.
    Dropped,
    /// Skipped by sampling; counted in `sampled_out`.
    SampledOut,
}

pub struct Logger {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
    log: Option<LogFn>,
    /// Bytes every record carries besides the message: identity and version.
    envelope: usize,
}

impl Logger {
    /// Opens the sink (a file at once, a socket from the writer thread,
    /// which keeps retrying) and starts the writer thread.
    pub fn new(options: &Options) -> Result<Logger, Error> {
        let (shared, writer) = writer::start(options)?;
        Ok(Logger {
            shared,
            writer: Some(writer),
            log: options.log.clone(),
            envelope: options.identity.len() + options.version.len(),
        })
    }

    /// Validates and copies `fields` and queues them; never blocks.
    pub fn log(&self, fields: &MessageFields<'_>) -> Result<LogOutcome, Error> {
        Ok(self.log_message(&fields.validate(self.envelope)?))
    }

    /// Queues a validated message; never blocks.
    #[inline]
    pub(crate) fn log_message(&self, message: &QueuedMessage<'_>) -> LogOutcome {
        let queue = &self.shared.queue;
        if !queue.sample() {
            LogOutcome::SampledOut
        } else if queue.offer(message) {
            LogOutcome::Queued
        } else {
            LogOutcome::Dropped
        }
    }

    /// Bytes every record carries besides the message: identity and version.
    pub(crate) fn envelope(&self) -> usize {
        self.envelope
    }

    pub fn stats(&self) -> Stats {
        let producers = self.shared.queue.totals();
        let counters = &self.shared.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            accepted: producers.accepted,
            dropped: producers.dropped,
            sampled_out: producers.sampled_out,
            written: load(&counters.written),
            lost: load(&counters.lost),
            bytes: load(&counters.bytes),
            reconnects: load(&counters.reconnects),
            failed_connects: load(&counters.failed_connects),
        }
    }

    /// Asks the writer to reopen the sink. Only stores a flag, so it is
    /// safe in a signal handler; the writer acts within 100 ms.
    pub fn reopen(&self) {
        self.shared.request_reopen();
    }

    /// Writes what is queued (for at most 1.5 s), ends the stream,
    /// stops the writer, and returns the final counters, for which
    /// `accepted == written + lost` holds.
    pub fn shutdown(mut self) -> Stats {
        self.stop()
    }

    fn stop(&mut self) -> Stats {
        if let Some(writer) = self.writer.take() {
            self.shared.request_finish();
            if writer.join().is_err() {
                log_line(&self.log, LogLevel::Error, "the writer thread failed");
            }
            let left = self.shared.queue.discard();
            self.shared.counters.add_lost(left);
            let stats = self.stats();
            log_line(
                &self.log,
                LogLevel::Info,
                &format!(
                    "closed: {} messages accepted, {} written, {} lost, {} dropped (queue full), {} sampled out",
                    stats.accepted, stats.written, stats.lost, stats.dropped, stats.sampled_out
                ),
            );
        }
        self.stats()
    }
}

impl Drop for Logger {
    fn drop(&mut self) {
        self.stop();
    }
}
