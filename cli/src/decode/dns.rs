//! DNS messages in wire format (RFC 1035 and successors): a bounded parser
//! that never panics on hostile input, mnemonics, and dig-like text.
//!
//! [`parse`] walks the whole message: header, questions, every resource
//! record with its RDATA checked for the types it knows, and names with
//! compression pointers (at most [`MAX_POINTERS`] jumps per name, at most
//! 255 bytes uncompressed, every offset bounds-checked). Names are not
//! copied: a parsed [`DnsMessage`] keeps offsets into the wire bytes, and text
//! is produced on demand by walking them again.

use std::fmt::{self, Write};
use std::ops::Range;

use base64::Engine as _;

use super::time;

/// Most compression pointers followed in one name: a legitimate name has at
/// most 127 labels, so it never needs more.
pub const MAX_POINTERS: usize = 128;
/// Longest name in wire format, length bytes and root label included.
pub const MAX_NAME: usize = 255;
const HEADER_LEN: usize = 12;

pub const TYPE_OPT: u16 = 41;
const CLASS_NONE: u16 = 254;
const CLASS_ANY: u16 = 255;
pub const OPCODE_UPDATE: u8 = 5;

/// What is wrong with a message (without where: see [`ParseError`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The message ends inside this item.
    Truncated,
    NameTooLong,
    PointerLoop,
    PointerOutOfRange(usize),
    /// A pointer where only an uncompressed name is allowed.
    PointerNotAllowed,
    /// Label types 01 and 10 (RFC 6891 §5 retired them).
    LabelType(u8),
    /// RDATA shorter or longer than its type's layout.
    RdataLength {
        expected: String,
        actual: usize,
    },
    /// A name in RDATA ends past the RDATA.
    NameOverrunsRdata,
    Other(&'static str),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Truncated => write!(f, "message ends early"),
            Fault::NameTooLong => write!(f, "name longer than {MAX_NAME} bytes"),
            Fault::PointerLoop => write!(
                f,
                "more than {MAX_POINTERS} compression pointers (a pointer loop)"
            ),
            Fault::PointerOutOfRange(target) => {
                write!(f, "compression pointer to offset {target}, past the end")
            }
            Fault::PointerNotAllowed => write!(f, "compression pointer in an uncompressed name"),
            Fault::LabelType(byte) => write!(f, "unsupported label type 0x{byte:02x}"),
            Fault::RdataLength { expected, actual } => {
                write!(f, "rdata of {actual} bytes, expected {expected}")
            }
            Fault::NameOverrunsRdata => write!(f, "name runs past the end of the rdata"),
            Fault::Other(text) => f.write_str(text),
        }
    }
}

/// Where a message fails to parse, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub place: String,
    pub fault: Fault,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.fault)
    }
}

impl std::error::Error for ParseError {}

/// A [`fmt::Write`] that drops its input: parsing and validating share the
/// text code, and validation writes here.
pub struct Discard;

impl Write for Discard {
    fn write_str(&mut self, _: &str) -> fmt::Result {
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    /// QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT.
    pub counts: [u16; 4],
}

/// Header flag bits and their names, in dig's order (Z where it sits).
const FLAGS: [(u16, &str); 8] = [
    (0x8000, "qr"),
    (0x0400, "aa"),
    (0x0200, "tc"),
    (0x0100, "rd"),
    (0x0080, "ra"),
    (0x0040, "z"),
    (0x0020, "ad"),
    (0x0010, "cd"),
];

impl Header {
    pub fn parse(wire: &[u8]) -> Option<Header> {
        let b = wire.get(..HEADER_LEN)?;
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        Some(Header {
            id: u16_at(0),
            flags: u16_at(2),
            counts: [u16_at(4), u16_at(6), u16_at(8), u16_at(10)],
        })
    }

    pub fn qr(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }

    /// The 4-bit RCODE of the header (see [`DnsMessage::rcode`] for EDNS).
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }

