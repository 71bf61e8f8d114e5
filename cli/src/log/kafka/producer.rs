//! The [`Producer`] of a topic: a publish splits its records by partition
//! (by key, or all to one partition that changes with each publish), each
//! partition's records into record batches of at most [`MAX_BATCH_BYTES`],
//! and sends one Produce request per leader and round, each answered only
//! once every in-sync replica holds it.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use super::batch;
use super::cluster::{Cluster, REQUEST_TIMEOUT};
use super::compression::Compression;
use super::connection;
use super::partition;
use super::produce;
use crate::log::{LogError, Outgoing, Producer};

/// Keys and values per record batch, before compression: under the
/// 1 MiB that Kafka's brokers accept by default (`message.max.bytes`).
pub const MAX_BATCH_BYTES: usize = 900 << 10;

pub struct KafkaProducer {
    pub cluster: Cluster,
    pub compression: Compression,
    /// Where the next publish's keyless records go.
    pub next_partition: usize,
}

type Record<'a> = (Option<&'a [u8]>, &'a [u8]);

/// `records` cut into runs of at most MAX_BATCH_BYTES (at least one
/// record each).
fn chunks<'a, 'b>(records: &'b [Record<'a>]) -> Vec<&'b [Record<'a>]> {
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, (key, value)) in records.iter().enumerate() {
        let size = key.map_or(0, <[u8]>::len) + value.len();
        if i > start && bytes + size > MAX_BATCH_BYTES {
            chunks.push(&records[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < records.len() {
        chunks.push(&records[start..]);
    }
    chunks
}

impl KafkaProducer {
    fn try_publish(&mut self, records: &[Outgoing<'_>]) -> Result<(), LogError> {
        let leaders = self.cluster.leaders()?;
        let count = leaders.len();
        let keyless = self.next_partition % count;
        self.next_partition = self.next_partition.wrapping_add(1);
        let mut by_partition: Vec<Vec<Record<'_>>> = vec![Vec::new(); count];
        for record in records {
            let partition = record
                .key
                .map_or(keyless, |key| partition::for_key(key, count));
            by_partition[partition].push((record.key, record.value));
        }
        let chunked: Vec<Vec<&[Record<'_>]>> = by_partition.iter().map(|r| chunks(r)).collect();
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let rounds = chunked.iter().map(Vec::len).max().unwrap_or(0);
        // A partition's batches go in order, one per request (Produce v3
        // takes one batch per partition), each acknowledged before the next.
        for round in 0..rounds {
            let mut requests: BTreeMap<&str, Vec<(i32, Vec<u8>)>> = BTreeMap::new();
            for (partition, chunks) in chunked.iter().enumerate() {
                if let Some(chunk) = chunks.get(round) {
                    let encoded = batch::encode(chunk, timestamp, self.compression);
                    requests
                        .entry(&leaders[partition])
                        .or_default()
                        .push((partition as i32, encoded));
                }
            }
            for (leader, batches) in requests {
                let topic = self.cluster.topic.clone();
                let body = produce::request(&topic, &batches);
                let response =
                    self.cluster
                        .call(leader, connection::PRODUCE, &body, REQUEST_TIMEOUT)?;
                produce::response(&response, &topic, batches.len())?;
            }
        }
        Ok(())
    }
}

impl Producer for KafkaProducer {
    fn publish(&mut self, records: &[Outgoing<'_>]) -> Result<(), LogError> {
        if records.is_empty() {
            return Ok(());
        }
        let result = self.try_publish(records);
        self.cluster.forget_on_error(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::kafka::fake::{self, Fake};
    use crate::log::kafka::wire::Writer;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn a_leader_change_is_unavailable_then_found_again() {
        // The first produce is refused with NOT_LEADER_OR_FOLLOWER (6).
        let produces = AtomicU32::new(0);
        let addr = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
        let known = std::sync::Arc::clone(&addr);
        let broker = Fake::start(move |key, _| match key {
            3 => fake::metadata(known.get().unwrap(), "t", 2),
            0 => {
                let error = if produces.fetch_add(1, Ordering::SeqCst) == 0 {
                    6
                } else {
                    0
                };
                let mut w = Writer::default();
                w.array(&["t"], |w, t| {
                    w.string(t).array(&[0], |w, p| {
                        w.i32(*p).i16(error).i64(0).i64(-1);
                    });
                })
                .i32(0);
                w.buf
            }
            _ => unreachable!("api {key}"),
        });
        addr.set(broker.addr.clone()).unwrap();
        let mut producer = KafkaProducer {
            cluster: Cluster::new(vec![broker.addr.clone()], "t".into()),
            compression: Compression::None,
            next_partition: 0,
        };
        let records = [Outgoing {
            id: 1,
            key: None,
            value: b"v",
        }];
        assert!(
            matches!(producer.publish(&records), Err(LogError::Unavailable(why)) if why.contains("NOT_LEADER"))
        );
        assert!(producer.publish(&records).is_ok());
        // Connect, ApiVersions, Metadata, Produce; after the error the
        // connection and the leaders are forgotten: all again.
        assert_eq!(broker.log(), [-1, 18, 3, 0, -1, 18, 3, 0]);
    }

    #[test]
    fn batches_are_cut_by_size() {
        let big = vec![0u8; MAX_BATCH_BYTES / 2];
        let records: Vec<Record<'_>> =
            vec![(None, &big), (None, &big), (Some(b"k"), &big), (None, b"x")];
        let sizes: Vec<usize> = chunks(&records).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [2, 2]);
        let huge = vec![0u8; MAX_BATCH_BYTES * 2];
        let records: Vec<Record<'_>> = vec![(None, &huge), (None, b"x")];
        assert_eq!(chunks(&records).len(), 2, "an oversized record goes alone");
        assert!(chunks(&[]).is_empty());
    }
}
