//! `dnstap-kit capture`: the collector side of Frame Streams.
//!
//! One thread, one `poll` loop: every connection has its own handshake
//! state and a buffer bounded by the largest frame allowed; whole data
//! frames from all connections are appended to one output stream, START
//! when a file is opened and STOP when it is closed, so every file is a
//! complete stream. A peer that breaks the protocol is closed with a log
//! line naming it; the others are not affected.

use crate::report;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dnstap::framestream::{
    CONTROL_FRAME_LENGTH_MAX, Control, ControlType, DNSTAP_CONTENT_TYPE, Frame, FrameError,
    StreamFile, control_frame, encode_data, parse_frame,
};
use dnstap::sink::SinkSpec;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::exit;

#[derive(clap::Args)]
pub struct Args {
    /// Listen on this unix socket (created with mode 0660, removed on exit).
    #[arg(
        long,
        value_name = "PATH",
        required_unless_present = "tcp",
        conflicts_with = "tcp"
    )]
    unix: Option<PathBuf>,
    /// Listen on TCP at ADDR@PORT, ADDR an IPv4 or IPv6 literal (e.g. 127.0.0.1@6000).
    #[arg(long, value_name = "ADDR@PORT")]
    tcp: Option<String>,
    /// Output Frame Streams file; `-` writes the stream to standard output.
    #[arg(short = 'w', value_name = "FILE", required = true)]
    write: PathBuf,
    /// Start a new file once this many bytes are written.
    #[arg(long, value_name = "BYTES")]
    split_size: Option<u64>,
    /// Start a new file every SECS seconds.
    #[arg(long, value_name = "SECS")]
    split_interval: Option<u64>,
    /// Largest data frame accepted; a peer sending a larger one is closed.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_frame: usize,
    /// Most connections at once; more are closed as they arrive.
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_connections: usize,
    /// Seconds between summary lines on stderr (0: only the final one).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    stats_interval: u64,
    /// Seconds a new connection has to complete READY/ACCEPT/START.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    handshake_timeout: u64,
}
/// Longest time a captured frame waits in memory before it is written.
const FLUSH_INTERVAL: Duration = Duration::from_millis(200);
/// Pending bytes that are written at once.
const FLUSH_BYTES: usize = 256 * 1024;
/// Longest time spent at stop reading what the connections still hold.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);
const POLL_INTERVAL_MS: u16 = 100;

fn log(line: &str) {
    report!("dnstap-kit capture: {line}");
}

/// Counters for the summary lines.
#[derive(Default)]
struct Totals {
    connections: u64,
    frames: u64,
    bytes: u64,
    rejected: u64,
}

impl Totals {
    fn summary(&self, open: usize) -> String {
        format!(
            "{} connections ({open} open), {} frames, {} bytes, {} rejected",
            self.connections, self.frames, self.bytes, self.rejected
        )
    }
}

/// Where captured frames go: a file (rotated) or standard output.
enum Sink {
    File {
        file: StreamFile,
        opened: Instant,
        rotations: u64,
    },
    Stdout(io::Stdout),
}

struct Output {
    sink: Sink,
    /// Whole frames not yet written.
    pending: Vec<u8>,
    last_flush: Instant,
    split_size: Option<u64>,
    split_interval: Option<Duration>,
}

impl Output {
    fn open(path: &Path, args: &Args) -> io::Result<Output> {
        let sink = if path == Path::new("-") {
            let mut stdout = io::stdout();
            stdout.write_all(&control_frame(ControlType::Start, &[DNSTAP_CONTENT_TYPE]))?;
            stdout.flush()?;
            Sink::Stdout(stdout)
        } else {
            Sink::File {
                file: StreamFile::create(path)?,
                opened: Instant::now(),
                rotations: 0,
            }
        };
        Ok(Output {
            sink,
            pending: Vec::with_capacity(FLUSH_BYTES),
            last_flush: Instant::now(),
            split_size: args.split_size,
            split_interval: args.split_interval.map(Duration::from_secs),
        })
    }