    /// Names of the flags that are set.
    pub fn flag_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        FLAGS
            .iter()
            .filter(|(bit, _)| self.flags & bit != 0)
            .map(|&(_, name)| name)
    }

    /// Section names: RFC 2136 names them differently for UPDATE.
    pub fn section_names(&self) -> [&'static str; 4] {
        if self.opcode() == OPCODE_UPDATE {
            ["ZONE", "PREREQUISITE", "UPDATE", "ADDITIONAL"]
        } else {
            ["QUESTION", "ANSWER", "AUTHORITY", "ADDITIONAL"]
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Question {
    /// Offset of the name in the message.
    pub name: usize,
    pub qtype: u16,
    pub qclass: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceRecord {
    /// Offset of the owner name in the message.
    pub name: usize,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: Range<usize>,
}

/// The OPT pseudo-record (RFC 6891).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edns {
    pub udp_size: u16,
    pub extended_rcode: u8,
    pub version: u8,
    pub flags: u16,
    /// The options, in the message.
    pub options: Range<usize>,
}

impl Edns {
    pub fn dnssec_ok(&self) -> bool {
        self.flags & 0x8000 != 0
    }
}

/// A message that parsed completely.
#[derive(Clone, Debug)]
pub struct DnsMessage<'a> {
    pub wire: &'a [u8],
    pub header: Header,
    pub questions: Vec<Question>,
    /// Answer, authority and additional records (OPT excluded).
    pub sections: [Vec<ResourceRecord>; 3],
    pub edns: Option<Edns>,
    /// Bytes after the last record.
    pub trailing: usize,
}

impl DnsMessage<'_> {
    /// The RCODE, extended by the OPT record if there is one.
    pub fn rcode(&self) -> u16 {
        let high = self
            .edns
            .as_ref()
            .map_or(0, |e| u16::from(e.extended_rcode));
        (high << 4) | u16::from(self.header.rcode())
    }

    pub fn name_text(&self, offset: usize) -> String {
        let mut text = String::new();
        let _ = read_name(self.wire, offset, &mut text);
        text
    }
}

