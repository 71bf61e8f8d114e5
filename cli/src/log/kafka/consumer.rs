//! The [`Consumer`] of a topic for a consumer group: it reads every
//! partition itself (no JoinGroup: one process per group name), starting
//! where the group's committed offsets say, or at the earliest offset; it
//! numbers the records it hands out and remembers the partition and
//! offset of each until they are committed, so that `commit(seq)` can
//! commit, per partition, the offset after the last record up to `seq`.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::batch;
use super::cluster::{Cluster, REQUEST_TIMEOUT};
use super::connection;
use super::errors;
use super::fetch;
use super::group;
use crate::log::{Consumer, Incoming, LogError, Position};
use crate::report::report;

/// The protocol's OFFSET_OUT_OF_RANGE: the position is gone (retention).
const OFFSET_OUT_OF_RANGE: i16 = 1;

pub struct KafkaConsumer {
    pub cluster: Cluster,
    pub group: String,
    pub coordinator: Option<String>,
    /// The next offset to fetch, by partition; empty until known.
    pub positions: Vec<i64>,
    /// (seq, partition, offset) of each record handed out, not committed.
    pub handed: VecDeque<(u64, i32, i64)>,
    pub last_seq: u64,
}

impl KafkaConsumer {
    fn coordinator(&mut self) -> Result<String, LogError> {
        if let Some(addr) = &self.coordinator {
            return Ok(addr.clone());
        }
        let any = self.cluster.leaders()?.swap_remove(0);
        let body = group::find_coordinator_request(&self.group);
        let response =
            self.cluster
                .call(&any, connection::FIND_COORDINATOR, &body, REQUEST_TIMEOUT)?;
        let addr = group::find_coordinator_response(&response, &self.group)?;
        self.coordinator = Some(addr.clone());
        Ok(addr)
    }

    /// The earliest offsets of `partitions`, asked of their leaders.
    fn earliest(
        &mut self,
        leaders: &[String],
        partitions: &[i32],
    ) -> Result<Vec<(i32, i64)>, LogError> {
        let topic = self.cluster.topic.clone();
        let mut found = Vec::new();
        for (leader, partitions) in by_leader(leaders, partitions) {
            let body = fetch::earliest_request(&topic, &partitions);
            let response =
                self.cluster
                    .call(&leader, connection::LIST_OFFSETS, &body, REQUEST_TIMEOUT)?;
            let offsets = fetch::earliest_response(&response, &topic, &partitions)?;
            found.extend(partitions.into_iter().zip(offsets));
        }
        Ok(found)
    }

    /// Each partition's leader, with the positions known (the group's
    /// committed offsets, else the earliest) the first time.
    fn ready(&mut self) -> Result<Vec<String>, LogError> {
        let leaders = self.cluster.leaders()?;
        if self.positions.len() < leaders.len() {
            let coordinator = self.coordinator()?;
            let topic = self.cluster.topic.clone();
            let body = group::offset_fetch_request(&self.group, &topic, leaders.len());
            let response = self.cluster.call(
                &coordinator,
                connection::OFFSET_FETCH,
                &body,
                REQUEST_TIMEOUT,
            )?;
            let mut committed = group::offset_fetch_response(&response, &topic, leaders.len())?;
            let unset: Vec<i32> = (0..leaders.len() as i32)
                .filter(|&p| committed[p as usize] < 0)
                .collect();
            for (partition, offset) in self.earliest(&leaders, &unset)? {
                committed[partition as usize] = offset;
            }
            // Partitions added since: from their start; the others stay
            // where this consumer is.
            let known = self.positions.len();
            self.positions.extend_from_slice(&committed[known..]);
        }
        Ok(leaders)
    }

    /// Records of one fetch from `leader`, appended to `out`.
    fn fetch_from(
        &mut self,
        leader: &str,
        partitions: &[i32],
        wait: Duration,
        out: &mut Vec<Incoming>,
    ) -> Result<(), LogError> {
        let topic = self.cluster.topic.clone();
        let positions: Vec<(i32, i64)> = partitions
            .iter()
            .map(|&p| (p, self.positions[p as usize]))
            .collect();
        let body = fetch::request(&topic, &positions, wait);
        let response =
            self.cluster
                .call(leader, connection::FETCH, &body, wait + REQUEST_TIMEOUT)?;
        for data in fetch::response(&response, &topic)? {
            let Some(index) = usize::try_from(data.partition)
                .ok()
                .filter(|&i| i < self.positions.len())
            else {
                continue;
            };
            if data.error == OFFSET_OUT_OF_RANGE {
                let leaders = self.cluster.leaders()?;
                let (_, earliest) = self.earliest(&leaders, &[data.partition])?[0];
                report!(
                    "dnstap-kit: {topic}/{index}: offset {} is gone from the log; going on from {earliest}",
                    self.positions[index]
                );
                self.positions[index] = earliest;
                continue;
            }
            errors::check(data.error, &format!("fetch from {topic}/{index}"))?;
            let batches = batch::decode(&data.records)
                .map_err(|why| LogError::Refused(format!("{topic}/{index}: {why}")))?;
            for batch in batches {
                for (offset, value) in batch.records {
                    // A batch comes whole: skip what is before the position.
                    if offset >= self.positions[index] {
                        self.last_seq += 1;
                        self.handed
                            .push_back((self.last_seq, data.partition, offset));
                        out.push(Incoming {
                            seq: self.last_seq,
                            position: Position {
                                partition: index as u32,
                                offset: offset as u64,
                            },
                            value,
                        });
                    }
                }
                self.positions[index] = self.positions[index].max(batch.next_offset);
            }
        }
        Ok(())
    }

