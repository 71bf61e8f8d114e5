//! The bailiwick rule: which RRsets of a response the resolver could have
//! trusted, given the zone it asked (dnstap's `query_zone`). It mirrors
//! Unbound's scrubber (`iterator/iter_scrub.c`, `scrub_sanitize`), which
//! dnstap cannot show: the `response_message` is the reply as received,
//! before scrubbing, so a sensor that stored it as is would store what a
//! poisoner sent.
//!
//! - An RRset is kept only if its owner is the bailiwick or below it: a
//!   server answers for its own zone, not for its parent (an NS RRset
//!   above its zone) nor for another zone (a foreign A in additional).
//! - In the answer section an RRset is kept only if it is owned by the
//!   QNAME or by a name the QNAME reaches through CNAME and DNAME RRsets
//!   that are themselves kept, plus the DNAMEs that make those steps.

use domain::base::iana::Rtype;
use domain::base::name::Name;

use super::canonical::{RRset, Section};

/// Why the rule set an RRset aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The owner is neither the bailiwick nor below it.
    OutOfBailiwick,
    /// An answer RRset in bailiwick that the QNAME's chain does not reach.
    OffChain,
}

/// Splits `sets` into those kept and the rejections, in order.
pub fn select(
    sets: Vec<RRset>,
    qname: &Name<Vec<u8>>,
    bailiwick: &Name<Vec<u8>>,
) -> (Vec<RRset>, Vec<Rejection>) {
    let (inside, outside): (Vec<RRset>, Vec<RRset>) = sets
        .into_iter()
        .partition(|set| set.owner.ends_with(bailiwick));
    let chain = chain_names(&inside, qname);
    let mut rejections = vec![Rejection::OutOfBailiwick; outside.len()];
    let mut kept = Vec::with_capacity(inside.len());
    for set in inside {
        if set.section != Section::Answer || on_chain(&set, &chain) {
            kept.push(set);
        } else {
            rejections.push(Rejection::OffChain);
        }
    }
    (kept, rejections)
}

/// The names the QNAME reaches through the answer's CNAME and DNAME
/// RRsets (all in bailiwick), in any order of the records.
fn chain_names(sets: &[RRset], qname: &Name<Vec<u8>>) -> Vec<Name<Vec<u8>>> {
    let links: Vec<&RRset> = sets
        .iter()
        .filter(|s| s.section == Section::Answer && matches!(s.rtype, Rtype::CNAME | Rtype::DNAME))
        .collect();
    let mut chain = vec![qname.clone()];
    // Each round adds at least one name or ends; a name is added once, and
    // each link adds at most one name per name it applies to, so the
    // rounds are bounded by the number of links plus one.
    for _ in 0..=links.len() {
        let mut added = Vec::new();
        for link in &links {
            for name in &chain {
                let Some(next) = follow(link, name) else {
                    continue;
                };
                if !chain.contains(&next) && !added.contains(&next) {
                    added.push(next);
                }
            }
        }
        if added.is_empty() {
            break;
        }
        chain.extend(added);
    }
    chain
}

/// Where `link` leads from `name`: a CNAME owned by `name` to its target,
/// a DNAME owned by an ancestor of `name` to the substituted name.
fn follow(link: &RRset, name: &Name<Vec<u8>>) -> Option<Name<Vec<u8>>> {
    let target = link.target()?;
    match link.rtype {
        Rtype::CNAME if link.owner == *name => Some(target),
        Rtype::DNAME if is_strictly_below(name, &link.owner) => {
            substitute(name, &link.owner, &target)
        }
        _ => None,
    }
}

fn is_strictly_below(name: &Name<Vec<u8>>, ancestor: &Name<Vec<u8>>) -> bool {
    name != ancestor && name.ends_with(ancestor)
}

/// `name` with its suffix `owner` replaced by `target` (RFC 6672 §2.2);
/// None when the result is longer than a name may be.
fn substitute(
    name: &Name<Vec<u8>>,
    owner: &Name<Vec<u8>>,
    target: &Name<Vec<u8>>,
) -> Option<Name<Vec<u8>>> {
    // Both are lowercased and uncompressed: the suffix is bytewise too.
    let prefix = &name.as_slice()[..name.as_slice().len() - owner.as_slice().len()];
    Name::from_octets([prefix, target.as_slice()].concat()).ok()
}

