//! Exporting into a replicated log, whatever the engine: frames read
//! (`feed`), each given an id and a key, queued in a bounded buffer
//! (`buffer`), published in batches by a thread of their own
//! (`publisher`: retries, outages, linger), counted (`counters`). An
//! engine's command (`export nats`, `export kafka`) adds its flags and
//! hands [`run`] its [`Producer`].

mod buffer;
mod counters;
mod key;
mod publisher;

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use self::buffer::{Buffer, Pending};
use self::counters::Counters;
pub use self::key::KeyChoice;
use self::publisher::Publisher;
use crate::exit;
use crate::export::stats;
use crate::feed::{self, Feed, Next};
use crate::log::Producer;
use crate::report::report;

/// The flags every log export shares.
#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub input: feed::Inputs,
    /// Records per publish request.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_records: u64,
    /// Publish a batch at the latest this long after its first record.
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_ms: u64,
    /// Records held while the log is unavailable (or slow); what comes
    /// beyond is counted as overflowed and not published.
    #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub buffer_records: u64,
    /// After the input ends (or SIGINT/SIGTERM), how long to keep retrying
    /// an unavailable log before counting what is left as dropped.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub linger: u64,
    /// Print the counters to stderr every SECS seconds (0: only at the end).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub stats_interval: u64,
}

/// How often the loop looks at the stop flag while no frame comes.
const TICK: Duration = Duration::from_millis(50);

/// Exports the inputs of `args` through `producer`, keyed by `key`;
/// `name` says which log in messages. Returns the exit code.
pub fn run(args: &ExportArgs, key: KeyChoice, producer: Box<dyn Producer>, name: &str) -> u8 {
    let mut feed = match Feed::start(&args.input, "dnstap-kit-export") {
        Ok(feed) => feed,
        Err(err) => {
            report!("dnstap-kit: {err}");
            return exit::FAILURE;
        }
    };
    let counters = Arc::new(Counters::default());
    let buffer = Arc::new(Buffer::new(args.buffer_records as usize));
    let publisher = Publisher {
        producer,
        buffer: Arc::clone(&buffer),
        counters: Arc::clone(&counters),
        committer: feed.committer(),
        batch_records: args.batch_records as usize,
        batch_age: Duration::from_millis(args.batch_ms),
        linger: Duration::from_secs(args.linger),
        name: name.to_string(),
    };
    let publishing = thread::spawn(move || publisher.run());
    let shown = Arc::clone(&counters);
    let (stats_done, reporting) = stats::report_every(args.stats_interval, move || shown.line());
    let mut next_id = 0u64;
    let mut overflowing = false;
    loop {
        match feed.next(TICK) {
            Next::Frame(frame) => {
                Counters::add(&counters.records, 1);
                next_id += 1;
                let record = Pending {
                    id: next_id,
                    key: key.key_of(&frame.payload),
                    value: frame.payload,
                    mark: frame.mark,
                };
                let kept = buffer.push(record);
                if !kept {
                    Counters::add(&counters.overflowed, 1);
                }
                if kept == overflowing {
                    overflowing = !kept;
                    report!(
                        "dnstap-kit export: {name}: the buffer {} ({} records)",
                        if overflowing {
                            "is full: new records are counted as overflowed"
                        } else {
                            "has room again"
                        },
                        args.buffer_records
                    );
                }
            }
            Next::Idle => {}
            Next::End => break,
        }
    }
    buffer.end();
    let published = publishing.join().is_ok();
    drop(stats_done);
    if let Some(reporting) = reporting {
        let _ = reporting.join();
    }
    report!("dnstap-kit export: {}", counters.line());
    let lost = Counters::get(&counters.dropped) + Counters::get(&counters.overflowed);
    feed.finish(!published || lost > 0)
}
