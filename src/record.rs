//! What a log call copies, and how the writer turns it into a dnstap record.
//!
//! [`MessageFields`] is the validated, borrowed view of one DNS message and
//! its context. The log call copies it into a [`Record`]: one allocation
//! holding a fixed header and the byte strings, so the caller can reuse its
//! buffers at once. The writer thread views the record as `MessageFields`
//! again and encodes the protobuf `Dnstap` with prost's wire primitives,
//! straight into its output buffer (no per-field allocation).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use prost::encoding::{WireType, encode_key, encode_varint};

use crate::error::Error;
use crate::proto;

/// Largest dnstap payload (one Frame Streams data frame) the library emits:
/// the golang-dnstap reader's limit, the tightest among common readers.
pub const MAX_FRAME_SIZE: usize = 96 * 1024;
/// Largest DNS message.
pub const MAX_DNS_MESSAGE: usize = 65535;
/// Largest wire-format domain name.
pub const MAX_NAME: usize = 255;
/// Largest identity or version string.
pub const MAX_IDENTITY: usize = 4096;

/// Seconds and nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timestamp {
    pub sec: u64,
    pub nsec: u32,
}

/// Policy (for example RPZ) applied to the message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyFields<'a> {
    /// `Policy.type`, for example "RPZ"; UTF-8.
    pub policy_type: &'a [u8],
    pub rule: &'a [u8],
    /// `Policy.Action`, 0 = unset.
    pub action: u32,
    /// `Policy.Match`, 0 = unset.
    pub match_kind: u32,
    pub value: &'a [u8],
}

/// One DNS message and its context. Empty byte strings and `None` are unset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageFields<'a> {
    /// `Message.Type`, 1..=14.
    pub message_type: u32,
    /// `SocketProtocol`, 0 = unset.
    pub socket_protocol: u32,
    /// `HttpProtocol`, 0 = unset; only with DOH.
    pub http_protocol: u32,
    pub query_address: Option<SocketAddr>,
    pub response_address: Option<SocketAddr>,
    pub query_time: Option<Timestamp>,
    pub response_time: Option<Timestamp>,
    pub query_message: &'a [u8],
    pub response_message: &'a [u8],
    /// Wire-format name of the zone (resolver and forwarder messages).
    pub query_zone: &'a [u8],
    /// `Dnstap.extra`.
    pub extra: &'a [u8],
    pub policy: Option<PolicyFields<'a>>,
}

fn check_enum(name: &str, value: u32, valid: bool) -> Result<(), Error> {
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{name} {value} is not a known value"
        )))
    }
}

fn as_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn optional_enum<E: TryFrom<i32>>(value: u32) -> bool {
    value == 0 || E::try_from(as_i32(value)).is_ok()
}

fn check_time(name: &str, time: Option<Timestamp>) -> Result<(), Error> {
    match time {
        Some(t) if t.nsec >= 1_000_000_000 => Err(Error::invalid(format!(
            "{name} nanoseconds {} is not below 10^9",
            t.nsec
        ))),
        _ => Ok(()),
    }
}

fn check_dns_message(name: &str, message: &[u8]) -> Result<(), Error> {
    if message.len() > MAX_DNS_MESSAGE {
        return Err(Error::TooBig(format!(
            "{name} is {} bytes; a DNS message has at most {MAX_DNS_MESSAGE}",
            message.len()
        )));
    }
    Ok(())
}

