//! `dnstap-kit check`: conformance of dnstap files to the schema.
//!
//! Per message, the rules (documented in the README):
//! - the frame is a `Dnstap` protobuf; `Dnstap.type` is present and known,
//!   and a MESSAGE record carries a message; `Message.type` is present and
//!   known;
//! - the fields the schema's trailing comment recommends for the type are
//!   present (`recommended`; UPDATE_QUERY/UPDATE_RESPONSE, which the
//!   comment leaves out, are held to the AUTH_QUERY/AUTH_RESPONSE lists);
//! - enum values are ones the schema defines (socket family, protocol,
//!   HTTP protocol, policy action and match);
//! - an address comes with `socket_family`, and its length fits it (4 bytes
//!   for INET, 16 for INET6); ports fit 16 bits; a time has both halves and
//!   nanoseconds below 10⁹;
//! - `http_protocol` only with `socket_protocol` DOH;
//! - `query_zone` is an uncompressed wire-format name;
//! - the DNS messages parse completely (header, every record, names with
//!   compression pointers), leave no bytes after the last record, and have
//!   the QR bit a query or a response should have.
//!
//! Fields the schema does not define are counted, not violations: they are
//! what a newer writer sends.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, BufWriter, ErrorKind, Write};
use std::path::PathBuf;

use dnstap::proto;

use crate::decode::{Record, dns, names};
use crate::exit;
use crate::input::{self, Outcome};
use crate::log::LogUrl;
use crate::log_input::{self, End, LogInput};
use crate::report::report;

#[derive(clap::Args)]
pub struct Args {
    /// Frame Streams files to check, or logs: `kafka://ADDR:PORT[,…]/TOPIC`,
    /// `nats://ADDR:PORT[,…]/STREAM` (read until no new record comes for 1 s).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The name a log input's position is kept under; default
    /// `dnstap-kit-check`.
    #[arg(long, value_name = "NAME")]
    pub consumer: Option<String>,
    /// Largest data frame accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = input::DEFAULT_MAX_FRAME)]
    pub max_frame: usize,
}

/// Fields a producer should set, by name as in the schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    SocketFamily,
    SocketProtocol,
    QueryAddress,
    QueryPort,
    ResponseAddress,
    ResponsePort,
    QueryMessage,
    QueryTime,
    QueryZone,
    ResponseMessage,
    ResponseTime,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::SocketFamily => "socket_family",
            Field::SocketProtocol => "socket_protocol",
            Field::QueryAddress => "query_address",
            Field::QueryPort => "query_port",
            Field::ResponseAddress => "response_address",
            Field::ResponsePort => "response_port",
            Field::QueryMessage => "query_message",
            Field::QueryTime => "query_time",
            Field::QueryZone => "query_zone",
            Field::ResponseMessage => "response_message",
            Field::ResponseTime => "response_time",
        }
    }

    fn present(self, m: &proto::Message) -> bool {
        match self {
            Field::SocketFamily => m.socket_family.is_some(),
            Field::SocketProtocol => m.socket_protocol.is_some(),
            Field::QueryAddress => m.query_address.is_some(),
            Field::QueryPort => m.query_port.is_some(),
            Field::ResponseAddress => m.response_address.is_some(),
            Field::ResponsePort => m.response_port.is_some(),
            Field::QueryMessage => m.query_message.is_some(),
            Field::QueryTime => m.query_time_sec.is_some() && m.query_time_nsec.is_some(),
            Field::QueryZone => m.query_zone.is_some(),
            Field::ResponseMessage => m.response_message.is_some(),
            Field::ResponseTime => m.response_time_sec.is_some() && m.response_time_nsec.is_some(),
        }
    }
}

