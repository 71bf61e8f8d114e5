//! Settings of one logger.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::error::Error;
use crate::log::LogFn;
use crate::record::MAX_IDENTITY;
use crate::sink::SinkSpec;
use crate::tls::{TlsOptions, Verify, parse_server_name};

pub const DEFAULT_QUEUE_CAPACITY: u32 = 16 * 1024;
pub const MAX_QUEUE_CAPACITY: u32 = 1 << 24;
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(1000);
pub const DEFAULT_RECONNECT_MAX: Duration = Duration::from_millis(1000);
/// Upper bound of the timer settings: ten minutes, like libfstrm's.
pub const MAX_INTERVAL_MS: u32 = 600_000;
/// First reconnect delay; doubles up to `reconnect_max`.
pub const RECONNECT_MIN: Duration = Duration::from_millis(10);

#[derive(Clone)]
pub struct Options {
    pub(crate) sink: Option<SinkSpec>,
    pub(crate) identity: Vec<u8>,
    pub(crate) version: Vec<u8>,
    pub(crate) queue_capacity: u32,
    pub(crate) flush_interval: Duration,
    pub(crate) reconnect_max: Duration,
    pub(crate) sample_rate: u32,
    pub(crate) bidirectional: bool,
    pub(crate) log: Option<LogFn>,
    pub(crate) tls: TlsOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sink: None,
            identity: Vec::new(),
            version: Vec::new(),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            reconnect_max: DEFAULT_RECONNECT_MAX,
            sample_rate: 1,
            bidirectional: true,
            log: None,
            tls: TlsOptions::default(),
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("sink", &self.sink)
            .field("identity", &String::from_utf8_lossy(&self.identity))
            .field("version", &String::from_utf8_lossy(&self.version))
            .field("queue_capacity", &self.queue_capacity)
            .field("flush_interval", &self.flush_interval)
            .field("reconnect_max", &self.reconnect_max)
            .field("sample_rate", &self.sample_rate)
            .field("bidirectional", &self.bidirectional)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

fn interval(name: &str, ms: u32, min: u32) -> Result<Duration, Error> {
    if !(min..=MAX_INTERVAL_MS).contains(&ms) {
        return Err(Error::invalid(format!(
            "{name} {ms} ms is not in {min}..{MAX_INTERVAL_MS}"
        )));
    }
    Ok(Duration::from_millis(ms.into()))
}

fn identity_string(name: &str, value: &[u8]) -> Result<Vec<u8>, Error> {
    if value.len() > MAX_IDENTITY {
        return Err(Error::invalid(format!(
            "{name} is {} bytes; at most {MAX_IDENTITY}",
            value.len()
        )));
    }
    Ok(value.to_vec())
}

impl Options {
    pub fn new() -> Self {
        Self::default()
    }

    /// Where to write: see [`SinkSpec`].
    pub fn set_sink(&mut self, spec: &str) -> Result<(), Error> {
        self.sink = Some(spec.parse()?);
        Ok(())
    }

    /// `Dnstap.identity` of every record; empty = not sent.
    pub fn set_identity(&mut self, identity: &[u8]) -> Result<(), Error> {
        self.identity = identity_string("identity", identity)?;
        Ok(())
    }

    /// `Dnstap.version` of every record; empty = not sent.
    pub fn set_version(&mut self, version: &[u8]) -> Result<(), Error> {
        self.version = identity_string("version", version)?;
        Ok(())
    }

    /// Messages the queue holds before it drops.
    pub fn set_queue_capacity(&mut self, messages: u32) -> Result<(), Error> {
        if !(1..=MAX_QUEUE_CAPACITY).contains(&messages) {
            return Err(Error::invalid(format!(
                "queue capacity {messages} is not in 1..{MAX_QUEUE_CAPACITY}"
            )));
        }
        self.queue_capacity = messages;
        Ok(())
    }

    /// Longest time a queued message waits before it is written.
    pub fn set_flush_interval_ms(&mut self, ms: u32) -> Result<(), Error> {
        self.flush_interval = interval("flush interval", ms, 1)?;
        Ok(())
    }

