//! What a log call copies to become a dnstap record.
//!
//! [`MessageFields`] is the borrowed view of one DNS message and its
//! context. The log call validates it into a [`QueuedMessage`] and copies
//! that into the queue as a [`RecordHeader`] (the fixed-size fields)
//! followed by the byte strings, so the caller can reuse its buffers at
//! once. The writer thread encodes the protobuf `Dnstap` from that copy
//! ([`encode`]): no allocation per message on either side.

pub(crate) mod encode;

use std::net::SocketAddr;
use std::ops::RangeInclusive;

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

/// The values each enum of the schema defines (checked against the
/// generated types by a test): a range compare, cheaper than prost's
/// `TryFrom` on the caller's path.
pub(crate) const MESSAGE_TYPES: RangeInclusive<u32> = 1..=14;
pub(crate) const SOCKET_PROTOCOLS: RangeInclusive<u32> = 1..=7;
pub(crate) const HTTP_PROTOCOLS: RangeInclusive<u32> = 1..=3;
pub(crate) const POLICY_ACTIONS: RangeInclusive<u32> = 1..=6;
pub(crate) const POLICY_MATCHES: RangeInclusive<u32> = 1..=5;
const DOH: u32 = proto::SocketProtocol::Doh as u32;

/// `value` as a byte, if it is one of `values` (or 0 when `optional`).
#[inline]
fn enum_byte(
    name: &str,
    value: u32,
    values: RangeInclusive<u32>,
    optional: bool,
) -> Result<u8, Error> {
    if values.contains(&value) || (optional && value == 0) {
        return Ok(value as u8);
    }
    Err(unknown_value(name, value))
}

// The error constructors below are cold and out of line, so that the
// caller's path does not prepare their arguments (measured: callgrind).

#[cold]
#[inline(never)]
fn unknown_value(name: &str, value: u32) -> Error {
    Error::invalid(format!("{name} {value} is not a known value"))
}

#[cold]
#[inline(never)]
fn nsec_too_big(name: &str, nsec: u32) -> Error {
    Error::invalid(format!("{name} nanoseconds {nsec} is not below 10^9"))
}

#[cold]
#[inline(never)]
fn zone_too_long(len: usize) -> Error {
    Error::invalid(format!(
        "query zone is {len} bytes; a domain name has at most {MAX_NAME}"
    ))
}

#[cold]
#[inline(never)]
fn record_too_big(size: usize) -> Error {
    Error::TooBig(format!(
        "the record would take up to {size} bytes; dnstap readers accept {MAX_FRAME_SIZE}"
    ))
}

#[cold]
#[inline(never)]
fn dns_message_too_big(name: &str, len: usize) -> Error {
    Error::TooBig(format!(
        "{name} is {len} bytes; a DNS message has at most {MAX_DNS_MESSAGE}"
    ))
}

/// Upper bound of everything but the byte strings in an encoded record.
const FIXED_FIELDS_MAX: usize = 160;

const HAS_QUERY_ADDRESS: u8 = 1;
const HAS_RESPONSE_ADDRESS: u8 = 2;
const HAS_QUERY_TIME: u8 = 4;
const HAS_RESPONSE_TIME: u8 = 8;
const HAS_POLICY: u8 = 16;
const IS_INET6: u8 = 32;

/// An IP address as the record stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Octets {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl From<SocketAddr> for Octets {
    fn from(address: SocketAddr) -> Octets {
        match address {
            SocketAddr::V4(a) => Octets::V4(a.ip().octets()),
            SocketAddr::V6(a) => Octets::V6(a.ip().octets()),
        }
    }
}

/// The fixed-size fields of one queued message; the byte strings follow it
/// in the queue, in the order of `lengths`: query message, response
/// message, query zone, extra, policy type, policy rule, policy value.
///
/// Built only through its checking setters, so a header is always valid.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordHeader {
    query_time_sec: u64,
    response_time_sec: u64,
    query_time_nsec: u32,
    response_time_nsec: u32,
    lengths: [u32; 7],
    query_port: u16,
    response_port: u16,
    query_address: [u8; 16],
    response_address: [u8; 16],
    message_type: u8,
    socket_protocol: u8,
    http_protocol: u8,
    flags: u8,
    policy_action: u8,
    policy_match: u8,
}

