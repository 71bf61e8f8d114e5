//! One connection to one server of a NATS cluster, used from one thread:
//! operations are written into a buffer and sent by [`Conn::flush`], and
//! the server's are read with a deadline. Every reply comes to a single
//! wildcard subscription on an inbox of this connection's own, so a
//! request's reply, a publish acknowledgement or a pulled message is told
//! apart by its subject.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::wire::{self, Msg, Op};
use crate::log::LogError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A server that takes nothing for this long is treated as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The subscription id of the inbox.
const INBOX_SID: u64 = 1;

pub struct Conn {
    stream: TcpStream,
    /// Bytes read; those before `parsed` are parsed (dropped at the next
    /// read, not at each operation: a read brings hundreds).
    input: Vec<u8>,
    parsed: usize,
    output: Vec<u8>,
    /// `ADDR:PORT` of the server.
    pub server: String,
    /// `_INBOX.<random>`: replies come to `<inbox>.<n>`.
    inbox: String,
    next_reply: u64,
    pub max_payload: usize,
}

/// A random token, different in each connection and process.
pub fn random_token() -> String {
    let value = RandomState::new().hash_one((std::process::id(), Instant::now()));
    format!("{value:016x}")
}

fn unavailable(server: &str, what: impl std::fmt::Display) -> LogError {
    LogError::Unavailable(format!("{server}: {what}"))
}

impl Conn {
    /// Connects to the first server of `servers`, starting at `first`,
    /// that answers; `first` is then the index of the one that did.
    pub fn connect_any(servers: &[String], first: &mut usize) -> Result<Conn, LogError> {
        let mut errors = Vec::new();
        for step in 0..servers.len() {
            let index = (*first + step) % servers.len();
            match Conn::connect(&servers[index]) {
                Ok(conn) => {
                    *first = index;
                    return Ok(conn);
                }
                Err(err) => errors.push(err.to_string()),
            }
        }
        Err(LogError::Unavailable(errors.join("; ")))
    }

    fn connect(server: &str) -> Result<Conn, LogError> {
        let address = server
            .to_socket_addrs()
            .map_err(|err| unavailable(server, err))?
            .next()
            .ok_or_else(|| unavailable(server, "no address"))?;
        let stream = TcpStream::connect_timeout(&address, CONNECT_TIMEOUT)
            .map_err(|err| unavailable(server, err))?;
        stream
            .set_write_timeout(Some(WRITE_TIMEOUT))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|err| unavailable(server, err))?;
        let mut conn = Conn {
            stream,
            input: Vec::with_capacity(64 * 1024),
            parsed: 0,
            output: Vec::with_capacity(64 * 1024),
            server: server.to_string(),
            inbox: format!("_INBOX.{}", random_token()),
            next_reply: 0,
            max_payload: 1 << 20,
        };
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        match conn.next_op(deadline)? {
            Some(Op::Info(info)) => conn.take_info(&info)?,
            other => {
                return Err(unavailable(
                    server,
                    format!("not a NATS server ({other:?})"),
                ));
            }
        }
        wire::connect(&mut conn.output);
        wire::sub(&mut conn.output, &format!("{}.*", conn.inbox), INBOX_SID);
        conn.output.extend_from_slice(b"PING\r\n");
        conn.flush()?;
        loop {
            match conn.next_op(deadline)? {
                Some(Op::Pong) => return Ok(conn),
                Some(Op::Err(err)) => return Err(LogError::Refused(format!("{server}: {err}"))),
                Some(_) => {}
                None => return Err(unavailable(server, "no answer to CONNECT")),
            }
        }
    }

    fn take_info(&mut self, info: &str) -> Result<(), LogError> {
        let info: serde_json::Value = serde_json::from_str(info)
            .map_err(|err| unavailable(&self.server, format!("INFO: {err}")))?;
        if info["headers"].as_bool() != Some(true) {
            return Err(LogError::Refused(format!(
                "{}: this server does not support headers (NATS 2.2 or later is needed)",
                self.server
            )));
        }
        if let Some(max) = info["max_payload"].as_u64() {
            self.max_payload = max as usize;
        }
        Ok(())
    }

    /// A subject no other reply shares, for the next request.
    pub fn reply_subject(&mut self) -> String {
        self.next_reply += 1;
        format!("{}.{}", self.inbox, self.next_reply)
    }

    /// The number of a reply subject of this connection.
    pub fn reply_number(&self, subject: &str) -> Option<u64> {
        subject
            .strip_prefix(self.inbox.as_str())?
            .strip_prefix('.')?
            .parse()
            .ok()
    }

    /// Queues a PUB or HPUB; sent by [`Conn::flush`], or sooner when the
    /// buffer grows.
    pub fn publish(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: &[(&str, &str)],
        payload: &[u8],
    ) -> Result<(), LogError> {
        wire::publish(&mut self.output, subject, reply, headers, payload);
        if self.output.len() >= 256 * 1024 {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), LogError> {
        let result = self.stream.write_all(&self.output);
        self.output.clear();
        result.map_err(|err| unavailable(&self.server, err))
    }

    /// The next message for us, or `None` at `deadline`. Answers the
    /// server's PINGs on the way.
    pub fn next_msg(&mut self, deadline: Instant) -> Result<Option<Msg>, LogError> {
        loop {
            match self.next_op(deadline)? {
                Some(Op::Msg(msg)) => return Ok(Some(msg)),
                Some(Op::Ping) => {
                    self.output.extend_from_slice(b"PONG\r\n");
                    self.flush()?;
                }
                Some(Op::Err(err)) => return Err(unavailable(&self.server, err)),
                Some(Op::Info(_) | Op::Pong | Op::Ok) => {}
                None => return Ok(None),
            }
        }
    }

    /// Sends `payload` to `subject` and waits up to `timeout` for the
    /// reply (stale replies to earlier requests are skipped).
    pub fn request(
        &mut self,
        subject: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Msg, LogError> {
        let reply = self.reply_subject();
        self.publish(subject, Some(&reply), &[], payload)?;
        self.flush()?;
        let deadline = Instant::now() + timeout;
        while let Some(msg) = self.next_msg(deadline)? {
            if msg.subject == reply {
                return Ok(msg);
            }
        }
        Err(unavailable(
            &self.server,
            format!("no answer to {subject} within {timeout:?}"),
        ))
    }

    fn next_op(&mut self, deadline: Instant) -> Result<Option<Op>, LogError> {
        loop {
            match wire::parse(&self.input[self.parsed..]) {
                Ok(Some((op, used))) => {
                    self.parsed += used;
                    return Ok(Some(op));
                }
                Ok(None) => {}
                Err(err) => return Err(unavailable(&self.server, err)),
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let wait = (deadline - now).max(Duration::from_millis(1));
            self.stream
                .set_read_timeout(Some(wait))
                .map_err(|err| unavailable(&self.server, err))?;
            self.input.drain(..self.parsed);
            self.parsed = 0;
            let start = self.input.len();
            self.input.resize(start + 64 * 1024, 0);
            let read = self.stream.read(&mut self.input[start..]);
            self.input.truncate(start + *read.as_ref().unwrap_or(&0));
            match read {
                Ok(0) => return Err(unavailable(&self.server, "connection closed")),
                Ok(_) => {}
                Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => return Err(unavailable(&self.server, err)),
            }
        }
    }
}
