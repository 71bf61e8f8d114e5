//! `dnstap-kit capture`: the collector side of Frame Streams.
//!
//! One thread, one `poll` loop: every connection has its own handshake
//! state and a buffer bounded by the largest frame allowed; whole data
//! frames from all connections are appended to one output stream, START
//! when a file is opened and STOP when it is closed, so every file is a
//! complete stream. A peer that breaks the protocol is closed with a log
//! line naming it; the others are not affected. With `--tls-cert` and
//! `--tls-key` a TCP listener speaks TLS (rustls), and the TLS handshake is
//! part of the handshake bounded by `--handshake-timeout`.

mod file;
mod listener;
mod log;
mod peer;
mod tls;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::exit;
use crate::input::stop_on_signals;
use file::CaptureFile;
use listener::Listener;
use log::log;
use peer::{End, Peer, Phase};

#[derive(clap::Args)]
pub struct Args {
    /// Listen on this unix socket (created with mode 0660, removed on exit).
    #[arg(
        long,
        value_name = "PATH",
        required_unless_present = "tcp",
        conflicts_with = "tcp"
    )]
    unix: Option<PathBuf>,
    /// Listen on TCP at ADDR@PORT, ADDR an IPv4 or IPv6 literal (e.g. 127.0.0.1@6000).
    #[arg(long, value_name = "ADDR@PORT")]
    tcp: Option<String>,
    /// Output Frame Streams file; `-` writes the stream to standard output.
    #[arg(short = 'w', value_name = "FILE", required = true)]
    write: PathBuf,
    /// Start a new file once this many bytes are written.
    #[arg(long, value_name = "BYTES")]
    split_size: Option<u64>,
    /// Start a new file every SECS seconds.
    #[arg(long, value_name = "SECS")]
    split_interval: Option<u64>,
    /// Largest data frame accepted; a peer sending a larger one is closed.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_frame: usize,
    /// Most connections at once; more are closed as they arrive.
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_connections: usize,
    /// Seconds between summary lines on stderr (0: only the final one).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    stats_interval: u64,
    /// Seconds a new connection has to complete READY/ACCEPT/START (and
    /// the TLS handshake before them).
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    handshake_timeout: u64,
    /// Make the --tcp listener a TLS listener with this certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires_all = ["tcp", "tls_key"])]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require a client certificate signed by a CA of this PEM file.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
}

/// Longest time spent at stop reading what the connections still hold.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);
const POLL_INTERVAL_MS: u16 = 100;

/// Connections counted for the summary lines.
#[derive(Default)]
struct Connections {
    accepted: u64,
    rejected: u64,
}

fn summary(connections: &Connections, open: usize, output: &CaptureFile) -> String {
    let (frames, bytes) = output.taken();
    format!(
        "{} connections ({open} open), {frames} frames, {bytes} bytes, {} rejected",
        connections.accepted, connections.rejected
    )
}

/// At stop: keeps what the servers already sent (it sits in the sockets'
/// buffers and they counted it as written), reading for at most
/// [`DRAIN_LIMIT`] without waiting for more.
fn drain(peers: &mut [Peer], output: &mut CaptureFile, max_frame: usize) {
    let deadline = Instant::now() + DRAIN_LIMIT;
    for peer in peers {
        while Instant::now() < deadline {
            let before = peer.received;
            if peer.on_readable(output, max_frame).is_some() || peer.received == before {
                break;
            }
        }
    }
}

/// Stop on SIGINT/SIGTERM (as `read --follow` does), reopen on SIGHUP.
fn register_signals() -> io::Result<(Arc<AtomicBool>, Arc<AtomicBool>)> {
    let stop = stop_on_signals()?;
    let reopen = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reopen))?;
    Ok((stop, reopen))
}

pub fn run(args: Args) -> u8 {
    match capture(&args) {
        Ok(()) => exit::OK,
        Err(err) => {
            log(&err.to_string());
            exit::FAILURE
        }
    }
}

fn capture(args: &Args) -> io::Result<()> {
    let (stop, reopen) = register_signals()?;
    let listener = match (&args.unix, &args.tcp) {
        (Some(path), _) => Listener::unix(path)?,
        (None, target) => {
            let tls = match (&args.tls_cert, &args.tls_key) {
                (Some(cert), Some(key)) => Some(tls::server_config(
                    cert,
                    key,
                    args.tls_client_ca.as_deref(),
                )?),
                _ => None,
            };
            Listener::tcp(target.as_deref().unwrap_or_default(), tls)?
        }
    };
    let mut output = CaptureFile::open(
        &args.write,
        args.split_size,
        args.split_interval.map(Duration::from_secs),
    )?;
    log(&format!(
        "listening on {}, writing {}",
        listener.describe(),
        args.write.display()
    ));
    let mut peers: Vec<Peer> = Vec::new();
    let mut connections = Connections::default();
    let mut next_id = 1;
    let mut last_summary = Instant::now();
    let handshake_timeout = Duration::from_secs(args.handshake_timeout);
    while !stop.load(Ordering::Relaxed) {
        let mut fds = vec![PollFd::new(listener.fd(), PollFlags::POLLIN)];
        fds.extend(
            peers
                .iter()
                .map(|p| PollFd::new(p.stream.fd(), PollFlags::POLLIN)),
        );
        match poll(&mut fds, PollTimeout::from(POLL_INTERVAL_MS)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(errno) => return Err(io::Error::from(errno)),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);

        let mut ended: Vec<(usize, End)> = Vec::new();
        for (index, peer) in peers.iter_mut().enumerate() {
            let end = if ready[index + 1] {
                peer.on_readable(&mut output, args.max_frame)
            } else if peer.phase != Phase::Data && peer.opened.elapsed() >= handshake_timeout {
                Some(End::Rejected(format!(
                    "no handshake within {} s",
                    args.handshake_timeout
                )))
            } else {
                None
            };
            if let Some(end) = end {
                ended.push((index, end));
            }
        }
        for (index, end) in ended.into_iter().rev() {
            let peer = peers.remove(index);
            let frames = peer.frames;
            match end {
                End::Finished => log(&format!("{}: finished, {frames} frames", peer.name())),
                End::Closed(why) => log(&format!("{}: {why}; {frames} frames", peer.name())),
                End::Rejected(why) => {
                    connections.rejected += 1;
                    log(&format!("{}: {why}; closed", peer.name()));
                }
            }
        }

        if ready[0] {
            while let Some((stream, address)) = listener.accept()? {
                let id = next_id;
                next_id += 1;
                connections.accepted += 1;
                if peers.len() >= args.max_connections {
                    connections.rejected += 1;
                    log(&format!(
                        "connection {id} ({address}): over --max-connections {}; closed",
                        args.max_connections
                    ));
                    continue;
                }
                if let Err(err) = stream.set_nonblocking() {
                    log(&format!("connection {id} ({address}): {err}; closed"));
                    continue;
                }
                peers.push(Peer::new(id, address, stream));
            }
        }

        if reopen.swap(false, Ordering::Relaxed) {
            output.reopen()?;
        }
        output.tick()?;
        if args.stats_interval > 0
            && last_summary.elapsed() >= Duration::from_secs(args.stats_interval)
        {
            log(&summary(&connections, peers.len(), &output));
            last_summary = Instant::now();
        }
    }
    drain(&mut peers, &mut output, args.max_frame);
    let stopped = summary(&connections, peers.len(), &output);
    output.finish()?;
    log(&format!("stopped: {stopped}"));
    Ok(())
}
