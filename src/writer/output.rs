//! The writer's end of the sink: a Frame Streams file or a collector socket.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::context::{Context, Failure};
use super::socket::Connection;
use crate::error::Error;
use crate::framestream::{ControlType, DNSTAP_CONTENT_TYPE, StreamFile, control_frame};
use crate::log::LogLevel;
use crate::options::RECONNECT_MIN;
use crate::sink::SinkSpec;
use crate::tls::{TlsClient, TlsOptions};

/// Time a collector has to accept a connection and answer READY.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(1);
/// The same through TLS, whose handshake takes one or two more round trips.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);
/// A collector that takes nothing for this long is given up on and
/// reconnected (a stopped reader only stalls the writer, never the server).
const STALL_LIMIT: Duration = Duration::from_secs(30);
/// A collector that takes nothing for this long is reported.
const STALL_WARNING: Duration = Duration::from_secs(2);
/// A connection that ends sooner than this after its handshake counts as
/// a failed attempt.
const FLAP_WINDOW: Duration = Duration::from_secs(1);
/// A socket reopen (`dnstap_reopen`) waits this long for FINISH.
const REOPEN_FINISH_TIMEOUT: Duration = Duration::from_millis(500);

/// What became of a write.
pub struct Written {
    pub bytes: usize,
    pub error: Option<io::Error>,
}

pub enum Output {
    File(FileOutput),
    Socket(SocketOutput),
}

impl Output {
    /// Prepares the sink; a file is opened here, and a TLS sink's
    /// certificates read, so that a bad path fails `dnstap_init` rather
    /// than every write.
    pub fn new(spec: &SinkSpec, bidirectional: bool, tls: &TlsOptions) -> Result<Output, Error> {
        if tls.is_set() && !matches!(spec, SinkSpec::Tls(_)) {
            return Err(Error::invalid(format!(
                "TLS options are set but the sink {spec} is not a tls: sink"
            )));
        }
        let target = match spec {
            SinkSpec::File(path) => return Ok(Output::File(FileOutput::open(path)?)),
            SinkSpec::Unix(path) => Target::Unix(path.clone()),
            SinkSpec::Tcp(address) => Target::Tcp(*address),
            SinkSpec::Tls(address) => {
                Target::Tls(*address, Arc::new(TlsClient::new(tls, address.ip())?))
            }
        };
        Ok({
            {
                Output::Socket(SocketOutput {
                    target,
                    bidirectional,
                    connection: None,
                    backoff: RECONNECT_MIN,
                    next_attempt: Instant::now(),
                    failures: 0,
                    ever_connected: false,
                    connected_at: Instant::now(),
                    flapping: false,
                })
            }
        })
    }

    /// Whether data can be written now; reconnects a socket when its
    /// backoff has passed.
    pub fn ready(&mut self, ctx: &Context<'_>) -> bool {
        match self {
            Output::File(file) => file.ready(ctx),
            Output::Socket(socket) => socket.ready(ctx),
        }
    }

    /// When a closed output will try again, so the writer can sleep until then.
    pub fn next_attempt(&self) -> Option<Instant> {
        match self {
            Output::File(file) => file.file.is_none().then_some(file.next_attempt),
            Output::Socket(socket) => socket.connection.is_none().then_some(socket.next_attempt),
        }
    }

    pub fn write(&mut self, bytes: &[u8], ctx: &Context<'_>) -> Written {
        match self {
            Output::File(file) => file.write(bytes),
            Output::Socket(socket) => socket.write(bytes, ctx),
        }
    }

    /// `dnstap_reopen`: a rotated file is replaced by a new one; a socket
    /// reconnects.
    pub fn reopen(&mut self, ctx: &Context<'_>) {
        match self {
            Output::File(file) => file.reopen(ctx),
            Output::Socket(socket) => {
                socket.close(ctx, Instant::now() + REOPEN_FINISH_TIMEOUT);
                socket.next_attempt = Instant::now();
            }
        }
    }

    /// Ends the stream: STOP, and on a bidirectional socket FINISH, waited
    /// for until `deadline`.
    pub fn close(&mut self, ctx: &Context<'_>, deadline: Instant) {
        match self {
            Output::File(file) => file.close(ctx),
            Output::Socket(socket) => socket.close(ctx, deadline),
        }
    }
}

pub struct FileOutput {
    path: PathBuf,
    file: Option<StreamFile>,
    next_attempt: Instant,
}

impl FileOutput {
    fn open(path: &Path) -> Result<FileOutput, Error> {
        let file = StreamFile::create(path).map_err(|err| {
            Error::Io(format!("cannot open dnstap file {}: {err}", path.display()))
        })?;
        Ok(FileOutput {
            path: path.to_path_buf(),
            file: Some(file),
            next_attempt: Instant::now(),
        })
    }

