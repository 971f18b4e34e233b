//! IP addresses. Validity is decided by the standard library parsers, which
//! reject out-of-range octets and octal-looking leading zeros.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::Finding;
use super::text::{word_after, word_before};

/// `text` is one dotted quad (already isolated by the numeric scanner).
pub(crate) fn is_ipv4(text: &[u8]) -> bool {
    std::str::from_utf8(text).is_ok_and(|s| s.parse::<Ipv4Addr>().is_ok())
}

fn is_v6_byte(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

/// IPv6 addresses, triggered by `:`; the maximal hex/colon run around each
/// colon must parse as a whole, so times (`12:34:56`), MAC addresses and
/// paths like `std::fmt` do not match.
pub(crate) fn find_v6(text: &[u8], rule: usize, out: &mut Vec<Finding>) {
    let mut from = 0;
    for colon in memchr::memchr_iter(b':', text) {
        if colon < from {
            continue;
        }
        let mut start = colon;
        while start > 0 && is_v6_byte(text[start - 1]) {
            start -= 1;
        }
        let mut end = colon + 1;
        while end < text.len() && is_v6_byte(text[end]) {
            end += 1;
        }
        while end > colon + 1 && text[end - 1] == b'.' {
            end -= 1;
        }
        while start < colon && text[start] == b'.' {
            start += 1;
        }
        from = end;
        let span = &text[start..end];
        if word_before(text, start) || word_after(text, end) || span.len() < 3 {
            continue;
        }
        let colons = span.iter().filter(|&&b| b == b':').count();
        let hex = span.iter().any(u8::is_ascii_hexdigit);
        let parses = std::str::from_utf8(span).is_ok_and(|s| s.parse::<Ipv6Addr>().is_ok());
        if colons >= 2 && hex && parses {
            out.push(Finding { start, end, rule });
        }
    }
}
