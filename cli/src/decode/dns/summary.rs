//! What a query log keeps of a DNS message: the first question (the name
//! lowercased), opcode, RCODE, flags and EDNS. A message that does not
//! parse completely still gives its header and question, when they parse:
//! a damaged answer section does not hide what was asked.

use domain::base::Message;

use super::message::{first_question, parse};

/// The EDNS fields a query log keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdnsSummary {
    pub udp_size: u16,
    pub version: u8,
    pub dnssec_ok: bool,
}

/// A DNS message as a query log row describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The first question's name, lowercased, in presentation form; empty
    /// without a question.
    pub qname: String,
    pub qtype: u16,
    pub qclass: u16,
    pub opcode: u8,
    /// Extended by the OPT record when the message parses completely.
    pub rcode: u16,
    /// The header's flags word (QR, opcode, AA … RCODE).
    pub flags: u16,
    /// Present only for a message that parses completely.
    pub edns: Option<EdnsSummary>,
}

/// The summary of `wire`, or None when not even its header parses.
pub fn summarize(wire: &[u8]) -> Option<Summary> {
    let header = Message::from_slice(wire).ok()?.header();
    let (question, rcode, edns) = match parse(wire) {
        Ok(message) => (
            message.first_question(),
            message.rcode(),
            message.edns().map(|edns| EdnsSummary {
                udp_size: edns.udp_size,
                version: edns.version,
                dnssec_ok: edns.dnssec_ok(),
            }),
        ),
        Err(_) => (
            first_question(wire),
            u16::from(header.rcode().to_int()),
            None,
        ),
    };
    let (mut qname, qtype, qclass) = question.unwrap_or_default();
    qname.make_ascii_lowercase();
    Some(Summary {
        qname,
        qtype,
        qclass,
        opcode: header.opcode().to_int(),
        rcode,
        flags: u16::from_be_bytes([wire[2], wire[3]]),
        edns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnstap_testkit::wire::response;

    #[test]
    fn a_whole_response() {
        let summary = summarize(&response()).unwrap();
        assert_eq!(summary.qname, "www.example.com.");
        assert_eq!((summary.qtype, summary.qclass, summary.opcode), (1, 1, 0));
        assert_eq!(summary.flags & 0x8000, 0x8000, "QR");
        assert_eq!(
            summary.edns,
            Some(EdnsSummary {
                udp_size: 1232,
                version: 0,
                dnssec_ok: true
            })
        );
    }

    #[test]
    fn a_damaged_message_keeps_its_header_and_question() {
        let mut wire = response();
        wire.truncate(wire.len() - 3);
        let summary = summarize(&wire).unwrap();
        assert_eq!(summary.qname, "www.example.com.");
        assert_eq!(summary.edns, None, "the OPT record is cut");
        assert!(summarize(&wire[..11]).is_none(), "shorter than a header");
        let mut upper = response();
        upper[13] = b'W';
        assert_eq!(summarize(&upper).unwrap().qname, "www.example.com.");
    }
}