fn be16(wire: &[u8], at: usize) -> Option<u16> {
    let b = wire.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn be32(wire: &[u8], at: usize) -> Option<u32> {
    let b = wire.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Appends one label in presentation form: `.`, `;`, `(`, `)`, `\` and `"`
/// escaped with a backslash, bytes that are not printable ASCII as `\DDD`.
fn write_label<W: Write>(out: &mut W, label: &[u8]) -> fmt::Result {
    for &c in label {
        match c {
            b'.' | b';' | b'(' | b')' | b'\\' | b'"' => {
                out.write_char('\\')?;
                out.write_char(c as char)?;
            }
            c if c.is_ascii_graphic() => out.write_char(c as char)?,
            c => write!(out, "\\{c:03}")?,
        }
    }
    Ok(())
}

/// Reads the (possibly compressed) name at `pos` in `msg`, appending its
/// presentation form to `out`; returns the offset just past the name where
/// it starts (after its first pointer, if any).
pub fn read_name<W: Write>(msg: &[u8], pos: usize, out: &mut W) -> Result<usize, Fault> {
    read_name_with(msg, pos, out, true)
}

fn read_name_with<W: Write>(
    msg: &[u8],
    pos: usize,
    out: &mut W,
    allow_pointers: bool,
) -> Result<usize, Fault> {
    let mut p = pos;
    let mut end = None;
    let mut jumps = 0;
    let mut wire_len = 0;
    let mut labels = 0;
    loop {
        let len = *msg.get(p).ok_or(Fault::Truncated)? as usize;
        match len & 0xc0 {
            0x00 if len == 0 => {
                if labels == 0 {
                    let _ = out.write_char('.');
                }
                return Ok(end.unwrap_or(p + 1));
            }
            0x00 => {
                let label = msg.get(p + 1..p + 1 + len).ok_or(Fault::Truncated)?;
                wire_len += 1 + len;
                // The root label's byte must still fit.
                if wire_len + 1 > MAX_NAME {
                    return Err(Fault::NameTooLong);
                }
                let _ = write_label(out, label);
                let _ = out.write_char('.');
                labels += 1;
                p += 1 + len;
            }
            0xc0 => {
                if !allow_pointers {
                    return Err(Fault::PointerNotAllowed);
                }
                let low = *msg.get(p + 1).ok_or(Fault::Truncated)? as usize;
                let target = ((len & 0x3f) << 8) | low;
                end.get_or_insert(p + 2);
                jumps += 1;
                if jumps > MAX_POINTERS {
                    return Err(Fault::PointerLoop);
                }
                if target >= msg.len() {
                    return Err(Fault::PointerOutOfRange(target));
                }
                p = target;
            }
            _ => return Err(Fault::LabelType(len as u8)),
        }
    }
}

/// The presentation form of a standalone, uncompressed wire-format name
/// that fills `wire` exactly (dnstap's `query_zone`, a policy rule).
pub fn name_from_wire(wire: &[u8]) -> Result<String, Fault> {
    let mut text = String::new();
    let end = read_name_with(wire, 0, &mut text, false).map_err(|fault| match fault {
        Fault::Truncated => Fault::Other("the name ends early"),
        other => other,
    })?;
    if end != wire.len() {
        return Err(Fault::Other("bytes after the end of the name"));
    }
    Ok(text)
}

/// Reads header fields of one record at `pos`; returns it and the offset
/// past it.
fn read_record(msg: &[u8], pos: usize) -> Result<(ResourceRecord, usize), Fault> {
    let fixed = read_name(msg, pos, &mut Discard)?;
    let rtype = be16(msg, fixed).ok_or(Fault::Truncated)?;
    let class = be16(msg, fixed + 2).ok_or(Fault::Truncated)?;
    let ttl = be32(msg, fixed + 4).ok_or(Fault::Truncated)?;
    let rdlength = be16(msg, fixed + 8).ok_or(Fault::Truncated)? as usize;
    let start = fixed + 10;
    if msg.len() < start + rdlength {
        return Err(Fault::Truncated);
    }
    let record = ResourceRecord {
        name: pos,
        rtype,
        class,
        ttl,
        rdata: start..start + rdlength,
    };
    Ok((record, start + rdlength))
}

fn section_place(names: &[&str; 4], section: usize, index: usize) -> String {
    format!("{} RR {}", names[section].to_ascii_lowercase(), index + 1)
}

/// Parses a whole message. Every name, every record and the RDATA of every
/// type this module knows are checked.
pub fn parse(wire: &[u8]) -> Result<DnsMessage<'_>, ParseError> {
    let header = Header::parse(wire).ok_or_else(|| ParseError {
        place: "header".into(),
        fault: Fault::Other("message shorter than the 12-byte header"),
    })?;
    let names = header.section_names();
    let mut pos = HEADER_LEN;
    let mut questions = Vec::new();
    for index in 0..header.counts[0] as usize {
        let place = || format!("{} {}", names[0].to_ascii_lowercase(), index + 1);
        let fail = |fault| ParseError {
            place: place(),
            fault,
        };
        let end = read_name(wire, pos, &mut Discard).map_err(fail)?;
        let qtype = be16(wire, end).ok_or_else(|| fail(Fault::Truncated))?;
        let qclass = be16(wire, end + 2).ok_or_else(|| fail(Fault::Truncated))?;
        questions.push(Question {
            name: pos,
            qtype,
            qclass,
        });
        pos = end + 4;
    }
    let mut sections: [Vec<ResourceRecord>; 3] = Default::default();
    let mut edns = None;
    for (section, records) in sections.iter_mut().enumerate() {
        for index in 0..header.counts[section + 1] as usize {
            let fail = |fault| ParseError {
                place: section_place(&names, section + 1, index),
                fault,
            };
            let (record, next) = read_record(wire, pos).map_err(fail)?;
            write_rdata(wire, &record, &mut Discard).map_err(fail)?;
            pos = next;
            if record.rtype == TYPE_OPT {
                if section != 2 {
                    return Err(fail(Fault::Other(
                        "OPT record outside the additional section",
                    )));
                }
                if edns.is_some() {
                    return Err(fail(Fault::Other("second OPT record")));
                }
                if wire[record.name] != 0 {
                    return Err(fail(Fault::Other("OPT owner name is not the root")));
                }
                edns = Some(Edns {
                    udp_size: record.class,
                    extended_rcode: (record.ttl >> 24) as u8,
                    version: (record.ttl >> 16) as u8,
                    flags: record.ttl as u16,
                    options: record.rdata.clone(),
                });
                continue;
            }
            records.push(record);
        }
    }
    Ok(DnsMessage {
        wire,
        header,
        questions,
        sections,
        edns,
        trailing: wire.len() - pos,
    })
}

/// A question as text: name, type, class.
pub type QuestionText = (String, u16, u16);

/// The header and first question, when they parse, whatever follows: what
/// a one-line summary needs from a message that may be damaged further on.
pub fn first_question(wire: &[u8]) -> Option<(Header, Option<QuestionText>)> {
    let header = Header::parse(wire)?;
    if header.counts[0] == 0 {
        return Some((header, None));
    }
    let mut name = String::new();
    let end = read_name(wire, HEADER_LEN, &mut name).ok()?;
    let qtype = be16(wire, end)?;
    let qclass = be16(wire, end + 2)?;
    Some((header, Some((name, qtype, qclass))))
}

/// A cursor over one record's RDATA.
struct Rdata<'a> {
    msg: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Rdata<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Fault> {
        if self.end - self.pos < n {
            return Err(Fault::Other("rdata ends early"));
        }
        let bytes = &self.msg[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, Fault> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Fault> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, Fault> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn rest(&mut self) -> &'a [u8] {
        let bytes = &self.msg[self.pos..self.end];
        self.pos = self.end;
        bytes
    }

    fn name<W: Write>(&mut self, out: &mut W) -> Result<(), Fault> {
        // A name in RDATA may point anywhere before it, but its own bytes
        // must stay inside the RDATA.
        let end = read_name(&self.msg[..self.end], self.pos, out).map_err(|fault| {
            if fault == Fault::Truncated {
                Fault::NameOverrunsRdata
            } else {
                fault
            }
        })?;
        self.pos = end;
        Ok(())
    }

    fn character_string<W: Write>(&mut self, out: &mut W) -> Result<(), Fault> {
        let len = self.u8()? as usize;
        let text = self.take(len)?;
        let _ = write_character_string(out, text);
        Ok(())
    }

    fn done(&self) -> Result<(), Fault> {
        if self.pos != self.end {
            return Err(Fault::Other("bytes left over after the rdata fields"));
        }
        Ok(())
    }
}

fn write_character_string<W: Write>(out: &mut W, text: &[u8]) -> fmt::Result {
    out.write_char('"')?;
    for &c in text {
        match c {
            b'"' | b'\\' => {
                out.write_char('\\')?;
                out.write_char(c as char)?;
            }
            b' ' => out.write_char(' ')?,
            c if c.is_ascii_graphic() => out.write_char(c as char)?,
            c => write!(out, "\\{c:03}")?,
        }
    }
    out.write_char('"')
}

fn write_hex<W: Write>(out: &mut W, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(out, "{b:02X}")?;
    }
    Ok(())
}

