//! A parsed message as dig-like text: the header, the OPT pseudosection,
//! then each section, one record a line (`owner TTL CLASS TYPE RDATA`,
//! tab-separated like ldns). RDATA is `domain`'s presentation format.

use std::fmt::Write;

use domain::base::ParsedRecord;
use domain::base::iana::Rtype;
use domain::base::name::ParsedName;
use domain::base::zonefile_fmt::{DisplayKind, ZonefileFmt};
use domain::rdata::AllRecordData;

use super::message::{DnsMessage, Edns, write_name};
use super::mnemonics::{
    ClassName, TypeName, count_names, flag_names, opcode_name, option_name, rcode_name,
    section_names,
};

/// Appends `message` as dig-like text, every line prefixed by `indent`
/// (blank lines stay empty).
pub fn write_text(out: &mut String, message: &DnsMessage<'_>, indent: &str) {
    let header = message.header();
    let opcode = header.opcode().to_int();
    let names = section_names(opcode);
    let _ = write!(out, "{indent};; ->>HEADER<<- opcode: ");
    match opcode_name(opcode) {
        Some(name) => out.push_str(name),
        None => {
            let _ = write!(out, "{opcode}");
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
    let _ = writeln!(out, ", id: {}", header.id());
    let _ = write!(out, "{indent};; flags:");
    for flag in flag_names(message.flags()) {
        out.push(' ');
        out.push_str(flag);
    }
    let labels = count_names(opcode);
    let counts = message.counts();
    let _ = writeln!(
        out,
        "; {}: {}, {}: {}, {}: {}, {}: {}",
        labels[0], counts[0], labels[1], counts[1], labels[2], counts[2], labels[3], counts[3]
    );
    if let Some(edns) = message.edns() {
        write_edns(out, edns, indent);
    }
    let _ = writeln!(out, "\n{indent};; {} SECTION:", names[0]);
    let mut questions = message.message.question();
    for question in &mut questions {
        let Ok(question) = question else { return };
        let _ = write!(out, "{indent};");
        write_name(out, &question.qname());
        let _ = writeln!(
            out,
            "\t{}\t{}",
            ClassName(question.qclass().to_int()),
            TypeName(question.qtype().to_int())
        );
    }
    let Ok(mut section) = questions.answer() else {
        return;
    };
    for name in &names[1..] {
        let mut first = true;
        for record in &mut section {
            let Ok(record) = record else { return };
            if record.rtype() == Rtype::OPT {
                continue;
            }
            if first {
                let _ = writeln!(out, "\n{indent};; {name} SECTION:");
                first = false;
            }
            out.push_str(indent);
            write_record(out, &record);
            out.push('\n');
        }
        match section.next_section() {
            Ok(Some(next)) => section = next,
            _ => break,
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

fn write_edns(out: &mut String, edns: &Edns<'_>, indent: &str) {
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
    for (code, value) in edns.options() {
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
                let _ = write!(out, "({} bytes)", value.len());
            }
            15 if value.len() >= 2 => {
                let info = u16::from_be_bytes([value[0], value[1]]);
                let _ = write!(out, "{info}");
                if value.len() > 2 {
                    out.push(' ');
                    write_character_string(out, &value[2..]);
                }
            }
            _ => write_hex(out, value),
        }
        out.push('\n');
    }
}

/// One record as `owner TTL CLASS TYPE RDATA`; no RDATA column when the
/// record has none (RFC 2136 prerequisites and deletions).
fn write_record(out: &mut String, record: &ParsedRecord<'_, [u8]>) {
    write_name(out, &record.owner());
    let _ = write!(
        out,
        "\t{}\t{}\t{}",
        record.ttl().as_secs(),
        ClassName(record.class().to_int()),
        TypeName(record.rtype().to_int())
    );
    if record.rdlen() == 0 {
        return;
    }
    if let Ok(parsed) = record.to_any_record::<AllRecordData<&[u8], ParsedName<&[u8]>>>() {
        let _ = write!(
            out,
            "\t{}",
            parsed.data().display_zonefile(DisplayKind::Simple)
        );
    }
}

fn write_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02X}");
    }
}

/// A character string in quotes: `"` and `\` escaped, bytes that are not
/// printable ASCII as `\DDD` (an EDE's extra text).
fn write_character_string(out: &mut String, text: &[u8]) {
    out.push('"');
    for &c in text {
        match c {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(c as char);
            }
            b' ' => out.push(' '),
            c if c.is_ascii_graphic() => out.push(c as char),
            c => {
                let _ = write!(out, "\\{c:03}");
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::dns::parse;
    use dnstap_testkit::wire::{Builder, response, update, wire_name};

    #[test]
    fn a_compressed_response_reads_like_dig() {
        let wire = response();
        let mut text = String::new();
        write_text(&mut text, &parse(&wire).unwrap(), "  ");
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

    fn rdata_text(rtype: u16, rdata: &[u8]) -> String {
        let wire = Builder::new(1, 0x8000, [0, 1, 0, 0])
            .name("example")
            .rr(rtype, 1, 60, rdata)
            .0;
        let mut text = String::new();
        write_text(&mut text, &parse(&wire).unwrap(), "");
        let line = text.lines().last().unwrap();
        line.splitn(5, '\t').nth(4).unwrap_or_default().to_string()
    }

    #[test]
    fn rdata_in_the_presentation_format_of_domain() {
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
                "A 8 2 3600 1700000000 1600000000 12345 a.example. AQID",
            ),
            (
                47,
                [&name[..], &[0, 6, 0x62, 0, 0, 0, 0, 0x03]].concat(),
                "a.example. A NS SOA RRSIG NSEC",
            ),
            (65, vec![0, 1, 0, 0, 1, 0, 3, 2, b'h', b'3'], "1 . alpn=h3"),
            (65280, vec![0xde, 0xad], "\\# 2 de ad"),
        ];
        for (rtype, rdata, expected) in cases {
            assert_eq!(rdata_text(rtype, &rdata), expected, "type {rtype}");
        }
    }

    #[test]
    fn update_messages_name_their_sections_and_omit_empty_rdata() {
        let update = update();
        let mut text = String::new();
        write_text(&mut text, &parse(&update).unwrap(), "");
        assert!(
            text.contains(";; flags:; ZONE: 1, PREREQ: 1, UPDATE: 1, ADDITIONAL: 0\n"),
            "{text}"
        );
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
    fn edns_options_and_trailing_bytes_are_shown() {
        let mut wire = Builder::new(1, 0x8000, [0, 0, 0, 1])
            .bytes(&[0])
            .rr(
                41,
                1232,
                0x0000_0001,
                &[
                    &[0, 12, 0, 3, 0, 0, 0][..],
                    &[0, 15, 0, 4, 0, 18, b'h', b'i'],
                    &[0xff, 0, 0, 1, 0xab],
                ]
                .concat(),
            )
            .0;
        wire.push(0);
        let mut text = String::new();
        write_text(&mut text, &parse(&wire).unwrap(), "");
        assert!(
            text.contains(
                "; EDNS: version: 0, flags: 0x0001; udp: 1232\n; PADDING: (3 bytes)\n\
                 ; EDE: 18 \"hi\"\n; OPT=65280: AB\n"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("\n;; 1 bytes after the last record\n"),
            "{text}"
        );
    }
}