    fn push(&mut self, payload: &[u8]) -> io::Result<()> {
        encode_data(payload, &mut self.pending);
        if self.pending.len() >= FLUSH_BYTES {
            self.flush()
        } else {
            Ok(())
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.last_flush = Instant::now();
        if self.pending.is_empty() {
            return Ok(());
        }
        let result = match &mut self.sink {
            Sink::File { file, .. } => file.append(&self.pending),
            Sink::Stdout(stdout) => stdout
                .write_all(&self.pending)
                .and_then(|()| stdout.flush()),
        };
        self.pending.clear();
        result
    }

    /// Time-driven work: flushing, and splitting by size or age.
    fn tick(&mut self) -> io::Result<()> {
        if self.last_flush.elapsed() >= FLUSH_INTERVAL {
            self.flush()?;
        }
        let due = match &self.sink {
            Sink::File { file, opened, .. } => {
                self.split_size.is_some_and(|size| file.size() >= size)
                    || self
                        .split_interval
                        .is_some_and(|interval| opened.elapsed() >= interval)
            }
            Sink::Stdout(_) => false,
        };
        if due { self.rotate() } else { Ok(()) }
    }

    /// Ends the current file under a unique name and starts a new one.
    fn rotate(&mut self) -> io::Result<()> {
        self.flush()?;
        let Sink::File {
            file,
            opened,
            rotations,
        } = &mut self.sink
        else {
            return Ok(());
        };
        let path = file.path().to_path_buf();
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        *rotations += 1;
        let done = PathBuf::from(format!("{}.{seconds}.{rotations}", path.display()));
        std::fs::rename(&path, &done)?;
        let finished = std::mem::replace(file, StreamFile::create(&path)?);
        *opened = Instant::now();
        finished.finish()?;
        log(&format!("closed {}", done.display()));
        Ok(())
    }

    /// SIGHUP: a file renamed or removed by logrotate is ended and a new
    /// one started at the same path; otherwise writing goes on.
    fn reopen(&mut self) -> io::Result<()> {
        self.flush()?;
        let Sink::File { file, opened, .. } = &mut self.sink else {
            return Ok(());
        };
        if file.is_at_path() {
            log(&format!(
                "SIGHUP: {} was not rotated; still writing to it",
                file.path().display()
            ));
            return Ok(());
        }
        let path = file.path().to_path_buf();
        let finished = std::mem::replace(file, StreamFile::create(&path)?);
        *opened = Instant::now();
        finished.finish()?;
        log(&format!("SIGHUP: reopened {}", path.display()));
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        self.flush()?;
        match self.sink {
            Sink::File { file, .. } => file.finish(),
            Sink::Stdout(mut stdout) => {
                stdout.write_all(&control_frame(ControlType::Stop, &[]))?;
                stdout.flush()
            }
        }
    }
}

enum Listener {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener),
}

enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Stream::Unix(s) => s,
            Stream::Tcp(s) => s,
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Unix(s) => s.as_fd(),
            Stream::Tcp(s) => s.as_fd(),
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

