//! From one dnstap record to what a passive DNS sensor may store: the
//! checks a response must pass (or the reason it is discarded), then its
//! RRsets in canonical form, passed through the bailiwick rule.

use domain::base::iana::{Opcode, Rcode};
use domain::base::name::{Name, ToName};
use prost::Message as _;

use super::bailiwick::{self, Rejection};
use super::canonical::{self, RRset, name_text};
use crate::decode::dns;
use dnstap::proto::{self, message::Type as MessageType};

/// Why a whole record is not used. The names are those of the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Discard {
    /// The frame is not a `Dnstap` protobuf.
    Undecodable,
    /// Not a MESSAGE, or a message of another type.
    NotResolverResponse,
    /// A FORWARDER_RESPONSE, and forwarders are not trusted.
    ForwarderResponse,
    NoResponseMessage,
    /// The response does not parse completely (or has bytes after it).
    Unparsable,
    /// QR clear.
    NotResponse,
    /// QDCOUNT is not 1.
    QuestionCount,
    /// Opcode other than QUERY.
    Opcode,
    /// TC set: the records are a fragment.
    Truncated,
    /// An rcode other than NOERROR and NXDOMAIN.
    Rcode,
    /// `query_zone` missing, or not a valid wire-format name.
    NoQueryZone,
    /// Neither response nor query time.
    NoTime,
}

impl Discard {
    pub const ALL: [Discard; 12] = [
        Discard::Undecodable,
        Discard::NotResolverResponse,
        Discard::ForwarderResponse,
        Discard::NoResponseMessage,
        Discard::Unparsable,
        Discard::NotResponse,
        Discard::QuestionCount,
        Discard::Opcode,
        Discard::Truncated,
        Discard::Rcode,
        Discard::NoQueryZone,
        Discard::NoTime,
    ];

    /// The counter's name, as printed.
    pub fn name(self) -> &'static str {
        match self {
            Discard::Undecodable => "undecodable",
            Discard::NotResolverResponse => "not_resolver_response",
            Discard::ForwarderResponse => "forwarder_response",
            Discard::NoResponseMessage => "no_response_message",
            Discard::Unparsable => "unparsable",
            Discard::NotResponse => "not_a_response",
            Discard::QuestionCount => "qdcount",
            Discard::Opcode => "opcode",
            Discard::Truncated => "truncated",
            Discard::Rcode => "rcode",
            Discard::NoQueryZone => "no_query_zone",
            Discard::NoTime => "no_time",
        }
    }
}

/// What one accepted response contributes.
#[derive(Debug)]
pub struct Observation {
    /// Seconds since the epoch: the response time, else the query time.
    pub time: i64,
    /// The bailiwick (`query_zone`), as text.
    pub bailiwick: String,
    /// `Dnstap.identity`, if the record has one.
    pub sensor_id: Option<String>,
    /// The RRsets kept by the bailiwick rule, class IN only.
    pub rrsets: Vec<RRset>,
    /// The RRsets set aside by the bailiwick rule.
    pub rejected: Vec<Rejection>,
    /// RRsets of another class than IN.
    pub not_internet: u64,
}

