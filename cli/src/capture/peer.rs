//! One writer connected to capture: the Frame Streams handshake (READY,
//! ACCEPT, START), its data frames, and STOP answered with FINISH.

use std::io;
use std::time::Instant;

use dnstap::framestream::{
    CONTROL_FRAME_LENGTH_MAX, Control, ControlType, DNSTAP_CONTENT_TYPE, Frame, FrameError,
    control_frame, parse_frame,
};

use super::file::CaptureFile;
use super::listener::Stream;
use super::log::log;
use super::tls::refusal;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for READY (bidirectional) or START (unidirectional).
    Hello,
    /// READY answered with ACCEPT; waiting for START.
    Accepted,
    /// Data frames until STOP.
    Data,
}

/// One connected writer (a DNS server) and its handshake state.
pub struct Peer {
    id: u64,
    /// Where it connected: `unix:PATH` or `tcp:ADDR:PORT`.
    address: String,
    pub stream: Stream,
    /// Received bytes not yet framed: at most one partial frame plus one read.
    buffer: Vec<u8>,
    pub phase: Phase,
    bidirectional: bool,
    pub opened: Instant,
    pub frames: u64,
    /// Bytes read so far.
    pub received: u64,
}

/// Why a connection ended.
pub enum End {
    /// STOP, answered with FINISH on a bidirectional stream.
    Finished,
    Closed(String),
    Rejected(String),
}

impl Peer {
    /// A peer accepted as number `id`, before its handshake.
    pub fn new(id: u64, address: String, stream: Stream) -> Peer {
        Peer {
            id,
            address,
            stream,
            buffer: Vec::new(),
            phase: Phase::Hello,
            bidirectional: false,
            opened: Instant::now(),
            frames: 0,
            received: 0,
        }
    }

    /// How log lines name the peer.
    pub fn name(&self) -> String {
        format!("connection {} ({})", self.id, self.address)
    }

    /// Reads what is available and handles every whole frame in it (for
    /// TLS, also what it decrypted beyond one read, which poll cannot see).
    pub fn on_readable(&mut self, output: &mut CaptureFile, max_frame: usize) -> Option<End> {
        loop {
            let end = self.read_once(output, max_frame);
            if end.is_some() || !self.stream.buffered() {
                return end;
            }
        }
    }

    fn read_once(&mut self, output: &mut CaptureFile, max_frame: usize) -> Option<End> {
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
            Err(err) => {
                return Some(match refusal(&err) {
                    Some(why) => End::Rejected(why),
                    None if self.stream.is_tls()
                        && self.phase == Phase::Hello
                        && err.kind() == io::ErrorKind::UnexpectedEof =>
                    {
                        End::Closed(
                            "closed during the TLS handshake (did the writer refuse our certificate?)"
                                .into(),
                        )
                    }
                    None => End::Closed(format!("read error: {err}")),
                });
            }
        }
        if self.phase == Phase::Hello
            && !self.stream.is_tls()
            && self.buffer.starts_with(&[0x16, 3])
        {
            return Some(End::Rejected(
                "a TLS ClientHello on a plain listener (a tls: writer: start capture with --tls-cert and --tls-key)".into(),
            ));
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
                if let Some(session) = self.stream.tls_session() {
                    log(&format!("{}: {session}", self.name()));
                }
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
