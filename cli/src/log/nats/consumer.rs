//! Reading a JetStream stream through a durable pull consumer with
//! AckAll: acknowledging a record acknowledges every record before it, so
//! a commit is one acknowledgement.
//!
//! AckAll loses records if an acknowledgement covers a record this
//! process never received: one delivered to a connection that broke, or
//! by a consumer leader that died before it reached us. Such a record is
//! redelivered only after the ack wait, behind newer ones. So records are
//! taken only in stream order, without gaps: after a broken connection,
//! and when a delivery skips stream sequences, the consumer is created
//! anew from its acknowledged floor (an *incarnation*), which delivers in
//! order again. Records delivered again are matched to those already
//! handed out by their stream sequence: never handed out twice, and their
//! new reply subject is the one a commit acknowledges. A gap seen again
//! by the next incarnation is real (records deleted from the stream) and
//! is skipped.
//!
//! One process per consumer name: two would both recreate it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::conn::Conn;
use super::jetstream::{self, CONSUMER_NOT_FOUND};
use crate::log::{Consumer, Incoming, LogError, LogUrl, Position};
use crate::report::report;

/// Records asked for by one pull.
const PULL: usize = 1000;
/// A pull ends with a status at its expiry; past this much more, the
/// consumer's leader is taken to be gone.
const PULL_GRACE: Duration = Duration::from_secs(3);
/// A record neither committed nor held this long is delivered again.
const ACK_WAIT: Duration = Duration::from_secs(60);
/// Records handed out and not committed: a command's batch must fit.
const MAX_ACK_PENDING: u64 = 1_000_000;
const COMMIT_TIMEOUT: Duration = Duration::from_secs(5);

/// A record handed out, not yet committed.
struct Held {
    seq: u64,
    stream_seq: u64,
    /// Its reply subject in the current incarnation; `None` until it is
    /// delivered again after a new one started.
    reply: Option<String>,
}

pub struct NatsConsumer {
    servers: Vec<String>,
    stream: String,
    durable: String,
    conn: Option<Conn>,
    next_server: usize,
    next_seq: u64,
    held: VecDeque<Held>,
    /// The stream sequence of the last record handed out, and of the last
    /// committed.
    last: u64,
    committed: u64,
    /// The last stream sequence delivered in this incarnation.
    delivered: u64,
    /// A gap (last delivered, next) that started an incarnation.
    gap: Option<(u64, u64)>,
}

/// The stream sequence in a JetStream reply subject:
/// `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`,
/// or with `<domain>.<account hash>` after `ACK` and a token at the end.
fn stream_sequence(reply: &str) -> Option<u64> {
    let tokens: Vec<&str> = reply.split('.').collect();
    if tokens.len() < 9 || tokens[0] != "$JS" || tokens[1] != "ACK" {
        return None;
    }
    let at = if tokens.len() == 9 { 5 } else { 7 };
    tokens.get(at)?.parse().ok()
}

/// What became of a delivery.
enum Taken {
    New(Incoming),
    Again,
    /// It skips stream sequences: start anew.
    Gap,
}

pub fn consumer(url: &LogUrl, name: &str) -> Result<Box<dyn Consumer>, String> {
    let mut consumer = NatsConsumer {
        servers: url.servers.clone(),
        stream: url.name.clone(),
        durable: name.to_string(),
        conn: None,
        next_server: 0,
        next_seq: 1,
        held: VecDeque::new(),
        last: 0,
        committed: 0,
        delivered: 0,
        gap: None,
    };
    // A log that refuses (no such stream) is an error now; one that is
    // down is waited for by the polls.
    match consumer.attach() {
        Err(LogError::Refused(why)) => Err(format!("nats: {why}")),
        _ => Ok(Box::new(consumer)),
    }
}

impl NatsConsumer {
    /// Connects and starts an incarnation from the acknowledged floor.
    fn attach(&mut self) -> Result<(), LogError> {
        let mut conn = Conn::connect_any(&self.servers, &mut self.next_server)?;
        let info = jetstream::call(
            &mut conn,
            &format!("CONSUMER.INFO.{}.{}", self.stream, self.durable),
            &Value::Null,
        );
        let floor = match info {
            Ok(info) => {
                let floor = info["ack_floor"]["stream_seq"].as_u64().unwrap_or(0);
                let clean = info["num_ack_pending"].as_u64() == Some(0)
                    && info["delivered"]["stream_seq"].as_u64() == Some(floor);
                if !clean {
                    self.api(&mut conn, "CONSUMER.DELETE", &Value::Null)?;
                    self.create(&mut conn, floor)?;
                }
                floor
            }
            Err(err) if err.is(CONSUMER_NOT_FOUND) => {
                self.create(&mut conn, 0)?;
                0
            }
            Err(err) => return Err(err.into()),
        };
        self.delivered = floor;
        self.conn = Some(conn);
        Ok(())
    }

    fn api(&self, conn: &mut Conn, api: &str, body: &Value) -> Result<Value, LogError> {
        Ok(jetstream::call(
            conn,
            &format!("{api}.{}.{}", self.stream, self.durable),
            body,
        )?)
    }