/// Decodes one frame's payload and applies every check; with
/// `trust_forwarders`, FORWARDER_RESPONSE counts like RESOLVER_RESPONSE,
/// its bailiwick being the forward zone.
pub fn observe(payload: &[u8], trust_forwarders: bool) -> Result<Observation, Discard> {
    let record = proto::Dnstap::decode(payload).map_err(|_| Discard::Undecodable)?;
    // try_from, not r#type(): prost's getter reads an unknown value as MESSAGE.
    let message = match (
        proto::dnstap::Type::try_from(record.r#type),
        &record.message,
    ) {
        (Ok(proto::dnstap::Type::Message), Some(message)) => message,
        _ => return Err(Discard::NotResolverResponse),
    };
    match MessageType::try_from(message.r#type) {
        Ok(MessageType::ResolverResponse) => {}
        Ok(MessageType::ForwarderResponse) if trust_forwarders => {}
        Ok(MessageType::ForwarderResponse) => return Err(Discard::ForwarderResponse),
        _ => return Err(Discard::NotResolverResponse),
    }
    let wire = message
        .response_message
        .as_deref()
        .ok_or(Discard::NoResponseMessage)?;
    let parsed = dns::parse(wire).map_err(|_| Discard::Unparsable)?;
    if parsed.trailing > 0 {
        return Err(Discard::Unparsable);
    }
    let header = parsed.header();
    if !header.qr() {
        return Err(Discard::NotResponse);
    }
    if parsed.counts()[0] != 1 {
        return Err(Discard::QuestionCount);
    }
    if header.opcode() != Opcode::QUERY {
        return Err(Discard::Opcode);
    }
    if header.tc() {
        return Err(Discard::Truncated);
    }
    let rcode = parsed.rcode();
    if rcode != u16::from(Rcode::NOERROR.to_int()) && rcode != u16::from(Rcode::NXDOMAIN.to_int()) {
        return Err(Discard::Rcode);
    }
    let zone: Name<Vec<u8>> = message
        .query_zone
        .as_deref()
        .and_then(|wire| Name::from_octets(wire.to_vec()).ok())
        .ok_or(Discard::NoQueryZone)?
        .to_canonical_name();
    let time = message
        .response_time_sec
        .or(message.query_time_sec)
        .ok_or(Discard::NoTime)?;
    let qname: Name<Vec<u8>> = match parsed.records().first_question() {
        Some(question) => question.qname().to_canonical_name(),
        None => return Err(Discard::QuestionCount),
    };
    let (internet, other): (Vec<RRset>, Vec<RRset>) = canonical::rrsets(&parsed)
        .into_iter()
        .partition(|set| canonical::is_internet(set.class));
    let (rrsets, rejected) = bailiwick::select(internet, &qname, &zone);
    Ok(Observation {
        // Past i64 seconds is no time a resolver lives in; clamp, not wrap.
        time: i64::try_from(time).unwrap_or(i64::MAX),
        bailiwick: name_text(&zone),
        sensor_id: record
            .identity
            .as_deref()
            .filter(|identity| !identity.is_empty())
            .map(|identity| String::from_utf8_lossy(identity).into_owned()),
        rrsets,
        rejected,
        not_internet: other.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnstap_testkit::wire::{Builder, response, wire_name};

    /// A RESOLVER_RESPONSE record of `wire` from the zone example.com.
    fn record(wire: Vec<u8>) -> proto::Dnstap {
        proto::Dnstap {
            identity: Some(b"sensor-1".to_vec()),
            r#type: proto::dnstap::Type::Message as i32,
            message: Some(proto::Message {
                r#type: MessageType::ResolverResponse as i32,
                query_time_sec: Some(1_700_000_000),
                response_time_sec: Some(1_700_000_001),
                query_zone: Some(wire_name("Example.COM")),
                response_message: Some(wire),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn observed(record: &proto::Dnstap, trust_forwarders: bool) -> Result<Observation, Discard> {
        observe(&record.encode_to_vec(), trust_forwarders)
    }

    fn with_message(change: impl FnOnce(&mut proto::Message)) -> proto::Dnstap {
        let mut record = record(response());
        change(record.message.as_mut().unwrap());
        record
    }

    #[test]
    fn a_resolver_response_is_observed() {
        let observation = observed(&record(response()), false).unwrap();
        assert_eq!(observation.time, 1_700_000_001);
        assert_eq!(observation.bailiwick, "example.com.");
        assert_eq!(observation.sensor_id.as_deref(), Some("sensor-1"));
        let sets: Vec<String> = observation
            .rrsets
            .iter()
            .map(|s| format!("{} {} {:?}", name_text(&s.owner), s.rtype, s.rdata_texts()))
            .collect();
        assert_eq!(
            sets,
            [
                "www.example.com. CNAME [\"web.example.com.\"]",
                "web.example.com. A [\"192.0.2.1\"]",
                "example.com. SOA [\"ns.example.com. host.example.com. 1 2 3 4 5\"]",
            ]
        );
        assert!(observation.rejected.is_empty());
        // No response time: the query time.
        let record = with_message(|m| m.response_time_sec = None);
        assert_eq!(observed(&record, false).unwrap().time, 1_700_000_000);
    }

    #[test]
    fn every_check_discards_with_its_reason() {
        let flags = |flags: u16| {
            let mut wire = response();
            wire[2..4].copy_from_slice(&flags.to_be_bytes());
            record(wire)
        };
        let mut trailing = response();
        trailing.push(0);
        let two_questions = Builder::new(1, 0x8180, [2, 0, 0, 0])
            .name("a.example.com")
            .u16(1)
            .u16(1)
            .name("b.example.com")
            .u16(1)
            .u16(1)
            .0;
        let cases: Vec<(proto::Dnstap, Discard)> = vec![
            (
                with_message(|m| m.r#type = MessageType::ClientResponse as i32),
                Discard::NotResolverResponse,
            ),
            (
                with_message(|m| m.r#type = MessageType::ResolverQuery as i32),
                Discard::NotResolverResponse,
            ),
            (
                with_message(|m| m.r#type = MessageType::ForwarderResponse as i32),
                Discard::ForwarderResponse,
            ),
            (
                with_message(|m| m.response_message = None),
                Discard::NoResponseMessage,
            ),
            (record(response()[..40].to_vec()), Discard::Unparsable),
            (record(trailing), Discard::Unparsable),
            (flags(0x0180), Discard::NotResponse),
            (record(two_questions), Discard::QuestionCount),
            (flags(0x8980), Discard::Opcode),
            (flags(0x8380), Discard::Truncated),
            (flags(0x8182), Discard::Rcode),
            (flags(0x8185), Discard::Rcode),
            (with_message(|m| m.query_zone = None), Discard::NoQueryZone),
            (
                with_message(|m| m.query_zone = Some(vec![3, b'c', b'o'])),
                Discard::NoQueryZone,
            ),
            (
                with_message(|m| {
                    m.query_time_sec = None;
                    m.response_time_sec = None;
                }),
                Discard::NoTime,
            ),
        ];
        for (n, (record, reason)) in cases.into_iter().enumerate() {
            assert_eq!(observed(&record, false).unwrap_err(), reason, "case {n}");
        }
        assert_eq!(
            observe(b"\xff\xff\xff", false).unwrap_err(),
            Discard::Undecodable
        );
        let mut not_message = record(response());
        not_message.r#type = 2;
        assert_eq!(
            observed(&not_message, false).unwrap_err(),
            Discard::NotResolverResponse
        );
        // NXDOMAIN is kept; a forwarder's response with --trust-forwarders.
        assert!(observed(&flags(0x8183), false).is_ok());
        let forwarded = with_message(|m| m.r#type = MessageType::ForwarderResponse as i32);
        assert!(observed(&forwarded, true).is_ok());
    }

    #[test]
    fn other_classes_are_counted_not_kept() {
        let wire = Builder::new(1, 0x8180, [1, 1, 0, 0])
            .name("www.example.com")
            .u16(16)
            .u16(3)
            .name("www.example.com")
            .rr(16, 3, 0, b"\x02hi")
            .0;
        let observation = observed(&record(wire), false).unwrap();
        assert!(observation.rrsets.is_empty());
        assert_eq!(observation.not_internet, 1);
    }
}
