//! A DNS message parsed with `domain`, checked as a whole (the rules the
//! library leaves to its user), and where it fails.

use std::fmt;

use domain::base::iana::Rtype;
use domain::base::name::{Name, ParsedName, ToName};
use domain::base::opt::{Opt, UnknownOptData};
use domain::base::{Header, Message, ParsedRecord, RecordSection};
use domain::rdata::AllRecordData;

use super::mnemonics::{CLASS_ANY, CLASS_NONE, section_names};

/// Where a message fails to parse, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// `header`, `question 1`, `answer RR 2` …
    pub place: String,
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.reason)
    }
}

impl std::error::Error for ParseError {}

/// The OPT pseudo-record (RFC 6891).
#[derive(Clone, Debug)]
pub struct Edns<'a> {
    pub udp_size: u16,
    pub extended_rcode: u8,
    pub version: u8,
    pub flags: u16,
    options: Opt<&'a [u8]>,
}

impl Edns<'_> {
    pub fn dnssec_ok(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    /// The options, as code and value.
    pub fn options(&self) -> impl Iterator<Item = (u16, &[u8])> {
        self.options
            .iter::<UnknownOptData<&[u8]>>()
            .map_while(Result::ok)
            .map(|option| (option.code().to_int(), *option.data()))
    }
}

/// A message that parsed completely.
#[derive(Debug)]
pub struct DnsMessage<'a> {
    pub(super) message: &'a Message<[u8]>,
    edns: Option<Edns<'a>>,
    /// Bytes after the last record.
    pub trailing: usize,
}

/// A question as text: name, type, class.
pub type QuestionText = (String, u16, u16);

impl<'a> DnsMessage<'a> {
    pub fn header(&self) -> Header {
        self.message.header()
    }

    /// The header's flags word, as dig names its bits ([`super::flag_names`]).
    pub fn flags(&self) -> u16 {
        let wire = self.message.as_slice();
        u16::from_be_bytes([wire[2], wire[3]])
    }

    /// QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT.
    pub fn counts(&self) -> [u16; 4] {
        let counts = self.message.header_counts();
        [
            counts.qdcount(),
            counts.ancount(),
            counts.nscount(),
            counts.arcount(),
        ]
    }

    /// The RCODE, extended by the OPT record if there is one.
    pub fn rcode(&self) -> u16 {
        let high = self
            .edns
            .as_ref()
            .map_or(0, |e| u16::from(e.extended_rcode));
        (high << 4) | u16::from(self.header().rcode().to_int())
    }

    pub fn edns(&self) -> Option<&Edns<'a>> {
        self.edns.as_ref()
    }

    /// The message as `domain` parsed it, for walking its records.
    pub fn records(&self) -> &'a Message<[u8]> {
        self.message
    }

    /// The first question, if the message has one.
    pub fn first_question(&self) -> Option<QuestionText> {
        let question = self.message.question().next()?.ok()?;
        Some((
            name_text(&question.qname()),
            question.qtype().to_int(),
            question.qclass().to_int(),
        ))
    }
}

/// Appends a name in presentation form, escaped as ldns does it: `.`, `;`,
/// `(`, `)`, `\` and `"` with a backslash, other bytes that are not
/// printable ASCII as `\DDD`; the root is `.`.
pub fn write_name<N: ToName + ?Sized>(out: &mut String, name: &N) {
    let mut labels = 0;
    for label in name.iter_labels().filter(|label| !label.is_root()) {
        for &c in label.as_ref() {
            match c {
                b'.' | b';' | b'(' | b')' | b'\\' | b'"' => {
                    out.push('\\');
                    out.push(c as char);
                }
                c if c.is_ascii_graphic() => out.push(c as char),
                c => {
                    let _ = fmt::Write::write_fmt(out, format_args!("\\{c:03}"));
                }
            }
        }
        out.push('.');
        labels += 1;
    }
    if labels == 0 {
        out.push('.');
    }
}

fn name_text<N: ToName + ?Sized>(name: &N) -> String {
    let mut text = String::new();
    write_name(&mut text, name);
    text
}

