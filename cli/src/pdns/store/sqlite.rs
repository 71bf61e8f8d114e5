//! The embedded store: one SQLite file (rusqlite's bundled SQLite), in WAL
//! mode so queries read while an ingest writes; a transaction per batch,
//! which a killed process leaves whole or absent.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::types::Value;
use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params,
    params_from_iter,
};

use super::{
    Backend, COLUMNS, Filter, LogPosition, POSITIONS_TABLE, Param, PositionMove, Result, Row,
    SCHEMA_VERSION, StoreError, check_version, position_move_sql, previous_sql,
};
use crate::pdns::aggregate::{Key, Seen};

const SCHEMA: &str = "
CREATE TABLE pdns_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE pdns (
    key BLOB PRIMARY KEY,
    rrname TEXT NOT NULL,
    rrname_rev TEXT NOT NULL,
    rrtype INTEGER NOT NULL,
    bailiwick TEXT NOT NULL,
    rdata TEXT NOT NULL,
    time_first INTEGER NOT NULL,
    time_last INTEGER NOT NULL,
    count INTEGER NOT NULL,
    sensor_id TEXT NOT NULL
);
CREATE INDEX pdns_by_name ON pdns (rrname_rev, rrtype, bailiwick);
CREATE TABLE pdns_rdata (
    value TEXT NOT NULL,
    key BLOB NOT NULL REFERENCES pdns (key),
    PRIMARY KEY (value, key)
) WITHOUT ROWID;
";

const UPSERT: &str = "
INSERT INTO pdns (key, rrname, rrname_rev, rrtype, bailiwick, rdata, time_first, time_last, count, sensor_id)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
ON CONFLICT (key) DO UPDATE SET
    sensor_id = CASE WHEN (excluded.time_first, excluded.sensor_id) < (pdns.time_first, pdns.sensor_id)
                     THEN excluded.sensor_id ELSE pdns.sensor_id END,
    time_first = min(pdns.time_first, excluded.time_first),
    time_last = max(pdns.time_last, excluded.time_last),
    count = pdns.count + excluded.count
RETURNING count";

/// How long a statement waits for another process's lock (a batch's).
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct SqliteStore {
    connection: Connection,
}

impl SqliteStore {
    pub fn open(path: &str, create: bool) -> Result<SqliteStore> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        } else if !Path::new(path).exists() {
            return Err(StoreError(format!("{path}: no such database")));
        }
        let connection = Connection::open_with_flags(path, flags)
            .map_err(|err| StoreError(format!("{path}: {err}")))?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        use_wal(&connection, path)?;
        // WAL with NORMAL: a killed process loses no committed batch (only
        // a power cut may lose the last ones), at a fraction of FULL's cost.
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        // Keys are SHA-256 digests, so new rows land all over the B-tree:
        // SQLite's default 2 MB page cache turns each into reads. An upper
        // bound, taken only as the database grows.
        connection.pragma_update(None, "cache_size", -256 * 1024)?;
        let mut store = SqliteStore { connection };
        store.set_up(path, create)?;
        Ok(store)
    }

    fn set_up(&mut self, path: &str, create: bool) -> Result<()> {
        if let Some(found) = contents(&self.connection, path)? {
            return check_version(&found, path);
        }
        if !create {
            return Err(StoreError(format!("{path}: no passive DNS in it yet")));
        }
        // IMMEDIATE, and the question asked again under its lock: two
        // ingests that open a new file at once must not both create it.
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(found) = contents(&transaction, path)? {
            return check_version(&found, path);
        }
        transaction.execute_batch(SCHEMA)?;
        transaction.execute(
            "INSERT INTO pdns_meta (name, value) VALUES ('schema_version', ?1)",
            [SCHEMA_VERSION],
        )?;
        transaction.commit()?;
        Ok(())
    }
}

