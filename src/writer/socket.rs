//! Non-blocking socket I/O with deadlines, so no call can hang the writer.
//!
//! Every socket is non-blocking; waiting is done by `poll` in short slices,
//! and every operation takes a deadline. `send` uses MSG_NOSIGNAL: a
//! collector that goes away must never raise SIGPIPE in the host server.
//! A TLS connection (rustls) runs on the same socket and the same waits:
//! its handshake, its records and its alerts are bound by the same deadlines.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockType, SockaddrIn, SockaddrIn6, SockaddrLike, UnixAddr,
    connect, getsockopt, recv, send, setsockopt, socket, sockopt,
};

use rustls::ClientConnection;

use crate::framestream::{CONTROL_FRAME_LENGTH_MAX, Control, Frame, FrameError, parse_frame};
use crate::tls::{TlsClient, explain};

/// Longest single wait, so that callers can re-check their deadline.
const POLL_SLICE: Duration = Duration::from_millis(50);

fn io_error(errno: Errno) -> io::Error {
    io::Error::from_raw_os_error(errno as i32)
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("timed out {what}"))
}

/// Waits until `fd` is ready for `events` or the deadline passes; returns
/// the events seen (empty on timeout).
fn wait(fd: &OwnedFd, events: PollFlags, deadline: Instant) -> io::Result<PollFlags> {
    let remaining = deadline
        .saturating_duration_since(Instant::now())
        .min(POLL_SLICE);
    let timeout = PollTimeout::try_from(remaining.as_millis() as i32).unwrap_or(PollTimeout::ZERO);
    let mut fds = [PollFd::new(fd.as_fd(), events)];
    match poll(&mut fds, timeout) {
        Ok(_) | Err(Errno::EINTR) => Ok(fds[0].revents().unwrap_or(PollFlags::empty())),
        Err(errno) => Err(io_error(errno)),
    }
}

/// Plaintext handed to rustls at a time: one TLS record. What has been
/// sent is counted a record at a time, once it is on the socket.
const TLS_CHUNK: usize = 16 * 1024;

/// A connected stream socket to a collector.
pub struct Connection {
    fd: OwnedFd,
    received: Vec<u8>,
    tls: Option<Box<ClientConnection>>,
}

/// The socket as rustls reads and writes it: non-blocking, no SIGPIPE.
struct SocketIo<'a>(&'a OwnedFd);

fn would_block(errno: Errno) -> io::Error {
    match errno {
        Errno::EAGAIN => io::ErrorKind::WouldBlock.into(),
        Errno::EINTR => io::ErrorKind::Interrupted.into(),
        errno => io_error(errno),
    }
}

impl Read for SocketIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        recv(self.0.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT).map_err(would_block)
    }
}

impl Write for SocketIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        send(
            self.0.as_raw_fd(),
            buf,
            MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
        )
        .map_err(would_block)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn tls_failure(err: &rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, explain(err))
}

fn closed(during: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("collector closed the connection{during}"),
    )
}

fn connect_address(
    family: AddressFamily,
    address: &dyn SockaddrLike,
    deadline: Instant,
) -> io::Result<OwnedFd> {
    let fd = socket(
        family,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(io_error)?;
    match connect(fd.as_raw_fd(), address) {
        Ok(()) => return Ok(fd),
        Err(Errno::EINPROGRESS) => {}
        Err(Errno::EAGAIN) => {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "the collector's listen queue is full (is it stopped?)",
            ));
        }
        Err(errno) => return Err(io_error(errno)),
    }
    while Instant::now() < deadline {
        if wait(&fd, PollFlags::POLLOUT, deadline)?.is_empty() {
            continue;
        }
        return match getsockopt(&fd, sockopt::SocketError).map_err(io_error)? {
            0 => Ok(fd),
            error => Err(io::Error::from_raw_os_error(error)),
        };
    }
    Err(timed_out("connecting"))
}

impl Connection {
    pub fn connect_unix(path: &Path, deadline: Instant) -> io::Result<Connection> {
        let address = UnixAddr::new(path).map_err(io_error)?;
        Self::with(connect_address(AddressFamily::Unix, &address, deadline)?)
    }

