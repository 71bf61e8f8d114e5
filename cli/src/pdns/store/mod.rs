//! Where passive DNS is kept: a SQLite file (the default, nothing to set
//! up) or a PostgreSQL database (`postgresql://…`, shared by sensors).
//! Both hold one row per key with the same columns and merge a batch in one
//! transaction, so a killed ingest leaves whole batches only; both answer
//! the same queries in the same order.
//!
//! Columns: `key` (SHA-256 of the key's parts, [`Key::digest`]), `rrname`,
//! `rrname_rev` (labels reversed, the index of exact and `*.` lookups),
//! `rrtype`, `bailiwick`, `rdata` (PostgreSQL `text[]`, SQLite a JSON
//! array), `time_first`, `time_last` (seconds since the epoch), `count`,
//! `sensor_id` ("" for none). RDATA lookups use a GIN index in PostgreSQL
//! and a side table (`pdns_rdata`: value, key) in SQLite. `pdns_meta` holds
//! the schema version; a database of another version is refused.
//!
//! ClickHouse (`clickhouse://host:port/database`, shared by sensors at
//! scale) keeps the same columns but `key` as partial aggregates merged by
//! the engine (`clickhouse::schema`): a batch is one insert, whole or
//! absent; it answers the same queries in the same order.

mod clickhouse;
mod postgres;
mod sqlite;

use std::fmt;

use domain::base::iana::Rtype;

use super::aggregate::{Batch, Key, Seen};

/// The schema this build writes and reads.
pub const SCHEMA_VERSION: &str = "1";

/// A failure of a store, in words.
#[derive(Debug)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> StoreError {
        StoreError(format!("sqlite: {err}"))
    }
}

impl From<crate::clickhouse::Error> for StoreError {
    fn from(err: crate::clickhouse::Error) -> StoreError {
        StoreError(format!("clickhouse: {err}"))
    }
}

impl From<::postgres::Error> for StoreError {
    fn from(err: ::postgres::Error) -> StoreError {
        StoreError(format!("postgresql: {err}"))
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Checks the version found in `pdns_meta` against [`SCHEMA_VERSION`].
fn check_version(found: &str, location: &str) -> Result<()> {
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    Err(StoreError(format!(
        "{location} holds passive DNS of schema version {found}; this dnstap-kit reads and writes version {SCHEMA_VERSION} only (use another database, or a matching dnstap-kit)"
    )))
}

/// A key and what is known of it, as a store returns it.
pub type Row = (Key, Seen);

/// Which names a query asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameMatch {
    /// This name (its reversed form).
    Exact(String),
    /// Every name strictly below the name whose reversed form this is.
    Below(String),
}

/// The conditions of a query; all that are given must hold.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub rrname: Option<NameMatch>,
    /// One RDATA item, in presentation form.
    pub rdata: Option<String>,
    pub rrtype: Option<u16>,
    pub bailiwick: Option<String>,
    /// Seen at or after (time_last >= after).
    pub after: Option<i64>,
    /// Seen at or before (time_first <= before).
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

/// A parameter of a query's SQL.
#[derive(Clone, Debug)]
pub enum Param {
    Text(String),
    Int(i64),
}

/// One condition of a [`Filter`].
#[derive(Clone, Debug)]
struct Condition {
    sql: String,
    /// It tests what is known of a key (times), not the key: in ClickHouse,
    /// an aggregate, tested after merging.
    on_seen: bool,
}

impl Filter {
    /// The conditions and their parameters; `placeholder` spells the Nth
    /// parameter (given its value, for engines that want a type or take
    /// literals), `rdata_match` the test of one RDATA item given its
    /// placeholder.
    fn conditions(
        &self,
        placeholder: fn(usize, &Param) -> String,
        rdata_match: fn(&str) -> String,
    ) -> (Vec<Condition>, Vec<Param>) {
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        let mut add = |sql: &dyn Fn(&str) -> String, param: Param, on_seen: bool| {
            conditions.push(Condition {
                sql: sql(&placeholder(params.len() + 1, &param)),
                on_seen,
            });
            params.push(param);
        };
        match &self.rrname {
            Some(NameMatch::Exact(reversed)) => add(
                &|p| format!("rrname_rev = {p}"),
                Param::Text(reversed.clone()),
                false,
            ),
            Some(NameMatch::Below(reversed)) => {
                add(
                    &|p| format!("rrname_rev > {p}"),
                    Param::Text(reversed.clone()),
                    false,
                );
                // Reversed forms end in '.': the next character, '/', bounds
                // the names that start with this one.
                if let Some(stem) = reversed.strip_suffix('.') {
                    add(
                        &|p| format!("rrname_rev < {p}"),
                        Param::Text(format!("{stem}/")),
                        false,
                    );
                }
            }
            None => {}
        }
        if let Some(rdata) = &self.rdata {
            add(&|p| rdata_match(p), Param::Text(rdata.clone()), false);
        }
        if let Some(rrtype) = self.rrtype {
            add(
                &|p| format!("rrtype = {p}"),
                Param::Int(i64::from(rrtype)),
                false,
            );
        }
        if let Some(bailiwick) = &self.bailiwick {
            add(
                &|p| format!("bailiwick = {p}"),
                Param::Text(bailiwick.clone()),
                false,
            );
        }
        if let Some(after) = self.after {
            add(&|p| format!("time_last >= {p}"), Param::Int(after), true);
        }
        if let Some(before) = self.before {
            add(&|p| format!("time_first <= {p}"), Param::Int(before), true);
        }
        (conditions, params)
    }

