//! The requests of a consumer group's membership (the classic protocol):
//! JoinGroup v5, SyncGroup v3, Heartbeat v3 and LeaveGroup v3, the newest
//! before flexible versions. Each response gives its error code back for
//! the caller to act on: the membership codes (a rebalance, a stale
//! generation, a forgotten member) are steps of the protocol, not failures.

use super::errors;
use super::wire::{Reader, Writer};
use crate::log::LogError;

/// The protocol type of consumers (as opposed to Connect workers).
const PROTOCOL_TYPE: &str = "consumer";

/// What a member asks of the coordinator when it joins.
pub struct JoinRequest<'a> {
    pub group: &'a str,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    /// Empty the first time: the coordinator names the member.
    pub member_id: &'a str,
    /// The assignor's name and the member's subscription.
    pub protocol: &'a str,
    pub metadata: &'a [u8],
}

/// group_id, session_timeout_ms, rebalance_timeout_ms, member_id,
/// group_instance_id null (no static membership), protocol_type,
/// [name, metadata].
pub fn join_request(join: &JoinRequest<'_>) -> Vec<u8> {
    let mut w = Writer::default();
    w.string(join.group)
        .i32(join.session_timeout_ms)
        .i32(join.rebalance_timeout_ms)
        .string(join.member_id)
        .null_string()
        .string(PROTOCOL_TYPE)
        .array(&[(join.protocol, join.metadata)], |w, (name, metadata)| {
            w.string(name).bytes(metadata);
        });
    w.buf
}

/// JoinGroup's answer.
#[derive(Debug, PartialEq, Eq)]
pub struct Joined {
    pub error: i16,
    pub generation: i32,
    pub leader: String,
    pub member_id: String,
    /// Every member and its subscription, for the leader only.
    pub members: Vec<(String, Vec<u8>)>,
}

pub fn join_response(body: &[u8]) -> Result<Joined, LogError> {
    let malformed = errors::malformed("JoinGroup");
    let mut r = Reader::new(body);
    r.i32().map_err(&malformed)?; // throttle_time_ms
    let error = r.i16().map_err(&malformed)?;
    let generation = r.i32().map_err(&malformed)?;
    r.string().map_err(&malformed)?; // protocol_name
    let leader = r.string().map_err(&malformed)?.unwrap_or_default();
    let member_id = r.string().map_err(&malformed)?.unwrap_or_default();
    let members = r
        .array(|r| {
            let id = r.string()?.unwrap_or_default();
            r.string()?; // group_instance_id
            Ok((id, r.bytes()?.unwrap_or_default().to_vec()))
        })
        .map_err(&malformed)?;
    Ok(Joined {
        error,
        generation,
        leader,
        member_id,
        members,
    })
}

/// group_id, generation_id, member_id, group_instance_id null,
/// [member_id, assignment] (the leader's; empty from the others).
pub fn sync_request(
    group: &str,
    generation: i32,
    member_id: &str,
    assignments: &[(String, Vec<u8>)],
) -> Vec<u8> {
    let mut w = Writer::default();
    w.string(group)
        .i32(generation)
        .string(member_id)
        .null_string()
        .array(assignments, |w, (member, assignment)| {
            w.string(member).bytes(assignment);
        });
    w.buf
}

/// The error code and this member's assignment.
pub fn sync_response(body: &[u8]) -> Result<(i16, Vec<u8>), LogError> {
    let malformed = errors::malformed("SyncGroup");
    let mut r = Reader::new(body);
    r.i32().map_err(&malformed)?; // throttle_time_ms
    let error = r.i16().map_err(&malformed)?;
    let assignment = r.bytes().map_err(&malformed)?.unwrap_or_default();
    Ok((error, assignment.to_vec()))
}

/// group_id, generation_id, member_id, group_instance_id null.
pub fn heartbeat_request(group: &str, generation: i32, member_id: &str) -> Vec<u8> {
    let mut w = Writer::default();
    w.string(group)
        .i32(generation)
        .string(member_id)
        .null_string();
    w.buf
}

