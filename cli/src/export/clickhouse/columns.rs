//! The query log's columns: what each holds of a dnstap record
//! ([`Entry`]), and the table's own columns matched to them ([`Layout`]),
//! read from the server so the same export fills the 18.16 and the current
//! DDL, or an operator's table with fewer columns.

use std::borrow::Cow;

use prost::Message as _;

use crate::clickhouse::rowbinary::{Value, Wire};
use crate::clickhouse::{Column, identifier, table_name};
use crate::decode::dns::{self, Summary};
use crate::decode::names::*;
use crate::decode::{is_query, policy_value_text};
use dnstap::proto;

/// A column `export clickhouse` fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The message's time: for a query its query_time, for a response its
    /// response_time, else the other one; 0 (1970) when it has neither.
    Time,
    /// Its nanoseconds, for servers without DateTime64.
    TimeNs,
    Identity,
    Version,
    MessageType,
    SocketFamily,
    SocketProtocol,
    QueryAddress,
    QueryPort,
    ResponseAddress,
    ResponsePort,
    /// From the response message for a response, else the query message.
    Qname,
    Qtype,
    Qclass,
    Rcode,
    Opcode,
    Flags,
    /// 1 if the message has an OPT record.
    Edns,
    EdnsDo,
    EdnsUdpSize,
    QuerySize,
    ResponseSize,
    QueryZone,
    PolicyType,
    PolicyRule,
    PolicyAction,
    PolicyMatch,
    PolicyValue,
    HttpProtocol,
    QueryMessage,
    ResponseMessage,
    /// The insert the row came in (exactly-once retries).
    BatchId,
}

impl Field {
    pub const ALL: [Field; 32] = [
        Field::Time,
        Field::TimeNs,
        Field::Identity,
        Field::Version,
        Field::MessageType,
        Field::SocketFamily,
        Field::SocketProtocol,
        Field::QueryAddress,
        Field::QueryPort,
        Field::ResponseAddress,
        Field::ResponsePort,
        Field::Qname,
        Field::Qtype,
        Field::Qclass,
        Field::Rcode,
        Field::Opcode,
        Field::Flags,
        Field::Edns,
        Field::EdnsDo,
        Field::EdnsUdpSize,
        Field::QuerySize,
        Field::ResponseSize,
        Field::QueryZone,
        Field::PolicyType,
        Field::PolicyRule,
        Field::PolicyAction,
        Field::PolicyMatch,
        Field::PolicyValue,
        Field::HttpProtocol,
        Field::QueryMessage,
        Field::ResponseMessage,
        Field::BatchId,
    ];

    /// The column's name.
    pub fn name(self) -> &'static str {
        match self {
            Field::Time => "time",
            Field::TimeNs => "time_ns",
            Field::Identity => "identity",
            Field::Version => "version",
            Field::MessageType => "message_type",
            Field::SocketFamily => "socket_family",
            Field::SocketProtocol => "socket_protocol",
            Field::QueryAddress => "query_address",
            Field::QueryPort => "query_port",
            Field::ResponseAddress => "response_address",
            Field::ResponsePort => "response_port",
            Field::Qname => "qname",
            Field::Qtype => "qtype",
            Field::Qclass => "qclass",
            Field::Rcode => "rcode",
            Field::Opcode => "opcode",
            Field::Flags => "flags",
            Field::Edns => "edns",
            Field::EdnsDo => "edns_do",
            Field::EdnsUdpSize => "edns_udp_size",
            Field::QuerySize => "query_size",
            Field::ResponseSize => "response_size",
            Field::QueryZone => "query_zone",
            Field::PolicyType => "policy_type",
            Field::PolicyRule => "policy_rule",
            Field::PolicyAction => "policy_action",
            Field::PolicyMatch => "policy_match",
            Field::PolicyValue => "policy_value",
            Field::HttpProtocol => "http_protocol",
            Field::QueryMessage => "query_message",
            Field::ResponseMessage => "response_message",
            Field::BatchId => "batch_id",
        }
    }

    fn named(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|field| field.name() == name)
    }
}

/// Why a record gives no row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Not a `Dnstap` protobuf.
    Unparsable,
    /// A record without a message (another `Dnstap.type`).
    NotMessage,
}

