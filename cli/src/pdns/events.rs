//! Newly observed data as NDJSON events (`ingest --events`): `"new"` for
//! every key stored for the first time, with its COF members, and
//! `"ns_change"` when the new key is an NS or DS RRset for a name and
//! bailiwick that already had another RRset: the delegation changed hands
//! (or was hijacked). Events are written once their batch is committed.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use super::aggregate::{Key, Seen};
use super::cof::{self, Cof, RrType};
use super::store::NewKey;

#[derive(Serialize)]
struct New<'a> {
    event: &'static str,
    #[serde(flatten)]
    record: Cof<'a>,
}

/// One side of an `ns_change`: an RRset and when it was seen.
#[derive(Serialize)]
struct Side<'a> {
    rdata: &'a [String],
    time_first: i64,
    time_last: i64,
    count: i64,
}

impl<'a> Side<'a> {
    fn of(key: &'a Key, seen: &'a Seen) -> Side<'a> {
        Side {
            rdata: &key.rdata,
            time_first: seen.time_first,
            time_last: seen.time_last,
            count: seen.count,
        }
    }
}

#[derive(Serialize)]
struct Change<'a> {
    event: &'static str,
    rrname: &'a str,
    rrtype: RrType,
    bailiwick: &'a str,
    old: Side<'a>,
    new: Side<'a>,
    #[serde(skip_serializing_if = "str::is_empty")]
    sensor_id: &'a str,
}

/// Appends the events of one committed batch to `out`.
pub fn write_events(out: &mut String, added: &[NewKey]) {
    for new in added {
        cof::write_json(
            out,
            &New {
                event: "new",
                record: Cof::new(&new.key, &new.seen),
            },
        );
        if let Some((old_key, old_seen)) = &new.replaced {
            write_change(out, (old_key, old_seen), (&new.key, &new.seen));
        }
    }
}

fn write_change(out: &mut String, old: (&Key, &Seen), new: (&Key, &Seen)) {
    cof::write_json(
        out,
        &Change {
            event: "ns_change",
            rrname: &new.0.rrname,
            rrtype: RrType::of(new.0.rrtype),
            bailiwick: &new.0.bailiwick,
            old: Side::of(old.0, old.1),
            new: Side::of(new.0, new.1),
            sensor_id: &new.1.sensor_id,
        },
    )
}

/// Where events go: a file, appended to (a restarted sensor continues its
/// log), or standard output.
pub fn open(path: &Path) -> io::Result<Box<dyn Write>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdout()));
    }
    let file: File = OpenOptions::new().create(true).append(true).open(path)?;
    Ok(Box::new(file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdns::store::Row;

    fn row(rdata: &str, first: i64, last: i64) -> Row {
        (
            Key {
                rrname: "evil.test.".into(),
                rrtype: 2,
                bailiwick: "evil.test.".into(),
                rdata: vec![rdata.into()],
            },
            Seen {
                time_first: first,
                time_last: last,
                count: 1,
                sensor_id: "s".into(),
            },
        )
    }

    #[test]
    fn a_replaced_rrset_gives_new_then_ns_change() {
        let (old_key, old_seen) = row("ns.evil.test.", 10, 20);
        let (key, seen) = row("ns.hijack.test.", 30, 30);
        let mut out = String::new();
        write_events(
            &mut out,
            &[NewKey {
                key,
                seen,
                replaced: Some((old_key, old_seen)),
            }],
        );
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["event"], "new");
        assert_eq!(lines[0]["rdata"][0], "ns.hijack.test.");
        assert_eq!(lines[1]["event"], "ns_change");
        assert_eq!(lines[1]["rrtype"], "NS");
        assert_eq!(lines[1]["old"]["rdata"][0], "ns.evil.test.");
        assert_eq!(lines[1]["old"]["time_last"], 20);
        assert_eq!(lines[1]["new"]["rdata"][0], "ns.hijack.test.");
        assert_eq!(lines[1]["new"]["time_first"], 30);
    }
}
