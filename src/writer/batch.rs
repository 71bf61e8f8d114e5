//! Frames encoded and waiting for one large write.

use crate::record::RecordHeader;
use crate::record::encode::Encoder;

/// Encoded data frames, and where each ends, so that a short write can be
/// split into frames written and frames lost.
pub struct Batch {
    bytes: Vec<u8>,
    frame_ends: Vec<usize>,
    encoder: Encoder,
}

impl Batch {
    /// A batch whose records carry `identity` and `version`.
    pub fn new(identity: &[u8], version: &[u8]) -> Batch {
        Batch {
            bytes: Vec::new(),
            frame_ends: Vec::new(),
            encoder: Encoder::new(identity, version),
        }
    }

    /// Encodes one queued record as a data frame.
    pub fn push(&mut self, header: &RecordHeader, payload: &[u8]) {
        self.encoder.encode_frame(header, payload, &mut self.bytes);
        self.frame_ends.push(self.bytes.len());
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.frame_ends.is_empty()
    }

    /// Splits the outcome of writing the first `written` bytes: the number of
    /// whole frames written and their bytes; the rest of the batch is lost.
    pub fn settle(&mut self, written: usize) -> Settled {
        let complete = self.frame_ends.partition_point(|&end| end <= written);
        let settled = Settled {
            written_frames: complete as u64,
            written_bytes: if complete == 0 {
                0
            } else {
                self.frame_ends[complete - 1] as u64
            },
            lost_frames: (self.frame_ends.len() - complete) as u64,
        };
        self.bytes.clear();
        self.frame_ends.clear();
        settled
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settled {
    pub written_frames: u64,
    pub written_bytes: u64,
    pub lost_frames: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::MessageFields;

    fn batch_of(n: usize) -> Batch {
        let message = MessageFields {
            message_type: 5,
            query_message: b"abc",
            ..Default::default()
        };
        let message = message.validate(0).unwrap();
        let mut batch = Batch::new(b"id", b"");
        for _ in 0..n {
            batch.push(&message.header, b"abc");
        }
        batch
    }

    #[test]
    fn settle_counts_whole_frames_only() {
        let mut batch = batch_of(3);
        let frame = batch.bytes().len() / 3;
        let settled = batch.settle(2 * frame + 1);
        assert_eq!(
            settled,
            Settled {
                written_frames: 2,
                written_bytes: 2 * frame as u64,
                lost_frames: 1
            }
        );
        assert!(batch.is_empty() && batch.bytes().is_empty());
        let mut batch = batch_of(2);
        assert_eq!(batch.settle(0).lost_frames, 2);
        let mut batch = batch_of(2);
        let all = batch.bytes().len();
        assert_eq!(batch.settle(all).written_frames, 2);
    }
}
