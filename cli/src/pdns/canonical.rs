//! A response's answer, authority and additional sections decomposed into
//! RRsets in canonical form: the owner lowercased, the domain names inside
//! RDATA lowercased for the types of RFC 4034 §6.2 (as corrected by RFC
//! 6840 §5.1: not NSEC's next name), the RRs of a set sorted by their
//! canonical RDATA (RFC 4034 §6.3) with duplicates removed, and the TTL
//! left out. The canonical form is `domain`'s `compose_canonical_rdata`;
//! the text is `domain`'s presentation format of that canonical RDATA, so
//! equal RRsets always read the same.

use std::collections::HashMap;

use domain::base::ParsedRecord;
use domain::base::iana::{Class, Rtype};
use domain::base::name::{Name, ParsedName, ToName};
use domain::base::rdata::{ComposeRecordData, ParseAnyRecordData};
use domain::base::zonefile_fmt::{DisplayKind, ZonefileFmt};
use domain::dep::octseq::Parser;
use domain::rdata::AllRecordData;

use crate::decode::dns::{DnsMessage, write_name};

/// A message section that holds records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Section {
    Answer,
    Authority,
    Additional,
}

/// One RR's data in canonical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rdata {
    /// Canonical wire format: what RRs are ordered by, and where the
    /// targets of CNAME and DNAME are read.
    pub wire: Vec<u8>,
    /// Presentation format.
    pub text: String,
}

/// The RRs of one section that share owner, class and type.
#[derive(Clone, Debug)]
pub struct RRset {
    pub section: Section,
    /// Lowercased.
    pub owner: Name<Vec<u8>>,
    pub class: u16,
    pub rtype: Rtype,
    /// Sorted by canonical wire format, without duplicates.
    pub rdata: Vec<Rdata>,
}

impl RRset {
    /// The name a CNAME or DNAME RRset points to (its first RR's, the only
    /// one a valid set has).
    pub fn target(&self) -> Option<Name<Vec<u8>>> {
        Name::from_octets(self.rdata.first()?.wire.clone()).ok()
    }

    /// The RDATA texts, in canonical order.
    pub fn rdata_texts(&self) -> Vec<String> {
        self.rdata.iter().map(|rdata| rdata.text.clone()).collect()
    }
}

/// A name in presentation form, escaped as `read` prints names.
pub fn name_text<N: ToName + ?Sized>(name: &N) -> String {
    let mut text = String::new();
    write_name(&mut text, name);
    text
}

/// Records that carry no DNS data: OPT (RFC 6891), TSIG (RFC 8945) and
/// SIG(0) (RFC 2931: a SIG that covers type 0).
fn is_transaction_meta(record: &ParsedRecord<'_, [u8]>, rdata: &[u8]) -> bool {
    match record.rtype() {
        Rtype::OPT | Rtype::TSIG => true,
        Rtype::SIG => rdata.starts_with(&[0, 0]),
        _ => false,
    }
}

/// The RRsets of the answer, authority and additional sections, each
/// section's in the order of their first record. `message` parsed
/// completely, so every record and its RDATA are well formed.
pub fn rrsets(message: &DnsMessage<'_>) -> Vec<RRset> {
    let mut sets: Vec<RRset> = Vec::new();
    let mut index: HashMap<(Section, Vec<u8>, u16, Rtype), usize> = HashMap::new();
    let wire = message.records();
    let sections = [
        (Section::Answer, wire.answer()),
        (Section::Authority, wire.authority()),
        (Section::Additional, wire.additional()),
    ];
    for (section, records) in sections {
        let Ok(records) = records else { continue };
        for record in records.flatten() {
            let Some(rdata) = canonical_rdata(&record) else {
                continue;
            };
            if is_transaction_meta(&record, &rdata.wire) {
                continue;
            }
            let owner: Name<Vec<u8>> = record.owner().to_canonical_name();
            let class = record.class().to_int();
            let key = (section, owner.as_octets().clone(), class, record.rtype());
            let at = *index.entry(key).or_insert_with(|| {
                sets.push(RRset {
                    section,
                    owner,
                    class,
                    rtype: record.rtype(),
                    rdata: Vec::new(),
                });
                sets.len() - 1
            });
            sets[at].rdata.push(rdata);
        }
    }
    for set in &mut sets {
        set.rdata.sort_by(|a, b| a.wire.cmp(&b.wire));
        set.rdata.dedup_by(|a, b| a.wire == b.wire);
    }
    sets
}

/// A record's RDATA in canonical wire format and as text; None if `domain`
/// cannot read it back (it just parsed it, so never in practice).
fn canonical_rdata(record: &ParsedRecord<'_, [u8]>) -> Option<Rdata> {
    let parsed = record
        .to_any_record::<AllRecordData<&[u8], ParsedName<&[u8]>>>()
        .ok()?;
    let mut wire = Vec::new();
    parsed.data().compose_canonical_rdata(&mut wire).ok()?;
    let text = rdata_text(record.rtype(), &wire)?;
    Some(Rdata { wire, text })
}