impl Listener {
    fn bind(args: &Args) -> io::Result<Listener> {
        if let Some(path) = &args.unix {
            // A socket left by a previous run is replaced; anything else is not.
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
                std::fs::remove_file(path)?;
            }
            let listener = UnixListener::bind(path)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
            listener.set_nonblocking(true)?;
            return Ok(Listener::Unix(listener, path.clone()));
        }
        let target = args.tcp.as_deref().unwrap_or_default();
        let address = match format!("tcp:{target}").parse::<SinkSpec>() {
            Ok(SinkSpec::Tcp(address)) => address,
            Ok(_) => unreachable!("a tcp: spec parses as TCP"),
            Err(err) => return Err(io::Error::new(io::ErrorKind::InvalidInput, err.to_string())),
        };
        let listener = TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        Ok(Listener::Tcp(listener))
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Unix(l, _) => l.as_fd(),
            Listener::Tcp(l) => l.as_fd(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Listener::Unix(_, path) => format!("unix:{}", path.display()),
            Listener::Tcp(l) => l
                .local_addr()
                .map_or_else(|_| "tcp".into(), |a| format!("tcp:{}@{}", a.ip(), a.port())),
        }
    }

    /// The next waiting connection, if any.
    fn accept(&self) -> io::Result<Option<(Stream, String)>> {
        let accepted = match self {
            Listener::Unix(l, path) => l
                .accept()
                .map(|(s, _)| (Stream::Unix(s), format!("unix:{}", path.display()))),
            Listener::Tcp(l) => l
                .accept()
                .map(|(s, peer): (TcpStream, SocketAddr)| (Stream::Tcp(s), format!("tcp:{peer}"))),
        };
        match accepted {
            Ok(connection) => Ok(Some(connection)),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(err) => Err(err),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for READY (bidirectional) or START (unidirectional).
    Hello,
    /// READY answered with ACCEPT; waiting for START.
    Accepted,
    /// Data frames until STOP.
    Data,
}

struct Connection {
    id: u64,
    peer: String,
    stream: Stream,
    /// Received bytes not yet framed: at most one partial frame plus one read.
    buffer: Vec<u8>,
    phase: Phase,
    bidirectional: bool,
    opened: Instant,
    frames: u64,
    /// Bytes read so far.
    received: u64,
}

/// Why a connection ended.
enum End {
    /// STOP, answered with FINISH on a bidirectional stream.
    Finished,
    Closed(String),
    Rejected(String),
}

impl Connection {
    fn name(&self) -> String {
        format!("connection {} ({})", self.id, self.peer)
    }

    /// Reads what is available and handles every whole frame in it.
    fn on_readable(
        &mut self,
        output: &mut Output,
        totals: &mut Totals,
        max_frame: usize,
    ) -> Option<End> {
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.io().read(&mut chunk) {
            Ok(0) => {
                return Some(End::Closed(match (self.phase, self.buffer.len()) {
                    (_, 0) if self.phase == Phase::Data => "closed without STOP".into(),
                    (_, 0) => "closed during the handshake".into(),
                    (_, n) => format!("closed in the middle of a frame ({n} bytes discarded)"),
                }));
            }
            Ok(n) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                self.received += n as u64;
            }
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return None;
            }
            Err(err) => return Some(End::Closed(format!("read error: {err}"))),
        }
        let mut used = 0;
        let end = loop {
            // Until START, only control frames are allowed.
            let limit = if self.phase == Phase::Data {
                max_frame
            } else {
                0
            };
            match parse_frame(&self.buffer[used..], limit) {
                Ok(None) => break None,
                Ok(Some((Frame::Data(payload), length))) => {
                    if let Err(err) = output.push(payload) {
                        log(&format!("cannot write the output: {err}"));
                    }
                    self.frames += 1;
                    totals.frames += 1;
                    totals.bytes += length as u64;
                    used += length;
                }
                Ok(Some((Frame::Control(control), length))) => {
                    used += length;
                    if let Some(end) = self.on_control(control) {
                        break Some(end);
                    }
                }
                Err(FrameError::DataFrameTooLarge { .. }) if self.phase != Phase::Data => {
                    break Some(End::Rejected("data frame before START".into()));
                }
                Err(err) => break Some(End::Rejected(err.to_string())),
            }
        };
        self.buffer.drain(..used);
        end
    }

    fn on_control(&mut self, control: Control) -> Option<End> {
        match (self.phase, control.kind) {
            (Phase::Hello, ControlType::Ready) => {
                if !control.content_types.is_empty() && !control.matches(DNSTAP_CONTENT_TYPE) {
                    let offered: Vec<String> = control
                        .content_types
                        .iter()
                        .map(|t| String::from_utf8_lossy(t).into_owned())
                        .collect();
                    return Some(End::Rejected(format!(
                        "no CONTENT_TYPE matching protobuf:dnstap.Dnstap (offered {offered:?}); not accepted"
                    )));
                }
                self.bidirectional = true;
                self.phase = Phase::Accepted;
                self.send(ControlType::Accept, &[DNSTAP_CONTENT_TYPE])
            }
            (Phase::Hello | Phase::Accepted, ControlType::Start) => {
                if !control.matches(DNSTAP_CONTENT_TYPE) {
                    return Some(End::Rejected("START names another content type".into()));
                }
                self.phase = Phase::Data;
                None
            }
            (Phase::Data, ControlType::Stop) => {
                // A writer that closes without waiting for FINISH (stock
                // Unbound does) has still ended its stream properly.
                if self.bidirectional {
                    let _ = self.send(ControlType::Finish, &[]);
                }
                Some(End::Finished)
            }
            // Forward compatibility: unknown control frames are ignored.
            (Phase::Data, ControlType::Unknown(_)) => None,
            (phase, kind) => Some(End::Rejected(format!(
                "unexpected {kind:?} control frame in phase {phase:?}"
            ))),
        }
    }

    /// Sends a control frame; the peer waits for it, so a full socket
    /// buffer (a peer that does not read) ends the connection.
    fn send(&mut self, kind: ControlType, content_types: &[&[u8]]) -> Option<End> {
        let frame = control_frame(kind, content_types);
        debug_assert!(frame.len() <= CONTROL_FRAME_LENGTH_MAX + 8);
        match self.stream.io().write_all(&frame) {
            Ok(()) => None,
            Err(err) => Some(End::Closed(format!("cannot send {kind:?}: {err}"))),
        }
    }
}

