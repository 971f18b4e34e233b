//! Repeated identical blocked calls are rate-limited.
//!
//! Agents retry blindly. A statement refused by a guardrail will be refused
//! again, so after [`ALLOWED`] refusals of the same text on the same
//! connection for the same identity within [`WINDOW`], further identical
//! calls are answered here without reaching the session (the refusals that
//! did reach it are recorded there).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Identical blocked calls let through (and recorded) per window.
pub(crate) const ALLOWED: u32 = 2;
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// Entries kept before expired ones are swept.
const SWEEP_AT: usize = 4096;

type Key = (String, String, String);

struct Entry {
    first: Instant,
    count: u32,
    rule: String,
}

/// A call refused by the limiter.
pub(crate) struct Limited {
    pub rule: String,
    pub refusals: u32,
    pub retry_after: Duration,
}

#[derive(Default)]
pub(crate) struct BlockedCalls {
    map: Mutex<HashMap<Key, Entry>>,
}

fn key(identity: &str, connection: &str, sql: &str) -> Key {
    (identity.into(), connection.into(), sql.trim().into())
}

impl BlockedCalls {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Some` when this call repeats a blocked one too often: do not send it.
    pub(crate) fn check(&self, identity: &str, connection: &str, sql: &str) -> Option<Limited> {
        self.check_at(identity, connection, sql, Instant::now())
    }

    fn check_at(
        &self,
        identity: &str,
        connection: &str,
        sql: &str,
        now: Instant,
    ) -> Option<Limited> {
        let mut map = self.lock();
        let k = key(identity, connection, sql);
        let e = map.get_mut(&k)?;
        let age = now.saturating_duration_since(e.first);
        if age >= WINDOW {
            map.remove(&k);
            return None;
        }
        if e.count < ALLOWED {
            return None;
        }
        e.count = e.count.saturating_add(1);
        Some(Limited {
            rule: e.rule.clone(),
            refusals: e.count,
            retry_after: WINDOW - age,
        })
    }

    /// Remembers that this call was blocked by `rule`.
    pub(crate) fn blocked(&self, identity: &str, connection: &str, sql: &str, rule: &str) {
        self.blocked_at(identity, connection, sql, rule, Instant::now())
    }

    fn blocked_at(&self, identity: &str, connection: &str, sql: &str, rule: &str, now: Instant) {
        let mut map = self.lock();
        if map.len() >= SWEEP_AT {
            map.retain(|_, e| now.saturating_duration_since(e.first) < WINDOW);
        }
        let e = map.entry(key(identity, connection, sql)).or_insert(Entry {
            first: now,
            count: 0,
            rule: rule.to_string(),
        });
        if now.saturating_duration_since(e.first) >= WINDOW {
            *e = Entry {
                first: now,
                count: 0,
                rule: rule.to_string(),
            };
        }
        e.count = e.count.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_blocked_calls_are_limited_within_the_window() {
        let b = BlockedCalls::default();
        let t0 = Instant::now();
        assert!(b.check_at("a", "db", "DROP TABLE t", t0).is_none());
        b.blocked_at("a", "db", "DROP TABLE t", "r/drop", t0);
        assert!(b.check_at("a", "db", "DROP TABLE t", t0).is_none());
        b.blocked_at("a", "db", " DROP TABLE t ", "r/drop", t0);
        let limited = b.check_at("a", "db", "DROP TABLE t", t0).expect("limited");
        assert_eq!(limited.rule, "r/drop");
        assert_eq!(limited.refusals, 3);
        // Other identities, connections and texts are not affected.
        assert!(b.check_at("b", "db", "DROP TABLE t", t0).is_none());
        assert!(b.check_at("a", "db2", "DROP TABLE t", t0).is_none());
        assert!(b.check_at("a", "db", "DROP TABLE u", t0).is_none());
        // The window passes.
        assert!(b.check_at("a", "db", "DROP TABLE t", t0 + WINDOW).is_none());
    }
}