    /// Cap of the reconnect backoff (which starts at 10 ms and doubles).
    pub fn set_reconnect_max_ms(&mut self, ms: u32) -> Result<(), Error> {
        self.reconnect_max = interval("reconnect maximum", ms, RECONNECT_MIN.as_millis() as u32)?;
        Ok(())
    }

    /// Log 1 message in `n`; 0 and 1 log every message (Unbound's meaning of 0).
    pub fn set_sample_rate(&mut self, n: u32) -> Result<(), Error> {
        self.sample_rate = n.max(1);
        Ok(())
    }

    /// Socket sinks: READY/ACCEPT/FINISH handshake (default) or START only.
    pub fn set_bidirectional(&mut self, bidirectional: bool) {
        self.bidirectional = bidirectional;
    }

    /// Where log lines go; the default writes them to stderr.
    pub fn set_log(&mut self, log: LogFn) {
        self.log = Some(log);
    }

    /// `tls:` sinks: the name the collector's certificate must be valid for,
    /// a DNS name or an IP address, also sent as SNI (a DNS name only);
    /// None: the sink's address, as an IP address.
    pub fn set_tls_server_name(&mut self, name: Option<&str>) -> Result<(), Error> {
        self.tls.server_name = name.map(parse_server_name).transpose()?;
        Ok(())
    }

    /// `tls:` sinks: the CAs to trust, a PEM file read by [`crate::Logger::new`];
    /// None: the system's roots.
    pub fn set_tls_ca_file(&mut self, path: Option<&Path>) {
        self.tls.ca_file = path.map(Path::to_path_buf);
    }

    /// `tls:` sinks: whether the system's roots are trusted, besides the CA
    /// file (by default: only when no CA file is set).
    pub fn set_tls_system_roots(&mut self, trusted: bool) {
        self.tls.system_roots = Some(trusted);
    }

    /// `tls:` sinks: the client certificate chain and its key (PEM files,
    /// read by [`crate::Logger::new`]) for collectors that require one; None: none.
    pub fn set_tls_client_cert(&mut self, files: Option<(&Path, &Path)>) {
        self.tls.client_cert = files.map(|(cert, key)| (cert.to_path_buf(), key.to_path_buf()));
    }

    /// `tls:` sinks: how the collector's certificate is checked (default
    /// [`Verify::Full`]; [`Verify::None`] does not authenticate the collector).
    pub fn set_tls_verify(&mut self, verify: Verify) {
        self.tls.verify = verify;
    }

    /// `tls:` sinks: send the server name (SNI) in the handshake (default yes).
    pub fn set_tls_sni(&mut self, sni: bool) {
        self.tls.sni = sni;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_reject_out_of_range_values_and_keep_the_old_one() {
        let mut options = Options::new();
        assert!(options.set_queue_capacity(0).is_err());
        assert!(options.set_queue_capacity(MAX_QUEUE_CAPACITY + 1).is_err());
        assert!(options.set_flush_interval_ms(0).is_err());
        assert!(options.set_reconnect_max_ms(9).is_err());
        assert!(options.set_reconnect_max_ms(MAX_INTERVAL_MS + 1).is_err());
        assert!(options.set_identity(&[b'x'; MAX_IDENTITY + 1]).is_err());
        assert!(options.set_sink("tcp:nowhere@1").is_err());
        assert_eq!(options.queue_capacity, DEFAULT_QUEUE_CAPACITY);
        assert_eq!(options.flush_interval, DEFAULT_FLUSH_INTERVAL);
        assert_eq!(options.reconnect_max, DEFAULT_RECONNECT_MAX);
        assert!(options.identity.is_empty() && options.sink.is_none());
    }

    #[test]
    fn sample_rate_zero_means_every_message() {
        let mut options = Options::new();
        options.set_sample_rate(0).unwrap();
        assert_eq!(options.sample_rate, 1);
        options.set_sample_rate(100).unwrap();
        assert_eq!(options.sample_rate, 100);
    }
}
