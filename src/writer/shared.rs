//! What the logger and the writer thread share: the queue producers fill,
//! the writer's counters, and the logger's requests (reopen, finish).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::queue::Queue;
use crate::stats::WriterCounters;

/// Time the writer has at shutdown to write what is queued; STOP and
/// FINISH follow within [`CLOSE_GRACE`], so shutdown ends within ~2.5 s
/// even when the collector is stopped.
const DRAIN_BUDGET: Duration = Duration::from_millis(1500);
/// After the drain deadline, STOP and FINISH get this much more time.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_millis(1000);
/// Longest wait for FINISH after STOP (Unbound waits 2 s too).
pub(crate) const FINISH_WAIT_MAX: Duration = Duration::from_secs(2);

pub(crate) struct Shared {
    pub queue: Queue,
    pub counters: WriterCounters,
    reopen: AtomicBool,
    drain_deadline: OnceLock<Instant>,
}

impl Shared {
    pub fn new(queue: Queue) -> Shared {
        Shared {
            queue,
            counters: WriterCounters::default(),
            reopen: AtomicBool::new(false),
            drain_deadline: OnceLock::new(),
        }
    }

    /// Asks the writer to reopen the sink. Only stores a flag, so it is
    /// safe in a signal handler; the writer acts at its next tick.
    pub fn request_reopen(&self) {
        self.reopen.store(true, Ordering::Release);
    }

    /// Starts the shutdown: the writer drains the queue for at most
    /// [`DRAIN_BUDGET`], ends the stream and returns.
    pub fn request_finish(&self) {
        let _ = self.drain_deadline.set(Instant::now() + DRAIN_BUDGET);
        self.queue.wake_writer();
    }

    /// Whether a reopen was asked for since the last call.
    pub fn take_reopen_request(&self) -> bool {
        self.reopen.swap(false, Ordering::AcqRel)
    }

    /// Set once shutdown has begun: the time by which the queue must be written.
    pub fn drain_deadline(&self) -> Option<Instant> {
        self.drain_deadline.get().copied()
    }
}
