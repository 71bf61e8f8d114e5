//! Metadata v4: the brokers and, for one topic, each partition's leader.

use super::errors;
use super::wire::{Reader, Writer};
use crate::log::LogError;

#[derive(Debug, PartialEq, Eq)]
pub struct Metadata {
    /// node id → `host:port`.
    pub brokers: Vec<(i32, String)>,
    /// The leader's node id of partition 0, 1, …; -1 while it has none.
    pub leaders: Vec<i32>,
}

impl Metadata {
    pub fn address(&self, node: i32) -> Option<&str> {
        self.brokers
            .iter()
            .find(|(id, _)| *id == node)
            .map(|(_, addr)| addr.as_str())
    }
}

/// topics [name], allow_auto_topic_creation: topics are made by their
/// operator, with the partitions they choose, not by a typo.
pub fn request(topic: &str) -> Vec<u8> {
    let mut w = Writer::default();
    w.array(&[topic], |w, t| {
        w.string(t);
    })
    .i8(0);
    w.buf
}

struct Partition {
    error: i16,
    index: i32,
    leader: i32,
}

pub fn response(body: &[u8], topic: &str) -> Result<Metadata, LogError> {
    let malformed = errors::malformed("Metadata");
    let mut r = Reader::new(body);
    r.i32().map_err(&malformed)?; // throttle_time_ms
    let brokers = r
        .array(|r| {
            let id = r.i32()?;
            let host = r.string()?.unwrap_or_default();
            let port = r.i32()?;
            r.string()?; // rack
            // An IPv6 literal needs its brackets back to be ADDR:PORT.
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host
            };
            Ok((id, format!("{host}:{port}")))
        })
        .map_err(&malformed)?;
    r.string().map_err(&malformed)?; // cluster_id
    r.i32().map_err(&malformed)?; // controller_id
    let topics = r
        .array(|r| {
            let error = r.i16()?;
            let name = r.string()?.unwrap_or_default();
            r.i8()?; // is_internal
            let partitions = r.array(|r| {
                let partition = Partition {
                    error: r.i16()?,
                    index: r.i32()?,
                    leader: r.i32()?,
                };
                r.array(|r| r.i32())?; // replicas
                r.array(|r| r.i32())?; // isr
                Ok(partition)
            })?;
            Ok((error, name, partitions))
        })
        .map_err(&malformed)?;
    let (error, _, mut partitions) = topics
        .into_iter()
        .find(|(_, name, _)| name == topic)
        .ok_or_else(|| LogError::Refused(format!("no topic {topic:?} in the metadata")))?;
    errors::check(error, &format!("topic {topic:?}"))?;
    if partitions.is_empty() {
        return Err(LogError::Refused(format!(
            "topic {topic:?} has no partitions"
        )));
    }
    partitions.sort_by_key(|p| p.index);
    if partitions
        .iter()
        .enumerate()
        .any(|(i, p)| p.index != i as i32)
    {
        return Err(LogError::Unavailable(format!(
            "topic {topic:?}: partitions missing from the metadata"
        )));
    }
    let leaders = partitions
        .iter()
        .map(|p| {
            if p.error == 0 || p.error == 9 {
                p.leader
            } else {
                -1
            }
        })
        .collect();
    Ok(Metadata { brokers, leaders })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(topic_error: i16, partitions: &[(i16, i32, i32)]) -> Vec<u8> {
        let mut w = Writer::default();
        w.i32(0)
            .array(
                &[(1, "127.0.0.1", 9092), (2, "::1", 9093)],
                |w, &(id, host, port)| {
                    w.i32(id).string(host).i32(port).null_string();
                },
            )
            .string("cluster")
            .i32(1)
            .array(
                &[("other", 0), ("dnstap", topic_error)],
                |w, &(name, error)| {
                    w.i16(error).string(name).i8(0);
                    let partitions = if name == "dnstap" { partitions } else { &[] };
                    w.array(partitions, |w, &(error, index, leader)| {
                        w.i16(error).i32(index).i32(leader);
                        w.array(&[leader], |w, n| {
                            w.i32(*n);
                        });
                        w.array(&[leader], |w, n| {
                            w.i32(*n);
                        });
                    });
                },
            );
        w.buf
    }

    #[test]
    fn leaders_by_partition() {
        assert_eq!(
            request("dnstap"),
            [0, 0, 0, 1, 0, 6, b'd', b'n', b's', b't', b'a', b'p', 0]
        );
        let metadata = response(&body(0, &[(0, 1, 2), (0, 0, 1), (5, 2, -1)]), "dnstap").unwrap();
        assert_eq!(metadata.leaders, [1, 2, -1]);
        assert_eq!(metadata.address(2), Some("[::1]:9093"));
        assert_eq!(metadata.address(1), Some("127.0.0.1:9092"));
    }

    #[test]
    fn an_unknown_topic_is_refused() {
        assert!(matches!(
            response(&body(3, &[]), "dnstap"),
            Err(LogError::Refused(_))
        ));
        assert!(matches!(
            response(&body(0, &[]), "nosuch"),
            Err(LogError::Refused(_))
        ));
        assert!(matches!(
            response(&body(0, &[(0, 1, 1)]), "dnstap"),
            Err(LogError::Unavailable(_))
        ));
    }
}
