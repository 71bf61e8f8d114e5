//! Frames from the inputs on a thread of their own, for the commands that
//! batch them into a store (`pdns ingest`, `export`): reading runs ahead
//! while a batch is being written, and the command's loop wakes up
//! regularly even when no frame comes, to close a batch by age, print its
//! counters and see SIGINT/SIGTERM.
//!
//! An input may be a log (`kafka://…`, `nats://…`): its frames carry a
//! [`Mark`], and the command hands the mark of the last frame it has
//! processed to a [`Committer`]; the reading thread commits it to the log
//! (it owns the consumers), also after the inputs are read, until
//! [`Feed::finish`].

use std::mem;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use crate::exit;
use crate::input::{self, Outcome};
use crate::log::{LogUrl, Position};
use crate::log_input::{self, End, LogInput};
use crate::report::report;

/// The inputs of a batching command.
#[derive(clap::Args)]
pub struct Inputs {
    /// Frame Streams files (`-` or none reads standard input), or logs:
    /// `kafka://ADDR:PORT[,…]/TOPIC`, `nats://ADDR:PORT[,…]/STREAM`.
    pub files: Vec<PathBuf>,
    /// Keep reading files as they grow, until their STOP frame, and logs
    /// as records come (or interrupt); without it a log is read until it
    /// has had no new record for 1 s.
    #[arg(long)]
    pub follow: bool,
    /// Largest data frame accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = input::DEFAULT_MAX_FRAME)]
    pub max_frame: usize,
    /// The name a log input's position is kept under (Kafka consumer
    /// group, JetStream durable consumer); default `dnstap-kit-<command>`.
    #[arg(long, value_name = "NAME")]
    pub consumer: Option<String>,
}

/// Where a frame read from a log came from: the command commits it once
/// the frame is processed.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    /// The input's index.
    input: usize,
    /// The consumer's number of the record.
    seq: u64,
    pub position: Position,
}

/// A frame, and its mark if it came from a log.
pub struct Frame {
    pub payload: Vec<u8>,
    pub mark: Option<Mark>,
}

/// Hands marks to the reading thread, from any thread.
#[derive(Clone)]
pub struct Committer(mpsc::Sender<Mark>);

impl Committer {
    /// Every frame of the mark's input up to the mark is processed.
    pub fn commit(&self, mark: Mark) {
        // The reading thread ended only if the feed finished.
        let _ = self.0.send(mark);
    }
}

/// What the reading thread hands over.
enum Read {
    Frame(Frame),
    /// An input could not be opened or broke (FAILURE).
    Failed,
    /// An input ended without STOP (TRUNCATED).
    Unterminated,
    /// Every input is read.
    End,
}

/// What [`Feed::next`] gives.
pub enum Next {
    Frame(Frame),
    /// Nothing came within the wait.
    Idle,
    /// Every input is read, or a signal asked to stop.
    End,
}

/// An input named on the command line.
enum Source {
    File(PathBuf),
    Log(LogUrl),
}

/// The frames of every input, in order, read on a thread.
pub struct Feed {
    frames: mpsc::Receiver<Read>,
    commits: Option<mpsc::Sender<Mark>>,
    /// Signalled by the reading thread once its last commit is done.
    done: mpsc::Receiver<()>,
    /// The position key of each input that is a log.
    logs: Vec<Option<String>>,
    stop: Arc<AtomicBool>,
    failed: bool,
    truncated: bool,
}

/// How long [`Feed::finish`] waits for the last commits.
const FINISH: Duration = Duration::from_secs(10);

/// Frames the reading thread may run ahead: a few batches' worth.
const AHEAD: usize = 4096;

impl Feed {
    /// Installs the SIGINT/SIGTERM handlers and starts reading; `command`
    /// names the default consumer (`dnstap-kit-<command>`).
    pub fn start(args: &Inputs, command: &str) -> Result<Feed, String> {
        let sources = sources(&args.files)?;
        let stop =
            input::stop_on_signals().map_err(|err| format!("cannot handle signals: {err}"))?;
        let logs = sources
            .iter()
            .map(|source| match source {
                Source::Log(url) => Some(url.position_key()),
                Source::File(_) => None,
            })
            .collect();
        let (sender, frames) = mpsc::sync_channel(AHEAD);
        let (commits, committed) = mpsc::channel();
        let (done_sender, done) = mpsc::channel();
        let reader = Reader {
            follow: args.follow.then(|| Arc::clone(&stop)),
            max_frame: args.max_frame,
            consumer: log_input::consumer_name(args.consumer.as_deref(), command),
            sender,
        };
        // Not joined: on a signal, this thread may be blocked reading
        // standard input; the process ends without it.
        thread::spawn(move || {
            reader.read(sources, committed);
            let _ = done_sender.send(());
        });
        Ok(Feed {
            frames,
            commits: Some(commits),
            done,
            logs,
            stop,
            failed: false,
            truncated: false,
        })
    }

    pub fn committer(&self) -> Committer {
        Committer(self.commits.clone().expect("not finished"))
    }

    /// The position key of the log a mark's frame came from.
    pub fn log_of(&self, mark: &Mark) -> &str {
        self.logs[mark.input].as_deref().unwrap_or_default()
    }

