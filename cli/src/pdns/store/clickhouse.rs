//! The scale-out store: a ClickHouse database (`clickhouse://[user[:password]@]host:port/database`,
//! over the HTTP interface). A batch is one RowBinary insert of partial
//! aggregates into `pdns_input`, which a materialized view merges into the
//! `AggregatingMergeTree` `pdns` (min first seen, max last seen, summed
//! count): one block, so one part, there whole or not at all. Queries
//! merge what is not merged yet (`GROUP BY` the key). There are no
//! transactions: the keys a batch adds are those absent just before its
//! insert, so two sensors adding one key at once may both call it new.
//! The tables are `clickhouse::schema`'s, made on the first ingest into an
//! empty database for the server's version (18.16 or current).

use std::collections::HashSet;

use serde::Deserialize;

use super::{
    Backend, Filter, Param, Result, Row, SCHEMA_VERSION, StoreError, check_version,
    join_conditions, sort_rows,
};
use crate::clickhouse::rowbinary::{put_string, put_varint};
use crate::clickhouse::schema::{Variant, passive_dns};
use crate::clickhouse::{self, JSON_SETTINGS, Server, quote, table_name};
use crate::pdns::aggregate::{Key, Seen};

pub struct ClickhouseStore {
    server: Server,
    /// `db.pdns`, quoted.
    pdns: String,
    /// `INSERT INTO db.pdns_input … FORMAT RowBinary`
    insert: String,
    /// The merge functions of the aggregate columns: `minMerge` … for
    /// 18.16's AggregateFunction, `min` … for SimpleAggregateFunction.
    min: &'static str,
    max: &'static str,
    sum: &'static str,
}

/// A row as the queries below return it.
#[derive(Deserialize)]
struct Merged {
    rrname: String,
    rrtype: u16,
    bailiwick: String,
    rdata: Vec<String>,
    time_first: i64,
    time_last: i64,
    count: i64,
    sensor_id: String,
}

impl From<Merged> for Row {
    fn from(row: Merged) -> Row {
        (
            Key {
                rrname: row.rrname,
                rrtype: row.rrtype,
                bailiwick: row.bailiwick,
                rdata: row.rdata,
            },
            Seen {
                time_first: row.time_first,
                time_last: row.time_last,
                count: row.count,
                sensor_id: row.sensor_id,
            },
        )
    }
}

/// A key as the query for known keys returns it.
#[derive(Deserialize, PartialEq, Eq, Hash)]
struct Known {
    rrname_rev: String,
    rrtype: u16,
    bailiwick: String,
    rdata: Vec<String>,
}

fn array_literal(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|item| quote(item)).collect();
    format!("[{}]", items.join(", "))
}

impl ClickhouseStore {
    /// `location` is `[user[:password]@]host:port/database`.
    pub fn open(location: &str, create: bool) -> Result<ClickhouseStore> {
        let (authority, database) = location
            .split_once('/')
            .filter(|(_, database)| !database.is_empty() && !database.contains('/'))
            .ok_or_else(|| {
                StoreError(format!(
                    "clickhouse://{location}: expected clickhouse://host:port/database"
                ))
            })?;
        let server = Server::new(&format!("http://{authority}")).map_err(StoreError)?;
        let place = format!("ClickHouse database {database}");
        let meta = clickhouse::columns(&server, database, "pdns_meta")?;
        if !meta.is_empty() {
            let sql = format!(
                "SELECT any(value) FROM {} WHERE name = 'schema_version'",
                table_name(database, "pdns_meta")
            );
            let version = server.query(&sql, &[])?;
            check_version(version.trim(), &place)?;
        } else if !clickhouse::columns(&server, database, "pdns")?.is_empty() {
            return Err(StoreError(format!(
                "{place} has a table pdns that is not dnstap-kit's (no pdns_meta): refusing to use it"
            )));
        } else if !create {
            return Err(StoreError(format!("{place}: no passive DNS in it yet")));
        } else {
            let variant = Variant::for_version(&clickhouse::version(&server)?);
            for statement in passive_dns(variant, database) {
                server.query(&statement, &[])?;
            }
            let sql = format!(
                "INSERT INTO {} VALUES ('schema_version', {})",
                table_name(database, "pdns_meta"),
                quote(SCHEMA_VERSION)
            );
            server.query(&sql, &[])?;
        }
        let columns = clickhouse::columns(&server, database, "pdns")?;
        let aggregate_states = columns
            .iter()
            .any(|column| column.type_name.starts_with("AggregateFunction"));
        let (min, max, sum) = if aggregate_states {
            ("minMerge", "maxMerge", "sumMerge")
        } else {
            ("min", "max", "sum")
        };
        Ok(ClickhouseStore {
            pdns: table_name(database, "pdns"),
            insert: format!(
                "INSERT INTO {} (rrname, rrname_rev, rrtype, bailiwick, rdata, seen_first, seen_last, seen_count, sensor_id) FORMAT RowBinary",
                table_name(database, "pdns_input")
            ),
            server,
            min,
            max,
            sum,
        })
    }