impl MessageFields<'_> {
    /// Checks every field against the schema. `envelope` is the size of the
    /// identity and version the record will carry.
    pub fn validate(&self, envelope: usize) -> Result<(), Error> {
        check_enum(
            "message type",
            self.message_type,
            proto::message::Type::try_from(as_i32(self.message_type)).is_ok(),
        )?;
        check_enum(
            "socket protocol",
            self.socket_protocol,
            optional_enum::<proto::SocketProtocol>(self.socket_protocol),
        )?;
        check_enum(
            "http protocol",
            self.http_protocol,
            optional_enum::<proto::HttpProtocol>(self.http_protocol),
        )?;
        if self.http_protocol != 0 && self.socket_protocol != proto::SocketProtocol::Doh as u32 {
            return Err(Error::invalid(
                "http protocol is set but socket protocol is not DOH",
            ));
        }
        if let (Some(query), Some(response)) = (self.query_address, self.response_address) {
            if query.is_ipv4() != response.is_ipv4() {
                return Err(Error::invalid(
                    "query and response addresses are of different families",
                ));
            }
        }
        check_time("query time", self.query_time)?;
        check_time("response time", self.response_time)?;
        check_dns_message("query message", self.query_message)?;
        check_dns_message("response message", self.response_message)?;
        if self.query_zone.len() > MAX_NAME {
            return Err(Error::invalid(format!(
                "query zone is {} bytes; a domain name has at most {MAX_NAME}",
                self.query_zone.len()
            )));
        }
        if let Some(policy) = &self.policy {
            check_enum(
                "policy action",
                policy.action,
                optional_enum::<proto::policy::Action>(policy.action),
            )?;
            check_enum(
                "policy match",
                policy.match_kind,
                optional_enum::<proto::policy::Match>(policy.match_kind),
            )?;
            if std::str::from_utf8(policy.policy_type).is_err() {
                return Err(Error::invalid("policy type is not UTF-8"));
            }
        }
        let size = envelope
            + self
                .byte_strings()
                .iter()
                .map(|b| b.len() + 6)
                .sum::<usize>()
            + FIXED_FIELDS_MAX;
        if size > MAX_FRAME_SIZE {
            return Err(Error::TooBig(format!(
                "the record would take up to {size} bytes; dnstap readers accept {MAX_FRAME_SIZE}"
            )));
        }
        Ok(())
    }

    /// The variable-length fields, in record order.
    fn byte_strings(&self) -> [&[u8]; 7] {
        let policy = self.policy.unwrap_or_default();
        [
            self.query_message,
            self.response_message,
            self.query_zone,
            self.extra,
            policy.policy_type,
            policy.rule,
            policy.value,
        ]
    }
}

/// Upper bound of everything but the byte strings in an encoded record.
const FIXED_FIELDS_MAX: usize = 160;

/// Size of the fixed part of a [`Record`].
const HEADER_LEN: usize = 4 + 4 + 2 * 18 + 2 * 12 + 7 * 4;

const HAS_QUERY_ADDRESS: u8 = 1;
const HAS_RESPONSE_ADDRESS: u8 = 2;
const HAS_QUERY_TIME: u8 = 4;
const HAS_RESPONSE_TIME: u8 = 8;
const HAS_POLICY: u8 = 16;
const IS_INET6: u8 = 32;

/// An owned copy of one message, as it waits in the queue.
#[derive(Debug)]
pub struct Record {
    bytes: Vec<u8>,
}

fn put_address(out: &mut Vec<u8>, address: Option<SocketAddr>) {
    let (octets, port) = match address {
        Some(SocketAddr::V4(a)) => {
            let mut octets = [0u8; 16];
            octets[..4].copy_from_slice(&a.ip().octets());
            (octets, a.port())
        }
        Some(SocketAddr::V6(a)) => (a.ip().octets(), a.port()),
        None => ([0; 16], 0),
    };
    out.extend_from_slice(&octets);
    out.extend_from_slice(&port.to_le_bytes());
}

fn put_time(out: &mut Vec<u8>, time: Option<Timestamp>) {
    let time = time.unwrap_or_default();
    out.extend_from_slice(&time.sec.to_le_bytes());
    out.extend_from_slice(&time.nsec.to_le_bytes());
}

