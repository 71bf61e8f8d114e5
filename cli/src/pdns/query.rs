//! `dnstap-kit pdns query`: what a name resolved to (`--rrname`, exact or
//! `*.` for the names below), which names had an address or target
//! (`--rdata`), narrowed by type, bailiwick and time; printed as COF NDJSON
//! or as text. `--changes` lists the RRsets of one name and type over time.

use std::io::{self, Write};
use std::net::IpAddr;
use std::str::FromStr;

use domain::base::name::{Name, ToName};

use super::aggregate::reverse_name;
use super::canonical::name_text;
use super::cof::{self, Cof};
use super::store::{self, Filter, NameMatch, Row};
use crate::decode::dns::mnemonics::type_mnemonic;
use crate::exit;
use crate::report::report;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Passive DNS Common Output Format, one JSON object per line.
    Json,
    /// A comment line per RRset, then its records as in a zone file.
    Text,
}

#[derive(clap::Args)]
pub struct Args {
    /// The store: a SQLite file or a PostgreSQL URL.
    #[arg(long, value_name = "URL")]
    pub db: String,
    /// This name, or with `*.` in front (`*.example.com.`) every name below it.
    #[arg(long, value_name = "NAME", required_unless_present = "rdata")]
    pub rrname: Option<String>,
    /// RRsets holding this RDATA item: an address, a name (a CNAME, NS or PTR
    /// target), or any item as presented (`"10 mx.example.com."`).
    #[arg(long, value_name = "VALUE")]
    pub rdata: Option<String>,
    /// Only this type: a mnemonic (`AAAA`), `TYPEnnn` or a number.
    #[arg(long, value_name = "TYPE", value_parser = parse_rrtype)]
    pub rrtype: Option<u16>,
    /// Only what this zone's servers said.
    #[arg(long, value_name = "ZONE")]
    pub bailiwick: Option<String>,
    /// Only RRsets seen at or after this time (seconds since the epoch).
    #[arg(long, value_name = "SECS")]
    pub after: Option<i64>,
    /// Only RRsets first seen at or before this time (seconds since the epoch).
    #[arg(long, value_name = "SECS")]
    pub before: Option<i64>,
    /// The history of the name's RRsets (with --rrname, an exact name):
    /// each RRset of each type and bailiwick, in the order first seen.
    #[arg(long, requires = "rrname")]
    pub changes: bool,
    /// At most this many RRsets.
    #[arg(long, value_name = "N")]
    pub limit: Option<i64>,
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
}

/// A type from its mnemonic (as `read` prints them), `TYPEnnn` or a number.
pub fn parse_rrtype(text: &str) -> Result<u16, String> {
    let upper = text.to_ascii_uppercase();
    if let Ok(number) = upper.strip_prefix("TYPE").unwrap_or(&upper).parse::<u16>() {
        return Ok(number);
    }
    (0..=u16::MAX)
        .find(|&rrtype| type_mnemonic(rrtype) == Some(upper.as_str()))
        .ok_or_else(|| format!("unknown record type '{text}'"))
}

/// A name as stored: lowercased, in presentation form, absolute.
fn canonical_name(text: &str) -> Result<String, String> {
    let name: Name<Vec<u8>> =
        Name::from_str(text).map_err(|err| format!("'{text}' is not a domain name: {err}"))?;
    Ok(name_text(&name.to_canonical_name::<Vec<u8>>()))
}

/// `--rrname`: `*.NAME` for the names below NAME, else the name itself.
fn name_match(text: &str) -> Result<NameMatch, String> {
    match text.strip_prefix("*.") {
        Some(base) => Ok(NameMatch::Below(reverse_name(&canonical_name(base)?))),
        None if text == "*" => Ok(NameMatch::Below(String::new())),
        None => Ok(NameMatch::Exact(reverse_name(&canonical_name(text)?))),
    }
}

/// `--rdata` as stored: an address in its canonical text (`2001:db8::1`),
/// a single word as a lowercased absolute name, anything else as given.
fn rdata_item(text: &str) -> Result<String, String> {
    if let Ok(address) = IpAddr::from_str(text) {
        return Ok(address.to_string());
    }
    if text.contains(char::is_whitespace) || text.starts_with('"') || text.starts_with('\\') {
        return Ok(text.to_string());
    }
    canonical_name(text)
}

fn filter(args: &Args) -> Result<Filter, String> {
    let rrname = args.rrname.as_deref().map(name_match).transpose()?;
    if args.changes && !matches!(rrname, Some(NameMatch::Exact(_))) {
        return Err("--changes needs --rrname with one name (no '*.')".into());
    }
    Ok(Filter {
        rrname,
        rdata: args.rdata.as_deref().map(rdata_item).transpose()?,
        rrtype: args.rrtype,
        bailiwick: args.bailiwick.as_deref().map(canonical_name).transpose()?,
        after: args.after,
        before: args.before,
        limit: args.limit,
    })
}

/// The RRsets of one name as a history: by type and bailiwick, then in the
/// order first seen.
fn history(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by(|a, b| {
        (a.0.rrtype, &a.0.bailiwick, a.1.time_first, &a.0.rdata).cmp(&(
            b.0.rrtype,
            &b.0.bailiwick,
            b.1.time_first,
            &b.0.rdata,
        ))
    });
    rows
}

pub fn run(args: Args) -> u8 {
    let filter = match filter(&args) {
        Ok(filter) => filter,
        Err(err) => {
            report!("dnstap-kit: {err}");
            return exit::FAILURE;
        }
    };
    let rows = store::open(&args.db, false).and_then(|mut store| store.select(&filter));
    let mut rows = match rows {
        Ok(rows) => rows,
        Err(err) => {
            report!("dnstap-kit: {}: {err}", args.db);
            return exit::FAILURE;
        }
    };
    if args.changes {
        rows = history(rows);
    }
    let mut out = String::new();
    for (key, seen) in &rows {
        match args.format {
            Format::Json => cof::write_json(&mut out, &Cof::new(key, seen)),
            Format::Text => cof::write_text(&mut out, key, seen),
        }
    }
    match io::stdout().lock().write_all(out.as_bytes()) {
        Ok(()) => exit::OK,
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => exit::OK,
        Err(err) => {
            report!("dnstap-kit: writing output: {err}");
            exit::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_by_mnemonic_and_number() {
        assert_eq!(parse_rrtype("aaaa"), Ok(28));
        assert_eq!(parse_rrtype("NS"), Ok(2));
        assert_eq!(parse_rrtype("TYPE65280"), Ok(65280));
        assert_eq!(parse_rrtype("43"), Ok(43));
        assert!(parse_rrtype("BOGUS").is_err());
    }

    #[test]
    fn names_and_rdata_are_canonicalised_like_stored_keys() {
        assert_eq!(
            name_match("WWW.Example.com"),
            Ok(NameMatch::Exact("com.example.www.".into()))
        );
        assert_eq!(
            name_match("*.example.COM."),
            Ok(NameMatch::Below("com.example.".into()))
        );
        assert_eq!(name_match("*"), Ok(NameMatch::Below(String::new())));
        assert_eq!(rdata_item("2001:DB8:0::1").unwrap(), "2001:db8::1");
        assert_eq!(rdata_item("192.0.2.1").unwrap(), "192.0.2.1");
        assert_eq!(rdata_item("NS.Example.test").unwrap(), "ns.example.test.");
        assert_eq!(rdata_item("10 MX.example.").unwrap(), "10 MX.example.");
        assert_eq!(rdata_item("\"Hello\"").unwrap(), "\"Hello\"");
    }
}