/// A dnstap message decoded once for all its columns.
pub struct Entry {
    message: proto::Message,
    identity: Option<Vec<u8>>,
    version: Option<Vec<u8>>,
    /// The DNS message the row describes, summarized.
    summary: Summary,
    seconds: u64,
    nanos: u32,
}

/// `name` or the number when the schema has no name for it; "" if absent.
fn enum_text(value: Option<i32>, names: EnumNames) -> Value<'static> {
    Value::Text(match value.map(|value| name_or_number(value, names)) {
        Some(Cow::Borrowed(name)) => Cow::Borrowed(name.as_bytes()),
        Some(Cow::Owned(number)) => Cow::Owned(number.into_bytes()),
        None => Cow::Borrowed(b""),
    })
}

/// A 4- or 16-byte address as IPv6 (IPv4 mapped); `::` otherwise.
fn address(bytes: Option<&[u8]>) -> Value<'static> {
    let mut out = [0u8; 16];
    match bytes {
        Some(v4) if v4.len() == 4 => {
            out[10] = 0xff;
            out[11] = 0xff;
            out[12..].copy_from_slice(v4);
        }
        Some(v6) if v6.len() == 16 => out.copy_from_slice(v6),
        _ => {}
    }
    Value::Address(out)
}

fn text(bytes: Option<&[u8]>) -> Value<'_> {
    Value::Text(Cow::Borrowed(bytes.unwrap_or_default()))
}

fn owned_text(text: Option<String>) -> Value<'static> {
    Value::Text(Cow::Owned(text.unwrap_or_default().into_bytes()))
}

fn size(bytes: Option<&Vec<u8>>) -> Value<'static> {
    Value::Int(bytes.map_or(0, |bytes| bytes.len() as u64))
}

