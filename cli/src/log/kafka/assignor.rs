//! The range assignor, and the bytes of Kafka's ConsumerProtocol that
//! carry it: a member's subscription (in JoinGroup) and its assignment (in
//! SyncGroup), version 0, which every Kafka client reads (later versions
//! only append fields), so that other clients can share a group with
//! these consumers.

use super::wire::{Malformed, Reader, Writer};

/// The assignor's name, the same as the Java client's range assignor,
/// which splits partitions the same way.
pub const RANGE: &str = "range";

const VERSION: i16 = 0;

/// version 0, [topic], user_data.
pub fn subscription(topic: &str, user_data: &[u8]) -> Vec<u8> {
    let mut w = Writer::default();
    w.i16(VERSION)
        .array(&[topic], |w, t| {
            w.string(t);
        })
        .bytes(user_data);
    w.buf
}

/// The topics a member's subscription (of any version) names.
pub fn subscribed_topics(subscription: &[u8]) -> Result<Vec<String>, Malformed> {
    let mut r = Reader::new(subscription);
    r.i16()?; // version
    r.array(|r| Ok(r.string()?.unwrap_or_default()))
}

/// version 0, [topic [partition]], user_data null.
pub fn assignment(topic: &str, partitions: &[i32]) -> Vec<u8> {
    let mut w = Writer::default();
    w.i16(VERSION)
        .array(&[topic], |w, t| {
            w.string(t).array(partitions, |w, p| {
                w.i32(*p);
            });
        })
        .i32(-1);
    w.buf
}

/// The partitions of `topic` an assignment (of any version) gives; none
/// for empty bytes (what a member without partitions may get).
pub fn assigned_partitions(assignment: &[u8], topic: &str) -> Result<Vec<i32>, Malformed> {
    if assignment.is_empty() {
        return Ok(Vec::new());
    }
    let mut r = Reader::new(assignment);
    r.i16()?; // version
    let topics = r.topics(|r| r.i32())?;
    let mut partitions: Vec<i32> = topics
        .into_iter()
        .filter(|(name, _)| name == topic)
        .flat_map(|(_, partitions)| partitions)
        .collect();
    partitions.sort_unstable();
    Ok(partitions)
}

/// Partitions 0..`partitions` in ranges over `members` sorted by id: each
/// gets partitions / members of them, the first partitions % members one
/// more.
pub fn range(members: &[String], partitions: i32) -> Vec<(String, Vec<i32>)> {
    let mut sorted: Vec<&String> = members.iter().collect();
    sorted.sort();
    let count = sorted.len().max(1) as i32;
    let (each, extra) = (partitions / count, partitions % count);
    let mut next = 0;
    sorted
        .into_iter()
        .enumerate()
        .map(|(i, member)| {
            let take = each + i32::from((i as i32) < extra);
            let share: Vec<i32> = (next..next + take).collect();
            next += take;
            (member.clone(), share)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions() {
        // The ConsumerProtocol's layout: version, one topic "t", 4 bytes.
        let bytes = subscription("t", &[0, 0, 0, 2]);
        assert_eq!(
            bytes,
            [0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 4, 0, 0, 0, 2]
        );
        assert_eq!(subscribed_topics(&bytes), Ok(vec!["t".to_string()]));
        assert!(subscribed_topics(&[0]).is_err());
    }

    #[test]
    fn assignments() {
        let bytes = assignment("t", &[2, 0]);
        assert_eq!(
            bytes,
            [
                0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff,
                0xff
            ]
        );
        assert_eq!(assigned_partitions(&bytes, "t"), Ok(vec![0, 2]));
        assert_eq!(assigned_partitions(&bytes, "other"), Ok(vec![]));
        assert_eq!(assigned_partitions(&[], "t"), Ok(vec![]));
        assert!(assigned_partitions(&bytes[..9], "t").is_err());
    }

    #[test]
    fn ranges_over_sorted_members() {
        let members = ["b".to_string(), "a".to_string()];
        assert_eq!(
            range(&members, 3),
            [("a".to_string(), vec![0, 1]), ("b".to_string(), vec![2])]
        );
        let three = ["c".to_string(), "a".to_string(), "b".to_string()];
        let shares: Vec<Vec<i32>> = range(&three, 2).into_iter().map(|(_, p)| p).collect();
        assert_eq!(shares, [vec![0], vec![1], vec![]]);
        assert_eq!(range(&members[..1], 3)[0].1, [0, 1, 2]);
    }
}
