//! The bounded queue between the server's threads and the writer.
//!
//! Producers never block and never make a system call on the common path:
//! a message is copied in place into a preallocated ring of bytes after
//! one compare-and-swap ([`crate::ring`]; no allocation), the counters are
//! per thread and bumped without a locked instruction ([`crate::counters`]),
//! and the writer is woken only when it sleeps and the queue has reached a
//! threshold (otherwise its timer picks the messages up).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, Thread};
use std::time::Duration;

use crate::counters::{self, Striped};
use crate::record::{MAX_FRAME_SIZE, QueuedMessage, RecordHeader};
use crate::ring::Ring;

/// Ring bytes per message of `queue_capacity`: a record costs 104 bytes
/// plus its DNS messages, so a typical query or response fits in this.
pub const BYTES_PER_MESSAGE: usize = 256;
/// Pending bytes at which a producer wakes a sleeping writer.
const WAKE_BYTES_MAX: usize = 64 * 1024;

/// A thread's producer counters (accepted messages are counted by the ring).
#[derive(Default)]
struct ThreadCounts {
    dropped: AtomicU64,
    sampled_out: AtomicU64,
    sample_tick: AtomicU64,
}

/// Totals of the producer side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProducerTotals {
    pub accepted: u64,
    pub dropped: u64,
    pub sampled_out: u64,
}

pub struct Queue {
    ring: Ring<RecordHeader>,
    counts: Striped<ThreadCounts>,
    sample_rate: u64,
    wake_bytes: usize,
    writer_sleeping: AtomicBool,
    writer: OnceLock<Thread>,
}

impl Queue {
    /// Room for `capacity` typical messages ([`BYTES_PER_MESSAGE`] each,
    /// and always for the largest one); keeps 1 message in `sample_rate`.
    pub fn new(capacity: usize, sample_rate: u32) -> Queue {
        let ring = Ring::new(capacity.saturating_mul(BYTES_PER_MESSAGE), MAX_FRAME_SIZE);
        Queue {
            // Large enough that a busy server wakes the writer once per
            // batch, small enough that the queue never fills before it runs.
            wake_bytes: (ring.capacity() / 8).min(WAKE_BYTES_MAX),
            ring,
            counts: Striped::default(),
            sample_rate: sample_rate.max(1).into(),
            writer_sleeping: AtomicBool::new(false),
            writer: OnceLock::new(),
        }
    }

    /// Whether the calling thread's next message is kept by sampling; a
    /// skipped message is counted.
    #[inline]
    pub fn sample(&self) -> bool {
        self.sample_rate == 1 || self.sample_one_in_rate()
    }

    /// Out of line, so that without sampling the log call stays one
    /// function (callgrind: 14 instructions more per call otherwise).
    #[inline(never)]
    fn sample_one_in_rate(&self) -> bool {
        let slot = counters::slot();
        let keep = self.counts.bump(slot, |counts| &counts.sample_tick) % self.sample_rate == 0;
        if !keep {
            self.counts.bump(slot, |counts| &counts.sampled_out);
        }
        keep
    }

    /// Copies `message` into the queue, or drops it when the queue is full;
    /// counts either.
    #[inline]
    pub fn offer(&self, message: &QueuedMessage<'_>) -> bool {
        let Some(used) = self.ring.push(&message.header, &message.strings) else {
            self.counts.bump(counters::slot(), |counts| &counts.dropped);
            return false;
        };
        // `used` may be stale (too high); the exact figure costs a read of
        // the writer's cache line, so it is taken only when the writer sleeps.
        if used >= self.wake_bytes
            && self.writer_sleeping.load(Ordering::Relaxed)
            && self.ring.used() >= self.wake_bytes
            && self.writer_sleeping.swap(false, Ordering::AcqRel)
        {
            self.wake_writer();
        }
        true
    }

    /// Writer side: hands queued records to `visit` in order, about
    /// `budget` queue bytes at most; returns how many.
    pub fn consume(&self, budget: usize, visit: impl FnMut(RecordHeader, &[u8])) -> usize {
        self.ring.consume(budget, visit)
    }