    /// The WHERE clause (without the word), with ORDER BY and LIMIT, and
    /// its parameters, for the SQL stores (arguments as for
    /// [`Filter::conditions`]).
    fn where_clause(
        &self,
        placeholder: fn(usize, &Param) -> String,
        rdata_match: fn(&str) -> String,
    ) -> (String, Vec<Param>) {
        let (conditions, mut params) = self.conditions(placeholder, rdata_match);
        let mut sql = join_conditions(conditions.iter());
        sql.push_str(" ORDER BY rrname_rev, rrtype, bailiwick, time_first, key");
        if let Some(limit) = self.limit {
            let param = Param::Int(limit);
            sql.push_str(&format!(" LIMIT {}", placeholder(params.len() + 1, &param)));
            params.push(param);
        }
        (sql, params)
    }
}

/// The conditions joined with AND; for none, `1 = 1` (ClickHouse 18.16
/// has no TRUE, PostgreSQL no integer condition).
fn join_conditions<'a>(conditions: impl Iterator<Item = &'a Condition>) -> String {
    let parts: Vec<&str> = conditions.map(|c| c.sql.as_str()).collect();
    if parts.is_empty() {
        "1 = 1".to_string()
    } else {
        parts.join(" AND ")
    }
}

/// The order of [`Filter::where_clause`], for a store that sorts in
/// memory: name (reversed), type, bailiwick, first seen, digest.
fn sort_rows(rows: &mut [Row]) {
    rows.sort_by_cached_key(|(key, seen)| {
        (
            key.reversed_rrname(),
            key.rrtype,
            key.bailiwick.clone(),
            seen.time_first,
            key.digest(),
        )
    });
}

/// The columns a query reads, in the order [`Backend::select`] takes them.
const COLUMNS: &str = "rrname, rrtype, bailiwick, rdata, time_first, time_last, count, sensor_id";

/// The query of [`Backend::previous`], with the engine's spelling of the
/// Nth parameter: name (reversed), type, bailiwick, the key's digest, time.
fn previous_sql(placeholder: fn(usize) -> String) -> String {
    let p = |n| placeholder(n);
    format!(
        "SELECT {COLUMNS} FROM pdns WHERE rrname_rev = {} AND rrtype = {} AND bailiwick = {} \
         AND key <> {} AND time_first < {} ORDER BY time_last DESC, time_first DESC, key LIMIT 1",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5)
    )
}

/// The statement of [`Backend::move_position`], with the engine's
/// spelling of the Nth parameter: log, consumer, partition, the new
/// offset, and, when the batch found a position (`found`), its offset.
fn position_move_sql(found: bool, placeholder: fn(usize) -> String) -> String {
    let p = |n| placeholder(n);
    if found {
        format!(
            "UPDATE pdns_log_position SET log_offset = {} \
             WHERE log = {} AND consumer = {} AND log_partition = {} AND log_offset = {}",
            p(4),
            p(1),
            p(2),
            p(3),
            p(5)
        )
    } else {
        format!(
            "INSERT INTO pdns_log_position (log, consumer, log_partition, log_offset) \
             VALUES ({}, {}, {}, {}) ON CONFLICT (log, consumer, log_partition) DO NOTHING",
            p(1),
            p(2),
            p(3),
            p(4)
        )
    }
}

/// How far `pdns ingest` has stored a log (`LogUrl::position_key`) for
/// a consumer: the offset of the last record stored, per partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogPosition {
    pub log: String,
    pub consumer: String,
    pub partition: u32,
    pub offset: u64,
}