    pub fn connect_tcp(address: SocketAddr, deadline: Instant) -> io::Result<Connection> {
        let fd = match address {
            SocketAddr::V4(v4) => {
                connect_address(AddressFamily::Inet, &SockaddrIn::from(v4), deadline)?
            }
            SocketAddr::V6(v6) => {
                connect_address(AddressFamily::Inet6, &SockaddrIn6::from(v6), deadline)?
            }
        };
        // The writer batches by itself; Nagle's wait for an ACK would only
        // hold back the tail of a batch, and with TLS (one record per
        // chunk) it stalls every record behind the peer's delayed ACK.
        setsockopt(&fd, sockopt::TcpNoDelay, &true).map_err(io_error)?;
        Self::with(fd)
    }

    fn with(fd: OwnedFd) -> io::Result<Connection> {
        Ok(Connection {
            fd,
            received: Vec::with_capacity(CONTROL_FRAME_LENGTH_MAX + 8),
            tls: None,
        })
    }

    /// Runs the TLS handshake before `deadline`; everything after it goes
    /// through TLS. A collector that does not speak TLS, or whose
    /// certificate fails, is an error naming why.
    pub fn start_tls(&mut self, client: &TlsClient, deadline: Instant) -> io::Result<()> {
        let tls = client.connection().map_err(|err| tls_failure(&err))?;
        self.tls = Some(Box::new(tls));
        while self.tls.as_ref().is_some_and(|tls| tls.is_handshaking()) {
            self.flush_tls(deadline)?;
            if !self.tls.as_ref().is_some_and(|tls| tls.is_handshaking()) {
                break;
            }
            if Instant::now() >= deadline {
                return Err(timed_out(
                    "in the TLS handshake (is the collector a plaintext one, or stalled?)",
                ));
            }
            if wait(&self.fd, PollFlags::POLLIN, deadline)?.is_empty() {
                continue;
            }
            if self.read_tls()? == 0 {
                return Err(closed(
                    " during the TLS handshake (a plaintext collector, or it refused us)",
                ));
            }
        }
        self.flush_tls(deadline)
    }