    fn try_poll(&mut self, wait: Duration, out: &mut Vec<Incoming>) -> Result<(), LogError> {
        let leaders = self.ready()?;
        let all: Vec<i32> = (0..leaders.len() as i32).collect();
        let groups = by_leader(&leaders, &all);
        let share = wait / groups.len() as u32;
        for (leader, partitions) in groups {
            // Once some records came, the other leaders are not waited for.
            let wait = if out.is_empty() {
                share
            } else {
                Duration::ZERO
            };
            self.fetch_from(&leader, &partitions, wait, out)?;
        }
        Ok(())
    }

    fn try_commit(&mut self, offsets: &[(i32, i64)]) -> Result<(), LogError> {
        let coordinator = self.coordinator()?;
        let body = group::offset_commit_request(&self.group, &self.cluster.topic, offsets);
        let response = self.cluster.call(
            &coordinator,
            connection::OFFSET_COMMIT,
            &body,
            REQUEST_TIMEOUT,
        )?;
        group::offset_commit_response(&response)
    }

    fn forget_on_error<T>(&mut self, result: Result<T, LogError>) -> Result<T, LogError> {
        if result.is_err() {
            self.coordinator = None;
        }
        self.cluster.forget_on_error(result)
    }
}

/// `partitions` grouped by their leader's address.
fn by_leader(leaders: &[String], partitions: &[i32]) -> BTreeMap<String, Vec<i32>> {
    let mut groups: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for &p in partitions {
        groups
            .entry(leaders[p as usize].clone())
            .or_default()
            .push(p);
    }
    groups
}

/// The offset to commit for each partition once every handed-out record
/// up to `seq` is processed: the one after its last such record.
fn offsets_up_to(handed: &VecDeque<(u64, i32, i64)>, seq: u64) -> (usize, Vec<(i32, i64)>) {
    let mut offsets = BTreeMap::new();
    let done = handed.iter().take_while(|(s, _, _)| *s <= seq).count();
    for &(_, partition, offset) in handed.iter().take(done) {
        offsets.insert(partition, offset + 1);
    }
    (done, offsets.into_iter().collect())
}

impl Consumer for KafkaConsumer {
    fn poll(&mut self, wait: Duration) -> Result<Vec<Incoming>, LogError> {
        let mut out = Vec::new();
        let result = self.try_poll(wait, &mut out);
        // Records already numbered are handed out even when a later
        // leader failed: the error comes back on the next poll.
        if !out.is_empty() {
            if let Err(err) = result {
                report!("dnstap-kit: {err}");
                self.forget_on_error(Err::<(), _>(err)).ok();
            }
            return Ok(out);
        }
        self.forget_on_error(result).map(|()| out)
    }