/// A batch's move of a stored position: from the offset stored when the
/// batch began (`None`: none was) to `to.offset`, the last it holds. The
/// move is made only if the stored offset is still `from`: consumers of a
/// group hand a partition over, and a batch of its old holder may still be
/// on its way to the store when the new holder, starting from the same
/// stored offset, stores the same records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PositionMove {
    pub to: LogPosition,
    pub from: Option<u64>,
}

/// The table of [`LogPosition`]s, in the SQL stores: written in the
/// transaction of the batch that holds the records, so that a record is
/// counted once even when the log delivers it again.
const POSITIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS pdns_log_position (
    log text NOT NULL,
    consumer text NOT NULL,
    log_partition bigint NOT NULL,
    log_offset bigint NOT NULL,
    PRIMARY KEY (log, consumer, log_partition)
)";

/// What one engine does; [`merge`] builds the transaction from it.
pub trait Backend {
    /// Starts a transaction.
    fn begin(&mut self) -> Result<()>;
    /// Merges the rows into the table; for each, whether its key is new.
    fn upsert(&mut self, rows: &[(&Key, &Seen)]) -> Result<Vec<bool>>;
    /// The RRset of the key's name, type and bailiwick with other RDATA
    /// that was first seen before `before`, the one seen last.
    fn previous(&mut self, key: &Key, before: i64) -> Result<Option<Row>>;
    fn commit(&mut self) -> Result<()>;
    /// Abandons the transaction begun, in a store that keeps positions.
    fn rollback(&mut self) -> Result<()> {
        Ok(())
    }
    /// Whether the store keeps log positions with its batches (it has
    /// transactions): then [`Backend::positions`] and
    /// [`Backend::move_position`] work.
    fn keeps_positions(&self) -> bool {
        false
    }
    /// The positions stored for `log` and `consumer`.
    fn positions(&mut self, _log: &str, _consumer: &str) -> Result<Vec<LogPosition>> {
        Ok(Vec::new())
    }
    /// Moves a stored position inside the batch's transaction; false, and
    /// nothing written, when the stored offset is no longer `from`.
    fn move_position(&mut self, _position: &PositionMove) -> Result<bool> {
        Ok(true)
    }
    /// The rows that match, in the filter's order.
    fn select(&mut self, filter: &Filter) -> Result<Vec<Row>>;
}

/// Opens the store `url` names: `postgresql://…` or `postgres://…` (or a
/// libpq key=value string starting with `host=`) for PostgreSQL,
/// `clickhouse://…` for ClickHouse, anything else as the path of a SQLite
/// file. `create`: set up the schema in an
/// empty database (ingest); else a database without it is an error (query).
pub fn open(url: &str, create: bool) -> Result<Box<dyn Backend>> {
    if url.starts_with("postgresql://")
        || url.starts_with("postgres://")
        || url.starts_with("host=")
    {
        Ok(Box::new(postgres::PostgresStore::open(url, create)?))
    } else if let Some(location) = url.strip_prefix("clickhouse://") {
        Ok(Box::new(clickhouse::ClickhouseStore::open(
            location, create,
        )?))
    } else {
        Ok(Box::new(sqlite::SqliteStore::open(url, create)?))
    }
}

/// A key seen for the first time, and, for NS and DS, the RRset it
/// replaced.
pub struct NewKey {
    pub key: Key,
    pub seen: Seen,
    /// The RRset of the same name, type and bailiwick seen last before it.
    pub replaced: Option<Row>,
}

/// Whether a new RRset of this type replacing another is an event of its
/// own: a delegation changing hands.
pub fn is_delegation(rrtype: u16) -> bool {
    rrtype == Rtype::NS.to_int() || rrtype == Rtype::DS.to_int()
}

/// Merges a batch in one transaction, with the log positions it moves;
/// returns the keys it added. When a position was moved by another process
/// meanwhile, nothing of the batch is stored and the error says so.
pub fn merge(
    backend: &mut dyn Backend,
    batch: &Batch,
    positions: &[PositionMove],
) -> Result<Vec<NewKey>> {
    let mut rows: Vec<(&Key, &Seen)> = batch.keys.iter().collect();
    // A fixed order: the same batch always touches rows in the same order.
    rows.sort_by(|a, b| a.0.cmp(b.0));
    backend.begin()?;
    // Positions first: in PostgreSQL their rows are locked from here on,
    // so the second of two batches over the same records waits, then sees
    // the first one's move.
    for position in positions {
        if !backend.move_position(position)? {
            backend.rollback()?;
            return Err(moved_meanwhile(position));
        }
    }
    let fresh = if rows.is_empty() {
        Vec::new()
    } else {
        backend.upsert(&rows)?
    };
    let mut added = Vec::new();
    for ((key, seen), fresh) in rows.into_iter().zip(fresh) {
        if !fresh {
            continue;
        }
        let replaced = if is_delegation(key.rrtype) {
            backend.previous(key, seen.time_first)?
        } else {
            None
        };
        added.push(NewKey {
            key: key.clone(),
            seen: seen.clone(),
            replaced,
        });
    }
    backend.commit()?;
    added.sort_by(|a, b| (a.seen.time_first, &a.key).cmp(&(b.seen.time_first, &b.key)));
    Ok(added)
}

