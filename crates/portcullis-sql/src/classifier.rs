//! The caching classifier used on the hot path.
//!
//! Keys: the statement's shape (see [`crate::shape`]) when the text lexes
//! unambiguously and the classification does not depend on literal values;
//! otherwise the exact text. A hit therefore returns exactly what parsing
//! would. Errors are never cached: an unparseable text is re-parsed each time
//! (and blocked each time by the policy).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::cache::{ByteCache, Classification};
use crate::error::ClassifyError;
use crate::shape::shape_key;

/// Texts longer than this are classified without the cache.
const MAX_CACHED_TEXT: usize = 64 * 1024;

/// Default cache budget: 16 MiB.
pub const DEFAULT_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Classifies statements, caching by statement shape within a byte budget.
///
/// Share one per process (it is `Sync`); the cache is protected by a mutex
/// held only for the lookup or insertion.
pub struct Classifier {
    cache: ByteCache,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Counters for monitoring the cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that parsed.
    pub misses: u64,
    /// Bytes held (estimate).
    pub bytes: usize,
}

impl Default for Classifier {
    fn default() -> Self {
        Classifier::new(DEFAULT_CACHE_BYTES)
    }
}

impl Classifier {
    /// A classifier whose cache holds at most about `cache_bytes` bytes
    /// (0 disables caching).
    pub fn new(cache_bytes: usize) -> Classifier {
        Classifier {
            cache: ByteCache::new(cache_bytes),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Classifies every statement of `sql`, like [`crate::classify`], using
    /// the cache.
    pub fn classify(&self, sql: &str) -> Result<Classification, ClassifyError> {
        if sql.len() > MAX_CACHED_TEXT {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return crate::classify(sql).map(Into::into);
        }
        let shape = shape_key(sql).map(|k| {
            let mut key = String::with_capacity(k.len() + 1);
            key.push('S');
            key.push_str(&k);
            key
        });
        if let Some(key) = &shape
            && let Some(hit) = self.cache.get(key)
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        let exact = format!("X{sql}");
        if let Some(hit) = self.cache.get(&exact) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let (infos, sensitive) = crate::classify_detailed(sql)?;
        let value: Classification = infos.into();
        match shape {
            Some(key) if !sensitive => self.cache.insert(key, value.clone()),
            _ => self.cache.insert(exact, value.clone()),
        }
        Ok(value)
    }

    /// Current cache counters.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            bytes: self.cache.bytes(),
        }
    }
}
