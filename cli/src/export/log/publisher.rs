//! The publishing thread: batches from the buffer to the log, each tried
//! until the log acknowledges it. While the log is unavailable the same
//! batch is retried with capped backoff (the buffer fills meanwhile), with
//! one log line when the log goes away and one when it is back. A batch
//! the log refuses is dropped. Once the input has ended, the export gives
//! up after `--linger`, counting what is left as dropped.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::buffer::{Buffer, Pending};
use super::counters::Counters;
use crate::export::backoff::backoff;
use crate::feed::Committer;
use crate::log::{LogError, Outgoing, Producer};
use crate::report::report;

pub struct Publisher {
    pub producer: Box<dyn Producer>,
    pub buffer: Arc<Buffer>,
    pub counters: Arc<Counters>,
    pub committer: Committer,
    pub batch_records: usize,
    pub batch_age: Duration,
    pub linger: Duration,
    /// What the log is, in messages.
    pub name: String,
}

/// How a batch ended.
enum Outcome {
    Sent,
    Dropped(String),
}

impl Publisher {
    pub fn run(mut self) {
        let mut outage: Option<Instant> = None;
        while let Some(batch) = self.buffer.take(self.batch_records, self.batch_age) {
            let n = batch.len() as u64;
            match self.deliver(&batch, &mut outage) {
                Outcome::Sent => {
                    Counters::add(&self.counters.sent, n);
                    if let Some(mark) = batch.iter().rev().find_map(|r| r.mark) {
                        self.committer.commit(mark);
                    }
                }
                Outcome::Dropped(why) => {
                    Counters::add(&self.counters.dropped, n);
                    report!(
                        "dnstap-kit export: {}: {n} records dropped: {why}",
                        self.name
                    );
                }
            }
            self.buffer.settle(batch.len());
        }
    }

    /// Publishes `batch` until it is acknowledged, refused, or the linger
    /// after the input's end is over.
    fn deliver(&mut self, batch: &[Pending], outage: &mut Option<Instant>) -> Outcome {
        let records: Vec<Outgoing<'_>> = batch
            .iter()
            .map(|r| Outgoing {
                id: r.id,
                key: r.key.as_deref(),
                value: &r.value,
            })
            .collect();
        let mut attempt = 0;
        loop {
            if let Some(ended) = self.buffer.ended()
                && attempt > 0
                && ended.elapsed() >= self.linger
            {
                return Outcome::Dropped(format!(
                    "still unavailable {:?} after the input ended",
                    self.linger
                ));
            }
            if attempt > 0 {
                Counters::add(&self.counters.retried, records.len() as u64);
            }
            match self.producer.publish(&records) {
                Ok(()) => {
                    if let Some(since) = outage.take() {
                        report!(
                            "dnstap-kit export: {} is back after {:.1} s; {} records buffered",
                            self.name,
                            since.elapsed().as_secs_f64(),
                            self.counters.buffered()
                        );
                    }
                    return Outcome::Sent;
                }
                Err(LogError::Refused(why)) => return Outcome::Dropped(why),
                Err(LogError::Unavailable(why)) => {
                    if outage.is_none() {
                        *outage = Some(Instant::now());
                        report!(
                            "dnstap-kit export: {} is unavailable ({why}); buffering, retrying",
                            self.name
                        );
                    }
                    attempt += 1;
                    thread::sleep(backoff(attempt));
                }
            }
        }
    }
}
