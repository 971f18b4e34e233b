//! Email addresses, triggered by `@` (found with SIMD `memchr`).
//!
//! Deliberately practical rather than RFC 5322: dot-atom local parts and
//! hostname domains with an alphabetic TLD. Quoted local parts and IP-literal
//! domains are not matched.

use super::Finding;

const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 253;

fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

pub(crate) fn find(text: &[u8], rule: usize, out: &mut Vec<Finding>) {
    let mut from = 0;
    for at in memchr::memchr_iter(b'@', text) {
        if at < from {
            continue;
        }
        if let Some((start, end)) = match_at(text, at) {
            out.push(Finding { start, end, rule });
            from = end;
        }
    }
}

/// True when the whole of `value` is one email address.
pub(crate) fn is_email(value: &[u8]) -> bool {
    memchr::memchr(b'@', value)
        .and_then(|at| match_at(value, at))
        .is_some_and(|(s, e)| s == 0 && e == value.len())
}

/// The email around the `@` at `at`, if the bytes around it form one.
fn match_at(text: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut start = at;
    while start > 0 && is_local(text[start - 1]) && at - start < MAX_LOCAL {
        start -= 1;
    }
    while start < at && matches!(text[start], b'.' | b'-' | b'+') {
        start += 1;
    }
    if start == at || text[at - 1] == b'.' {
        return None;
    }
    let mut end = at + 1;
    while end < text.len() && is_domain(text[end]) && end - at <= MAX_DOMAIN {
        end += 1;
    }
    while end > at + 1 && matches!(text[end - 1], b'.' | b'-') {
        end -= 1;
    }
    valid_domain(&text[at + 1..end]).then_some((start, end))
}

fn valid_domain(domain: &[u8]) -> bool {
    let mut labels = 0;
    let mut last: &[u8] = &[];
    for label in domain.split(|&b| b == b'.') {
        if label.is_empty()
            || label.len() > 63
            || label[0] == b'-'
            || label[label.len() - 1] == b'-'
        {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && last.len() >= 2 && last.iter().all(u8::is_ascii_alphabetic)
}
