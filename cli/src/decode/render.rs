//! The three renderings of a [`Record`]: one line of text (like
//! `dnstap-ldns -q`), YAML (like `dnstap-ldns -y`, with every field) and
//! JSON (one object per line; the schema is in the README).
//!
//! Renderers append to a `String` the caller reuses, so printing a record
//! allocates little beyond prost's own decoding.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use base64::Engine as _;

use super::names::*;
use super::record::Record;
use super::{dns, time};
use dnstap::proto;

/// Whether a message type is a query: every QUERY is odd and its RESPONSE
/// the next value, which also classifies types newer than the schema.
pub fn is_query(message_type: i32) -> bool {
    message_type % 2 == 1
}

/// The two-letter mnemonic of `dnstap-ldns -q`, extended with UQ/UR.
pub fn mnemonic(message_type: i32) -> Option<&'static str> {
    Some(match message_type {
        1 => "AQ",
        2 => "AR",
        3 => "RQ",
        4 => "RR",
        5 => "CQ",
        6 => "CR",
        7 => "FQ",
        8 => "FR",
        9 => "SQ",
        10 => "SR",
        11 => "TQ",
        12 => "TR",
        13 => "UQ",
        14 => "UR",
        _ => return None,
    })
}

/// An address as text, if it is 4 or 16 bytes.
pub fn address_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string()),
        16 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(bytes);
            Some(Ipv6Addr::from(octets).to_string())
        }
        _ => None,
    }
}

/// The text of `Policy.value` when its format is known from the match: a
/// name for QNAME and NS_NAME, an address for the IP matches.
pub fn policy_value_text(match_kind: Option<i32>, value: &[u8]) -> Option<String> {
    use proto::policy::Match;
    match Match::try_from(match_kind?).ok()? {
        Match::Qname | Match::NsName => dns::name_from_wire(value).ok(),
        Match::ClientIp | Match::ResponseIp | Match::NsIp => address_text(value),
    }
}

fn base64(out: &mut String, bytes: &[u8]) {
    base64::engine::general_purpose::STANDARD.encode_string(bytes, out);
}

/// `name` or the number when the schema has no name for it.
fn enum_text(out: &mut String, value: i32, names: EnumNames) {
    out.push_str(&name_or_number(value, names));
}

// ---------------------------------------------------------------------------
// Text: one line per message, the columns of `dnstap-ldns -q`.