fn moved_meanwhile(position: &PositionMove) -> StoreError {
    let to = &position.to;
    let from = position
        .from
        .map_or("none".to_string(), |offset| offset.to_string());
    StoreError(format!(
        "partition {} of {} was stored further by another process of consumer {} while this \
         batch was built (its position was {from}): nothing of the batch is stored; a restart \
         goes on from the stored positions",
        to.partition, to.log, to.consumer
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_clauses_bind_every_condition() {
        let filter = Filter {
            rrname: Some(NameMatch::Below("test.example.".into())),
            rdata: Some("192.0.2.1".into()),
            rrtype: Some(1),
            bailiwick: Some("example.test.".into()),
            after: Some(10),
            before: Some(20),
            limit: Some(5),
        };
        let (sql, params) = filter.where_clause(|n, _| format!("${n}"), |p| format!("R({p})"));
        assert_eq!(
            sql,
            "rrname_rev > $1 AND rrname_rev < $2 AND R($3) AND rrtype = $4 AND bailiwick = $5 \
             AND time_last >= $6 AND time_first <= $7 \
             ORDER BY rrname_rev, rrtype, bailiwick, time_first, key LIMIT $8"
        );
        assert_eq!(params.len(), 8);
        assert!(matches!(&params[1], Param::Text(t) if t == "test.example/"));
        // Below the root: no upper bound.
        let filter = Filter {
            rrname: Some(NameMatch::Below(String::new())),
            ..Filter::default()
        };
        let (sql, _) = filter.where_clause(|n, _| format!("?{n}"), |p| p.to_string());
        assert!(sql.starts_with("rrname_rev > ?1 ORDER BY"), "{sql}");
    }

    fn moving(partition: u32, from: Option<u64>, to: u64) -> PositionMove {
        PositionMove {
            to: LogPosition {
                log: "kafka://127.0.0.1:9092/t".into(),
                consumer: "g".into(),
                partition,
                offset: to,
            },
            from,
        }
    }

    #[test]
    fn a_position_moves_only_from_where_the_batch_found_it() {
        let path =
            std::env::temp_dir().join(format!("dnstap-kit-moves-{}.sqlite", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut store = sqlite::SqliteStore::open(path.to_str().unwrap(), true).unwrap();
        let batch = Batch::default();
        let stored = |store: &mut sqlite::SqliteStore| {
            let mut offsets: Vec<(u32, u64)> = store
                .positions("kafka://127.0.0.1:9092/t", "g")
                .unwrap()
                .iter()
                .map(|p| (p.partition, p.offset))
                .collect();
            offsets.sort();
            offsets
        };
        // (Reading the positions first, as an ingest does, makes their table.)
        assert_eq!(stored(&mut store), []);
        merge(&mut store, &batch, &[moving(0, None, 10)]).unwrap();
        // Another holder's batch over the same records, begun before that
        // one was stored.
        let refused = merge(&mut store, &batch, &[moving(0, None, 5)]);
        assert!(
            matches!(&refused, Err(err) if err.0.contains("stored further by another process")),
            "{:?}",
            refused.err()
        );
        merge(&mut store, &batch, &[moving(0, Some(10), 20)]).unwrap();
        // A refused move takes the batch's other moves back with it.
        let both = [moving(1, None, 7), moving(0, Some(10), 15)];
        assert!(merge(&mut store, &batch, &both).is_err());
        assert_eq!(stored(&mut store), [(0, 20)]);
        merge(
            &mut store,
            &batch,
            &[moving(1, None, 7), moving(0, Some(20), 30)],
        )
        .unwrap();
        assert_eq!(stored(&mut store), [(0, 30), (1, 7)]);
        drop(store);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn other_schema_versions_are_refused() {
        assert!(check_version(SCHEMA_VERSION, "x").is_ok());
        let err = check_version("2", "pdns.sqlite").unwrap_err();
        assert!(err.0.contains("schema version 2"), "{err}");
    }
}
