//! The inserting thread: each batch's inserts in turn, while the next
//! batch is encoded. A failed insert is tried again after a backoff that
//! doubles up to 5 s (`export::backoff`), at most `--max-retries` times, then its
//! rows are counted as dropped.
//!
//! No row goes in twice. Whether a failed insert went in is not known (the
//! server may have written the part and died before answering), so every
//! retry first asks: `SELECT count()` of the insert's `batch_id`. The
//! insert and that question share one `query_id`, which the server refuses
//! while a query of that id runs: an answer means the earlier attempt is
//! over, and the count is final. All rows there: done; none: insert again;
//! some (a table partitioned finer than by day, where one insert is two
//! parts): the missing ones are counted as dropped, never sent again.
//!
//! An insert given up after an attempt that reached the server (the
//! connection broke before the answer) may still be in the table: its rows
//! are counted as unsettled, and the same question is asked as soon as the
//! server answers again (after the next insert, and once at the end). Only
//! rows that are known not to be in the table are counted as dropped.

use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::thread;

use super::batcher::Unit;
use super::columns::Layout;
use super::counters::Counters;
use crate::clickhouse::{Error, Server};
use crate::export::backoff::backoff;
use crate::feed::{Committer, Mark};
use crate::report::report;

pub struct Sender {
    pub server: Server,
    pub layout: Arc<Layout>,
    pub counters: Arc<Counters>,
    pub max_retries: u32,
    /// Inserts given up that may be in the table.
    pub unsettled: Vec<Given>,
    /// Commits each batch's log records once it is inserted or given up.
    pub committer: Committer,
}

/// An insert given up, without its rows.
pub struct Given {
    day: u64,
    batch_id: u64,
    rows: u64,
}

impl Given {
    fn query_id(&self) -> String {
        format!("dnstap-kit-{:016x}", self.batch_id)
    }
}

/// How an attempt ended well.
enum Done {
    Inserted,
    /// An earlier attempt left this many rows.
    Found(u64),
}

impl Sender {
    /// Inserts every batch received, until the channel closes.
    pub fn run(mut self, batches: Receiver<(Vec<Unit>, Option<Mark>)>) {
        for (batch, mark) in batches {
            for unit in batch {
                self.deliver(&unit);
            }
            if let Some(mark) = mark {
                self.committer.commit(mark);
            }
        }
        self.settle();
    }

    fn deliver(&mut self, unit: &Unit) {
        let given = Given {
            day: unit.day,
            batch_id: unit.batch_id,
            rows: unit.rows,
        };
        let query_id = given.query_id();
        let mut last_error = None;
        let mut may_be_in = false;
        for attempt in 0..=self.max_retries {
            if attempt > 0 {
                Counters::add(&self.counters.retries, 1);
                thread::sleep(backoff(attempt));
            }
            match self.attempt(unit, &given, &query_id, attempt > 0) {
                Ok(done) => {
                    self.delivered(unit, &query_id, done, attempt);
                    return self.settle();
                }
                Err(err) => {
                    if attempt == 0 {
                        report!(
                            "dnstap-kit export: insert {query_id} ({} rows) failed: {err}; retrying",
                            unit.rows
                        );
                    }
                    may_be_in |= err.may_have_run();
                    last_error = Some(err);
                }
            }
        }
        let why = last_error.map_or_else(String::new, |err| err.to_string());
        if may_be_in {
            Counters::add(&self.counters.unsettled, unit.rows);
            report!(
                "dnstap-kit export: insert {query_id}: given up after {} retries: {why}; whether its {} rows went in is asked when the server answers again",
                self.max_retries,
                unit.rows
            );
            self.unsettled.push(given);
        } else {
            Counters::add(&self.counters.dropped, unit.rows);
            report!(
                "dnstap-kit export: insert {query_id}: {} rows dropped after {} retries: {why}",
                unit.rows,
                self.max_retries
            );
        }
    }

    /// Asks the server about the inserts given up that may be in the
    /// table, until one question goes unanswered.
    fn settle(&mut self) {
        let mut unsettled = std::mem::take(&mut self.unsettled).into_iter();
        for given in unsettled.by_ref() {
            let Ok(found) = self.rows_of(&given) else {
                self.unsettled.push(given);
                break;
            };
            let sent = found.min(given.rows);
            Counters::add(&self.counters.sent, sent);
            Counters::add(&self.counters.dropped, given.rows - sent);
            Counters::sub(&self.counters.unsettled, given.rows);
            if sent > 0 {
                Counters::add(&self.counters.batches, 1);
            }
            report!(
                "dnstap-kit export: insert {}, given up earlier: {sent} of its {} rows had gone in, the others are counted as dropped",
                given.query_id(),
                given.rows
            );
        }
        self.unsettled.extend(unsettled);
    }

    fn attempt(
        &self,
        unit: &Unit,
        given: &Given,
        query_id: &str,
        retry: bool,
    ) -> Result<Done, Error> {
        if retry {
            let found = self.rows_of(given)?;
            if found > 0 {
                return Ok(Done::Found(found));
            }
        }
        // One block, so one part, whatever the server's default block size.
        let block = unit.rows.to_string();
        let settings = [("query_id", query_id), ("max_insert_block_size", &block)];
        self.server
            .insert(&self.layout.insert, &unit.bytes, &settings)?;
        Ok(Done::Inserted)
    }

    /// How many rows of `unit` the table holds, asked under the insert's
    /// own `query_id` (see the module's comment).
    fn rows_of(&self, unit: &Given) -> Result<u64, Error> {
        // The day's bounds let the server read one partition only.
        let start = unit.day * 86_400;
        let sql = format!(
            "SELECT count() FROM {} WHERE batch_id = {} AND time >= toDateTime({start}) AND time < toDateTime({})",
            self.layout.table,
            unit.batch_id,
            start + 86_400
        );
        let answer = self.server.query(&sql, &[("query_id", &unit.query_id())])?;
        answer
            .trim()
            .parse()
            .map_err(|_| Error::Failed(format!("count(): unexpected answer {answer:?}")))
    }

    fn delivered(&self, unit: &Unit, query_id: &str, done: Done, attempt: u32) {
        let sent = match done {
            Done::Inserted => unit.rows,
            Done::Found(found) => found.min(unit.rows),
        };
        Counters::add(&self.counters.sent, sent);
        Counters::add(&self.counters.batches, 1);
        match done {
            Done::Inserted if attempt == 0 => {}
            Done::Inserted => {
                report!("dnstap-kit export: insert {query_id}: inserted after {attempt} retries")
            }
            Done::Found(_) if sent == unit.rows => report!(
                "dnstap-kit export: insert {query_id}: the failed attempt had inserted it; not sent again"
            ),
            Done::Found(_) => {
                Counters::add(&self.counters.dropped, unit.rows - sent);
                report!(
                    "dnstap-kit export: insert {query_id}: only {sent} of {} rows went in (is the table partitioned finer than by day?); the others are counted as dropped, not sent again",
                    unit.rows
                );
            }
        }
    }
}
