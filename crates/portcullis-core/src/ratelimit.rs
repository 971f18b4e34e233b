//! Slows down password guessing: after too many failed authentications from
//! one address within a window, further attempts from it are refused
//! without being checked, until the window passes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct FailureLimiter {
    max_failures: u32,
    window: Duration,
    by_address: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

/// Addresses remembered before stale entries are swept.
const SWEEP_AT: usize = 10_000;

impl FailureLimiter {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        FailureLimiter {
            max_failures,
            window,
            by_address: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, (u32, Instant)>> {
        self.by_address.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `addr` has used up its failures for the current window.
    pub fn is_limited(&self, addr: IpAddr) -> bool {
        let now = Instant::now();
        self.lock().get(&addr).is_some_and(|(n, since)| {
            *n >= self.max_failures && now.duration_since(*since) < self.window
        })
    }

    /// Counts a failure from `addr`.
    pub fn failed(&self, addr: IpAddr) {
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() >= SWEEP_AT {
            let window = self.window;
            map.retain(|_, (_, since)| now.duration_since(*since) < window);
        }
        let entry = map.entry(addr).or_insert((0, now));
        if now.duration_since(entry.1) >= self.window {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
    }

    /// A success clears the address's count.
    pub fn succeeded(&self, addr: IpAddr) {
        self.lock().remove(&addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_after_the_allowed_failures_and_forgets_after_the_window() {
        let l = FailureLimiter::new(3, Duration::from_millis(200));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(!l.is_limited(a));
            l.failed(a);
        }
        assert!(l.is_limited(a));
        assert!(!l.is_limited(b), "other addresses are unaffected");
        std::thread::sleep(Duration::from_millis(250));
        assert!(!l.is_limited(a), "the window passed");
        l.failed(a);
        l.succeeded(a);
        assert!(!l.is_limited(a));
    }
}
