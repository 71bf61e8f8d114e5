//! The Kafka protocol, spoken by this crate over a plain `TcpStream`
//! (blocking, no async runtime): enough of it to publish record batches
//! acknowledged by all in-sync replicas and to consume them as a member of
//! a consumer group, sharing the partitions with the group's other
//! members. API versions: ApiVersions v0, Metadata v4, Produce v3, Fetch
//! v4, ListOffsets v1, FindCoordinator v1, OffsetFetch v3, OffsetCommit
//! v3, JoinGroup v5, SyncGroup v3, Heartbeat v3, LeaveGroup v3 (the newest
//! before flexible versions that Kafka 4 still serves; a broker without
//! one is refused by name).
//!
//! - `wire`, `crc32c`, `compression`, `batch`: the encodings (primitive
//!   types, varints, record batches of magic 2 with none, lz4 or zstd).
//! - `connection`, `errors`: one broker connection, error codes.
//! - `metadata`, `produce`, `fetch`, `group`, `membership`: each request
//!   and response; `assignor`: the range assignor and the ConsumerProtocol
//!   bytes it travels in.
//! - `cluster`: leaders and connections, forgotten on failure.
//! - `member`: this process in its consumer group (join, heartbeats,
//!   leave, offsets of its generation).
//! - `partition`, `producer`, `consumer`: the contract's two traits.

mod assignor;
mod batch;
mod cluster;
mod compression;
mod connection;
mod consumer;
mod crc32c;
mod errors;
#[cfg(test)]
mod fake;
mod fetch;
mod group;
mod member;
mod membership;
mod metadata;
mod partition;
mod produce;
mod producer;
mod wire;

use self::cluster::Cluster;
pub use self::compression::Compression;
use self::consumer::KafkaConsumer;
use self::producer::KafkaProducer;
use super::{Consumer, Engine, LogError, LogUrl, Producer};
use crate::report::report;

/// What a producer is asked for besides its topic.
#[derive(Clone, Copy, Debug)]
pub struct ProducerOptions {
    pub compression: Compression,
}

fn cluster_of(url: &LogUrl) -> Result<Cluster, String> {
    if url.engine != Engine::Kafka {
        return Err(format!("{:?} is not a Kafka log", url.engine));
    }
    Ok(Cluster::new(url.servers.clone(), url.name.clone()))
}

/// Asks for the topic's metadata once: a topic that does not exist is an
/// error now; brokers that do not answer yet are waited for by the first
/// publish or poll.
fn probe(cluster: &mut Cluster) -> Result<(), String> {
    match cluster.leaders() {
        Ok(_) => Ok(()),
        Err(LogError::Refused(why)) => Err(why),
        Err(LogError::Unavailable(why)) => {
            report!("dnstap-kit: Kafka {why}; going on, and trying again");
            Ok(())
        }
    }
}

pub fn producer(url: &LogUrl, options: &ProducerOptions) -> Result<Box<dyn Producer>, String> {
    let mut cluster = cluster_of(url)?;
    probe(&mut cluster)?;
    Ok(Box::new(KafkaProducer {
        cluster,
        compression: options.compression,
        next_partition: 0,
    }))
}

pub fn consumer(url: &LogUrl, group: &str) -> Result<Box<dyn Consumer>, String> {
    if group.is_empty() {
        return Err("a consumer group needs a name".into());
    }
    let mut cluster = cluster_of(url)?;
    probe(&mut cluster)?;
    Ok(Box::new(KafkaConsumer::new(cluster, group.to_string())))
}
