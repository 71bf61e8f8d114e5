//! Helpers shared by the tests of both crates (libdnstap's `tests/`,
//! dnstap-kit's unit tests and `cli/tests/`).
//!
//! - [`env`](mod@env): temporary directories, bounded waits, outside tools.
//! - [`library`]: numbered messages through a [`dnstap::Logger`] and back.
//! - [`wire`]: DNS messages and protobuf fields built byte by byte.
//! - [`tls`]: throw-away CAs and certificates, and TLS collector settings.

pub mod env;
pub mod library;
pub mod tls;
pub mod wire;

pub use env::*;
pub use library::*;