/// Reads fixed-size little-endian fields from the front of a record.
struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let (head, rest) = self.bytes.split_at(N);
        self.bytes = rest;
        head.try_into().expect("split_at returned N bytes")
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }

    fn address(&mut self, present: bool, inet6: bool) -> Option<SocketAddr> {
        let octets: [u8; 16] = self.take();
        let port = u16::from_le_bytes(self.take());
        let ip = if inet6 {
            IpAddr::V6(Ipv6Addr::from(octets))
        } else {
            IpAddr::V4(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3]))
        };
        present.then_some(SocketAddr::new(ip, port))
    }

    fn time(&mut self, present: bool) -> Option<Timestamp> {
        let sec = u64::from_le_bytes(self.take());
        let nsec = self.u32();
        present.then_some(Timestamp { sec, nsec })
    }

    fn slice(&mut self, len: usize) -> &'a [u8] {
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        head
    }
}

impl Record {
    /// Copies `fields` (already validated) into one allocation.
    pub fn copy(fields: &MessageFields<'_>) -> Result<Record, Error> {
        let strings = fields.byte_strings();
        let total = HEADER_LEN + strings.iter().map(|s| s.len()).sum::<usize>();
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(total)
            .map_err(|_| Error::NoMemory)?;
        let policy = fields.policy.unwrap_or_default();
        let inet6 = fields
            .query_address
            .or(fields.response_address)
            .is_some_and(|a| a.is_ipv6());
        let flags = [
            (fields.query_address.is_some(), HAS_QUERY_ADDRESS),
            (fields.response_address.is_some(), HAS_RESPONSE_ADDRESS),
            (fields.query_time.is_some(), HAS_QUERY_TIME),
            (fields.response_time.is_some(), HAS_RESPONSE_TIME),
            (fields.policy.is_some(), HAS_POLICY),
            (inet6, IS_INET6),
        ]
        .iter()
        .filter(|(set, _)| *set)
        .fold(0u8, |acc, (_, bit)| acc | bit);
        // Enum values were validated to fit in a byte.
        bytes.extend_from_slice(&[
            fields.message_type as u8,
            fields.socket_protocol as u8,
            fields.http_protocol as u8,
            flags,
            policy.action as u8,
            policy.match_kind as u8,
            0,
            0,
        ]);
        put_address(&mut bytes, fields.query_address);
        put_address(&mut bytes, fields.response_address);
        put_time(&mut bytes, fields.query_time);
        put_time(&mut bytes, fields.response_time);
        for string in &strings {
            bytes.extend_from_slice(&(string.len() as u32).to_le_bytes());
        }
        for string in &strings {
            bytes.extend_from_slice(string);
        }
        debug_assert_eq!(bytes.len(), total);
        Ok(Record { bytes })
    }

