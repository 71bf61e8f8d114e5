//! Replicated logs between collectors and consumers: a Kafka-protocol
//! topic or a NATS JetStream stream holding one record per dnstap frame
//! (the raw protobuf, as in a Frame Streams data frame), so any dnstap
//! consumer can read it.
//!
//! The commands see a log through two traits: a [`Producer`] publishes a
//! batch and returns once the log has acknowledged all of it; a
//! [`Consumer`] hands out records numbered by a sequence of its own and
//! forgets them (commits its position) only when the command says they are
//! processed. Each engine (`kafka`, `nats`) implements both.

pub mod kafka;
pub mod nats;
mod open;

use std::fmt;
use std::time::Duration;

pub use open::open_consumer;

/// A log named on the command line: `kafka://ADDR:PORT[,ADDR:PORT…]/TOPIC`
/// or `nats://ADDR:PORT[,ADDR:PORT…]/STREAM`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogUrl {
    pub engine: Engine,
    /// `ADDR:PORT` each, in the order given.
    pub servers: Vec<String>,
    /// The topic (Kafka) or stream (NATS).
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Kafka,
    Nats,
}

impl LogUrl {
    /// `None` if `text` is not a log URL (a file name, `-`); an error if it
    /// starts like one and is not a valid one.
    pub fn parse(text: &str) -> Option<Result<LogUrl, String>> {
        let (engine, rest) = if let Some(rest) = text.strip_prefix("kafka://") {
            (Engine::Kafka, rest)
        } else if let Some(rest) = text.strip_prefix("nats://") {
            (Engine::Nats, rest)
        } else {
            return None;
        };
        Some(LogUrl::parse_rest(engine, rest).map_err(|why| format!("{text}: {why}")))
    }

    fn parse_rest(engine: Engine, rest: &str) -> Result<LogUrl, String> {
        let (servers, name) = rest
            .split_once('/')
            .ok_or("no /TOPIC or /STREAM after the servers")?;
        if name.is_empty() || name.contains('/') {
            return Err(format!("{name:?} is not a topic or stream name"));
        }
        Ok(LogUrl {
            engine,
            servers: parse_servers(servers)?,
            name: name.to_string(),
        })
    }

    /// Where a consumer's position is kept apart from the log (`pdns
    /// ingest`'s table): the engine and the topic or stream, not the
    /// servers, which may be listed in another order or change.
    pub fn position_key(&self) -> String {
        let engine = match self.engine {
            Engine::Kafka => "kafka",
            Engine::Nats => "nats",
        };
        format!("{engine}:{}", self.name)
    }
}

/// `ADDR:PORT[,ADDR:PORT…]`, as in a log URL and the producers' flags.
pub fn parse_servers(list: &str) -> Result<Vec<String>, String> {
    let servers: Vec<String> = list.split(',').map(str::to_string).collect();
    for server in &servers {
        let (host, port) = server
            .rsplit_once(':')
            .ok_or_else(|| format!("{server:?} is not ADDR:PORT"))?;
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(format!("{server:?} is not ADDR:PORT"));
        }
    }
    Ok(servers)
}

/// Why a log operation failed.
#[derive(Debug)]
pub enum LogError {
    /// No broker could be reached, or the connection broke: worth retrying.
    Unavailable(String),
    /// The log refused the request (no such topic, not authorized, a
    /// record too large): retrying the same request will not help.
    Refused(String),
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Unavailable(why) => write!(f, "unavailable: {why}"),
            LogError::Refused(why) => write!(f, "refused: {why}"),
        }
    }
}

/// One record to publish.
pub struct Outgoing<'a> {
    /// Unique among the records of one export, and the same when a batch
    /// is published again: NATS's `Nats-Msg-Id` (deduplication).
    pub id: u64,
    /// Kafka's record key (partitioning); ignored by NATS.
    pub key: Option<&'a [u8]>,
    /// The dnstap protobuf.
    pub value: &'a [u8],
}

/// The publishing side of a log.
pub trait Producer: Send {
    /// Publishes `records` in order and returns once the log acknowledged
    /// every one (Kafka acks=all, a JetStream publish ack each). On an
    /// error, some of them may have been stored: the caller publishes the
    /// batch again (at-least-once) and counts it as retried.
    fn publish(&mut self, records: &[Outgoing<'_>]) -> Result<(), LogError>;
}

/// One record consumed.
pub struct Incoming {
    /// Numbers the records this consumer handed out: 1, 2, 3…
    pub seq: u64,
    /// Where the record is in the log, the same in every consumer and
    /// after a restart (`pdns ingest` stores it with what it made of it).
    pub position: Position,
    pub value: Vec<u8>,
}

/// A record's place in a log: Kafka's partition and offset; NATS's stream
/// sequence, in partition 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub partition: u32,
    pub offset: u64,
}

/// The consuming side of a log, with a durable position (a Kafka consumer
/// group's committed offsets, a JetStream durable consumer's acks).
pub trait Consumer: Send {
    /// The next records, waiting at most `wait` for the first; empty when
    /// none came. Records handed out and not committed are handed out
    /// again by the next consumer of the same name after a restart.
    fn poll(&mut self, wait: Duration) -> Result<Vec<Incoming>, LogError>;
    /// Every record up to and including `seq` is processed (printed,
    /// stored): the log may forget them for this consumer.
    fn commit(&mut self, seq: u64) -> Result<(), LogError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_urls() {
        assert_eq!(LogUrl::parse("capture.fs"), None);
        assert_eq!(LogUrl::parse("-"), None);
        assert_eq!(
            LogUrl::parse("kafka://127.0.0.1:9092,127.0.0.2:9092/dnstap"),
            Some(Ok(LogUrl {
                engine: Engine::Kafka,
                servers: vec!["127.0.0.1:9092".into(), "127.0.0.2:9092".into()],
                name: "dnstap".into(),
            }))
        );
        assert_eq!(
            LogUrl::parse("nats://[::1]:4222/DNSTAP")
                .unwrap()
                .unwrap()
                .servers,
            vec!["[::1]:4222".to_string()]
        );
        for bad in [
            "kafka://127.0.0.1:9092",
            "nats://127.0.0.1/S",
            "kafka://:1/t",
            "nats://a:1/s/t",
        ] {
            assert!(matches!(LogUrl::parse(bad), Some(Err(_))), "{bad}");
        }
    }
}
