//! `dnstap-kit pdns ingest`: Frame Streams in (files, or standard input
//! behind `capture -w -`), passive DNS out. A thread reads frames (`feed`); this one
//! observes each record, merges the keys into a batch in memory and
//! commits the batch in one transaction when it holds `--batch` messages,
//! when it is `--flush-interval` old (a quiet stream still reaches the
//! database), at the end and on SIGINT/SIGTERM.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::aggregate::Batch;
use super::counters::Counters;
use super::events;
use super::observe::observe;
use super::store::{self, Backend};
use crate::exit;
use crate::feed::{self, Feed, Next};
use crate::report::report;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub input: feed::Inputs,
    /// The store: a SQLite file (created if missing), a PostgreSQL URL
    /// (`postgresql://user@/db?host=/run/postgresql`) or a ClickHouse
    /// database (`clickhouse://127.0.0.1:8123/db`).
    #[arg(long, value_name = "URL")]
    pub db: String,
    /// Also take FORWARDER_RESPONSE, its bailiwick being the forward zone
    /// (the forwarder vouches for everything below it).
    #[arg(long)]
    pub trust_forwarders: bool,
    /// Write an NDJSON event for every new key, and for every NS or DS
    /// RRset that replaces another, to FILE (appended) or `-` (stdout).
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// The sensor_id stored with new keys, instead of the dnstap identity.
    #[arg(long, value_name = "ID")]
    pub sensor_id: Option<String>,
    /// Messages per transaction.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
    /// Commit a batch at the latest this long after its first message.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub flush_interval: f64,
    /// Print the counters to stderr every SECS seconds (0: only at the end).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub stats_interval: u64,
}

/// The state of one ingest.
struct Ingest {
    args: Args,
    store: Box<dyn Backend>,
    events: Option<Box<dyn Write>>,
    batch: Batch,
    batch_started: Instant,
    counters: Counters,
}

impl Ingest {
    fn take(&mut self, payload: &[u8]) {
        self.counters.messages += 1;
        match observe(payload, self.args.trust_forwarders) {
            Ok(observation) => {
                if self.batch.is_empty() {
                    self.batch_started = Instant::now();
                }
                let observed = self.batch.add(&observation, self.args.sensor_id.as_deref());
                self.counters.use_message(&observation, observed);
            }
            Err(reason) => self.counters.discard(reason),
        }
    }

    /// Commits the batch, then writes its events.
    fn flush(&mut self) -> Result<(), String> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let added = store::merge(self.store.as_mut(), &self.batch)
            .map_err(|err| format!("storing a batch of {} messages: {err}", self.batch.messages))?;
        self.batch = Batch::default();
        self.counters.new_keys += added.len() as u64;
        if let Some(out) = &mut self.events {
            let mut text = String::new();
            events::write_events(&mut text, &added);
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|err| format!("writing events: {err}"))?;
        }
        Ok(())
    }

    fn batch_is_due(&self) -> bool {
        !self.batch.is_empty()
            && (self.batch.messages >= self.args.batch
                || self.batch_started.elapsed().as_secs_f64() >= self.args.flush_interval)
    }
}

/// How often the loop looks at the clock and the stop flag while no frame
/// comes.
const TICK: Duration = Duration::from_millis(100);

pub fn run(args: Args) -> u8 {
    let mut feed = match Feed::start(&args.input) {
        Ok(feed) => feed,
        Err(err) => {
            report!("dnstap-kit: {err}");
            return exit::FAILURE;
        }
    };
    let store = match store::open(&args.db, true) {
        Ok(store) => store,
        Err(err) => {
            report!("dnstap-kit: {}: {err}", args.db);
            return exit::FAILURE;
        }
    };
    let events = match args.events.as_deref().map(events::open).transpose() {
        Ok(events) => events,
        Err(err) => {
            report!("dnstap-kit: events: {err}");
            return exit::FAILURE;
        }
    };
    let stats_every = Duration::from_secs(args.stats_interval);
    let mut ingest = Ingest {
        args,
        store,
        events,
        batch: Batch::default(),
        batch_started: Instant::now(),
        counters: Counters::default(),
    };
    let mut last_stats = Instant::now();
    let mut result = Ok(());
    loop {
        match feed.next(TICK) {
            Next::Frame(payload) => ingest.take(&payload),
            Next::Idle => {}
            Next::End => break,
        }
        if ingest.batch_is_due() {
            result = ingest.flush();
            if result.is_err() {
                break;
            }
        }
        if !stats_every.is_zero() && last_stats.elapsed() >= stats_every {
            report!("dnstap-kit pdns: {}", ingest.counters.line());
            last_stats = Instant::now();
        }
    }
    if result.is_ok() {
        result = ingest.flush();
    }
    report!("dnstap-kit pdns: {}", ingest.counters.line());
    if let Err(err) = result {
        report!("dnstap-kit: {err}");
        return exit::FAILURE;
    }
    feed.exit_code()
}
