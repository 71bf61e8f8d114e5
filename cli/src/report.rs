//! Messages to the user on stderr.

/// `eprintln!` that loses the line when stderr cannot be written (a full
/// disk, a closed pipe) instead of panicking: the exit code still tells.
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}
pub(crate) use report;