    /// The command's exit code: FAILURE if it `failed`, else the one the
    /// inputs call for. First waits for the commits handed over to be
    /// done (a while at most) when an input is a log; every [`Committer`]
    /// must be dropped before.
    pub fn finish(mut self, failed: bool) -> u8 {
        self.commits = None;
        // A reader stopped by a signal may wait on a full channel: closing
        // it lets the reader go on to the commits (and a log consumer to
        // leave its group); the frames it held are not committed.
        drop(mem::replace(&mut self.frames, mpsc::sync_channel(0).1));
        if self.logs.iter().any(Option::is_some) {
            let _ = self.done.recv_timeout(FINISH);
        }
        if failed {
            exit::FAILURE
        } else {
            exit::after_inputs(self.failed, self.truncated)
        }
    }

    /// The next frame, waiting at most `wait`.
    pub fn next(&mut self, wait: Duration) -> Next {
        loop {
            if self.stopping() {
                return Next::End;
            }
            match self.frames.recv_timeout(wait) {
                Ok(Read::Frame(frame)) => return Next::Frame(frame),
                Ok(Read::Failed) => self.failed = true,
                Ok(Read::Unterminated) => self.truncated = true,
                Err(RecvTimeoutError::Timeout) => return Next::Idle,
                Ok(Read::End) | Err(RecvTimeoutError::Disconnected) => return Next::End,
            }
        }
    }

    /// Whether a signal asked to stop.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// Each input name: a log if it is a log URL, else a file.
fn sources(files: &[PathBuf]) -> Result<Vec<Source>, String> {
    if files.is_empty() {
        return Ok(vec![Source::File(PathBuf::from("-"))]);
    }
    files
        .iter()
        .map(|path| match path.to_str().and_then(LogUrl::parse) {
            Some(url) => url.map(Source::Log),
            None => Ok(Source::File(path.clone())),
        })
        .collect()
}

/// The reading thread.
struct Reader {
    follow: Option<Arc<AtomicBool>>,
    max_frame: usize,
    consumer: String,
    sender: mpsc::SyncSender<Read>,
}

impl Reader {
    /// Reads every input in turn, then commits what the command says it
    /// processed until the feed finishes.
    fn read(self, sources: Vec<Source>, committed: mpsc::Receiver<Mark>) {
        let mut logs: Vec<Option<LogInput>> = Vec::new();
        for (index, source) in sources.into_iter().enumerate() {
            let log = match source {
                Source::File(path) => {
                    if !self.read_file(&path) {
                        return;
                    }
                    None
                }
                Source::Log(url) => self.read_log(index, url, &mut logs, &committed),
            };
            logs.push(log);
        }
        let _ = self.sender.send(Read::End);
        for mark in committed {
            commit(&mut logs, mark);
        }
    }

    /// Reads a file; false if the command is gone.
    fn read_file(&self, path: &Path) -> bool {
        let Some(mut input) = input::open_or_report(path, self.follow.as_ref()) else {
            return self.sender.send(Read::Failed).is_ok();
        };
        let (outcome, frames) = input::for_each_frame(&mut input, self.max_frame, |_, payload| {
            let frame = Frame {
                payload: payload.to_vec(),
                mark: None,
            };
            self.sender.send(Read::Frame(frame)).map_err(drop)
        });
        let name = &input.name;
        match &outcome {
            Outcome::Abandoned => return false,
            Outcome::Failed(err) => {
                report!("dnstap-kit: {name}: {err}");
                let _ = self.sender.send(Read::Failed);
            }
            other => {
                if let Some(warning) = other.warning(frames) {
                    report!("dnstap-kit: {name}: warning: {warning}");
                    let _ = self.sender.send(Read::Unterminated);
                }
            }
        }
        true
    }

    /// Reads a log to its end, committing meanwhile; returns it, to
    /// commit to later.
    fn read_log(
        &self,
        index: usize,
        url: LogUrl,
        logs: &mut [Option<LogInput>],
        committed: &mpsc::Receiver<Mark>,
    ) -> Option<LogInput> {
        let name = url.position_key();
        let mut log = match LogInput::open(url, &self.consumer, self.follow.clone()) {
            Ok(log) => log,
            Err(err) => {
                report!("dnstap-kit: {name}: {err}");
                let _ = self.sender.send(Read::Failed);
                return None;
            }
        };
        loop {
            for mark in committed.try_iter() {
                if mark.input == index {
                    log.commit(mark.seq);
                } else {
                    commit(logs, mark);
                }
            }
            let records = match log.next() {
                Ok(records) => records,
                Err(End::Read) => return Some(log),
                Err(End::Failed) => {
                    let _ = self.sender.send(Read::Failed);
                    return Some(log);
                }
            };
            for record in records {
                let frame = Frame {
                    payload: record.value,
                    mark: Some(Mark {
                        input: index,
                        seq: record.seq,
                        position: record.position,
                    }),
                };
                if self.sender.send(Read::Frame(frame)).is_err() {
                    return Some(log);
                }
            }
        }
    }
}

/// Commits a mark to the log it came from.
fn commit(logs: &mut [Option<LogInput>], mark: Mark) {
    if let Some(Some(log)) = logs.get_mut(mark.input) {
        log.commit(mark.seq);
    }
}