/// The recommended fields of each message type, from the trailing comment
/// of `proto/dnstap.proto`; UPDATE_* follow AUTH_*.
fn recommended(message_type: proto::message::Type) -> &'static [Field] {
    use Field::*;
    use proto::message::Type as T;
    const AUTH_QUERY: &[Field] = &[
        SocketFamily,
        SocketProtocol,
        QueryAddress,
        QueryPort,
        QueryMessage,
        QueryTime,
    ];
    const AUTH_RESPONSE: &[Field] = &[
        SocketFamily,
        SocketProtocol,
        QueryAddress,
        QueryPort,
        QueryTime,
        ResponseMessage,
        ResponseTime,
    ];
    const UPSTREAM_QUERY: &[Field] = &[
        SocketFamily,
        SocketProtocol,
        QueryMessage,
        QueryTime,
        ResponseAddress,
        ResponsePort,
        QueryZone,
    ];
    const UPSTREAM_RESPONSE: &[Field] = &[
        SocketFamily,
        SocketProtocol,
        QueryTime,
        QueryZone,
        ResponseAddress,
        ResponsePort,
        ResponseMessage,
        ResponseTime,
    ];
    const CLIENT_QUERY: &[Field] = &[SocketFamily, SocketProtocol, QueryMessage, QueryTime];
    const CLIENT_RESPONSE: &[Field] = &[
        SocketFamily,
        SocketProtocol,
        QueryTime,
        ResponseMessage,
        ResponseTime,
    ];
    match message_type {
        T::AuthQuery | T::UpdateQuery => AUTH_QUERY,
        T::AuthResponse | T::UpdateResponse => AUTH_RESPONSE,
        T::ResolverQuery | T::ForwarderQuery => UPSTREAM_QUERY,
        T::ResolverResponse | T::ForwarderResponse => UPSTREAM_RESPONSE,
        T::ClientQuery | T::StubQuery => CLIENT_QUERY,
        T::ClientResponse | T::StubResponse => CLIENT_RESPONSE,
        T::ToolQuery => &[QueryMessage, QueryTime],
        T::ToolResponse => &[QueryTime, ResponseMessage, ResponseTime],
    }
}

/// What one frame is (for the per-type counts) and what is wrong with it.
#[derive(Debug, Default)]
pub struct Verdict {
    pub label: String,
    pub violations: Vec<String>,
    pub unknown_fields: usize,
}

fn check_enum(
    violations: &mut Vec<String>,
    name: &str,
    value: Option<i32>,
    names: names::EnumNames,
) {
    if let Some(value) = value
        && names(value).is_none()
    {
        violations.push(format!("{name} {value} is not a value the schema defines"));
    }
}

fn check_time(violations: &mut Vec<String>, name: &str, sec: Option<u64>, nsec: Option<u32>) {
    match (sec, nsec) {
        (Some(_), None) => violations.push(format!("{name}_sec without {name}_nsec")),
        (None, Some(_)) => violations.push(format!("{name}_nsec without {name}_sec")),
        _ => {}
    }
    if let Some(nsec) = nsec
        && nsec >= 1_000_000_000
    {
        violations.push(format!("{name}_nsec {nsec} is not below 10^9"));
    }
}

fn check_address(
    violations: &mut Vec<String>,
    name: &str,
    address: &Option<Vec<u8>>,
    family: Option<i32>,
) {
    let Some(address) = address else { return };
    let expected = match family.map(proto::SocketFamily::try_from) {
        None => {
            violations.push(format!("{name} without socket_family"));
            return;
        }
        Some(Ok(proto::SocketFamily::Inet)) => 4,
        Some(Ok(proto::SocketFamily::Inet6)) => 16,
        Some(Err(_)) => return, // the family itself is reported
    };
    if address.len() != expected {
        let family = names::socket_family_name(family.unwrap_or(0)).unwrap_or("?");
        violations.push(format!(
            "{name} is {} bytes; {family} addresses are {expected}",
            address.len()
        ));
    }
}

fn check_port(violations: &mut Vec<String>, name: &str, port: Option<u32>) {
    if let Some(port) = port
        && port > 65535
    {
        violations.push(format!("{name} {port} does not fit 16 bits"));
    }
}

fn check_dns(violations: &mut Vec<String>, name: &str, wire: &Option<Vec<u8>>, query: bool) {
    let Some(wire) = wire else { return };
    match dns::parse(wire) {
        Err(err) => violations.push(format!("{name} does not parse as DNS: {err}")),
        Ok(message) => {
            if message.trailing > 0 {
                violations.push(format!(
                    "{name} has {} bytes after the last record",
                    message.trailing
                ));
            }
            if query && message.header().qr() {
                violations.push(format!("{name} has the QR bit set"));
            }
            if !query && !message.header().qr() {
                violations.push(format!("{name} has the QR bit clear"));
            }
        }
    }
}

