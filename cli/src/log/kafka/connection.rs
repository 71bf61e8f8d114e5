//! One TCP connection to one broker: requests framed with their size and
//! header (v1: api key, version, correlation id, client id), answered in
//! order. Opening it asks the broker which versions it serves
//! (ApiVersions v0) and refuses a broker that lacks one this client speaks.
//! Any I/O error or deadline is [`LogError::Unavailable`]: the caller drops
//! the connection and opens a new one on its next call.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::wire::{Reader, Writer};
use crate::log::LogError;

/// An API and the one version of it this client speaks: all before
/// flexible versions (no tagged fields), all still served by Kafka 4.
#[derive(Clone, Copy, Debug)]
pub struct Api {
    pub key: i16,
    pub version: i16,
    pub name: &'static str,
}

pub const PRODUCE: Api = Api {
    key: 0,
    version: 3,
    name: "Produce",
};
pub const FETCH: Api = Api {
    key: 1,
    version: 4,
    name: "Fetch",
};
pub const LIST_OFFSETS: Api = Api {
    key: 2,
    version: 1,
    name: "ListOffsets",
};
pub const METADATA: Api = Api {
    key: 3,
    version: 4,
    name: "Metadata",
};
pub const OFFSET_COMMIT: Api = Api {
    key: 8,
    version: 3,
    name: "OffsetCommit",
};
pub const OFFSET_FETCH: Api = Api {
    key: 9,
    version: 3,
    name: "OffsetFetch",
};
pub const FIND_COORDINATOR: Api = Api {
    key: 10,
    version: 1,
    name: "FindCoordinator",
};
pub const JOIN_GROUP: Api = Api {
    key: 11,
    version: 5,
    name: "JoinGroup",
};
pub const HEARTBEAT: Api = Api {
    key: 12,
    version: 3,
    name: "Heartbeat",
};
pub const LEAVE_GROUP: Api = Api {
    key: 13,
    version: 3,
    name: "LeaveGroup",
};
pub const SYNC_GROUP: Api = Api {
    key: 14,
    version: 3,
    name: "SyncGroup",
};
const API_VERSIONS: Api = Api {
    key: 18,
    version: 0,
    name: "ApiVersions",
};

const USED: [Api; 11] = [
    PRODUCE,
    FETCH,
    LIST_OFFSETS,
    METADATA,
    OFFSET_COMMIT,
    OFFSET_FETCH,
    FIND_COORDINATOR,
    JOIN_GROUP,
    HEARTBEAT,
    LEAVE_GROUP,
    SYNC_GROUP,
];

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A response larger than this is taken for a corrupt size.
const MAX_RESPONSE: usize = 256 << 20;

pub struct Connection {
    pub addr: String,
    stream: TcpStream,
    correlation: i32,
}

fn unavailable(addr: &str, what: &str, err: impl std::fmt::Display) -> LogError {
    LogError::Unavailable(format!("{addr}: {what}: {err}"))
}

