//! The `dnstap-kit` command: parses the command line and runs one command
//! of the `dnstap_kit` crate.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dnstap_kit::{capture, check, export, pdns, read, schema};

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
    Read(read::Args),
    /// Check that dnstap files conform to the schema's recommendations.
    Check(check::Args),
    /// Passive DNS: store resolver responses under the bailiwick rule, and query them.
    Pdns(pdns::Args),
    /// Send dnstap records to another store: ClickHouse, Kafka, NATS.
    #[command(subcommand)]
    Export(export::Command),
    /// Print the DDL of the tables export and pdns use in ClickHouse.
    #[command(subcommand)]
    Schema(schema::Command),
}

fn main() -> ExitCode {
    let code = match Cli::parse().command {
        Command::Capture(args) => capture::run(args),
        Command::Read(args) => read::run(args),
        Command::Check(args) => check::run(args),
        Command::Pdns(args) => pdns::run(args),
        Command::Export(args) => export::run(args),
        Command::Schema(args) => schema::run(args),
    };
    ExitCode::from(code)
}