impl Entry {
    pub fn decode(payload: &[u8]) -> Result<Entry, Skip> {
        let dnstap = proto::Dnstap::decode(payload).map_err(|_| Skip::Unparsable)?;
        let message = match dnstap.message {
            Some(message) if dnstap.r#type == proto::dnstap::Type::Message as i32 => message,
            _ => return Err(Skip::NotMessage),
        };
        let query = is_query(message.r#type);
        let query_time = message.query_time_sec.map(|s| (s, message.query_time_nsec));
        let response_time = message
            .response_time_sec
            .map(|s| (s, message.response_time_nsec));
        let (seconds, nanos) = if query {
            query_time.or(response_time)
        } else {
            response_time.or(query_time)
        }
        .map_or((0, 0), |(seconds, nanos)| (seconds, nanos.unwrap_or(0)));
        let (first, second) = if query {
            (&message.query_message, &message.response_message)
        } else {
            (&message.response_message, &message.query_message)
        };
        let summary = first
            .as_deref()
            .or(second.as_deref())
            .and_then(dns::summarize)
            .unwrap_or_default();
        Ok(Entry {
            identity: dnstap.identity,
            version: dnstap.version,
            message,
            summary,
            seconds,
            nanos,
        })
    }

    /// An empty message: the kind of value each field gives.
    fn sample() -> Entry {
        Entry {
            message: proto::Message::default(),
            identity: None,
            version: None,
            summary: Summary::default(),
            seconds: 0,
            nanos: 0,
        }
    }

    /// The message's time in seconds since the epoch (its UTC day decides
    /// its partition).
    pub fn seconds(&self) -> u64 {
        self.seconds
    }

    pub fn value(&self, field: Field, batch_id: u64) -> Value<'_> {
        let m = &self.message;
        let s = &self.summary;
        let policy = m.policy.as_ref();
        match field {
            Field::Time => Value::Time(self.seconds, self.nanos),
            Field::TimeNs => Value::Int(u64::from(self.nanos)),
            Field::Identity => text(self.identity.as_deref()),
            Field::Version => text(self.version.as_deref()),
            Field::MessageType => enum_text(Some(m.r#type), message_type_name),
            Field::SocketFamily => enum_text(m.socket_family, socket_family_name),
            Field::SocketProtocol => enum_text(m.socket_protocol, socket_protocol_name),
            Field::QueryAddress => address(m.query_address.as_deref()),
            Field::QueryPort => Value::Int(u64::from(m.query_port.unwrap_or(0))),
            Field::ResponseAddress => address(m.response_address.as_deref()),
            Field::ResponsePort => Value::Int(u64::from(m.response_port.unwrap_or(0))),
            Field::Qname => Value::Text(Cow::Borrowed(s.qname.as_bytes())),
            Field::Qtype => Value::Int(u64::from(s.qtype)),
            Field::Qclass => Value::Int(u64::from(s.qclass)),
            Field::Rcode => Value::Int(u64::from(s.rcode)),
            Field::Opcode => Value::Int(u64::from(s.opcode)),
            Field::Flags => Value::Int(u64::from(s.flags)),
            Field::Edns => Value::Int(u64::from(s.edns.is_some())),
            Field::EdnsDo => Value::Int(u64::from(s.edns.is_some_and(|e| e.dnssec_ok))),
            Field::EdnsUdpSize => Value::Int(u64::from(s.edns.map_or(0, |e| e.udp_size))),
            Field::QuerySize => size(m.query_message.as_ref()),
            Field::ResponseSize => size(m.response_message.as_ref()),
            Field::QueryZone => owned_text(
                m.query_zone
                    .as_deref()
                    .and_then(|zone| dns::name_from_wire(zone).ok()),
            ),
            Field::PolicyType => text(policy.and_then(|p| p.r#type.as_deref()).map(str::as_bytes)),
            Field::PolicyRule => owned_text(
                policy
                    .and_then(|p| p.rule.as_deref())
                    .and_then(|rule| dns::name_from_wire(rule).ok()),
            ),
            Field::PolicyAction => enum_text(policy.and_then(|p| p.action), policy_action_name),
            Field::PolicyMatch => enum_text(policy.and_then(|p| p.r#match), policy_match_name),
            Field::PolicyValue => {
                owned_text(policy.and_then(|p| policy_value_text(p.r#match, p.value.as_deref()?)))
            }
            Field::HttpProtocol => enum_text(m.http_protocol, http_protocol_name),
            Field::QueryMessage => text(m.query_message.as_deref()),
            Field::ResponseMessage => text(m.response_message.as_deref()),
            Field::BatchId => Value::Int(batch_id),
        }
    }
}

/// The table's columns that the export fills, in table order, with their
/// types; and the INSERT that names them.
#[derive(Debug)]
pub struct Layout {
    pub columns: Vec<(Field, Wire)>,
    /// `INSERT INTO db.table (…) FORMAT RowBinary`
    pub insert: String,
    /// `db.table`, quoted.
    pub table: String,
}

impl Layout {
    /// Matches the table's `columns` to the fields. Columns the server
    /// fills (DEFAULT, MATERIALIZED, ALIAS) are left to it; any other that
    /// is not a field, or whose type cannot hold it, is an error, as is a
    /// table without `time` and `batch_id` (which retries need).
    pub fn new(database: &str, table: &str, columns: &[Column]) -> Result<Layout, String> {
        let table = table_name(database, table);
        if columns.is_empty() {
            return Err(format!(
                "no table {table} (`dnstap-kit schema clickhouse` prints its DDL)"
            ));
        }
        let sample = Entry::sample();
        let mut layout = Vec::new();
        for column in columns.iter().filter(|c| c.default_kind.is_empty()) {
            let field = Field::named(&column.name).ok_or_else(|| {
                format!(
                    "{table}: column {} ({}) is not one dnstap-kit fills; give it a DEFAULT or drop it",
                    column.name, column.type_name
                )
            })?;
            let wire = Wire::parse(&column.type_name)
                .filter(|wire| wire.holds(&sample.value(field, 0)))
                .ok_or_else(|| {
                    format!(
                        "{table}: column {} has type {}, which cannot hold it (see `dnstap-kit schema clickhouse`)",
                        column.name, column.type_name
                    )
                })?;
            layout.push((field, wire));
        }
        for needed in [Field::Time, Field::BatchId] {
            if !layout.iter().any(|(field, _)| *field == needed) {
                return Err(format!(
                    "{table} has no column {}: retries need it to tell an insert that happened",
                    needed.name()
                ));
            }
        }
        let names: Vec<String> = layout
            .iter()
            .map(|(field, _)| identifier(field.name()))
            .collect();
        Ok(Layout {
            insert: format!(
                "INSERT INTO {table} ({}) FORMAT RowBinary",
                names.join(", ")
            ),
            columns: layout,
            table,
        })
    }

    /// Appends `entry` as one row.
    pub fn put(&self, out: &mut Vec<u8>, entry: &Entry, batch_id: u64) {
        for (field, wire) in &self.columns {
            wire.put(out, &entry.value(*field, batch_id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, type_name: &str) -> Column {
        Column {
            name: name.into(),
            type_name: type_name.into(),
            default_kind: String::new(),
        }
    }

    fn record(message: proto::Message) -> Vec<u8> {
        proto::Dnstap {
            identity: Some(b"ns1".to_vec()),
            r#type: proto::dnstap::Type::Message as i32,
            message: Some(message),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn a_response_row() {
        let wire = dnstap_testkit::wire::response();
        let payload = record(proto::Message {
            r#type: proto::message::Type::ClientResponse as i32,
            socket_family: Some(proto::SocketFamily::Inet as i32),
            query_address: Some(vec![192, 0, 2, 7]),
            query_port: Some(5353),
            query_time_sec: Some(1),
            response_time_sec: Some(1_700_000_000),
            response_time_nsec: Some(5),
            response_message: Some(wire.clone()),
            policy: Some(proto::Policy {
                r#match: Some(proto::policy::Match::ClientIp as i32),
                value: Some(vec![192, 0, 2, 9]),
                ..Default::default()
            }),
            ..Default::default()
        });
        let entry = Entry::decode(&payload).unwrap();
        assert_eq!(entry.value(Field::Time, 0), Value::Time(1_700_000_000, 5));
        let text = |field| match entry.value(field, 0) {
            Value::Text(text) => String::from_utf8(text.into_owned()).unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(text(Field::Identity), "ns1");
        assert_eq!(text(Field::MessageType), "CLIENT_RESPONSE");
        assert_eq!(text(Field::SocketFamily), "INET");
        assert_eq!(text(Field::SocketProtocol), "");
        assert_eq!(text(Field::Qname), "www.example.com.");
        assert_eq!(text(Field::PolicyMatch), "CLIENT_IP");
        assert_eq!(text(Field::PolicyValue), "192.0.2.9");
        let mut mapped = [0u8; 16];
        mapped[10..].copy_from_slice(&[0xff, 0xff, 192, 0, 2, 7]);
        assert_eq!(entry.value(Field::QueryAddress, 0), Value::Address(mapped));
        assert_eq!(
            entry.value(Field::ResponseAddress, 0),
            Value::Address([0; 16])
        );
        assert_eq!(
            entry.value(Field::ResponseSize, 0),
            Value::Int(wire.len() as u64)
        );
        assert_eq!(entry.value(Field::EdnsDo, 0), Value::Int(1));
        assert_eq!(entry.value(Field::BatchId, 77), Value::Int(77));
    }

    #[test]
    fn records_without_rows() {
        assert_eq!(Entry::decode(b"\xff\xff").err(), Some(Skip::Unparsable));
        let other = proto::Dnstap {
            r#type: 2,
            ..Default::default()
        };
        assert_eq!(
            Entry::decode(&other.encode_to_vec()).err(),
            Some(Skip::NotMessage)
        );
    }

    #[test]
    fn layouts_follow_the_table() {
        let columns = [
            column("batch_id", "UInt64"),
            column("time", "DateTime64(9, 'UTC')"),
            column("qname", "String"),
            Column {
                default_kind: "MATERIALIZED".into(),
                ..column("day", "Date")
            },
        ];
        let layout = Layout::new("d", "t", &columns).unwrap();
        assert_eq!(
            layout.insert,
            "INSERT INTO `d`.`t` (`batch_id`, `time`, `qname`) FORMAT RowBinary"
        );
        assert_eq!(layout.columns[1], (Field::Time, Wire::DateTime64(9)));
        let err = |columns: &[Column]| Layout::new("d", "t", columns).unwrap_err();
        assert!(err(&[]).contains("no table"));
        assert!(err(&[column("extra", "String")]).contains("not one dnstap-kit fills"));
        assert!(err(&[column("qname", "UInt32")]).contains("cannot hold"));
        assert!(err(&[column("time", "DateTime")]).contains("no column batch_id"));
    }
}
