//! DNS messages in wire format, parsed by NLnet Labs' `domain`: header,
//! questions, every record with its RDATA checked against its type
//! (`AllRecordData`, which knows the DNSSEC and SVCB/HTTPS types and takes
//! any other as RFC 3597 data), names with compression pointers, all
//! bounded and never panicking on hostile input.
//!
//! What stays here is what the library does not decide: the rules of a
//! whole message (OPT only once and only in the additional section, RFC
//! 2136's records without RDATA, bytes after the last record), where a
//! message fails ([`ParseError`]), and the text ([`write_text`]) with ldns's
//! names ([`mnemonics`]). The README says why a library and what it cost.

mod message;
pub mod mnemonics;
mod summary;
mod text;

pub use message::{
    DnsMessage, Edns, ParseError, QuestionText, first_question, name_from_wire, parse, write_name,
};
pub use mnemonics::{ClassName, TypeName, flag_names, opcode_name, rcode_name};
pub use summary::{EdnsSummary, Summary, summarize};
pub use text::write_text;