    fn create(&self, conn: &mut Conn, floor: u64) -> Result<(), LogError> {
        let mut config = json!({
            "durable_name": self.durable,
            "deliver_policy": "all",
            "ack_policy": "all",
            "ack_wait": ACK_WAIT.as_nanos() as u64,
            "max_ack_pending": MAX_ACK_PENDING,
            "max_deliver": -1,
            "replay_policy": "instant",
        });
        if floor > 0 {
            config["deliver_policy"] = "by_start_sequence".into();
            config["opt_start_seq"] = (floor + 1).into();
        }
        let body = json!({"stream_name": self.stream, "config": config});
        self.api(conn, "CONSUMER.DURABLE.CREATE", &body)?;
        Ok(())
    }

    /// Drops the connection: the next poll starts a new incarnation.
    fn detach(&mut self) {
        self.conn = None;
        self.next_server = (self.next_server + 1) % self.servers.len();
        for held in &mut self.held {
            held.reply = None;
        }
    }

    fn take(&mut self, stream_seq: u64, reply: String, value: Vec<u8>) -> Taken {
        if stream_seq > self.delivered + 1 {
            let gap = (self.delivered, stream_seq);
            if self.gap != Some(gap) {
                self.gap = Some(gap);
                return Taken::Gap;
            }
            report!(
                "dnstap-kit: nats://…/{}: stream sequences {} to {} are not in the stream (deleted?); skipped",
                self.stream,
                gap.0 + 1,
                gap.1 - 1
            );
        }
        self.delivered = self.delivered.max(stream_seq);
        if stream_seq > self.last {
            self.last = stream_seq;
            let seq = self.next_seq;
            self.next_seq += 1;
            self.held.push_back(Held {
                seq,
                stream_seq,
                reply: Some(reply),
            });
            return Taken::New(Incoming {
                seq,
                position: Position {
                    partition: 0,
                    offset: stream_seq,
                },
                value,
            });
        }
        if stream_seq <= self.committed {
            // Committed under an earlier incarnation: acknowledge it here.
            if let Some(conn) = &mut self.conn {
                let _ = conn.publish(&reply, None, &[], b"+ACK");
            }
        } else if let Ok(at) = self
            .held
            .binary_search_by_key(&stream_seq, |h| h.stream_seq)
        {
            self.held[at].reply = Some(reply);
        }
        Taken::Again
    }

    /// One pull: the new records into `records`.
    fn pull(&mut self, wait: Duration, records: &mut Vec<Incoming>) -> Result<(), LogError> {
        let subject = format!("$JS.API.CONSUMER.MSG.NEXT.{}.{}", self.stream, self.durable);
        let expires = wait.max(Duration::from_millis(10));
        let request = json!({"batch": PULL, "expires": expires.as_nanos() as u64}).to_string();
        let conn = self.conn.as_mut().expect("attached");
        let reply = conn.reply_subject();
        conn.publish(&subject, Some(&reply), &[], request.as_bytes())?;
        conn.flush()?;
        let deadline = Instant::now() + expires + PULL_GRACE;
        let mut deliveries = 0;
        while deliveries < PULL {
            let conn = self.conn.as_mut().expect("attached");
            let Some(msg) = conn.next_msg(deadline)? else {
                return Err(LogError::Unavailable(format!(
                    "{}: a pull from {} went unanswered",
                    conn.server, self.durable
                )));
            };
            if let Some(status) = msg.status {
                match status {
                    // Idle heartbeat, or another pull's end.
                    _ if msg.subject != reply => continue,
                    100 => continue,
                    // No records now; the pull expired.
                    404 | 408 => break,
                    // 409: the consumer was deleted, its leader changed…
                    _ => {
                        return Err(LogError::Unavailable(format!(
                            "{}: pull from {}: {status} {}",
                            conn.server, self.durable, msg.description
                        )));
                    }
                }
            }
            let Some((reply, stream_seq)) = msg
                .reply
                .and_then(|reply| stream_sequence(&reply).map(|seq| (reply, seq)))
            else {
                continue;
            };
            deliveries += 1;
            match self.take(stream_seq, reply, msg.payload) {
                Taken::New(record) => records.push(record),
                Taken::Again => {}
                Taken::Gap => {
                    self.detach();
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

impl Consumer for NatsConsumer {
    fn poll(&mut self, wait: Duration) -> Result<Vec<Incoming>, LogError> {
        if self.conn.is_none()
            && let Err(err) = self.attach()
        {
            self.detach();
            return Err(err);
        }
        let mut records = Vec::new();
        if let Err(err) = self.pull(wait, &mut records) {
            self.detach();
            // Records taken before the failure are handed out all the same.
            if records.is_empty() {
                return Err(err);
            }
        }
        Ok(records)
    }

    fn commit(&mut self, seq: u64) -> Result<(), LogError> {
        let mut ack = None;
        while self.held.front().is_some_and(|held| held.seq <= seq) {
            let held = self.held.pop_front().expect("front checked");
            self.committed = held.stream_seq;
            ack = held.reply.or(ack);
        }
        // Records without a current reply subject are acknowledged when
        // delivered again (they are below `committed` then).
        let (Some(reply), Some(conn)) = (ack, self.conn.as_mut()) else {
            return Ok(());
        };
        let answer = conn.request(&reply, b"+ACK", COMMIT_TIMEOUT);
        if answer.is_err() {
            self.detach();
        }
        answer.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_sequences_from_reply_subjects() {
        assert_eq!(stream_sequence("$JS.ACK.S.C.1.42.7.1700000000.3"), Some(42));
        assert_eq!(
            stream_sequence("$JS.ACK.dom.hash.S.C.1.42.7.1700000000.3.tok"),
            Some(42)
        );
        assert_eq!(stream_sequence("_INBOX.x.1"), None);
    }
}