/// Checks one frame.
pub fn check_frame(payload: &[u8]) -> Verdict {
    let mut verdict = Verdict::default();
    let record = match Record::decode(payload) {
        Ok(record) => record,
        Err(err) => {
            verdict.label = "(not a Dnstap protobuf)".into();
            verdict
                .violations
                .push(format!("not a valid dnstap.Dnstap protobuf: {err}"));
            return verdict;
        }
    };
    verdict.unknown_fields = record.fields.unknown.len();
    let v = &mut verdict.violations;
    match record.dnstap_type() {
        None => v.push("Dnstap.type (required) is missing".into()),
        Some(t) if names::dnstap_type_name(t).is_none() => {
            v.push(format!("Dnstap.type {t} is not a value the schema defines"));
        }
        Some(_) => {}
    }
    let Some(m) = &record.dnstap.message else {
        if record.dnstap_type() == Some(proto::dnstap::Type::Message as i32) {
            v.push("Dnstap.type is MESSAGE but there is no message".into());
        }
        verdict.label = "(no message)".into();
        return verdict;
    };
    let message_type = match record.message_type() {
        None => {
            v.push("Message.type (required) is missing".into());
            verdict.label = "(no Message.type)".into();
            None
        }
        Some(t) => match proto::message::Type::try_from(t) {
            Ok(known) => {
                verdict.label = known.as_str_name().into();
                Some(known)
            }
            Err(_) => {
                v.push(format!(
                    "Message.type {t} is not a value the schema defines"
                ));
                verdict.label = format!("Message.type {t}");
                None
            }
        },
    };
    if let Some(message_type) = message_type {
        for field in recommended(message_type) {
            if !field.present(m) {
                v.push(format!(
                    "missing {} (recommended for {})",
                    field.name(),
                    message_type.as_str_name()
                ));
            }
        }
    }
    check_enum(
        v,
        "socket_family",
        m.socket_family,
        names::socket_family_name,
    );
    check_enum(
        v,
        "socket_protocol",
        m.socket_protocol,
        names::socket_protocol_name,
    );
    check_enum(
        v,
        "http_protocol",
        m.http_protocol,
        names::http_protocol_name,
    );
    if m.http_protocol.is_some() && m.socket_protocol != Some(proto::SocketProtocol::Doh as i32) {
        v.push("http_protocol is set but socket_protocol is not DOH".into());
    }
    check_address(v, "query_address", &m.query_address, m.socket_family);
    check_address(v, "response_address", &m.response_address, m.socket_family);
    check_port(v, "query_port", m.query_port);
    check_port(v, "response_port", m.response_port);
    check_time(v, "query_time", m.query_time_sec, m.query_time_nsec);
    check_time(
        v,
        "response_time",
        m.response_time_sec,
        m.response_time_nsec,
    );
    if let Some(zone) = &m.query_zone
        && let Err(fault) = dns::name_from_wire(zone)
    {
        v.push(format!("query_zone is not a wire-format name: {fault}"));
    }
    check_dns(v, "query_message", &m.query_message, true);
    check_dns(v, "response_message", &m.response_message, false);
    if let Some(policy) = &m.policy {
        check_enum(v, "policy.action", policy.action, names::policy_action_name);
        check_enum(v, "policy.match", policy.r#match, names::policy_match_name);
    }
    verdict
}

/// Counts of one file (or all).
#[derive(Default)]
struct Tally {
    frames: u64,
    violations: u64,
    frames_with_violations: u64,
    unknown_fields: u64,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.frames += other.frames;
        self.violations += other.violations;
        self.frames_with_violations += other.frames_with_violations;
        self.unknown_fields += other.unknown_fields;
    }

    fn describe(&self) -> String {
        let mut text = format!(
            "{} frames, {} violations in {} frames",
            self.frames, self.violations, self.frames_with_violations
        );
        if self.unknown_fields > 0 {
            let _ = write!(
                text,
                ", {} fields the schema does not define",
                self.unknown_fields
            );
        }
        text
    }
}

/// One input being checked.
struct Checked {
    name: String,
    tally: Tally,
    by_type: BTreeMap<String, u64>,
    line: String,
}

impl Checked {
    fn new(name: String) -> Checked {
        Checked {
            name,
            tally: Tally::default(),
            by_type: BTreeMap::new(),
            line: String::new(),
        }
    }

    /// Checks frame `n`, writing its violations.
    fn frame(&mut self, n: u64, payload: &[u8], out: &mut impl Write) -> io::Result<()> {
        let verdict = check_frame(payload);
        let tally = &mut self.tally;
        tally.frames += 1;
        tally.unknown_fields += verdict.unknown_fields as u64;
        if !verdict.violations.is_empty() {
            tally.frames_with_violations += 1;
            tally.violations += verdict.violations.len() as u64;
        }
        self.line.clear();
        for violation in &verdict.violations {
            let _ = writeln!(
                self.line,
                "{}: frame {n}: {}: {violation}",
                self.name, verdict.label
            );
        }
        *self.by_type.entry(verdict.label).or_default() += 1;
        out.write_all(self.line.as_bytes())
    }

