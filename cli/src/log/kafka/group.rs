//! A consumer group's committed offsets: FindCoordinator v1 (which broker
//! keeps the group), OffsetFetch v3 and OffsetCommit v3. A commit carries
//! the member's id and generation (`member` joins the group), so that a
//! Kafka coordinator refuses one from a member of a past generation.

use super::errors;
use super::wire::{Reader, Writer};
use crate::log::LogError;

/// key, key_type 0 (a group).
pub fn find_coordinator_request(group: &str) -> Vec<u8> {
    let mut w = Writer::default();
    w.string(group).i8(0);
    w.buf
}

/// The coordinator's `host:port`.
pub fn find_coordinator_response(body: &[u8], group: &str) -> Result<String, LogError> {
    let malformed = errors::malformed("FindCoordinator");
    let mut r = Reader::new(body);
    r.i32().map_err(&malformed)?; // throttle_time_ms
    let error = r.i16().map_err(&malformed)?;
    let message = r.string().map_err(&malformed)?;
    errors::check(
        error,
        &format!(
            "coordinator of group {group:?}{}",
            message.map(|m| format!(" ({m})")).unwrap_or_default()
        ),
    )?;
    r.i32().map_err(&malformed)?; // node_id
    let host = r.string().map_err(&malformed)?.unwrap_or_default();
    let port = r.i32().map_err(&malformed)?;
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    Ok(format!("{host}:{port}"))
}

/// group_id, [topic [partition]].
pub fn offset_fetch_request(group: &str, topic: &str, partitions: &[i32]) -> Vec<u8> {
    let mut w = Writer::default();
    w.string(group).array(&[topic], |w, t| {
        w.string(t).array(partitions, |w, i| {
            w.i32(*i);
        });
    });
    w.buf
}

/// The committed offset of each partition asked, -1 where none is.
pub fn offset_fetch_response(
    body: &[u8],
    topic: &str,
    partitions: &[i32],
) -> Result<Vec<i64>, LogError> {
    let malformed = errors::malformed("OffsetFetch");
    let mut r = Reader::new(body);
    r.i32().map_err(&malformed)?; // throttle_time_ms
    let topics = r
        .topics(|r| {
            let index = r.i32()?;
            let offset = r.i64()?;
            r.string()?; // metadata
            Ok((index, offset, r.i16()?))
        })
        .map_err(&malformed)?;
    errors::check(r.i16().map_err(&malformed)?, "OffsetFetch")?;
    offsets_asked(&topics, topic, partitions, "committed offset")
}

/// Each topic's (partition, offset, error) answers.
pub type OffsetAnswers = [(String, Vec<(i32, i64, i16)>)];

/// The offsets that (partition, offset, error) answers give for the
/// partitions `asked` of `topic`, in the order asked, -1 where none came;
/// an error for one of them is the error.
pub fn offsets_asked(
    topics: &OffsetAnswers,
    topic: &str,
    asked: &[i32],
    what: &str,
) -> Result<Vec<i64>, LogError> {
    let mut offsets = vec![-1; asked.len()];
    for (_, answers) in topics.iter().filter(|(name, _)| name == topic) {
        for &(index, offset, error) in answers {
            errors::check(error, &format!("{what} of {topic}/{index}"))?;
            if let Some(at) = asked.iter().position(|&p| p == index) {
                offsets[at] = offset;
            }
        }
    }
    Ok(offsets)
}

/// Who commits: the group, and the member's id and generation.
pub struct Committer<'a> {
    pub group: &'a str,
    pub generation: i32,
    pub member_id: &'a str,
}

/// group_id, generation_id, member_id, retention_time_ms -1 (the
/// broker's), [topic [partition, offset, metadata null]].
pub fn offset_commit_request(by: &Committer<'_>, topic: &str, offsets: &[(i32, i64)]) -> Vec<u8> {
    let mut w = Writer::default();
    w.string(by.group)
        .i32(by.generation)
        .string(by.member_id)
        .i64(-1)
        .array(&[topic], |w, t| {
            w.string(t).array(offsets, |w, (partition, offset)| {
                w.i32(*partition).i64(*offset).null_string();
            });
        });
    w.buf
}

/// The first partition's error code, 0 when every offset was committed.
pub fn offset_commit_response(body: &[u8]) -> Result<i16, LogError> {
    let malformed = errors::malformed("OffsetCommit");
    let mut r = Reader::new(body);
    r.i32().map_err(&malformed)?; // throttle_time_ms
    let topics = r.topics(|r| Ok((r.i32()?, r.i16()?))).map_err(&malformed)?;
    let codes = topics.iter().flat_map(|(_, partitions)| partitions);
    Ok(codes
        .map(|&(_, error)| error)
        .find(|&e| e != 0)
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinator() {
        assert_eq!(find_coordinator_request("g"), [0, 1, b'g', 0]);
        let mut w = Writer::default();
        w.i32(0)
            .i16(0)
            .null_string()
            .i32(1)
            .string("127.0.0.1")
            .i32(6201);
        assert_eq!(
            find_coordinator_response(&w.buf, "g").unwrap(),
            "127.0.0.1:6201"
        );
        let mut w = Writer::default();
        w.i32(0)
            .i16(15)
            .string("loading")
            .i32(-1)
            .string("")
            .i32(-1);
        assert!(matches!(
            find_coordinator_response(&w.buf, "g"),
            Err(LogError::Unavailable(_))
        ));
    }

    #[test]
    fn committed_offsets() {
        assert_eq!(
            offset_fetch_request("g", "t", &[0, 1]),
            [
                0, 1, b'g', 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1
            ]
        );
        let mut w = Writer::default();
        w.i32(0).i32(1).string("t").i32(2);
        w.i32(1).i64(42).null_string().i16(0);
        w.i32(0).i64(-1).string("").i16(0);
        w.i16(0);
        assert_eq!(
            offset_fetch_response(&w.buf, "t", &[0, 1, 2]).unwrap(),
            [-1, 42, -1]
        );
        assert_eq!(offset_fetch_response(&w.buf, "t", &[1]).unwrap(), [42]);
    }

    #[test]
    fn commits() {
        let mut expected = Writer::default();
        expected
            .string("g")
            .i32(4)
            .string("m1")
            .i64(-1)
            .i32(1)
            .string("t")
            .i32(1)
            .i32(2)
            .i64(9)
            .i16(-1);
        let by = Committer {
            group: "g",
            generation: 4,
            member_id: "m1",
        };
        assert_eq!(offset_commit_request(&by, "t", &[(2, 9)]), expected.buf);
        let mut w = Writer::default();
        w.i32(0)
            .i32(1)
            .string("t")
            .i32(2)
            .i32(2)
            .i16(0)
            .i32(1)
            .i16(22);
        assert_eq!(offset_commit_response(&w.buf).unwrap(), 22);
        w.buf.truncate(w.buf.len() - 2);
        w.i16(0);
        assert_eq!(offset_commit_response(&w.buf).unwrap(), 0);
    }
}
