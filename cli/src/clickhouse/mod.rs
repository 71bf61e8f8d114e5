//! ClickHouse, as `export clickhouse` and the passive DNS store use it:
//! the HTTP interface ([`http`]), the RowBinary insert format
//! ([`rowbinary`]) and dnstap-kit's tables ([`schema`]). Everything here
//! works with ClickHouse 18.16, Debian 12's package, and current servers.

pub mod http;
pub mod rowbinary;
pub mod schema;

use serde::Deserialize;

pub use http::{Error, Server, quote};

/// A column of a table, from `system.columns`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// As the server spells it: `LowCardinality(String)`, `DateTime('UTC')`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// `DEFAULT`, `MATERIALIZED`, `ALIAS` or empty: what the server fills.
    pub default_kind: String,
}

/// A name in backquotes, as both old and current servers read them.
pub fn identifier(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

/// `database.table`, each part quoted.
pub fn table_name(database: &str, table: &str) -> String {
    format!("{}.{}", identifier(database), identifier(table))
}

/// The columns of `database.table` in table order; empty if there is no
/// such table.
pub fn columns(server: &Server, database: &str, table: &str) -> Result<Vec<Column>, Error> {
    let sql = format!(
        "SELECT name, type, default_kind FROM system.columns WHERE database = {} AND table = {} FORMAT JSONEachRow",
        quote(database),
        quote(table)
    );
    json_rows(&server.query(&sql, &[])?)
}

/// The rows of a `FORMAT JSONEachRow` answer, read as `T` (64-bit
/// integers unquoted: [`JSON_SETTINGS`]).
pub fn json_rows<T: serde::de::DeserializeOwned>(text: &str) -> Result<Vec<T>, Error> {
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .map_err(|err| Error::Failed(format!("unexpected answer {line:?}: {err}")))
        })
        .collect()
}

/// Settings of a query answered in JSON: 64-bit integers as numbers.
pub const JSON_SETTINGS: &[(&str, &str)] = &[("output_format_json_quote_64bit_integers", "0")];

/// The server's `version()`.
pub fn version(server: &Server) -> Result<String, Error> {
    Ok(server.query("SELECT version()", &[])?.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted() {
        assert_eq!(table_name("dnstap", "messages"), "`dnstap`.`messages`");
        assert_eq!(identifier("a`b\\"), "`a\\`b\\\\`");
    }

    #[test]
    fn json_rows_are_read_or_refused() {
        let rows: Vec<Column> =
            json_rows("{\"name\":\"time\",\"type\":\"DateTime('UTC')\",\"default_kind\":\"\"}\n")
                .unwrap();
        assert_eq!(rows[0].type_name, "DateTime('UTC')");
        assert!(json_rows::<Column>("Code: 60, e.displayText() = …").is_err());
    }
}
