//! The records between the reading thread and the publishing one: a
//! bounded queue that rides out an outage of the log. What does not fit
//! is refused (counted as overflowed by the caller), so the newest records
//! are the ones lost, and the log keeps the order of the others.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::feed::Mark;

/// One record waiting to be published.
pub struct Pending {
    pub id: u64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    /// Where it came from, when that is a log: committed once it is sent.
    pub mark: Option<Mark>,
}

struct State {
    queue: VecDeque<Pending>,
    /// Records taken by the publisher and not yet settled.
    in_flight: usize,
    /// When the input ended: no more records come.
    ended: Option<Instant>,
    /// When the oldest queued record came.
    oldest: Instant,
}

pub struct Buffer {
    state: Mutex<State>,
    changed: Condvar,
    capacity: usize,
}

impl Buffer {
    pub fn new(capacity: usize) -> Buffer {
        Buffer {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                in_flight: 0,
                ended: None,
                oldest: Instant::now(),
            }),
            changed: Condvar::new(),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a record; false when the buffer is full.
    pub fn push(&self, record: Pending) -> bool {
        let mut state = self.lock();
        if state.queue.len() + state.in_flight >= self.capacity {
            return false;
        }
        if state.queue.is_empty() {
            state.oldest = Instant::now();
        }
        state.queue.push_back(record);
        self.changed.notify_one();
        true
    }

    /// No more records come.
    pub fn end(&self) {
        self.lock().ended.get_or_insert_with(Instant::now);
        self.changed.notify_one();
    }

    /// When the input ended, if it did.
    pub fn ended(&self) -> Option<Instant> {
        self.lock().ended
    }

    /// The next batch: `max` records, or fewer once the oldest waited
    /// `max_age` or the input ended. `None` when the input ended and
    /// everything was taken.
    pub fn take(&self, max: usize, max_age: Duration) -> Option<Vec<Pending>> {
        let mut state = self.lock();
        loop {
            let due = state.queue.len() >= max
                || (!state.queue.is_empty()
                    && (state.ended.is_some() || state.oldest.elapsed() >= max_age));
            if due {
                let n = state.queue.len().min(max);
                state.in_flight += n;
                let batch: Vec<Pending> = state.queue.drain(..n).collect();
                state.oldest = Instant::now();
                return Some(batch);
            }
            if state.queue.is_empty() && state.ended.is_some() {
                return None;
            }
            let wait = if state.queue.is_empty() {
                max_age
            } else {
                max_age.saturating_sub(state.oldest.elapsed())
            };
            state = self
                .changed
                .wait_timeout(state, wait.max(Duration::from_millis(1)))
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// A batch taken is sent or given up: its room is free again.
    pub fn settle(&self, n: usize) {
        self.lock().in_flight -= n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: u64) -> Pending {
        Pending {
            id,
            key: None,
            value: vec![],
            mark: None,
        }
    }

    #[test]
    fn bounded_batched_and_ended() {
        let buffer = Buffer::new(3);
        assert!(buffer.push(record(1)) && buffer.push(record(2)) && buffer.push(record(3)));
        assert!(!buffer.push(record(4)), "full");
        let batch = buffer.take(2, Duration::from_secs(60)).unwrap();
        assert_eq!(batch.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2]);
        assert!(!buffer.push(record(4)), "in flight still counts");
        buffer.settle(2);
        assert!(buffer.push(record(4)));
        // Not full and not old: waits for the age.
        let started = Instant::now();
        let batch = buffer.take(10, Duration::from_millis(50)).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(40));
        assert_eq!(batch.len(), 2);
        buffer.settle(2);
        buffer.end();
        assert!(buffer.take(10, Duration::from_secs(60)).is_none());
    }
}