fn write_base64<W: Write>(out: &mut W, bytes: &[u8]) -> fmt::Result {
    out.write_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn write_type_bitmap<W: Write>(out: &mut W, mut bitmap: &[u8]) -> Result<(), Fault> {
    while !bitmap.is_empty() {
        let [window, len, ..] = *bitmap else {
            return Err(Fault::Other("type bitmap ends early"));
        };
        let len = len as usize;
        if !(1..=32).contains(&len) {
            return Err(Fault::Other("type bitmap block length not in 1..32"));
        }
        let bits = bitmap
            .get(2..2 + len)
            .ok_or(Fault::Other("type bitmap ends early"))?;
        for (i, byte) in bits.iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    let rtype = (u16::from(window) << 8) | (i as u16 * 8 + bit);
                    let _ = write!(out, " {}", TypeName(rtype));
                }
            }
        }
        bitmap = &bitmap[2 + len..];
    }
    Ok(())
}

/// Checks the RDATA of `record` against its type's layout and appends its
/// presentation form to `out` (RFC 3597 `\# len hex` for other types).
pub fn write_rdata<W: Write>(
    msg: &[u8],
    record: &ResourceRecord,
    out: &mut W,
) -> Result<(), Fault> {
    let mut rd = Rdata {
        msg,
        pos: record.rdata.start,
        end: record.rdata.end,
    };
    let len = record.rdata.len();
    // RFC 2136: prerequisites and deletions carry no RDATA.
    if len == 0 && matches!(record.class, CLASS_ANY | CLASS_NONE) {
        return Ok(());
    }
    let fixed = |expected: usize| {
        if len == expected {
            Ok(())
        } else {
            Err(Fault::RdataLength {
                expected: expected.to_string(),
                actual: len,
            })
        }
    };
    match record.rtype {
        // A
        1 => {
            fixed(4)?;
            let b = rd.take(4)?;
            let _ = write!(out, "{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
        }
        // AAAA
        28 => {
            fixed(16)?;
            let mut b = [0u8; 16];
            b.copy_from_slice(rd.take(16)?);
            let _ = write!(out, "{}", std::net::Ipv6Addr::from(b));
        }
        // NS, MD, MF, CNAME, MB, MG, MR, PTR, DNAME
        2..=5 | 7..=9 | 12 | 39 => rd.name(out)?,
        // SOA
        6 => {
            rd.name(out)?;
            let _ = out.write_char(' ');
            rd.name(out)?;
            for _ in 0..5 {
                let value = rd.u32()?;
                let _ = write!(out, " {value}");
            }
        }
        // MX, AFSDB, RT, KX: preference and a name
        15 | 18 | 21 | 36 => {
            let preference = rd.u16()?;
            let _ = write!(out, "{preference} ");
            rd.name(out)?;
        }
        // TXT, SPF
        16 | 99 => {
            if len == 0 {
                return Err(Fault::Other("TXT rdata without a character string"));
            }
            let mut first = true;
            while rd.pos < rd.end {
                if !first {
                    let _ = out.write_char(' ');
                }
                first = false;
                rd.character_string(out)?;
            }
        }
        // SRV
        33 => {
            let (priority, weight, port) = (rd.u16()?, rd.u16()?, rd.u16()?);
            let _ = write!(out, "{priority} {weight} {port} ");
            rd.name(out)?;
        }
        // DS, CDS, DLV
        43 | 59 | 32769 => {
            let (key_tag, algorithm, digest_type) = (rd.u16()?, rd.u8()?, rd.u8()?);
            let _ = write!(out, "{key_tag} {algorithm} {digest_type} ");
            let _ = write_hex(out, rd.rest());
        }
        // DNSKEY, CDNSKEY
        48 | 60 => {
            let (flags, protocol, algorithm) = (rd.u16()?, rd.u8()?, rd.u8()?);
            let _ = write!(out, "{flags} {protocol} {algorithm} ");
            let _ = write_base64(out, rd.rest());
        }
        // RRSIG, SIG
        46 | 24 => {
            let covered = rd.u16()?;
            let (algorithm, labels, original_ttl) = (rd.u8()?, rd.u8()?, rd.u32()?);
            let (expiration, inception, key_tag) = (rd.u32()?, rd.u32()?, rd.u16()?);
            let _ = write!(
                out,
                "{} {algorithm} {labels} {original_ttl} ",
                TypeName(covered)
            );
            let mut times = String::new();
            time::write_dnssec(&mut times, expiration);
            times.push(' ');
            time::write_dnssec(&mut times, inception);
            let _ = write!(out, "{times} {key_tag} ");
            rd.name(out)?;
            let _ = out.write_char(' ');
            let _ = write_base64(out, rd.rest());
        }
        // NSEC
        47 => {
            rd.name(out)?;
            write_type_bitmap(out, rd.rest())?;
        }
        // OPT: options are code, length, value
        TYPE_OPT => {
            while rd.pos < rd.end {
                let (code, length) = (rd.u16()?, rd.u16()? as usize);
                let value = rd.take(length)?;
                let _ = write!(out, "{code}:");
                let _ = write_hex(out, value);
                if rd.pos < rd.end {
                    let _ = out.write_char(' ');
                }
            }
        }
        _ => {
            let _ = write!(out, "\\# {len}");
            if len > 0 {
                let _ = out.write_char(' ');
                let _ = write_hex(out, rd.rest());
            }
        }
    }
    rd.done()
}

/// A record type as text: its mnemonic, or `TYPEnnn` (RFC 3597).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeName(pub u16);

pub fn type_mnemonic(rtype: u16) -> Option<&'static str> {
    Some(match rtype {
        1 => "A",
        2 => "NS",
        3 => "MD",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        19 => "X25",
        20 => "ISDN",
        21 => "RT",
        22 => "NSAP",
        23 => "NSAP-PTR",
        24 => "SIG",
        25 => "KEY",
        26 => "PX",
        27 => "GPOS",
        28 => "AAAA",
        29 => "LOC",
        30 => "NXT",
        31 => "EID",
        32 => "NIMLOC",
        33 => "SRV",
        34 => "ATMA",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        38 => "A6",
        39 => "DNAME",
        40 => "SINK",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        53 => "SMIMEA",
        55 => "HIP",
        56 => "NINFO",
        57 => "RKEY",
        58 => "TALINK",
        59 => "CDS",
        60 => "CDNSKEY",
        61 => "OPENPGPKEY",
        62 => "CSYNC",
        63 => "ZONEMD",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        104 => "NID",
        105 => "L32",
        106 => "L64",
        107 => "LP",
        108 => "EUI48",
        109 => "EUI64",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        253 => "MAILB",
        254 => "MAILA",
        255 => "ANY",
        256 => "URI",
        257 => "CAA",
        258 => "AVC",
        259 => "DOA",
        260 => "AMTRELAY",
        32768 => "TA",
        32769 => "DLV",
        _ => return None,
    })
}

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match type_mnemonic(self.0) {
            Some(name) => f.write_str(name),
            None => write!(f, "TYPE{}", self.0),
        }
    }
}

