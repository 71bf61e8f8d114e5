//! Helpers for the `dnstap-kit read` and `check` integration tests: run
//! the built binary with a time limit, write dnstap files with the library,
//! craft records byte by byte, build DNS messages, and run the stock
//! servers and tools on loopback.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use dnstap::framestream::{DNSTAP_CONTENT_TYPE, encode_stream};
use dnstap::proto;
use dnstap::{Logger, MessageFields, Options, PolicyFields, Timestamp};
#[allow(unused_imports)]
pub use dnstap_testkit::{TempDir, temp_dir, wait_until, which};

#[allow(unused_imports)]
pub use dnstap_testkit::wire::{put_bytes, put_key, put_uint, put_varint, wire_name};

/// Every run of the binary ends within this time, or the test fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

pub fn kit_path() -> &'static str {
    env!("CARGO_BIN_EXE_dnstap-kit")
}

/// Waits for `child` at most `limit`; kills it (it is ours) if it overruns.
pub fn wait_bounded(mut child: Child, limit: Duration) -> Run {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_reader = thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(pipe) = stdout.as_mut() {
            let _ = pipe.read_to_end(&mut text);
        }
        text
    });
    let err_reader = thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(pipe) = stderr.as_mut() {
            let _ = pipe.read_to_end(&mut text);
        }
        text
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process did not end within {limit:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out_reader.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned(),
    }
}

/// Runs `dnstap-kit ARGS`, with `stdin` fed if given.
pub fn kit(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(kit_path())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    wait_bounded(child, RUN_LIMIT)
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// How to install an outside tool the tests run.
pub fn install_hint(tool: &str) -> String {
    let package = match tool {
        "knotd" => "knot",
        "kdig" => "knot-dnsutils",
        "fstrm_capture" | "fstrm_dump" | "fstrm_replay" => "fstrm-bin",
        "dnstap" => "golang-github-dnstap-golang-dnstap-cli",
        other => other,
    };
    format!("apt-get install {package} (or ci/setup)")
}

/// Returns from the test when a tool is not installed: with a note, or a
/// failure under ci/test (see [`dnstap_testkit::tool_installed`]).
#[macro_export]
macro_rules! require {
    ($($tool:expr),+) => {
        $(
            if !dnstap_testkit::tool_installed($tool, &$crate::cli_support::install_hint($tool)) {
                return;
            }
        )+
    };
}

// ---------------------------------------------------------------------------
// DNS messages.

fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    for count in counts {
        out.extend_from_slice(&count.to_be_bytes());
    }
    out
}

/// A query (RD set) with an EDNS OPT record (udp 1232, DO).
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut out = header(id, 0x0100, [1, 0, 0, 1]);
    out.extend_from_slice(&wire_name(name));
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
    out
}

/// A response to `query` with one A answer (owner compressed) and `rcode`.
pub fn response(id: u16, name: &str, address: [u8; 4]) -> Vec<u8> {
    let mut out = header(id, 0x8180, [1, 1, 0, 0]);
    out.extend_from_slice(&wire_name(name));
    out.extend_from_slice(&[0, 1, 0, 1]);
    out.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
    out.extend_from_slice(&address);
    out
}

/// An UPDATE adding `name` A `address` in `zone`, or its response.
pub fn update(id: u16, zone: &str, name: &str, address: [u8; 4], response: bool) -> Vec<u8> {
    let flags = 0x2800 | if response { 0x8000 } else { 0 };
    let mut out = header(id, flags, [1, 0, u16::from(!response), 0]);
    out.extend_from_slice(&wire_name(zone));
    out.extend_from_slice(&[0, 6, 0, 1]);
    if !response {
        out.extend_from_slice(&wire_name(name));
        out.extend_from_slice(&[0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4]);
        out.extend_from_slice(&address);
    }
    out
}

// ---------------------------------------------------------------------------
// Files written by the library.

/// `Message.Type` names, values 1 to 14, as the schema spells them.
pub const MESSAGE_TYPE_NAMES: [&str; 14] = [
    "AUTH_QUERY",
    "AUTH_RESPONSE",
    "RESOLVER_QUERY",
    "RESOLVER_RESPONSE",
    "CLIENT_QUERY",
    "CLIENT_RESPONSE",
    "FORWARDER_QUERY",
    "FORWARDER_RESPONSE",
    "STUB_QUERY",
    "STUB_RESPONSE",
    "TOOL_QUERY",
    "TOOL_RESPONSE",
    "UPDATE_QUERY",
    "UPDATE_RESPONSE",
];

