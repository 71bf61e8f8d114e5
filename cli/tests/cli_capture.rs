//! `dnstap-kit capture` as a real process on loopback: fed by the library's
//! writer, by raw scripted peers (hostile or broken), rotating its output.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dnstap::framestream::{ControlType, DNSTAP_CONTENT_TYPE, control_frame, encode_data};
use dnstap::{Logger, Options};
use dnstap_testkit::tls::{Ca, PemFiles};
use dnstap_testkit::{LogLines, log_sequence, read_file, sequence, temp_dir, wait_until};

struct Capture {
    child: Option<Child>,
    stderr: PathBuf,
    sink: String,
}

impl Capture {
    /// Starts `dnstap-kit capture` listening on `listen` (`--unix PATH` or
    /// `--tcp ADDR@PORT`) with `extra` arguments; waits until it listens.
    fn start(dir: &Path, listen: &[&str], output: &Path, extra: &[&str]) -> Capture {
        let stderr = dir.join(format!("capture-{}.log", std::process::id()));
        let child = Command::new(env!("CARGO_BIN_EXE_dnstap-kit"))
            .arg("capture")
            .args(listen)
            .arg("-w")
            .arg(output)
            .args(["--stats-interval", "0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let sink = match listen {
            ["--unix", path] => format!("unix:{path}"),
            ["--tcp", target] if extra.contains(&"--tls-cert") => format!("tls:{target}"),
            ["--tcp", target] => format!("tcp:{target}"),
            _ => panic!("listen on --unix PATH or --tcp ADDR@PORT"),
        };
        let capture = Capture {
            child: Some(child),
            stderr,
            sink,
        };
        assert!(
            wait_until(Duration::from_secs(10), || capture
                .log()
                .contains("listening on")),
            "{}",
            capture.log()
        );
        capture
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn signal(&self, signal: i32) {
        let pid = self.child.as_ref().unwrap().id() as i32;
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    /// SIGTERM, then the exit status (bounded wait).
    fn stop(mut self) -> (i32, String) {
        self.signal(libc::SIGTERM);
        let mut child = self.child.take().unwrap();
        let mut status = None;
        assert!(wait_until(Duration::from_secs(10), || {
            status = child.try_wait().unwrap();
            status.is_some()
        }));
        (status.unwrap().code().unwrap_or(-1), self.log())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn writer_options(sink: &str) -> Options {
    let mut options = Options::new();
    options.set_sink(sink).unwrap();
    options.set_flush_interval_ms(20).unwrap();
    options
}

fn logger(sink: &str) -> Logger {
    let mut options = writer_options(sink);
    LogLines::default().attach(&mut options);
    Logger::new(&options).unwrap()
}

fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}

fn unix_listen(dir: &Path) -> String {
    dir.join("capture.sock").display().to_string()
}

#[test]
fn captures_a_unix_socket_writer_into_a_complete_file() {
    let dir = temp_dir("capture-unix");
    let socket = unix_listen(&dir);
    let output = dir.join("out.fs");
    let capture = Capture::start(&dir, &["--unix", &socket], &output, &[]);
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let writer = logger(&capture.sink);
    log_sequence(&writer, 0..5000);
    let stats = writer.shutdown();
    assert_eq!(stats.written, 5000);
    let (status, log) = capture.stop();
    assert_eq!(status, 0, "{log}");
    assert!(log.contains("finished, 5000 frames"), "{log}");
    assert!(
        log.contains("stopped: 1 connections (0 open), 5000 frames"),
        "{log}"
    );
    assert!(!Path::new(&socket).exists(), "socket removed on exit");
    let (frames, stopped) = read_file(&output);
    assert!(stopped);
    assert_eq!(
        frames.iter().map(|f| sequence(f)).collect::<Vec<_>>(),
        (0..5000).collect::<Vec<_>>()
    );
}

#[test]
fn captures_tcp_writers_at_once_into_one_stream() {
    let dir = temp_dir("capture-tcp");
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let output = dir.join("out.fs");
    let target = format!("127.0.0.1@{port}");
    let capture = Capture::start(&dir, &["--tcp", &target], &output, &[]);
    let writers: Vec<Logger> = (0..3).map(|_| logger(&capture.sink)).collect();
    for (i, writer) in writers.iter().enumerate() {
        log_sequence(writer, (i as u32 * 10_000)..(i as u32 * 10_000 + 2000));
    }
    let written: u64 = writers.into_iter().map(|w| w.shutdown().written).sum();
    assert_eq!(written, 6000);
    let (status, log) = capture.stop();
    assert_eq!(status, 0, "{log}");
    let (frames, stopped) = read_file(&output);
    assert!(stopped);
    let mut seen: Vec<u32> = frames.iter().map(|f| sequence(f)).collect();
    seen.sort_unstable();
    let expected: Vec<u32> = (0..3)
        .flat_map(|i| (i * 10_000)..(i * 10_000 + 2000))
        .collect();
    assert_eq!(seen, expected, "every frame of every writer, whole");
}

/// Connects a raw peer and returns it.
fn raw_peer(socket: &str) -> UnixStream {
    let stream = UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

fn data_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    encode_data(payload, &mut frame);
    frame
}

/// Reads until the peer closes; returns what was received.
fn read_to_close(stream: &mut UnixStream) -> Vec<u8> {
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    received
}

#[test]
fn hostile_and_broken_peers_are_closed_and_named_while_others_go_on() {
    let dir = temp_dir("capture-hostile");
    let socket = unix_listen(&dir);
    let output = dir.join("out.fs");
    let capture = Capture::start(
        &dir,
        &["--unix", &socket],
        &output,
        &["--max-frame", "1000"],
    );
    // A healthy writer before and after the bad ones.
    let writer = logger(&capture.sink);
    log_sequence(&writer, 0..100);

    // 1. Another content type: no ACCEPT, closed.
    let mut other = raw_peer(&socket);
    other
        .write_all(&control_frame(
            ControlType::Ready,
            &[b"protobuf:other.Type"],
        ))
        .unwrap();
    assert!(
        read_to_close(&mut other).is_empty(),
        "no ACCEPT for another content type"
    );

    // 2. Garbage.
    let mut garbage = raw_peer(&socket);
    garbage
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    read_to_close(&mut garbage);

    // 3. A control frame over 512 bytes.
    let mut big_control = raw_peer(&socket);
    big_control.write_all(&[0, 0, 0, 0, 0, 0, 2, 1]).unwrap();
    read_to_close(&mut big_control);

    // 4. A data frame over --max-frame, announced by its length alone.
    let mut big_data = raw_peer(&socket);
    big_data
        .write_all(&control_frame(ControlType::Start, &[DNSTAP_CONTENT_TYPE]))
        .unwrap();
    big_data.write_all(&data_frame(b"fine")).unwrap();
    big_data.write_all(&0xffff_fff0u32.to_be_bytes()).unwrap();
    read_to_close(&mut big_data);

    // 5. Disconnects in the middle of a frame.
    let mut cut = raw_peer(&socket);
    cut.write_all(&control_frame(ControlType::Start, &[DNSTAP_CONTENT_TYPE]))
        .unwrap();
    let frame = data_frame(&[7u8; 100]);
    cut.write_all(&frame[..50]).unwrap();
    drop(cut);

    log_sequence(&writer, 100..200);
    let stats = writer.shutdown();
    assert_eq!(stats.written, 200);
    assert!(wait_until(Duration::from_secs(5), || capture
        .log()
        .contains("in the middle of a frame")));
    let (status, log) = capture.stop();
    assert_eq!(status, 0, "{log}");
    for expected in [
        "no CONTENT_TYPE matching protobuf:dnstap.Dnstap (offered [\"protobuf:other.Type\"]); not accepted; closed",
        "control frame of 513 bytes exceeds the limit of 512; closed",
        "exceeds the limit of 1000; closed",
        "data frame before START; closed",
        "closed in the middle of a frame (50 bytes discarded)",
        "finished, 200 frames",
    ] {
        assert!(log.contains(expected), "log lacks {expected:?}:\n{log}");
    }
    // Only whole frames: the healthy writer's 200 and the oversize peer's
    // one good frame before its bad one.
    let (frames, stopped) = read_file(&output);
    assert!(stopped);
    assert_eq!(frames.len(), 201);
    assert_eq!(frames.iter().filter(|f| f.as_slice() == b"fine").count(), 1);
}

#[test]
fn a_silent_peer_is_closed_after_the_handshake_timeout() {
    let dir = temp_dir("capture-silent");
    let socket = unix_listen(&dir);
    let capture = Capture::start(
        &dir,
        &["--unix", &socket],
        &dir.join("out.fs"),
        &["--handshake-timeout", "1"],
    );
    let mut silent = raw_peer(&socket);
    assert!(read_to_close(&mut silent).is_empty());
    let (_, log) = capture.stop();
    assert!(log.contains("no handshake within 1 s; closed"), "{log}");
}

#[test]
fn connections_over_the_limit_are_refused_with_a_log_line() {
    let dir = temp_dir("capture-limit");
    let socket = unix_listen(&dir);
    let capture = Capture::start(
        &dir,
        &["--unix", &socket],
        &dir.join("out.fs"),
        &["--max-connections", "1"],
    );
    let first = raw_peer(&socket);
    assert!(wait_until(Duration::from_secs(5), || capture
        .log()
        .contains("listening")));
    std::thread::sleep(Duration::from_millis(300));
    let mut second = raw_peer(&socket);
    assert!(read_to_close(&mut second).is_empty());
    drop(first);
    let (_, log) = capture.stop();
    assert!(
        log.contains("connection 2 (unix:") && log.contains("over --max-connections 1; closed"),
        "{log}"
    );
    assert!(log.contains("1 rejected"), "{log}");
}

/// Every file in `dir` whose name starts with `prefix`, and its frames.
fn stream_files(dir: &Path, prefix: &str) -> Vec<(PathBuf, Vec<Vec<u8>>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let (frames, stopped) = read_file(&path);
            assert!(stopped, "{} is a complete stream", path.display());
            (path, frames)
        })
        .collect()
}

#[test]
fn split_size_rotates_into_complete_files() {
    let dir = temp_dir("capture-split");
    let socket = unix_listen(&dir);
    let output = dir.join("split.fs");
    let capture = Capture::start(
        &dir,
        &["--unix", &socket],
        &output,
        &["--split-size", "20000"],
    );
    let writer = logger(&capture.sink);
    for round in 0..10u32 {
        log_sequence(&writer, round * 100..(round + 1) * 100);
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(writer.shutdown().written, 1000);
    let (status, log) = capture.stop();
    assert_eq!(status, 0, "{log}");
    let files = stream_files(&dir, "split.fs");
    assert!(files.len() >= 3, "{} files:\n{log}", files.len());
    let mut all: Vec<u32> = files
        .iter()
        .flat_map(|(_, frames)| frames.iter().map(|f| sequence(f)))
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<_>>());
}

#[test]
fn sighup_after_logrotate_starts_a_new_file() {
    let dir = temp_dir("capture-hup");
    let socket = unix_listen(&dir);
    let output = dir.join("hup.fs");
    let capture = Capture::start(&dir, &["--unix", &socket], &output, &[]);
    let writer = logger(&capture.sink);
    log_sequence(&writer, 0..300);
    std::thread::sleep(Duration::from_millis(500));
    std::fs::rename(&output, dir.join("hup.fs.1")).unwrap();
    capture.signal(libc::SIGHUP);
    assert!(wait_until(Duration::from_secs(5), || capture
        .log()
        .contains("SIGHUP: reopened")));
    log_sequence(&writer, 300..500);
    writer.shutdown();
    let (status, log) = capture.stop();
    assert_eq!(status, 0, "{log}");
    let (old, old_stopped) = read_file(&dir.join("hup.fs.1"));
    let (new, new_stopped) = read_file(&output);
    assert!(old_stopped && new_stopped);
    assert_eq!(
        old.iter().map(|f| sequence(f)).collect::<Vec<_>>(),
        (0..300).collect::<Vec<_>>()
    );
    assert_eq!(
        new.iter().map(|f| sequence(f)).collect::<Vec<_>>(),
        (300..500).collect::<Vec<_>>()
    );
}

#[test]
fn dash_writes_the_stream_to_stdout() {
    let dir = temp_dir("capture-stdout");
    let socket = unix_listen(&dir);
    let stdout = dir.join("stdout.fs");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dnstap-kit"))
        .args([
            "capture",
            "--unix",
            &socket,
            "-w",
            "-",
            "--stats-interval",
            "0",
        ])
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || Path::new(&socket).exists()));
    let writer = logger(&format!("unix:{socket}"));
    log_sequence(&writer, 0..50);
    writer.shutdown();
    // SAFETY: kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let mut status = None;
    assert!(wait_until(Duration::from_secs(10), || {
        status = child.try_wait().unwrap();
        status.is_some()
    }));
    assert!(status.unwrap().success());
    let (frames, stopped) = read_file(&stdout);
    assert!(stopped);
    assert_eq!(frames.len(), 50);
}

