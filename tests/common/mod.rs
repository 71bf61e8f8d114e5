//! A scriptable Frame Streams collector for the integration tests, built on
//! the library's own frame decoder.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use dnstap::framestream::{
    Control, ControlType, DNSTAP_CONTENT_TYPE, Frame, control_frame, parse_frame,
};
pub use dnstap_testkit::*;

/// How the collector answers a writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// A conforming reader: ACCEPT, read until STOP, FINISH.
    Conforming,
    /// Answers READY with an ACCEPT for another content type.
    WrongContentType,
    /// Answers READY with bytes that are not a frame.
    Garbage,
    /// Completes the handshake, then never reads again.
    StallAfterHandshake,
    /// Expects START without READY (a unidirectional writer).
    Unidirectional,
    /// Completes the handshake, then closes the connection at once.
    CloseAfterHandshake,
}

/// What one connection showed.
#[derive(Debug, Default, Clone)]
pub struct Session {
    pub ready: Option<Control>,
    pub start: Option<Control>,
    pub frames: Vec<Vec<u8>>,
    pub stopped: bool,
}

enum Listener {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener),
    Tls(TcpListener, Arc<rustls::ServerConfig>),
}

trait Stream: Read + Write + Send {
    fn set_timeout(&self, timeout: Duration);
}

impl Stream for std::os::unix::net::UnixStream {
    fn set_timeout(&self, timeout: Duration) {
        self.set_read_timeout(Some(timeout)).unwrap();
    }
}

impl Stream for std::net::TcpStream {
    fn set_timeout(&self, timeout: Duration) {
        self.set_read_timeout(Some(timeout)).unwrap();
    }
}

impl Stream for rustls::StreamOwned<rustls::ServerConnection, std::net::TcpStream> {
    fn set_timeout(&self, timeout: Duration) {
        self.sock.set_read_timeout(Some(timeout)).unwrap();
    }
}

pub struct Collector {
    pub sink: String,
    stop: Arc<AtomicBool>,
    sessions: Arc<Mutex<Vec<Session>>>,
    attempts: Arc<Mutex<Vec<Instant>>>,
    thread: Option<JoinHandle<()>>,
}

/// Reads one frame of at most `max_data` bytes, or None at EOF, timeout or stop.
fn read_frame(
    stream: &mut dyn Stream,
    buffer: &mut Vec<u8>,
    stop: &AtomicBool,
) -> Option<Result<OwnedFrame, String>> {
    loop {
        match parse_frame(buffer, 1 << 20) {
            Ok(Some((frame, used))) => {
                let owned = match frame {
                    Frame::Data(payload) => OwnedFrame::Data(payload.to_vec()),
                    Frame::Control(control) => OwnedFrame::Control(control),
                };
                buffer.drain(..used);
                return Some(Ok(owned));
            }
            Ok(None) => {}
            Err(err) => return Some(Err(err.to_string())),
        }
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        let mut chunk = [0u8; 65536];
        match stream.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return None,
        }
    }
}

pub enum OwnedFrame {
    Data(Vec<u8>),
    Control(Control),
}

fn serve(
    mut stream: Box<dyn Stream>,
    behaviour: Behaviour,
    stop: &AtomicBool,
    sessions: &Mutex<Vec<Session>>,
) {
    stream.set_timeout(Duration::from_millis(50));
    let mut buffer = Vec::new();
    let index = {
        let mut sessions = sessions.lock().unwrap();
        sessions.push(Session::default());
        sessions.len() - 1
    };
    let update = |f: &mut dyn FnMut(&mut Session)| f(&mut sessions.lock().unwrap()[index]);
    if behaviour != Behaviour::Unidirectional {
        let Some(Ok(OwnedFrame::Control(ready))) = read_frame(stream.as_mut(), &mut buffer, stop)
        else {
            return;
        };
        update(&mut |s| s.ready = Some(ready.clone()));
        let answer = match behaviour {
            Behaviour::WrongContentType => {
                control_frame(ControlType::Accept, &[b"protobuf:other.Type"])
            }
            Behaviour::Garbage => b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(),
            _ => control_frame(ControlType::Accept, &[DNSTAP_CONTENT_TYPE]),
        };
        if stream.write_all(&answer).is_err() {
            return;
        }
        if matches!(behaviour, Behaviour::WrongContentType | Behaviour::Garbage) {
            // Hold the connection until the writer gives up on it.
            let _ = read_frame(stream.as_mut(), &mut buffer, stop);
            return;
        }
    }
    let Some(Ok(OwnedFrame::Control(start))) = read_frame(stream.as_mut(), &mut buffer, stop)
    else {
        return;
    };
    update(&mut |s| s.start = Some(start.clone()));
    if behaviour == Behaviour::CloseAfterHandshake {
        return;
    }
    if behaviour == Behaviour::StallAfterHandshake {
        while !stop.load(Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(20));
        }
        return;
    }
    while let Some(Ok(frame)) = read_frame(stream.as_mut(), &mut buffer, stop) {
        match frame {
            OwnedFrame::Data(payload) => update(&mut |s| s.frames.push(payload.clone())),
            OwnedFrame::Control(control) if control.kind == ControlType::Stop => {
                update(&mut |s| s.stopped = true);
                if behaviour != Behaviour::Unidirectional {
                    let _ = stream.write_all(&control_frame(ControlType::Finish, &[]));
                }
                return;
            }
            OwnedFrame::Control(_) => {}
        }
    }
}

