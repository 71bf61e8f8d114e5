//! Inputs of `read` and `check`: files or standard input, read frame by
//! frame with the library's [`FrameReader`], optionally followed as they
//! grow.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use dnstap::framestream::{DNSTAP_CONTENT_TYPE, FrameReader, StreamEnd};

use crate::report::report;

/// Default bound on a data frame: libfstrm's reader default.
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;
/// How often a followed file is polled at its end.
const POLL: Duration = Duration::from_millis(200);
/// Slices of the poll, so an interrupt ends the wait promptly.
const POLL_SLICES: u32 = 4;

/// Reads a file as it grows: at the end of the file it waits and reads
/// again, until `stop` is set. Then it reports the end of the file, so the
/// [`FrameReader`] wrapped around it sees where the stream stands.
pub struct Follow {
    file: File,
    position: u64,
    stop: Arc<AtomicBool>,
}

impl Follow {
    pub fn new(file: File, stop: Arc<AtomicBool>) -> Follow {
        Follow {
            file,
            position: 0,
            stop,
        }
    }
}

impl Read for Follow {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.file.read(buf)?;
            if n > 0 || buf.is_empty() {
                self.position += n as u64;
                return Ok(n);
            }
            if self.file.metadata()?.len() < self.position {
                return Err(io::Error::other(
                    "the file was truncated while being followed",
                ));
            }
            for _ in 0..POLL_SLICES {
                if self.stop.load(Ordering::Relaxed) {
                    return Ok(0);
                }
                thread::sleep(POLL / POLL_SLICES);
            }
        }
    }
}

/// One opened input and the name used in messages.
pub struct Input {
    pub name: String,
    reader: Box<dyn Read>,
}

/// Opens `path` (`-` is standard input), or says on stderr why it cannot.
/// With `follow`, a file is read as it grows until `follow` is set;
/// standard input is read as it comes.
pub fn open_or_report(path: &Path, follow: Option<&Arc<AtomicBool>>) -> Option<Input> {
    open(path, follow)
        .inspect_err(|err| report!("dnstap-kit: {}: {err}", path.display()))
        .ok()
}

fn open(path: &Path, follow: Option<&Arc<AtomicBool>>) -> io::Result<Input> {
    if path.as_os_str() == "-" {
        return Ok(Input {
            name: "(stdin)".into(),
            reader: Box::new(io::stdin()),
        });
    }
    let file = File::open(path)?;
    let reader: Box<dyn Read> = match follow {
        Some(stop) => Box::new(Follow::new(file, Arc::clone(stop))),
        None => Box::new(file),
    };
    Ok(Input {
        name: path.display().to_string(),
        reader,
    })
}

/// How reading an input ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A STOP frame ended the stream.
    Stopped,
    /// The input ended without STOP, at a frame boundary.
    Unterminated,
    /// The input ended inside a frame.
    Truncated { partial_bytes: usize },
    /// The frame handler asked to stop.
    Abandoned,
    /// The input is not a dnstap Frame Streams stream, or broke.
    Failed(String),
}

impl Outcome {
    /// A warning about a stream that did not end with STOP.
    pub fn warning(&self, frames: u64) -> Option<String> {
        match self {
            Outcome::Unterminated => Some(format!(
                "stream ended without a STOP frame (writer died or is still writing) after {frames} frames"
            )),
            Outcome::Truncated { partial_bytes } => Some(format!(
                "stream ended inside a frame after {frames} complete frames ({partial_bytes} bytes of an incomplete frame ignored)"
            )),
            _ => None,
        }
    }
}

/// Calls `frame` with the number (from 1) and payload of every data frame
/// of `input`, after checking the stream's content type. Returns how the
/// stream ended and how many data frames it held.
pub fn for_each_frame(
    input: &mut Input,
    max_frame: usize,
    mut frame: impl FnMut(u64, &[u8]) -> Result<(), ()>,
) -> (Outcome, u64) {
    let mut reader = FrameReader::new(&mut input.reader, max_frame);
    let mut count = 0u64;
    // The content type is known once the first frame has been read; the
    // first payload is copied so the reader can be asked about it.
    let first = match reader.next_data() {
        Ok(first) => first.map(<[u8]>::to_vec),
        Err(err) => return (Outcome::Failed(err.to_string()), 0),
    };
    if let Some(content_type) = reader.content_type()
        && content_type != DNSTAP_CONTENT_TYPE
    {
        return (
            Outcome::Failed(format!(
                "content type \"{}\" is not \"{}\"",
                String::from_utf8_lossy(content_type).escape_debug(),
                String::from_utf8_lossy(DNSTAP_CONTENT_TYPE)
            )),
            0,
        );
    }
    if let Some(payload) = first {
        count = 1;
        if frame(count, &payload).is_err() {
            return (Outcome::Abandoned, count);
        }
        loop {
            match reader.next_data() {
                Ok(Some(payload)) => {
                    count += 1;
                    if frame(count, payload).is_err() {
                        return (Outcome::Abandoned, count);
                    }
                }
                Ok(None) => break,
                Err(err) => return (Outcome::Failed(err.to_string()), count),
            }
        }
    }
    let outcome = match reader.end() {
        Some(StreamEnd::Stopped) => Outcome::Stopped,
        Some(StreamEnd::Truncated { partial_bytes }) => Outcome::Truncated {
            partial_bytes: *partial_bytes,
        },
        Some(StreamEnd::Unterminated) | None => Outcome::Unterminated,
    };
    (outcome, count)
}