/// The presentation format of canonical RDATA: unknown types in RFC 3597
/// form (`\# 2 de ad`).
fn rdata_text(rtype: Rtype, wire: &[u8]) -> Option<String> {
    let mut parser = Parser::from_ref(wire);
    let data =
        AllRecordData::<&[u8], ParsedName<&[u8]>>::parse_any_rdata(rtype, &mut parser).ok()?;
    Some(data.display_zonefile(DisplayKind::Simple).to_string())
}

/// Whether a class is IN, the only class passive DNS keeps.
pub fn is_internet(class: u16) -> bool {
    class == Class::IN.to_int()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::dns::parse;
    use dnstap_testkit::wire::{Builder, wire_name};

    fn sets_of(wire: &[u8]) -> Vec<RRset> {
        rrsets(&parse(wire).unwrap())
    }

    #[test]
    fn owners_and_names_in_rdata_are_lowercased_text_is_not() {
        let wire = Builder::new(1, 0x8000, [0, 4, 0, 0])
            .name("WWW.Example.COM")
            .rr(5, 1, 300, &wire_name("Web.EXAMPLE.com"))
            .name("example.com")
            .rr(
                15,
                1,
                300,
                &[&[0, 10][..], &wire_name("MX.Example.com")].concat(),
            )
            .name("example.com")
            .rr(16, 1, 300, b"\x05HeLLo")
            .name("example.com")
            .rr(
                47,
                1,
                300,
                &[&wire_name("Next.Example.com")[..], &[0, 1, 0x40]].concat(),
            )
            .0;
        let sets = sets_of(&wire);
        let texts: Vec<(String, String)> = sets
            .iter()
            .map(|s| (name_text(&s.owner), s.rdata[0].text.clone()))
            .collect();
        assert_eq!(
            texts,
            [
                ("www.example.com.".into(), "web.example.com.".into()),
                ("example.com.".into(), "10 mx.example.com.".into()),
                ("example.com.".into(), "\"HeLLo\"".into()),
                // RFC 6840 §5.1: NSEC's next name keeps its case.
                ("example.com.".into(), "Next.Example.com. A".into()),
            ]
        );
    }

    #[test]
    fn rrs_are_grouped_sorted_and_deduplicated_per_section() {
        let wire = Builder::new(1, 0x8000, [0, 4, 0, 2])
            .name("a.example")
            .rr(1, 1, 300, &[192, 0, 2, 9])
            .name("a.example")
            .rr(1, 1, 60, &[192, 0, 2, 1])
            .name("A.EXAMPLE")
            .rr(1, 1, 10, &[192, 0, 2, 9])
            .name("a.example")
            .rr(
                28,
                1,
                300,
                &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            )
            .name("a.example")
            .rr(1, 1, 300, &[192, 0, 2, 5])
            .bytes(&[0])
            .rr(41, 1232, 0, &[])
            .0;
        let sets = sets_of(&wire);
        assert_eq!(sets.len(), 3, "{sets:?}");
        assert_eq!(sets[0].section, Section::Answer);
        assert_eq!(sets[0].rdata_texts(), ["192.0.2.1", "192.0.2.9"]);
        assert_eq!(sets[1].rdata_texts(), ["2001:db8::1"]);
        assert_eq!(sets[2].section, Section::Additional);
        assert_eq!(sets[2].rdata_texts(), ["192.0.2.5"], "OPT is dropped");
    }

    #[test]
    fn meta_records_are_dropped_rrsig_and_unknown_types_kept() {
        let rrsig = [
            &[0, 1, 8, 2][..],
            &3600u32.to_be_bytes(),
            &2u32.to_be_bytes(),
            &1u32.to_be_bytes(),
            &[0x30, 0x39],
            &wire_name("Example"),
            &[1, 2, 3],
        ]
        .concat();
        let sig0 = [&[0, 0][..], &rrsig[2..]].concat();
        let tsig = [
            &wire_name("hmac-sha256")[..],
            &[0, 0, 0, 0, 0, 1, 1, 44, 0, 0, 0, 1, 0, 0, 0, 0],
        ]
        .concat();
        let wire = Builder::new(1, 0x8000, [0, 2, 0, 2])
            .name("example")
            .rr(46, 1, 300, &rrsig)
            .name("example")
            .rr(65280, 1, 300, &[0xde, 0xad])
            .bytes(&[0])
            .rr(24, 255, 0, &sig0)
            .name("key")
            .rr(250, 255, 0, &tsig)
            .0;
        let sets = sets_of(&wire);
        let types: Vec<u16> = sets.iter().map(|s| s.rtype.to_int()).collect();
        assert_eq!(types, [46, 65280]);
        assert_eq!(
            sets[0].rdata_texts(),
            ["A 8 2 3600 2 1 12345 example. AQID"],
            "the signer name lowercased"
        );
        assert_eq!(sets[1].rdata_texts(), ["\\# 2 de ad"]);
    }
}
