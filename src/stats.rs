//! Counters of one logger.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of a logger's counters.
///
/// Every offered message is `accepted`, `dropped` (queue full) or
/// `sampled_out`; every accepted message ends up `written` (handed to the
/// sink) or `lost` (sink down at shutdown, write error, shutdown timeout);
/// after shutdown `accepted == written + lost` exactly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub accepted: u64,
    pub dropped: u64,
    pub sampled_out: u64,
    pub written: u64,
    pub lost: u64,
    /// Bytes of data frames written, length words included.
    pub bytes: u64,
    /// Connections (or files) opened again after the first.
    pub reconnects: u64,
    /// Attempts to connect to a collector that failed: connect, TLS
    /// handshake (certificate, name, plaintext peer) or READY/ACCEPT.
    pub failed_connects: u64,
}

/// The writer thread's counters (one writer: plain relaxed atomics).
#[derive(Default)]
pub(crate) struct WriterCounters {
    pub written: AtomicU64,
    pub lost: AtomicU64,
    pub bytes: AtomicU64,
    pub reconnects: AtomicU64,
    pub failed_connects: AtomicU64,
}

impl WriterCounters {
    pub fn add_written(&self, frames: u64, bytes: u64) {
        self.written.fetch_add(frames, Relaxed);
        self.bytes.fetch_add(bytes, Relaxed);
    }

    pub fn add_lost(&self, frames: u64) {
        self.lost.fetch_add(frames, Relaxed);
    }

    pub fn add_reconnect(&self) {
        self.reconnects.fetch_add(1, Relaxed);
    }

    pub fn add_failed_connect(&self) {
        self.failed_connects.fetch_add(1, Relaxed);
    }
}
