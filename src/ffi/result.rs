//! The C API's result codes, and their text.

#![allow(non_camel_case_types, clippy::upper_case_acronyms)]

use std::ffi::c_int;

use crate::error::Error;

/// Result codes of the C API, returned as `int`.
///
/// The numbers are part of the ABI: never renumber, never reuse a retired
/// one. Zero and positive values mean the call did its job (a drop and a
/// sampling skip are outcomes, not errors); negative values are errors, and
/// nothing was queued or changed.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum dnstap_result {
    /// Success; for `dnstap_log_message`: the message was queued.
    DNSTAP_OK = 0,
    /// The queue was full: the message was dropped and counted in `dropped`.
    DNSTAP_DROPPED = 1,
    /// The message was skipped by sampling and counted in `sampled_out`.
    DNSTAP_SAMPLED_OUT = 2,
    /// An argument is out of range or malformed (enum value, sink spec, …).
    DNSTAP_E_INVAL = -1,
    /// A required pointer is NULL, or a NULL buffer was given a non-zero length.
    DNSTAP_E_NULL = -2,
    /// The `size` field of a struct is smaller than its first published layout.
    DNSTAP_E_SIZE = -3,
    /// The message would not fit in one dnstap frame (`DNSTAP_MAX_FRAME_SIZE`).
    DNSTAP_E_TOO_BIG = -4,
    /// Memory allocation failed.
    DNSTAP_E_NOMEM = -5,
    /// The sink could not be opened (file sinks are opened by `dnstap_init`).
    DNSTAP_E_IO = -6,
    /// The writer thread could not be started.
    DNSTAP_E_THREAD = -7,
    /// An internal error was caught at the API boundary; the call did nothing.
    DNSTAP_E_INTERNAL = -8,
    /// A `tls:` sink's CA file, client certificate or key cannot be read or
    /// is invalid (`dnstap_init` reads them); nothing was started.
    DNSTAP_E_TLS = -9,
}

impl From<&Error> for dnstap_result {
    fn from(err: &Error) -> dnstap_result {
        match err {
            Error::Invalid(_) => dnstap_result::DNSTAP_E_INVAL,
            Error::Null(_) => dnstap_result::DNSTAP_E_NULL,
            Error::Size { .. } => dnstap_result::DNSTAP_E_SIZE,
            Error::TooBig(_) => dnstap_result::DNSTAP_E_TOO_BIG,
            Error::NoMemory => dnstap_result::DNSTAP_E_NOMEM,
            Error::Io(_) => dnstap_result::DNSTAP_E_IO,
            Error::Thread(_) => dnstap_result::DNSTAP_E_THREAD,
            Error::Tls(_) => dnstap_result::DNSTAP_E_TLS,
        }
    }
}

/// The code an error returns as.
pub fn code(err: &Error) -> c_int {
    dnstap_result::from(err) as c_int
}

/// Text for a result code, as `dnstap_strerror` returns it (NUL-terminated).
pub fn describe(code: i32) -> &'static str {
    use dnstap_result::*;
    const DESCRIPTIONS: [(dnstap_result, &str); 12] = [
        (DNSTAP_OK, "success\0"),
        (DNSTAP_DROPPED, "dropped: the queue is full\0"),
        (DNSTAP_SAMPLED_OUT, "skipped by sampling\0"),
        (DNSTAP_E_INVAL, "invalid argument\0"),
        (DNSTAP_E_NULL, "NULL pointer\0"),
        (
            DNSTAP_E_SIZE,
            "struct size smaller than the first published layout\0",
        ),
        (DNSTAP_E_TOO_BIG, "message too big for one dnstap frame\0"),
        (DNSTAP_E_NOMEM, "out of memory\0"),
        (DNSTAP_E_IO, "cannot open the sink\0"),
        (DNSTAP_E_THREAD, "cannot start the writer thread\0"),
        (DNSTAP_E_INTERNAL, "internal error\0"),
        (DNSTAP_E_TLS, "unusable TLS certificate, key or CA file\0"),
    ];
    DESCRIPTIONS
        .iter()
        .find(|(result, _)| *result as i32 == code)
        .map_or("unknown result code\0", |(_, text)| text)
}
