//! The DDL of dnstap-kit's ClickHouse tables, in two variants: one that
//! ClickHouse 18.16 (Debian 12's package) takes, and one for current
//! servers (20.1 and later) with what 18.16 lacks: `DateTime64(9)`,
//! `IPv6`, `LowCardinality`, `CODEC`, `TTL` and `SimpleAggregateFunction`.
//! Both give the columns the same names, so `export clickhouse` (which
//! reads the table's columns) and `pdns query` work with either.
//!
//! - The query log: a `MergeTree` partitioned by day (UTC), ordered by
//!   hour, identity and the qname reversed, so a time range, one server
//!   and a domain with the names below it are each a range of the index.
//!   A batch of `export clickhouse` goes in as one insert per day, which
//!   is one part, written whole or not at all (see `export::clickhouse`).
//! - Its rollup: a `SummingMergeTree` of counts per minute, identity,
//!   message type, RCODE and QTYPE, filled by a materialized view.
//! - Passive DNS: rows of partial aggregates go into `pdns_input` (a
//!   `Null` table: nothing is kept there) and a materialized view merges
//!   them into `pdns`, an `AggregatingMergeTree` keyed by (rrname, rrtype,
//!   bailiwick, rdata): min first seen, max last seen, summed count, and
//!   the sensor of the earliest sighting (min of (time, sensor)). Merging
//!   is commutative and associative, so shards, restarts and repeated
//!   batches merge to what one store would hold.

/// Which servers a DDL is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Variant {
    /// ClickHouse 18.16 (Debian 12) and later.
    #[value(name = "18.16")]
    Old,
    /// ClickHouse 20.1 and later.
    Current,
}

impl Variant {
    /// The variant for a server of this `version()`.
    pub fn for_version(version: &str) -> Variant {
        let major: u32 = version
            .split('.')
            .next()
            .and_then(|major| major.trim().parse().ok())
            .unwrap_or(0);
        if major >= 20 {
            Variant::Current
        } else {
            Variant::Old
        }
    }
}

/// Where the query log goes, and how long it is kept (current only).
pub struct QueryLog<'a> {
    pub database: &'a str,
    pub table: &'a str,
    pub ttl_days: u32,
}

/// `LowCardinality(String)` where the server has it.
fn label(variant: Variant) -> &'static str {
    match variant {
        Variant::Old => "String",
        Variant::Current => "LowCardinality(String)",
    }
}

/// The query log, its rollup and the view that fills it.
pub fn query_log(variant: Variant, log: &QueryLog<'_>) -> Vec<String> {
    let QueryLog {
        database, table, ..
    } = log;
    let label = label(variant);
    let (time, address, message) = match variant {
        Variant::Old => (
            "time DateTime('UTC'),\n    time_ns UInt32,",
            "FixedString(16)",
            "String",
        ),
        Variant::Current => (
            "time DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD),",
            "IPv6",
            "String CODEC(ZSTD(3))",
        ),
    };
    let ttl = match variant {
        Variant::Old => String::new(),
        Variant::Current => format!("\nTTL toDateTime(time) + INTERVAL {} DAY", log.ttl_days),
    };
    let minute = match variant {
        Variant::Old => "DateTime('UTC')",
        Variant::Current => "DateTime('UTC') CODEC(DoubleDelta, ZSTD)",
    };
    vec![
        format!("CREATE DATABASE IF NOT EXISTS {database}"),
        format!(
            "CREATE TABLE IF NOT EXISTS {database}.{table} (
    {time}
    identity {label},
    version {label},
    message_type {label},
    socket_family {label},
    socket_protocol {label},
    query_address {address},
    query_port UInt16,
    response_address {address},
    response_port UInt16,
    qname String,
    qtype UInt16,
    qclass UInt16,
    rcode UInt16,
    opcode UInt8,
    flags UInt16,
    edns UInt8,
    edns_do UInt8,
    edns_udp_size UInt16,
    query_size UInt32,
    response_size UInt32,
    query_zone {label},
    policy_type {label},
    policy_rule String,
    policy_action {label},
    policy_match {label},
    policy_value String,
    http_protocol {label},
    query_message {message},
    response_message {message},
    batch_id UInt64
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (toStartOfHour(time), identity, reverse(qname)){ttl}"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {database}.{table}_per_minute (
    minute {minute},
    identity {label},
    message_type {label},
    rcode UInt16,
    qtype UInt16,
    messages UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, identity, message_type, rcode, qtype){ttl_minute}",
            ttl_minute = ttl.replace("toDateTime(time)", "minute"),
        ),
        format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.{table}_per_minute_mv
TO {database}.{table}_per_minute AS
SELECT toStartOfMinute(time) AS minute, identity, message_type, rcode, qtype, count() AS messages
FROM {database}.{table}
GROUP BY minute, identity, message_type, rcode, qtype"
        ),
    ]
}