    /// The message as fields borrowed from this record.
    pub fn fields(&self) -> MessageFields<'_> {
        let mut cursor = Cursor { bytes: &self.bytes };
        let [
            message_type,
            socket_protocol,
            http_protocol,
            flags,
            action,
            match_kind,
            _,
            _,
        ] = cursor.take();
        let has = |bit: u8| flags & bit != 0;
        let inet6 = has(IS_INET6);
        let query_address = cursor.address(has(HAS_QUERY_ADDRESS), inet6);
        let response_address = cursor.address(has(HAS_RESPONSE_ADDRESS), inet6);
        let query_time = cursor.time(has(HAS_QUERY_TIME));
        let response_time = cursor.time(has(HAS_RESPONSE_TIME));
        let lens: [u32; 7] = std::array::from_fn(|_| cursor.u32());
        let [
            query_message,
            response_message,
            query_zone,
            extra,
            policy_type,
            rule,
            value,
        ] = lens.map(|len| cursor.slice(len as usize));
        MessageFields {
            message_type: message_type.into(),
            socket_protocol: socket_protocol.into(),
            http_protocol: http_protocol.into(),
            query_address,
            response_address,
            query_time,
            response_time,
            query_message,
            response_message,
            query_zone,
            extra,
            policy: has(HAS_POLICY).then_some(PolicyFields {
                policy_type,
                rule,
                action: action.into(),
                match_kind: match_kind.into(),
                value,
            }),
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, tag: u32, value: &[u8]) {
    if !value.is_empty() {
        encode_key(tag, WireType::LengthDelimited, out);
        encode_varint(value.len() as u64, out);
        out.extend_from_slice(value);
    }
}

fn put_varint(out: &mut Vec<u8>, tag: u32, value: u64) {
    encode_key(tag, WireType::Varint, out);
    encode_varint(value, out);
}

fn put_nonzero(out: &mut Vec<u8>, tag: u32, value: u32) {
    if value != 0 {
        put_varint(out, tag, value.into());
    }
}

fn put_fixed32(out: &mut Vec<u8>, tag: u32, value: u32) {
    encode_key(tag, WireType::ThirtyTwoBit, out);
    out.extend_from_slice(&value.to_le_bytes());
}

fn ip_octets(address: &SocketAddr) -> Vec<u8> {
    match address.ip() {
        IpAddr::V4(ip) => ip.octets().to_vec(),
        IpAddr::V6(ip) => ip.octets().to_vec(),
    }
}

/// Encodes dnstap records; keeps its scratch buffers between calls.
#[derive(Default)]
pub struct Encoder {
    message: Vec<u8>,
    policy: Vec<u8>,
}

impl Encoder {
    /// Appends one `Dnstap` protobuf (fields in tag order, as protobuf
    /// serializers emit them) to `out`.
    pub fn encode(
        &mut self,
        fields: &MessageFields<'_>,
        identity: &[u8],
        version: &[u8],
        out: &mut Vec<u8>,
    ) {
        self.encode_message(fields);
        put_bytes(out, 1, identity);
        put_bytes(out, 2, version);
        put_bytes(out, 3, fields.extra);
        encode_key(14, WireType::LengthDelimited, out);
        encode_varint(self.message.len() as u64, out);
        out.extend_from_slice(&self.message);
        put_varint(out, 15, proto::dnstap::Type::Message as u64);
    }

    /// Appends one Frame Streams data frame holding the record to `out`.
    pub fn encode_frame(
        &mut self,
        fields: &MessageFields<'_>,
        identity: &[u8],
        version: &[u8],
        out: &mut Vec<u8>,
    ) {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        self.encode(fields, identity, version, out);
        let payload_len = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&payload_len.to_be_bytes());
    }

    fn encode_message(&mut self, f: &MessageFields<'_>) {
        let out = &mut self.message;
        out.clear();
        put_varint(out, 1, f.message_type.into());
        if let Some(address) = f.query_address.or(f.response_address) {
            let family = if address.is_ipv6() {
                proto::SocketFamily::Inet6
            } else {
                proto::SocketFamily::Inet
            };
            put_varint(out, 2, family as u64);
        }
        put_nonzero(out, 3, f.socket_protocol);
        if let Some(address) = &f.query_address {
            put_bytes(out, 4, &ip_octets(address));
        }
        if let Some(address) = &f.response_address {
            put_bytes(out, 5, &ip_octets(address));
        }
        if let Some(address) = &f.query_address {
            put_varint(out, 6, address.port().into());
        }
        if let Some(address) = &f.response_address {
            put_varint(out, 7, address.port().into());
        }
        if let Some(time) = f.query_time {
            put_varint(out, 8, time.sec);
            put_fixed32(out, 9, time.nsec);
        }
        put_bytes(out, 10, f.query_message);
        put_bytes(out, 11, f.query_zone);
        if let Some(time) = f.response_time {
            put_varint(out, 12, time.sec);
            put_fixed32(out, 13, time.nsec);
        }
        put_bytes(out, 14, f.response_message);
        if let Some(policy) = &f.policy {
            let nested = &mut self.policy;
            nested.clear();
            put_bytes(nested, 1, policy.policy_type);
            put_bytes(nested, 2, policy.rule);
            put_nonzero(nested, 3, policy.action);
            put_nonzero(nested, 4, policy.match_kind);
            put_bytes(nested, 5, policy.value);
            encode_key(15, WireType::LengthDelimited, out);
            encode_varint(nested.len() as u64, out);
            out.extend_from_slice(nested);
        }
        put_nonzero(out, 16, f.http_protocol);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    fn full() -> MessageFields<'static> {
        MessageFields {
            message_type: proto::message::Type::ClientResponse as u32,
            socket_protocol: proto::SocketProtocol::Doh as u32,
            http_protocol: proto::HttpProtocol::Http2 as u32,
            query_address: Some("[2001:db8::1]:53000".parse().unwrap()),
            response_address: Some("[::1]:443".parse().unwrap()),
            query_time: Some(Timestamp { sec: 1_700_000_000, nsec: 123_456_789 }),
            response_time: Some(Timestamp { sec: 1_700_000_001, nsec: 999_999_999 }),
            query_message: b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01",
            response_message: b"\x12\x34\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00",
            query_zone: b"\x07example\x03com\x00",
            extra: b"rtt=12",
            policy: Some(PolicyFields {
                policy_type: b"RPZ",
                rule: b"\x03bad\x07example\x00",
                action: proto::policy::Action::Nxdomain as u32,
                match_kind: proto::policy::Match::Qname as u32,
                value: b"\x03bad\x07example\x03com\x00",
            }),
        }
    }

