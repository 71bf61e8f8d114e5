//! Reading a unidirectional stream (a file) frame by frame, with bounded
//! memory.

use std::fmt;
use std::io::{self, Read};

use super::frame::{
    CONTROL_FRAME_LENGTH_MAX, Control, ControlType, Frame, FrameError, parse_frame,
};

/// How a stream read with [`FrameReader`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// A STOP frame closed the stream.
    Stopped,
    /// The input ended without STOP, at a frame boundary (the writer died or
    /// has not finished yet).
    Unterminated,
    /// The input ended in the middle of a frame.
    Truncated { partial_bytes: usize },
}

/// Reads the frames of a unidirectional stream (a file) one by one.
///
/// Data frames are returned by [`FrameReader::next_data`]; control frames
/// are checked (START first, with the wanted content type) and skipped.
pub struct FrameReader<R> {
    input: R,
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    max_data: usize,
    started: bool,
    content_type: Option<Vec<u8>>,
    finished: Option<StreamEnd>,
}

/// A stream that is not a dnstap Frame Streams file.
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    Frame(FrameError),
    /// The first frame was not START.
    NoStart,
    /// A control frame appeared where it may not (a second START, READY, …).
    UnexpectedControl(ControlType),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(err) => write!(f, "{err}"),
            ReadError::Frame(err) => write!(f, "{err}"),
            ReadError::NoStart => write!(f, "stream does not begin with a START control frame"),
            ReadError::UnexpectedControl(kind) => write!(f, "unexpected {kind:?} control frame"),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<io::Error> for ReadError {
    fn from(err: io::Error) -> Self {
        ReadError::Io(err)
    }
}

impl From<FrameError> for ReadError {
    fn from(err: FrameError) -> Self {
        ReadError::Frame(err)
    }
}

impl<R: Read> FrameReader<R> {
    /// `max_data` bounds the data frames accepted (and the memory used).
    pub fn new(input: R, max_data: usize) -> Self {
        FrameReader {
            input,
            buffer: vec![0; 64 * 1024],
            start: 0,
            end: 0,
            max_data,
            started: false,
            content_type: None,
            finished: None,
        }
    }

    /// The content type named by START, once START has been read.
    pub fn content_type(&self) -> Option<&[u8]> {
        self.content_type.as_deref()
    }

    /// How the stream ended, once `next_data` has returned `Ok(None)`.
    pub fn end(&self) -> Option<&StreamEnd> {
        self.finished.as_ref()
    }

    /// The next data frame, or `None` at the end of the stream.
    pub fn next_data(&mut self) -> Result<Option<&[u8]>, ReadError> {
        loop {
            if self.finished.is_some() {
                return Ok(None);
            }
            let parsed = parse_frame(&self.buffer[self.start..self.end], self.max_data)?;
            match parsed {
                Some((Frame::Data(_), used)) => {
                    if !self.started {
                        return Err(ReadError::NoStart);
                    }
                    let payload = self.start + 4..self.start + used;
                    self.start += used;
                    return Ok(Some(&self.buffer[payload]));
                }
                Some((Frame::Control(control), used)) => {
                    self.start += used;
                    self.on_control(control)?;
                }
                None => self.fill()?,
            }
        }
    }

    fn on_control(&mut self, control: Control) -> Result<(), ReadError> {
        match (control.kind, self.started) {
            (ControlType::Start, false) => {
                self.started = true;
                self.content_type = control.content_types.into_iter().next();
                Ok(())
            }
            (_, false) => Err(ReadError::NoStart),
            (ControlType::Stop, true) => {
                self.finished = Some(StreamEnd::Stopped);
                Ok(())
            }
            (ControlType::Unknown(_), true) => Ok(()),
            (kind, true) => Err(ReadError::UnexpectedControl(kind)),
        }
    }

    /// Reads more input, compacting the buffer first; grows the buffer only
    /// up to the largest frame allowed.
    fn fill(&mut self) -> Result<(), ReadError> {
        if self.start > 0 {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buffer.len() {
            let limit = self.max_data.max(CONTROL_FRAME_LENGTH_MAX) + 8;
            let grown = (self.buffer.len() * 2).min(limit);
            self.buffer.resize(grown, 0);
        }
        let read = loop {
            match self.input.read(&mut self.buffer[self.end..]) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if read == 0 {
            let partial_bytes = self.end - self.start;
            self.finished = Some(if partial_bytes == 0 {
                StreamEnd::Unterminated
            } else {
                StreamEnd::Truncated { partial_bytes }
            });
            if !self.started {
                return Err(ReadError::NoStart);
            }
        }
        self.end += read;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framestream::{DNSTAP_CONTENT_TYPE, encode_data, encode_stream};

    fn stream(payloads: &[&[u8]], stop: bool) -> Vec<u8> {
        encode_stream(DNSTAP_CONTENT_TYPE, payloads.iter().copied(), stop)
    }

    fn read_all(bytes: &[u8]) -> (Vec<Vec<u8>>, Option<StreamEnd>) {
        let mut reader = FrameReader::new(bytes, 1 << 20);
        let mut frames = Vec::new();
        while let Some(frame) = reader.next_data().unwrap() {
            frames.push(frame.to_vec());
        }
        assert_eq!(reader.content_type(), Some(DNSTAP_CONTENT_TYPE));
        (frames, reader.end().cloned())
    }

    #[test]
    fn reader_returns_every_frame_of_a_complete_stream() {
        let big = vec![7u8; 200_000];
        let (frames, end) = read_all(&stream(&[b"one", &big, b"three"], true));
        assert_eq!(frames, vec![b"one".to_vec(), big, b"three".to_vec()]);
        assert_eq!(end, Some(StreamEnd::Stopped));
    }

    #[test]
    fn reader_reports_a_missing_stop_and_a_truncated_frame() {
        let complete = stream(&[b"one", b"two"], false);
        assert_eq!(
            read_all(&complete),
            (
                vec![b"one".to_vec(), b"two".to_vec()],
                Some(StreamEnd::Unterminated)
            )
        );
        let truncated = &complete[..complete.len() - 1];
        assert_eq!(
            read_all(truncated),
            (
                vec![b"one".to_vec()],
                Some(StreamEnd::Truncated { partial_bytes: 6 })
            )
        );
    }

    #[test]
    fn reader_rejects_a_stream_without_start() {
        let mut bytes = Vec::new();
        encode_data(b"x", &mut bytes);
        let mut reader = FrameReader::new(&bytes[..], 1024);
        assert!(matches!(reader.next_data(), Err(ReadError::NoStart)));
    }
}
