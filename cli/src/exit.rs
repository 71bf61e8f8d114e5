//! Exit codes, documented in the README.

/// Everything read or captured.
pub const OK: u8 = 0;
/// An input or output could not be used.
pub const FAILURE: u8 = 1;
/// A stream ended without STOP, or in the middle of a frame: every
/// complete frame was processed.
pub const TRUNCATED: u8 = 3;
/// `check` found messages that do not conform.
pub const VIOLATIONS: u8 = 4;

/// The exit code of a command that read inputs: FAILURE if one could not
/// be used, else TRUNCATED if one ended early, else OK.
pub fn after_inputs(failed: bool, truncated: bool) -> u8 {
    if failed {
        FAILURE
    } else if truncated {
        TRUNCATED
    } else {
        OK
    }
}
