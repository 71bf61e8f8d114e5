//! Produce v3: record batches, one per partition, acknowledged by every
//! in-sync replica (acks = -1) before the broker answers.

use super::errors;
use super::wire::{Reader, Writer};
use crate::log::LogError;

/// How long the broker may wait for its replicas, in milliseconds.
pub const ACK_TIMEOUT_MS: i32 = 30_000;

/// transactional_id null, acks -1, timeout, [topic [partition, records]].
pub fn request(topic: &str, batches: &[(i32, Vec<u8>)]) -> Vec<u8> {
    let mut w = Writer::default();
    w.null_string()
        .i16(-1)
        .i32(ACK_TIMEOUT_MS)
        .array(&[topic], |w, t| {
            w.string(t).array(batches, |w, (partition, batch)| {
                w.i32(*partition).bytes(batch);
            });
        });
    w.buf
}

/// `Ok` once every partition of the request answered without error.
pub fn response(body: &[u8], topic: &str, partitions: usize) -> Result<(), LogError> {
    let answers = Reader::new(body)
        .topics(|r| {
            let index = r.i32()?;
            let error = r.i16()?;
            r.i64()?; // base_offset
            r.i64()?; // log_append_time
            Ok((index, error))
        })
        .map_err(errors::malformed("Produce"))?;
    let mut answered = 0;
    for (name, results) in answers.iter().filter(|(name, _)| name == topic) {
        for (index, error) in results {
            errors::check(*error, &format!("produce to {name}/{index}"))?;
            answered += 1;
        }
    }
    if answered != partitions {
        return Err(LogError::Unavailable(format!(
            "Produce: {answered} of {partitions} partitions answered"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(errors: &[i16]) -> Vec<u8> {
        let mut w = Writer::default();
        w.array(&["t"], |w, t| {
            w.string(t).array(errors, |w, e| {
                w.i32(0).i16(*e).i64(5).i64(-1);
            });
        })
        .i32(0);
        w.buf
    }

    #[test]
    fn request_layout() {
        let bytes = request("t", &[(2, vec![9, 9])]);
        assert_eq!(
            bytes,
            [
                0xff, 0xff, 0xff, 0xff, 0, 0, 0x75, 0x30, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0,
                0, 2, 0, 0, 0, 2, 9, 9
            ]
        );
    }

    #[test]
    fn every_partition_must_succeed() {
        assert!(response(&answer(&[0, 0]), "t", 2).is_ok());
        assert!(matches!(
            response(&answer(&[0, 6]), "t", 2),
            Err(LogError::Unavailable(_))
        ));
        assert!(matches!(
            response(&answer(&[10]), "t", 1),
            Err(LogError::Refused(_))
        ));
        assert!(matches!(
            response(&answer(&[0]), "t", 2),
            Err(LogError::Unavailable(_))
        ));
    }
}