/// Stop on SIGINT/SIGTERM (as `read --follow` does), reopen on SIGHUP.
/// At stop: keeps what the servers already sent (it sits in the sockets'
/// buffers and they counted it as written), reading for at most
/// [`DRAIN_LIMIT`] without waiting for more.
fn drain(
    connections: &mut [Connection],
    output: &mut Output,
    totals: &mut Totals,
    max_frame: usize,
) {
    let deadline = Instant::now() + DRAIN_LIMIT;
    for connection in connections {
        while Instant::now() < deadline {
            let before = connection.received;
            if connection.on_readable(output, totals, max_frame).is_some()
                || connection.received == before
            {
                break;
            }
        }
    }
}

fn register_signals() -> io::Result<(Arc<AtomicBool>, Arc<AtomicBool>)> {
    let stop = crate::input::stop_on_signals()?;
    let reopen = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reopen))?;
    Ok((stop, reopen))
}

pub fn run(args: Args) -> u8 {
    match capture(&args) {
        Ok(()) => exit::OK,
        Err(err) => {
            log(&err.to_string());
            exit::FAILURE
        }
    }
}

fn capture(args: &Args) -> io::Result<()> {
    let (stop, reopen) = register_signals()?;
    let listener = Listener::bind(args)?;
    let mut output = Output::open(&args.write, args)?;
    log(&format!(
        "listening on {}, writing {}",
        listener.describe(),
        args.write.display()
    ));
    let mut connections: Vec<Connection> = Vec::new();
    let mut totals = Totals::default();
    let mut next_id = 1;
    let mut last_summary = Instant::now();
    let handshake_timeout = Duration::from_secs(args.handshake_timeout);
    while !stop.load(Ordering::Relaxed) {
        let mut fds = vec![PollFd::new(listener.fd(), PollFlags::POLLIN)];
        fds.extend(
            connections
                .iter()
                .map(|c| PollFd::new(c.stream.fd(), PollFlags::POLLIN)),
        );
        match poll(&mut fds, PollTimeout::from(POLL_INTERVAL_MS)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(errno) => return Err(io::Error::from(errno)),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);

        let mut ended: Vec<(usize, End)> = Vec::new();
        for (index, connection) in connections.iter_mut().enumerate() {
            let end = if ready[index + 1] {
                connection.on_readable(&mut output, &mut totals, args.max_frame)
            } else if connection.phase != Phase::Data
                && connection.opened.elapsed() >= handshake_timeout
            {
                Some(End::Rejected(format!(
                    "no handshake within {} s",
                    args.handshake_timeout
                )))
            } else {
                None
            };
            if let Some(end) = end {
                ended.push((index, end));
            }
        }
        for (index, end) in ended.into_iter().rev() {
            let connection = connections.remove(index);
            let frames = connection.frames;
            match end {
                End::Finished => log(&format!("{}: finished, {frames} frames", connection.name())),
                End::Closed(why) => log(&format!("{}: {why}; {frames} frames", connection.name())),
                End::Rejected(why) => {
                    totals.rejected += 1;
                    log(&format!("{}: {why}; closed", connection.name()));
                }
            }
        }

        if ready[0] {
            while let Some((stream, peer)) = listener.accept()? {
                let id = next_id;
                next_id += 1;
                totals.connections += 1;
                if connections.len() >= args.max_connections {
                    totals.rejected += 1;
                    log(&format!(
                        "connection {id} ({peer}): over --max-connections {}; closed",
                        args.max_connections
                    ));
                    continue;
                }
                let nonblocking = match &stream {
                    Stream::Unix(s) => s.set_nonblocking(true),
                    Stream::Tcp(s) => s.set_nonblocking(true),
                };
                if let Err(err) = nonblocking {
                    log(&format!("connection {id} ({peer}): {err}; closed"));
                    continue;
                }
                connections.push(Connection {
                    id,
                    peer,
                    stream,
                    buffer: Vec::new(),
                    phase: Phase::Hello,
                    bidirectional: false,
                    opened: Instant::now(),
                    frames: 0,
                    received: 0,
                });
            }
        }

        if reopen.swap(false, Ordering::Relaxed) {
            output.reopen()?;
        }
        output.tick()?;
        if args.stats_interval > 0
            && last_summary.elapsed() >= Duration::from_secs(args.stats_interval)
        {
            log(&totals.summary(connections.len()));
            last_summary = Instant::now();
        }
    }
    drain(&mut connections, &mut output, &mut totals, args.max_frame);
    output.finish()?;
    log(&format!("stopped: {}", totals.summary(connections.len())));
    Ok(())
}
