//! Producer counters that a log call bumps without a locked instruction.
//!
//! A locked increment (`lock inc`, what `fetch_add` compiles to) is a full
//! barrier: before it completes, the calling thread's earlier stores must
//! reach its cache, among them the ring's shared line that another core
//! holds. Under overload, when most calls are drops, that wait was the
//! largest single cost of a call (perf, ci/bench-lib with 2 producers).
//!
//! So each thread claims a slot of its own (process-wide, released when
//! the thread exits, then reusable), and counts in its slot with a plain
//! load and store. Threads beyond [`OWNED_SLOTS`] share one last slot and
//! count there with `fetch_add`.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

/// Slots that one thread owns at a time, a bit each in [`CLAIMED`]: more
/// than the threads of any server we patch log from (Knot runs two
/// workers per CPU), so that sharing stays the exception.
const OWNED_SLOTS: usize = 256;
/// Every slot: the owned ones, and the shared one after them.
const SLOTS: usize = OWNED_SLOTS + 1;
const SHARED_SLOT: usize = OWNED_SLOTS;

static CLAIMED: [AtomicU64; OWNED_SLOTS / 64] = [const { AtomicU64::new(0) }; OWNED_SLOTS / 64];

/// This thread's claim on a slot; gives it back when the thread exits.
struct Claim(usize);

impl Claim {
    fn new() -> Claim {
        for (index, word) in CLAIMED.iter().enumerate() {
            let mut claimed = word.load(Ordering::Relaxed);
            while claimed != u64::MAX {
                let bit = claimed.trailing_ones();
                // Acquire: the counts the slot's previous owner made are
                // seen before this thread adds to them.
                match word.compare_exchange_weak(
                    claimed,
                    claimed | 1 << bit,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Claim(index * 64 + bit as usize),
                    Err(now) => claimed = now,
                }
            }
        }
        Claim(SHARED_SLOT)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.0 != SHARED_SLOT {
            // Release: hands this thread's counts to the next owner.
            CLAIMED[self.0 / 64].fetch_and(!(1 << (self.0 % 64)), Ordering::Release);
        }
    }
}

thread_local! {
    static CLAIM: Claim = Claim::new();
}

/// The calling thread's slot; the shared one while its claim is being
/// destroyed (a log call from another thread-local's destructor).
#[inline]
pub fn slot() -> usize {
    CLAIM.try_with(|claim| claim.0).unwrap_or(SHARED_SLOT)
}

/// One `T` (a thread's set of counters) per slot, each on its own cache line.
pub struct Striped<T> {
    slots: Box<[CachePadded<T>]>,
}

impl<T: Default> Default for Striped<T> {
    fn default() -> Self {
        Striped {
            slots: (0..SLOTS).map(|_| CachePadded::new(T::default())).collect(),
        }
    }
}

impl<T> Striped<T> {
    /// Adds 1 to `counter` in the calling thread's `slot` (from [`slot`]);
    /// returns the value before.
    #[inline]
    pub fn bump(&self, slot: usize, counter: impl Fn(&T) -> &AtomicU64) -> u64 {
        let counter = counter(&self.slots[slot]);
        if slot == SHARED_SLOT {
            return counter.fetch_add(1, Ordering::Relaxed);
        }
        // Only this thread writes this counter while it owns the slot.
        let before = counter.load(Ordering::Relaxed);
        counter.store(before + 1, Ordering::Relaxed);
        before
    }

    /// The sum of `counter` over every slot.
    pub fn sum(&self, counter: impl Fn(&T) -> &AtomicU64) -> u64 {
        self.slots
            .iter()
            .map(|slot| counter(slot).load(Ordering::Relaxed))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    #[derive(Default)]
    struct Count(AtomicU64);

    /// Enough that threads sharing the last slot overlap in time.
    const BUMPS: u64 = 100_000;

    #[test]
    fn many_more_threads_than_slots_lose_no_count() {
        let counts = Arc::new(Striped::<Count>::default());
        // Waves of threads alive at once, more than the owned slots, so
        // some share and slots pass from exiting threads to new ones.
        for _ in 0..3 {
            let barrier = Arc::new(std::sync::Barrier::new(OWNED_SLOTS + 16));
            let threads: Vec<_> = (0..OWNED_SLOTS + 16)
                .map(|_| {
                    let (counts, barrier) = (Arc::clone(&counts), Arc::clone(&barrier));
                    thread::spawn(move || {
                        // Every thread claims before any exits and frees a slot.
                        let slot = slot();
                        barrier.wait();
                        for _ in 0..BUMPS {
                            counts.bump(slot, |count| &count.0);
                        }
                        slot
                    })
                })
                .collect();
            let sharing = threads
                .into_iter()
                .map(|thread| thread.join().unwrap())
                .filter(|&slot| slot == SHARED_SLOT)
                .count();
            // At least the 16 extra threads share; far from all of them,
            // so the slots of the last wave's threads were given back.
            assert!(
                (16..OWNED_SLOTS).contains(&sharing),
                "{sharing} threads in the shared slot"
            );
        }
        assert_eq!(
            counts.sum(|count| &count.0),
            3 * (OWNED_SLOTS as u64 + 16) * BUMPS
        );
    }

    #[test]
    fn a_thread_keeps_its_slot() {
        let first = slot();
        assert_eq!(slot(), first);
        let other = thread::spawn(slot).join().unwrap();
        assert!(other != first || first == SHARED_SLOT);
    }
}