pub const BASE_SEC: u64 = 1_795_000_000;
pub const QUERY_NSEC: u32 = 123_456_789;
pub const RESPONSE_NSEC: u32 = 124_456_789;

/// The name of the message of `message_type` in [`library_messages`].
pub fn qname(message_type: u32) -> String {
    format!("m{message_type}.example.com.")
}

fn leak(bytes: Vec<u8>) -> &'static [u8] {
    Box::leak(bytes.into_boxed_slice())
}

/// Which protocols a test file uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Protocols {
    /// UDP and TCP by turns: what dnstap-ldns 0.2.1 prints.
    Classic,
    /// UDP, TCP, DOT, DOH (with HTTP/1..3), DNSCryptUDP, DNSCryptTCP, DOQ.
    All,
}

/// One message of `message_type` (1..=14) with every field the schema
/// recommends for it and more: both addresses and ports, IPv4 for odd
/// types and IPv6 for even ones, query_zone on resolver and forwarder
/// messages, `extra` on types 1 and 5, an RPZ policy on CLIENT_RESPONSE.
pub fn library_message(message_type: u32, protocols: Protocols) -> MessageFields<'static> {
    let query_type = message_type % 2 == 1;
    let name = qname(message_type);
    let id = 0x1000 + message_type as u16;
    let is_update = message_type >= 13;
    let (query_message, response_message) = if is_update {
        (
            update(id, "example.com", &name, [192, 0, 2, 99], false),
            update(id, "example.com", &name, [192, 0, 2, 99], true),
        )
    } else {
        (
            query(id, &name, 1),
            response(id, &name, [192, 0, 2, message_type as u8]),
        )
    };
    let socket_protocol = match protocols {
        Protocols::Classic => 1 + message_type % 2,
        Protocols::All => 1 + message_type % 7,
    };
    let http_protocol = if socket_protocol == proto::SocketProtocol::Doh as u32 {
        1 + message_type % 3
    } else {
        0
    };
    let (query_address, response_address): (SocketAddr, SocketAddr) = if message_type % 2 == 1 {
        (
            format!("192.0.2.{message_type}:{}", 40000 + message_type)
                .parse()
                .unwrap(),
            "198.51.100.53:53".parse().unwrap(),
        )
    } else {
        (
            format!("[2001:db8::{message_type}]:{}", 40000 + message_type)
                .parse()
                .unwrap(),
            "[2001:db8:53::1]:53".parse().unwrap(),
        )
    };
    let resolver_side = matches!(message_type, 3 | 4 | 7 | 8);
    MessageFields {
        message_type,
        socket_protocol,
        http_protocol,
        query_address: Some(query_address),
        response_address: Some(response_address),
        query_time: Some(Timestamp {
            sec: BASE_SEC + u64::from(message_type),
            nsec: QUERY_NSEC,
        }),
        response_time: (!query_type).then_some(Timestamp {
            sec: BASE_SEC + u64::from(message_type),
            nsec: RESPONSE_NSEC,
        }),
        query_message: if query_type { leak(query_message) } else { &[] },
        response_message: if query_type {
            &[]
        } else {
            leak(response_message)
        },
        query_zone: if resolver_side {
            leak(wire_name("example.com"))
        } else {
            &[]
        },
        extra: if matches!(message_type, 1 | 5) {
            b"extra\x00\xff"
        } else {
            &[]
        },
        policy: (message_type == 6).then_some(PolicyFields {
            policy_type: b"RPZ",
            rule: leak(wire_name("m6.example.com.rpz.local")),
            action: proto::policy::Action::Nxdomain as u32,
            match_kind: proto::policy::Match::Qname as u32,
            value: leak(wire_name("m6.example.com")),
        }),
    }
}

/// Messages of the types `types`, in order.
pub fn library_messages(
    types: std::ops::RangeInclusive<u32>,
    protocols: Protocols,
) -> Vec<MessageFields<'static>> {
    types.map(|t| library_message(t, protocols)).collect()
}

pub const IDENTITY: &str = "test-server";
pub const VERSION: &str = "dnstap-kit-tests 1";

