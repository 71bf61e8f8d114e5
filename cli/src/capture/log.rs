//! The capture's log lines, on stderr.

use crate::report::report;

pub fn log(line: &str) {
    report!("dnstap-kit capture: {line}");
}