    fn commit(&mut self, seq: u64) -> Result<(), LogError> {
        let (done, offsets) = offsets_up_to(&self.handed, seq);
        if offsets.is_empty() {
            return Ok(());
        }
        let result = self.try_commit(&offsets);
        self.forget_on_error(result)?;
        self.handed.drain(..done);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::kafka::compression::Compression;
    use crate::log::kafka::fake::{self, Fake};
    use crate::log::kafka::wire::{Reader, Writer};
    use std::sync::{Arc, Mutex, OnceLock};

    /// A partition 0 of five records, "r0".."r4": each fetch gets the
    /// batch of its offset onward (two records at most); commits and
    /// fetch offsets are kept in `seen`.
    fn broker(seen: Arc<Mutex<Vec<String>>>) -> Fake {
        let addr = Arc::new(OnceLock::<String>::new());
        let known = Arc::clone(&addr);
        let fake = Fake::start(move |key, body| {
            let mut w = Writer::default();
            let mut r = Reader::new(body);
            match key {
                3 => return fake::metadata(known.get().unwrap(), "t", 1),
                10 => {
                    w.i32(0).i16(0).null_string().i32(1);
                    let (host, port) = known.get().unwrap().rsplit_once(':').unwrap();
                    w.string(host).i32(port.parse().unwrap());
                }
                9 => {
                    w.i32(0)
                        .i32(1)
                        .string("t")
                        .i32(1)
                        .i32(0)
                        .i64(-1)
                        .null_string()
                        .i16(0)
                        .i16(0);
                }
                2 => {
                    w.i32(1).string("t").i32(1).i32(0).i16(0).i64(-1).i64(0);
                }
                1 => {
                    r.take(4 + 4 + 4 + 4 + 1 + 4).unwrap();
                    r.string().unwrap();
                    r.take(4 + 4).unwrap();
                    let offset = r.i64().unwrap();
                    seen.lock().unwrap().push(format!("fetch {offset}"));
                    let values: Vec<Vec<u8>> = (offset..5.min(offset + 2))
                        .map(|i| format!("r{i}").into_bytes())
                        .collect();
                    let records: Vec<(Option<&[u8]>, &[u8])> =
                        values.iter().map(|v| (None, v.as_slice())).collect();
                    let mut set = if records.is_empty() {
                        Vec::new()
                    } else {
                        batch::encode(&records, 0, Compression::None)
                    };
                    if !set.is_empty() {
                        set[..8].copy_from_slice(&offset.to_be_bytes());
                    }
                    w.i32(0)
                        .i32(1)
                        .string("t")
                        .i32(1)
                        .i32(0)
                        .i16(0)
                        .i64(5)
                        .i64(5)
                        .i32(-1)
                        .bytes(&set);
                }
                8 => {
                    r.string().unwrap();
                    r.take(4).unwrap();
                    r.string().unwrap();
                    r.take(8 + 4).unwrap();
                    r.string().unwrap();
                    r.take(4 + 4).unwrap();
                    seen.lock()
                        .unwrap()
                        .push(format!("commit {}", r.i64().unwrap()));
                    w.i32(0).i32(1).string("t").i32(1).i32(0).i16(0);
                }
                _ => unreachable!("api {key}"),
            }
            w.buf
        });
        addr.set(fake.addr.clone()).unwrap();
        fake
    }

    #[test]
    fn records_are_numbered_and_committed_per_partition() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let fake = broker(Arc::clone(&seen));
        let mut consumer = KafkaConsumer {
            cluster: Cluster::new(vec![fake.addr.clone()], "t".into()),
            group: "g".into(),
            coordinator: None,
            positions: Vec::new(),
            handed: VecDeque::new(),
            last_seq: 0,
        };
        let values = |records: Vec<Incoming>| -> Vec<(u64, String)> {
            records
                .into_iter()
                .map(|r| {
                    // Record rN is at offset N of partition 0: seq N + 1.
                    let offset = r.seq - 1;
                    assert_eq!(
                        r.position,
                        Position {
                            partition: 0,
                            offset
                        }
                    );
                    (r.seq, String::from_utf8(r.value).unwrap())
                })
                .collect()
        };
        let wait = Duration::from_millis(10);
        assert_eq!(
            values(consumer.poll(wait).unwrap()),
            [(1, "r0".into()), (2, "r1".into())]
        );
        consumer.commit(1).unwrap();
        // Connections and leaders forgotten, as after a failure: the next
        // poll finds them again and goes on from where this consumer is,
        // not from the commit (nothing handed out twice); a commit with
        // nothing new sends nothing.
        consumer.cluster.reset();
        assert_eq!(
            values(consumer.poll(wait).unwrap()),
            [(3, "r2".into()), (4, "r3".into())]
        );
        consumer.commit(4).unwrap();
        consumer.commit(4).unwrap();
        assert_eq!(values(consumer.poll(wait).unwrap()), [(5, "r4".into())]);
        assert!(consumer.poll(wait).unwrap().is_empty());
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "fetch 0", "commit 1", "fetch 2", "commit 4", "fetch 4", "fetch 5"
            ]
        );
    }

    #[test]
    fn commits_the_offset_after_the_last_record_per_partition() {
        let handed: VecDeque<_> = [(1, 0, 10), (2, 1, 5), (3, 0, 11), (4, 1, 6), (5, 2, 0)].into();
        assert_eq!(offsets_up_to(&handed, 3), (3, vec![(0, 12), (1, 6)]));
        assert_eq!(offsets_up_to(&handed, 0), (0, vec![]));
        assert_eq!(
            offsets_up_to(&handed, 9),
            (5, vec![(0, 12), (1, 7), (2, 1)])
        );
    }

    #[test]
    fn partitions_by_leader() {
        let leaders = ["b:1".to_string(), "a:1".to_string(), "b:1".to_string()];
        let groups: Vec<_> = by_leader(&leaders, &[0, 1, 2]).into_iter().collect();
        assert_eq!(
            groups,
            [
                ("a:1".to_string(), vec![1]),
                ("b:1".to_string(), vec![0, 2])
            ]
        );
    }
}
