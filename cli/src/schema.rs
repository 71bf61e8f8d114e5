//! `dnstap-kit schema clickhouse`: prints the DDL of the ClickHouse query
//! log, its rollup and the passive DNS tables (`clickhouse::schema`), one
//! statement after another, each ending in `;`, for `clickhouse-client
//! --multiquery`.

use std::io::{self, Write};

use crate::clickhouse::schema::{QueryLog, Variant, passive_dns, query_log};
use crate::exit;
use crate::report::report;

#[derive(clap::Subcommand)]
pub enum Command {
    /// The tables of `export clickhouse` and of `pdns ingest --db clickhouse://…`.
    Clickhouse(ClickhouseArgs),
}

#[derive(clap::Args)]
pub struct ClickhouseArgs {
    /// The servers the DDL is for: 18.16 (Debian 12's package) and later,
    /// or current (20.1 and later: DateTime64, IPv6, LowCardinality,
    /// CODEC, TTL, SimpleAggregateFunction).
    #[arg(long, value_enum, value_name = "VERSION", default_value = "current")]
    pub server_version: Variant,
    #[arg(long, value_name = "NAME", default_value = "dnstap")]
    pub database: String,
    /// The query log table; its rollup is TABLE_per_minute.
    #[arg(long, value_name = "NAME", default_value = "messages")]
    pub table: String,
    /// Days the query log and its rollup are kept (current only: 18.16 has
    /// no TTL; drop its daily partitions instead).
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub ttl_days: u32,
}

/// The DDL text: the query log, then passive DNS.
pub fn clickhouse_ddl(args: &ClickhouseArgs) -> String {
    let log = QueryLog {
        database: &args.database,
        table: &args.table,
        ttl_days: args.ttl_days,
    };
    let mut text = String::from("-- The query log (dnstap-kit export clickhouse) and its rollup\n");
    for statement in query_log(args.server_version, &log) {
        text.push_str(&statement);
        text.push_str(";\n\n");
    }
    text.push_str("-- Passive DNS (dnstap-kit pdns ingest --db clickhouse://HOST:PORT/DATABASE)\n");
    for statement in passive_dns(args.server_version, &args.database) {
        text.push_str(&statement);
        text.push_str(";\n\n");
    }
    text
}

pub fn run(command: Command) -> u8 {
    let Command::Clickhouse(args) = command;
    match io::stdout()
        .lock()
        .write_all(clickhouse_ddl(&args).as_bytes())
    {
        Ok(()) => exit::OK,
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => exit::OK,
        Err(err) => {
            report!("dnstap-kit: writing output: {err}");
            exit::FAILURE
        }
    }
}
