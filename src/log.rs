//! The library's own log lines (a sink down, messages lost, the summary
//! at shutdown): their severity, and where they go.

use std::io::Write;
use std::sync::Arc;

/// Severity of a log line. Ordered from the most severe; the C API gives
/// them syslog's numbers (`DNSTAP_LOG_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error,
    Warning,
    Info,
}

/// Receives the library's log lines (from the writer thread, and from
/// [`Logger::new`](crate::Logger::new) and the logger's shutdown on the
/// caller's thread).
pub type LogFn = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

/// Writes one log line to the configured callback or to stderr. A stderr
/// that cannot be written (a full disk, a closed pipe) loses the line:
/// `eprintln!` would panic and end the writer thread.
pub(crate) fn log_line(log: &Option<LogFn>, level: LogLevel, message: &str) {
    match log {
        Some(callback) => callback(level, message),
        None => {
            let _ = writeln!(std::io::stderr().lock(), "libdnstap: {message}");
        }
    }
}