    /// The counts by type and the summary line.
    fn summary(&self, end: &str) -> String {
        let mut line = String::new();
        for (label, count) in &self.by_type {
            let _ = writeln!(line, "  {label:<20} {count:>10}");
        }
        let _ = writeln!(line, "{}: {}; {end}", self.name, self.tally.describe());
        line
    }
}

/// Why checking a log stopped.
enum CheckLog {
    Output(io::Error),
    Unusable(String),
}

/// Checks a log's records until it has no more (see `log_input`),
/// committing each poll's records once their lines are written.
fn check_log(url: LogUrl, args: &Args, out: &mut impl Write) -> Result<Tally, CheckLog> {
    let mut file = Checked::new(url.position_key());
    let consumer = log_input::consumer_name(args.consumer.as_deref(), "check");
    let mut log = LogInput::open(url, &consumer, None).map_err(CheckLog::Unusable)?;
    let end = loop {
        match log.next() {
            Ok(records) => {
                for record in &records {
                    file.frame(record.position.offset, &record.value, out)
                        .map_err(CheckLog::Output)?;
                }
                out.flush().map_err(CheckLog::Output)?;
                if let Some(last) = records.last() {
                    log.commit(last.seq);
                }
            }
            Err(End::Read) => break "read to its end",
            Err(End::Failed) => break "unavailable",
        }
    };
    out.write_all(file.summary(end).as_bytes())
        .map_err(CheckLog::Output)?;
    if log.failed {
        return Err(CheckLog::Unusable(format!("{}: unavailable", file.name)));
    }
    Ok(file.tally)
}

pub fn run(args: Args) -> u8 {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let (mut failed, mut truncated) = (false, false);
    let mut total = Tally::default();
    for path in &args.files {
        if let Some(url) = path.to_str().and_then(LogUrl::parse) {
            let checked = match url {
                Ok(url) => check_log(url, &args, &mut out),
                Err(err) => Err(CheckLog::Unusable(err)),
            };
            match checked {
                Ok(tally) => total.add(&tally),
                Err(CheckLog::Output(err)) => return output_error(err),
                Err(CheckLog::Unusable(err)) => {
                    let _ = out.flush();
                    report!("dnstap-kit: {err}");
                    failed = true;
                }
            }
            continue;
        }
        let Some(mut input) = input::open_or_report(path, None) else {
            failed = true;
            continue;
        };
        let mut file = Checked::new(input.name.clone());
        let mut write_failed = None;
        let (outcome, _) = input::for_each_frame(&mut input, args.max_frame, |n, payload| {
            file.frame(n, payload, &mut out)
                .map_err(|err| write_failed = Some(err))
        });
        if let Some(err) = write_failed {
            return output_error(err);
        }
        let end = match &outcome {
            Outcome::Stopped => "ended with STOP".to_string(),
            Outcome::Unterminated => {
                truncated = true;
                "no STOP frame (the writer died or is still writing)".to_string()
            }
            Outcome::Truncated { partial_bytes } => {
                truncated = true;
                format!("cut inside a frame ({partial_bytes} bytes of it ignored)")
            }
            Outcome::Abandoned => "abandoned".to_string(),
            Outcome::Failed(err) => {
                failed = true;
                let _ = out.flush();
                report!("dnstap-kit: {}: {err}", file.name);
                format!("unreadable after {} frames: {err}", file.tally.frames)
            }
        };
        if let Err(err) = out.write_all(file.summary(&end).as_bytes()) {
            return output_error(err);
        }
        total.add(&file.tally);
    }
    if args.files.len() > 1 {
        let _ = writeln!(
            out,
            "total: {} files, {}",
            args.files.len(),
            total.describe()
        );
    }
    if let Err(err) = out.flush() {
        return output_error(err);
    }
    if failed {
        exit::FAILURE
    } else if total.violations > 0 {
        exit::VIOLATIONS
    } else if truncated {
        exit::TRUNCATED
    } else {
        exit::OK
    }
}

