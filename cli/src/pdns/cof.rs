//! The Passive DNS Common Output Format (draft-dulaunoy-dnsop-passive-dns-cof):
//! one JSON object per key, `rdata` always an array, unknown types as their
//! number (their RDATA is already in RFC 3597 form); and the text form for
//! people, in the layout of a zone file.

use std::fmt::Write as _;

use serde::Serialize;

use super::aggregate::{Key, Seen};
use crate::decode::dns::mnemonics::type_mnemonic;
use crate::decode::time::Civil;

/// A type as COF writes it: the mnemonic, or the number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum RrType {
    Mnemonic(&'static str),
    Number(u16),
}

impl RrType {
    pub fn of(rrtype: u16) -> RrType {
        type_mnemonic(rrtype).map_or(RrType::Number(rrtype), RrType::Mnemonic)
    }
}

impl std::fmt::Display for RrType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RrType::Mnemonic(name) => f.write_str(name),
            RrType::Number(n) => write!(f, "TYPE{n}"),
        }
    }
}

/// One COF record, members in the draft's order.
#[derive(Serialize)]
pub struct Cof<'a> {
    pub rrname: &'a str,
    pub rrtype: RrType,
    pub rdata: &'a [String],
    pub time_first: i64,
    pub time_last: i64,
    pub count: i64,
    pub bailiwick: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub sensor_id: &'a str,
}

impl<'a> Cof<'a> {
    pub fn new(key: &'a Key, seen: &'a Seen) -> Cof<'a> {
        Cof {
            rrname: &key.rrname,
            rrtype: RrType::of(key.rrtype),
            rdata: &key.rdata,
            time_first: seen.time_first,
            time_last: seen.time_last,
            count: seen.count,
            bailiwick: &key.bailiwick,
            sensor_id: &seen.sensor_id,
        }
    }
}

/// Appends one line of NDJSON.
pub fn write_json(out: &mut String, value: &impl Serialize) {
    out.push_str(&serde_json::to_string(value).expect("COF records serialize"));
    out.push('\n');
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
fn write_time(out: &mut String, seconds: i64) {
    let c = Civil::from_unix(seconds.max(0) as u64);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    );
}

/// A key for people: a comment line with what is known, then the RRset as
/// zone-file lines, then a blank line.
pub fn write_text(out: &mut String, key: &Key, seen: &Seen) {
    let rrtype = RrType::of(key.rrtype);
    let _ = write!(
        out,
        ";; bailiwick {}  count {}  first ",
        key.bailiwick, seen.count
    );
    write_time(out, seen.time_first);
    out.push_str("  last ");
    write_time(out, seen.time_last);
    out.push_str(" UTC");
    if !seen.sensor_id.is_empty() {
        let _ = write!(out, "  sensor {}", seen.sensor_id);
    }
    out.push('\n');
    for rdata in &key.rdata {
        let _ = writeln!(out, "{}\t{rrtype}\t{rdata}", key.rrname);
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rrtype: u16, rdata: &[&str], sensor: &str) -> (Key, Seen) {
        (
            Key {
                rrname: "www.example.com.".into(),
                rrtype,
                bailiwick: "example.com.".into(),
                rdata: rdata.iter().map(|r| r.to_string()).collect(),
            },
            Seen {
                time_first: 1_764_720_000,
                time_last: 1_764_723_600,
                count: 42,
                sensor_id: sensor.into(),
            },
        )
    }

    #[test]
    fn cof_json_has_the_drafts_members() {
        let (key, seen) = sample(1, &["192.0.2.1"], "ns1");
        let mut out = String::new();
        write_json(&mut out, &Cof::new(&key, &seen));
        assert_eq!(
            out,
            "{\"rrname\":\"www.example.com.\",\"rrtype\":\"A\",\"rdata\":[\"192.0.2.1\"],\
             \"time_first\":1764720000,\"time_last\":1764723600,\"count\":42,\
             \"bailiwick\":\"example.com.\",\"sensor_id\":\"ns1\"}\n"
        );
    }

    #[test]
    fn unknown_types_are_numbers_and_no_sensor_is_left_out() {
        let (key, seen) = sample(65280, &["\\# 2 de ad"], "");
        let mut out = String::new();
        write_json(&mut out, &Cof::new(&key, &seen));
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value["rrtype"], 65280);
        assert_eq!(value["rdata"][0], "\\# 2 de ad");
        assert!(value.get("sensor_id").is_none());
    }

    #[test]
    fn text_is_a_comment_and_zone_file_lines() {
        let (key, seen) = sample(1, &["192.0.2.1", "192.0.2.2"], "ns1");
        let mut out = String::new();
        write_text(&mut out, &key, &seen);
        assert_eq!(
            out,
            ";; bailiwick example.com.  count 42  first 2025-12-03 00:00:00  last 2025-12-03 01:00:00 UTC  sensor ns1\n\
             www.example.com.\tA\t192.0.2.1\nwww.example.com.\tA\t192.0.2.2\n\n"
        );
    }
}