/// A class as text: its mnemonic, or `CLASSnnn` (RFC 3597).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassName(pub u16);

impl fmt::Display for ClassName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("IN"),
            3 => f.write_str("CH"),
            4 => f.write_str("HS"),
            CLASS_NONE => f.write_str("NONE"),
            CLASS_ANY => f.write_str("ANY"),
            other => write!(f, "CLASS{other}"),
        }
    }
}

pub fn opcode_name(opcode: u8) -> Option<&'static str> {
    Some(match opcode {
        0 => "QUERY",
        1 => "IQUERY",
        2 => "STATUS",
        4 => "NOTIFY",
        5 => "UPDATE",
        6 => "DSO",
        _ => return None,
    })
}

pub fn rcode_name(rcode: u16) -> Option<&'static str> {
    Some(match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        11 => "DSOTYPENI",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        _ => return None,
    })
}

fn option_name(code: u16) -> Option<&'static str> {
    Some(match code {
        3 => "NSID",
        5 => "DAU",
        6 => "DHU",
        7 => "N3U",
        8 => "CLIENT-SUBNET",
        9 => "EXPIRE",
        10 => "COOKIE",
        11 => "TCP-KEEPALIVE",
        12 => "PADDING",
        13 => "CHAIN",
        14 => "KEY-TAG",
        15 => "EDE",
        _ => return None,
    })
}

