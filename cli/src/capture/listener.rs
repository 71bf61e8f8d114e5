//! The sockets capture listens on and the connections it accepts.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dnstap::sink::SinkSpec;
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// A listening socket: unix (removed when dropped), TCP, or TCP with TLS.
pub enum Listener {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener, Option<Arc<ServerConfig>>),
}

/// An accepted connection.
pub enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    pub fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Stream::Unix(s) => s,
            Stream::Tcp(s) => s,
            Stream::Tls(s) => s.as_mut(),
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Unix(s) => s.as_fd(),
            Stream::Tcp(s) => s.as_fd(),
            Stream::Tls(s) => s.sock.as_fd(),
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// For a TLS connection after its handshake: the protocol version and
    /// the server name the writer asked for (SNI), which tells an operator
    /// what name the writer verifies.
    pub fn tls_session(&self) -> Option<String> {
        let Stream::Tls(s) = self else { return None };
        let version = s
            .conn
            .protocol_version()
            .map_or_else(|| "TLS".to_string(), |v| format!("{v:?}").replace('_', "."));
        Some(match s.conn.server_name() {
            Some(name) => format!("{version}, server name (SNI) {name}"),
            None => format!("{version}, no server name (SNI)"),
        })
    }

    /// Plaintext that TLS decrypted and no read took yet: poll does not
    /// see it, so the reader must come back for it.
    pub fn buffered(&mut self) -> bool {
        match self {
            Stream::Tls(s) => s
                .conn
                .process_new_packets()
                .is_ok_and(|state| state.plaintext_bytes_to_read() > 0),
            _ => false,
        }
    }

    pub fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_nonblocking(true),
            Stream::Tcp(s) => s.set_nonblocking(true),
            Stream::Tls(s) => s.sock.set_nonblocking(true),
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

    /// Listens on TCP at `target`, `ADDR@PORT` as in a `tcp:` sink spec;
    /// with `tls`, every connection is a TLS server connection.
    pub fn tcp(target: &str, tls: Option<Arc<ServerConfig>>) -> io::Result<Listener> {
        let address = match format!("tcp:{target}").parse::<SinkSpec>() {
            Ok(SinkSpec::Tcp(address)) => address,
            Ok(_) => unreachable!("a tcp: spec parses as TCP"),
            Err(err) => return Err(io::Error::new(io::ErrorKind::InvalidInput, err.to_string())),
        };
        let listener = TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        Ok(Listener::Tcp(listener, tls))
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Unix(l, _) => l.as_fd(),
            Listener::Tcp(l, _) => l.as_fd(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Listener::Unix(_, path) => format!("unix:{}", path.display()),
            Listener::Tcp(l, tls) => {
                let scheme = if tls.is_some() { "tls" } else { "tcp" };
                l.local_addr().map_or_else(
                    |_| scheme.into(),
                    |a| format!("{scheme}:{}@{}", a.ip(), a.port()),
                )
            }
        }
    }

    /// The next waiting connection, if any.
    pub fn accept(&self) -> io::Result<Option<(Stream, String)>> {
        let accepted = match self {
            Listener::Unix(l, path) => l
                .accept()
                .map(|(s, _)| (Stream::Unix(s), format!("unix:{}", path.display()))),
            Listener::Tcp(l, None) => l
                .accept()
                .map(|(s, peer): (TcpStream, SocketAddr)| (Stream::Tcp(s), format!("tcp:{peer}"))),
            Listener::Tcp(l, Some(config)) => match l.accept() {
                Ok((s, peer)) => {
                    let tls = ServerConnection::new(Arc::clone(config))
                        .map_err(|err| io::Error::other(err.to_string()))?;
                    Ok((
                        Stream::Tls(Box::new(StreamOwned::new(tls, s))),
                        format!("tls:{peer}"),
                    ))
                }
                Err(err) => Err(err),
            },
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