    /// Removes everything queued; returns how many messages that was.
    pub fn discard(&self) -> u64 {
        let mut discarded = 0;
        while self.ring.consume(usize::MAX, |_, _| discarded += 1) > 0 {}
        discarded
    }

    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    pub fn totals(&self) -> ProducerTotals {
        ProducerTotals {
            accepted: self.ring.reserved(),
            dropped: self.counts.sum(|counts| &counts.dropped),
            sampled_out: self.counts.sum(|counts| &counts.sampled_out),
        }
    }

    /// Registers the thread that [`Queue::wait`] parks.
    pub fn set_writer(&self, writer: Thread) {
        let _ = self.writer.set(writer);
    }

    /// Wakes the writer if it waits (from any thread but a signal handler).
    pub fn wake_writer(&self) {
        if let Some(writer) = self.writer.get() {
            writer.unpark();
        }
    }

    /// Called by the writer: sleeps up to `timeout` unless the queue has
    /// reached the wake threshold. Producers wake it at the threshold.
    pub fn wait(&self, timeout: Duration) {
        self.writer_sleeping.store(true, Ordering::SeqCst);
        if self.ring.used() < self.wake_bytes {
            thread::park_timeout(timeout);
        }
        self.writer_sleeping.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::MessageFields;
    use std::sync::Arc;
    use std::time::Instant;

    fn query(body: &[u8]) -> QueuedMessage<'_> {
        MessageFields {
            message_type: 5,
            query_message: body,
            ..Default::default()
        }
        .validate(0)
        .unwrap()
    }

    #[test]
    fn full_queue_drops_and_counts() {
        let queue = Queue::new(1, 1);
        let body = vec![0u8; 60_000];
        let outcomes: Vec<bool> = (0..10).map(|_| queue.offer(&query(&body))).collect();
        let accepted = outcomes.iter().take_while(|&&queued| queued).count();
        assert!(accepted >= 2, "room for twice the largest record");
        assert!(
            outcomes[accepted..].iter().all(|&queued| !queued),
            "{outcomes:?}"
        );
        let totals = queue.totals();
        assert_eq!(
            (totals.accepted, totals.dropped),
            (accepted as u64, 10 - accepted as u64)
        );
        assert_eq!(
            queue.consume(usize::MAX, |_, payload| assert_eq!(payload.len(), 60_000)),
            accepted
        );
        assert!(queue.offer(&query(&body)), "room again once consumed");
        assert_eq!(queue.discard(), 1);
        assert!(queue.is_empty());
    }

    #[test]
    fn capacity_holds_that_many_typical_messages() {
        let queue = Queue::new(100_000, 1);
        let typical = [0u8; BYTES_PER_MESSAGE - 104];
        assert!((0..100_000).all(|_| queue.offer(&query(&typical))));
    }

    #[test]
    fn sampling_keeps_one_in_n_per_thread() {
        let queue = Arc::new(Queue::new(1000, 10));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let queue = Arc::clone(&queue);
                thread::spawn(move || (0..100).filter(|_| queue.sample()).count())
            })
            .collect();
        let kept: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(kept, 40);
        assert_eq!(queue.totals().sampled_out, 360);
    }

    #[test]
    fn counters_are_exact_under_contention() {
        let queue = Arc::new(Queue::new(10_000, 1));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let queue = Arc::clone(&queue);
                thread::spawn(move || {
                    (0..20_000).filter(|_| queue.offer(&query(b"abc"))).count() as u64
                })
            })
            .collect();
        let accepted: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        let totals = queue.totals();
        assert_eq!(totals.accepted, accepted);
        assert_eq!(totals.accepted + totals.dropped, 80_000);
        assert_eq!(queue.discard(), accepted);
    }

    #[test]
    fn producer_past_the_threshold_wakes_a_sleeping_writer() {
        let queue = Arc::new(Queue::new(64, 1));
        let writer = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                queue.set_writer(thread::current());
                let started = Instant::now();
                while queue.ring.used() < queue.wake_bytes {
                    queue.wait(Duration::from_secs(30));
                }
                started.elapsed()
            })
        };
        while queue.writer.get().is_none() || !queue.writer_sleeping.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(1));
        }
        let body = vec![0u8; 1000];
        while queue.ring.used() < queue.wake_bytes {
            assert!(queue.offer(&query(&body)));
        }
        assert!(writer.join().unwrap() < Duration::from_secs(20));
    }
}
