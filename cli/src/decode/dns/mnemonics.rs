//! The mnemonics ldns and dig print: record types, classes, opcodes,
//! rcodes, header flags and EDNS options. `read`'s text line must be
//! byte-identical with `dnstap-ldns -q`, so types and classes use ldns's
//! names (`domain` spells a few differently: NSAPPTR, `*` for ANY, and
//! types newer than ldns); the others are the names of the JSON schema.

use std::fmt;

pub const OPCODE_UPDATE: u8 = 5;
pub const CLASS_NONE: u16 = 254;
pub const CLASS_ANY: u16 = 255;

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

/// Names of the flags set in a header's flags word.
pub fn flag_names(flags: u16) -> impl Iterator<Item = &'static str> {
    FLAGS
        .iter()
        .filter(move |(bit, _)| flags & bit != 0)
        .map(|&(_, name)| name)
}

/// The names of the header's four counts, as dig prints them.
pub fn count_names(opcode: u8) -> [&'static str; 4] {
    if opcode == OPCODE_UPDATE {
        ["ZONE", "PREREQ", "UPDATE", "ADDITIONAL"]
    } else {
        ["QUERY", "ANSWER", "AUTHORITY", "ADDITIONAL"]
    }
}

/// Section names: RFC 2136 names them differently for UPDATE.
pub fn section_names(opcode: u8) -> [&'static str; 4] {
    if opcode == OPCODE_UPDATE {
        ["ZONE", "PREREQUISITE", "UPDATE", "ADDITIONAL"]
    } else {
        ["QUESTION", "ANSWER", "AUTHORITY", "ADDITIONAL"]
    }
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

pub fn option_name(code: u16) -> Option<&'static str> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnemonics_are_ldns_names() {
        assert_eq!(TypeName(1).to_string(), "A");
        assert_eq!(TypeName(23).to_string(), "NSAP-PTR");
        assert_eq!(TypeName(65).to_string(), "HTTPS");
        assert_eq!(TypeName(65534).to_string(), "TYPE65534");
        assert_eq!(ClassName(1).to_string(), "IN");
        assert_eq!(ClassName(2).to_string(), "CLASS2");
        assert_eq!(ClassName(255).to_string(), "ANY");
        assert_eq!(opcode_name(5), Some("UPDATE"));
        assert_eq!(opcode_name(3), None);
        assert_eq!(rcode_name(3), Some("NXDOMAIN"));
        assert_eq!(rcode_name(12), None);
        assert_eq!(flag_names(0x8180).collect::<Vec<_>>(), ["qr", "rd", "ra"]);
    }
}