/// Appends one line (with its newline) for `record`.
pub fn write_text(out: &mut String, record: &Record) {
    let d = &record.dnstap;
    let Some(m) = d.message.as_ref().filter(|_| d.r#type == 1) else {
        match record.dnstap_type() {
            Some(t) if t != 1 => {
                let _ = writeln!(out, "[unhandled Dnstap.type {t}]");
            }
            _ => out.push_str("[Dnstap record without a message]\n"),
        }
        return;
    };
    let query = is_query(m.r#type);
    let time = if query {
        m.query_time_sec.zip(m.query_time_nsec)
    } else {
        m.response_time_sec.zip(m.response_time_nsec)
    };
    match time {
        Some((sec, nsec)) => time::write_ldns(out, sec, nsec),
        None => out.push_str("??:??:??.??????"),
    }
    out.push(' ');
    match mnemonic(m.r#type) {
        Some(mnemonic) => out.push_str(mnemonic),
        None => out.push_str(if query { "?Q" } else { "?R" }),
    }
    out.push(' ');
    // The address of the other side: the client for AUTH, CLIENT (and
    // UPDATE) messages, the server queried for the rest.
    let use_query_address = matches!(m.r#type, 1 | 2 | 5 | 6 | 13 | 14);
    let address = if use_query_address {
        m.query_address.as_deref()
    } else {
        m.response_address.as_deref()
    };
    match address {
        Some(bytes) => match address_text(bytes) {
            Some(text) => out.push_str(&text),
            None => out.push_str("INVALID_ADDRESS"),
        },
        None => out.push_str("MISSING_ADDRESS"),
    }
    out.push(' ');
    match m.socket_protocol {
        Some(p) => enum_text(out, p, socket_protocol_name),
        None => out.push('?'),
    }
    let wire = if query {
        m.query_message.as_deref()
    } else {
        m.response_message.as_deref()
    };
    let _ = write!(out, " {}b ", wire.map_or(0, <[u8]>::len));
    // A response that was never sent (a query an rpz rule dropped) still
    // names its question through the query it carries.
    let question_wire = if query {
        wire
    } else {
        wire.or(m.query_message.as_deref())
    };
    match question_wire.and_then(dns::first_question) {
        Some((qname, qtype, qclass)) => {
            let _ = write!(
                out,
                "\"{qname}\" {} {}",
                dns::ClassName(qclass),
                dns::TypeName(qtype)
            );
        }
        _ => out.push_str("? ? ?"),
    }
    if mnemonic(m.r#type).is_none() {
        let _ = write!(out, " [Message.type {}]", m.r#type);
    }
    out.push('\n');
}

// ---------------------------------------------------------------------------
// YAML: every field, the layout of `dnstap-ldns -y`.

/// A double-quoted YAML scalar: printable ASCII as is (`"` and `\`
/// escaped), every other byte as `\xNN`.
fn yaml_bytes(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
}

fn yaml_binary(out: &mut String, bytes: &[u8]) {
    out.push_str("!!binary \"");
    base64(out, bytes);
    out.push('"');
}

/// A wire-format name as its text, or as binary when it does not parse.
fn yaml_name(out: &mut String, wire: &[u8]) {
    match dns::name_from_wire(wire) {
        Ok(text) => yaml_bytes(out, text.as_bytes()),
        Err(_) => yaml_binary(out, wire),
    }
}

fn yaml_time(out: &mut String, indent: &str, name: &str, sec: Option<u64>, nsec: Option<u32>) {
    if let Some(sec) = sec {
        if time::fits_rfc3339(sec, nsec.unwrap_or(0)) {
            let _ = write!(out, "{indent}{name}: !!timestamp ");
            time::write_rfc3339(out, sec, nsec.unwrap_or(0));
            out.push('\n');
            return;
        }
        let _ = writeln!(out, "{indent}{name}_sec: {sec}");
    }
    if let Some(nsec) = nsec {
        let _ = writeln!(out, "{indent}{name}_nsec: {nsec}");
    }
}

fn yaml_address(out: &mut String, name: &str, bytes: &Option<Vec<u8>>) {
    let Some(bytes) = bytes else { return };
    let _ = write!(out, "  {name}: ");
    match address_text(bytes) {
        Some(text) => {
            let _ = write!(out, "\"{text}\"");
        }
        None => yaml_binary(out, bytes),
    }
    out.push('\n');
}

fn yaml_dns(out: &mut String, name: &str, wire: &Option<Vec<u8>>) {
    let Some(wire) = wire else { return };
    match dns::parse(wire) {
        Ok(message) => {
            let _ = writeln!(out, "  {name}: |");
            dns::write_text(out, &message, "    ");
        }
        Err(err) => {
            let _ = write!(out, "  {name}: ");
            yaml_binary(out, wire);
            let _ = write!(out, "\n  {name}_error: ");
            yaml_bytes(out, err.to_string().as_bytes());
            out.push('\n');
        }
    }
}

/// Appends `record` as one YAML document, ended by `---`.
pub fn write_yaml(out: &mut String, record: &Record) {
    let d = &record.dnstap;
    if let Some(t) = record.dnstap_type() {
        out.push_str("type: ");
        enum_text(out, t, dnstap_type_name);
        out.push('\n');
    }
    for (name, value) in [
        ("identity", &d.identity),
        ("version", &d.version),
        ("extra", &d.extra),
    ] {
        if let Some(value) = value {
            let _ = write!(out, "{name}: ");
            yaml_bytes(out, value);
            out.push('\n');
        }
    }
    if let Some(m) = &d.message {
        out.push_str("message:\n");
        if let Some(t) = record.message_type() {
            out.push_str("  type: ");
            enum_text(out, t, message_type_name);
            out.push('\n');
        }
        yaml_time(out, "  ", "query_time", m.query_time_sec, m.query_time_nsec);
        yaml_time(
            out,
            "  ",
            "response_time",
            m.response_time_sec,
            m.response_time_nsec,
        );
        let enums: [(&str, Option<i32>, EnumNames); 3] = [
            ("socket_family", m.socket_family, socket_family_name),
            ("socket_protocol", m.socket_protocol, socket_protocol_name),
            ("http_protocol", m.http_protocol, http_protocol_name),
        ];
        for (name, value, names) in enums {
            if let Some(value) = value {
                let _ = write!(out, "  {name}: ");
                enum_text(out, value, names);
                out.push('\n');
            }
        }
        yaml_address(out, "query_address", &m.query_address);
        yaml_address(out, "response_address", &m.response_address);
        if let Some(port) = m.query_port {
            let _ = writeln!(out, "  query_port: {port}");
        }
        if let Some(port) = m.response_port {
            let _ = writeln!(out, "  response_port: {port}");
        }
        if let Some(zone) = &m.query_zone {
            out.push_str("  query_zone: ");
            yaml_name(out, zone);
            out.push('\n');
        }
        if let Some(p) = &m.policy {
            out.push_str("  policy:\n");
            if let Some(kind) = &p.r#type {
                out.push_str("    type: ");
                yaml_bytes(out, kind.as_bytes());
                out.push('\n');
            }
            if let Some(rule) = &p.rule {
                out.push_str("    rule: ");
                yaml_name(out, rule);
                out.push('\n');
            }
            if let Some(action) = p.action {
                out.push_str("    action: ");
                enum_text(out, action, policy_action_name);
                out.push('\n');
            }
            if let Some(match_kind) = p.r#match {
                out.push_str("    match: ");
                enum_text(out, match_kind, policy_match_name);
                out.push('\n');
            }
            if let Some(value) = &p.value {
                out.push_str("    value: ");
                match policy_value_text(p.r#match, value) {
                    Some(text) => yaml_bytes(out, text.as_bytes()),
                    None => yaml_binary(out, value),
                }
                out.push('\n');
            }
        }
        yaml_dns(out, "query_message", &m.query_message);
        yaml_dns(out, "response_message", &m.response_message);
    }
    if !record.fields.unknown.is_empty() {
        out.push_str("unknown_fields:\n");
        for u in &record.fields.unknown {
            let _ = writeln!(
                out,
                "  - {{in: {}, field: {}, wire_type: {}}}",
                u.within.name(),
                u.field,
                u.wire_type
            );
        }
    }
    out.push_str("---\n");
}

// ---------------------------------------------------------------------------
// JSON: one object per line, fields absent from the record omitted.

fn json_str(out: &mut String, text: &str) {
    out.push('"');
    if !text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(text);
    } else {
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
    }
    out.push('"');
}

