//! The shared store: a PostgreSQL database (the `postgres` crate, no TLS:
//! a unix socket or a trusted network). A batch is one statement, an
//! `INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE` with
//! least/greatest/sum, in one transaction; RDATA is a `text[]` with a GIN
//! index for lookups by RDATA item. Text columns use the "C" collation so
//! that names sort bytewise, as in SQLite, whatever the database's locale.

use postgres::types::ToSql;
use postgres::{Client, NoTls};

use super::{
    Backend, COLUMNS, Filter, LogPosition, POSITIONS_TABLE, Param, PositionMove, Result, Row,
    SCHEMA_VERSION, StoreError, check_version, position_move_sql, previous_sql,
};
use crate::pdns::aggregate::{Key, Seen};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS pdns_meta (name text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS pdns (
    key bytea PRIMARY KEY,
    rrname text COLLATE "C" NOT NULL,
    rrname_rev text COLLATE "C" NOT NULL,
    rrtype integer NOT NULL,
    bailiwick text COLLATE "C" NOT NULL,
    rdata text[] COLLATE "C" NOT NULL,
    time_first bigint NOT NULL,
    time_last bigint NOT NULL,
    count bigint NOT NULL,
    sensor_id text COLLATE "C" NOT NULL
);
CREATE INDEX IF NOT EXISTS pdns_by_name ON pdns (rrname_rev, rrtype, bailiwick);
CREATE INDEX IF NOT EXISTS pdns_by_rdata ON pdns USING gin (rdata);
"#;

const UPSERT: &str = "
INSERT INTO pdns AS p (key, rrname, rrname_rev, rrtype, bailiwick, rdata, time_first, time_last, count, sensor_id)
SELECT k, n, r, t, b, ARRAY(SELECT json_array_elements_text(d::json)), f, l, c, s
FROM unnest($1::bytea[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::text[],
            $7::int8[], $8::int8[], $9::int8[], $10::text[]) AS u(k, n, r, t, b, d, f, l, c, s)
ON CONFLICT (key) DO UPDATE SET
    sensor_id = CASE WHEN (excluded.time_first, excluded.sensor_id) < (p.time_first, p.sensor_id)
                     THEN excluded.sensor_id ELSE p.sensor_id END,
    time_first = least(p.time_first, excluded.time_first),
    time_last = greatest(p.time_last, excluded.time_last),
    count = p.count + excluded.count
RETURNING key, count";

pub struct PostgresStore {
    client: Client,
}

impl PostgresStore {
    pub fn open(url: &str, create: bool) -> Result<PostgresStore> {
        let client = Client::connect(url, NoTls)?;
        let mut store = PostgresStore { client };
        store.set_up(create)?;
        Ok(store)
    }

    fn set_up(&mut self, create: bool) -> Result<()> {
        let row = self.client.query_one(
            "SELECT to_regclass('pdns_meta') IS NOT NULL, to_regclass('pdns') IS NOT NULL, current_database()",
            &[],
        )?;
        let (has_meta, has_table, database): (bool, bool, String) =
            (row.get(0), row.get(1), row.get(2));
        let location = format!("PostgreSQL database {database}");
        if has_meta {
            let version: Option<String> = self
                .client
                .query_opt(
                    "SELECT value FROM pdns_meta WHERE name = 'schema_version'",
                    &[],
                )?
                .map(|row| row.get(0));
            return check_version(version.as_deref().unwrap_or("(none)"), &location);
        }
        if has_table {
            return Err(StoreError(format!(
                "{location} has a table pdns that is not dnstap-kit's (no pdns_meta): refusing to use it"
            )));
        }
        if !create {
            return Err(StoreError(format!("{location}: no passive DNS in it yet")));
        }
        let mut transaction = self.client.transaction()?;
        transaction.batch_execute(SCHEMA)?;
        transaction.execute(
            "INSERT INTO pdns_meta (name, value) VALUES ('schema_version', $1) ON CONFLICT DO NOTHING",
            &[&SCHEMA_VERSION],
        )?;
        transaction.commit()?;
        Ok(())
    }
}

impl Backend for PostgresStore {
    fn begin(&mut self) -> Result<()> {
        self.client.batch_execute("BEGIN")?;
        Ok(())
    }

    fn upsert(&mut self, rows: &[(&Key, &Seen)]) -> Result<Vec<bool>> {
        let digests: Vec<Vec<u8>> = rows.iter().map(|(key, _)| key.digest()).collect();
        let names: Vec<&str> = rows.iter().map(|(key, _)| key.rrname.as_str()).collect();
        let reversed: Vec<String> = rows.iter().map(|(key, _)| key.reversed_rrname()).collect();
        let types: Vec<i32> = rows.iter().map(|(key, _)| i32::from(key.rrtype)).collect();
        let zones: Vec<&str> = rows.iter().map(|(key, _)| key.bailiwick.as_str()).collect();
        let rdata: Vec<String> = rows
            .iter()
            .map(|(key, _)| serde_json::to_string(&key.rdata).expect("strings serialize"))
            .collect();
        let firsts: Vec<i64> = rows.iter().map(|(_, seen)| seen.time_first).collect();
        let lasts: Vec<i64> = rows.iter().map(|(_, seen)| seen.time_last).collect();
        let counts: Vec<i64> = rows.iter().map(|(_, seen)| seen.count).collect();
        let sensors: Vec<&str> = rows
            .iter()
            .map(|(_, seen)| seen.sensor_id.as_str())
            .collect();
        let merged = self.client.query(
            UPSERT,
            &[
                &digests, &names, &reversed, &types, &zones, &rdata, &firsts, &lasts, &counts,
                &sensors,
            ],
        )?;
        // RETURNING comes in no promised order: match rows by key. Counts
        // are at least 1, so only a new row holds just this batch's count.
        let totals: std::collections::HashMap<Vec<u8>, i64> = merged
            .iter()
            .map(|row| (row.get::<_, Vec<u8>>(0), row.get::<_, i64>(1)))
            .collect();
        Ok(digests
            .iter()
            .zip(&counts)
            .map(|(digest, count)| totals.get(digest) == Some(count))
            .collect())
    }

    fn previous(&mut self, key: &Key, before: i64) -> Result<Option<Row>> {
        let sql = previous_sql(|n| format!("${n}"));
        let row = self.client.query_opt(
            &sql,
            &[
                &key.reversed_rrname(),
                &i32::from(key.rrtype),
                &key.bailiwick,
                &key.digest(),
                &before,
            ],
        )?;
        row.map(|row| read_row(&row)).transpose()
    }

    fn commit(&mut self) -> Result<()> {
        self.client.batch_execute("COMMIT")?;
        Ok(())
    }

    fn keeps_positions(&self) -> bool {
        true
    }

    fn positions(&mut self, log: &str, consumer: &str) -> Result<Vec<LogPosition>> {
        self.client.batch_execute(POSITIONS_TABLE)?;
        let rows = self.client.query(
            "SELECT log_partition, log_offset FROM pdns_log_position WHERE log = $1 AND consumer = $2",
            &[&log, &consumer],
        )?;
        Ok(rows
            .iter()
            .map(|row| LogPosition {
                log: log.to_string(),
                consumer: consumer.to_string(),
                partition: row.get::<_, i64>(0) as u32,
                offset: row.get::<_, i64>(1) as u64,
            })
            .collect())
    }

    fn rollback(&mut self) -> Result<()> {
        self.client.batch_execute("ROLLBACK")?;
        Ok(())
    }

    fn move_position(&mut self, position: &PositionMove) -> Result<bool> {
        let to = &position.to;
        let (partition, offset) = (i64::from(to.partition), to.offset as i64);
        let sql = position_move_sql(position.from.is_some(), |n| format!("${n}"));
        // Under READ COMMITTED, an UPDATE that waited for another
        // transaction's lock on the row checks its WHERE again on the
        // committed row.
        let moved = match position.from {
            Some(from) => self.client.execute(
                &sql,
                &[&to.log, &to.consumer, &partition, &offset, &(from as i64)],
            )?,
            None => self
                .client
                .execute(&sql, &[&to.log, &to.consumer, &partition, &offset])?,
        };
        Ok(moved == 1)
    }

    fn select(&mut self, filter: &Filter) -> Result<Vec<Row>> {
        // Typed placeholders: the parameters are i64 and String whatever
        // the column they meet (rrtype is an integer, LIMIT a bigint).
        let (clause, params) = filter.where_clause(
            |n, param| match param {
                Param::Text(_) => format!("${n}::text"),
                Param::Int(_) => format!("${n}::bigint"),
            },
            |p| format!("rdata @> ARRAY[{p}]"),
        );
        let sql = format!("SELECT {COLUMNS} FROM pdns WHERE {clause}");
        let values: Vec<Box<dyn ToSql + Sync>> = params
            .into_iter()
            .map(|param| -> Box<dyn ToSql + Sync> {
                match param {
                    Param::Text(text) => Box::new(text),
                    Param::Int(n) => Box::new(n),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|value| value.as_ref()).collect();
        self.client
            .query(&sql, &refs)?
            .iter()
            .map(read_row)
            .collect()
    }
}

/// A row of [`COLUMNS`].
fn read_row(row: &postgres::Row) -> Result<Row> {
    let rrtype: i32 = row.try_get(1)?;
    Ok((
        Key {
            rrname: row.try_get(0)?,
            rrtype: u16::try_from(rrtype)
                .map_err(|_| StoreError(format!("rrtype {rrtype} in the database")))?,
            bailiwick: row.try_get(2)?,
            rdata: row.try_get(3)?,
        },
        Seen {
            time_first: row.try_get(4)?,
            time_last: row.try_get(5)?,
            count: row.try_get(6)?,
            sensor_id: row.try_get(7)?,
        },
    ))
}