    fn ready(&mut self, ctx: &Context<'_>) -> bool {
        if self.file.is_none() && Instant::now() >= self.next_attempt {
            self.open_again(ctx);
        }
        self.file.is_some()
    }

    fn open_again(&mut self, ctx: &Context<'_>) {
        match StreamFile::create(&self.path) {
            Ok(file) => {
                self.file = Some(file);
                ctx.counters().add_reconnect();
                ctx.log(
                    LogLevel::Info,
                    &format!("opened dnstap file {}", self.path.display()),
                );
            }
            Err(err) => {
                self.next_attempt = Instant::now() + ctx.config.reconnect_max;
                ctx.log_throttled(
                    Failure::OpenFile,
                    &format!("cannot open dnstap file {}: {err}", self.path.display()),
                );
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Written {
        let Some(file) = self.file.as_mut() else {
            return Written {
                bytes: 0,
                error: Some(io::Error::other("file is not open")),
            };
        };
        match file.append(bytes) {
            Ok(()) => Written {
                bytes: bytes.len(),
                error: None,
            },
            Err(err) => {
                // The next batch retries: a full disk that gains space
                // resumes by itself.
                if file.is_broken() {
                    self.file = None;
                }
                Written {
                    bytes: 0,
                    error: Some(err),
                }
            }
        }
    }

    /// Replaces the file if it was renamed or removed (logrotate); keeps
    /// writing if the path still names the open file.
    fn reopen(&mut self, ctx: &Context<'_>) {
        if self.file.as_ref().is_some_and(StreamFile::is_at_path) {
            ctx.log(
                LogLevel::Info,
                &format!(
                    "reopen: {} was not rotated; still writing to it",
                    self.path.display()
                ),
            );
            return;
        }
        self.close(ctx);
        self.open_again(ctx);
    }

    fn close(&mut self, ctx: &Context<'_>) {
        if let Some(file) = self.file.take() {
            if let Err(err) = file.finish() {
                ctx.log(
                    LogLevel::Error,
                    &format!("cannot finish dnstap file {}: {err}", self.path.display()),
                );
            }
        }
    }
}

#[derive(Clone)]
enum Target {
    Unix(PathBuf),
    Tcp(SocketAddr),
    Tls(SocketAddr, Arc<TlsClient>),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
            Target::Tcp(address) => write!(f, "tcp:{}@{}", address.ip(), address.port()),
            Target::Tls(address, _) => write!(f, "tls:{}@{}", address.ip(), address.port()),
        }
    }
}

pub struct SocketOutput {
    target: Target,
    bidirectional: bool,
    connection: Option<Connection>,
    backoff: Duration,
    next_attempt: Instant,
    failures: u64,
    ever_connected: bool,
    connected_at: Instant,
    /// The last connection ended within FLAP_WINDOW of its handshake.
    flapping: bool,
}

impl SocketOutput {
    fn ready(&mut self, ctx: &Context<'_>) -> bool {
        if let Some(connection) = self.connection.as_mut() {
            if let Err(err) = connection.check_alive() {
                self.lose(ctx, &err);
            }
        }
        if self.connection.is_none() && Instant::now() >= self.next_attempt {
            self.connect(ctx);
        }
        self.connection.is_some()
    }

    fn connect(&mut self, ctx: &Context<'_>) {
        let timeout = match self.target {
            Target::Tls(..) => TLS_HANDSHAKE_TIMEOUT,
            _ => HANDSHAKE_TIMEOUT,
        };
        let deadline = ctx.clamp(Instant::now() + timeout);
        match self.open(deadline) {
            Ok(connection) => {
                self.connection = Some(connection);
                self.connected_at = Instant::now();
                if self.ever_connected {
                    ctx.counters().add_reconnect();
                }
                let after = match self.failures {
                    0 => String::new(),
                    n => format!(" after {n} failed attempts"),
                };
                // A collector that keeps closing at once is reported by
                // the throttled line in `lose`, not once per connection.
                if !self.flapping {
                    let tls = match &self.target {
                        Target::Tls(_, client) => format!(" ({})", client.describe()),
                        _ => String::new(),
                    };
                    ctx.log(
                        LogLevel::Info,
                        &format!("connected to collector {}{tls}{after}", self.target),
                    );
                }
                self.ever_connected = true;
                self.failures = 0;
            }
            Err(err) => {
                self.failures += 1;
                ctx.counters().add_failed_connect();
                self.next_attempt = Instant::now() + self.backoff;
                ctx.log_throttled(
                    Failure::Connect,
                    &format!(
                        "cannot connect to collector {}: {err}; retrying with backoff up to {} ms",
                        self.target,
                        ctx.config.reconnect_max.as_millis()
                    ),
                );
                self.backoff = (self.backoff * 2).min(ctx.config.reconnect_max);
            }
        }
    }