/// Switches the database to WAL. While another connection opens the same
/// new file, SQLite refuses the switch at once (SQLITE_BUSY, without the
/// busy handler): it is asked again until BUSY_TIMEOUT.
fn use_wal(connection: &Connection, path: &str) -> Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match connection.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => return Err(StoreError(format!("{path}: cannot use WAL mode ({mode})"))),
            Err(rusqlite::Error::SqliteFailure(failure, _))
                if failure.code == ErrorCode::DatabaseBusy && Instant::now() < deadline =>
            {
                thread::sleep(Duration::from_millis(10));
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// The schema version of the passive DNS in the database, `None` when
/// the database is empty; an error when it holds other tables.
fn contents(connection: &Connection, path: &str) -> Result<Option<String>> {
    // One statement, so one snapshot: another process may be committing
    // the schema between two.
    let (has_meta, tables): (bool, i64) = connection.query_row(
        "SELECT count(*) FILTER (WHERE type = 'table' AND name = 'pdns_meta') > 0, count(*) FROM sqlite_master",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if has_meta {
        let version: Option<String> = connection
            .query_row(
                "SELECT value FROM pdns_meta WHERE name = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        return Ok(Some(version.unwrap_or_else(|| "(none)".to_string())));
    }
    if tables > 0 {
        return Err(StoreError(format!(
            "{path} is a SQLite database without passive DNS (no pdns_meta table): refusing to add tables to it"
        )));
    }
    Ok(None)
}

impl Backend for SqliteStore {
    fn begin(&mut self) -> Result<()> {
        // IMMEDIATE: take the write lock now, not halfway through the batch.
        self.connection.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    fn upsert(&mut self, rows: &[(&Key, &Seen)]) -> Result<Vec<bool>> {
        let mut upsert = self.connection.prepare_cached(UPSERT)?;
        let mut index = self
            .connection
            .prepare_cached("INSERT OR IGNORE INTO pdns_rdata (value, key) VALUES (?1, ?2)")?;
        let mut fresh = Vec::with_capacity(rows.len());
        for (key, seen) in rows {
            let digest = key.digest();
            let rdata = serde_json::to_string(&key.rdata).expect("strings serialize");
            let count: i64 = upsert.query_row(
                params![
                    digest,
                    key.rrname,
                    key.reversed_rrname(),
                    key.rrtype,
                    key.bailiwick,
                    rdata,
                    seen.time_first,
                    seen.time_last,
                    seen.count,
                    seen.sensor_id
                ],
                |r| r.get(0),
            )?;
            // Counts are at least 1: only a new row holds just this batch's.
            let new = count == seen.count;
            if new {
                for value in &key.rdata {
                    index.execute(params![value, digest])?;
                }
            }
            fresh.push(new);
        }
        Ok(fresh)
    }

    fn previous(&mut self, key: &Key, before: i64) -> Result<Option<Row>> {
        let sql = previous_sql(|n| format!("?{n}"));
        let mut statement = self.connection.prepare_cached(&sql)?;
        let row = statement
            .query_row(
                params![
                    key.reversed_rrname(),
                    key.rrtype,
                    key.bailiwick,
                    key.digest(),
                    before
                ],
                read_row,
            )
            .optional()?;
        Ok(row)
    }

    fn commit(&mut self) -> Result<()> {
        self.connection.execute_batch("COMMIT")?;
        Ok(())
    }

    fn keeps_positions(&self) -> bool {
        true
    }

    fn positions(&mut self, log: &str, consumer: &str) -> Result<Vec<LogPosition>> {
        self.connection.execute_batch(POSITIONS_TABLE)?;
        let mut statement = self.connection.prepare(
            "SELECT log_partition, log_offset FROM pdns_log_position WHERE log = ?1 AND consumer = ?2",
        )?;
        let rows = statement
            .query_map(params![log, consumer], |row| {
                Ok(LogPosition {
                    log: log.to_string(),
                    consumer: consumer.to_string(),
                    partition: row.get(0)?,
                    offset: row.get::<_, i64>(1)? as u64,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn rollback(&mut self) -> Result<()> {
        self.connection.execute_batch("ROLLBACK")?;
        Ok(())
    }

    fn move_position(&mut self, position: &PositionMove) -> Result<bool> {
        let to = &position.to;
        let sql = position_move_sql(position.from.is_some(), |n| format!("?{n}"));
        let mut statement = self.connection.prepare_cached(&sql)?;
        let moved = match position.from {
            Some(from) => statement.execute(params![
                to.log,
                to.consumer,
                to.partition,
                to.offset as i64,
                from as i64
            ])?,
            None => {
                statement.execute(params![to.log, to.consumer, to.partition, to.offset as i64])?
            }
        };
        Ok(moved == 1)
    }

    fn select(&mut self, filter: &Filter) -> Result<Vec<Row>> {
        let (clause, params) = filter.where_clause(
            |n, _| format!("?{n}"),
            |p| format!("key IN (SELECT key FROM pdns_rdata WHERE value = {p})"),
        );
        let sql = format!("SELECT {COLUMNS} FROM pdns WHERE {clause}");
        let mut statement = self.connection.prepare(&sql)?;
        let values = params.into_iter().map(|param| match param {
            Param::Text(text) => Value::Text(text),
            Param::Int(n) => Value::Integer(n),
        });
        let rows = statement
            .query_map(params_from_iter(values), read_row)?
            .collect::<rusqlite::Result<Vec<Row>>>()?;
        Ok(rows)
    }
}

/// A row of [`COLUMNS`].
fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let rdata: String = row.get(3)?;
    let rdata: Vec<String> = serde_json::from_str(&rdata).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(err))
    })?;
    Ok((
        Key {
            rrname: row.get(0)?,
            rrtype: row.get(1)?,
            bailiwick: row.get(2)?,
            rdata,
        },
        Seen {
            time_first: row.get(4)?,
            time_last: row.get(5)?,
            count: row.get(6)?,
            sensor_id: row.get(7)?,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};
    use std::thread;

    #[test]
    fn ingests_creating_one_file_at_once_all_open_it() {
        const AT_ONCE: usize = 4;
        for round in 0..10 {
            let path = std::env::temp_dir().join(format!(
                "dnstap-kit-create-{}-{round}.sqlite",
                std::process::id()
            ));
            let _ = std::fs::remove_file(&path);
            let start = Arc::new(Barrier::new(AT_ONCE));
            let openers: Vec<_> = (0..AT_ONCE)
                .map(|_| {
                    let (path, start) = (path.clone(), start.clone());
                    thread::spawn(move || {
                        start.wait();
                        SqliteStore::open(path.to_str().unwrap(), true).map(|_| ())
                    })
                })
                .collect();
            for opener in openers {
                let opened = opener.join().unwrap();
                assert!(opened.is_ok(), "round {round}: {:?}", opened.err());
            }
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
}