/// Writes the members of one JSON object, managing the commas.
struct Obj<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> Obj<'a> {
    fn open(out: &'a mut String) -> Obj<'a> {
        out.push('{');
        Obj { out, empty: true }
    }

    /// Starts member `name`; the caller writes the value.
    fn key(&mut self, name: &str) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
        self.out
    }

    fn str(&mut self, name: &str, value: &str) {
        json_str(self.key(name), value);
    }

    /// A string member whose text needs no escaping (mnemonics).
    fn plain(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = write!(self.key(name), "\"{value}\"");
    }

    fn num(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = write!(self.key(name), "{value}");
    }

    fn base64(&mut self, name: &str, value: &[u8]) {
        let out = self.key(name);
        out.push('"');
        base64(out, value);
        out.push('"');
    }

    fn enumeration(&mut self, name: &str, value: i32, names: EnumNames) {
        match names(value) {
            Some(text) => self.str(name, text),
            None => self.num(name, value),
        }
    }

    /// A byte string as UTF-8 text, with a base64 copy if it is not UTF-8.
    fn text_or_base64(&mut self, name: &str, value: &[u8]) {
        match std::str::from_utf8(value) {
            Ok(text) => self.str(name, text),
            Err(_) => {
                self.str(name, &String::from_utf8_lossy(value));
                self.base64(&format!("{name}_base64"), value);
            }
        }
    }

    /// A time as RFC 3339, or its raw fields when it has no such form.
    fn time(&mut self, name: &str, sec: Option<u64>, nsec: Option<u32>) {
        if let Some(sec) = sec {
            if time::fits_rfc3339(sec, nsec.unwrap_or(0)) {
                let out = self.key(name);
                out.push('"');
                time::write_rfc3339(out, sec, nsec.unwrap_or(0));
                out.push('"');
                return;
            }
            self.num(&format!("{name}_sec"), sec);
        }
        if let Some(nsec) = nsec {
            self.num(&format!("{name}_nsec"), nsec);
        }
    }

    fn close(self) {
        self.out.push('}');
    }
}