/// Appends `message` as dig-like text, every line prefixed by `indent`
/// (blank lines stay empty).
pub fn write_text(out: &mut String, message: &DnsMessage<'_>, indent: &str) {
    let h = &message.header;
    let names = h.section_names();
    let _ = write!(out, "{indent};; ->>HEADER<<- opcode: ");
    match opcode_name(h.opcode()) {
        Some(name) => out.push_str(name),
        None => {
            let _ = write!(out, "{}", h.opcode());
        }
    }
    out.push_str(", rcode: ");
    let rcode = message.rcode();
    match rcode_name(rcode) {
        Some(name) => out.push_str(name),
        None => {
            let _ = write!(out, "{rcode}");
        }
    }
    let _ = writeln!(out, ", id: {}", h.id);
    let _ = write!(out, "{indent};; flags:");
    for flag in h.flag_names() {
        out.push(' ');
        out.push_str(flag);
    }
    let counts = if h.opcode() == OPCODE_UPDATE {
        ["ZONE", "PREREQ", "UPDATE", "ADDITIONAL"]
    } else {
        ["QUERY", "ANSWER", "AUTHORITY", "ADDITIONAL"]
    };
    let _ = writeln!(
        out,
        "; {}: {}, {}: {}, {}: {}, {}: {}",
        counts[0],
        h.counts[0],
        counts[1],
        h.counts[1],
        counts[2],
        h.counts[2],
        counts[3],
        h.counts[3]
    );
    if let Some(edns) = &message.edns {
        let _ = writeln!(out, "\n{indent};; OPT PSEUDOSECTION:");
        let _ = write!(out, "{indent}; EDNS: version: {}, flags:", edns.version);
        if edns.dnssec_ok() {
            out.push_str(" do");
        }
        let other = edns.flags & 0x7fff;
        if other != 0 {
            let _ = write!(out, " 0x{other:04x}");
        }
        let _ = writeln!(out, "; udp: {}", edns.udp_size);
        let mut options = &message.wire[edns.options.clone()];
        while let [c0, c1, l0, l1, rest @ ..] = options {
            let code = u16::from_be_bytes([*c0, *c1]);
            let len = (u16::from_be_bytes([*l0, *l1]) as usize).min(rest.len());
            let value = &rest[..len];
            out.push_str(indent);
            match option_name(code) {
                Some(name) => {
                    let _ = write!(out, "; {name}: ");
                }
                None => {
                    let _ = write!(out, "; OPT={code}: ");
                }
            }
            match code {
                12 => {
                    let _ = write!(out, "({len} bytes)");
                }
                15 if len >= 2 => {
                    let info = u16::from_be_bytes([value[0], value[1]]);
                    let _ = write!(out, "{info}");
                    if len > 2 {
                        out.push(' ');
                        let _ = write_character_string(out, &value[2..]);
                    }
                }
                _ => {
                    let _ = write_hex(out, value);
                }
            }
            out.push('\n');
            options = &rest[len..];
        }
    }
    let _ = writeln!(out, "\n{indent};; {} SECTION:", names[0]);
    for q in &message.questions {
        let _ = write!(out, "{indent};");
        let _ = read_name(message.wire, q.name, out);
        let _ = writeln!(out, "\t{}\t{}", ClassName(q.qclass), TypeName(q.qtype));
    }
    for (section, records) in message.sections.iter().enumerate() {
        if records.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{indent};; {} SECTION:", names[section + 1]);
        for record in records {
            out.push_str(indent);
            write_record(out, message.wire, record);
            out.push('\n');
        }
    }
    if message.trailing > 0 {
        let _ = writeln!(
            out,
            "\n{indent};; {} bytes after the last record",
            message.trailing
        );
    }
}

