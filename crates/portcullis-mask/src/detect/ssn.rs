//! US social security numbers.
//!
//! `AAA-GG-SSSS` always qualifies when the ranges are valid; bare nine digits
//! (or space-separated) only with an `ssn`/`social security` cue just before,
//! because nine-digit integers are everywhere.

use super::text::contains_ci;

/// Valid area/group/serial: never-issued ranges excluded.
pub(crate) fn valid(area: &[u8], group: &[u8], serial: &[u8]) -> bool {
    if area.len() != 3 || group.len() != 2 || serial.len() != 4 {
        return false;
    }
    let area_ok = area != b"000" && area != b"666" && area[0] != b'9';
    area_ok && group != b"00" && serial != b"0000"
}

/// Nine digits in one string, split into the three parts.
pub(crate) fn valid_digits(d: &[u8]) -> bool {
    d.len() == 9 && valid(&d[..3], &d[3..5], &d[5..])
}

/// True when the 32 bytes before `start` mention an SSN.
pub(crate) fn has_context(text: &[u8], start: usize) -> bool {
    contains_ci(
        text,
        start.saturating_sub(32),
        start,
        &[b"ssn", b"social security", b"ss#", b"ss no"],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert!(valid(b"123", b"45", b"6789"));
        assert!(!valid(b"000", b"45", b"6789"));
        assert!(!valid(b"666", b"45", b"6789"));
        assert!(!valid(b"900", b"45", b"6789"));
        assert!(!valid(b"123", b"00", b"6789"));
        assert!(!valid(b"123", b"45", b"0000"));
    }
}