fn json_dns(obj: &mut Obj<'_>, name: &str, wire: &[u8]) {
    let parsed = dns::parse(wire);
    let mut m = Obj::open(obj.key(name));
    m.base64("wire", wire);
    match parsed {
        Ok(message) => {
            let opcode = message.header().opcode().to_int();
            m.num("id", message.header().id());
            match dns::opcode_name(opcode) {
                Some(text) => m.str("opcode", text),
                None => m.num("opcode", opcode),
            }
            let rcode = message.rcode();
            match dns::rcode_name(rcode) {
                Some(text) => m.str("rcode", text),
                None => m.num("rcode", rcode),
            }
            let out = m.key("flags");
            out.push('[');
            for (i, flag) in dns::flag_names(message.flags()).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_str(out, flag);
            }
            out.push(']');
            if let Some((qname, qtype, qclass)) = message.first_question() {
                m.str("qname", &qname);
                m.plain("qclass", dns::ClassName(qclass));
                m.plain("qtype", dns::TypeName(qtype));
            }
            let counts = message.counts();
            m.num("answers", counts[1]);
            m.num("authority", counts[2]);
            m.num("additional", counts[3]);
            if let Some(edns) = message.edns() {
                let mut e = Obj::open(m.key("edns"));
                e.num("version", edns.version);
                e.num("udp_size", edns.udp_size);
                e.num("do", edns.dnssec_ok());
                e.close();
            }
            if message.trailing > 0 {
                m.num("trailing_bytes", message.trailing);
            }
        }
        Err(err) => m.str("error", &err.to_string()),
    }
    m.close();
}

fn json_address(obj: &mut Obj<'_>, name: &str, bytes: &Option<Vec<u8>>) {
    let Some(bytes) = bytes else { return };
    match address_text(bytes) {
        Some(text) => obj.str(name, &text),
        None => obj.base64(&format!("{name}_base64"), bytes),
    }
}

