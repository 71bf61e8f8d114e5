//! A replicated log as an input of the reading commands: records polled
//! in order until the log has none for [`IDLE_END`] (or, with `--follow`,
//! until SIGINT/SIGTERM), riding out a log that is unavailable.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::export::backoff;
use crate::log::{self, Consumer, Incoming, LogUrl};
use crate::report::report;

/// Without `--follow`, a log with no new record for this long is read to
/// its end.
pub const IDLE_END: Duration = Duration::from_secs(1);
/// One poll's wait: how often the stop flag is looked at.
const POLL: Duration = Duration::from_millis(250);
/// Without `--follow`, a log unavailable this long is an error.
const GIVE_UP: Duration = Duration::from_secs(30);

/// The consumer name of a command: `--consumer`, else `dnstap-kit-<command>`.
pub fn consumer_name(given: Option<&str>, command: &str) -> String {
    given.map_or_else(|| format!("dnstap-kit-{command}"), str::to_string)
}

pub struct LogInput {
    pub url: LogUrl,
    consumer: Box<dyn Consumer>,
    /// With `--follow`: set on SIGINT/SIGTERM.
    follow: Option<Arc<AtomicBool>>,
    pub failed: bool,
    /// Since when polls brought nothing.
    idle_since: Instant,
}

/// Why a log input ended.
pub enum End {
    /// No record for [`IDLE_END`], or stopped by a signal.
    Read,
    /// Unavailable for [`GIVE_UP`] (without `--follow`).
    Failed,
}

impl LogInput {
    pub fn open(
        url: LogUrl,
        consumer: &str,
        follow: Option<Arc<AtomicBool>>,
    ) -> Result<LogInput, String> {
        let consumer = log::open_consumer(&url, consumer)?;
        Ok(LogInput {
            url,
            consumer,
            follow,
            failed: false,
            idle_since: Instant::now(),
        })
    }

    fn stopped(&self) -> bool {
        self.follow
            .as_ref()
            .is_some_and(|stop| stop.load(Ordering::Relaxed))
    }

    /// The next records, or none after a poll that brought none, so
    /// that the caller commits what it processed meanwhile (a consumer
    /// group's rebalance waits for those commits); `Err` at the end of
    /// the input.
    pub fn next(&mut self) -> Result<Vec<Incoming>, End> {
        let mut outage: Option<(Instant, u32)> = None;
        loop {
            if self.stopped() {
                return Err(End::Read);
            }
            match self.consumer.poll(POLL) {
                Ok(records) => {
                    if let Some((since, _)) = outage.take() {
                        report!(
                            "dnstap-kit: {}: available again after {:.1} s",
                            self.url.position_key(),
                            since.elapsed().as_secs_f64()
                        );
                        self.idle_since = Instant::now();
                    }
                    if !records.is_empty() {
                        self.idle_since = Instant::now();
                    } else if self.follow.is_none() && self.idle_since.elapsed() >= IDLE_END {
                        return Err(End::Read);
                    }
                    return Ok(records);
                }
                Err(err) => {
                    let (since, attempt) = outage.get_or_insert_with(|| {
                        report!("dnstap-kit: {}: {err}; retrying", self.url.position_key());
                        (Instant::now(), 0)
                    });
                    if self.follow.is_none() && since.elapsed() >= GIVE_UP {
                        report!(
                            "dnstap-kit: {}: unavailable for {GIVE_UP:?}: {err}",
                            self.url.position_key()
                        );
                        self.failed = true;
                        return Err(End::Failed);
                    }
                    *attempt += 1;
                    thread::sleep(backoff::backoff(*attempt).min(POLL * 4));
                }
            }
        }
    }

    /// Records up to `seq` are processed; a failure is reported (they
    /// are delivered again to the next consumer of this name).
    pub fn commit(&mut self, seq: u64) {
        if let Err(err) = self.consumer.commit(seq) {
            report!(
                "dnstap-kit: {}: commit: {err} (records since the last commit will be read again)",
                self.url.position_key()
            );
        }
    }
}
