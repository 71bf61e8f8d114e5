//! `dnstap-kit export`: dnstap records into another system's store.
//!
//! - [`clickhouse`]: the query log, one row per message, over ClickHouse's
//!   HTTP interface.

pub mod clickhouse;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Insert one row per dnstap message into a ClickHouse table (RowBinary over HTTP).
    Clickhouse(clickhouse::Args),
}

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

pub fn run(args: Args) -> u8 {
    match args.command {
        Command::Clickhouse(args) => clickhouse::run(args),
    }
}