    /// The merged rows whose key meets `key_conditions`, of those, the ones
    /// whose merged times meet `seen_conditions`.
    fn merged(&self, key_conditions: &str, seen_conditions: &str) -> Result<Vec<Row>> {
        let (min, max, sum) = (self.min, self.max, self.sum);
        let sql = format!(
            "SELECT rrname, rrtype, bailiwick, rdata, {min}(p.time_first) AS time_first, \
             {max}(p.time_last) AS time_last, {sum}(p.count) AS count, \
             tupleElement({min}(p.first_sensor), 2) AS sensor_id \
             FROM {} AS p WHERE {key_conditions} \
             GROUP BY rrname_rev, rrtype, bailiwick, rdata, rrname \
             HAVING {seen_conditions} FORMAT JSONEachRow",
            self.pdns
        );
        let rows: Vec<Merged> = clickhouse::json_rows(&self.query(&sql)?)?;
        Ok(rows.into_iter().map(Row::from).collect())
    }

    /// A query that may be long (a batch's keys): the server's parser is
    /// told its size.
    fn query(&self, sql: &str) -> Result<String> {
        let size = (sql.len() + 1).to_string();
        let mut settings = JSON_SETTINGS.to_vec();
        settings.push(("max_query_size", &size));
        Ok(self.server.query(sql, &settings)?)
    }

    /// Which of `rows`' keys the table holds.
    fn known(&self, rows: &[(&Key, &Seen)]) -> Result<HashSet<Known>> {
        let names: HashSet<String> = rows.iter().map(|(key, _)| key.reversed_rrname()).collect();
        let names: Vec<String> = names.iter().map(|name| quote(name)).collect();
        let keys: Vec<String> = rows
            .iter()
            .map(|(key, _)| {
                format!(
                    "({}, {}, {}, {})",
                    quote(&key.reversed_rrname()),
                    key.rrtype,
                    quote(&key.bailiwick),
                    array_literal(&key.rdata)
                )
            })
            .collect();
        // The names first: a range of the index to read.
        let sql = format!(
            "SELECT DISTINCT rrname_rev, rrtype, bailiwick, rdata FROM {} \
             WHERE rrname_rev IN ({}) AND (rrname_rev, rrtype, bailiwick, rdata) IN ({}) FORMAT JSONEachRow",
            self.pdns,
            names.join(", "),
            keys.join(", ")
        );
        Ok(clickhouse::json_rows::<Known>(&self.query(&sql)?)?
            .into_iter()
            .collect())
    }
}

impl Backend for ClickhouseStore {
    /// No transactions: a batch is one insert.
    fn begin(&mut self) -> Result<()> {
        Ok(())
    }

    fn upsert(&mut self, rows: &[(&Key, &Seen)]) -> Result<Vec<bool>> {
        let known = self.known(rows)?;
        let mut bytes = Vec::new();
        for (key, seen) in rows {
            put_string(&mut bytes, key.rrname.as_bytes());
            put_string(&mut bytes, key.reversed_rrname().as_bytes());
            bytes.extend_from_slice(&key.rrtype.to_le_bytes());
            put_string(&mut bytes, key.bailiwick.as_bytes());
            put_varint(&mut bytes, key.rdata.len() as u64);
            for item in &key.rdata {
                put_string(&mut bytes, item.as_bytes());
            }
            for n in [seen.time_first, seen.time_last, seen.count] {
                bytes.extend_from_slice(&n.to_le_bytes());
            }
            put_string(&mut bytes, seen.sensor_id.as_bytes());
        }
        self.server.insert(&self.insert, &bytes, &[])?;
        Ok(rows
            .iter()
            .map(|(key, _)| {
                !known.contains(&Known {
                    rrname_rev: key.reversed_rrname(),
                    rrtype: key.rrtype,
                    bailiwick: key.bailiwick.clone(),
                    rdata: key.rdata.clone(),
                })
            })
            .collect())
    }

    /// As `previous_sql`: of the other RRsets first seen before `before`,
    /// the one seen last (then first), the smaller digest on a tie.
    fn previous(&mut self, key: &Key, before: i64) -> Result<Option<Row>> {
        let key_conditions = format!(
            "rrname_rev = {} AND rrtype = {} AND bailiwick = {} AND rdata != {}",
            quote(&key.reversed_rrname()),
            key.rrtype,
            quote(&key.bailiwick),
            array_literal(&key.rdata)
        );
        let rows = self.merged(&key_conditions, &format!("time_first < {before}"))?;
        Ok(rows.into_iter().min_by_key(|(key, seen)| {
            (
                std::cmp::Reverse(seen.time_last),
                std::cmp::Reverse(seen.time_first),
                key.digest(),
            )
        }))
    }

    fn commit(&mut self) -> Result<()> {
        Ok(())
    }

    fn select(&mut self, filter: &Filter) -> Result<Vec<Row>> {
        let (conditions, _) = filter.conditions(
            |_, param| match param {
                Param::Text(text) => quote(text),
                Param::Int(n) => n.to_string(),
            },
            |p| format!("has(rdata, {p})"),
        );
        let mut rows = self.merged(
            &join_conditions(conditions.iter().filter(|c| !c.on_seen)),
            &join_conditions(conditions.iter().filter(|c| c.on_seen)),
        )?;
        // The SQL stores' order, which ends in the digest: sorted here.
        sort_rows(&mut rows);
        if let Some(limit) = filter.limit {
            rows.truncate(usize::try_from(limit.max(0)).unwrap_or(usize::MAX));
        }
        Ok(rows)
    }
}
