//! `dnstap-kit pdns`: passive DNS replication from a resolver's dnstap.
//!
//! A resolver's RESOLVER_RESPONSE messages hold what authoritative servers
//! answered, and `query_zone` names the zone it asked: the bailiwick that
//! tells the records a server may speak for from those it may not. The
//! pieces, in the order a record goes through them:
//!
//! - [`observe`]: the checks a response must pass, each discard a reason.
//! - [`canonical`]: sections decomposed into RRsets in canonical form.
//! - [`bailiwick`]: the rule that keeps poisoned records out.
//! - [`aggregate`]: the key (rrname, rrtype, bailiwick, rdata[]) and the
//!   min/max/sum merge of what is known of it, batched in memory.
//! - [`store`]: SQLite or PostgreSQL, a transaction per batch.
//! - [`ingest`] and [`query`]: the two commands; [`counters`], [`events`]
//!   and [`cof`] what they print.

pub mod aggregate;
pub mod bailiwick;
pub mod canonical;
pub mod cof;
pub mod counters;
pub mod events;
pub mod ingest;
pub mod observe;
pub mod query;
pub mod store;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Store the RRsets of resolver responses read from Frame Streams.
    Ingest(ingest::Args),
    /// Print what names resolved to, or which names had some data.
    Query(query::Args),
}

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

pub fn run(args: Args) -> u8 {
    match args.command {
        Command::Ingest(args) => ingest::run(args),
        Command::Query(args) => query::run(args),
    }
}
