//! Phone numbers, conservatively: order ids, timestamps and plain integers
//! must not match, so every accepted shape needs a phone-specific cue.
//!
//! - E.164 / international: a leading `+`, 8–15 digits.
//! - North American: `NXX-NXX-XXXX`, `(NXX) NXX-XXXX`, optional leading `1`,
//!   separators required (ten bare digits look like an epoch timestamp).
//! - National with trunk prefix: first group starts with a single `0`, at
//!   least two groups, 10–11 digits (`020 7946 0958`, `01 23 45 67 89`).

use super::text::{word_after, word_before};

const MAX_GROUPS: usize = 8;

#[derive(Clone, Copy, Default)]
struct Group {
    len: usize,
    first: u8,
    paren: bool,
}

/// Matches a phone number starting at `start` (`+`, `(` or a digit); returns its end.
pub(crate) fn match_at(text: &[u8], start: usize) -> Option<usize> {
    if word_before(text, start) {
        return None;
    }
    if !plausible_start(text, start) {
        return None;
    }
    let plus = text[start] == b'+';
    let mut i = start + usize::from(plus);
    let mut groups = [Group::default(); MAX_GROUPS];
    let mut n = 0;
    loop {
        let paren = text.get(i) == Some(&b'(');
        let digits_at = i + usize::from(paren);
        let mut j = digits_at;
        while j < text.len() && text[j].is_ascii_digit() {
            j += 1;
        }
        if j == digits_at || n == MAX_GROUPS {
            return None;
        }
        if paren {
            if text.get(j) != Some(&b')') {
                return None;
            }
            j += 1;
        }
        groups[n] = Group {
            len: j - digits_at - usize::from(paren),
            first: text[digits_at],
            paren,
        };
        n += 1;
        i = j;
        let next = text.get(i).copied();
        let after = text.get(i + 1).copied();
        let continues = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_digit() || b == b'(');
        if matches!(next, Some(b' ' | b'-' | b'.')) && continues(after) {
            i += 1;
        } else if paren && continues(next) {
            // "(415)555-2671"
        } else {
            break;
        }
    }
    if word_after(text, i) {
        return None;
    }
    valid(plus, &groups[..n]).then_some(i)
}

/// Cheap rejection before parsing: without `+` or `(`, the first group must be a
/// NANP area code (`NXX`), a NANP trunk `1`, or a national trunk-prefixed group.
fn plausible_start(text: &[u8], start: usize) -> bool {
    let first = text[start];
    if first == b'+' || first == b'(' {
        return true;
    }
    let len = text[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let sep = text
        .get(start + len)
        .is_some_and(|b| matches!(b, b' ' | b'-' | b'.'));
    sep && match first {
        b'0' => (2..=5).contains(&len),
        b'1' => len == 1,
        _ => len == 3,
    }
}

fn valid(plus: bool, groups: &[Group]) -> bool {
    let digits: usize = groups.iter().map(|g| g.len).sum();
    let first = groups[0];
    if plus {
        return (8..=15).contains(&digits)
            && first.first != b'0'
            && (groups.len() > 1 || digits >= 10);
    }
    let nanp = |g: &[Group]| g[0].first >= b'2' && g[1].first >= b'2' && !g[1].paren && !g[2].paren;
    let lens = |want: &[usize]| {
        groups.len() == want.len() && groups.iter().zip(want).all(|(g, w)| g.len == *w)
    };
    if lens(&[3, 3, 4]) {
        return nanp(groups);
    }
    if lens(&[1, 3, 3, 4]) {
        return first.first == b'1' && !first.paren && nanp(&groups[1..]);
    }
    // National with a trunk prefix.
    groups.len() >= 2
        && (10..=11).contains(&digits)
        && first.first == b'0'
        && (2..=5).contains(&first.len)
        && groups.iter().all(|g| g.len >= 2)
        && groups.iter().skip(1).all(|g| !g.paren)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(match_at(b"+14155552671", 0), Some(12));
        assert_eq!(match_at(b"(415) 555-2671", 0), Some(14));
        assert_eq!(match_at(b"415-555-2671", 0), Some(12));
        assert_eq!(match_at(b"020 7946 0958", 0), Some(13));
        assert_eq!(match_at(b"4155552671", 0), None);
        assert_eq!(match_at(b"2024-01-02", 0), None);
    }
}
