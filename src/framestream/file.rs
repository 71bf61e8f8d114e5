//! Writing a Frame Streams file (used by the library's file sink and by
//! `dnstap-kit capture`).

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::frame::{ControlType, DNSTAP_CONTENT_TYPE, control_frame};

/// A dnstap Frame Streams file being written: START when created, whole
/// data frames, STOP when finished. A failed write is cut back to the last
/// whole frame, so the file never holds a partial frame.
pub struct StreamFile {
    path: PathBuf,
    file: File,
    /// Length up to the last whole frame.
    good_len: u64,
    /// A failed write could not be cut back: the file must be abandoned.
    broken: bool,
}

impl StreamFile {
    /// Creates (or truncates) `path` and writes START.
    pub fn create(path: &Path) -> io::Result<StreamFile> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        let start = control_frame(ControlType::Start, &[DNSTAP_CONTENT_TYPE]);
        file.write_all(&start)?;
        Ok(StreamFile {
            path: path.to_path_buf(),
            file,
            good_len: start.len() as u64,
            broken: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written so far (whole frames only).
    pub fn size(&self) -> u64 {
        self.good_len
    }

    /// Whether a failed write left the file unusable.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Appends `frames`, which must hold whole frames; on an error (a full
    /// disk, say) nothing of them stays in the file and a later append may
    /// succeed.
    pub fn append(&mut self, frames: &[u8]) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other(
                "the file was abandoned after a failed write",
            ));
        }
        match self.file.write_all(frames) {
            Ok(()) => {
                self.good_len += frames.len() as u64;
                Ok(())
            }
            Err(err) => {
                let good_len = self.good_len;
                let cut = self
                    .file
                    .set_len(good_len)
                    .and_then(|()| self.file.seek(SeekFrom::Start(good_len)));
                self.broken = cut.is_err();
                Err(err)
            }
        }
    }

    /// Whether `path` still names this file (false once logrotate renamed
    /// or removed it).
    pub fn is_at_path(&self) -> bool {
        match (self.file.metadata(), std::fs::metadata(&self.path)) {
            (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
            _ => false,
        }
    }

    /// Writes STOP and closes the file.
    pub fn finish(mut self) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other(
                "the file was abandoned after a failed write",
            ));
        }
        self.file.write_all(&control_frame(ControlType::Stop, &[]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framestream::{FrameReader, StreamEnd, encode_data};

    #[test]
    fn a_finished_file_is_a_complete_stream() {
        let path = std::env::temp_dir().join(format!("dnstap-streamfile-{}", std::process::id()));
        let mut file = StreamFile::create(&path).unwrap();
        let mut frames = Vec::new();
        for payload in [&b"one"[..], b"two"] {
            encode_data(payload, &mut frames);
        }
        file.append(&frames).unwrap();
        assert_eq!(file.size(), 42 + 14);
        assert!(file.is_at_path());
        file.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let mut reader = FrameReader::new(&bytes[..], 1024);
        assert_eq!(reader.next_data().unwrap(), Some(&b"one"[..]));
        assert_eq!(reader.next_data().unwrap(), Some(&b"two"[..]));
        assert_eq!(reader.next_data().unwrap(), None);
        assert_eq!(reader.end(), Some(&StreamEnd::Stopped));
        std::fs::remove_file(&path).unwrap();
    }
}
