//! The passive DNS key and what is known of it, and how two observations
//! of one key merge: time_first the earliest, time_last the latest, count
//! the sum, and the sensor of the earliest observation (the smaller name
//! on a tie). Every part is commutative and associative, so re-ingesting,
//! sharding and restarts merge to the same rows in any order; the stores
//! do the same merge in SQL.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::canonical::name_text;
use super::observe::Observation;

/// What passive DNS counts: an RRset as one server gave it for one zone.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// The owner, lowercased, in presentation form.
    pub rrname: String,
    pub rrtype: u16,
    /// The zone the resolver asked (`query_zone`).
    pub bailiwick: String,
    /// The RRs' data in presentation form, in canonical order.
    pub rdata: Vec<String>,
}

impl Key {
    /// SHA-256 of the key's parts, each prefixed by its length: the
    /// primary key of both stores (a B-tree over the whole RDATA could
    /// exceed PostgreSQL's index row limit).
    pub fn digest(&self) -> Vec<u8> {
        let mut hash = Sha256::new();
        let mut part = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_be_bytes());
            hash.update(bytes);
        };
        part(self.rrname.as_bytes());
        part(&self.rrtype.to_be_bytes());
        part(self.bailiwick.as_bytes());
        for rdata in &self.rdata {
            part(rdata.as_bytes());
        }
        hash.finalize().to_vec()
    }

    /// The owner with its labels in reverse order (`com.example.www.`, the
    /// root as ""): names below a name share its reversed form as a prefix,
    /// so one index serves exact and `*.` lookups.
    pub fn reversed_rrname(&self) -> String {
        reverse_name(&self.rrname)
    }
}

/// A presentation-form name with its labels in reverse order, each
/// followed by a dot; the root is "". Escaped dots (`\.`) stay inside
/// their label.
pub fn reverse_name(name: &str) -> String {
    let mut labels = Vec::new();
    let mut label = String::new();
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                label.push(c);
                if let Some(escaped) = chars.next() {
                    label.push(escaped);
                }
            }
            '.' => labels.push(std::mem::take(&mut label)),
            c => label.push(c),
        }
    }
    if !label.is_empty() {
        labels.push(label);
    }
    let mut reversed = String::with_capacity(name.len());
    for label in labels.iter().rev().filter(|label| !label.is_empty()) {
        reversed.push_str(label);
        reversed.push('.');
    }
    reversed
}

/// What is known of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub time_first: i64,
    pub time_last: i64,
    pub count: i64,
    /// The sensor of the earliest observation; "" for none.
    pub sensor_id: String,
}

impl Seen {
    pub fn once(time: i64, sensor_id: &str) -> Seen {
        Seen {
            time_first: time,
            time_last: time,
            count: 1,
            sensor_id: sensor_id.to_string(),
        }
    }

    /// Merges another record of the same key into this one.
    pub fn merge(&mut self, other: &Seen) {
        if (other.time_first, &other.sensor_id) < (self.time_first, &self.sensor_id) {
            self.sensor_id.clone_from(&other.sensor_id);
        }
        self.time_first = self.time_first.min(other.time_first);
        self.time_last = self.time_last.max(other.time_last);
        self.count = self.count.saturating_add(other.count);
    }
}

/// Observations merged in memory before they go to a store in one
/// transaction.
#[derive(Default)]
pub struct Batch {
    pub keys: HashMap<Key, Seen>,
    /// Messages that went into it.
    pub messages: u64,
}

impl Batch {
    /// Adds every RRset of an observation, each once per message (an RRset
    /// repeated in two sections is one observation).
    pub fn add(&mut self, observation: &Observation, sensor_override: Option<&str>) -> u64 {
        let sensor = sensor_override
            .or(observation.sensor_id.as_deref())
            .unwrap_or("");
        let mut keys: Vec<Key> = observation
            .rrsets
            .iter()
            .map(|set| Key {
                rrname: name_text(&set.owner),
                rrtype: set.rtype.to_int(),
                bailiwick: observation.bailiwick.clone(),
                rdata: set.rdata_texts(),
            })
            .collect();
        keys.sort();
        keys.dedup();
        let seen = Seen::once(observation.time, sensor);
        for key in &keys {
            self.keys
                .entry(key.clone())
                .and_modify(|known| known.merge(&seen))
                .or_insert_with(|| seen.clone());
        }
        self.messages += 1;
        keys.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.messages == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(first: i64, last: i64, count: i64, sensor: &str) -> Seen {
        Seen {
            time_first: first,
            time_last: last,
            count,
            sensor_id: sensor.into(),
        }
    }

    #[test]
    fn merging_is_min_max_sum_in_any_order() {
        let parts = [
            seen(100, 150, 2, "b"),
            seen(90, 95, 1, "c"),
            seen(90, 200, 4, "a"),
            seen(120, 121, 7, ""),
        ];
        let expected = seen(90, 200, 14, "a");
        // Every order of the four, merged one by one.
        let orders = [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]];
        for order in orders {
            let mut total = parts[order[0]].clone();
            for &i in &order[1..] {
                total.merge(&parts[i]);
            }
            assert_eq!(total, expected, "order {order:?}");
        }
        // Shards merged with each other equal the whole.
        let mut left = parts[0].clone();
        left.merge(&parts[1]);
        let mut right = parts[2].clone();
        right.merge(&parts[3]);
        right.merge(&left);
        assert_eq!(right, expected);
    }

    #[test]
    fn the_digest_tells_every_part_apart() {
        let key = Key {
            rrname: "www.example.".into(),
            rrtype: 1,
            bailiwick: "example.".into(),
            rdata: vec!["192.0.2.1".into(), "192.0.2.2".into()],
        };
        let mut others = vec![key.clone(); 4];
        others[0].rrtype = 28;
        others[1].bailiwick = ".".into();
        others[2].rdata = vec!["192.0.2.1192.0.2.2".into()];
        others[3].rdata.reverse();
        for other in others {
            assert_ne!(other.digest(), key.digest(), "{other:?}");
        }
        assert_eq!(key.clone().digest(), key.digest());
        assert_eq!(key.digest().len(), 32);
    }

    #[test]
    fn reversed_names() {
        assert_eq!(reverse_name("www.example.com."), "com.example.www.");
        assert_eq!(reverse_name("."), "");
        assert_eq!(reverse_name("a\\.b.example."), "example.a\\.b.");
        assert_eq!(reverse_name("a\\\\.b."), "b.a\\\\.");
    }
}
