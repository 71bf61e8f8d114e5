//! `dnstap-kit consume` (hidden, for the tests and the benchmark): the
//! records of a log, each value as a line of hex on standard output,
//! committed once the lines are flushed; it ends after `--idle-exit`
//! seconds without a record, or at `--max` records. The readers proper
//! (`read`, `check`, … with a `kafka://` input) take its place for users.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use crate::exit;
use crate::log::{Engine, LogUrl, kafka};
use crate::report::report;

#[derive(clap::Args)]
pub struct Args {
    /// `kafka://ADDR:PORT[,…]/TOPIC`.
    pub url: String,
    /// The consumer group: where it left off is where it starts.
    #[arg(long, value_name = "NAME")]
    pub consumer: String,
    /// End after this long without a record.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub idle_exit: u64,
    /// End after this many records (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max: u64,
    /// Only count the records (the benchmark): print the count at the end.
    #[arg(long)]
    pub count: bool,
}

const POLL: Duration = Duration::from_millis(500);

fn hex_line(out: &mut Vec<u8>, value: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in value {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 15)]);
    }
    out.push(b'\n');
}

pub fn run(args: Args) -> u8 {
    let consumer = match LogUrl::parse(&args.url) {
        Some(Ok(url)) if url.engine == Engine::Kafka => kafka::consumer(&url, &args.consumer),
        Some(Ok(_)) | None => Err(format!("{}: not a kafka:// URL", args.url)),
        Some(Err(err)) => Err(err),
    };
    let mut consumer = match consumer {
        Ok(consumer) => consumer,
        Err(err) => {
            report!("dnstap-kit: {err}");
            return exit::FAILURE;
        }
    };
    let stdout = io::stdout();
    let (mut total, mut last) = (0u64, Instant::now());
    let mut lines = Vec::new();
    while last.elapsed() < Duration::from_secs(args.idle_exit)
        && (args.max == 0 || total < args.max)
    {
        let records = match consumer.poll(POLL) {
            Ok(records) => records,
            Err(err) => {
                report!("dnstap-kit consume: {err}");
                std::thread::sleep(POLL);
                continue;
            }
        };
        let Some(seq) = records.last().map(|r| r.seq) else {
            continue;
        };
        last = Instant::now();
        total += records.len() as u64;
        if !args.count {
            lines.clear();
            for record in &records {
                hex_line(&mut lines, &record.value);
            }
            let mut out = stdout.lock();
            if out.write_all(&lines).and_then(|()| out.flush()).is_err() {
                return exit::FAILURE;
            }
        }
        // Committed only once printed: a consumer killed before this
        // line prints these records again after its restart.
        while let Err(err) = consumer.commit(seq) {
            report!("dnstap-kit consume: commit: {err}");
            std::thread::sleep(POLL);
        }
    }
    if args.count {
        println!("{total}");
    }
    exit::OK
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_print_as_hex_lines() {
        let mut out = Vec::new();
        super::hex_line(&mut out, &[0x00, 0xab, 0x7f]);
        assert_eq!(out, b"00ab7f\n");
    }
}
