//! The sockets capture listens on and the connections it accepts.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use dnstap::sink::SinkSpec;

/// A listening socket: unix (removed when dropped) or TCP.
pub enum Listener {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener),
}

/// An accepted connection.
pub enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    pub fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Stream::Unix(s) => s,
            Stream::Tcp(s) => s,
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Unix(s) => s.as_fd(),
            Stream::Tcp(s) => s.as_fd(),
        }
    }
}

pub trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

impl Listener {
    /// Listens on the unix socket `path` (mode 0660), replacing a socket
    /// left by a previous run; anything else at `path` is an error.
    pub fn unix(path: &Path) -> io::Result<Listener> {
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
        listener.set_nonblocking(true)?;
        Ok(Listener::Unix(listener, path.to_path_buf()))
    }

    /// Listens on TCP at `target`, `ADDR@PORT` as in a `tcp:` sink spec.
    pub fn tcp(target: &str) -> io::Result<Listener> {
        let address = match format!("tcp:{target}").parse::<SinkSpec>() {
            Ok(SinkSpec::Tcp(address)) => address,
            Ok(_) => unreachable!("a tcp: spec parses as TCP"),
            Err(err) => return Err(io::Error::new(io::ErrorKind::InvalidInput, err.to_string())),
        };
        let listener = TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        Ok(Listener::Tcp(listener))
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Unix(l, _) => l.as_fd(),
            Listener::Tcp(l) => l.as_fd(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Listener::Unix(_, path) => format!("unix:{}", path.display()),
            Listener::Tcp(l) => l
                .local_addr()
                .map_or_else(|_| "tcp".into(), |a| format!("tcp:{}@{}", a.ip(), a.port())),
        }
    }

    /// The next waiting connection, if any.
    pub fn accept(&self) -> io::Result<Option<(Stream, String)>> {
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
