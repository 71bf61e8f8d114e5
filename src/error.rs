//! The library's errors, with the reason in words (the C API turns them
//! into result codes: `ffi::result`).

use std::fmt;

/// An error from the library, with the reason in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    Invalid(String),
    Null(&'static str),
    Size {
        given: u32,
        minimum: u32,
    },
    TooBig(String),
    NoMemory,
    Io(String),
    Thread(String),
    /// A `tls:` sink's certificate, key or CA file cannot be used.
    Tls(String),
}

impl Error {
    pub(crate) fn invalid(reason: impl Into<String>) -> Error {
        Error::Invalid(reason.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(reason) => write!(f, "invalid argument: {reason}"),
            Error::Null(what) => write!(f, "{what} is NULL"),
            Error::Size { given, minimum } => {
                write!(
                    f,
                    "struct size {given} is smaller than the first published layout ({minimum})"
                )
            }
            Error::TooBig(reason) => write!(f, "message too big: {reason}"),
            Error::NoMemory => write!(f, "out of memory"),
            Error::Io(reason) => write!(f, "{reason}"),
            Error::Thread(reason) => write!(f, "cannot start the writer thread: {reason}"),
            Error::Tls(reason) => write!(f, "TLS: {reason}"),
        }
    }
}

impl std::error::Error for Error {}