/// The presentation form of a standalone, uncompressed wire-format name
/// that fills `wire` exactly (dnstap's `query_zone`, a policy rule).
pub fn name_from_wire(wire: &[u8]) -> Result<String, String> {
    let name = Name::from_octets(wire).map_err(|err| err.to_string())?;
    Ok(name_text(&name))
}

/// The first question, when the header and it parse, whatever follows: what
/// a one-line summary needs from a message that may be damaged further on.
pub fn first_question(wire: &[u8]) -> Option<QuestionText> {
    let message = Message::from_slice(wire).ok()?;
    let question = message.question().next()?.ok()?;
    Some((
        name_text(&question.qname()),
        question.qtype().to_int(),
        question.qclass().to_int(),
    ))
}

/// Parses a whole message: every name, every record and its RDATA.
pub fn parse(wire: &[u8]) -> Result<DnsMessage<'_>, ParseError> {
    let message = Message::from_slice(wire).map_err(|_| ParseError {
        place: "header".into(),
        reason: "message shorter than the 12-byte header".into(),
    })?;
    let names = section_names(message.header().opcode().to_int());
    let place = |section: usize, index: usize| match section {
        0 => format!("{} {}", names[0].to_ascii_lowercase(), index + 1),
        _ => format!("{} RR {}", names[section].to_ascii_lowercase(), index + 1),
    };
    let mut questions = message.question();
    for (index, question) in (&mut questions).enumerate() {
        question.map_err(|err| ParseError {
            place: place(0, index),
            reason: err.to_string(),
        })?;
    }
    let mut section: RecordSection<'_, [u8]> = questions.answer().map_err(|err| ParseError {
        place: place(0, 0),
        reason: err.to_string(),
    })?;
    let mut edns = None;
    for section_index in 1..=3 {
        for (index, record) in (&mut section).enumerate() {
            let fail = |reason: String| ParseError {
                place: place(section_index, index),
                reason,
            };
            let record = record.map_err(|err| fail(err.to_string()))?;
            check_rdata(&record).map_err(fail)?;
            if record.rtype() == Rtype::OPT {
                if section_index != 3 {
                    return Err(fail("OPT record outside the additional section".into()));
                }
                if edns.is_some() {
                    return Err(fail("second OPT record".into()));
                }
                edns = Some(opt_record(&record).map_err(fail)?);
            }
        }
        if section_index < 3 {
            section = match section.next_section() {
                Ok(Some(next)) => next,
                _ => unreachable!("every record of the section was read"),
            };
        }
    }
    Ok(DnsMessage {
        message,
        edns,
        trailing: wire.len() - section.pos(),
    })
}

/// Checks a record's RDATA against its type's layout.
fn check_rdata(record: &ParsedRecord<'_, [u8]>) -> Result<(), String> {
    // RFC 2136: prerequisites and deletions carry no RDATA.
    let class = record.class().to_int();
    if record.rdlen() == 0 && matches!(class, CLASS_ANY | CLASS_NONE) {
        return Ok(());
    }
    record
        .to_any_record::<AllRecordData<&[u8], ParsedName<&[u8]>>>()
        .map(drop)
        .map_err(|err| err.to_string())
}