    fn expected(fields: &MessageFields<'_>) -> proto::Dnstap {
        let octets = |a: &Option<SocketAddr>| a.as_ref().map(ip_octets);
        let family = fields.query_address.or(fields.response_address).map(|a| {
            if a.is_ipv6() {
                proto::SocketFamily::Inet6 as i32
            } else {
                proto::SocketFamily::Inet as i32
            }
        });
        let non_empty = |b: &[u8]| (!b.is_empty()).then(|| b.to_vec());
        let non_zero = |v: u32| (v != 0).then_some(v as i32);
        proto::Dnstap {
            identity: Some(b"ns1".to_vec()),
            version: Some(b"test 1".to_vec()),
            extra: non_empty(fields.extra),
            r#type: proto::dnstap::Type::Message as i32,
            message: Some(proto::Message {
                r#type: fields.message_type as i32,
                socket_family: family,
                socket_protocol: non_zero(fields.socket_protocol),
                query_address: octets(&fields.query_address),
                response_address: octets(&fields.response_address),
                query_port: fields.query_address.map(|a| a.port().into()),
                response_port: fields.response_address.map(|a| a.port().into()),
                query_time_sec: fields.query_time.map(|t| t.sec),
                query_time_nsec: fields.query_time.map(|t| t.nsec),
                query_message: non_empty(fields.query_message),
                query_zone: non_empty(fields.query_zone),
                response_time_sec: fields.response_time.map(|t| t.sec),
                response_time_nsec: fields.response_time.map(|t| t.nsec),
                response_message: non_empty(fields.response_message),
                policy: fields.policy.map(|p| proto::Policy {
                    r#type: Some(String::from_utf8(p.policy_type.to_vec()).unwrap()),
                    rule: non_empty(p.rule),
                    action: non_zero(p.action),
                    r#match: non_zero(p.match_kind),
                    value: non_empty(p.value),
                }),
                http_protocol: non_zero(fields.http_protocol),
            }),
        }
    }

    #[test]
    fn encoding_matches_prost_field_for_field_and_byte_for_byte() {
        let ipv4_minimal = MessageFields {
            message_type: proto::message::Type::ClientQuery as u32,
            query_address: Some("192.0.2.1:5353".parse().unwrap()),
            query_message: b"\x00\x01",
            ..Default::default()
        };
        for fields in [full(), ipv4_minimal] {
            let mut out = Vec::new();
            Encoder::default().encode(&fields, b"ns1", b"test 1", &mut out);
            let decoded = proto::Dnstap::decode(&out[..]).unwrap();
            let reference = expected(&fields);
            assert_eq!(decoded, reference);
            assert_eq!(out, reference.encode_to_vec(), "prost emits the same bytes");
        }
    }

