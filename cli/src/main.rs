//! dnstap-kit: capture, read and check dnstap.
//!
//! Built on the library's Frame Streams ([`dnstap::framestream`]),
//! protobuf ([`dnstap::proto`]) and read-side ([`dnstap::decode`]: records,
//! DNS messages, text/YAML/JSON) modules; nothing here re-implements them.

mod capture;
mod check;
mod input;
mod read;
#[cfg(test)]
#[path = "testing.rs"]
mod testing;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// `eprintln!` that loses the line when stderr cannot be written (a full
/// disk, a closed pipe) instead of panicking: the exit code still tells.
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}
pub(crate) use report;

/// Exit codes, documented in the README.
pub mod exit {
    /// Everything read or captured.
    pub const OK: u8 = 0;
    /// An input or output could not be used.
    pub const FAILURE: u8 = 1;
    /// A stream ended without STOP, or in the middle of a frame: every
    /// complete frame was processed.
    pub const TRUNCATED: u8 = 3;
    /// `check` found messages that do not conform.
    pub const VIOLATIONS: u8 = 4;
}

#[derive(Parser)]
#[command(
    name = "dnstap-kit",
    version,
    about = "Capture, read and check dnstap (Frame Streams + protobuf)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Receive dnstap from DNS servers (the collector side of Frame Streams) and store it.
    Capture(capture::Args),
    /// Print dnstap files as text, YAML or JSON.
    Read(ReadArgs),
    /// Check that dnstap files conform to the schema's recommendations.
    Check(CheckArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per message, like `dnstap-ldns -q`.
    Text,
    /// Every field, DNS messages decoded, like `dnstap-ldns -y`.
    Yaml,
    /// One JSON object per line (schema in the README).
    Json,
}

impl From<Format> for dnstap_kit::decode::Format {
    fn from(format: Format) -> Self {
        match format {
            Format::Text => Self::Text,
            Format::Yaml => Self::Yaml,
            Format::Json => Self::Json,
        }
    }
}

#[derive(clap::Args)]
pub struct ReadArgs {
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

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Frame Streams files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Largest data frame accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = input::DEFAULT_MAX_FRAME)]
    pub max_frame: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Capture(args) => capture::run(args),
        Command::Read(args) => read::run(args),
        Command::Check(args) => check::run(args),
    };
    ExitCode::from(code)
}
