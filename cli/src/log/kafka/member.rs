//! This process as a member of its consumer group: it finds the group's
//! coordinator, joins (JoinGroup, then SyncGroup: the leader of each
//! generation assigns the topic's partitions to every member with
//! `assignor::range`), keeps its membership with heartbeats, leaves, and
//! reads and commits the group's offsets within its generation.
//!
//! The client is synchronous, so the consumer calls
//! [`Member::heartbeat_if_due`] from its poll and commit; a heartbeat is
//! due every third of [`SESSION_TIMEOUT`]. A rebalance (a member came,
//! left or missed its session) is learned from a heartbeat's or a
//! commit's error code and sets [`Member::rejoin`]: the consumer then joins
//! again with [`Member::join`], which may take up to [`REBALANCE_TIMEOUT`].

use std::thread;
use std::time::{Duration, Instant};

use super::assignor;
use super::cluster::{Cluster, REQUEST_TIMEOUT};
use super::connection::{self, Api};
use super::errors::{
    self, ILLEGAL_GENERATION, MEMBER_ID_REQUIRED, REBALANCE_IN_PROGRESS, UNKNOWN_MEMBER_ID,
};
use super::group::{self, Committer};
use super::membership::{self, JoinRequest};
use crate::log::LogError;
use crate::report::report;

/// A member not heard from for this long is out of the group, its
/// partitions given to the others.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the members have to join again once a rebalance started.
pub const REBALANCE_TIMEOUT: Duration = Duration::from_secs(30);
/// Between two attempts to join while the group is still rebalancing.
const RETRY_PAUSE: Duration = Duration::from_millis(250);
/// Leaving is a courtesy to the others (they would rebalance after
/// SESSION_TIMEOUT anyway): an exit does not wait longer for it.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(3);

pub struct Member {
    pub group: String,
    coordinator: Option<String>,
    /// Given by the coordinator on the first join; empty before.
    id: String,
    /// The generation of the assignment held; -1 when none is.
    generation: i32,
    leader: bool,
    /// The group rebalances: the assignment held is void, join again.
    pub rejoin: bool,
    /// Its subscription's user data, changed to start a new generation
    /// (see `step_aside`).
    subscription_epoch: u32,
    pub heartbeat_every: Duration,
    last_heartbeat: Instant,
}

impl Member {
    pub fn new(group: String) -> Member {
        Member {
            group,
            coordinator: None,
            id: String::new(),
            generation: -1,
            leader: false,
            rejoin: false,
            subscription_epoch: 0,
            heartbeat_every: SESSION_TIMEOUT / 3,
            last_heartbeat: Instant::now(),
        }
    }

    /// Whether this member holds the assignment of a generation.
    pub fn assigned(&self) -> bool {
        self.generation >= 0
    }

    /// Its generation and whether it leads it, for a log line.
    pub fn role(&self) -> String {
        let role = if self.leader { "leader" } else { "member" };
        format!("generation {}, {role}", self.generation)
    }

    fn coordinator(&mut self, cluster: &mut Cluster) -> Result<String, LogError> {
        if let Some(addr) = &self.coordinator {
            return Ok(addr.clone());
        }
        let any = cluster.leaders()?.swap_remove(0);
        let body = group::find_coordinator_request(&self.group);
        let response = cluster.call(&any, connection::FIND_COORDINATOR, &body, REQUEST_TIMEOUT)?;
        let addr = group::find_coordinator_response(&response, &self.group)?;
        self.coordinator = Some(addr.clone());
        Ok(addr)
    }

    /// After a failure: the coordinator is looked up again.
    pub fn forget_coordinator(&mut self) {
        self.coordinator = None;
    }