    #[test]
    fn record_copy_round_trips_every_field() {
        let fields = full();
        assert_eq!(Record::copy(&fields).unwrap().fields(), fields);
        let sparse = MessageFields {
            message_type: 1,
            ..Default::default()
        };
        assert_eq!(Record::copy(&sparse).unwrap().fields(), sparse);
        let v4_response_only = MessageFields {
            message_type: 4,
            response_address: Some("198.51.100.7:53".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(
            Record::copy(&v4_response_only).unwrap().fields(),
            v4_response_only
        );
    }

    #[test]
    fn frame_is_length_prefixed() {
        let mut out = vec![0xAA];
        Encoder::default().encode_frame(&full(), b"", b"", &mut out);
        let len = u32::from_be_bytes(out[1..5].try_into().unwrap()) as usize;
        assert_eq!(len, out.len() - 5);
        proto::Dnstap::decode(&out[5..]).unwrap();
    }

    #[test]
    fn validation_rejects_out_of_range_values() {
        let bad = [
            MessageFields {
                message_type: 0,
                ..full()
            },
            MessageFields {
                message_type: 15,
                ..full()
            },
            MessageFields {
                socket_protocol: 8,
                ..full()
            },
            MessageFields {
                http_protocol: 4,
                ..full()
            },
            MessageFields {
                socket_protocol: 1,
                ..full()
            },
            MessageFields {
                query_address: Some("192.0.2.1:1".parse().unwrap()),
                ..full()
            },
            MessageFields {
                query_time: Some(Timestamp {
                    sec: 1,
                    nsec: 1_000_000_000,
                }),
                ..full()
            },
            MessageFields {
                query_zone: &[1; 256],
                ..full()
            },
            MessageFields {
                policy: Some(PolicyFields {
                    action: 7,
                    ..full().policy.unwrap()
                }),
                ..full()
            },
            MessageFields {
                policy: Some(PolicyFields {
                    match_kind: 6,
                    ..full().policy.unwrap()
                }),
                ..full()
            },
            MessageFields {
                policy: Some(PolicyFields {
                    policy_type: b"\xff",
                    ..full().policy.unwrap()
                }),
                ..full()
            },
        ];
        for fields in bad {
            assert!(
                matches!(fields.validate(0), Err(Error::Invalid(_))),
                "{fields:?}"
            );
        }
        full().validate(0).unwrap();
        for t in 1..=14 {
            MessageFields {
                message_type: t,
                ..full()
            }
            .validate(0)
            .unwrap();
        }
    }

    #[test]
    fn validation_rejects_oversize_messages() {
        let big = vec![0u8; MAX_DNS_MESSAGE + 1];
        let fields = MessageFields {
            query_message: &big,
            ..full()
        };
        assert!(matches!(fields.validate(0), Err(Error::TooBig(_))));
        let max = vec![0u8; MAX_DNS_MESSAGE];
        let both = MessageFields {
            query_message: &max,
            response_message: &max,
            ..full()
        };
        assert!(matches!(both.validate(0), Err(Error::TooBig(_))));
        let one = MessageFields {
            query_message: &max,
            ..full()
        };
        one.validate(2 * MAX_IDENTITY).unwrap();
        let extra = vec![0u8; MAX_FRAME_SIZE];
        assert!(matches!(
            MessageFields {
                extra: &extra,
                ..full()
            }
            .validate(0),
            Err(Error::TooBig(_))
        ));
    }

    #[test]
    fn validated_bound_covers_the_encoded_size() {
        let max = vec![0xffu8; MAX_DNS_MESSAGE];
        let fields = MessageFields {
            query_message: &max,
            extra: &max[..20_000],
            ..full()
        };
        let identity = vec![b'i'; MAX_IDENTITY];
        fields.validate(2 * MAX_IDENTITY).unwrap();
        let mut out = Vec::new();
        Encoder::default().encode(&fields, &identity, &identity, &mut out);
        assert!(out.len() <= MAX_FRAME_SIZE, "{}", out.len());
    }
}
