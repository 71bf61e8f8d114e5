//! Publishing to a JetStream stream: every record of a batch goes out at
//! once (HPUB with its own reply subject and a `Nats-Msg-Id`), then every
//! acknowledgement is awaited. A batch published again after a failure
//! carries the same ids, so the stream stores none of its records twice
//! within its duplicate window: exactly-once within that window.

use std::time::{Duration, Instant};

use super::conn::{Conn, random_token};
use super::jetstream;
use crate::log::{LogError, Outgoing, Producer};

/// A batch fails when no acknowledgement came for this long (a leader
/// election takes a few seconds).
const ACK_WAIT: Duration = Duration::from_secs(5);

pub struct NatsProducer {
    servers: Vec<String>,
    subject: String,
    conn: Option<Conn>,
    /// The server to try first: the last one that answered.
    next_server: usize,
    /// Makes the ids of this export unlike another's.
    id_prefix: String,
}

impl NatsProducer {
    pub fn new(servers: Vec<String>, subject: String) -> NatsProducer {
        NatsProducer {
            servers,
            subject,
            conn: None,
            next_server: 0,
            id_prefix: format!("dnstap-kit-{}", random_token()),
        }
    }

    fn connected(&mut self) -> Result<&mut Conn, LogError> {
        if self.conn.is_none() {
            self.conn = Some(Conn::connect_any(&self.servers, &mut self.next_server)?);
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }

    /// Creates `stream` (taking the subject, one replica per server up to
    /// three) unless it exists; returns whether it did.
    pub fn ensure_stream(&mut self, stream: &str) -> Result<bool, LogError> {
        let replicas = self.servers.len().min(3);
        let subject = self.subject.clone();
        let conn = self.connected()?;
        Ok(jetstream::ensure_stream(conn, stream, &subject, replicas)?)
    }

    fn try_publish(&mut self, records: &[Outgoing<'_>]) -> Result<(), LogError> {
        let subject = self.subject.clone();
        let prefix = self.id_prefix.clone();
        let conn = self.connected()?;
        if let Some(big) = records.iter().find(|r| r.value.len() > conn.max_payload) {
            return Err(LogError::Refused(format!(
                "a record of {} bytes is over the server's max_payload ({})",
                big.value.len(),
                conn.max_payload
            )));
        }
        let mut first = None;
        for record in records {
            let reply = conn.reply_subject();
            first.get_or_insert_with(|| conn.reply_number(&reply));
            let id = format!("{prefix}-{}", record.id);
            conn.publish(
                &subject,
                Some(&reply),
                &[("Nats-Msg-Id", &id)],
                record.value,
            )?;
        }
        conn.flush()?;
        let first = first.flatten().unwrap_or(0);
        let mut acked = vec![false; records.len()];
        let mut missing = records.len();
        let mut deadline = Instant::now() + ACK_WAIT;
        while missing > 0 {
            let Some(msg) = conn.next_msg(deadline)? else {
                return Err(LogError::Unavailable(format!(
                    "{}: {missing} of {} records unacknowledged after {ACK_WAIT:?}",
                    conn.server,
                    records.len()
                )));
            };
            let Some(index) = conn
                .reply_number(&msg.subject)
                .and_then(|n| n.checked_sub(first))
                .map(|n| n as usize)
                .filter(|&n| n < records.len())
            else {
                continue; // an acknowledgement of an earlier attempt
            };
            jetstream::answer(&subject, msg.status, &msg.payload)?;
            if !acked[index] {
                acked[index] = true;
                missing -= 1;
            }
            deadline = Instant::now() + ACK_WAIT;
        }
        Ok(())
    }
}

impl Producer for NatsProducer {
    fn publish(&mut self, records: &[Outgoing<'_>]) -> Result<(), LogError> {
        let result = self.try_publish(records);
        if result.is_err() {
            // Anew, from the next server: this one may be the one that died.
            self.conn = None;
            self.next_server = (self.next_server + 1) % self.servers.len();
        }
        result
    }
}
