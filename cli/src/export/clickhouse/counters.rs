//! What an export did, counted by the reading and the inserting threads
//! and printed as one line of `name=value` pairs, at the end and every
//! `--stats-interval`. At the end every row is accounted for: `rows` is
//! `sent` plus `dropped` plus `unsettled` (rows that may or may not be in
//! the table: the server went away before it could tell).

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default, Debug)]
pub struct Counters {
    /// Data frames read.
    pub records: AtomicU64,
    /// Rows made of them (encoded into a batch).
    pub rows: AtomicU64,
    /// Frames that are not a `Dnstap` protobuf.
    pub unparsable: AtomicU64,
    /// Records without a message.
    pub not_message: AtomicU64,
    /// Rows the server holds.
    pub sent: AtomicU64,
    /// Inserts that the server holds (one per batch and UTC day).
    pub batches: AtomicU64,
    /// Attempts after a failed one.
    pub retries: AtomicU64,
    /// Rows given up after `--max-retries`, known not to be in the table.
    pub dropped: AtomicU64,
    /// Rows given up whose insert may have gone in; settled into `sent` or
    /// `dropped` when the server answers again.
    pub unsettled: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn sub(counter: &AtomicU64, n: u64) {
        counter.fetch_sub(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// `records=… rows=… sent=… pending=… batches=… retries=… dropped=…
    /// unsettled=… unparsable=… not_message=…`; `pending` rows are encoded
    /// and not yet inserted nor given up.
    pub fn line(&self) -> String {
        let get = Counters::get;
        let (rows, sent, dropped) = (get(&self.rows), get(&self.sent), get(&self.dropped));
        let unsettled = get(&self.unsettled);
        format!(
            "records={} rows={rows} sent={sent} pending={} batches={} retries={} dropped={dropped} unsettled={unsettled} unparsable={} not_message={}",
            get(&self.records),
            rows.saturating_sub(sent + dropped + unsettled),
            get(&self.batches),
            get(&self.retries),
            get(&self.unparsable),
            get(&self.not_message),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_accounts_for_every_row() {
        let counters = Counters::default();
        Counters::add(&counters.records, 12);
        Counters::add(&counters.rows, 10);
        Counters::add(&counters.sent, 6);
        Counters::add(&counters.dropped, 2);
        Counters::add(&counters.unsettled, 1);
        Counters::add(&counters.unparsable, 2);
        assert_eq!(
            counters.line(),
            "records=12 rows=10 sent=6 pending=1 batches=0 retries=0 dropped=2 unsettled=1 unparsable=2 not_message=0"
        );
    }
}