impl Collector {
    pub fn unix(dir: &Path, behaviour: Behaviour) -> Collector {
        let path = dir.join("collector.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        Self::start(
            Listener::Unix(listener, path.clone()),
            format!("unix:{}", path.display()),
            behaviour,
        )
    }

    pub fn tcp(address: &str, behaviour: Behaviour) -> Collector {
        let listener = TcpListener::bind(address).unwrap();
        let local: SocketAddr = listener.local_addr().unwrap();
        Self::start(
            Listener::Tcp(listener),
            format!("tcp:{}@{}", local.ip(), local.port()),
            behaviour,
        )
    }

    /// A TLS collector with `config` (dnstap_testkit::tls::server_config).
    pub fn tls(
        address: &str,
        behaviour: Behaviour,
        config: Arc<rustls::ServerConfig>,
    ) -> Collector {
        let listener = TcpListener::bind(address).unwrap();
        let local: SocketAddr = listener.local_addr().unwrap();
        Self::start(
            Listener::Tls(listener, config),
            format!("tls:{}@{}", local.ip(), local.port()),
            behaviour,
        )
    }

    fn start(listener: Listener, sink: String, behaviour: Behaviour) -> Collector {
        let stop = Arc::new(AtomicBool::new(false));
        let sessions = Arc::new(Mutex::new(Vec::new()));
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, sessions, attempts) = (stop.clone(), sessions.clone(), attempts.clone());
            thread::spawn(move || {
                let mut workers = Vec::new();
                match &listener {
                    Listener::Unix(l, _) => l.set_nonblocking(true).unwrap(),
                    Listener::Tcp(l) | Listener::Tls(l, _) => l.set_nonblocking(true).unwrap(),
                }
                while !stop.load(Ordering::Relaxed) {
                    let accepted: Option<Box<dyn Stream>> = match &listener {
                        Listener::Unix(l, _) => l.accept().ok().map(|(s, _)| {
                            s.set_nonblocking(false).unwrap();
                            Box::new(s) as Box<dyn Stream>
                        }),
                        Listener::Tcp(l) => l.accept().ok().map(|(s, _)| {
                            s.set_nonblocking(false).unwrap();
                            Box::new(s) as Box<dyn Stream>
                        }),
                        Listener::Tls(l, config) => l.accept().ok().map(|(s, _)| {
                            s.set_nonblocking(false).unwrap();
                            let tls = rustls::ServerConnection::new(Arc::clone(config)).unwrap();
                            Box::new(rustls::StreamOwned::new(tls, s)) as Box<dyn Stream>
                        }),
                    };
                    match accepted {
                        Some(stream) => {
                            attempts.lock().unwrap().push(Instant::now());
                            let (stop, sessions) = (stop.clone(), sessions.clone());
                            workers.push(thread::spawn(move || {
                                serve(stream, behaviour, &stop, &sessions)
                            }));
                        }
                        None => thread::sleep(Duration::from_millis(2)),
                    }
                }
                for worker in workers {
                    let _ = worker.join();
                }
                if let Listener::Unix(_, path) = &listener {
                    let _ = std::fs::remove_file(path);
                }
            })
        };
        Collector {
            sink,
            stop,
            sessions,
            attempts,
            thread: Some(thread),
        }
    }

    pub fn sessions(&self) -> Vec<Session> {
        self.sessions.lock().unwrap().clone()
    }

    pub fn connection_attempts(&self) -> usize {
        self.attempts.lock().unwrap().len()
    }

    pub fn frames(&self) -> Vec<Vec<u8>> {
        self.sessions().into_iter().flat_map(|s| s.frames).collect()
    }

    /// Waits until `n` data frames arrived (bounded by `timeout`).
    pub fn wait_for_frames(&self, n: usize, timeout: Duration) -> bool {
        wait_until(timeout, || self.frames().len() >= n)
    }

    pub fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.shutdown();
    }
}
