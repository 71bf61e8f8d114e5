//! The bounded queue between the server's threads and the writer.
//!
//! Producers never block and never make a system call on the common path:
//! a push is a compare-and-swap on a preallocated ring (crossbeam's
//! `ArrayQueue`), the counters are striped per thread so that workers do not
//! share a cache line, and the writer is woken only when it sleeps and the
//! queue has reached a threshold (otherwise its timer picks the messages up).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, Thread};
use std::time::Duration;

use crossbeam_queue::ArrayQueue;
use crossbeam_utils::CachePadded;

use crate::record::Record;

const STRIPES: usize = 16;

/// Per-stripe producer counters.
#[derive(Default)]
struct Stripe {
    accepted: AtomicU64,
    dropped: AtomicU64,
    sampled_out: AtomicU64,
    sample_tick: AtomicU64,
}

fn stripe_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    INDEX.with(|index| *index)
}

/// Totals of the producer side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProducerTotals {
    pub accepted: u64,
    pub dropped: u64,
    pub sampled_out: u64,
}

pub struct Queue {
    ring: ArrayQueue<Record>,
    stripes: Box<[CachePadded<Stripe>]>,
    sample_rate: u64,
    wake_threshold: usize,
    writer_sleeping: AtomicBool,
    writer: OnceLock<Thread>,
}

impl Queue {
    /// `capacity` ≥ 1 messages; keeps 1 message in `sample_rate` (≥ 1).
    pub fn new(capacity: usize, sample_rate: u32) -> Queue {
        Queue {
            ring: ArrayQueue::new(capacity.max(1)),
            stripes: (0..STRIPES)
                .map(|_| CachePadded::new(Stripe::default()))
                .collect(),
            sample_rate: sample_rate.max(1).into(),
            // Large enough that a busy server wakes the writer once per
            // batch, small enough that the queue never fills before it runs.
            wake_threshold: (capacity / 8).clamp(1, 256),
            writer_sleeping: AtomicBool::new(false),
            writer: OnceLock::new(),
        }
    }

    /// Whether the calling thread's next message is kept by sampling; a
    /// skipped message is counted.
    pub fn sample(&self) -> bool {
        if self.sample_rate == 1 {
            return true;
        }
        let stripe = &self.stripes[stripe_index()];
        let keep = stripe.sample_tick.fetch_add(1, Ordering::Relaxed) % self.sample_rate == 0;
        if !keep {
            stripe.sampled_out.fetch_add(1, Ordering::Relaxed);
        }
        keep
    }

    /// Queues `record`, or drops it when the queue is full; counts either.
    pub fn offer(&self, record: Record) -> bool {
        let stripe = &self.stripes[stripe_index()];
        if self.ring.push(record).is_err() {
            stripe.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        stripe.accepted.fetch_add(1, Ordering::Relaxed);
        if self.writer_sleeping.load(Ordering::Relaxed)
            && self.ring.len() >= self.wake_threshold
            && self.writer_sleeping.swap(false, Ordering::AcqRel)
        {
            self.wake_writer();
        }
        true
    }

    pub fn pop(&self) -> Option<Record> {
        self.ring.pop()
    }

    pub fn len(&self) -> usize {
        self.ring.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    pub fn totals(&self) -> ProducerTotals {
        self.stripes
            .iter()
            .fold(ProducerTotals::default(), |sum, stripe| ProducerTotals {
                accepted: sum.accepted + stripe.accepted.load(Ordering::Relaxed),
                dropped: sum.dropped + stripe.dropped.load(Ordering::Relaxed),
                sampled_out: sum.sampled_out + stripe.sampled_out.load(Ordering::Relaxed),
            })
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
        if self.ring.len() < self.wake_threshold {
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

    fn record() -> Record {
        Record::copy(&MessageFields {
            message_type: 5,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn full_queue_drops_and_counts() {
        let queue = Queue::new(3, 1);
        let outcomes: Vec<bool> = (0..5).map(|_| queue.offer(record())).collect();
        assert_eq!(outcomes, [true, true, true, false, false]);
        assert_eq!(
            queue.totals(),
            ProducerTotals {
                accepted: 3,
                dropped: 2,
                sampled_out: 0
            }
        );
        assert!(queue.pop().is_some());
        assert!(queue.offer(record()));
        assert_eq!(queue.len(), 3);
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
        let queue = Arc::new(Queue::new(50_000, 1));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let queue = Arc::clone(&queue);
                thread::spawn(move || (0..20_000).filter(|_| queue.offer(record())).count() as u64)
            })
            .collect();
        let accepted: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        let totals = queue.totals();
        assert_eq!(totals.accepted, accepted);
        assert_eq!(totals.accepted + totals.dropped, 80_000);
        assert_eq!(totals.accepted, 50_000);
    }

    #[test]
    fn producer_at_threshold_wakes_a_sleeping_writer() {
        let queue = Arc::new(Queue::new(16, 1));
        let writer = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                queue.set_writer(thread::current());
                let started = Instant::now();
                while queue.len() < 2 {
                    queue.wait(Duration::from_secs(30));
                }
                started.elapsed()
            })
        };
        while queue.writer.get().is_none() || !queue.writer_sleeping.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(1));
        }
        queue.offer(record());
        queue.offer(record());
        assert!(writer.join().unwrap() < Duration::from_secs(20));
    }
}
