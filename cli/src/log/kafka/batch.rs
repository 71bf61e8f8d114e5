//! Record batches of magic 2 (the message format of Produce v3 and Fetch
//! v4 onwards):
//!
//! ```text
//! baseOffset i64 | batchLength i32 | partitionLeaderEpoch i32 | magic i8 = 2
//! | crc u32 (CRC-32C of everything after it) | attributes i16 | lastOffsetDelta i32
//! | baseTimestamp i64 | maxTimestamp i64 | producerId i64 | producerEpoch i16
//! | baseSequence i32 | recordCount i32 | records (compressed as a whole)
//! record: length varint | attributes i8 | timestampDelta varint
//! | offsetDelta varint | key varbytes | value varbytes | headerCount varint
//! ```

use super::compression::{self, Compression};
use super::crc32c::crc32c;
use super::wire::{Malformed, Reader, Writer};

/// Bytes of a batch before its records.
const HEADER: usize = 61;
/// Where the CRC is, and where the bytes it covers start.
const CRC_AT: usize = 17;
const CRC_FROM: usize = 21;
/// The attribute bits of the codec and of a control batch (transaction
/// markers, which carry no data).
const CODEC_BITS: i16 = 0x07;
const CONTROL_BIT: i16 = 0x20;

/// One batch of `records` (key, value), all stamped `timestamp_ms`, not
/// part of a transaction and without idempotence (producer id -1).
pub fn encode(
    records: &[(Option<&[u8]>, &[u8])],
    timestamp_ms: i64,
    codec: Compression,
) -> Vec<u8> {
    let mut inner = Writer::default();
    let mut body = Writer::default();
    for (delta, (key, value)) in records.iter().enumerate() {
        body.buf.clear();
        body.i8(0)
            .varint(0)
            .varint(delta as i64)
            .varbytes(*key)
            .varbytes(Some(value))
            .varint(0);
        inner.varint(body.buf.len() as i64);
        inner.buf.extend_from_slice(&body.buf);
    }
    let packed = codec.compress(inner.buf);
    let mut w = Writer {
        buf: Vec::with_capacity(HEADER + packed.len()),
    };
    w.i64(0)
        .i32((HEADER - 12 + packed.len()) as i32)
        .i32(-1)
        .i8(2)
        .i32(0)
        .i16(codec.attribute())
        .i32(records.len() as i32 - 1)
        .i64(timestamp_ms)
        .i64(timestamp_ms)
        .i64(-1)
        .i16(-1)
        .i32(-1)
        .i32(records.len() as i32);
    w.buf.extend_from_slice(&packed);
    let crc = crc32c(&w.buf[CRC_FROM..]);
    w.buf[CRC_AT..CRC_FROM].copy_from_slice(&crc.to_be_bytes());
    w.buf
}

/// A batch read from a Fetch response.
#[derive(Debug, PartialEq, Eq)]
pub struct Batch {
    /// The offset after the batch's last one: where to fetch from next,
    /// even when the batch holds nothing to hand out.
    pub next_offset: i64,
    /// (offset, value) of each data record; none for a control batch.
    pub records: Vec<(i64, Vec<u8>)>,
}

/// The whole batches of a partition's record set. A broker may end the
/// set with a partial batch (cut at the fetch's byte limit): it is left
/// out, and fetched whole next time.
pub fn decode(mut set: &[u8]) -> Result<Vec<Batch>, String> {
    let mut batches = Vec::new();
    while set.len() >= 12 {
        let length = i32::from_be_bytes(set[8..12].try_into().expect("4 bytes"));
        let Some(total) = usize::try_from(length).ok().map(|n| n + 12) else {
            return Err("negative batch length".into());
        };
        if set.len() < total {
            break;
        }
        batches.push(decode_one(&set[..total])?);
        set = &set[total..];
    }
    Ok(batches)
}

