//! What an export into a log did, counted by the reading and the
//! publishing threads. At the end every record read is accounted for:
//! `records = sent + dropped + overflowed + buffered`.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default, Debug)]
pub struct Counters {
    /// Data frames read.
    pub records: AtomicU64,
    /// Records the log acknowledged.
    pub sent: AtomicU64,
    /// Records published again after a failed attempt (once per attempt).
    pub retried: AtomicU64,
    /// Records the log refused, or still unacknowledged when the export
    /// gave up (`--linger` after the input ended).
    pub dropped: AtomicU64,
    /// Records not kept because the buffer held `--buffer-records`.
    pub overflowed: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Records read and not yet sent, dropped nor overflowed.
    pub fn buffered(&self) -> u64 {
        let get = Counters::get;
        get(&self.records)
            .saturating_sub(get(&self.sent) + get(&self.dropped) + get(&self.overflowed))
    }

    /// `records=… sent=… retried=… dropped=… buffered=… overflowed=…`
    pub fn line(&self) -> String {
        let get = Counters::get;
        format!(
            "records={} sent={} retried={} dropped={} buffered={} overflowed={}",
            get(&self.records),
            get(&self.sent),
            get(&self.retried),
            get(&self.dropped),
            self.buffered(),
            get(&self.overflowed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_accounts_for_every_record() {
        let counters = Counters::default();
        Counters::add(&counters.records, 10);
        Counters::add(&counters.sent, 5);
        Counters::add(&counters.retried, 7);
        Counters::add(&counters.dropped, 1);
        Counters::add(&counters.overflowed, 2);
        assert_eq!(
            counters.line(),
            "records=10 sent=5 retried=7 dropped=1 buffered=2 overflowed=2"
        );
    }
}
