//! Where captured frames go: one Frame Streams stream, START when a file
//! is opened and STOP when it is closed, so every file is complete.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dnstap::framestream::{
    ControlType, DNSTAP_CONTENT_TYPE, StreamFile, control_frame, encode_data,
};

use super::log::log;

/// Longest time a captured frame waits in memory before it is written.
const FLUSH_INTERVAL: Duration = Duration::from_millis(200);
/// Pending bytes that are written at once.
const FLUSH_BYTES: usize = 256 * 1024;

/// Where captured frames go: a file (rotated) or standard output.
enum Sink {
    File {
        file: StreamFile,
        opened: Instant,
        rotations: u64,
    },
    Stdout(io::Stdout),
}

/// The output file (`-w FILE`; `-` is standard output): whole frames
/// from every peer, flushed in large writes, split by size or age.
pub struct CaptureFile {
    sink: Sink,
    /// Whole frames not yet written.
    pending: Vec<u8>,
    last_flush: Instant,
    split_size: Option<u64>,
    split_interval: Option<Duration>,
    /// Data frames taken, and their bytes (length words included).
    frames: u64,
    bytes: u64,
}

impl CaptureFile {
    /// Opens `path` and writes START; `split_size` and `split_interval`
    /// start a new file (see [`CaptureFile::tick`]).
    pub fn open(
        path: &Path,
        split_size: Option<u64>,
        split_interval: Option<Duration>,
    ) -> io::Result<CaptureFile> {
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
        Ok(CaptureFile {
            sink,
            pending: Vec::with_capacity(FLUSH_BYTES),
            last_flush: Instant::now(),
            split_size,
            split_interval,
            frames: 0,
            bytes: 0,
        })
    }

    /// Appends one data frame holding `payload`.
    pub fn push(&mut self, payload: &[u8]) -> io::Result<()> {
        encode_data(payload, &mut self.pending);
        self.frames += 1;
        self.bytes += 4 + payload.len() as u64;
        if self.pending.len() >= FLUSH_BYTES {
            self.flush()
        } else {
            Ok(())
        }
    }

    /// Data frames taken so far, and their bytes.
    pub fn taken(&self) -> (u64, u64) {
        (self.frames, self.bytes)
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
    pub fn tick(&mut self) -> io::Result<()> {
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
    pub fn reopen(&mut self) -> io::Result<()> {
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

    pub fn finish(mut self) -> io::Result<()> {
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
