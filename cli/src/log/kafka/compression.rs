//! The codecs of a record batch's records (the low 3 bits of its
//! attributes): none, lz4 (the LZ4 frame format, as Kafka writes it since
//! message format 1) and zstd, both in pure Rust (lz4_flex, ruzstd) so the
//! tool stays free of C beyond what it already links. gzip and snappy are
//! read by no dnstap-kit path and written by none.

use std::io::{Read, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Compression {
    None,
    Lz4,
    Zstd,
}

impl Compression {
    /// The attribute bits of a batch written with this codec.
    pub fn attribute(self) -> i16 {
        match self {
            Compression::None => 0,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    pub fn compress(self, records: Vec<u8>) -> Vec<u8> {
        match self {
            Compression::None => records,
            Compression::Lz4 => {
                let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
                encoder.write_all(&records).expect("writing to memory");
                encoder.finish().expect("writing to memory")
            }
            Compression::Zstd => ruzstd::encoding::compress_to_vec(
                records.as_slice(),
                ruzstd::encoding::CompressionLevel::Fastest,
            ),
        }
    }
}

/// The records of a batch whose attributes say `codec`, decompressed.
pub fn decompress(codec: i16, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    match codec {
        0 => out.extend_from_slice(bytes),
        3 => {
            lz4_flex::frame::FrameDecoder::new(bytes)
                .read_to_end(&mut out)
                .map_err(|err| format!("lz4: {err}"))?;
        }
        4 => {
            ruzstd::decoding::StreamingDecoder::new(bytes)
                .map_err(|err| format!("zstd: {err}"))?
                .read_to_end(&mut out)
                .map_err(|err| format!("zstd: {err}"))?;
        }
        1 => return Err("gzip-compressed records are not supported".into()),
        2 => return Err("snappy-compressed records are not supported".into()),
        other => return Err(format!("unknown compression codec {other}")),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_codec_round_trips() {
        let records: Vec<u8> = (0..5000u32).flat_map(|i| (i % 97).to_be_bytes()).collect();
        for codec in [Compression::None, Compression::Lz4, Compression::Zstd] {
            let packed = codec.compress(records.clone());
            if codec != Compression::None {
                assert!(packed.len() < records.len() / 2, "{codec:?}");
            }
            assert_eq!(decompress(codec.attribute(), &packed).unwrap(), records);
        }
    }

    #[test]
    fn frames_carry_their_formats_magic_numbers() {
        // LZ4 frame: 04 22 4d 18; zstd frame: 28 b5 2f fd (both little-endian
        // magics of their format specifications).
        assert_eq!(
            Compression::Lz4.compress(b"x".to_vec())[..4],
            [0x04, 0x22, 0x4d, 0x18]
        );
        assert_eq!(
            Compression::Zstd.compress(b"x".to_vec())[..4],
            [0x28, 0xb5, 0x2f, 0xfd]
        );
        assert!(decompress(1, b"").is_err());
        assert!(decompress(3, b"garbage").is_err());
    }
}