/// A capture on a unix socket in `dir`, a raw peer that has sent START (a
/// unidirectional writer), and the capture's output file.
fn capture_and_started_peer(dir: &Path) -> (Capture, UnixStream, PathBuf) {
    let socket = unix_listen(dir);
    let output = dir.join("out.fs");
    let capture = Capture::start(dir, &["--unix", &socket], &output, &[]);
    let mut peer = raw_peer(&socket);
    peer.write_all(&control_frame(ControlType::Start, &[DNSTAP_CONTENT_TYPE]))
        .unwrap();
    (capture, peer, output)
}

#[test]
fn a_unidirectional_writer_is_captured_too() {
    let dir = temp_dir("capture-unidirectional");
    let (capture, mut peer, output) = capture_and_started_peer(&dir);
    peer.write_all(&data_frame(b"one")).unwrap();
    peer.write_all(&control_frame(ControlType::Stop, &[]))
        .unwrap();
    assert!(
        read_to_close(&mut peer).is_empty(),
        "no FINISH without READY"
    );
    let (status, log) = capture.stop();
    assert_eq!(status, 0, "{log}");
    assert_eq!(read_file(&output).0, vec![b"one".to_vec()]);
}

#[test]
fn frames_already_sent_are_kept_when_capture_is_stopped() {
    let dir = temp_dir("capture-drain");
    let (capture, mut peer, output) = capture_and_started_peer(&dir);
    // A first frame in the file: the connection is accepted.
    peer.write_all(&data_frame(b"first")).unwrap();
    assert!(wait_until(Duration::from_secs(5), || read_file(&output)
        .0
        .len()
        == 1));
    // While capture is stopped, fill the socket buffer with more frames
    // than one read takes (64 KiB), then ask it to stop: what the peer
    // handed over must reach the file.
    capture.signal(libc::SIGSTOP);
    peer.set_nonblocking(true).unwrap();
    let payload = vec![b'x'; 1000];
    let mut sent = 0u32;
    let frame = data_frame(&payload);
    while sent < 1000 {
        match peer.write(&frame) {
            Ok(n) if n == frame.len() => sent += 1,
            Ok(n) => {
                peer.set_nonblocking(false).unwrap();
                peer.write_all(&frame[n..]).unwrap();
                sent += 1;
                break;
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(err) => panic!("{err}"),
        }
    }
    assert!(
        sent as usize * frame.len() > 64 * 1024,
        "only {sent} frames fit in the socket buffer: less than one read"
    );
    capture.signal(libc::SIGTERM);
    capture.signal(libc::SIGCONT);
    let (status, log) = capture.stop();
    assert_eq!(status, 0, "{log}");
    let (frames, stopped) = read_file(&output);
    assert!(stopped, "{log}");
    assert_eq!(frames.len(), 1 + sent as usize, "{log}");
}

/// A TLS capture: a CA, the capture's certificate for 127.0.0.1, its files.
struct TlsSetup {
    ca: Ca,
    ca_file: PathBuf,
    server: PemFiles,
}

fn tls_setup(dir: &Path) -> TlsSetup {
    let ca = Ca::new("capture test CA");
    let ca_file = ca.write(dir, "ca");
    let server = ca.issue(&["127.0.0.1"]).write(dir, "capture");
    TlsSetup {
        ca,
        ca_file,
        server,
    }
}

fn tls_capture(dir: &Path, tls: &TlsSetup, output: &Path, extra: &[&str]) -> Capture {
    let target = format!("127.0.0.1@{}", free_port());
    let (cert, key) = (
        tls.server.cert.to_str().unwrap(),
        tls.server.key.to_str().unwrap(),
    );
    let mut args = vec!["--tls-cert", cert, "--tls-key", key];
    args.extend_from_slice(extra);
    Capture::start(dir, &["--tcp", &target], output, &args)
}

#[test]
fn a_tls_listener_captures_a_verified_writer_and_closes_a_plaintext_one_alone() {
    let dir = temp_dir("capture-tls");
    let tls = tls_setup(&dir);
    let output = dir.join("out.fs");
    let capture = tls_capture(&dir, &tls, &output, &["--handshake-timeout", "2"]);
    assert!(
        capture.log().contains("listening on tls:127.0.0.1@"),
        "{}",
        capture.log()
    );
    let mut options = writer_options(&capture.sink);
    options.set_tls_ca_file(Some(&tls.ca_file));
    let writer = Logger::new(&options).unwrap();
    log_sequence(&writer, 0..2000);
    // A plaintext Frame Streams writer on the TLS listener, meanwhile.
    let target = capture.sink.strip_prefix("tls:").unwrap().replace('@', ":");
    let mut plain = std::net::TcpStream::connect(&target).unwrap();
    plain
        .write_all(&control_frame(ControlType::Ready, &[DNSTAP_CONTENT_TYPE]))
        .unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(
        !answer
            .windows(DNSTAP_CONTENT_TYPE.len())
            .any(|w| w == DNSTAP_CONTENT_TYPE),
        "no ACCEPT in plain text"
    );
    log_sequence(&writer, 2000..4000);
    let stats = writer.shutdown();
    assert_eq!((stats.written, stats.failed_connects), (4000, 0));
    let (status, log) = capture.stop();
    assert_eq!(status, 0, "{log}");
    assert!(log.contains("not TLS"), "{log}");
    assert!(
        log.contains("a plaintext writer on a TLS listener?"),
        "{log}"
    );
    assert!(log.contains("finished, 4000 frames"), "{log}");
    assert!(log.contains("1 rejected"), "{log}");
    let (frames, stopped) = read_file(&output);
    assert!(stopped);
    assert_eq!(
        frames.iter().map(|f| sequence(f)).collect::<Vec<_>>(),
        (0..4000).collect::<Vec<_>>()
    );
}

#[test]
fn a_client_ca_requires_a_certificate_it_signed() {
    let dir = temp_dir("capture-mtls");
    let tls = tls_setup(&dir);
    let clients = Ca::new("client CA");
    let client_ca = clients.write(&dir, "client-ca");
    let output = dir.join("out.fs");
    let capture = tls_capture(
        &dir,
        &tls,
        &output,
        &["--tls-client-ca", client_ca.to_str().unwrap()],
    );
    // Without a certificate, and with one from another CA: nothing kept.
    let stranger = tls.ca.issue(&["ns0.test"]).write(&dir, "stranger");
    for certificate in [None, Some(&stranger)] {
        let mut options = writer_options(&capture.sink);
        options.set_tls_ca_file(Some(&tls.ca_file));
        options.set_reconnect_max_ms(100).unwrap();
        if let Some(files) = certificate {
            options.set_tls_client_cert(Some((&files.cert, &files.key)));
        }
        let refused = Logger::new(&options).unwrap();
        log_sequence(&refused, 0..10);
        assert!(wait_until(Duration::from_secs(8), || refused
            .stats()
            .failed_connects
            >= 2));
        assert_eq!(refused.shutdown().written, 0);
    }
    let client = clients.issue(&["ns1.test"]).write(&dir, "client");
    let mut options = writer_options(&capture.sink);
    options.set_tls_ca_file(Some(&tls.ca_file));
    options.set_tls_client_cert(Some((&client.cert, &client.key)));
    let writer = Logger::new(&options).unwrap();
    log_sequence(&writer, 0..500);
    assert_eq!(writer.shutdown().written, 500);
    let (status, log) = capture.stop();
    assert_eq!(status, 0, "{log}");
    assert!(
        log.contains("TLS: no client certificate, and --tls-client-ca requires one"),
        "{log}"
    );
    assert!(
        log.contains("TLS: client certificate refused: UnknownIssuer"),
        "{log}"
    );
    assert!(log.contains("finished, 500 frames"), "{log}");
    let (frames, _) = read_file(&output);
    assert_eq!(frames.len(), 500, "only the authenticated writer's frames");
}

#[test]
fn a_tls_writer_on_a_plain_listener_is_named_and_gets_nothing() {
    let dir = temp_dir("capture-tls-on-plain");
    let output = dir.join("out.fs");
    let target = format!("127.0.0.1@{}", free_port());
    let capture = Capture::start(&dir, &["--tcp", &target], &output, &[]);
    let mut options = writer_options(&format!("tls:{target}"));
    options.set_tls_verify(dnstap::Verify::None);
    options.set_reconnect_max_ms(100).unwrap();
    let log = LogLines::default();
    log.attach(&mut options);
    let writer = Logger::new(&options).unwrap();
    log_sequence(&writer, 0..10);
    assert!(wait_until(Duration::from_secs(8), || writer
        .stats()
        .failed_connects
        >= 2));
    let stats = writer.shutdown();
    assert_eq!(stats.written, 0);
    assert!(
        log.containing("cannot connect to collector tls:") >= 1,
        "{}",
        log.dump()
    );
    let (status, capture_log) = capture.stop();
    assert_eq!(status, 0, "{capture_log}");
    assert!(
        capture_log.contains("a TLS ClientHello on a plain listener"),
        "{capture_log}"
    );
    let (frames, _) = read_file(&output);
    assert!(frames.is_empty());
}

#[test]
fn unusable_tls_files_stop_capture_at_start() {
    let dir = temp_dir("capture-tls-files");
    let tls = tls_setup(&dir);
    let output = dir.join("out.fs");
    let other = tls.ca.issue(&["127.0.0.2"]).write(&dir, "other");
    let run = Command::new(env!("CARGO_BIN_EXE_dnstap-kit"))
        .args(["capture", "--tcp", "127.0.0.1@9", "-w"])
        .arg(&output)
        .arg("--tls-cert")
        .arg(&tls.server.cert)
        .arg("--tls-key")
        .arg(&other.key)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("do not go together"), "{stderr}");
}
