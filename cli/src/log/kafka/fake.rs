//! A broker for the unit tests: it accepts connections on loopback and
//! answers each request with what `answer(api_key, request body)` makes,
//! logging the API keys in order; a new connection is logged as key -1.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

use super::assignor;
use super::wire::{Reader, Writer};

pub struct Fake {
    pub addr: String,
    pub log: Arc<Mutex<Vec<i16>>>,
}

/// ApiVersions v0's answer: every API this client uses, v0..v12.
fn versions() -> Vec<u8> {
    let mut w = Writer::default();
    w.i16(0)
        .array(&[0i16, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14], |w, key| {
            w.i16(*key).i16(0).i16(12);
        });
    w.buf
}

/// Metadata v4's answer: `topic` with `partitions`, all led by node 1 at
/// `addr`.
pub fn metadata(addr: &str, topic: &str, partitions: i32) -> Vec<u8> {
    let (host, port) = addr.rsplit_once(':').expect("ADDR:PORT");
    let indexes: Vec<i32> = (0..partitions).collect();
    let mut w = Writer::default();
    w.i32(0)
        .array(&[1], |w, id| {
            w.i32(*id)
                .string(host)
                .i32(port.parse().unwrap())
                .null_string();
        })
        .null_string()
        .i32(1)
        .array(&[topic], |w, t| {
            w.i16(0).string(t).i8(0).array(&indexes, |w, i| {
                w.i16(0).i32(*i).i32(1).i32(0).i32(0);
            });
        });
    w.buf
}

/// FindCoordinator v1's answer: the broker at `addr`.
pub fn coordinator(addr: &str) -> Vec<u8> {
    let (host, port) = addr.rsplit_once(':').expect("ADDR:PORT");
    let mut w = Writer::default();
    w.i32(0)
        .i16(0)
        .null_string()
        .i32(1)
        .string(host)
        .i32(port.parse().unwrap());
    w.buf
}

/// JoinGroup v5's answer to `member`: `error`, or the generation led by
/// `leader` with `members` (listed to the leader only), each subscribed
/// to `topic`.
pub fn joined(
    error: i16,
    generation: i32,
    leader: &str,
    member: &str,
    members: &[&str],
) -> Vec<u8> {
    let listed: &[&str] = if leader == member { members } else { &[] };
    let mut w = Writer::default();
    w.i32(0)
        .i16(error)
        .i32(generation)
        .string("range")
        .string(leader)
        .string(member)
        .array(listed, |w, id| {
            w.string(id)
                .null_string()
                .bytes(&assignor::subscription("t", &[]));
        });
    w.buf
}

/// The assignments of a SyncGroup v3 request, by member: the leader's.
pub fn sync_assignments(request: &[u8]) -> Vec<(String, Vec<i32>)> {
    let mut r = Reader::new(request);
    r.string().unwrap(); // group_id
    r.i32().unwrap(); // generation_id
    r.string().unwrap(); // member_id
    r.string().unwrap(); // group_instance_id
    r.array(|r| {
        let member = r.string()?.unwrap();
        let bytes = r.bytes()?.unwrap();
        Ok((member, assignor::assigned_partitions(bytes, "t")?))
    })
    .unwrap()
}

/// SyncGroup v3's answer: `partitions` of topic "t", or `error`.
pub fn synced(error: i16, partitions: &[i32]) -> Vec<u8> {
    let mut w = Writer::default();
    w.i32(0)
        .i16(error)
        .bytes(&assignor::assignment("t", partitions));
    w.buf
}

/// Heartbeat v3's answer (throttle time, error code).
pub fn beat(error: i16) -> Vec<u8> {
    let mut w = Writer::default();
    w.i32(0).i16(error);
    w.buf
}

impl Fake {
    pub fn start(answer: impl Fn(i16, &[u8]) -> Vec<u8> + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (answer, shared) = (Arc::new(answer), Arc::clone(&log));
        thread::spawn(move || {
            for peer in listener.incoming() {
                let (mut peer, answer, log) =
                    (peer.unwrap(), Arc::clone(&answer), Arc::clone(&shared));
                log.lock().unwrap().push(-1);
                thread::spawn(move || {
                    let mut size = [0u8; 4];
                    while peer.read_exact(&mut size).is_ok() {
                        let mut request = vec![0u8; u32::from_be_bytes(size) as usize];
                        peer.read_exact(&mut request).unwrap();
                        let mut r = Reader::new(&request);
                        let (key, _version, correlation) =
                            (r.i16().unwrap(), r.i16().unwrap(), r.i32().unwrap());
                        r.string().unwrap(); // client_id
                        log.lock().unwrap().push(key);
                        let body = if key == 18 {
                            versions()
                        } else {
                            answer(key, r.rest)
                        };
                        let mut w = Writer::default();
                        w.i32(body.len() as i32 + 4).i32(correlation);
                        w.buf.extend_from_slice(&body);
                        if peer.write_all(&w.buf).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Fake { addr, log }
    }

    pub fn log(&self) -> Vec<i16> {
        self.log.lock().unwrap().clone()
    }
}
