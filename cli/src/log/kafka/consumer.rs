//! The [`Consumer`] of a topic as a member of a consumer group (see
//! `member`): processes with the same group name share the topic's
//! partitions, each reading those assigned to it, from the group's
//! committed offset, or from the earliest. It numbers the records it hands
//! out and remembers the partition and offset of each until they are
//! committed, so that `commit(seq)` can commit, per partition, the offset
//! after the last record up to `seq`.
//!
//! When the group rebalances, records handed out are given up to [`DRAIN`]
//! to be committed before this member joins again, since its partitions
//! may go to another member, which starts from the committed offsets
//! (`pdns ingest` stores and commits a batch within its flush interval).
//! After the rejoin, a partition kept goes on from this consumer's
//! position, one new to it from the group's committed offset. Dropping the
//! consumer leaves the group, so that the others take its partitions at
//! once rather than after the session timeout.

use std::collections::{BTreeMap, VecDeque};
use std::thread;
use std::time::{Duration, Instant};

use super::batch;
use super::cluster::{Cluster, REQUEST_TIMEOUT};
use super::connection;
use super::errors::{self, OFFSET_OUT_OF_RANGE};
use super::fetch;
use super::member::Member;
use crate::log::{Consumer, Incoming, LogError, Position};
use crate::report::report;

/// How long a rebalance waits for the records handed out to be committed:
/// well within the session and rebalance timeouts.
const DRAIN: Duration = Duration::from_secs(5);

pub struct KafkaConsumer {
    cluster: Cluster,
    member: Member,
    /// The next offset to fetch of each partition assigned.
    positions: BTreeMap<i32, i64>,
    /// (seq, partition, offset) of each record handed out, not committed.
    handed: VecDeque<(u64, i32, i64)>,
    last_seq: u64,
    /// Since when a rebalance waits for handed-out records' commit.
    draining_since: Option<Instant>,
}