// SAFETY: integers and byte arrays only; any bytes written from a value
// read back as that value.
unsafe impl crate::ring::Plain for RecordHeader {}

#[inline]
fn check_nsec(name: &str, nsec: u32) -> Result<(), Error> {
    if nsec >= 1_000_000_000 {
        return Err(nsec_too_big(name, nsec));
    }
    Ok(())
}

#[inline]
fn check_dns_message(name: &str, message: &[u8]) -> Result<(), Error> {
    if message.len() > MAX_DNS_MESSAGE {
        return Err(dns_message_too_big(name, message.len()));
    }
    Ok(())
}

impl RecordHeader {
    /// Sets `Message.Type` and the protocols (0 = unset). Setters work in
    /// place: returning a header by value costs a copy on the hot path.
    #[inline(always)]
    pub(crate) fn set_kind(
        &mut self,
        message_type: u32,
        socket_protocol: u32,
        http_protocol: u32,
    ) -> Result<(), Error> {
        self.message_type = enum_byte("message type", message_type, MESSAGE_TYPES, false)?;
        self.socket_protocol =
            enum_byte("socket protocol", socket_protocol, SOCKET_PROTOCOLS, true)?;
        self.http_protocol = enum_byte("http protocol", http_protocol, HTTP_PROTOCOLS, true)?;
        if http_protocol != 0 && socket_protocol != DOH {
            return Err(Error::invalid(
                "http protocol is set but socket protocol is not DOH",
            ));
        }
        Ok(())
    }

    fn has(&self, bit: u8) -> bool {
        self.flags & bit != 0
    }

    #[inline]
    fn set_family(&mut self, octets: &Octets) -> Result<[u8; 16], Error> {
        let inet6 = matches!(octets, Octets::V6(_));
        if self.has(HAS_QUERY_ADDRESS | HAS_RESPONSE_ADDRESS) && self.has(IS_INET6) != inet6 {
            return Err(Error::invalid(
                "query and response addresses are of different families",
            ));
        }
        let mut bytes = [0u8; 16];
        match octets {
            Octets::V4(v4) => bytes[..4].copy_from_slice(v4),
            Octets::V6(v6) => bytes = *v6,
        }
        if inet6 {
            self.flags |= IS_INET6;
        }
        Ok(bytes)
    }

    #[inline]
    pub(crate) fn set_query_address(&mut self, octets: Octets, port: u16) -> Result<(), Error> {
        self.query_address = self.set_family(&octets)?;
        self.query_port = port;
        self.flags |= HAS_QUERY_ADDRESS;
        Ok(())
    }

    #[inline]
    pub(crate) fn set_response_address(&mut self, octets: Octets, port: u16) -> Result<(), Error> {
        self.response_address = self.set_family(&octets)?;
        self.response_port = port;
        self.flags |= HAS_RESPONSE_ADDRESS;
        Ok(())
    }

    #[inline]
    pub(crate) fn set_query_time(&mut self, sec: u64, nsec: u32) -> Result<(), Error> {
        check_nsec("query time", nsec)?;
        (self.query_time_sec, self.query_time_nsec) = (sec, nsec);
        self.flags |= HAS_QUERY_TIME;
        Ok(())
    }

    #[inline]
    pub(crate) fn set_response_time(&mut self, sec: u64, nsec: u32) -> Result<(), Error> {
        check_nsec("response time", nsec)?;
        (self.response_time_sec, self.response_time_nsec) = (sec, nsec);
        self.flags |= HAS_RESPONSE_TIME;
        Ok(())
    }

    #[inline]
    pub(crate) fn set_policy(&mut self, action: u32, match_kind: u32) -> Result<(), Error> {
        self.policy_action = enum_byte("policy action", action, POLICY_ACTIONS, true)?;
        self.policy_match = enum_byte("policy match", match_kind, POLICY_MATCHES, true)?;
        self.flags |= HAS_POLICY;
        Ok(())
    }

    fn address_len(&self) -> usize {
        if self.has(IS_INET6) { 16 } else { 4 }
    }

    /// The byte strings in `payload`, in `lengths` order.
    fn split<'a>(&self, mut payload: &'a [u8]) -> [&'a [u8]; 7] {
        self.lengths.map(|length| {
            let (head, rest) = payload.split_at(length as usize);
            payload = rest;
            head
        })
    }
}

