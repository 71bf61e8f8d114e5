//! The writer thread: drains the queue, encodes, writes, reconnects.
//!
//! It sleeps until the queue reaches the producers' wake threshold or a
//! short tick passes, then moves everything queued into one large buffer
//! per write. While a socket sink is down, messages stay queued (the queue
//! is the buffer; producers drop and count when it is full) and the writer
//! reconnects with capped exponential backoff. At shutdown it drains what
//! it can before a deadline, counts the rest as lost, and ends the stream.

mod batch;
mod output;
mod socket;

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};

use batch::Batch;
pub(crate) use output::Output;

use crate::logger::Shared;
use crate::options::{LogFn, LogLevel, emit};
use crate::stats::WriterCounters;

/// Longest sleep: bounds the latency of `dnstap_reopen` (a flag set from a
/// signal handler) and of low-traffic flushes.
const TICK_MAX: Duration = Duration::from_millis(100);
/// Size at which a batch is written without draining more.
const BATCH_BYTES: usize = 256 * 1024;
/// Repeated failures and drops are reported at most this often.
const REPORT_INTERVAL: Duration = Duration::from_secs(10);
/// After the drain deadline, STOP and FINISH get this much more time.
const CLOSE_GRACE: Duration = Duration::from_millis(1000);
/// Longest wait for FINISH after STOP (Unbound waits 2 s too).
const FINISH_WAIT_MAX: Duration = Duration::from_secs(2);

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
    shared: &'a Shared,
    throttles: RefCell<[Throttle; FAILURE_KINDS]>,
}

impl Context<'_> {
    pub fn counters(&self) -> &WriterCounters {
        &self.shared.counters
    }

    pub fn log(&self, level: LogLevel, message: &str) {
        emit(&self.config.log, level, message);
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
            self.log(LogLevel::DNSTAP_LOG_WARNING, &format!("{message}{note}"));
        }
    }

    /// `deadline`, or earlier if shutdown has set a drain deadline.
    pub fn clamp(&self, deadline: Instant) -> Instant {
        self.shared
            .drain_deadline()
            .map_or(deadline, |drain| deadline.min(drain))
    }
}

fn block_signals() {
    // The host's signals belong to the host's threads. Faults stay
    // deliverable, so a crash here still reports as one.
    let mut set = SigSet::all();
    for fault in [
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGFPE,
        Signal::SIGILL,
        Signal::SIGABRT,
    ] {
        set.remove(fault);
    }
    let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
}

/// Reports queue-full drops once per interval; never from the hot path.
#[derive(Default)]
struct DropReport {
    reported: u64,
    last: Option<Instant>,
}

impl DropReport {
    fn check(&mut self, ctx: &Context<'_>) {
        let now = Instant::now();
        if self.last.is_some_and(|last| now < last + REPORT_INTERVAL) {
            return;
        }
        let dropped = ctx.shared.queue.totals().dropped;
        if dropped > self.reported {
            ctx.log(
                LogLevel::DNSTAP_LOG_WARNING,
                &format!(
                    "{} messages dropped since the last report: the queue of {} messages was full",
                    dropped - self.reported,
                    ctx.config.queue_capacity
                ),
            );
        }
        self.reported = dropped;
        self.last = Some(now);
    }
}

/// Moves queued records to the output in large writes until the queue is
/// empty, a write fails, or `until` passes; false if a write failed.
fn drain(
    ctx: &Context<'_>,
    output: &mut Output,
    batch: &mut Batch,
    until: Option<Instant>,
) -> bool {
    let queue = &ctx.shared.queue;
    loop {
        queue.consume(BATCH_BYTES, |header, payload| batch.push(&header, payload));
        if batch.is_empty() {
            return true;
        }
        let written = output.write(batch.bytes(), ctx);
        let settled = batch.settle(written.bytes);
        ctx.counters()
            .add_written(settled.written_frames, settled.written_bytes);
        ctx.counters().add_lost(settled.lost_frames);
        if let Some(err) = written.error {
            ctx.log_throttled(
                Failure::Write,
                &format!("write failed: {err}; {} messages lost", settled.lost_frames),
            );
            return false;
        }
        if until.is_some_and(|until| Instant::now() >= until) {
            return true;
        }
    }
}

pub(crate) fn run(shared: Arc<Shared>, config: WriterConfig, mut output: Output) {
    block_signals();
    let ctx = Context {
        config: &config,
        shared: &shared,
        throttles: RefCell::default(),
    };
    let mut batch = Batch::new(&config.identity, &config.version);
    let mut drops = DropReport::default();
    let tick = config.flush_interval.min(TICK_MAX);
    loop {
        if shared.reopen.swap(false, Ordering::AcqRel) {
            output.reopen(&ctx);
        }
        if let Some(deadline) = shared.drain_deadline() {
            return finish(&ctx, &mut output, &mut batch, deadline);
        }
        let writing = output.ready(&ctx) && drain(&ctx, &mut output, &mut batch, None);
        drops.check(&ctx);
        if writing && !shared.queue.is_empty() {
            continue;
        }
        let now = Instant::now();
        let sleep = output
            .next_attempt()
            .map_or(tick, |at| at.saturating_duration_since(now).min(tick));
        if writing {
            shared.queue.wait(sleep);
        } else {
            // A sink that is down or failing cannot take what producers
            // queue: waking on their threshold would spin until it is back.
            thread::park_timeout(sleep);
        }
    }
}

/// Shutdown: drain before `deadline`, count what is left as lost, end the stream.
fn finish(ctx: &Context<'_>, output: &mut Output, batch: &mut Batch, deadline: Instant) {
    let queue = &ctx.shared.queue;
    while !queue.is_empty() && Instant::now() < deadline {
        if output.ready(ctx) && drain(ctx, output, batch, Some(deadline)) {
            continue;
        }
        let retry = output.next_attempt().unwrap_or(deadline).min(deadline);
        thread::sleep(
            retry
                .saturating_duration_since(Instant::now())
                .min(TICK_MAX),
        );
    }
    let left = batch.settle(0).lost_frames + queue.discard();
    if left > 0 {
        ctx.counters().add_lost(left);
        ctx.log(
            LogLevel::DNSTAP_LOG_ERROR,
            &format!("{left} messages lost at shutdown: the sink did not take them in time"),
        );
    }
    let now = Instant::now();
    output.close(
        ctx,
        (deadline.max(now) + CLOSE_GRACE).min(now + FINISH_WAIT_MAX),
    );
}
