//! A cache of classifications bounded in bytes.
//!
//! Two generations: entries go into the young map; when it holds half the
//! budget it becomes the old map and the previous old map is dropped. A hit in
//! the old map moves the entry back to the young one. This keeps the hot set,
//! costs O(1) per operation and never holds more than about `budget` bytes
//! (as estimated by [`estimate`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use portcullis_core::statement::StatementInfo;

/// Classifications of a whole request text, shared between cache hits.
pub type Classification = Arc<[StatementInfo]>;

struct Entry {
    value: Classification,
    bytes: usize,
}

#[derive(Default)]
struct Generations {
    young: HashMap<String, Entry>,
    old: HashMap<String, Entry>,
    young_bytes: usize,
    old_bytes: usize,
}

/// Thread-safe, byte-bounded map from cache key to classification.
pub(crate) struct ByteCache {
    budget: usize,
    inner: Mutex<Generations>,
}

impl ByteCache {
    pub(crate) fn new(budget: usize) -> ByteCache {
        ByteCache {
            budget,
            inner: Mutex::new(Generations::default()),
        }
    }

    /// Looks `key` up. A poisoned lock is a miss: the caller re-parses.
    pub(crate) fn get(&self, key: &str) -> Option<Classification> {
        let mut g = self.inner.lock().ok()?;
        if let Some(entry) = g.young.get(key) {
            return Some(entry.value.clone());
        }
        let entry = g.old.remove(key)?;
        g.old_bytes -= entry.bytes;
        let value = entry.value.clone();
        self.put(&mut g, key.to_string(), entry);
        Some(value)
    }

    /// Stores `value` under `key` unless it alone exceeds half the budget.
    pub(crate) fn insert(&self, key: String, value: Classification) {
        let bytes = key.len() + estimate(&value) + 64;
        if bytes > self.budget / 2 {
            return;
        }
        if let Ok(mut g) = self.inner.lock() {
            self.put(&mut g, key, Entry { value, bytes });
        }
    }

    /// Inserts into the young map, first retiring it if the entry would not
    /// fit: each map stays within half the budget.
    fn put(&self, g: &mut Generations, key: String, entry: Entry) {
        if let Some(previous) = g.young.remove(&key) {
            g.young_bytes -= previous.bytes;
        }
        if g.young_bytes + entry.bytes > self.budget / 2 {
            g.old = std::mem::take(&mut g.young);
            g.old_bytes = std::mem::replace(&mut g.young_bytes, 0);
        }
        g.young_bytes += entry.bytes;
        g.young.insert(key, entry);
    }

    /// Bytes currently held (estimate).
    pub(crate) fn bytes(&self) -> usize {
        self.inner
            .lock()
            .map(|g| g.young_bytes + g.old_bytes)
            .unwrap_or(0)
    }
}

/// Approximate heap and inline size of a classification.
pub(crate) fn estimate(value: &[StatementInfo]) -> usize {
    value.iter().map(estimate_one).sum()
}

fn estimate_one(info: &StatementInfo) -> usize {
    let strings = |v: &[String]| v.iter().map(|s| s.len() + 24).sum::<usize>();
    std::mem::size_of::<StatementInfo>()
        + info.command.len()
        + info.object_type.as_ref().map_or(0, String::len)
        + info.classes.len()
        + strings(&info.tables_read)
        + strings(&info.tables_written)
        + strings(&info.functions)
        + strings(&info.objects)
        + info.facts.len()
        + info
            .settings
            .iter()
            .map(|s| 64 + s.name.len() + s.value.as_ref().map_or(0, String::len))
            .sum::<usize>()
        + info.opaque_reason.as_ref().map_or(0, String::len)
        + info.prepared_name.as_ref().map_or(0, String::len)
        + info.inner.as_deref().map_or(0, estimate_one)
        + info.normalized.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_budget() {
        let cache = ByteCache::new(64 * 1024);
        for i in 0..10_000 {
            let value: Classification = crate::classify(&format!("SELECT c{i} FROM t"))
                .unwrap()
                .into();
            cache.insert(format!("k{i}"), value);
            assert!(cache.bytes() <= 64 * 1024, "{}", cache.bytes());
        }
        assert!(cache.get("k9999").is_some());
        assert!(cache.get("k0").is_none());
    }
}