/// The error code.
pub fn heartbeat_response(body: &[u8]) -> Result<i16, LogError> {
    let malformed = errors::malformed("Heartbeat");
    let mut r = Reader::new(body);
    r.i32().map_err(&malformed)?; // throttle_time_ms
    r.i16().map_err(&malformed)
}

/// group_id, [member_id, group_instance_id null].
pub fn leave_request(group: &str, member_id: &str) -> Vec<u8> {
    let mut w = Writer::default();
    w.string(group).array(&[member_id], |w, id| {
        w.string(id).null_string();
    });
    w.buf
}

/// The request's error code, else the member's.
pub fn leave_response(body: &[u8]) -> Result<i16, LogError> {
    let malformed = errors::malformed("LeaveGroup");
    let mut r = Reader::new(body);
    r.i32().map_err(&malformed)?; // throttle_time_ms
    let error = r.i16().map_err(&malformed)?;
    let members = r
        .array(|r| {
            r.string()?; // member_id
            r.string()?; // group_instance_id
            r.i16()
        })
        .map_err(&malformed)?;
    Ok(members
        .into_iter()
        .fold(error, |first, code| if first == 0 { code } else { first }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join() {
        let request = join_request(&JoinRequest {
            group: "g",
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 30_000,
            member_id: "",
            protocol: "range",
            metadata: &[1, 2],
        });
        let mut expected = Writer::default();
        expected
            .string("g")
            .i32(10_000)
            .i32(30_000)
            .string("")
            .i16(-1)
            .string("consumer")
            .i32(1)
            .string("range")
            .i32(2);
        expected.buf.extend_from_slice(&[1, 2]);
        assert_eq!(request, expected.buf);

        let mut w = Writer::default();
        w.i32(0)
            .i16(0)
            .i32(7)
            .string("range")
            .string("m1")
            .string("m1")
            .i32(2)
            .string("m1")
            .null_string()
            .bytes(b"s1")
            .string("m2")
            .string("i2")
            .bytes(b"s2");
        assert_eq!(
            join_response(&w.buf).unwrap(),
            Joined {
                error: 0,
                generation: 7,
                leader: "m1".into(),
                member_id: "m1".into(),
                members: vec![("m1".into(), b"s1".to_vec()), ("m2".into(), b"s2".to_vec())],
            }
        );
        assert!(matches!(
            join_response(&w.buf[..10]),
            Err(LogError::Unavailable(_))
        ));
    }

    #[test]
    fn sync() {
        let mut expected = Writer::default();
        expected
            .string("g")
            .i32(3)
            .string("m1")
            .i16(-1)
            .i32(1)
            .string("m2")
            .bytes(b"a2");
        assert_eq!(
            sync_request("g", 3, "m1", &[("m2".into(), b"a2".to_vec())]),
            expected.buf
        );
        let mut w = Writer::default();
        w.i32(0).i16(27).bytes(b"");
        assert_eq!(sync_response(&w.buf).unwrap(), (27, vec![]));
    }

    #[test]
    fn heartbeat_and_leave() {
        let mut expected = Writer::default();
        expected.string("g").i32(3).string("m1").i16(-1);
        assert_eq!(heartbeat_request("g", 3, "m1"), expected.buf);
        let mut w = Writer::default();
        w.i32(0).i16(22);
        assert_eq!(heartbeat_response(&w.buf).unwrap(), 22);

        let mut expected = Writer::default();
        expected.string("g").i32(1).string("m1").i16(-1);
        assert_eq!(leave_request("g", "m1"), expected.buf);
        let mut w = Writer::default();
        w.i32(0).i16(0).i32(1).string("m1").null_string().i16(25);
        assert_eq!(leave_response(&w.buf).unwrap(), 25);
    }
}
