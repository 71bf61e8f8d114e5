//! The counters line of an export, printed to stderr every
//! `--stats-interval` by a thread of its own.

use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::report::report;

/// Prints `line()` every `secs` seconds (none if 0) until the returned
/// sender is dropped; join the handle then.
pub fn report_every(
    secs: u64,
    line: impl Fn() -> String + Send + 'static,
) -> (mpsc::Sender<()>, Option<JoinHandle<()>>) {
    let (done, wait) = mpsc::channel::<()>();
    let reporting = (secs > 0).then(|| {
        let every = Duration::from_secs(secs);
        thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(every) {
                report!("dnstap-kit export: {}", line());
            }
        })
    });
    (done, reporting)
}
