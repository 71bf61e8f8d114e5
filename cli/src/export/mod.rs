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

pub fn run(command: Command) -> u8 {
    match command {
        Command::Clickhouse(args) => clickhouse::run(args),
    }
}
