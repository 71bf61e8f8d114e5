//! `dnstap-kit read`: prints dnstap files as text, YAML or JSON.
//!
//! Every complete frame is printed. A frame that is not a `Dnstap`
//! protobuf is reported on stderr with its number and skipped (exit
//! FAILURE at the end); a stream without STOP, or cut inside a frame, is
//! reported once its frames are printed (exit TRUNCATED); a stream whose
//! START names another content type is an error (exit FAILURE).

use std::io::{self, BufWriter, ErrorKind, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use crate::decode::{self, Format};
use crate::exit;
use crate::input::{self, Outcome};
use crate::log::LogUrl;
use crate::log_input::{self, LogInput};
use crate::report::report;

#[derive(clap::Args)]
pub struct Args {
    /// Frame Streams files (`-` or none reads standard input), or logs:
    /// `kafka://ADDR:PORT[,…]/TOPIC`, `nats://ADDR:PORT[,…]/STREAM`.
    pub files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Keep reading a file as it grows, until its STOP frame, and a log as
    /// records come (or interrupt); without it a log is read until it has
    /// had no new record for 1 s.
    #[arg(long)]
    pub follow: bool,
    /// The name a log input's position is kept under (Kafka consumer
    /// group, JetStream durable consumer); default `dnstap-kit-read`.
    #[arg(long, value_name = "NAME")]
    pub consumer: Option<String>,
    /// Largest data frame accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = input::DEFAULT_MAX_FRAME)]
    pub max_frame: usize,
}

/// Why printing stopped early.
enum Halt {
    /// Standard output is closed (`| head`): stop quietly.
    Closed,
    Failed(io::Error),
}

fn write_output(out: &mut impl Write, text: &str, flush: bool) -> Result<(), Halt> {
    let result = out
        .write_all(text.as_bytes())
        .and_then(|()| if flush { out.flush() } else { Ok(()) });
    result.map_err(|err| match err.kind() {
        ErrorKind::BrokenPipe => Halt::Closed,
        _ => Halt::Failed(err),
    })
}

/// Prints a log's records until it has no more (see `log_input`),
/// committing each poll's records once they are written and flushed.
/// Returns whether a record was not a dnstap protobuf.
fn print_log(
    log: &mut LogInput,
    format: Format,
    out: &mut impl Write,
    text: &mut String,
) -> Result<bool, Halt> {
    let mut bad = false;
    while let Ok(records) = log.next() {
        for record in &records {
            text.clear();
            match decode::render(&record.value, format, text) {
                Ok(()) => write_output(out, text, false)?,
                Err(err) => {
                    report!(
                        "dnstap-kit: {}: record {}: not a valid dnstap.Dnstap protobuf: {err}",
                        log.url.position_key(),
                        record.position.offset
                    );
                    bad = true;
                }
            }
        }
        write_output(out, "", true)?;
        if let Some(last) = records.last() {
            log.commit(last.seq);
        }
    }
    Ok(bad)
}

pub fn run(args: Args) -> u8 {
    let stop = if args.follow {
        match input::stop_on_signals() {
            Ok(stop) => Some(stop),
            Err(err) => {
                report!("dnstap-kit: cannot handle signals: {err}");
                return exit::FAILURE;
            }
        }
    } else {
        None
    };
    let files = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut text = String::with_capacity(4096);
    let (mut failed, mut truncated) = (false, false);
    for path in &files {
        if let Some(url) = path.to_str().and_then(LogUrl::parse) {
            let printed = url.and_then(|url| {
                let consumer = log_input::consumer_name(args.consumer.as_deref(), "read");
                LogInput::open(url, &consumer, stop.clone())
            });
            let mut log = match printed {
                Ok(log) => log,
                Err(err) => {
                    report!("dnstap-kit: {err}");
                    failed = true;
                    continue;
                }
            };
            match print_log(&mut log, args.format, &mut out, &mut text) {
                Ok(bad) => failed |= bad || log.failed,
                Err(Halt::Closed) => return exit::OK,
                Err(Halt::Failed(err)) => {
                    report!("dnstap-kit: writing output: {err}");
                    return exit::FAILURE;
                }
            }
            continue;
        }
        let Some(mut input) = input::open_or_report(path, stop.as_ref()) else {
            failed = true;
            continue;
        };
        let name = input.name.clone();
        let mut halt = None;
        let (outcome, frames) = input::for_each_frame(&mut input, args.max_frame, |n, payload| {
            text.clear();
            match decode::render(payload, args.format, &mut text) {
                Ok(()) => write_output(&mut out, &text, args.follow).map_err(|h| halt = Some(h)),
                Err(err) => {
                    let _ = out.flush();
                    report!(
                        "dnstap-kit: {name}: frame {n}: not a valid dnstap.Dnstap protobuf: {err}"
                    );
                    failed = true;
                    Ok(())
                }
            }
        });
        if let Some(halt) = halt {
            return match halt {
                Halt::Closed => exit::OK,
                Halt::Failed(err) => {
                    report!("dnstap-kit: writing output: {err}");
                    exit::FAILURE
                }
            };
        }
        if let Err(err) = out.flush() {
            if err.kind() == ErrorKind::BrokenPipe {
                return exit::OK;
            }
            report!("dnstap-kit: writing output: {err}");
            return exit::FAILURE;
        }
        // An interrupted --follow ends where the stream stands (even before
        // its START: the interrupt is what ended the input).
        if stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
            return if failed { exit::FAILURE } else { exit::OK };
        }
        match &outcome {
            Outcome::Failed(err) => {
                report!("dnstap-kit: {name}: {err}");
                failed = true;
            }
            other => {
                if let Some(warning) = other.warning(frames) {
                    report!("dnstap-kit: {name}: warning: {warning}");
                    truncated = true;
                }
            }
        }
    }
    exit::after_inputs(failed, truncated)
}
