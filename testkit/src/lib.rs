//! Helpers shared by the integration tests of both crates (`tests/` of
//! libdnstap, `cli/tests/` of dnstap-kit): temporary directories, bounded
//! waits, outside tools that may be missing, and numbered messages logged
//! through the library and read back from a Frame Streams file.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use dnstap::framestream::{DNSTAP_CONTENT_TYPE, FrameReader, StreamEnd};
use dnstap::{LogLevel, LogOutcome, Logger, MessageFields, Options, Timestamp, proto};

/// A private temporary directory, removed when the test passes (kept for
/// a look when it fails).
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A new empty directory named after `name` and the test process.
pub fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("dnstap-kit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// Polls `done` until it holds or `limit` passes; its last answer.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    done()
}

/// Set by ci/test, which installs every outside tool (ci/setup): there a
/// test whose tool is missing fails instead of skipping.
pub const REQUIRE_TOOLS: &str = "DNSTAP_KIT_REQUIRE_TOOLS";

/// The full path of `tool` on PATH (or in the sbin directories).
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// Whether `tool` is installed. When it is not, a test skips with a note
/// saying how to `install` it, or, under ci/test, fails.
pub fn tool_installed(tool: &str, install: &str) -> bool {
    if which(tool).is_some() {
        return true;
    }
    assert!(
        std::env::var_os(REQUIRE_TOOLS).is_none(),
        "{tool} is not installed, and ci/test requires it: {install}"
    );
    eprintln!("skipped: {tool} is not installed; to run this test: {install}");
    false
}

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