    fn call(
        &mut self,
        cluster: &mut Cluster,
        api: Api,
        body: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, LogError> {
        let coordinator = self.coordinator(cluster)?;
        cluster.call(&coordinator, api, body, timeout)
    }

    /// Joins the group (again) and returns the partitions of the topic
    /// assigned to this member, of the topic's `partitions`; an error when
    /// the group is still rebalancing after [`REBALANCE_TIMEOUT`].
    pub fn join(&mut self, cluster: &mut Cluster, partitions: i32) -> Result<Vec<i32>, LogError> {
        if self.assigned() {
            self.step_aside(cluster);
        }
        let deadline = Instant::now() + REBALANCE_TIMEOUT;
        loop {
            if let Some(assigned) = self.try_join(cluster, partitions)? {
                self.rejoin = false;
                self.last_heartbeat = Instant::now();
                return Ok(assigned);
            }
            if Instant::now() >= deadline {
                return Err(LogError::Unavailable(format!(
                    "group {:?}: still rebalancing after {REBALANCE_TIMEOUT:?}",
                    self.group
                )));
            }
            thread::sleep(RETRY_PAUSE);
        }
    }

    /// Before joining again: the leader changes its subscription (its user
    /// data counts such changes), a follower leaves and joins as a new
    /// member. To a Kafka coordinator either is plain protocol, costing at
    /// most one more round of the rebalance. Tansu 0.6.0 needs it: there, a
    /// member that rejoins with an unchanged subscription gets the previous
    /// assignment back, even when another member was dropped for a missed
    /// session meanwhile; a changed subscription starts a new generation
    /// led by the same leader (which must therefore stay, a leader that
    /// left keeping its seat), and a follower that leaves frees the seat of
    /// a leader that is gone.
    fn step_aside(&mut self, cluster: &mut Cluster) {
        self.generation = -1;
        if self.leader {
            self.subscription_epoch += 1;
        } else {
            self.leave(cluster);
        }
    }

    /// One JoinGroup and SyncGroup: the assignment, or `None` while the
    /// group rebalances.
    fn try_join(
        &mut self,
        cluster: &mut Cluster,
        partitions: i32,
    ) -> Result<Option<Vec<i32>>, LogError> {
        let topic = cluster.topic.clone();
        let subscription = assignor::subscription(&topic, &self.subscription_epoch.to_be_bytes());
        let body = membership::join_request(&JoinRequest {
            group: &self.group,
            session_timeout_ms: SESSION_TIMEOUT.as_millis() as i32,
            rebalance_timeout_ms: REBALANCE_TIMEOUT.as_millis() as i32,
            member_id: &self.id,
            protocol: assignor::RANGE,
            metadata: &subscription,
        });
        // A Kafka coordinator answers once every member joined, at most
        // REBALANCE_TIMEOUT later.
        let response = self.call(cluster, connection::JOIN_GROUP, &body, REQUEST_TIMEOUT)?;
        let joined = membership::join_response(&response)?;
        match joined.error {
            0 => {}
            MEMBER_ID_REQUIRED => {
                self.id = joined.member_id;
                return Ok(None);
            }
            UNKNOWN_MEMBER_ID => {
                self.id.clear();
                return Ok(None);
            }
            REBALANCE_IN_PROGRESS => return Ok(None),
            code => errors::check(code, &format!("joining group {:?}", self.group))?,
        }
        self.id = joined.member_id;
        self.leader = joined.leader == self.id;
        let assignments = if self.leader {
            assign(&topic, partitions, &joined.members)
        } else {
            Vec::new()
        };
        let body = membership::sync_request(&self.group, joined.generation, &self.id, &assignments);
        let response = self.call(cluster, connection::SYNC_GROUP, &body, REQUEST_TIMEOUT)?;
        let (error, assignment) = membership::sync_response(&response)?;
        match error {
            0 => {}
            UNKNOWN_MEMBER_ID => {
                self.id.clear();
                return Ok(None);
            }
            ILLEGAL_GENERATION | REBALANCE_IN_PROGRESS => return Ok(None),
            code => errors::check(code, &format!("syncing group {:?}", self.group))?,
        }
        if assignment.is_empty() {
            // No leader assigned this generation (a leader's assignment,
            // even of no partition, has bytes): Tansu 0.6.0 ends a
            // rebalance so when its leader is dropped between this
            // member's JoinGroup and SyncGroup, and then keeps answering
            // with that. A changed subscription starts a new generation.
            self.subscription_epoch += 1;
            return Ok(None);
        }
        let assigned = assignor::assigned_partitions(&assignment, &topic)
            .map_err(errors::malformed("SyncGroup"))?;
        self.generation = joined.generation;
        Ok(Some(assigned))
    }

    /// A heartbeat, if one is due; a rebalance it learns of sets
    /// [`Member::rejoin`].
    pub fn heartbeat_if_due(&mut self, cluster: &mut Cluster) -> Result<(), LogError> {
        if !self.assigned() || self.rejoin || self.last_heartbeat.elapsed() < self.heartbeat_every {
            return Ok(());
        }
        let code = self.beat(cluster, SESSION_TIMEOUT)?;
        self.last_heartbeat = Instant::now();
        self.generation_over(code, "heartbeat")?;
        Ok(())
    }

    /// One Heartbeat in this generation: its error code.
    fn beat(&mut self, cluster: &mut Cluster, timeout: Duration) -> Result<i16, LogError> {
        let body = membership::heartbeat_request(&self.group, self.generation, &self.id);
        let response = self.call(cluster, connection::HEARTBEAT, &body, timeout)?;
        membership::heartbeat_response(&response)
    }

    /// Whether `code`, the answer to a request made within the
    /// generation, ends it (and this member must join again); other codes
    /// are errors as usual.
    fn generation_over(&mut self, code: i16, what: &str) -> Result<bool, LogError> {
        match code {
            REBALANCE_IN_PROGRESS | ILLEGAL_GENERATION => self.rejoin = true,
            UNKNOWN_MEMBER_ID => {
                // Dropped from the group: join as a new member.
                self.rejoin = true;
                self.id.clear();
                self.generation = -1;
            }
            code => {
                errors::check(code, &format!("{what} in group {:?}", self.group))?;
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The group's committed offset of each of `partitions`, -1 where none is.
    pub fn committed(
        &mut self,
        cluster: &mut Cluster,
        partitions: &[i32],
    ) -> Result<Vec<i64>, LogError> {
        let topic = cluster.topic.clone();
        let body = group::offset_fetch_request(&self.group, &topic, partitions);
        let response = self.call(cluster, connection::OFFSET_FETCH, &body, REQUEST_TIMEOUT)?;
        group::offset_fetch_response(&response, &topic, partitions)
    }

    /// Commits `offsets` (partition, next offset) in this generation.
    pub fn commit(
        &mut self,
        cluster: &mut Cluster,
        offsets: &[(i32, i64)],
    ) -> Result<(), LogError> {
        let topic = cluster.topic.clone();
        let by = Committer {
            group: &self.group,
            generation: self.generation,
            member_id: &self.id,
        };
        let body = group::offset_commit_request(&by, &topic, offsets);
        let response = self.call(cluster, connection::OFFSET_COMMIT, &body, REQUEST_TIMEOUT)?;
        let code = group::offset_commit_response(&response)?;
        if self.generation_over(code, "commit")? {
            return Err(LogError::Unavailable(format!(
                "commit in group {:?}: the group rebalances (error {code})",
                self.group
            )));
        }
        Ok(())
    }

    /// At the end: leaves the group, so that the others rebalance now
    /// rather than after the session timeout; unless this member leads a
    /// group that is rebalancing (its heartbeat says so), since Tansu
    /// 0.6.0 then keeps a leader that left in the leader's seat and the
    /// members joining would wait for it for ever: not leaving, its session
    /// times out, which frees the seat.
    pub fn exit(&mut self, cluster: &mut Cluster) {
        if self.leader && self.assigned() {
            let rebalancing = self.rejoin
                || self
                    .beat(cluster, LEAVE_TIMEOUT)
                    .is_ok_and(|code| code != 0);
            if rebalancing {
                return;
            }
        }
        self.leave(cluster);
    }

    /// Leaves the group, if in it; a failure is only reported.
    fn leave(&mut self, cluster: &mut Cluster) {
        if self.id.is_empty() {
            return;
        }
        let body = membership::leave_request(&self.group, &self.id);
        let left = self
            .call(cluster, connection::LEAVE_GROUP, &body, LEAVE_TIMEOUT)
            .and_then(|response| membership::leave_response(&response))
            .and_then(|code| errors::check(code, "leave"));
        if let Err(err) = left {
            report!("dnstap-kit: leaving group {:?}: {err}", self.group);
        }
        self.id.clear();
        self.generation = -1;
    }
}

/// The leader's assignments: the topic's partitions in ranges over the
/// members subscribed to it; the others get none.
fn assign(topic: &str, partitions: i32, members: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let subscribed: Vec<String> = members
        .iter()
        .filter(|(_, subscription)| {
            assignor::subscribed_topics(subscription)
                .is_ok_and(|topics| topics.iter().any(|t| t == topic))
        })
        .map(|(id, _)| id.clone())
        .collect();
    let mut shares = assignor::range(&subscribed, partitions);
    for (id, _) in members {
        if !subscribed.contains(id) {
            shares.push((id.clone(), Vec::new()));
        }
    }
    shares
        .into_iter()
        .map(|(id, share)| (id, assignor::assignment(topic, &share)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leader_assigns_only_subscribers() {
        let members = [
            ("m2".to_string(), assignor::subscription("t", &[])),
            ("m1".to_string(), assignor::subscription("t", &[])),
            ("x".to_string(), assignor::subscription("other", &[])),
        ];
        let shares: Vec<(String, Vec<i32>)> = assign("t", 3, &members)
            .into_iter()
            .map(|(id, bytes)| (id, assignor::assigned_partitions(&bytes, "t").unwrap()))
            .collect();
        assert_eq!(
            shares,
            [
                ("m1".to_string(), vec![0, 1]),
                ("m2".to_string(), vec![2]),
                ("x".to_string(), vec![]),
            ]
        );
    }
}