/// A message in the form the queue stores: fill `header` through its
/// setters and `strings` (query message, response message, query zone,
/// extra, policy type, rule, value), then [`QueuedMessage::complete`] it.
#[derive(Clone, Copy, Debug, Default)]
pub struct QueuedMessage<'a> {
    pub(crate) header: RecordHeader,
    pub(crate) strings: [&'a [u8]; 7],
}

impl QueuedMessage<'_> {
    /// Checks the byte strings' sizes and records them in the header;
    /// `envelope` is the size of the identity and version the record will carry.
    #[inline(always)]
    pub(crate) fn complete(&mut self, envelope: usize) -> Result<(), Error> {
        let [
            query_message,
            response_message,
            query_zone,
            _,
            policy_type,
            _,
            _,
        ] = self.strings;
        check_dns_message("query message", query_message)?;
        check_dns_message("response message", response_message)?;
        if query_zone.len() > MAX_NAME {
            return Err(zone_too_long(query_zone.len()));
        }
        if !policy_type.is_empty() && std::str::from_utf8(policy_type).is_err() {
            return Err(Error::invalid("policy type is not UTF-8"));
        }
        let size =
            envelope + self.strings.iter().map(|b| b.len() + 6).sum::<usize>() + FIXED_FIELDS_MAX;
        if size > MAX_FRAME_SIZE {
            return Err(record_too_big(size));
        }
        self.header.lengths = self.strings.map(|s| s.len() as u32);
        Ok(())
    }
}

impl<'a> MessageFields<'a> {
    /// Checks every field against the schema and returns the queued form.
    /// `envelope` is the size of the identity and version the record will carry.
    pub fn validate(&self, envelope: usize) -> Result<QueuedMessage<'a>, Error> {
        let mut message = QueuedMessage::default();
        let header = &mut message.header;
        header.set_kind(self.message_type, self.socket_protocol, self.http_protocol)?;
        if let Some(address) = self.query_address {
            header.set_query_address(address.into(), address.port())?;
        }
        if let Some(address) = self.response_address {
            header.set_response_address(address.into(), address.port())?;
        }
        if let Some(time) = self.query_time {
            header.set_query_time(time.sec, time.nsec)?;
        }
        if let Some(time) = self.response_time {
            header.set_response_time(time.sec, time.nsec)?;
        }
        let policy = self.policy.unwrap_or_default();
        if self.policy.is_some() {
            header.set_policy(policy.action, policy.match_kind)?;
        }
        message.strings = [
            self.query_message,
            self.response_message,
            self.query_zone,
            self.extra,
            policy.policy_type,
            policy.rule,
            policy.value,
        ];
        message.complete(envelope)?;
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message with every field set.
    pub(super) fn full() -> MessageFields<'static> {
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

    #[test]
    fn queued_form_keeps_every_byte_string() {
        let message = full().validate(0).unwrap();
        assert_eq!(
            message.header.split(&message.strings.concat()),
            message.strings
        );
        let policy = full().policy.unwrap();
        assert_eq!(
            message.strings[4..],
            [policy.policy_type, policy.rule, policy.value]
        );
    }

    #[test]
    fn enum_ranges_are_the_schema_enums() {
        type Defined = fn(i32) -> bool;
        let schema: [(&RangeInclusive<u32>, Defined); 5] = [
            (&MESSAGE_TYPES, |v| {
                proto::message::Type::try_from(v).is_ok()
            }),
            (&SOCKET_PROTOCOLS, |v| {
                proto::SocketProtocol::try_from(v).is_ok()
            }),
            (&HTTP_PROTOCOLS, |v| {
                proto::HttpProtocol::try_from(v).is_ok()
            }),
            (&POLICY_ACTIONS, |v| {
                proto::policy::Action::try_from(v).is_ok()
            }),
            (&POLICY_MATCHES, |v| {
                proto::policy::Match::try_from(v).is_ok()
            }),
        ];
        for (range, defined) in schema {
            for value in 0..64u32 {
                assert_eq!(
                    range.contains(&value),
                    defined(value as i32),
                    "{range:?} {value}"
                );
            }
        }
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
}
