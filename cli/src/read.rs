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
use crate::report::report;

#[derive(clap::Args)]
pub struct Args {
    /// Frame Streams files; `-` or none reads standard input.
    pub files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Keep reading a file as it grows, until its STOP frame (or interrupt).
    #[arg(long)]
    pub follow: bool,
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
