//! Non-blocking socket I/O with deadlines, so no call can hang the writer.
//!
//! Every socket is non-blocking; waiting is done by `poll` in short slices,
//! and every operation takes a deadline. `send` uses MSG_NOSIGNAL: a
//! collector that goes away must never raise SIGPIPE in the host server.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockType, SockaddrIn, SockaddrIn6, SockaddrLike, UnixAddr,
    connect, getsockopt, recv, send, socket, sockopt,
};

use crate::framestream::{CONTROL_FRAME_LENGTH_MAX, Control, Frame, FrameError, parse_frame};

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

/// A connected stream socket to a collector.
pub struct Connection {
    fd: OwnedFd,
    received: Vec<u8>,
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
        Self::with(fd)
    }

    fn with(fd: OwnedFd) -> io::Result<Connection> {
        Ok(Connection {
            fd,
            received: Vec::with_capacity(CONTROL_FRAME_LENGTH_MAX + 8),
        })
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
            if Instant::now() >= deadline {
                return Err(timed_out("waiting for the collector's control frame"));
            }
            if wait(&self.fd, PollFlags::POLLIN, deadline)?.is_empty() {
                continue;
            }
            let mut chunk = [0u8; CONTROL_FRAME_LENGTH_MAX + 8];
            let room = chunk.len() - self.received.len();
            match recv(
                self.fd.as_raw_fd(),
                &mut chunk[..room],
                MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "collector closed the connection",
                    ));
                }
                Ok(n) => self.received.extend_from_slice(&chunk[..n]),
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(errno) => return Err(io_error(errno)),
            }
        }
    }

    /// Checks, without waiting, that the collector has neither closed the
    /// connection nor sent something a collector must not send mid-stream.
    pub fn check_alive(&mut self) -> io::Result<()> {
        let events = wait(&self.fd, PollFlags::POLLIN, Instant::now())?;
        if events.is_empty() {
            return Ok(());
        }
        let mut chunk = [0u8; 64];
        match recv(self.fd.as_raw_fd(), &mut chunk, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "collector closed the connection",
            )),
            Ok(n) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("collector sent {n} unexpected bytes during the data phase"),
            )),
            Err(Errno::EAGAIN | Errno::EINTR) => Ok(()),
            Err(errno) => Err(io_error(errno)),
        }
    }
}