/// Passive DNS: `pdns_input`, `pdns` and the view between them.
pub fn passive_dns(variant: Variant, database: &str) -> Vec<String> {
    let (aggregate, merge) = match variant {
        Variant::Old => ("AggregateFunction", "State"),
        Variant::Current => ("SimpleAggregateFunction", ""),
    };
    let label = label(variant);
    vec![
        format!("CREATE DATABASE IF NOT EXISTS {database}"),
        format!(
            "CREATE TABLE IF NOT EXISTS {database}.pdns_meta (name String, value String) ENGINE = TinyLog"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {database}.pdns_input (
    rrname String,
    rrname_rev String,
    rrtype UInt16,
    bailiwick String,
    rdata Array(String),
    seen_first Int64,
    seen_last Int64,
    seen_count Int64,
    sensor_id String
) ENGINE = Null"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {database}.pdns (
    rrname_rev String,
    rrtype UInt16,
    bailiwick {label},
    rdata Array(String),
    rrname String,
    time_first {aggregate}(min, Int64),
    time_last {aggregate}(max, Int64),
    count {aggregate}(sum, Int64),
    first_sensor {aggregate}(min, Tuple(Int64, String))
) ENGINE = AggregatingMergeTree
ORDER BY (rrname_rev, rrtype, bailiwick, rdata, rrname)"
        ),
        format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.pdns_mv TO {database}.pdns AS
SELECT rrname_rev, rrtype, bailiwick, rdata, rrname,
    min{merge}(seen_first) AS time_first,
    max{merge}(seen_last) AS time_last,
    sum{merge}(seen_count) AS count,
    min{merge}((seen_first, sensor_id)) AS first_sensor
FROM {database}.pdns_input
GROUP BY rrname_rev, rrtype, bailiwick, rdata, rrname"
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log() -> QueryLog<'static> {
        QueryLog {
            database: "dnstap",
            table: "messages",
            ttl_days: 30,
        }
    }

    #[test]
    fn versions_pick_variants() {
        assert_eq!(Variant::for_version("18.16.1"), Variant::Old);
        assert_eq!(Variant::for_version("19.17.4.11"), Variant::Old);
        assert_eq!(Variant::for_version("26.9.2.1"), Variant::Current);
        assert_eq!(Variant::for_version("garbage"), Variant::Old);
    }

    #[test]
    fn the_old_variant_has_nothing_18_16_lacks() {
        let ddl = [
            query_log(Variant::Old, &log()),
            passive_dns(Variant::Old, "dnstap"),
        ]
        .concat();
        for statement in &ddl {
            for newer in [
                "DateTime64",
                "IPv6",
                "LowCardinality",
                "CODEC",
                "TTL",
                "SimpleAggregateFunction",
            ] {
                assert!(!statement.contains(newer), "{newer} in {statement}");
            }
        }
        assert!(ddl[1].contains("time_ns UInt32"));
    }

    #[test]
    fn the_current_variant_uses_them() {
        let ddl = [
            query_log(Variant::Current, &log()),
            passive_dns(Variant::Current, "d"),
        ]
        .concat()
        .join("\n");
        for newer in [
            "DateTime64(9, 'UTC')",
            "IPv6",
            "LowCardinality",
            "CODEC",
            "TTL toDateTime(time) + INTERVAL 30 DAY",
            "SimpleAggregateFunction(min, Int64)",
        ] {
            assert!(ddl.contains(newer), "{newer}");
        }
        assert!(!ddl.contains("time_ns"));
        assert!(ddl.contains("TTL minute + INTERVAL 30 DAY"));
    }
}