/// One record as `owner TTL CLASS TYPE RDATA`, tab-separated like ldns.
pub fn write_record(out: &mut String, wire: &[u8], record: &ResourceRecord) {
    let _ = read_name(wire, record.name, out);
    let _ = write!(
        out,
        "\t{}\t{}\t{}",
        record.ttl,
        ClassName(record.class),
        TypeName(record.rtype)
    );
    if !record.rdata.is_empty() {
        out.push('\t');
        let mark = out.len();
        if write_rdata(wire, record, out).is_err() {
            out.truncate(mark);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnstap_testkit::wire::{Builder, Rng, response, wire_name};

    #[test]
    fn parses_a_compressed_response() {
        let wire = response();
        let m = parse(&wire).unwrap();
        assert_eq!(m.header.id, 0x1234);
        assert!(m.header.qr());
        assert_eq!(
            m.header.flag_names().collect::<Vec<_>>(),
            ["qr", "rd", "ra"]
        );
        assert_eq!(m.questions.len(), 1);
        assert_eq!(m.name_text(m.questions[0].name), "www.example.com.");
        assert_eq!(m.sections[0].len(), 2);
        assert_eq!(m.sections[1].len(), 1);
        assert_eq!(m.sections[2].len(), 0, "OPT is not a record");
        let edns = m.edns.as_ref().unwrap();
        assert_eq!((edns.udp_size, edns.version), (1232, 0));
        assert!(edns.dnssec_ok());
        assert_eq!(m.trailing, 0);
        let mut text = String::new();
        write_text(&mut text, &m, "  ");
        let expected = "  ;; ->>HEADER<<- opcode: QUERY, rcode: NOERROR, id: 4660
  ;; flags: qr rd ra; QUERY: 1, ANSWER: 2, AUTHORITY: 1, ADDITIONAL: 1

  ;; OPT PSEUDOSECTION:
  ; EDNS: version: 0, flags: do; udp: 1232
  ; COOKIE: 0102030405060708

  ;; QUESTION SECTION:
  ;www.example.com.\tIN\tA

  ;; ANSWER SECTION:
  www.example.com.\t300\tIN\tCNAME\tweb.example.com.
  web.example.com.\t300\tIN\tA\t192.0.2.1

  ;; AUTHORITY SECTION:
  example.com.\t3600\tIN\tSOA\tns.example.com. host.example.com. 1 2 3 4 5
";
        assert_eq!(text, expected);
    }

    fn rdata_text(rtype: u16, rdata: &[u8]) -> Result<String, Fault> {
        let wire = Builder::new(1, 0x8000, [0, 1, 0, 0])
            .name("example")
            .rr(rtype, 1, 60, rdata)
            .0;
        let record = read_record(&wire, 12).unwrap().0;
        let mut text = String::new();
        write_rdata(&wire, &record, &mut text)?;
        Ok(text)
    }

    #[test]
    fn rdata_of_common_types() {
        let name = wire_name("a.example");
        let cases: Vec<(u16, Vec<u8>, &str)> = vec![
            (1, vec![10, 0, 0, 1], "10.0.0.1"),
            (
                28,
                vec![0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                "2001:db8::1",
            ),
            (2, name.clone(), "a.example."),
            (12, name.clone(), "a.example."),
            (15, [&[0, 10][..], &name].concat(), "10 a.example."),
            (
                16,
                b"\x05hello\x07a \"b\\\x01c".to_vec(),
                "\"hello\" \"a \\\"b\\\\\\001c\"",
            ),
            (
                33,
                [&[0, 1, 0, 2, 0x13, 0xc4][..], &name].concat(),
                "1 2 5060 a.example.",
            ),
            (43, vec![0x30, 0x39, 8, 2, 0xab, 0xcd], "12345 8 2 ABCD"),
            (48, vec![1, 1, 3, 8, 1, 2, 3], "257 3 8 AQID"),
            (
                46,
                [
                    &[0, 1, 8, 2][..],
                    &3600u32.to_be_bytes(),
                    &1_700_000_000u32.to_be_bytes(),
                    &1_600_000_000u32.to_be_bytes(),
                    &[0x30, 0x39],
                    &name,
                    &[1, 2, 3],
                ]
                .concat(),
                "A 8 2 3600 20231114221320 20200913122640 12345 a.example. AQID",
            ),
            (
                47,
                [&name[..], &[0, 6, 0x62, 0, 0, 0, 0, 0x03]].concat(),
                "a.example. A NS SOA RRSIG NSEC",
            ),
            (99, b"\x01x".to_vec(), "\"x\""),
            (65280, vec![0xde, 0xad], "\\# 2 DEAD"),
            (10, vec![], "\\# 0"),
        ];
        for (rtype, rdata, expected) in cases {
            assert_eq!(
                rdata_text(rtype, &rdata).as_deref(),
                Ok(expected),
                "type {rtype}"
            );
        }
    }

    #[test]
    fn malformed_rdata_is_an_error() {
        assert!(matches!(
            rdata_text(1, &[1, 2, 3]),
            Err(Fault::RdataLength { .. })
        ));
        assert!(rdata_text(28, &[0; 4]).is_err());
        assert!(rdata_text(16, &[]).is_err());
        assert!(rdata_text(16, &[5, b'a']).is_err(), "string past rdata");
        assert!(rdata_text(15, &[0, 1]).is_err(), "MX without a name");
        assert!(rdata_text(2, &[1, b'a', 0, 9]).is_err(), "bytes left over");
        // A name whose bytes run past the RDATA into the next record.
        assert_eq!(
            rdata_text(2, &[3, b'a', b'b']),
            Err(Fault::NameOverrunsRdata)
        );
        assert!(rdata_text(47, &[0, 0, 0]).is_err(), "bitmap block of 0");
        assert!(rdata_text(47, &[0, 0, 33]).is_err(), "bitmap block of 33");
    }

    #[test]
    fn names_are_escaped_and_bounded() {
        let mut text = String::new();
        read_name(b"\x03a.b\x02\x00\"\x00", 0, &mut text).unwrap();
        assert_eq!(text, "a\\.b.\\000\\\".");
        assert_eq!(name_from_wire(&[0]).unwrap(), ".");
        assert_eq!(name_from_wire(&wire_name("Ex.com")).unwrap(), "Ex.com.");
        assert!(name_from_wire(&[1, b'a']).is_err());
        assert!(name_from_wire(&[0, 0]).is_err());
        assert_eq!(name_from_wire(&[0xc0, 0]), Err(Fault::PointerNotAllowed));
        // 128 labels of 1 byte: 256 bytes with the root.
        let long: Vec<u8> = [&[1, b'a'].repeat(127)[..], &[0]].concat();
        assert_eq!(long.len(), 255);
        assert!(name_from_wire(&long).is_ok());
        let too_long: Vec<u8> = [&[1, b'a'].repeat(128)[..], &[0]].concat();
        assert_eq!(name_from_wire(&too_long), Err(Fault::NameTooLong));
        assert_eq!(name_from_wire(&[0x40]), Err(Fault::LabelType(0x40)));
    }

    #[test]
    fn pointer_loops_and_wild_pointers_fail() {
        // Question name points at itself.
        let looping = Builder::new(1, 0, [1, 0, 0, 0])
            .bytes(&[0xc0, 12])
            .u16(1)
            .u16(1)
            .0;
        let err = parse(&looping).unwrap_err();
        assert_eq!(err.fault, Fault::PointerLoop);
        assert_eq!(err.place, "question 1");
        // Two pointers pointing at each other.
        let mutual = Builder::new(1, 0, [1, 0, 0, 0])
            .bytes(&[1, b'a', 0xc0, 16, 0xc0, 12])
            .0;
        assert_eq!(parse(&mutual).unwrap_err().fault, Fault::PointerLoop);
        // A pointer chain that builds a long name is stopped by the length limit.
        let mut chain = Builder::new(1, 0, [1, 0, 0, 0]).0;
        chain.extend_from_slice(&[63]);
        chain.extend_from_slice(&[b'x'; 63]);
        chain.extend_from_slice(&[0xc0, 12]);
        assert_eq!(parse(&chain).unwrap_err().fault, Fault::NameTooLong);
        let wild = Builder::new(1, 0, [1, 0, 0, 0]).bytes(&[0xff, 0xff]).0;
        assert_eq!(
            parse(&wild).unwrap_err().fault,
            Fault::PointerOutOfRange(0x3fff)
        );
    }

    #[test]
    fn every_truncation_of_a_valid_message_fails_cleanly() {
        let wire = response();
        for cut in 0..wire.len() {
            let err = parse(&wire[..cut]);
            assert!(err.is_err(), "cut at {cut} parsed");
        }
        assert!(parse(&wire).is_ok());
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
        assert!(
            err.to_string().contains("rdata of 3 bytes, expected 4"),
            "{err}"
        );
    }

    #[test]
    fn opt_rules() {
        let two_opts = Builder::new(1, 0, [0, 0, 0, 2])
            .bytes(&[0])
            .rr(41, 512, 0, &[])
            .bytes(&[0])
            .rr(41, 512, 0, &[])
            .0;
        assert!(
            parse(&two_opts)
                .unwrap_err()
                .to_string()
                .contains("second OPT")
        );
        let in_answer = Builder::new(1, 0, [0, 1, 0, 0])
            .bytes(&[0])
            .rr(41, 512, 0, &[])
            .0;
        assert!(parse(&in_answer).is_err());
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
    fn update_messages_name_their_sections_and_allow_empty_rdata() {
        let update = Builder::new(7, 0x2800, [1, 1, 1, 0])
            .name("example.com")
            .u16(6)
            .u16(1)
            .name("www.example.com")
            .rr(1, 255, 0, &[])
            .name("www.example.com")
            .rr(1, 254, 0, &[192, 0, 2, 1])
            .0;
        let m = parse(&update).unwrap();
        assert_eq!(m.header.opcode(), OPCODE_UPDATE);
        let mut text = String::new();
        write_text(&mut text, &m, "");
        assert!(
            text.contains(";; ZONE SECTION:\n;example.com.\tIN\tSOA"),
            "{text}"
        );
        assert!(
            text.contains(";; PREREQUISITE SECTION:\nwww.example.com.\t0\tANY\tA\n"),
            "{text}"
        );
        assert!(
            text.contains("www.example.com.\t0\tNONE\tA\t192.0.2.1"),
            "{text}"
        );
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
        let (header, question) = first_question(&wire[..40]).unwrap();
        assert_eq!(header.id, 0x1234);
        assert_eq!(question, Some(("www.example.com.".to_string(), 1, 1)));
        assert!(first_question(&wire[..11]).is_none());
        assert!(first_question(&wire[..20]).is_none());
    }

    #[test]
    fn mnemonics() {
        assert_eq!(TypeName(1).to_string(), "A");
        assert_eq!(TypeName(65).to_string(), "HTTPS");
        assert_eq!(TypeName(65534).to_string(), "TYPE65534");
        assert_eq!(ClassName(1).to_string(), "IN");
        assert_eq!(ClassName(2).to_string(), "CLASS2");
        assert_eq!(opcode_name(5), Some("UPDATE"));
        assert_eq!(opcode_name(3), None);
        assert_eq!(rcode_name(3), Some("NXDOMAIN"));
        assert_eq!(rcode_name(12), None);
    }

    #[test]
    fn random_and_mutated_input_never_panics() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let base = response();
        let mut text = String::new();
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
                text.clear();
                write_text(&mut text, &m, "");
            }
            let _ = first_question(&wire);
            let _ = name_from_wire(&wire);
        }
    }
}