/// Whether an answer RRset belongs to the chain: owned by a chain name, or
/// a DNAME whose owner is above one.
fn on_chain(set: &RRset, chain: &[Name<Vec<u8>>]) -> bool {
    chain.iter().any(|name| {
        set.owner == *name || (set.rtype == Rtype::DNAME && is_strictly_below(name, &set.owner))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::dns::parse;
    use crate::pdns::canonical::{name_text, rrsets};
    use dnstap_testkit::wire::{Builder, wire_name};
    use std::str::FromStr;

    fn name(text: &str) -> Name<Vec<u8>> {
        Name::from_str(text).unwrap()
    }

    /// The owners and types kept, and the rejections, for a response to
    /// `qname` from the zone `zone`.
    fn apply(wire: &[u8], qname: &str, zone: &str) -> (Vec<String>, Vec<Rejection>) {
        let (kept, rejected) = select(rrsets(&parse(wire).unwrap()), &name(qname), &name(zone));
        let kept = kept
            .iter()
            .map(|s| format!("{} {}", name_text(&s.owner), s.rtype))
            .collect();
        (kept, rejected)
    }

    fn a(last: u8) -> [u8; 4] {
        [192, 0, 2, last]
    }

    #[test]
    fn foreign_records_and_ns_above_the_zone_are_out_of_bailiwick() {
        let wire = Builder::new(1, 0x8400, [0, 1, 2, 2])
            .name("www.evil.test")
            .rr(1, 1, 300, &a(66))
            .name("evil.test")
            .rr(2, 1, 300, &wire_name("ns.evil.test"))
            .name("test")
            .rr(2, 1, 300, &wire_name("ns.evil.test"))
            .name("ns.evil.test")
            .rr(1, 1, 300, &a(53))
            .name("www.example.test")
            .rr(1, 1, 300, &a(6))
            .0;
        let (kept, rejected) = apply(&wire, "www.evil.test", "evil.test");
        assert_eq!(
            kept,
            ["www.evil.test. A", "evil.test. NS", "ns.evil.test. A"]
        );
        assert_eq!(rejected, [Rejection::OutOfBailiwick; 2]);
    }

    #[test]
    fn answers_for_other_names_are_off_chain() {
        let wire = Builder::new(1, 0x8400, [0, 3, 0, 0])
            .name("www.evil.test")
            .rr(1, 1, 300, &a(66))
            .name("mail.evil.test")
            .rr(1, 1, 300, &a(67))
            .name("www.example.test")
            .rr(1, 1, 300, &a(6))
            .0;
        let (kept, rejected) = apply(&wire, "WWW.evil.test", "evil.test");
        assert_eq!(kept, ["www.evil.test. A"]);
        assert_eq!(
            rejected,
            [Rejection::OutOfBailiwick, Rejection::OffChain],
            "outside first, then in order"
        );
    }

    #[test]
    fn cname_and_dname_chains_are_followed_inside_the_bailiwick_only() {
        // Records out of order: the chain does not depend on it.
        let wire = Builder::new(1, 0x8400, [0, 6, 0, 0])
            .name("c.example.test")
            .rr(1, 1, 300, &a(3))
            .name("b.example.test")
            .rr(5, 1, 300, &wire_name("x.d.example.test"))
            .name("a.example.test")
            .rr(5, 1, 300, &wire_name("B.example.test"))
            .name("d.example.test")
            .rr(39, 1, 300, &wire_name("c.example.test"))
            .name("x.c.example.test")
            .rr(1, 1, 300, &a(4))
            .name("z.example.test")
            .rr(1, 1, 300, &a(5))
            .0;
        let (kept, rejected) = apply(&wire, "a.example.test", "example.test");
        assert_eq!(
            kept,
            [
                "b.example.test. CNAME",
                "a.example.test. CNAME",
                "d.example.test. DNAME",
                "x.c.example.test. A",
            ]
        );
        // c.example.test A is not reached: the DNAME leads to x.c, not c.
        assert_eq!(rejected, [Rejection::OffChain; 2]);

        // A chain that leaves the zone does not come back into it.
        let wire = Builder::new(1, 0x8400, [0, 3, 0, 0])
            .name("a.example.test")
            .rr(5, 1, 300, &wire_name("b.other.test"))
            .name("b.other.test")
            .rr(5, 1, 300, &wire_name("c.example.test"))
            .name("c.example.test")
            .rr(1, 1, 300, &a(3))
            .0;
        let (kept, rejected) = apply(&wire, "a.example.test", "example.test");
        assert_eq!(kept, ["a.example.test. CNAME"]);
        assert_eq!(rejected, [Rejection::OutOfBailiwick, Rejection::OffChain]);
    }

    #[test]
    fn the_root_zone_is_bailiwick_for_everything() {
        let wire = Builder::new(1, 0x8400, [0, 0, 1, 1])
            .name("test")
            .rr(2, 1, 300, &wire_name("ns.test"))
            .name("ns.test")
            .rr(1, 1, 300, &a(1))
            .0;
        let (kept, rejected) = apply(&wire, "www.example.test", ".");
        assert_eq!(kept, ["test. NS", "ns.test. A"]);
        assert!(rejected.is_empty());
    }

    #[test]
    fn dname_substitution_longer_than_a_name_is_no_step() {
        // 198 bytes of target for a 16-byte owner under a 144-byte QNAME:
        // the substitution would be 326 bytes long.
        let long_target = format!("{}.test", vec!["a".repeat(63); 3].join("."));
        let prefix = format!("{}.{}", "q".repeat(63), "r".repeat(63));
        let wire = Builder::new(1, 0x8400, [0, 2, 0, 0])
            .name("d.example.test")
            .rr(39, 1, 300, &wire_name(&long_target))
            .name(&format!("{prefix}.{}", "a".repeat(63)))
            .rr(1, 1, 300, &a(1))
            .0;
        let (kept, rejected) = apply(&wire, &format!("{prefix}.d.example.test"), ".");
        assert_eq!(kept, ["d.example.test. DNAME"]);
        assert_eq!(rejected, [Rejection::OffChain]);
    }
}
