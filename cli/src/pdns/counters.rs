//! What an ingest did, counted: messages read and used, RRsets observed,
//! new keys, and every discard by its reason. Printed as one line of
//! `name=value` pairs, at the end and every `--stats-interval`.

use std::fmt::Write as _;

use super::bailiwick::Rejection;
use super::observe::{Discard, Observation};

#[derive(Default, Debug)]
pub struct Counters {
    /// Data frames read.
    pub messages: u64,
    /// Messages that passed every check.
    pub used: u64,
    /// Distinct keys per message, summed: each is one observation.
    pub rrsets: u64,
    /// Keys stored for the first time.
    pub new_keys: u64,
    discarded: [u64; Discard::ALL.len()],
    out_of_bailiwick: u64,
    off_chain: u64,
    not_class_in: u64,
}

impl Counters {
    pub fn discard(&mut self, reason: Discard) {
        self.discarded[reason as usize] += 1;
    }

    pub fn discarded(&self, reason: Discard) -> u64 {
        self.discarded[reason as usize]
    }

    /// Counts an accepted message and what the bailiwick rule set aside in it.
    pub fn use_message(&mut self, observation: &Observation, observed: u64) {
        self.used += 1;
        self.rrsets += observed;
        self.not_class_in += observation.not_internet;
        for rejection in &observation.rejected {
            match rejection {
                Rejection::OutOfBailiwick => self.out_of_bailiwick += 1,
                Rejection::OffChain => self.off_chain += 1,
            }
        }
    }

    /// `messages=… used=… rrsets=… new_keys=…`, then each message discard,
    /// then the RRset discards.
    pub fn line(&self) -> String {
        let mut line = format!(
            "messages={} used={} rrsets={} new_keys={}",
            self.messages, self.used, self.rrsets, self.new_keys
        );
        for reason in Discard::ALL {
            let _ = write!(line, " {}={}", reason.name(), self.discarded(reason));
        }
        let _ = write!(
            line,
            " rrsets_out_of_bailiwick={} rrsets_off_chain={} rrsets_not_class_in={}",
            self.out_of_bailiwick, self.off_chain, self.not_class_in
        );
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_own_counter() {
        let mut counters = Counters::default();
        for (n, reason) in Discard::ALL.into_iter().enumerate() {
            for _ in 0..=n {
                counters.discard(reason);
            }
        }
        let line = counters.line();
        for (n, reason) in Discard::ALL.into_iter().enumerate() {
            assert_eq!(counters.discarded(reason), n as u64 + 1);
            assert!(
                line.contains(&format!(" {}={} ", reason.name(), n + 1)),
                "{line}"
            );
        }
    }
}
