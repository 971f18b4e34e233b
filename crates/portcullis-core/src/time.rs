//! Wall-clock timestamps as stored and recorded: microseconds since the Unix epoch.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch; 0 if the clock is before 1970.
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// RFC 3339 rendering (UTC, second precision) for CLI output.
pub fn format_micros(us: i64) -> String {
    let secs = u64::try_from(us / 1_000_000).unwrap_or(0);
    humantime::format_rfc3339_seconds(UNIX_EPOCH + std::time::Duration::from_secs(secs)).to_string()
}
