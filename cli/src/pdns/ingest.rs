//! `dnstap-kit pdns ingest`: Frame Streams in (files, or standard input
//! behind `capture -w -`), passive DNS out. A thread reads frames (`feed`); this one
//! observes each record, merges the keys into a batch in memory and
//! commits the batch in one transaction when it holds `--batch` messages,
//! when it is `--flush-interval` old (a quiet stream still reaches the
//! database), at the end and on SIGINT/SIGTERM.
//!
//! From a log (`kafka://…`, `nats://…`), exactly once into SQLite and
//! PostgreSQL: each batch's transaction also moves the log position it
//! reached (`pdns_log_position`, per log, consumer and partition), records
//! at or below the stored position are skipped, and the log is committed
//! only after the transaction. A record delivered again after a crash is
//! thus counted once. The move is made only from the position the batch
//! found: when another process of a Kafka group stored the same records
//! meanwhile (a partition handed over while this batch was on its way),
//! the batch is not stored and the ingest stops with an error; run again,
//! it goes on from the stored positions. ClickHouse has no transactions:
//! at-least-once there.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::aggregate::Batch;
use super::counters::Counters;
use super::events;
use super::observe::observe;
use super::store::{self, Backend, LogPosition, PositionMove};
use crate::exit;
use crate::feed::{self, Committer, Feed, Frame, Mark, Next};
use crate::log_input;
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
    logs: LogState,
}

/// Where the log inputs stand.
struct LogState {
    consumer: String,
    committer: Committer,
    /// The (log, partition)s whose stored position is loaded for this
    /// batch: again for each batch, since a partition may have been another
    /// process's in between (consumers of a group share the partitions).
    loaded: HashSet<(String, u32)>,
    /// The stored positions loaded for this batch: (log, partition) to
    /// offset; where the batch's moves start from.
    stored: HashMap<(String, u32), u64>,
    /// Positions the batch reaches.
    reached: HashMap<(String, u32), u64>,
    /// The mark of the batch's last log record.
    mark: Option<Mark>,
    /// Log records in the batch, and those skipped as already stored.
    records: u64,
    skipped: u64,
}

impl LogState {
    /// Whether a log record is new to the store; remembers how far the
    /// batch reaches.
    fn is_new(&mut self, store: &mut dyn Backend, log: &str, mark: Mark) -> Result<bool, String> {
        self.mark = Some(mark);
        self.records += 1;
        if !store.keeps_positions() {
            return Ok(true);
        }
        let key = (log.to_string(), mark.position.partition);
        if self.loaded.insert(key.clone()) {
            let stored = store
                .positions(log, &self.consumer)
                .map_err(|err| format!("reading the positions of {log}: {err}"))?;
            if let Some(p) = stored.iter().find(|p| p.partition == key.1) {
                self.stored.insert(key.clone(), p.offset);
            }
        }
        if self
            .stored
            .get(&key)
            .is_some_and(|&offset| mark.position.offset <= offset)
        {
            self.skipped += 1;
            return Ok(false);
        }
        self.reached.insert(key, mark.position.offset);
        Ok(true)
    }

    fn positions(&self) -> Vec<PositionMove> {
        self.reached
            .iter()
            .map(|(key, &offset)| PositionMove {
                to: LogPosition {
                    log: key.0.clone(),
                    consumer: self.consumer.clone(),
                    partition: key.1,
                    offset,
                },
                from: self.stored.get(key).copied(),
            })
            .collect()
    }

    /// The batch is stored: its positions are, and the log may forget
    /// its records.
    fn stored(&mut self) {
        // Loaded again with the next batch (another process may move them).
        self.stored.clear();
        self.reached.clear();
        self.loaded.clear();
        if let Some(mark) = self.mark.take() {
            self.committer.commit(mark);
        }
        self.records = 0;
    }
}

impl Ingest {
    fn take(&mut self, frame: Frame, log: Option<&str>) -> Result<(), String> {
        if self.batch.is_empty() && self.logs.records == 0 {
            self.batch_started = Instant::now();
        }
        if let (Some(mark), Some(log)) = (frame.mark, log)
            && !self.logs.is_new(self.store.as_mut(), log, mark)?
        {
            return Ok(());
        }
        self.counters.messages += 1;
        match observe(&frame.payload, self.args.trust_forwarders) {
            Ok(observation) => {
                let observed = self.batch.add(&observation, self.args.sensor_id.as_deref());
                self.counters.use_message(&observation, observed);
            }
            Err(reason) => self.counters.discard(reason),
        }
        Ok(())
    }

    /// Commits the batch (and the log positions it reaches), then writes
    /// its events and commits to the log.
    fn flush(&mut self) -> Result<(), String> {
        if self.batch.is_empty() && self.logs.reached.is_empty() {
            self.logs.stored();
            return Ok(());
        }
        let added = store::merge(self.store.as_mut(), &self.batch, &self.logs.positions())
            .map_err(|err| format!("storing a batch of {} messages: {err}", self.batch.messages))?;
        self.batch = Batch::default();
        self.logs.stored();
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
        let held = self.batch.messages.max(self.logs.records);
        held > 0
            && (held >= self.args.batch
                || self.batch_started.elapsed().as_secs_f64() >= self.args.flush_interval)
    }
}

/// How often the loop looks at the clock and the stop flag while no frame
/// comes.
const TICK: Duration = Duration::from_millis(100);

pub fn run(args: Args) -> u8 {
    let mut feed = match Feed::start(&args.input, "pdns-ingest") {
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
    let logs = LogState {
        consumer: log_input::consumer_name(args.input.consumer.as_deref(), "pdns-ingest"),
        committer: feed.committer(),
        loaded: HashSet::new(),
        stored: HashMap::new(),
        reached: HashMap::new(),
        mark: None,
        records: 0,
        skipped: 0,
    };
    let mut ingest = Ingest {
        args,
        store,
        events,
        batch: Batch::default(),
        batch_started: Instant::now(),
        counters: Counters::default(),
        logs,
    };
    let mut last_stats = Instant::now();
    let mut result = Ok(());
    loop {
        match feed.next(TICK) {
            Next::Frame(frame) => {
                let log = frame.mark.map(|mark| feed.log_of(&mark).to_string());
                result = ingest.take(frame, log.as_deref());
                if result.is_err() {
                    break;
                }
            }
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
    if ingest.logs.skipped > 0 {
        report!(
            "dnstap-kit pdns: {} records from logs were stored already (delivered again): skipped",
            ingest.logs.skipped
        );
    }
    drop(ingest);
    if let Err(err) = &result {
        report!("dnstap-kit: {err}");
    }
    feed.finish(result.is_err())
}
