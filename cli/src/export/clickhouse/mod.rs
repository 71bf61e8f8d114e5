//! `dnstap-kit export clickhouse`: the query log into ClickHouse. Three
//! threads, each at its own pace: one reads frames (`feed`), this one
//! decodes records and encodes rows into a batch (`columns`, `batcher`),
//! and the sender inserts the previous batch meanwhile (`sender`: retries,
//! and the check that keeps a retried insert from going in twice). The table's columns are read from the server at the
//! start, waiting for a server that is not up yet.

mod batcher;
mod columns;
mod counters;
pub(crate) mod sender;

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use self::batcher::Batcher;
use self::columns::{Entry, Layout, Skip};
use self::counters::Counters;
use self::sender::Sender;
use crate::clickhouse::{self, Error, Server};
use crate::exit;
use crate::export::backoff::backoff;
use crate::export::stats;
use crate::feed::{self, Feed, Next};
use crate::report::report;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub input: feed::Inputs,
    /// The server's HTTP interface: `http://[user[:password]@]host:port`.
    #[arg(long, value_name = "URL")]
    pub url: String,
    #[arg(long, value_name = "NAME", default_value = "dnstap")]
    pub database: String,
    /// The query log table (`dnstap-kit schema clickhouse` prints its DDL).
    #[arg(long, value_name = "NAME", default_value = "messages")]
    pub table: String,
    /// Close a batch at this many rows.
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_rows: u64,
    /// Close a batch this long after its first row.
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_ms: u64,
    /// Retries of a failed insert (backoff from 0.1 s doubling up to 5 s)
    /// before its rows are counted as dropped.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_retries: u32,
    /// Print the counters to stderr every SECS seconds (0: only at the end).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub stats_interval: u64,
}

/// How often the loop looks at the clock and the stop flag while no frame
/// comes.
const TICK: Duration = Duration::from_millis(50);

/// The table's layout; while the server does not answer, waits (saying so
/// once), until it does or a signal stops the export.
fn wait_for_table(server: &Server, args: &Args, feed: &Feed) -> Result<Layout, String> {
    let mut attempt = 0;
    loop {
        match clickhouse::columns(server, &args.database, &args.table) {
            Ok(columns) => {
                if attempt > 0 {
                    report!("dnstap-kit export: ClickHouse at {} answers", args.url);
                }
                return Layout::new(&args.database, &args.table, &columns);
            }
            Err(err @ (Error::Refused | Error::Unreachable(_))) => {
                if attempt == 0 {
                    report!(
                        "dnstap-kit export: ClickHouse at {} is {err}; waiting for it",
                        args.url
                    );
                }
                attempt += 1;
                let until = Instant::now() + backoff(attempt);
                while Instant::now() < until {
                    if feed.stopping() {
                        return Err("stopped while waiting for ClickHouse".into());
                    }
                    thread::sleep(TICK);
                }
            }
            Err(Error::Failed(why)) => return Err(format!("{}: {why}", args.url)),
        }
    }
}

pub fn run(args: Args) -> u8 {
    let server = match Server::new(&args.url) {
        Ok(server) => server,
        Err(err) => {
            report!("dnstap-kit: {err}");
            return exit::FAILURE;
        }
    };
    let mut feed = match Feed::start(&args.input, "export-clickhouse") {
        Ok(feed) => feed,
        Err(err) => {
            report!("dnstap-kit: {err}");
            return exit::FAILURE;
        }
    };
    let layout = match wait_for_table(&server, &args, &feed) {
        Ok(layout) => Arc::new(layout),
        Err(err) => {
            report!("dnstap-kit: {err}");
            return exit::FAILURE;
        }
    };
    let counters = Arc::new(Counters::default());
    // One batch waits while one is inserted and the next is encoded.
    let (batches, received) = mpsc::sync_channel(1);
    let sender = Sender {
        server,
        layout: Arc::clone(&layout),
        counters: Arc::clone(&counters),
        max_retries: args.max_retries,
        unsettled: Vec::new(),
        committer: feed.committer(),
    };
    let inserting = thread::spawn(move || sender.run(received));
    let shown = Arc::clone(&counters);
    let (stats_done, reporting) = stats::report_every(args.stats_interval, move || shown.line());

    let mut batcher = Batcher::new(
        layout,
        args.batch_rows,
        Duration::from_millis(args.batch_ms),
    );
    let mut sender_alive = true;
    // The mark of the last frame in the batch: a log input's records are
    // committed once their batch is inserted (or given up).
    let mut mark = None;
    loop {
        match feed.next(TICK) {
            Next::Frame(frame) => {
                Counters::add(&counters.records, 1);
                mark = frame.mark.or(mark);
                match Entry::decode(&frame.payload) {
                    Ok(entry) => {
                        batcher.add(&entry);
                        Counters::add(&counters.rows, 1);
                    }
                    Err(Skip::Unparsable) => Counters::add(&counters.unparsable, 1),
                    Err(Skip::NotMessage) => Counters::add(&counters.not_message, 1),
                }
            }
            Next::Idle => {}
            Next::End => break,
        }
        if batcher.is_due() && batches.send((batcher.take(), mark.take())).is_err() {
            sender_alive = false;
            break;
        }
    }
    let last = batcher.take();
    if sender_alive && (!last.is_empty() || mark.is_some()) {
        let _ = batches.send((last, mark));
    }
    drop(batches);
    let sender_ended = inserting.join().is_ok();
    drop(stats_done);
    if let Some(reporting) = reporting {
        let _ = reporting.join();
    }
    report!("dnstap-kit export: {}", counters.line());
    let lost = Counters::get(&counters.dropped) + Counters::get(&counters.unsettled);
    feed.finish(!sender_ended || lost > 0)
}