/// Appends `record` as one JSON object and a newline.
pub fn write_json(out: &mut String, record: &Record) {
    let d = &record.dnstap;
    let mut o = Obj::open(out);
    if let Some(t) = record.dnstap_type() {
        o.enumeration("type", t, dnstap_type_name);
    }
    if let Some(identity) = &d.identity {
        o.text_or_base64("identity", identity);
    }
    if let Some(version) = &d.version {
        o.text_or_base64("version", version);
    }
    if let Some(extra) = &d.extra {
        o.base64("extra", extra);
    }
    if let Some(m) = &d.message {
        let mut j = Obj::open(o.key("message"));
        if let Some(t) = record.message_type() {
            j.enumeration("type", t, message_type_name);
        }
        if let Some(v) = m.socket_family {
            j.enumeration("socket_family", v, socket_family_name);
        }
        if let Some(v) = m.socket_protocol {
            j.enumeration("socket_protocol", v, socket_protocol_name);
        }
        if let Some(v) = m.http_protocol {
            j.enumeration("http_protocol", v, http_protocol_name);
        }
        json_address(&mut j, "query_address", &m.query_address);
        if let Some(port) = m.query_port {
            j.num("query_port", port);
        }
        json_address(&mut j, "response_address", &m.response_address);
        if let Some(port) = m.response_port {
            j.num("response_port", port);
        }
        j.time("query_time", m.query_time_sec, m.query_time_nsec);
        j.time("response_time", m.response_time_sec, m.response_time_nsec);
        if let Some(zone) = &m.query_zone {
            match dns::name_from_wire(zone) {
                Ok(text) => j.str("query_zone", &text),
                Err(_) => j.base64("query_zone_base64", zone),
            }
        }
        if let Some(wire) = &m.query_message {
            json_dns(&mut j, "query_message", wire);
        }
        if let Some(wire) = &m.response_message {
            json_dns(&mut j, "response_message", wire);
        }
        if let Some(p) = &m.policy {
            let mut q = Obj::open(j.key("policy"));
            if let Some(kind) = &p.r#type {
                q.str("type", kind);
            }
            if let Some(rule) = &p.rule {
                if let Ok(text) = dns::name_from_wire(rule) {
                    q.str("rule", &text);
                }
                q.base64("rule_wire", rule);
            }
            if let Some(action) = p.action {
                q.enumeration("action", action, policy_action_name);
            }
            if let Some(match_kind) = p.r#match {
                q.enumeration("match", match_kind, policy_match_name);
            }
            if let Some(value) = &p.value {
                if let Some(text) = policy_value_text(p.r#match, value) {
                    q.str("value", &text);
                }
                q.base64("value_wire", value);
            }
            q.close();
        }
        j.close();
    }
    if !record.fields.unknown.is_empty() {
        let out = o.key("unknown_fields");
        out.push('[');
        for (i, u) in record.fields.unknown.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"in\":\"{}\",\"field\":{},\"wire_type\":{}}}",
                u.within.name(),
                u.field,
                u.wire_type
            );
        }
        out.push(']');
    }
    o.close();
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnstap_testkit::wire::{Rng, response, wire_name};
    use prost::Message as _;

    fn record(message: proto::Message) -> Record {
        let dnstap = proto::Dnstap {
            identity: Some(b"ns1".to_vec()),
            version: Some(b"v\"1\\".to_vec()),
            extra: Some(vec![0, 1, 2]),
            r#type: 1,
            message: Some(message),
        };
        Record::decode(&dnstap.encode_to_vec()).unwrap()
    }

    fn resolver_response() -> proto::Message {
        proto::Message {
            r#type: proto::message::Type::ResolverResponse as i32,
            socket_family: Some(2),
            socket_protocol: Some(proto::SocketProtocol::Doh as i32),
            http_protocol: Some(proto::HttpProtocol::Http3 as i32),
            query_address: Some(vec![0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            response_address: Some(vec![
                0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53,
            ]),
            query_port: Some(40000),
            response_port: Some(443),
            query_time_sec: Some(1_700_000_000),
            query_time_nsec: Some(1),
            response_time_sec: Some(1_700_000_001),
            response_time_nsec: Some(999_999_999),
            query_zone: Some(wire_name("example.com")),
            response_message: Some(response()),
            policy: Some(proto::Policy {
                r#type: Some("RPZ".into()),
                rule: Some(wire_name("10.2.0.192.32.rpz-ip.rpz")),
                action: Some(proto::policy::Action::LocalData as i32),
                r#match: Some(proto::policy::Match::ResponseIp as i32),
                value: Some(vec![192, 0, 2, 10]),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn text_line_of_a_response() {
        let mut out = String::new();
        write_text(&mut out, &record(resolver_response()));
        assert_eq!(
            out,
            "2023-11-14 22:13:21.999999 RR 2001:db8::53 DOH 134b \"www.example.com.\" IN A\n"
        );
    }

    #[test]
    fn text_line_of_odd_records() {
        let mut out = String::new();
        let client = proto::Message {
            r#type: proto::message::Type::ClientQuery as i32,
            query_address: Some(vec![1, 2, 3]),
            query_message: Some(vec![1, 2, 3]),
            ..Default::default()
        };
        write_text(&mut out, &record(client));
        assert_eq!(out, "??:??:??.?????? CQ INVALID_ADDRESS ? 3b ? ? ?\n");
        out.clear();
        let update = proto::Message {
            r#type: proto::message::Type::UpdateResponse as i32,
            socket_protocol: Some(42),
            query_address: Some(vec![10, 0, 0, 1]),
            response_time_sec: Some(0),
            response_time_nsec: Some(0),
            ..Default::default()
        };
        write_text(&mut out, &record(update));
        assert_eq!(out, "1970-01-01 00:00:00.000000 UR 10.0.0.1 42 0b ? ? ?\n");
        out.clear();
        // A response never sent: the question comes from its query.
        let dropped = proto::Message {
            r#type: proto::message::Type::ClientResponse as i32,
            query_address: Some(vec![10, 0, 0, 1]),
            query_message: Some(response()),
            ..Default::default()
        };
        write_text(&mut out, &record(dropped));
        assert_eq!(
            out,
            "??:??:??.?????? CR 10.0.0.1 ? 0b \"www.example.com.\" IN A\n"
        );
        out.clear();
        // The question survives damage later in the message.
        let mut damaged = response();
        damaged.truncate(40);
        let stub = proto::Message {
            r#type: proto::message::Type::StubResponse as i32,
            response_message: Some(damaged),
            ..Default::default()
        };
        write_text(&mut out, &record(stub));
        assert_eq!(
            out,
            "??:??:??.?????? SR MISSING_ADDRESS ? 40b \"www.example.com.\" IN A\n"
        );
    }

    #[test]
    fn json_of_a_response() {
        let mut out = String::new();
        write_json(&mut out, &record(resolver_response()));
        assert!(out.ends_with("}\n"));
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        let expected = serde_json::json!({
            "type": "MESSAGE",
            "identity": "ns1",
            "version": "v\"1\\",
            "extra": "AAEC",
            "message": {
                "type": "RESOLVER_RESPONSE",
                "socket_family": "INET6",
                "socket_protocol": "DOH",
                "http_protocol": "HTTP3",
                "query_address": "2001:db8::1",
                "query_port": 40000,
                "response_address": "2001:db8::53",
                "response_port": 443,
                "query_time": "2023-11-14T22:13:20.000000001Z",
                "response_time": "2023-11-14T22:13:21.999999999Z",
                "query_zone": "example.com.",
                "response_message": {
                    "wire": base64::engine::general_purpose::STANDARD.encode(response()),
                    "id": 4660,
                    "opcode": "QUERY",
                    "rcode": "NOERROR",
                    "flags": ["qr", "rd", "ra"],
                    "qname": "www.example.com.",
                    "qclass": "IN",
                    "qtype": "A",
                    "answers": 2,
                    "authority": 1,
                    "additional": 1,
                    "edns": {"version": 0, "udp_size": 1232, "do": true}
                },
                "policy": {
                    "type": "RPZ",
                    "rule": "10.2.0.192.32.rpz-ip.rpz.",
                    "rule_wire": base64::engine::general_purpose::STANDARD
                        .encode(wire_name("10.2.0.192.32.rpz-ip.rpz")),
                    "action": "LOCAL_DATA",
                    "match": "RESPONSE_IP",
                    "value": "192.0.2.10",
                    "value_wire": "wAACCg=="
                }
            }
        });
        assert_eq!(value, expected);
        // Member order is the documented one.
        let keys: Vec<&str> = [
            "\"type\"",
            "\"identity\"",
            "\"version\"",
            "\"extra\"",
            "\"message\"",
        ]
        .to_vec();
        let mut last = 0;
        for key in keys {
            let at = out.find(key).unwrap();
            assert!(at >= last, "{key} out of order");
            last = at;
        }
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        json_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\u0001é\"");
        let value: String = serde_json::from_str(&out).unwrap();
        assert_eq!(value, "a\"b\\c\nd\u{1}é");
    }

    #[test]
    fn yaml_of_a_response() {
        let mut out = String::new();
        write_yaml(&mut out, &record(resolver_response()));
        let expected_head = "type: MESSAGE
identity: \"ns1\"
version: \"v\\\"1\\\\\"
extra: \"\\x00\\x01\\x02\"
message:
  type: RESOLVER_RESPONSE
  query_time: !!timestamp 2023-11-14T22:13:20.000000001Z
  response_time: !!timestamp 2023-11-14T22:13:21.999999999Z
  socket_family: INET6
  socket_protocol: DOH
  http_protocol: HTTP3
  query_address: \"2001:db8::1\"
  response_address: \"2001:db8::53\"
  query_port: 40000
  response_port: 443
  query_zone: \"example.com.\"
  policy:
    type: \"RPZ\"
    rule: \"10.2.0.192.32.rpz-ip.rpz.\"
    action: LOCAL_DATA
    match: RESPONSE_IP
    value: \"192.0.2.10\"
  response_message: |
    ;; ->>HEADER<<- opcode: QUERY, rcode: NOERROR, id: 4660
";
        assert!(out.starts_with(expected_head), "{out}");
        assert!(out.ends_with("\n---\n"));
        assert!(out.contains("    ; COOKIE: 0102030405060708\n"));
    }

    #[test]
    fn renderers_survive_random_records() {
        let mut rng = Rng(77);
        let base = record(resolver_response()).dnstap.encode_to_vec();
        let mut out = String::new();
        for _ in 0..5000 {
            let mut bytes = base.clone();
            for _ in 0..1 + rng.next_u64() % 3 {
                let i = (rng.next_u64() as usize) % bytes.len();
                bytes[i] = rng.next_u64() as u8;
            }
            if let Ok(record) = Record::decode(&bytes) {
                out.clear();
                write_text(&mut out, &record);
                write_yaml(&mut out, &record);
                let mark = out.len();
                write_json(&mut out, &record);
                serde_json::from_str::<serde_json::Value>(&out[mark..])
                    .unwrap_or_else(|e| panic!("{e}: {}", &out[mark..]));
            }
        }
    }
}
