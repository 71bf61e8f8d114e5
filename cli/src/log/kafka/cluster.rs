//! What a client knows of the cluster: the bootstrap servers, the topic's
//! partitions and their leaders, and one open connection per broker. Any
//! failure forgets the connection it happened on and, for an error that
//! names a leader change, the metadata too: the next call starts again
//! from the bootstrap servers, so a broker that went away and came back,
//! or a partition that moved, costs one failed call.

use std::collections::HashMap;
use std::time::Duration;

use super::connection::{self, Api, Connection};
use super::metadata::{self, Metadata};
use crate::log::LogError;

/// How long a request other than a fetch may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(40);

pub struct Cluster {
    bootstrap: Vec<String>,
    pub topic: String,
    metadata: Option<Metadata>,
    connections: HashMap<String, Connection>,
}

impl Cluster {
    pub fn new(bootstrap: Vec<String>, topic: String) -> Cluster {
        Cluster {
            bootstrap,
            topic,
            metadata: None,
            connections: HashMap::new(),
        }
    }

    /// Sends one request to the broker at `addr`, connecting first if
    /// needed; any failure closes the connection.
    pub fn call(
        &mut self,
        addr: &str,
        api: Api,
        body: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, LogError> {
        let connection = match self.connections.get_mut(addr) {
            Some(connection) => connection,
            None => self
                .connections
                .entry(addr.to_string())
                .or_insert(Connection::open(addr)?),
        };
        let response = connection.call(api, body, timeout);
        if response.is_err() {
            self.connections.remove(addr);
        }
        response
    }

    /// Forgets the metadata and every connection (after an error that
    /// says the cluster changed).
    pub fn reset(&mut self) {
        self.metadata = None;
        self.connections.clear();
    }

    /// The topic's metadata, asked of the first bootstrap server that
    /// answers when not known.
    pub fn metadata(&mut self) -> Result<&Metadata, LogError> {
        if self.metadata.is_none() {
            let mut last = LogError::Unavailable("no bootstrap server".into());
            for addr in self.bootstrap.clone() {
                let answer = self
                    .call(
                        &addr,
                        connection::METADATA,
                        &metadata::request(&self.topic),
                        REQUEST_TIMEOUT,
                    )
                    .and_then(|body| metadata::response(&body, &self.topic));
                match answer {
                    Ok(found) => {
                        self.metadata = Some(found);
                        break;
                    }
                    Err(err @ LogError::Refused(_)) => return Err(err),
                    Err(err) => last = err,
                }
            }
            if self.metadata.is_none() {
                return Err(last);
            }
        }
        Ok(self.metadata.as_ref().expect("set above"))
    }

    /// The address of each partition's leader, in partition order.
    pub fn leaders(&mut self) -> Result<Vec<String>, LogError> {
        let topic = self.topic.clone();
        let metadata = self.metadata()?;
        let leaders: Result<Vec<String>, LogError> = metadata
            .leaders
            .iter()
            .enumerate()
            .map(|(partition, &node)| {
                metadata.address(node).map(str::to_string).ok_or_else(|| {
                    LogError::Unavailable(format!("{topic}/{partition} has no leader"))
                })
            })
            .collect();
        if leaders.is_err() {
            self.metadata = None;
        }
        leaders
    }

    /// `result`, forgetting the cluster's state when it is an error: the
    /// next call finds the leaders again.
    pub fn forget_on_error<T>(&mut self, result: Result<T, LogError>) -> Result<T, LogError> {
        if result.is_err() {
            self.reset();
        }
        result
    }
}