/// Sets the returned flag on SIGINT and SIGTERM (instead of dying).
pub fn stop_on_signals() -> io::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    Ok(stop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnstap::framestream::encode_stream;
    use std::io::{Seek, Write};

    fn stream(content_type: &[u8], payloads: &[&[u8]], stop: bool) -> Vec<u8> {
        encode_stream(content_type, payloads.iter().copied(), stop)
    }

    fn input(bytes: Vec<u8>) -> Input {
        Input {
            name: "test".into(),
            reader: Box::new(io::Cursor::new(bytes)),
        }
    }

    fn collect(bytes: Vec<u8>) -> (Outcome, Vec<(u64, Vec<u8>)>) {
        let mut frames = Vec::new();
        let (outcome, count) = for_each_frame(&mut input(bytes), 1024, |n, p| {
            frames.push((n, p.to_vec()));
            Ok(())
        });
        assert_eq!(count as usize, frames.len());
        (outcome, frames)
    }

    #[test]
    fn ends_are_told_apart() {
        let (outcome, frames) = collect(stream(DNSTAP_CONTENT_TYPE, &[b"a", b"bc"], true));
        assert_eq!(outcome, Outcome::Stopped);
        assert_eq!(frames, vec![(1, b"a".to_vec()), (2, b"bc".to_vec())]);
        let (outcome, _) = collect(stream(DNSTAP_CONTENT_TYPE, &[b"a"], false));
        assert_eq!(outcome, Outcome::Unterminated);
        let mut cut = stream(DNSTAP_CONTENT_TYPE, &[b"a", b"bcd"], false);
        cut.truncate(cut.len() - 1);
        let (outcome, frames) = collect(cut);
        assert_eq!(outcome, Outcome::Truncated { partial_bytes: 6 });
        assert_eq!(frames.len(), 1);
        let (outcome, frames) = collect(stream(DNSTAP_CONTENT_TYPE, &[], true));
        assert_eq!((outcome, frames.len()), (Outcome::Stopped, 0));
    }

    #[test]
    fn other_content_types_and_non_streams_fail() {
        let (outcome, frames) = collect(stream(b"protobuf:other", &[b"a"], true));
        assert!(matches!(outcome, Outcome::Failed(ref e) if e.contains("protobuf:other")));
        assert!(frames.is_empty());
        let (outcome, _) = collect(b"garbage garbage".to_vec());
        assert!(matches!(outcome, Outcome::Failed(_)));
        let (outcome, _) = collect(Vec::new());
        assert!(matches!(outcome, Outcome::Failed(_)));
    }

    #[test]
    fn follow_reads_what_is_appended_and_stops_on_the_flag() {
        let path = std::env::temp_dir().join(format!("dnstap-kit-follow-{}", std::process::id()));
        let mut writer = File::create(&path).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let mut follow = Follow::new(File::open(&path).unwrap(), Arc::clone(&stop));
        writer.write_all(b"abc").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(follow.read(&mut buf).unwrap(), 3);
        let appender = thread::spawn(move || {
            thread::sleep(Duration::from_millis(300));
            writer.write_all(b"de").unwrap();
            writer
        });
        assert_eq!(follow.read(&mut buf).unwrap(), 2, "waits for more");
        let mut writer = appender.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        assert_eq!(follow.read(&mut buf).unwrap(), 0, "ends once stopped");
        // A file cut shorter than what was read is an error, not a wait.
        stop.store(false, Ordering::Relaxed);
        writer.set_len(1).unwrap();
        writer.rewind().unwrap();
        assert!(follow.read(&mut buf).is_err());
        let _ = std::fs::remove_file(&path);
    }
}