    /// Reads what the socket holds into rustls and processes it; the byte
    /// count (0: the collector closed the connection).
    fn read_tls(&mut self) -> io::Result<usize> {
        let Some(tls) = self.tls.as_mut() else {
            return Ok(1);
        };
        let read = match tls.read_tls(&mut SocketIo(&self.fd)) {
            Ok(n) => n,
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return Ok(1);
            }
            Err(err) => return Err(err),
        };
        if let Err(err) = tls.process_new_packets() {
            // Sends the alert that says why, if the socket takes it.
            let _ = tls.write_tls(&mut SocketIo(&self.fd));
            return Err(tls_failure(&err));
        }
        Ok(read)
    }

    /// Writes the TLS records rustls holds before `deadline`.
    fn flush_tls(&mut self, deadline: Instant) -> io::Result<()> {
        let Some(tls) = self.tls.as_mut() else {
            return Ok(());
        };
        while tls.wants_write() {
            match tls.write_tls(&mut SocketIo(&self.fd)) {
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(timed_out("sending to the collector"));
                    }
                    wait(&self.fd, PollFlags::POLLOUT, deadline)?;
                }
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// Plaintext the peer sent, without waiting: Some(0) at its end, None
    /// when nothing is there yet.
    fn receive(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        if self.tls.is_none() {
            return match recv(self.fd.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT) {
                Ok(n) => Ok(Some(n)),
                Err(Errno::EAGAIN | Errno::EINTR) => Ok(None),
                Err(errno) => Err(io_error(errno)),
            };
        }
        loop {
            let tls = self.tls.as_mut().expect("a TLS connection");
            match tls.reader().read(buf) {
                Ok(n) => return Ok(Some(n)),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                // Closed without close_notify.
                Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok(Some(0)),
                Err(err) => return Err(err),
            }
            if !wait(&self.fd, PollFlags::POLLIN, Instant::now())?.is_empty() {
                if self.read_tls()? == 0 {
                    return Ok(Some(0));
                }
                // Records that carry no data (session tickets) leave nothing to read.
                continue;
            }
            return Ok(None);
        }
    }

    /// Ends TLS with close_notify, if the socket takes it at once.
    pub fn close_tls(&mut self) {
        if let Some(tls) = self.tls.as_mut() {
            tls.send_close_notify();
            let _ = self.flush_tls(Instant::now());
        }
    }

    /// Sends as much of `bytes` as the collector takes before
    /// `deadline(bytes_sent_so_far)`, re-evaluated at every wait so that it
    /// can move with progress; returns the bytes sent and, if the send did
    /// not complete, the error that ended it.
    pub fn send_until(
        &mut self,
        bytes: &[u8],
        deadline: &mut dyn FnMut(usize) -> Instant,
    ) -> (usize, io::Result<()>) {
        if self.tls.is_some() {
            return self.send_tls_until(bytes, deadline);
        }
        let mut sent = 0;
        while sent < bytes.len() {
            match send(
                self.fd.as_raw_fd(),
                &bytes[sent..],
                MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(n) => sent += n,
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => {
                    let limit = deadline(sent);
                    if Instant::now() >= limit {
                        return (sent, Err(timed_out("sending to the collector")));
                    }
                    if let Err(err) = wait(&self.fd, PollFlags::POLLOUT, limit) {
                        return (sent, Err(err));
                    }
                }
                Err(errno) => return (sent, Err(io_error(errno))),
            }
        }
        (sent, Ok(()))
    }

    /// `send_until` through TLS: a record at a time, each counted as sent
    /// once it is all on the socket.
    fn send_tls_until(
        &mut self,
        bytes: &[u8],
        deadline: &mut dyn FnMut(usize) -> Instant,
    ) -> (usize, io::Result<()>) {
        let mut sent = 0;
        loop {
            if let Err(err) = self.flush_tls(deadline(sent)) {
                return (sent, Err(err));
            }
            if sent == bytes.len() {
                return (sent, Ok(()));
            }
            let chunk = &bytes[sent..bytes.len().min(sent + TLS_CHUNK)];
            let tls = self.tls.as_mut().expect("a TLS connection");
            match tls.writer().write(chunk) {
                Ok(n) if n == chunk.len() => sent += n,
                Ok(n) => {
                    return (
                        sent,
                        Err(io::Error::other(format!(
                            "TLS took {n} of {} bytes into an empty buffer",
                            chunk.len()
                        ))),
                    );
                }
                Err(err) => return (sent, Err(err)),
            }
        }
    }

    /// Sends all of `bytes` before a fixed deadline.
    pub fn send_all(&mut self, bytes: &[u8], deadline: Instant) -> io::Result<()> {
        self.send_until(bytes, &mut |_| deadline).1
    }

    /// Reads one control frame before `deadline`. A data frame, an oversize
    /// or malformed frame, or the end of the connection is an error.
    pub fn read_control(&mut self, deadline: Instant) -> io::Result<Control> {
        loop {
            match parse_frame(&self.received, 0) {
                Ok(Some((Frame::Control(control), used))) => {
                    self.received.drain(..used);
                    return Ok(control);
                }
                Ok(Some((Frame::Data(_), _))) => unreachable!("max_data 0 rejects data frames"),
                Ok(None) => {}
                Err(FrameError::DataFrameTooLarge { .. }) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "collector sent data, not a control frame",
                    ));
                }
                Err(err) => {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, err.to_string()));
                }
            }
            // TLS may hold plaintext already: read before waiting.
            let mut chunk = [0u8; CONTROL_FRAME_LENGTH_MAX + 8];
            let room = chunk.len() - self.received.len();
            match self.receive(&mut chunk[..room])? {
                Some(0) => return Err(closed("")),
                Some(n) => {
                    self.received.extend_from_slice(&chunk[..n]);
                    continue;
                }
                None => {}
            }
            if Instant::now() >= deadline {
                return Err(timed_out("waiting for the collector's control frame"));
            }
            wait(&self.fd, PollFlags::POLLIN, deadline)?;
        }
    }

    /// Checks, without waiting, that the collector has neither closed the
    /// connection nor sent something a collector must not send mid-stream.
    pub fn check_alive(&mut self) -> io::Result<()> {
        if self.tls.is_none() && wait(&self.fd, PollFlags::POLLIN, Instant::now())?.is_empty() {
            return Ok(());
        }
        let mut chunk = [0u8; 64];
        match self.receive(&mut chunk)? {
            None => Ok(()),
            Some(0) => Err(closed("")),
            Some(n) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("collector sent {n} unexpected bytes during the data phase"),
            )),
        }
    }
}
