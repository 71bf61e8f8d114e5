//! dnstap-kit: capture, read and check dnstap.
//!
//! A user of libdnstap's public Rust API like any other: Frame Streams
//! ([`dnstap::framestream`]), the schema ([`dnstap::proto`]) and sink specs
//! ([`dnstap::sink`]) come from the library; what only a reader needs lives
//! here. `main.rs` parses the command line and runs one command.
//!
//! - [`capture`]: the collector side of Frame Streams, into files.
//! - [`read`] and [`check`]: print and check dnstap files, read frame by
//!   frame by `input`.
//! - [`decode`]: a record decoded and printed as text, YAML or JSON, DNS
//!   messages parsed.
//! - [`pdns`]: passive DNS replication: resolver responses stored as
//!   RRsets under the bailiwick rule, in SQLite, PostgreSQL or ClickHouse,
//!   and queried.
//! - [`export`] and [`schema`]: the query log into ClickHouse, and the
//!   DDL of its tables ([`clickhouse`]: the HTTP interface, RowBinary).
//! - [`log`]: Kafka-protocol topics and NATS JetStream streams, one record
//!   per dnstap frame, as outputs of `export` and inputs of the readers.
//! - `feed`: the inputs of the batching commands, read on a thread;
//!   `log_input`: a log as an input of any reading command.
//! - [`exit`]: the exit codes; `report`: messages on stderr.

pub mod capture;
pub mod check;
pub mod clickhouse;
pub mod decode;
pub mod exit;
pub mod export;
mod feed;
mod input;
pub mod log;
mod log_input;
pub mod pdns;
pub mod read;
mod report;
pub mod schema;