    /// The connection ended (`err` says how). One that ended right after
    /// its handshake counts as a failed attempt, so a collector that
    /// accepts and closes is retried with backoff, not in a loop.
    fn lose(&mut self, ctx: &Context<'_>, err: &io::Error) {
        self.connection = None;
        let lasted = self.connected_at.elapsed();
        self.flapping = lasted < FLAP_WINDOW;
        if self.flapping {
            self.next_attempt = Instant::now() + self.backoff;
            self.backoff = (self.backoff * 2).min(ctx.config.reconnect_max);
            ctx.log_throttled(
                Failure::ShortConnection,
                &format!(
                    "collector {} ended the connection {} ms after the handshake: {err}; retrying with backoff",
                    self.target,
                    lasted.as_millis()
                ),
            );
        } else {
            self.backoff = RECONNECT_MIN;
            self.next_attempt = Instant::now() + RECONNECT_MIN;
            ctx.log(
                LogLevel::Warning,
                &format!("{}: {err}; reconnecting", self.target),
            );
        }
    }

    fn open(&self, deadline: Instant) -> io::Result<Connection> {
        let mut connection = match &self.target {
            Target::Unix(path) => Connection::connect_unix(path, deadline)?,
            Target::Tcp(address) => Connection::connect_tcp(*address, deadline)?,
            Target::Tls(address, client) => {
                let mut connection = Connection::connect_tcp(*address, deadline)?;
                connection.start_tls(client, deadline)?;
                connection
            }
        };
        if self.bidirectional {
            connection.send_all(
                &control_frame(ControlType::Ready, &[DNSTAP_CONTENT_TYPE]),
                deadline,
            )?;
            let answer = connection.read_control(deadline).map_err(|err| {
                if err.kind() == io::ErrorKind::UnexpectedEof {
                    // What fstrm_capture does when it expects another
                    // content type: it closes without a word.
                    io::Error::new(
                        err.kind(),
                        "collector closed the connection instead of accepting \
                         protobuf:dnstap.Dnstap (does it expect another content type?)",
                    )
                } else {
                    err
                }
            })?;
            if answer.kind != ControlType::Accept {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "collector answered READY with {:?} instead of ACCEPT",
                        answer.kind
                    ),
                ));
            }
            if !answer.matches(DNSTAP_CONTENT_TYPE) {
                let offered: Vec<String> = answer
                    .content_types
                    .iter()
                    .map(|t| String::from_utf8_lossy(t).into_owned())
                    .collect();
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "collector does not accept protobuf:dnstap.Dnstap (it accepts {offered:?})"
                    ),
                ));
            }
        }
        connection.send_all(
            &control_frame(ControlType::Start, &[DNSTAP_CONTENT_TYPE]),
            deadline,
        )?;
        Ok(connection)
    }

    fn write(&mut self, bytes: &[u8], ctx: &Context<'_>) -> Written {
        let Some(connection) = self.connection.as_mut() else {
            return Written {
                bytes: 0,
                error: Some(io::Error::other("not connected")),
            };
        };
        let mut progress = (0, Instant::now());
        let mut warned = false;
        let target = &self.target;
        let mut deadline = |sent: usize| {
            let now = Instant::now();
            if sent > progress.0 {
                progress = (sent, now);
            }
            if !warned && now >= progress.1 + STALL_WARNING {
                warned = true;
                ctx.log(
                    LogLevel::Warning,
                    &format!("collector {target} is not reading; new messages are dropped while it stalls"),
                );
            }
            ctx.clamp(progress.1 + STALL_LIMIT)
        };
        let (sent, result) = connection.send_until(bytes, &mut deadline);
        if warned && result.is_ok() {
            ctx.log(
                LogLevel::Info,
                &format!("collector {} is reading again", self.target),
            );
        }
        match result {
            Ok(()) => Written {
                bytes: sent,
                error: None,
            },
            Err(err) => {
                self.lose(ctx, &err);
                Written {
                    bytes: sent,
                    error: Some(err),
                }
            }
        }
    }

    fn close(&mut self, ctx: &Context<'_>, deadline: Instant) {
        let Some(mut connection) = self.connection.take() else {
            return;
        };
        let finished = connection
            .send_all(&control_frame(ControlType::Stop, &[]), deadline)
            .and_then(|()| {
                if self.bidirectional {
                    expect_finish(&mut connection, deadline)
                } else {
                    Ok(())
                }
            });
        if let Err(err) = finished {
            ctx.log(
                LogLevel::Warning,
                &format!(
                    "collector {} did not finish the stream cleanly: {err}",
                    self.target
                ),
            );
        }
        connection.close_tls();
    }
}

fn expect_finish(connection: &mut Connection, deadline: Instant) -> io::Result<()> {
    match connection.read_control(deadline)?.kind {
        ControlType::Finish => Ok(()),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("collector answered STOP with {other:?} instead of FINISH"),
        )),
    }
}