fn opt_record<'a>(record: &ParsedRecord<'a, [u8]>) -> Result<Edns<'a>, String> {
    if !record.owner().is_root() {
        return Err("OPT owner name is not the root".into());
    }
    let options = match record.to_record::<Opt<&'a [u8]>>() {
        Ok(Some(opt)) => opt.into_data(),
        Ok(None) => unreachable!("an OPT record has OPT data"),
        Err(err) => return Err(err.to_string()),
    };
    let ttl = record.ttl().as_secs();
    Ok(Edns {
        udp_size: record.class().to_int(),
        extended_rcode: (ttl >> 24) as u8,
        version: (ttl >> 16) as u8,
        flags: ttl as u16,
        options,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnstap_testkit::wire::{Builder, Rng, response, update, wire_name};

    #[test]
    fn parses_a_compressed_response() {
        let wire = response();
        let m = parse(&wire).unwrap();
        assert_eq!(m.header().id(), 0x1234);
        assert!(m.header().qr());
        assert_eq!(m.counts(), [1, 2, 1, 1]);
        assert_eq!(
            m.first_question(),
            Some(("www.example.com.".to_string(), 1, 1))
        );
        let edns = m.edns().unwrap();
        assert_eq!((edns.udp_size, edns.version), (1232, 0));
        assert!(edns.dnssec_ok());
        assert_eq!(
            edns.options().collect::<Vec<_>>(),
            [(10, &[1, 2, 3, 4, 5, 6, 7, 8][..])]
        );
        assert_eq!(m.trailing, 0);
    }

    #[test]
    fn names_are_escaped_and_bounded() {
        let mut text = String::new();
        write_name(
            &mut text,
            &Name::from_octets(&b"\x03a.b\x02\x00\"\x00"[..]).unwrap(),
        );
        assert_eq!(text, "a\\.b.\\000\\\".");
        assert_eq!(name_from_wire(&[0]).unwrap(), ".");
        assert_eq!(name_from_wire(&wire_name("Ex.com")).unwrap(), "Ex.com.");
        assert!(name_from_wire(&[1, b'a']).is_err(), "ends early");
        assert!(name_from_wire(&[0, 0]).is_err(), "bytes after the name");
        assert!(name_from_wire(&[0xc0, 0]).is_err(), "a pointer");
        // 127 labels of 1 byte and the root: 255 bytes, the most there is.
        let long: Vec<u8> = [&[1, b'a'].repeat(127)[..], &[0]].concat();
        assert_eq!(long.len(), 255);
        assert!(name_from_wire(&long).is_ok());
        let too_long: Vec<u8> = [&[1, b'a'].repeat(128)[..], &[0]].concat();
        assert!(name_from_wire(&too_long).is_err());
        assert!(name_from_wire(&[0x40]).is_err(), "label type 01");
    }

    #[test]
    fn pointer_loops_and_wild_pointers_fail_where_they_are() {
        // Question name points at itself.
        let looping = Builder::new(1, 0, [1, 0, 0, 0])
            .bytes(&[0xc0, 12])
            .u16(1)
            .u16(1)
            .0;
        let err = parse(&looping).unwrap_err();
        assert_eq!(err.place, "question 1");
        assert_eq!(err.reason, "too many compression pointers");
        // Two pointers pointing at each other.
        let mutual = Builder::new(1, 0, [1, 0, 0, 0])
            .bytes(&[1, b'a', 0xc0, 16, 0xc0, 12])
            .0;
        assert!(parse(&mutual).is_err());
        // A pointer chain that builds a long name is stopped by the length limit.
        let mut chain = Builder::new(1, 0, [1, 0, 0, 0]).0;
        chain.extend_from_slice(&[63]);
        chain.extend_from_slice(&[b'x'; 63]);
        chain.extend_from_slice(&[0xc0, 12]);
        assert!(parse(&chain).is_err());
        let wild = Builder::new(1, 0, [1, 0, 0, 0]).bytes(&[0xff, 0xff]).0;
        assert!(parse(&wild).is_err());
    }

    #[test]
    fn every_truncation_of_a_valid_message_fails_cleanly() {
        let wire = response();
        for cut in 0..wire.len() {
            assert!(parse(&wire[..cut]).is_err(), "cut at {cut} parsed");
        }
        assert!(parse(&wire).is_ok());
    }

    fn one_record(rtype: u16, class: u16, rdata: &[u8]) -> Vec<u8> {
        Builder::new(1, 0x8000, [0, 1, 0, 0])
            .name("example")
            .rr(rtype, class, 60, rdata)
            .0
    }

    #[test]
    fn malformed_rdata_is_an_error_of_its_record() {
        let name = wire_name("a.example");
        let bad: [(u16, Vec<u8>); 8] = [
            (1, vec![1, 2, 3]),
            (1, vec![1, 2, 3, 4, 5]),
            (28, vec![0; 4]),
            (16, vec![5, b'a']),
            (15, vec![0, 1]),
            (2, [&name[..], &[9]].concat()),
            (2, vec![3, b'a', b'b']),
            (47, vec![0, 0, 33]),
        ];
        for (rtype, rdata) in bad {
            let err = parse(&one_record(rtype, 1, &rdata)).unwrap_err();
            assert_eq!(err.place, "answer RR 1", "type {rtype}: {err}");
        }
    }

    #[test]
    fn places_name_the_section_and_record() {
        let mut wire = response();
        // Corrupt the A record's RDATA length (answer RR 2): 4 -> 3 breaks
        // the layout of everything after it.
        let a_rdlength = 12 + 17 + 4 + (2 + 10 + 6) + (2 + 8);
        assert_eq!(&wire[a_rdlength..a_rdlength + 2], &[0, 4]);
        wire[a_rdlength + 1] = 3;
        let err = parse(&wire).unwrap_err();
        assert_eq!(err.place, "answer RR 2");
        assert_eq!(err.to_string(), "answer RR 2: unexpected end of input");
    }

    #[test]
    fn opt_rules() {
        let two_opts = Builder::new(1, 0, [0, 0, 0, 2])
            .bytes(&[0])
            .rr(41, 512, 0, &[])
            .bytes(&[0])
            .rr(41, 512, 0, &[])
            .0;
        let err = parse(&two_opts).unwrap_err();
        assert_eq!(err.to_string(), "additional RR 2: second OPT record");
        let in_answer = Builder::new(1, 0, [0, 1, 0, 0])
            .bytes(&[0])
            .rr(41, 512, 0, &[])
            .0;
        assert!(parse(&in_answer).is_err());
        let not_root = Builder::new(1, 0, [0, 0, 0, 1])
            .name("example")
            .rr(41, 512, 0, &[])
            .0;
        assert!(parse(&not_root).is_err());
        let bad_option = Builder::new(1, 0, [0, 0, 0, 1])
            .bytes(&[0])
            .rr(41, 512, 0, &[0, 10, 0, 9, 1])
            .0;
        assert!(parse(&bad_option).is_err());
        let extended = Builder::new(1, 0x8001, [0, 0, 0, 1])
            .bytes(&[0])
            .rr(41, 512, 0x0100_0000, &[])
            .0;
        assert_eq!(parse(&extended).unwrap().rcode(), 17, "BADKEY");
    }

    #[test]
    fn update_records_without_rdata_parse() {
        let update = update();
        parse(&update).unwrap();
        let broken = Builder::new(7, 0x2800, [1, 1, 0, 0])
            .name("example.com")
            .u16(6)
            .u16(1)
            .name("www.example.com")
            .rr(1, 255, 0, &[1])
            .0;
        assert_eq!(parse(&broken).unwrap_err().place, "prerequisite RR 1");
    }

    #[test]
    fn trailing_bytes_are_counted() {
        let mut wire = response();
        wire.extend_from_slice(&[1, 2, 3]);
        assert_eq!(parse(&wire).unwrap().trailing, 3);
    }

    #[test]
    fn first_question_survives_later_damage() {
        let wire = response();
        assert_eq!(
            first_question(&wire[..40]),
            Some(("www.example.com.".to_string(), 1, 1))
        );
        assert!(first_question(&wire[..11]).is_none());
        assert!(first_question(&wire[..20]).is_none());
    }

    #[test]
    fn random_and_mutated_input_never_panics() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let base = response();
        let mut out = String::new();
        for round in 0..20_000 {
            let wire: Vec<u8> = if round % 2 == 0 {
                let len = (rng.next_u64() % 300) as usize;
                (0..len).map(|_| rng.next_u64() as u8).collect()
            } else {
                // Valid message with a few bytes flipped: reaches deep code.
                let mut w = base.clone();
                for _ in 0..1 + rng.next_u64() % 4 {
                    let i = (rng.next_u64() as usize) % w.len();
                    w[i] = rng.next_u64() as u8;
                }
                w.truncate(w.len() - (rng.next_u64() % 4) as usize);
                w
            };
            if let Ok(m) = parse(&wire) {
                out.clear();
                crate::decode::dns::write_text(&mut out, &m, "");
            }
            let _ = first_question(&wire);
            let _ = name_from_wire(&wire);
        }
    }
}
