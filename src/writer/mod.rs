//! The writer thread: drains the queue, encodes, writes, reconnects.
//!
//! It sleeps until the queue reaches the producers' wake threshold or a
//! short tick passes, then moves everything queued into one large buffer
//! per write. While a socket sink is down, messages stay queued (the queue
//! is the buffer; producers drop and count when it is full) and the writer
//! reconnects with capped exponential backoff. At shutdown it drains what
//! it can before a deadline, counts the rest as lost, and ends the stream.

mod batch;
mod context;
mod output;
mod shared;
mod socket;

use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};

use batch::Batch;
use context::{Context, Failure, REPORT_INTERVAL, WriterConfig};
use output::Output;
pub(crate) use shared::Shared;
use shared::{CLOSE_GRACE, FINISH_WAIT_MAX};

use crate::error::Error;
use crate::log::LogLevel;
use crate::options::Options;
use crate::queue::Queue;

/// Longest sleep: bounds the latency of `dnstap_reopen` (a flag set from a
/// signal handler) and of low-traffic flushes.
const TICK_MAX: Duration = Duration::from_millis(100);
/// Size at which a batch is written without draining more.
const BATCH_BYTES: usize = 256 * 1024;

/// Prepares the sink (a file is opened here, so that a bad path fails at
/// once; a socket is connected by the writer, which keeps retrying) and
/// starts the writer thread.
pub(crate) fn start(options: &Options) -> Result<(Arc<Shared>, JoinHandle<()>), Error> {
    let spec = options
        .sink
        .as_ref()
        .ok_or_else(|| Error::invalid("no sink is set"))?;
    let output = Output::new(spec, options.bidirectional, &options.tls)?;
    let shared = Arc::new(Shared::new(Queue::new(
        options.queue_capacity as usize,
        options.sample_rate,
    )));
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
        .spawn(move || run(writer_shared, config, output))
        .map_err(|err| Error::Thread(err.to_string()))?;
    shared.queue.set_writer(writer.thread().clone());
    Ok((shared, writer))
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
                LogLevel::Warning,
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

fn run(shared: Arc<Shared>, config: WriterConfig, mut output: Output) {
    block_signals();
    let ctx = Context::new(&config, &shared);
    let mut batch = Batch::new(&config.identity, &config.version);
    let mut drops = DropReport::default();
    let tick = config.flush_interval.min(TICK_MAX);
    loop {
        if shared.take_reopen_request() {
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
            LogLevel::Error,
            &format!("{left} messages lost at shutdown: the sink did not take them in time"),
        );
    }
    let now = Instant::now();
    output.close(
        ctx,
        (deadline.max(now) + CLOSE_GRACE).min(now + FINISH_WAIT_MAX),
    );
}