impl Connection {
    pub fn open(addr: &str) -> Result<Connection, LogError> {
        let target = addr
            .to_socket_addrs()
            .map_err(|err| unavailable(addr, "address", err))?
            .next()
            .ok_or_else(|| unavailable(addr, "address", "resolves to nothing"))?;
        let stream = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT)
            .map_err(|err| unavailable(addr, "connect", err))?;
        stream
            .set_nodelay(true)
            .map_err(|err| unavailable(addr, "socket", err))?;
        let mut connection = Connection {
            addr: addr.to_string(),
            stream,
            correlation: 0,
        };
        connection.check_versions()?;
        Ok(connection)
    }

    fn check_versions(&mut self) -> Result<(), LogError> {
        let response = self.call(API_VERSIONS, &[], Duration::from_secs(10))?;
        let served = decode_versions(&response)
            .map_err(|err| unavailable(&self.addr, "ApiVersions", err))?;
        for api in USED {
            match served.iter().find(|(key, _, _)| *key == api.key) {
                Some(&(_, min, max)) if (min..=max).contains(&api.version) => {}
                Some(&(_, min, max)) => {
                    return Err(LogError::Refused(format!(
                        "{}: the broker serves {} v{min}..v{max}, not v{} which this client speaks",
                        self.addr, api.name, api.version
                    )));
                }
                None => {
                    return Err(LogError::Refused(format!(
                        "{}: the broker does not serve {}",
                        self.addr, api.name
                    )));
                }
            }
        }
        Ok(())
    }

    /// Sends a request of `api` with `body` and returns the response's body
    /// (after its correlation id), waiting at most `timeout` for it.
    pub fn call(&mut self, api: Api, body: &[u8], timeout: Duration) -> Result<Vec<u8>, LogError> {
        self.correlation = self.correlation.wrapping_add(1);
        let mut w = Writer::default();
        w.i32(0)
            .i16(api.key)
            .i16(api.version)
            .i32(self.correlation)
            .string("dnstap-kit");
        w.buf.extend_from_slice(body);
        let size = (w.buf.len() - 4) as i32;
        w.buf[..4].copy_from_slice(&size.to_be_bytes());
        let addr = &self.addr;
        let what = api.name;
        self.stream
            .set_write_timeout(Some(timeout))
            .and_then(|()| self.stream.set_read_timeout(Some(timeout)))
            .map_err(|err| unavailable(addr, what, err))?;
        self.stream
            .write_all(&w.buf)
            .map_err(|err| unavailable(addr, what, err))?;
        let mut size = [0u8; 4];
        self.stream
            .read_exact(&mut size)
            .map_err(|err| unavailable(addr, what, err))?;
        let size = i32::from_be_bytes(size);
        let size = usize::try_from(size)
            .ok()
            .filter(|&n| (4..=MAX_RESPONSE).contains(&n))
            .ok_or_else(|| unavailable(addr, what, format!("response size {size}")))?;
        let mut response = vec![0u8; size];
        self.stream
            .read_exact(&mut response)
            .map_err(|err| unavailable(addr, what, err))?;
        let correlation = i32::from_be_bytes(response[..4].try_into().expect("4 bytes"));
        if correlation != self.correlation {
            return Err(unavailable(addr, what, "response to another request"));
        }
        response.drain(..4);
        Ok(response)
    }
}

/// ApiVersions v0's response: error_code, then [api_key, min, max].
fn decode_versions(body: &[u8]) -> Result<Vec<(i16, i16, i16)>, String> {
    let mut r = Reader::new(body);
    let error = r.i16().map_err(|e| e.to_string())?;
    if error != 0 {
        return Err(format!("error {error}"));
    }
    r.array(|r| Ok((r.i16()?, r.i16()?, r.i16()?)))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    /// A fake broker that answers the first request (ApiVersions) with
    /// `versions` and checks the request's header bytes.
    fn broker(versions: Vec<(i16, i16, i16)>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        thread::spawn(move || {
            let (mut peer, _) = listener.accept().unwrap();
            let mut request = [0u8; 4 + 2 + 2 + 4 + 2 + 10];
            peer.read_exact(&mut request).unwrap();
            assert_eq!(request[..4], [0, 0, 0, 20], "size");
            assert_eq!(request[4..8], [0, 18, 0, 0], "ApiVersions v0");
            assert_eq!(request[8..12], [0, 0, 0, 1], "correlation id");
            assert_eq!(&request[12..], b"\0\x0adnstap-kit");
            let mut body = Writer::default();
            body.i32(1).i16(0).array(&versions, |w, &(k, min, max)| {
                w.i16(k).i16(min).i16(max);
            });
            let mut framed = Writer::default();
            framed.bytes(&body.buf);
            peer.write_all(&framed.buf).unwrap();
        });
        addr
    }

    #[test]
    fn a_broker_serving_every_version_is_accepted() {
        let all = USED.iter().map(|api| (api.key, 0, 12)).collect();
        assert!(Connection::open(&broker(all)).is_ok());
    }

    #[test]
    fn a_broker_without_a_version_is_refused() {
        let mut some: Vec<_> = USED.iter().map(|api| (api.key, 0, 12)).collect();
        some[0] = (0, 7, 12);
        match Connection::open(&broker(some)) {
            Err(LogError::Refused(why)) => {
                assert!(why.contains("Produce v7..v12, not v3"), "{why}")
            }
            other => panic!("{:?}", other.err()),
        }
    }

    #[test]
    fn nobody_listening_is_unavailable() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(matches!(
            Connection::open(&format!("127.0.0.1:{port}")),
            Err(LogError::Unavailable(_))
        ));
    }
}
