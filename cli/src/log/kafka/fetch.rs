//! Fetch v4: the record sets of some partitions from their positions,
//! the broker holding the answer until a byte arrives or `max_wait`; and
//! ListOffsets v1, for the first position of a new group.

use std::time::Duration;

use super::errors;
use super::group;
use super::wire::{Reader, Writer};
use crate::log::LogError;

/// Bytes per partition and per response: a batch larger than the
/// partition's limit still comes whole (the protocol's rule since v3).
const PARTITION_MAX_BYTES: i32 = 4 << 20;
const MAX_BYTES: i32 = 16 << 20;

/// replica_id -1 (a consumer), max_wait, min_bytes 1, max_bytes,
/// isolation_level 0 (read uncommitted: no transactions are written
/// here), [topic [partition, fetch_offset, partition_max_bytes]].
pub fn request(topic: &str, positions: &[(i32, i64)], max_wait: Duration) -> Vec<u8> {
    let mut w = Writer::default();
    w.i32(-1)
        .i32(max_wait.as_millis().min(i32::MAX as u128) as i32)
        .i32(1)
        .i32(MAX_BYTES)
        .i8(0)
        .array(&[topic], |w, t| {
            w.string(t).array(positions, |w, (partition, offset)| {
                w.i32(*partition).i64(*offset).i32(PARTITION_MAX_BYTES);
            });
        });
    w.buf
}

/// One partition's answer.
pub struct PartitionData {
    pub partition: i32,
    pub error: i16,
    pub records: Vec<u8>,
}

/// ListOffsets v1 with timestamp -2: each partition's earliest offset,
/// where a group without a committed offset starts.
pub fn earliest_request(topic: &str, partitions: &[i32]) -> Vec<u8> {
    let mut w = Writer::default();
    w.i32(-1).array(&[topic], |w, t| {
        w.string(t).array(partitions, |w, i| {
            w.i32(*i).i64(-2);
        });
    });
    w.buf
}

/// The earliest offset of each partition asked, in the order asked.
pub fn earliest_response(
    body: &[u8],
    topic: &str,
    partitions: &[i32],
) -> Result<Vec<i64>, LogError> {
    let topics = Reader::new(body)
        .topics(|r| {
            let (index, error) = (r.i32()?, r.i16()?);
            r.i64()?; // timestamp
            Ok((index, r.i64()?, error))
        })
        .map_err(errors::malformed("ListOffsets"))?;
    let earliest = group::offsets_asked(&topics, topic, partitions, "earliest offset")?;
    if earliest.contains(&-1) {
        return Err(LogError::Unavailable(format!(
            "ListOffsets: {topic}: partitions missing"
        )));
    }
    Ok(earliest)
}

pub fn response(body: &[u8], topic: &str) -> Result<Vec<PartitionData>, LogError> {
    let malformed = errors::malformed("Fetch");
    let mut r = Reader::new(body);
    r.i32().map_err(&malformed)?; // throttle_time_ms
    let topics = r
        .topics(|r| {
            let partition = r.i32()?;
            let error = r.i16()?;
            r.i64()?; // high_watermark: not trusted, not needed
            r.i64()?; // last_stable_offset
            r.array(|r| Ok((r.i64()?, r.i64()?)))?; // aborted_transactions
            let records = r.bytes()?.unwrap_or_default().to_vec();
            Ok(PartitionData {
                partition,
                error,
                records,
            })
        })
        .map_err(malformed)?;
    Ok(topics
        .into_iter()
        .filter(|(name, _)| name == topic)
        .flat_map(|(_, partitions)| partitions)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout() {
        let bytes = request("t", &[(1, 7)], Duration::from_millis(500));
        let mut expected = Writer::default();
        expected
            .i32(-1)
            .i32(500)
            .i32(1)
            .i32(16 << 20)
            .i8(0)
            .i32(1)
            .string("t")
            .i32(1)
            .i32(1)
            .i64(7)
            .i32(4 << 20);
        assert_eq!(bytes, expected.buf);
    }

    #[test]
    fn response_partitions_with_their_records() {
        let mut w = Writer::default();
        w.i32(0).i32(1).string("t").i32(2);
        w.i32(0).i16(0).i64(10).i64(10).i32(-1).bytes(b"set");
        w.i32(1).i16(1).i64(0).i64(0).i32(0).i32(-1);
        let partitions = response(&w.buf, "t").unwrap();
        assert_eq!(partitions.len(), 2);
        assert_eq!((partitions[0].partition, partitions[0].error), (0, 0));
        assert_eq!(partitions[0].records, b"set");
        assert_eq!((partitions[1].partition, partitions[1].error), (1, 1));
        assert!(partitions[1].records.is_empty());
        assert!(response(&w.buf[..20], "t").is_err());
    }

    #[test]
    fn earliest_offsets() {
        let mut expected = Writer::default();
        expected
            .i32(-1)
            .i32(1)
            .string("t")
            .i32(2)
            .i32(0)
            .i64(-2)
            .i32(1)
            .i64(-2);
        assert_eq!(earliest_request("t", &[0, 1]), expected.buf);
        let mut w = Writer::default();
        w.i32(1)
            .string("t")
            .i32(2)
            .i32(1)
            .i16(0)
            .i64(-1)
            .i64(5)
            .i32(0)
            .i16(0)
            .i64(-1)
            .i64(0);
        assert_eq!(earliest_response(&w.buf, "t", &[0, 1]).unwrap(), [0, 5]);
        assert!(earliest_response(&w.buf, "t", &[0, 1, 2]).is_err());
    }
}
