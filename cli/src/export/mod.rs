//! `dnstap-kit export`: dnstap records into another system's store.
//!
//! - [`clickhouse`]: the query log, one row per message, over ClickHouse's
//!   HTTP interface.
//! - [`nats`], [`kafka`]: one record per dnstap frame into a replicated
//!   log, on the same [`log`] loop.

pub mod backoff;
pub mod clickhouse;
pub mod kafka;
pub mod log;
pub mod nats;
mod stats;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Insert one row per dnstap message into a ClickHouse table (RowBinary over HTTP).
    Clickhouse(clickhouse::Args),
    /// Publish one record per dnstap frame to a Kafka topic, acknowledged by all in-sync replicas.
    Kafka(kafka::Args),
    /// Publish one record per dnstap frame to a NATS JetStream subject.
    Nats(nats::Args),
}

pub fn run(command: Command) -> u8 {
    match command {
        Command::Clickhouse(args) => clickhouse::run(args),
        Command::Kafka(args) => kafka::run(args),
        Command::Nats(args) => nats::run(args),
    }
}