fn decode_one(bytes: &[u8]) -> Result<Batch, String> {
    let malformed = |err: Malformed| format!("record batch: {err}");
    if bytes.len() < HEADER {
        return Err("record batch shorter than its header".into());
    }
    let mut r = Reader::new(bytes);
    let base_offset = r.i64().map_err(malformed)?;
    r.take(8).map_err(malformed)?; // batchLength, partitionLeaderEpoch
    let magic = r.i8().map_err(malformed)?;
    if magic != 2 {
        return Err(format!("record batch of magic {magic} (only 2 is read)"));
    }
    let crc = r.u32().map_err(malformed)?;
    if crc != crc32c(&bytes[CRC_FROM..]) {
        return Err(format!(
            "record batch at offset {base_offset}: CRC mismatch"
        ));
    }
    let attributes = r.i16().map_err(malformed)?;
    let last_delta = r.i32().map_err(malformed)?;
    r.take(8 + 8 + 8 + 2 + 4).map_err(malformed)?; // timestamps, producer, sequence
    let count = r.i32().map_err(malformed)?;
    let next_offset = base_offset + i64::from(last_delta) + 1;
    if attributes & CONTROL_BIT != 0 {
        return Ok(Batch {
            next_offset,
            records: Vec::new(),
        });
    }
    let inner = compression::decompress(attributes & CODEC_BITS, r.rest)?;
    let mut r = Reader::new(&inner);
    let mut records = Vec::with_capacity(count.max(0) as usize);
    for _ in 0..count {
        let length = r.varint().map_err(malformed)?;
        let body = r.take(usize::try_from(length).map_err(|_| "negative record length")?);
        let mut body = Reader::new(body.map_err(malformed)?);
        body.i8().map_err(malformed)?;
        body.varint().map_err(malformed)?; // timestampDelta
        let delta = body.varint().map_err(malformed)?;
        body.varbytes().map_err(malformed)?; // key
        let value = body.varbytes().map_err(malformed)?.unwrap_or_default();
        records.push((base_offset + delta, value.to_vec()));
    }
    Ok(Batch {
        next_offset,
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_of_one_record_byte_by_byte() {
        let bytes = encode(&[(Some(b"k"), b"vv")], 0x0102, Compression::None);
        // The record: length 9, attributes 0, timestampDelta 0,
        // offsetDelta 0, key length 1 'k', value length 2 "vv", 0 headers;
        // lengths are zigzag varints (1 → 02, 2 → 04, 9 → 12).
        let record = [0x12, 0, 0, 0, 0x02, b'k', 0x04, b'v', b'v', 0];
        assert_eq!(bytes.len(), HEADER + record.len());
        assert_eq!(bytes[..8], [0; 8], "baseOffset");
        assert_eq!(
            bytes[8..12],
            ((HEADER - 12 + record.len()) as i32).to_be_bytes()
        );
        assert_eq!(bytes[12..16], [0xff; 4], "partitionLeaderEpoch -1");
        assert_eq!(bytes[16], 2, "magic");
        assert_eq!(bytes[17..21], crc32c(&bytes[21..]).to_be_bytes());
        assert_eq!(bytes[21..23], [0, 0], "attributes: no codec");
        assert_eq!(bytes[23..27], [0; 4], "lastOffsetDelta");
        assert_eq!(bytes[27..35], 0x0102i64.to_be_bytes());
        assert_eq!(bytes[35..43], 0x0102i64.to_be_bytes());
        assert_eq!(
            bytes[43..57],
            [0xff; 14],
            "producer id, epoch, sequence: -1"
        );
        assert_eq!(bytes[57..61], [0, 0, 0, 1], "record count");
        assert_eq!(bytes[61..], record);
    }

    #[test]
    fn batches_decode_as_encoded_in_every_codec() {
        let values: Vec<Vec<u8>> = (0..300u32)
            .map(|i| format!("value {i}").into_bytes())
            .collect();
        let records: Vec<(Option<&[u8]>, &[u8])> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                (
                    if i % 2 == 0 { None } else { Some(&b"key"[..]) },
                    v.as_slice(),
                )
            })
            .collect();
        for codec in [Compression::None, Compression::Lz4, Compression::Zstd] {
            let mut set = encode(&records, 7, codec);
            // As a broker stores it: at base offset 40.
            set[..8].copy_from_slice(&40i64.to_be_bytes());
            let whole = set.len();
            // A partial batch after it is left for the next fetch.
            set.extend_from_slice(&set.clone()[..30]);
            let batches = decode(&set).unwrap();
            assert_eq!(batches.len(), 1, "{codec:?}");
            assert_eq!(batches[0].next_offset, 340);
            let expected: Vec<(i64, Vec<u8>)> = (40..).zip(values.iter().cloned()).collect();
            assert_eq!(batches[0].records, expected);
            set.truncate(whole);
            set[whole - 1] ^= 1;
            assert!(decode(&set).unwrap_err().contains("CRC"), "{codec:?}");
        }
    }

    #[test]
    fn control_batches_only_move_the_offset() {
        let mut set = encode(&[(None, b"marker")], 0, Compression::None);
        set[22] |= CONTROL_BIT as u8;
        let crc = crc32c(&set[CRC_FROM..]);
        set[CRC_AT..CRC_FROM].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            decode(&set).unwrap(),
            [Batch {
                next_offset: 1,
                records: vec![]
            }]
        );
    }
}