fn output_error(err: io::Error) -> u8 {
    if err.kind() == ErrorKind::BrokenPipe {
        return exit::FAILURE;
    }
    report!("dnstap-kit: writing output: {err}");
    exit::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnstap_testkit::wire::{Builder, response, wire_name};
    use prost::Message as _;

    fn query() -> Vec<u8> {
        Builder::new(7, 0x0100, [1, 0, 0, 0])
            .name("example.com")
            .u16(1)
            .u16(1)
            .0
    }

    /// A message of `message_type` with every field set.
    fn full(message_type: i32) -> proto::Message {
        proto::Message {
            r#type: message_type,
            socket_family: Some(1),
            socket_protocol: Some(2),
            query_address: Some(vec![192, 0, 2, 1]),
            response_address: Some(vec![192, 0, 2, 53]),
            query_port: Some(1053),
            response_port: Some(53),
            query_time_sec: Some(1),
            query_time_nsec: Some(2),
            query_message: Some(query()),
            query_zone: Some(wire_name("example.com")),
            response_time_sec: Some(3),
            response_time_nsec: Some(4),
            response_message: Some(response()),
            policy: None,
            http_protocol: None,
        }
    }

    fn verdict(message: proto::Message) -> Verdict {
        let record = proto::Dnstap {
            r#type: 1,
            message: Some(message),
            ..Default::default()
        };
        check_frame(&record.encode_to_vec())
    }

    fn clear(m: &mut proto::Message, field: Field) {
        match field {
            Field::SocketFamily => m.socket_family = None,
            Field::SocketProtocol => m.socket_protocol = None,
            Field::QueryAddress => m.query_address = None,
            Field::QueryPort => m.query_port = None,
            Field::ResponseAddress => m.response_address = None,
            Field::ResponsePort => m.response_port = None,
            Field::QueryMessage => m.query_message = None,
            Field::QueryTime => {
                m.query_time_sec = None;
                m.query_time_nsec = None;
            }
            Field::QueryZone => m.query_zone = None,
            Field::ResponseMessage => m.response_message = None,
            Field::ResponseTime => {
                m.response_time_sec = None;
                m.response_time_nsec = None;
            }
        }
    }

    #[test]
    fn every_recommended_field_is_required_of_its_type_only() {
        for t in 1..=14 {
            let known = proto::message::Type::try_from(t).unwrap();
            let v = verdict(full(t));
            assert_eq!(v.label, known.as_str_name());
            assert!(v.violations.is_empty(), "{t}: {:?}", v.violations);
            let all = [
                Field::SocketFamily,
                Field::SocketProtocol,
                Field::QueryAddress,
                Field::QueryPort,
                Field::ResponseAddress,
                Field::ResponsePort,
                Field::QueryMessage,
                Field::QueryTime,
                Field::QueryZone,
                Field::ResponseMessage,
                Field::ResponseTime,
            ];
            for field in all {
                let mut m = full(t);
                clear(&mut m, field);
                if field == Field::SocketFamily {
                    m.query_address = None;
                    m.response_address = None;
                }
                let v = verdict(m);
                let missing = format!(
                    "missing {} (recommended for {})",
                    field.name(),
                    known.as_str_name()
                );
                let expected = recommended(known).contains(&field);
                let reported = v.violations.iter().any(|x| x == &missing);
                assert_eq!(reported, expected, "{t} {field:?}: {:?}", v.violations);
            }
        }
        // Spot checks against the schema's comment.
        use proto::message::Type as T;
        assert!(!recommended(T::ClientQuery).contains(&Field::QueryAddress));
        assert!(recommended(T::AuthQuery).contains(&Field::QueryAddress));
        assert!(recommended(T::ResolverResponse).contains(&Field::QueryZone));
        assert_eq!(
            recommended(T::ToolQuery),
            &[Field::QueryMessage, Field::QueryTime]
        );
        assert_eq!(recommended(T::UpdateResponse), recommended(T::AuthResponse));
    }

    #[test]
    fn field_level_rules() {
        let mut m = full(6);
        m.socket_family = Some(2);
        m.http_protocol = Some(4);
        m.socket_protocol = Some(4);
        m.response_time_nsec = None;
        let v = verdict(m);
        assert_eq!(
            v.violations,
            [
                "missing response_time (recommended for CLIENT_RESPONSE)",
                "http_protocol 4 is not a value the schema defines",
                "query_address is 4 bytes; INET6 addresses are 16",
                "response_address is 4 bytes; INET6 addresses are 16",
                "response_time_sec without response_time_nsec",
            ]
        );
        let v = check_frame(b"\x0a\x05abc");
        assert_eq!(v.label, "(not a Dnstap protobuf)");
        assert_eq!(v.violations.len(), 1);
        let v = check_frame(&[]);
        assert_eq!(
            v.violations,
            ["Dnstap.type (required) is missing"],
            "an empty record"
        );
        assert_eq!(v.label, "(no message)");
    }
}
