//! The Rust API: one logger = one queue, one writer thread, one sink.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::options::{LogFn, LogLevel, Options, emit};
use crate::queue::Queue;
use crate::record::{Message, MessageFields};
use crate::stats::{Stats, WriterCounters};
use crate::writer::{self, Output, WriterConfig};

/// Time the writer has at shutdown to write what is queued; STOP and
/// FINISH follow within one more second, so shutdown ends within ~2.5 s
/// even when the collector is stopped.
pub const DRAIN_BUDGET: Duration = Duration::from_millis(1500);

/// State shared by the producers, the writer and the owner.
pub(crate) struct Shared {
    pub queue: Queue,
    pub counters: WriterCounters,
    pub reopen: AtomicBool,
    drain_deadline: OnceLock<Instant>,
}

impl Shared {
    /// Set once shutdown has begun: the time by which the queue must be written.
    pub fn drain_deadline(&self) -> Option<Instant> {
        self.drain_deadline.get().copied()
    }
}

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
        let spec = options
            .sink
            .as_ref()
            .ok_or_else(|| Error::invalid("no sink is set"))?;
        let output = Output::new(spec, options.bidirectional)?;
        let shared = Arc::new(Shared {
            queue: Queue::new(options.queue_capacity as usize, options.sample_rate),
            counters: WriterCounters::default(),
            reopen: AtomicBool::new(false),
            drain_deadline: OnceLock::new(),
        });
        let config = WriterConfig {
            identity: options.identity.clone(),
            version: options.version.clone(),
            flush_interval: options.flush_interval,
            reconnect_max: options.reconnect_max,
            queue_capacity: options.queue_capacity,
            log: options.log.clone(),
        };
        let writer_shared = Arc::clone(&shared);
        let writer = thread::Builder::new()
            .name("dnstap-writer".into())
            .spawn(move || writer::run(writer_shared, config, output))
            .map_err(|err| Error::Thread(err.to_string()))?;
        shared.queue.set_writer(writer.thread().clone());
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
    pub(crate) fn log_message(&self, message: &Message<'_>) -> LogOutcome {
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
        let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            accepted: producers.accepted,
            dropped: producers.dropped,
            sampled_out: producers.sampled_out,
            written: load(&counters.written),
            lost: load(&counters.lost),
            bytes: load(&counters.bytes),
            reconnects: load(&counters.reconnects),
        }
    }

    /// Asks the writer to reopen the sink. Only stores a flag, so it is
    /// safe in a signal handler; the writer acts within 100 ms.
    pub fn reopen(&self) {
        self.shared.reopen.store(true, Ordering::Release);
    }

    /// Writes what is queued (within [`DRAIN_BUDGET`]), ends the stream,
    /// stops the writer, and returns the final counters, for which
    /// `accepted == written + lost` holds.
    pub fn shutdown(mut self) -> Stats {
        self.stop()
    }

    fn stop(&mut self) -> Stats {
        if let Some(writer) = self.writer.take() {
            let _ = self
                .shared
                .drain_deadline
                .set(Instant::now() + DRAIN_BUDGET);
            self.shared.queue.wake_writer();
            if writer.join().is_err() {
                emit(
                    &self.log,
                    LogLevel::DNSTAP_LOG_ERROR,
                    "the writer thread failed",
                );
            }
            let left = self.shared.queue.discard();
            self.shared.counters.add_lost(left);
            let stats = self.stats();
            emit(
                &self.log,
                LogLevel::DNSTAP_LOG_INFO,
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
