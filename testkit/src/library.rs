//! Through the library and back: numbered messages logged with a
//! [`Logger`], its log lines kept, and Frame Streams files read back.

use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex};

use dnstap::framestream::{DNSTAP_CONTENT_TYPE, FrameReader, StreamEnd};
use dnstap::{LogLevel, LogOutcome, Logger, MessageFields, Options, Timestamp, proto};

/// Log lines captured from the library.
#[derive(Clone, Default)]
pub struct LogLines(Arc<Mutex<Vec<(LogLevel, String)>>>);

impl LogLines {
    pub fn attach(&self, options: &mut Options) {
        let lines = self.0.clone();
        options.set_log(Arc::new(move |level, line| {
            lines.lock().unwrap().push((level, line.to_string()))
        }));
    }

    pub fn containing(&self, needle: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, line)| line.contains(needle))
            .count()
    }

    pub fn dump(&self) -> String {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(l, s)| format!("{l:?} {s}\n"))
            .collect()
    }
}

pub const QUERY: &[u8] =
    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";

/// A client query numbered `n` (in the query time's nanoseconds).
pub fn client_query(n: u32) -> MessageFields<'static> {
    MessageFields {
        message_type: proto::message::Type::ClientQuery as u32,
        socket_protocol: proto::SocketProtocol::Udp as u32,
        query_address: Some("192.0.2.1:5353".parse().unwrap()),
        query_time: Some(Timestamp {
            sec: 1_700_000_000,
            nsec: n,
        }),
        query_message: QUERY,
        ..Default::default()
    }
}

/// Logs client queries numbered `range`; each must be queued.
pub fn log_sequence(logger: &Logger, range: Range<u32>) {
    for n in range {
        assert_eq!(logger.log(&client_query(n)).unwrap(), LogOutcome::Queued);
    }
}

/// The `n` of [`client_query`] in a decoded record.
pub fn sequence(payload: &[u8]) -> u32 {
    let record = <proto::Dnstap as prost::Message>::decode(payload).unwrap();
    record.message.unwrap().query_time_nsec.unwrap()
}

/// Every data frame of a dnstap Frame Streams file, and whether STOP ended it.
pub fn read_file(path: &Path) -> (Vec<Vec<u8>>, bool) {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = FrameReader::new(file, 1 << 20);
    let mut frames = Vec::new();
    while let Some(frame) = reader.next_data().unwrap() {
        frames.push(frame.to_vec());
    }
    assert_eq!(reader.content_type(), Some(DNSTAP_CONTENT_TYPE));
    let stopped = matches!(reader.end(), Some(StreamEnd::Stopped));
    (frames, stopped)
}
