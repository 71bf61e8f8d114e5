//! Frames from the inputs on a thread of their own, for the commands that
//! batch them into a store (`pdns ingest`, `export clickhouse`): reading
//! runs ahead while a batch is being written, and the command's loop wakes
//! up regularly even when no frame comes, to close a batch by age, print
//! its counters and see SIGINT/SIGTERM.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use crate::exit;
use crate::input::{self, Outcome};
use crate::report::report;

/// The inputs of a batching command.
#[derive(clap::Args)]
pub struct Inputs {
    /// Frame Streams files; `-` or none reads standard input.
    pub files: Vec<PathBuf>,
    /// Keep reading files as they grow, until their STOP frame (or interrupt).
    #[arg(long)]
    pub follow: bool,
    /// Largest data frame accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = input::DEFAULT_MAX_FRAME)]
    pub max_frame: usize,
}

/// What the reading thread hands over.
enum Read {
    Frame(Vec<u8>),
    /// An input could not be opened or broke (FAILURE).
    Failed,
    /// An input ended without STOP (TRUNCATED).
    Unterminated,
}

/// What [`Feed::next`] gives.
pub enum Next {
    Frame(Vec<u8>),
    /// Nothing came within the wait.
    Idle,
    /// Every input is read, or a signal asked to stop.
    End,
}

/// The frames of every input, in order, read on a thread.
pub struct Feed {
    frames: mpsc::Receiver<Read>,
    stop: Arc<AtomicBool>,
    failed: bool,
    truncated: bool,
}

/// Frames the reading thread may run ahead: a few batches' worth.
const AHEAD: usize = 4096;

impl Feed {
    /// Installs the SIGINT/SIGTERM handlers and starts reading.
    pub fn start(args: &Inputs) -> Result<Feed, String> {
        let stop =
            input::stop_on_signals().map_err(|err| format!("cannot handle signals: {err}"))?;
        let files = if args.files.is_empty() {
            vec![PathBuf::from("-")]
        } else {
            args.files.clone()
        };
        let (sender, frames) = mpsc::sync_channel(AHEAD);
        let follow = args.follow.then(|| Arc::clone(&stop));
        let max_frame = args.max_frame;
        // Not joined: on a signal, this thread may be blocked reading
        // standard input; the process ends without it.
        thread::spawn(move || read_inputs(files, follow, max_frame, sender));
        Ok(Feed {
            frames,
            stop,
            failed: false,
            truncated: false,
        })
    }

    /// The next frame, waiting at most `wait`.
    pub fn next(&mut self, wait: Duration) -> Next {
        loop {
            if self.stopping() {
                return Next::End;
            }
            match self.frames.recv_timeout(wait) {
                Ok(Read::Frame(payload)) => return Next::Frame(payload),
                Ok(Read::Failed) => self.failed = true,
                Ok(Read::Unterminated) => self.truncated = true,
                Err(RecvTimeoutError::Timeout) => return Next::Idle,
                Err(RecvTimeoutError::Disconnected) => return Next::End,
            }
        }
    }

    /// Whether a signal asked to stop.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The exit code the inputs call for (FAILURE, TRUNCATED or OK).
    pub fn exit_code(&self) -> u8 {
        exit::after_inputs(self.failed, self.truncated)
    }
}

/// Reads every input in turn, frame by frame, into `sender`.
fn read_inputs(
    files: Vec<PathBuf>,
    follow: Option<Arc<AtomicBool>>,
    max_frame: usize,
    sender: mpsc::SyncSender<Read>,
) {
    for path in &files {
        let Some(mut input) = input::open_or_report(path, follow.as_ref()) else {
            let _ = sender.send(Read::Failed);
            continue;
        };
        let (outcome, frames) = input::for_each_frame(&mut input, max_frame, |_, payload| {
            sender.send(Read::Frame(payload.to_vec())).map_err(drop)
        });
        let name = &input.name;
        match &outcome {
            Outcome::Abandoned => return,
            Outcome::Failed(err) => {
                report!("dnstap-kit: {name}: {err}");
                let _ = sender.send(Read::Failed);
            }
            other => {
                if let Some(warning) = other.warning(frames) {
                    report!("dnstap-kit: {name}: warning: {warning}");
                    let _ = sender.send(Read::Unterminated);
                }
            }
        }
    }
}