impl KafkaConsumer {
    pub fn new(cluster: Cluster, group: String) -> KafkaConsumer {
        KafkaConsumer {
            cluster,
            member: Member::new(group),
            positions: BTreeMap::new(),
            handed: VecDeque::new(),
            last_seq: 0,
            draining_since: None,
        }
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

    /// Whether handed-out records still get time to be committed before
    /// this member rejoins.
    fn draining(&mut self) -> bool {
        if self.handed.is_empty() || !self.member.assigned() {
            self.draining_since = None;
            return false;
        }
        self.draining_since
            .get_or_insert_with(Instant::now)
            .elapsed()
            < DRAIN
    }

    /// Joins the group and takes the positions of the partitions assigned.
    fn rebalance(&mut self, leaders: &[String]) -> Result<(), LogError> {
        let assigned = self.member.join(&mut self.cluster, leaders.len() as i32)?;
        let result = self.take_positions(leaders, &assigned);
        if result.is_err() {
            // Assigned, without knowing where to start: join again.
            self.member.rejoin = true;
        }
        result
    }

    fn take_positions(&mut self, leaders: &[String], assigned: &[i32]) -> Result<(), LogError> {
        let committed = self.member.committed(&mut self.cluster, assigned)?;
        let mut positions = BTreeMap::new();
        let mut unset = Vec::new();
        // Partitions this consumer goes on with, from its position.
        let mut kept = Vec::new();
        for (&partition, &offset) in assigned.iter().zip(&committed) {
            match (self.positions.get(&partition), offset) {
                // Unless another member read it in between and committed
                // further: what this one handed out is behind.
                (Some(&mine), offset) if mine >= offset => {
                    kept.push(partition);
                    positions.insert(partition, mine)
                }
                (_, -1) => {
                    unset.push(partition);
                    None
                }
                (_, offset) => positions.insert(partition, offset),
            };
        }
        positions.extend(self.earliest(leaders, &unset)?);
        self.positions = positions;
        self.draining_since = None;
        self.handed
            .retain(|(_, partition, _)| kept.contains(partition));
        report!(
            "dnstap-kit: {}: group {:?} assigns partitions {assigned:?} to this consumer ({})",
            self.cluster.topic,
            self.member.group,
            self.member.role()
        );
        Ok(())
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
            .filter_map(|p| Some((*p, *self.positions.get(p)?)))
            .collect();
        let body = fetch::request(&topic, &positions, wait);
        let response =
            self.cluster
                .call(leader, connection::FETCH, &body, wait + REQUEST_TIMEOUT)?;
        for data in fetch::response(&response, &topic)? {
            let partition = data.partition;
            let Some(&position) = self.positions.get(&partition) else {
                continue;
            };
            if data.error == OFFSET_OUT_OF_RANGE {
                let leaders = self.cluster.leaders()?;
                let (_, earliest) = self.earliest(&leaders, &[partition])?[0];
                report!(
                    "dnstap-kit: {topic}/{partition}: offset {position} is gone from the log; going on from {earliest}"
                );
                self.positions.insert(partition, earliest);
                continue;
            }
            errors::check(data.error, &format!("fetch from {topic}/{partition}"))?;
            let batches = batch::decode(&data.records)
                .map_err(|why| LogError::Refused(format!("{topic}/{partition}: {why}")))?;
            let mut next = position;
            for batch in batches {
                for (offset, value) in batch.records {
                    // A batch comes whole: skip what is before the position.
                    if offset >= next {
                        self.last_seq += 1;
                        self.handed.push_back((self.last_seq, partition, offset));
                        out.push(Incoming {
                            seq: self.last_seq,
                            position: Position {
                                partition: partition as u32,
                                offset: offset as u64,
                            },
                            value,
                        });
                    }
                }
                next = next.max(batch.next_offset);
            }
            self.positions.insert(partition, next);
        }
        Ok(())
    }

    fn try_poll(&mut self, wait: Duration, out: &mut Vec<Incoming>) -> Result<(), LogError> {
        let leaders = self.cluster.leaders()?;
        self.member.heartbeat_if_due(&mut self.cluster)?;
        if self.member.rejoin || !self.member.assigned() {
            if self.draining() {
                thread::sleep(wait);
                return Ok(());
            }
            self.rebalance(&leaders)?;
        }
        let assigned: Vec<i32> = self.positions.keys().copied().collect();
        if assigned.is_empty() {
            // More members than partitions: this one waits for a rebalance.
            thread::sleep(wait);
            return Ok(());
        }
        let groups = by_leader(&leaders, &assigned);
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

    fn forget_on_error<T>(&mut self, result: Result<T, LogError>) -> Result<T, LogError> {
        if result.is_err() {
            self.member.forget_coordinator();
        }
        self.cluster.forget_on_error(result)
    }
}

/// `partitions` grouped by their leader's address.
fn by_leader(leaders: &[String], partitions: &[i32]) -> BTreeMap<String, Vec<i32>> {
    let mut groups: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for &p in partitions {
        if let Some(leader) = leaders.get(p as usize) {
            groups.entry(leader.clone()).or_default().push(p);
        }
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
        if !offsets.is_empty() {
            let result = self.member.commit(&mut self.cluster, &offsets);
            self.forget_on_error(result)?;
            self.handed.drain(..done);
        }
        // A consumer that processes slowly still beats in time.
        let beat = self.member.heartbeat_if_due(&mut self.cluster);
        self.forget_on_error(beat)
    }
}

impl Drop for KafkaConsumer {
    fn drop(&mut self) {
        self.member.exit(&mut self.cluster);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::kafka::compression::Compression;
    use crate::log::kafka::fake::{self, Fake};
    use crate::log::kafka::wire::{Malformed, Reader, Writer};
    use std::sync::{Arc, Mutex, OnceLock};

    /// What the fake cluster saw (a line per fetch, commit and group
    /// request) and holds (the group's committed offsets).
    #[derive(Default)]
    struct Seen {
        lines: Vec<String>,
        committed: BTreeMap<i32, i64>,
    }

    type Shared = Arc<Mutex<Seen>>;

    fn note(seen: &Shared, line: String) {
        seen.lock().unwrap().lines.push(line);
    }

    /// The [partition, offset, …] array of a request, `rest` reading what
    /// follows each offset.
    fn partition_offsets(
        r: &mut Reader,
        rest: fn(&mut Reader) -> Result<(), Malformed>,
    ) -> Vec<(i32, i64)> {
        r.array(|r| {
            let pair = (r.i32()?, r.i64()?);
            rest(r)?;
            Ok(pair)
        })
        .unwrap()
    }

    /// "pP{sep}O" for each (partition, offset), spaced.
    fn listed(pairs: &[(i32, i64)], sep: char) -> String {
        let each: Vec<String> = pairs.iter().map(|(p, o)| format!("p{p}{sep}{o}")).collect();
        each.join(" ")
    }

    /// Topic "t" of `partitions` partitions of five records each, "pPrN"
    /// at offset N; a fetch gets at most two records of a partition. The
    /// group's membership requests (keys 11 to 14) are answered by `group`.
    fn broker(
        partitions: i32,
        seen: Shared,
        group: impl Fn(i16, &[u8]) -> Vec<u8> + Send + Sync + 'static,
    ) -> Fake {
        let addr = Arc::new(OnceLock::<String>::new());
        let known = Arc::clone(&addr);
        let fake = Fake::start(move |key, body| {
            let mut w = Writer::default();
            let mut r = Reader::new(body);
            match key {
                3 => return fake::metadata(known.get().unwrap(), "t", partitions),
                10 => return fake::coordinator(known.get().unwrap()),
                11..=14 => return group(key, body),
                1 => {
                    r.take(4 + 4 + 4 + 4 + 1 + 4).unwrap();
                    r.string().unwrap();
                    let asked = partition_offsets(&mut r, |r| r.i32().map(drop));
                    note(&seen, format!("fetch {}", listed(&asked, '@')));
                    w.i32(0)
                        .i32(1)
                        .string("t")
                        .array(&asked, |w, &(p, offset)| {
                            let values: Vec<Vec<u8>> = (offset..5.min(offset + 2))
                                .map(|i| format!("p{p}r{i}").into_bytes())
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
                            w.i32(p).i16(0).i64(5).i64(5).i32(-1).bytes(&set);
                        });
                }
                9 => {
                    r.string().unwrap();
                    r.i32().unwrap();
                    r.string().unwrap();
                    let asked = r.array(|r| r.i32()).unwrap();
                    let committed = seen.lock().unwrap().committed.clone();
                    w.i32(0).i32(1).string("t").array(&asked, |w, p| {
                        let offset = committed.get(p).copied().unwrap_or(-1);
                        w.i32(*p).i64(offset).null_string().i16(0);
                    });
                    w.i16(0);
                }
                2 => {
                    r.i32().unwrap();
                    r.i32().unwrap();
                    r.string().unwrap();
                    let asked = r
                        .array(|r| {
                            let partition = r.i32()?;
                            r.i64()?;
                            Ok(partition)
                        })
                        .unwrap();
                    w.i32(1).string("t").array(&asked, |w, p| {
                        w.i32(*p).i16(0).i64(-1).i64(0);
                    });
                }
                8 => {
                    r.string().unwrap();
                    let generation = r.i32().unwrap();
                    let member = r.string().unwrap().unwrap();
                    r.i64().unwrap();
                    r.i32().unwrap();
                    r.string().unwrap();
                    let offsets = partition_offsets(&mut r, |r| r.string().map(drop));
                    let line = listed(&offsets, '=');
                    note(&seen, format!("commit g{generation} {member} {line}"));
                    seen.lock()
                        .unwrap()
                        .committed
                        .extend(offsets.iter().copied());
                    w.i32(0).i32(1).string("t").array(&offsets, |w, (p, _)| {
                        w.i32(*p).i16(0);
                    });
                }
                _ => unreachable!("api {key}"),
            }
            w.buf
        });
        addr.set(fake.addr.clone()).unwrap();
        fake
    }

    /// The member id and the subscription's user data of a JoinGroup.
    fn join_of(body: &[u8]) -> (String, Vec<u8>) {
        let mut r = Reader::new(body);
        r.string().unwrap();
        r.take(8).unwrap();
        let member = r.string().unwrap().unwrap();
        r.string().unwrap();
        r.string().unwrap();
        r.i32().unwrap();
        r.string().unwrap();
        let subscription = r.bytes().unwrap().unwrap();
        (member, subscription[subscription.len() - 4..].to_vec())
    }

    /// The member id of a Heartbeat (after the generation) or of a
    /// LeaveGroup (after the count of its one member).
    fn member_of(body: &[u8]) -> String {
        let mut r = Reader::new(body);
        r.string().unwrap();
        r.i32().unwrap();
        r.string().unwrap().unwrap()
    }

    /// A heartbeat noted, answered with `error`.
    fn noted_beat(log: &Shared, body: &[u8], error: i16) -> Vec<u8> {
        note(log, format!("heartbeat {}", member_of(body)));
        fake::beat(error)
    }

    /// SyncGroup (the leader's own share back) or LeaveGroup, noted.
    fn sync_or_leave(log: &Shared, key: i16, body: &[u8]) -> Vec<u8> {
        if key == 14 {
            let assignments = fake::sync_assignments(body);
            note(log, format!("sync {assignments:?}"));
            return fake::synced(0, &assignments[0].1);
        }
        note(log, format!("leave {}", member_of(body)));
        let mut w = Writer::default();
        w.i32(0).i16(0).i32(0);
        w.buf
    }

    /// (seq, value) of each record.
    fn values(records: Vec<Incoming>) -> Vec<(u64, String)> {
        records
            .into_iter()
            .map(|r| {
                let value = String::from_utf8(r.value).unwrap();
                assert_eq!(
                    value,
                    format!("p{}r{}", r.position.partition, r.position.offset)
                );
                (r.seq, value)
            })
            .collect()
    }

    /// A consumer of `fake` with a heartbeat at every poll: the two
    /// records of its first share, a poll that waits for their commit
    /// (the heartbeat said the group rebalances), the commit, then the
    /// records of the new share; dropped, the lines `seen` are `expected`.
    fn through_a_rebalance(
        fake: &Fake,
        seen: &Shared,
        first: [&str; 2],
        then: [&str; 4],
        expected: &[&str],
    ) {
        let mut consumer = KafkaConsumer::new(
            Cluster::new(vec![fake.addr.clone()], "t".into()),
            "g".into(),
        );
        consumer.member.heartbeat_every = Duration::ZERO;
        let wait = Duration::from_millis(10);
        let numbered = |values: &[&str], from: u64| -> Vec<(u64, String)> {
            (from..).zip(values.iter().map(|v| v.to_string())).collect()
        };
        assert_eq!(values(consumer.poll(wait).unwrap()), numbered(&first, 1));
        assert!(consumer.poll(wait).unwrap().is_empty());
        consumer.commit(2).unwrap();
        assert_eq!(values(consumer.poll(wait).unwrap()), numbered(&then, 3));
        drop(consumer);
        assert_eq!(seen.lock().unwrap().lines, expected);
    }

    #[test]
    fn a_lone_member_reads_every_partition_and_commits_in_its_generation() {
        let seen = Shared::default();
        let log = Arc::clone(&seen);
        let fake = broker(1, Arc::clone(&seen), move |key, body| match key {
            11 => match join_of(body).0.as_str() {
                "" => fake::joined(79, -1, "", "m1", &[]),
                _ => fake::joined(0, 1, "m1", "m1", &["m1"]),
            },
            13 | 14 => sync_or_leave(&log, key, body),
            _ => fake::beat(0),
        });
        let mut consumer = KafkaConsumer::new(
            Cluster::new(vec![fake.addr.clone()], "t".into()),
            "g".into(),
        );
        let wait = Duration::from_millis(10);
        assert_eq!(
            values(consumer.poll(wait).unwrap()),
            [(1, "p0r0".into()), (2, "p0r1".into())]
        );
        consumer.commit(1).unwrap();
        // Connections and leaders forgotten, as after a failure: the next
        // poll finds them again and goes on from where this consumer is,
        // not from the commit (nothing handed out twice); a commit with
        // nothing new sends nothing.
        consumer.cluster.reset();
        assert_eq!(
            values(consumer.poll(wait).unwrap()),
            [(3, "p0r2".into()), (4, "p0r3".into())]
        );
        consumer.commit(4).unwrap();
        consumer.commit(4).unwrap();
        assert_eq!(values(consumer.poll(wait).unwrap()), [(5, "p0r4".into())]);
        assert!(consumer.poll(wait).unwrap().is_empty());
        drop(consumer);
        assert_eq!(
            seen.lock().unwrap().lines,
            [
                "sync [(\"m1\", [0])]",
                "fetch p0@0",
                "commit g1 m1 p0=1",
                "fetch p0@2",
                "commit g1 m1 p0=4",
                "fetch p0@4",
                "fetch p0@5",
                "leave m1",
            ]
        );
    }

    #[test]
    fn a_rebalance_commits_what_was_processed_then_takes_the_new_share() {
        // Two members, m1 (this consumer, the leader) and m2, then m2 is
        // gone: the heartbeat says the group rebalances.
        let seen = Shared::default();
        seen.lock().unwrap().committed.insert(1, 3);
        let log = Arc::clone(&seen);
        let round = Arc::new(Mutex::new(0));
        let fake = broker(2, Arc::clone(&seen), move |key, body| {
            let mut round = round.lock().unwrap();
            match key {
                11 => {
                    let (member, user_data) = join_of(body);
                    note(&log, format!("join {member:?} {user_data:?}"));
                    match (member.as_str(), *round) {
                        ("", _) => fake::joined(79, -1, "", "m1", &[]),
                        (_, 0) => fake::joined(0, 1, "m1", "m1", &["m2", "m1"]),
                        _ => fake::joined(0, 2, "m1", "m1", &["m1"]),
                    }
                }
                12 => {
                    *round += 1;
                    noted_beat(&log, body, if *round == 1 { 27 } else { 0 })
                }
                _ => sync_or_leave(&log, key, body),
            }
        });
        through_a_rebalance(
            &fake,
            &seen,
            ["p0r0", "p0r1"],
            ["p0r2", "p0r3", "p1r3", "p1r4"],
            &[
                "join \"\" [0, 0, 0, 0]",
                "join \"m1\" [0, 0, 0, 0]",
                "sync [(\"m1\", [0]), (\"m2\", [1])]",
                "fetch p0@0",
                "heartbeat m1",
                "commit g1 m1 p0=2",
                // The leader rejoins with its subscription changed.
                "join \"m1\" [0, 0, 0, 1]",
                "sync [(\"m1\", [0, 1])]",
                "fetch p0@2 p1@3",
                // The leader leaves unless the group rebalances.
                "heartbeat m1",
                "leave m1",
            ],
        );
    }

    #[test]
    fn a_follower_rejoins_as_a_new_member_and_a_sync_without_assignment_is_joined_again() {
        // m2 (this consumer) follows m1; after the rebalance it leads
        // alone as m3, the coordinator first syncing it with no assignment
        // (Tansu's answer when a leader vanished), and at the end its
        // heartbeat says the group rebalances: it does not leave.
        let seen = Shared::default();
        let log = Arc::clone(&seen);
        let syncs = Arc::new(Mutex::new(0));
        let fake = broker(2, Arc::clone(&seen), move |key, body| match key {
            11 => {
                let (member, user_data) = join_of(body);
                note(&log, format!("join {member:?} {user_data:?}"));
                match member.as_str() {
                    "" if *syncs.lock().unwrap() == 0 => fake::joined(79, -1, "", "m2", &[]),
                    "" => fake::joined(79, -1, "", "m3", &[]),
                    "m2" => fake::joined(0, 1, "m1", "m2", &[]),
                    _ => fake::joined(0, 2 + user_data[3] as i32, "m3", "m3", &["m3"]),
                }
            }
            14 => {
                let assignments = fake::sync_assignments(body);
                note(&log, format!("sync {assignments:?}"));
                let mut syncs = syncs.lock().unwrap();
                *syncs += 1;
                match *syncs {
                    1 => fake::synced(0, &[1]),
                    2 => {
                        let mut w = Writer::default();
                        w.i32(0).i16(0).bytes(&[]);
                        w.buf
                    }
                    _ => fake::synced(0, &assignments[0].1),
                }
            }
            12 => noted_beat(&log, body, 27),
            _ => sync_or_leave(&log, key, body),
        });
        through_a_rebalance(
            &fake,
            &seen,
            ["p1r0", "p1r1"],
            ["p0r0", "p0r1", "p1r2", "p1r3"],
            &[
                "join \"\" [0, 0, 0, 0]",
                "join \"m2\" [0, 0, 0, 0]",
                "sync []",
                "fetch p1@0",
                "heartbeat m2",
                "commit g1 m2 p1=2",
                "leave m2",
                "join \"\" [0, 0, 0, 0]",
                "join \"m3\" [0, 0, 0, 0]",
                "sync [(\"m3\", [0, 1])]",
                "join \"m3\" [0, 0, 0, 1]",
                "sync [(\"m3\", [0, 1])]",
                "fetch p0@0 p1@2",
                "heartbeat m3",
            ],
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