/// Writes `messages` to a Frame Streams file with the library.
pub fn write_library_file(path: &Path, messages: &[MessageFields<'_>]) {
    let mut options = Options::new();
    options
        .set_sink(&format!("file:{}", path.display()))
        .unwrap();
    options.set_identity(IDENTITY.as_bytes()).unwrap();
    options.set_version(VERSION.as_bytes()).unwrap();
    options.set_flush_interval_ms(20).unwrap();
    let logger = Logger::new(&options).unwrap();
    for message in messages {
        logger.log(message).unwrap();
    }
    let stats = logger.shutdown();
    assert_eq!(stats.written, messages.len() as u64);
}

// ---------------------------------------------------------------------------
// Crafted streams and records.

/// A Frame Streams file: START, one data frame per payload, STOP if `stop`.
pub fn frame_stream(content_type: &[u8], payloads: &[Vec<u8>], stop: bool) -> Vec<u8> {
    encode_stream(content_type, payloads.iter().map(Vec::as_slice), stop)
}

pub fn dnstap_stream(payloads: &[Vec<u8>]) -> Vec<u8> {
    frame_stream(DNSTAP_CONTENT_TYPE, payloads, true)
}

/// A `Dnstap` record around encoded `Message` bytes, plus `tail` appended
/// to the record (unknown fields, for instance).
pub fn record_with_message(message: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_bytes(&mut out, 1, IDENTITY.as_bytes());
    put_bytes(&mut out, 14, message);
    put_uint(&mut out, 15, 1);
    out.extend_from_slice(tail);
    out
}

/// A record from prost types.
pub fn encode(record: &proto::Dnstap) -> Vec<u8> {
    prost::Message::encode_to_vec(record)
}

/// A CLIENT_QUERY with every recommended field, as prost types.
pub fn client_query_record() -> proto::Dnstap {
    proto::Dnstap {
        identity: Some(IDENTITY.into()),
        version: None,
        extra: None,
        r#type: 1,
        message: Some(proto::Message {
            r#type: 5,
            socket_family: Some(1),
            socket_protocol: Some(1),
            query_address: Some(vec![192, 0, 2, 1]),
            query_port: Some(5353),
            query_time_sec: Some(BASE_SEC),
            query_time_nsec: Some(QUERY_NSEC),
            query_message: Some(query(0x1234, "example.com", 1)),
            ..Default::default()
        }),
    }
}

// ---------------------------------------------------------------------------
// Processes on loopback.

/// A child process that is ended (TERM, then KILL) when dropped.
pub struct Process {
    pub child: Option<Child>,
    pub name: String,
}

impl Process {
    /// Starts `command`, its output going to the file `log`.
    pub fn spawn(name: &str, command: &mut Command, log: &Path) -> Process {
        let log = std::fs::File::create(log).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        Process {
            child: Some(child),
            name: name.into(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    /// Whether the process catches `signal` (from /proc/PID/status).
    pub fn catches(&self, signal: i32) -> bool {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on the pid of a child we have not reaped.
        unsafe {
            libc::kill(self.pid(), signal);
        }
    }

    /// Sends `signal` and waits at most `limit` for the exit.
    pub fn stop(mut self, signal: i32, limit: Duration) -> Run {
        self.signal(signal);
        let child = self.child.take().unwrap();
        wait_bounded(child, limit)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: as in `signal`.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until a DNS server on 127.0.0.1:`port` answers a query.
pub fn wait_for_dns(port: u16, limit: Duration) -> bool {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let probe = query(0xbeef, "probe.invalid", 1);
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        let _ = socket.send_to(&probe, ("127.0.0.1", port));
        if socket.recv(&mut buf).is_ok() {
            return true;
        }
    }
    false
}

/// Waits until a peer is connected to the unix socket listening at `path`
/// (an accepted socket shows the listener's path in /proc/net/unix).
pub fn wait_for_unix_peer(path: &Path, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let suffix = format!(" {}", path.display());
    while Instant::now() < deadline {
        let table = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
        if table.lines().filter(|l| l.ends_with(&suffix)).count() >= 2 {
            return true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    false
}

pub const KNOT_ZONE: &str = "$ORIGIN knot.test.
$TTL 300
@     SOA   ns.knot.test. hostmaster.knot.test. 1 3600 900 604800 300
@     NS    ns
@     MX    10 mail
@     TXT   \"hello dnstap\" \"second\"
ns    A     127.0.0.1
ns    AAAA  2001:db8::1
www   A     192.0.2.10
www6  AAAA  2001:db8::10
alias CNAME www
_sip._udp SRV 10 20 5060 sip
";

/// Starts the stock `knotd` on 127.0.0.1:`port` serving `knot.test`, its
/// mod-dnstap writing to the file `tap` if given.
pub fn start_knot(dir: &Path, port: u16, tap: Option<&Path>) -> Process {
    std::fs::create_dir_all(dir.join("db")).unwrap();
    std::fs::write(dir.join("knot.test.zone"), KNOT_ZONE).unwrap();
    let dnstap = match tap {
        Some(tap) => format!(
            "mod-dnstap:
  - id: tap
    sink: {}
    identity: knot-test
    version: knot-test-version
    log-queries: on
    log-responses: on
",
            tap.display()
        ),
        None => String::new(),
    };
    let module = if tap.is_some() {
        "    global-module: mod-dnstap/tap\n"
    } else {
        ""
    };
    let config = format!(
        "server:
    listen: 127.0.0.1@{port}
    rundir: {dir}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: {dir}/db
log:
  - target: stderr
    any: warning
{dnstap}template:
  - id: default
    storage: {dir}
{module}zone:
  - domain: knot.test
    file: knot.test.zone
",
        dir = dir.display()
    );
    let config_path = dir.join("knot.conf");
    std::fs::write(&config_path, config).unwrap();
    let knot = Process::spawn(
        "knotd",
        Command::new(which("knotd").unwrap())
            .arg("-c")
            .arg(&config_path),
        &dir.join("knotd.log"),
    );
    assert!(
        wait_for_dns(port, Duration::from_secs(10)),
        "knotd did not answer on port {port}"
    );
    knot
}

/// Runs `kdig @127.0.0.1 -p PORT NAME TYPE [extra]`, its dnstap to `tap`.
pub fn kdig(port: u16, tap: &Path, name: &str, qtype: &str, extra: &[&str]) -> Run {
    let child = Command::new(which("kdig").unwrap())
        .arg("@127.0.0.1")
        .args(["-p", &port.to_string(), "+time=2", "+retry=1", "-E"])
        .arg(tap)
        .args(extra)
        .args([name, qtype])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_bounded(child, Duration::from_secs(20))
}

/// Runs a reference tool (`dnstap-ldns`, `dnstap`) on a file.
pub fn tool(program: &str, args: &[&str]) -> Run {
    let child = Command::new(which(program).unwrap())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_bounded(child, RUN_LIMIT)
}

/// Starts the stock `unbound` on 127.0.0.1:`port`: local data for
/// `a.example.test`, `knot.test` stubbed to 127.0.0.1:`knot_port` (resolver
/// messages) and `fwd.test` forwarded there (forwarder messages); its
/// dnstap goes to the unix socket `socket`.
pub fn start_unbound(dir: &Path, port: u16, knot_port: u16, socket: &Path) -> Process {
    let config = format!(
        "server:
    interface: 127.0.0.1
    port: {port}
    do-daemonize: no
    username: \"\"
    chroot: \"\"
    directory: \"{dir}\"
    pidfile: \"\"
    outgoing-range: 64
    num-queries-per-thread: 32
    use-syslog: no
    logfile: \"\"
    verbosity: 0
    num-threads: 1
    do-ip6: no
    do-not-query-localhost: no
    module-config: \"iterator\"
    local-zone: \"test.\" nodefault
    local-zone: \"example.test.\" static
    local-data: \"a.example.test. 300 IN A 192.0.2.1\"
remote-control:
    control-enable: no
stub-zone:
    name: \"knot.test.\"
    stub-addr: 127.0.0.1@{knot_port}
forward-zone:
    name: \"fwd.test.\"
    forward-addr: 127.0.0.1@{knot_port}
dnstap:
    dnstap-enable: yes
    dnstap-bidirectional: yes
    dnstap-socket-path: \"{socket}\"
    dnstap-send-identity: yes
    dnstap-send-version: yes
    dnstap-identity: \"unbound-test\"
    dnstap-log-client-query-messages: yes
    dnstap-log-client-response-messages: yes
    dnstap-log-resolver-query-messages: yes
    dnstap-log-resolver-response-messages: yes
    dnstap-log-forwarder-query-messages: yes
    dnstap-log-forwarder-response-messages: yes
",
        dir = dir.display(),
        socket = socket.display()
    );
    let config_path = dir.join("unbound.conf");
    std::fs::write(&config_path, config).unwrap();
    let unbound = Process::spawn(
        "unbound",
        Command::new(which("unbound").unwrap())
            .arg("-d")
            .arg("-c")
            .arg(&config_path),
        &dir.join("unbound.log"),
    );
    assert!(
        wait_for_dns(port, Duration::from_secs(10)),
        "unbound did not answer on port {port}"
    );
    unbound
}
