//! The writer's half of a record: a queued message encoded as a
//! `dnstap.Dnstap` protobuf, in place, straight into the output buffer.
//! A child of `record`, so it reads the header's fields without opening
//! them to the rest of the crate.

use super::{
    HAS_POLICY, HAS_QUERY_ADDRESS, HAS_QUERY_TIME, HAS_RESPONSE_ADDRESS, HAS_RESPONSE_TIME,
    IS_INET6, RecordHeader,
};
use crate::proto;

const VARINT: u64 = 0;
const LENGTH_DELIMITED: u64 = 2;
const FIXED32: u64 = 5;

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_key(out: &mut Vec<u8>, tag: u64, wire_type: u64) {
    put_varint(out, (tag << 3) | wire_type);
}

fn put_bytes(out: &mut Vec<u8>, tag: u64, value: &[u8]) {
    if !value.is_empty() {
        put_key(out, tag, LENGTH_DELIMITED);
        put_varint(out, value.len() as u64);
        out.extend_from_slice(value);
    }
}

fn put_uint(out: &mut Vec<u8>, tag: u64, value: u64) {
    put_key(out, tag, VARINT);
    put_varint(out, value);
}

fn put_nonzero(out: &mut Vec<u8>, tag: u64, value: u8) {
    if value != 0 {
        put_uint(out, tag, value.into());
    }
}

fn put_fixed32(out: &mut Vec<u8>, tag: u64, value: u32) {
    put_key(out, tag, FIXED32);
    out.extend_from_slice(&value.to_le_bytes());
}

/// Encodes queued records as `Dnstap` protobufs, fields in tag order as
/// protobuf serializers emit them (the tests compare with prost byte for
/// byte). Hand-written over `Vec<u8>`: prost's generic `BufMut` path cost
/// twice the instructions per record.
pub struct Encoder {
    /// Identity and version, encoded once: the same in every record.
    envelope: Vec<u8>,
    message: Vec<u8>,
    policy: Vec<u8>,
}

impl Encoder {
    pub fn new(identity: &[u8], version: &[u8]) -> Encoder {
        let mut envelope = Vec::new();
        put_bytes(&mut envelope, 1, identity);
        put_bytes(&mut envelope, 2, version);
        Encoder {
            envelope,
            message: Vec::with_capacity(1024),
            policy: Vec::new(),
        }
    }

    /// Appends the `Dnstap` protobuf of one record to `out`.
    pub fn encode(&mut self, header: &RecordHeader, payload: &[u8], out: &mut Vec<u8>) {
        let [
            query_message,
            response_message,
            query_zone,
            extra,
            policy_type,
            rule,
            value,
        ] = header.split(payload);
        let m = &mut self.message;
        m.clear();
        put_uint(m, 1, header.message_type.into());
        let address_len = header.address_len();
        if header.has(HAS_QUERY_ADDRESS) || header.has(HAS_RESPONSE_ADDRESS) {
            let family = if header.has(IS_INET6) {
                proto::SocketFamily::Inet6
            } else {
                proto::SocketFamily::Inet
            };
            put_uint(m, 2, family as u64);
        }
        put_nonzero(m, 3, header.socket_protocol);
        if header.has(HAS_QUERY_ADDRESS) {
            put_bytes(m, 4, &header.query_address[..address_len]);
        }
        if header.has(HAS_RESPONSE_ADDRESS) {
            put_bytes(m, 5, &header.response_address[..address_len]);
        }
        if header.has(HAS_QUERY_ADDRESS) {
            put_uint(m, 6, header.query_port.into());
        }
        if header.has(HAS_RESPONSE_ADDRESS) {
            put_uint(m, 7, header.response_port.into());
        }
        if header.has(HAS_QUERY_TIME) {
            put_uint(m, 8, header.query_time_sec);
            put_fixed32(m, 9, header.query_time_nsec);
        }
        put_bytes(m, 10, query_message);
        put_bytes(m, 11, query_zone);
        if header.has(HAS_RESPONSE_TIME) {
            put_uint(m, 12, header.response_time_sec);
            put_fixed32(m, 13, header.response_time_nsec);
        }
        put_bytes(m, 14, response_message);
        if header.has(HAS_POLICY) {
            let p = &mut self.policy;
            p.clear();
            put_bytes(p, 1, policy_type);
            put_bytes(p, 2, rule);
            put_nonzero(p, 3, header.policy_action);
            put_nonzero(p, 4, header.policy_match);
            put_bytes(p, 5, value);
            put_key(m, 15, LENGTH_DELIMITED);
            put_varint(m, p.len() as u64);
            m.extend_from_slice(p);
        }
        put_nonzero(m, 16, header.http_protocol);

        out.extend_from_slice(&self.envelope);
        put_bytes(out, 3, extra);
        put_key(out, 14, LENGTH_DELIMITED);
        put_varint(out, m.len() as u64);
        out.extend_from_slice(m);
        put_uint(out, 15, proto::dnstap::Type::Message as u64);
    }

    /// Appends one Frame Streams data frame holding the record to `out`.
    pub fn encode_frame(&mut self, header: &RecordHeader, payload: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        self.encode(header, payload, out);
        let payload_len = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&payload_len.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::record::tests::full;
    use crate::record::{MAX_DNS_MESSAGE, MAX_FRAME_SIZE, MAX_IDENTITY, MessageFields};
    use prost::Message as _;

    /// Encodes `fields` the way the writer does: through the queued form.
    fn encode(fields: &MessageFields<'_>, identity: &[u8], version: &[u8]) -> Vec<u8> {
        let message = fields.validate(0).unwrap();
        let mut out = Vec::new();
        Encoder::new(identity, version).encode(
            &message.header,
            &message.strings.concat(),
            &mut out,
        );
        out
    }

    fn expected(fields: &MessageFields<'_>) -> proto::Dnstap {
        let octets = |a: &Option<SocketAddr>| {
            a.map(|a| match a.ip() {
                std::net::IpAddr::V4(ip) => ip.octets().to_vec(),
                std::net::IpAddr::V6(ip) => ip.octets().to_vec(),
            })
        };
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
            let out = encode(&fields, b"ns1", b"test 1");
            let decoded = proto::Dnstap::decode(&out[..]).unwrap();
            let reference = expected(&fields);
            assert_eq!(decoded, reference);
            assert_eq!(out, reference.encode_to_vec(), "prost emits the same bytes");
        }
    }

    #[test]
    fn frame_is_length_prefixed() {
        let message = full().validate(0).unwrap();
        let mut out = vec![0xAA];
        Encoder::new(b"", b"").encode_frame(&message.header, &message.strings.concat(), &mut out);
        let len = u32::from_be_bytes(out[1..5].try_into().unwrap()) as usize;
        assert_eq!(len, out.len() - 5);
        proto::Dnstap::decode(&out[5..]).unwrap();
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
        let out = encode(&fields, &identity, &identity);
        assert!(out.len() <= MAX_FRAME_SIZE, "{}", out.len());
    }
}
