//! Rows gathered into batches: a batch closes at `--batch-rows` rows or
//! `--batch-ms` after its first row. Its rows are kept as one insert per
//! UTC day ([`Unit`]): the query log is partitioned by day, so each insert
//! is one part, which the server writes whole or not at all, and each
//! carries its own id, so a retry can ask whether it is already there.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::columns::{Entry, Layout};

/// The rows of one batch from one UTC day, in RowBinary.
pub struct Unit {
    /// Days since the epoch.
    pub day: u64,
    /// In every row's `batch_id` column, and the insert's `query_id`.
    pub batch_id: u64,
    pub rows: u64,
    pub bytes: Vec<u8>,
}

/// Ids that no other export shares: a random start, then one by one.
fn first_batch_id() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    std::process::id().hash(&mut hasher);
    SystemTime::now().hash(&mut hasher);
    hasher.finish()
}

pub struct Batcher {
    layout: Arc<Layout>,
    units: Vec<Unit>,
    rows: u64,
    started: Instant,
    next_id: u64,
    max_rows: u64,
    max_age: Duration,
}

impl Batcher {
    pub fn new(layout: Arc<Layout>, max_rows: u64, max_age: Duration) -> Batcher {
        Batcher {
            layout,
            units: Vec::new(),
            rows: 0,
            started: Instant::now(),
            next_id: first_batch_id(),
            max_rows,
            max_age,
        }
    }

    pub fn add(&mut self, entry: &Entry) {
        if self.rows == 0 {
            self.started = Instant::now();
        }
        let day = entry.seconds() / 86_400;
        // A batch holds one day, or two around midnight: a short search.
        let index = match self.units.iter().position(|unit| unit.day == day) {
            Some(index) => index,
            None => {
                self.units.push(Unit {
                    day,
                    batch_id: self.next_id,
                    rows: 0,
                    bytes: Vec::new(),
                });
                self.next_id = self.next_id.wrapping_add(1);
                self.units.len() - 1
            }
        };
        let unit = &mut self.units[index];
        self.layout.put(&mut unit.bytes, entry, unit.batch_id);
        unit.rows += 1;
        self.rows += 1;
    }

    pub fn is_due(&self) -> bool {
        self.rows > 0 && (self.rows >= self.max_rows || self.started.elapsed() >= self.max_age)
    }

    /// The batch's inserts, leaving the batcher empty.
    pub fn take(&mut self) -> Vec<Unit> {
        self.rows = 0;
        std::mem::take(&mut self.units)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clickhouse::Column;
    use dnstap::proto;
    use prost::Message as _;

    fn entry(seconds: u64) -> Entry {
        let payload = proto::Dnstap {
            r#type: proto::dnstap::Type::Message as i32,
            message: Some(proto::Message {
                r#type: proto::message::Type::ClientQuery as i32,
                query_time_sec: Some(seconds),
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec();
        Entry::decode(&payload).unwrap()
    }

    fn layout() -> Arc<Layout> {
        let column = |name: &str, type_name: &str| Column {
            name: name.into(),
            type_name: type_name.into(),
            default_kind: String::new(),
        };
        Arc::new(
            Layout::new(
                "d",
                "t",
                &[column("time", "DateTime"), column("batch_id", "UInt64")],
            )
            .unwrap(),
        )
    }

    #[test]
    fn batches_close_at_their_size_and_split_by_day() {
        let mut batcher = Batcher::new(layout(), 3, Duration::from_secs(3600));
        batcher.add(&entry(86_399));
        batcher.add(&entry(86_400));
        assert!(!batcher.is_due());
        batcher.add(&entry(10));
        assert!(batcher.is_due());
        let units = batcher.take();
        assert!(!batcher.is_due());
        assert_eq!(
            units.iter().map(|u| (u.day, u.rows)).collect::<Vec<_>>(),
            [(0, 2), (1, 1)]
        );
        assert_ne!(units[0].batch_id, units[1].batch_id);
        // Rows of 4 + 8 bytes, each with its insert's id.
        assert_eq!(units[0].bytes.len(), 24);
        assert_eq!(units[0].bytes[4..12], units[0].batch_id.to_le_bytes());
        assert_eq!(units[1].bytes[4..12], units[1].batch_id.to_le_bytes());
        batcher.add(&entry(5));
        assert_ne!(
            batcher.take()[0].batch_id,
            units[1].batch_id,
            "ids are not reused"
        );
    }

    #[test]
    fn batches_close_by_age() {
        let mut batcher = Batcher::new(layout(), 1000, Duration::from_millis(50));
        assert!(!batcher.is_due(), "an empty batch is never due");
        batcher.add(&entry(1));
        assert!(!batcher.is_due());
        std::thread::sleep(Duration::from_millis(60));
        assert!(batcher.is_due());
    }
}
